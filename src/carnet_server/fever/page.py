"""The public page of the emergency card's QR (``/e/{token}``): genuine or not, whose, until when.

The signed token is the credential, as on the carnet's ``/v/`` page. The page shows only what the carnet
page shows: the child's first name and initial, the unit, the expiry. It shows no clinical data. The team
reads that on the card the family shows, or signed in (``POST /api/v1/emergency-cards/verify``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy.orm import Session

from carnet_contract.models import VerifyReason
from carnet_server.context import Context
from carnet_server.fever import card
from carnet_server.i18n import Lang, t
from carnet_server.patients.tables import Patient
from carnet_server.verification.service import counter_name

__all__ = ["HEADERS", "page_context", "render"]

_templates = Environment(
    loader=FileSystemLoader(Path(__file__).resolve().parent.parent / "templates"),
    autoescape=select_autoescape(["html"]),
)
_LABELS: dict[str, dict[Lang, str]] = {
    "title": {"es": "Verificación de tarjeta de urgencias", "en": "Emergency card verification"},
    "genuine": {"es": "AUTÉNTICA", "en": "GENUINE"},
    "not_genuine": {"es": "NO VÁLIDA", "en": "NOT VALID"},
    "valid_lead": {
        "es": "Esta tarjeta de urgencias es auténtica y está vigente.",
        "en": "This emergency card is genuine and current.",
    },
    "patient": {"es": "Paciente", "en": "Patient"},
    "unit": {"es": "Unidad médica", "en": "Medical unit"},
    "expires": {"es": "Vigente hasta", "en": "Valid until"},
    "read_card": {
        "es": "Los datos clínicos están en la tarjeta que muestra la familia.",
        "en": "The clinical details are on the card the family shows.",
    },
    "footer": {"es": "Carnet digital de quimioterapia · IMSS", "en": "Digital chemotherapy carnet · IMSS"},
}


def page_context(session: Session, ctx: Context, token: str, lang: Lang) -> dict[str, Any]:
    labels = {key: value[lang] for key, value in _LABELS.items()}
    context: dict[str, Any] = {"lang": "es-MX" if lang == "es" else "en", "l": labels, "valid": False}
    result = card.verify_stored(session, ctx, token)
    reason = result.reason
    patient = session.get(Patient, result.claims["sub"]) if result.valid else None
    if result.valid and patient is None:
        reason = VerifyReason.UNKNOWN_PATIENT
    if patient is None:
        context["reason"] = t(f"verify.{(reason or VerifyReason.MALFORMED).value}", lang)
        return context
    expires = card.expiry(result.claims)
    local = expires.astimezone(ctx.tz) if expires else None
    context.update(
        valid=True,
        name=counter_name(patient.display_name),
        unit=patient.unit.name,
        expires=(local.strftime("%d/%m/%Y %H:%M") if lang == "es" else local.strftime("%Y-%m-%d %H:%M"))
        if local
        else "",
    )
    return context


HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
}


def render(session: Session, ctx: Context, token: str, lang: Lang) -> str:
    """The page's HTML for a scanned token."""
    return _templates.get_template("emergency.html").render(**page_context(session, ctx, token, lang))
