"""The words and values of the /v/{token} page, per language."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from carnet_server.i18n import Lang, t
from carnet_server.verification.service import Verification, counter_name, dispensed_at

__all__ = ["page_context"]

_LABELS: dict[str, dict[Lang, str]] = {
    "title": {"es": "Verificación de carnet", "en": "Carnet verification"},
    "genuine": {"es": "AUTÉNTICO", "en": "GENUINE"},
    "not_genuine": {"es": "NO VÁLIDO", "en": "NOT VALID"},
    "valid_lead": {
        "es": "Este carnet de quimioterapia es auténtico y está vigente.",
        "en": "This chemotherapy carnet is genuine and current.",
    },
    "invalid_lead": {
        "es": "Este código NO es un carnet válido. No lo acepte.",
        "en": "This code is NOT a valid carnet. Do not accept it.",
    },
    "patient": {"es": "Paciente", "en": "Patient"},
    "unit": {"es": "Unidad médica", "en": "Medical unit"},
    "due": {"es": "Ciclos por aplicar", "en": "Cycles due"},
    "none_due": {"es": "Sin ciclos programados.", "en": "No cycles scheduled."},
    "cycle": {"es": "Ciclo", "en": "Cycle"},
    "date": {"es": "Fecha", "en": "Date"},
    "status": {"es": "Estado", "en": "Status"},
    "mixing": {"es": "Mezcla", "en": "Mixture"},
    "dispensed": {"es": "Surtido", "en": "Dispensed"},
    "not_dispensed": {"es": "No surtido", "en": "Not dispensed"},
    "expires": {"es": "Vigente hasta", "en": "Valid until"},
    "reason": {"es": "Motivo", "en": "Reason"},
    "footer": {"es": "Carnet digital de quimioterapia · IMSS", "en": "Digital chemotherapy carnet · IMSS"},
}

_STATUS: dict[str, dict[Lang, str]] = {
    "programado": {"es": "Programado", "en": "Scheduled"},
    "aplicado": {"es": "Aplicado", "en": "Given"},
    "diferido": {"es": "Diferido", "en": "Postponed"},
    "suspendido": {"es": "Suspendido", "en": "Suspended"},
    "no_requerida": {"es": "No requerida", "en": "Not needed"},
    "pendiente": {"es": "Pendiente", "en": "Pending"},
    "solicitada": {"es": "Solicitada", "en": "Requested"},
    "en_preparacion": {"es": "En preparación", "en": "Being prepared"},
    "lista": {"es": "Lista", "en": "Ready"},
    "entregada": {"es": "Entregada", "en": "Delivered"},
    "rechazada": {"es": "Rechazada", "en": "Rejected"},
}


def _date(value: datetime, lang: Lang, tz: ZoneInfo) -> str:
    local = value.astimezone(tz)
    return local.strftime("%d/%m/%Y %H:%M") if lang == "es" else local.strftime("%Y-%m-%d %H:%M")


def page_context(result: Verification, lang: Lang, tz: ZoneInfo) -> dict[str, Any]:
    labels = {key: value[lang] for key, value in _LABELS.items()}
    context: dict[str, Any] = {"lang": "es-MX" if lang == "es" else "en", "l": labels, "valid": result.valid}
    if not result.valid:
        context["reason"] = t(f"verify.{result.reason}", lang)
        return context
    assert result.patient is not None
    context.update(
        name=counter_name(result.patient.display_name),
        unit=result.patient.unit.name,
        expires=_date(result.expires_at, lang, tz) if result.expires_at else "",
        cycles=[
            {
                "number": c.number,
                "date": c.scheduled_for.strftime("%d/%m/%Y" if lang == "es" else "%Y-%m-%d"),
                "status": _STATUS[c.status][lang],
                "mixing": _STATUS[c.mixing_status][lang],
                # A signature cannot say this: the ledger can (a counter must not hand it over twice).
                "dispensed": _date(when, lang, tz) if (when := dispensed_at(result, c)) else None,
            }
            for c in result.due
        ],
    )
    return context
