"""One verification, shared by the /v page and POST /api/v1/pharmacy/verify.

Encoding, signature, issuer (this server's base URL) and time window come from
:func:`carnet_contract.qrtoken.verify` (the phone's own check);
this adds what only the server knows: revocation, the patient, and what was already dispensed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from carnet_contract import models as contract
from carnet_contract import qrtoken
from carnet_contract.models import VerifyReason
from carnet_server.context import Context
from carnet_server.db import utcnow
from carnet_server.i18n import Lang, t
from carnet_server.patients.service import cycle_out, unit_out
from carnet_server.patients.tables import Cycle, Patient, QrToken
from carnet_server.pharmacy.ledger import dispensation_out, dispensations_of
from carnet_server.pharmacy.tables import Dispensation

__all__ = ["Verification", "counter_name", "dispensed_at", "to_response", "verify"]


@dataclass
class Verification:
    valid: bool
    reason: VerifyReason | None = None
    jti: str | None = None
    expires_at: datetime | None = None
    patient: Patient | None = None
    due: list[Cycle] = field(default_factory=list)
    #: The recorded dispensation of each due cycle that has one, by cycle id.
    dispensations: dict[str, Dispensation] = field(default_factory=dict)


def verify(session: Session, *, ctx: Context, token_or_url: str, now: datetime | None = None) -> Verification:
    """Whether a QR token (or the URL holding it) is genuine and current, and what it covers."""
    now = now or utcnow()
    check = qrtoken.verify(token_or_url, ctx.keys.jwks(), now=now.timestamp(), issuer=ctx.settings.base_url)
    claims = check.claims
    expires_at = datetime.fromtimestamp(claims["exp"], UTC) if "exp" in claims else None
    if not check.valid:
        return Verification(False, check.reason, expires_at=expires_at)
    jti = claims["jti"]
    stored = session.get(QrToken, jti)
    if stored is not None and stored.revoked_at is not None:
        return Verification(False, VerifyReason.REVOKED, jti, expires_at)
    patient = session.get(Patient, claims["sub"])
    if patient is None:
        return Verification(False, VerifyReason.UNKNOWN_PATIENT, jti, expires_at)
    wanted = [c for c in claims["cyc"] if isinstance(c, str)]
    due = (
        list(
            session.scalars(
                select(Cycle)
                .where(Cycle.patient_id == patient.id, Cycle.id.in_(wanted))
                .order_by(Cycle.scheduled_for, Cycle.number)  # the one due first comes first
            )
        )
        if wanted
        else []
    )
    return Verification(True, None, jti, expires_at, patient, due, dispensations_of(session, [c.id for c in due]))


def counter_name(display_name: str) -> str:
    """What a counter sees of a child's name: first name and the first surname's initial."""
    words = display_name.split()
    if len(words) < 2:
        return display_name
    return f"{words[0]} {words[1][0]}."


def to_response(result: Verification, lang: Lang) -> contract.VerifyResponse:
    message = t("verify.valid" if result.valid else f"verify.{result.reason}", lang)
    patient = None
    if result.valid and result.patient is not None:
        patient = contract.VerifyPatient(
            id=result.patient.id, display_name=result.patient.display_name, unit=unit_out(result.patient.unit)
        )
    return contract.VerifyResponse(
        valid=result.valid,
        reason=result.reason,
        message=message,
        expires_at=result.expires_at,
        patient=patient,
        due=[cycle_out(c, dispensed_at=dispensed_at(result, c)) for c in result.due] if result.valid else [],
        dispensations=[
            dispensation_out(result.dispensations[c.id], cycle_number=c.number)
            for c in result.due
            if c.id in result.dispensations
        ]
        if result.valid
        else [],
    )


def dispensed_at(result: Verification, cycle: Cycle) -> datetime | None:
    """When a due cycle of this verification was dispensed (None: not yet)."""
    row = result.dispensations.get(cycle.id)
    return row.dispensed_at if row is not None else None
