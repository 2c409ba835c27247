"""The pharmacy counter (no HTTP here): the offline trust bundle, dispensing a cycle once, revoking QR tokens.

    PharmacyError                       refusals of a dispensation (the router audits them), each of a kind:
     ├── TokenRefused(reason)           Invalid: the QR does not verify — token_invalid (with the verifier's
     │                                  reason) / token_expired / token_revoked
     ├── NotYourUnit                    NotFound: the child belongs to a unit the pharmacy user does not work for
     ├── CycleNotInToken                Invalid: the cycle is not one of the token's ``cyc`` cycles
     ├── BadItems(code, names)          Invalid: unknown_item / duplicate_item
     ├── NotDispensable                 Conflict: the cycle is no longer ``programado``
     └── AlreadyDispensed(first)        Conflict: the cycle was dispensed before (who, when; ``details``
                                        carry the first dispensation)
    NotAllowed (domain_errors)          wrong role (revocation)
    PatientNotFound (patients.service)  a child the caller may not see

Who may do what:
- verify (verification/): any unit's pharmacy — the family shows the QR to be checked anywhere;
- dispense: a pharmacy user only for children of their own units (``visible_patient``), admin for any;
  a valid QR of another unit's child gets the same answer as an unknown child (404), so the ledger of a
  unit is written only by its own staff;
- revoke: the child's guardian (phone lost, carnet reissued) or an admin.

A dispensation is written at most once per cycle: the ``dispensations.cycle_id`` unique constraint decides
any race, and the loser gets :class:`AlreadyDispensed` with the first one.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from carnet_contract import models as contract
from carnet_contract.models import CycleStatus, Role, VerifyReason
from carnet_server import audit
from carnet_server.auth.service import Principal
from carnet_server.context import Context
from carnet_server.db import utcnow
from carnet_server.domain_errors import Conflict, DomainError, Invalid, NotAllowed, NotFound, Reason
from carnet_server.fever.tables import EmergencyToken
from carnet_server.patients.service import (
    PatientNotFound,
    drug_out,
    due_cycles,
    revoke_qr_tokens,
    touch_cycle,
    visible_patient,
)
from carnet_server.patients.tables import Cycle, Patient, QrToken
from carnet_server.pharmacy.ledger import dispensation_out
from carnet_server.pharmacy.tables import Dispensation
from carnet_server.verification import service as verification

__all__ = [
    "AlreadyDispensed",
    "BadItems",
    "CycleNotInToken",
    "NotDispensable",
    "NotYourUnit",
    "PharmacyError",
    "TokenRefused",
    "audit_refusal",
    "dispense",
    "revoke",
    "revoke_for",
    "trust_bundle",
]


class PharmacyError(DomainError):
    """A refused dispensation; ``patient_id`` and ``jti`` when the token said them (for the audit)."""

    code = "pharmacy_error"

    def __init__(
        self, code: str | None = None, /, *, patient_id: str | None = None, jti: str | None = None, **params: object
    ) -> None:
        super().__init__(code, **params)
        self.patient_id = patient_id
        self.jti = jti


class TokenRefused(PharmacyError, Invalid):
    def __init__(self, reason: VerifyReason, *, jti: str | None = None) -> None:
        code = {VerifyReason.EXPIRED: "token_expired", VerifyReason.REVOKED: "token_revoked"}.get(
            reason, "token_invalid"
        )
        super().__init__(code, jti=jti)
        self.reason = reason
        if code == "token_invalid":  # the verifier's reason, as code and words
            self.reasons = (Reason(reason.value, message_key=f"verify.{reason.value}"),)


class NotYourUnit(PharmacyError, NotFound):
    code = "patient_not_found"


class CycleNotInToken(PharmacyError, Invalid):
    code = "cycle_not_in_token"


class BadItems(PharmacyError, Invalid):
    def __init__(self, code: str, names: Sequence[str], **ids: str | None) -> None:
        super().__init__(code, items=", ".join(names), **ids)
        self.names = list(names)


class NotDispensable(PharmacyError, Conflict):
    code = "cycle_not_dispensable"


class AlreadyDispensed(PharmacyError, Conflict):
    code = "already_dispensed"

    def __init__(self, first: contract.Dispensation, **ids: str | None) -> None:
        super().__init__(number=first.cycle_number, who=first.dispensed_by, when=first.dispensed_at, **ids)
        self.first = first
        self.details = {"dispensation": first.model_dump(mode="json")}


# ---- the trust bundle ------------------------------------------------------------------------------


def trust_bundle(session: Session, *, ctx: Context, now: datetime | None = None) -> contract.TrustBundle:
    """What a counter caches to verify offline: the keys and the revoked, not yet expired, token ids (the
    carnet's and the emergency card's: one list, as jtis are unique across both)."""
    now = now or utcnow()
    # served by the partial indexes ix_qr_tokens_revoked_expires_at and ix_emergency_tokens_revoked_expires_at
    carnets = session.scalars(
        select(QrToken.jti).where(QrToken.revoked_at.is_not(None), QrToken.expires_at > now)
    ).all()
    cards = session.scalars(
        select(EmergencyToken.jti).where(EmergencyToken.revoked_at.is_not(None), EmergencyToken.expires_at > now)
    ).all()
    return contract.TrustBundle(
        issuer=ctx.settings.base_url,
        keys=ctx.keys.jwks()["keys"],
        revoked=sorted({*carnets, *cards}),
        generated_at=now,
        max_age=ctx.settings.trust_max_age_seconds,
    )


# ---- dispensing ------------------------------------------------------------------------------------


def _items(cycle: Cycle, names: Sequence[str] | None, ids: dict[str, str | None]) -> list[dict[str, Any]]:
    """The drugs handed over, in the cycle's order: all of them, or those named (each once, all of the cycle)."""
    drugs = [drug_out(d).model_dump(mode="json") for d in cycle.drugs]
    if names is None:
        return drugs
    repeated = [name for name, count in Counter(names).items() if count > 1]
    if repeated:
        raise BadItems("duplicate_item", repeated, **ids)
    known = {d["name"] for d in drugs}
    unknown = [name for name in names if name not in known]
    if unknown:
        raise BadItems("unknown_item", unknown, **ids)
    wanted = set(names)
    return [d for d in drugs if d["name"] in wanted]


def _first(session: Session, cycle_id: str, number: int) -> contract.Dispensation | None:
    row = session.scalar(select(Dispensation).where(Dispensation.cycle_id == cycle_id))
    return dispensation_out(row, cycle_number=number) if row is not None else None


def dispense(
    session: Session,
    *,
    ctx: Context,
    principal: Principal,
    data: contract.DispensationCreate,
    ip: str | None,
    now: datetime | None = None,
) -> tuple[Dispensation, Cycle]:
    """Record that a cycle was handed over (flushed, audited, synced; the caller commits)."""
    now = now or utcnow()
    result = verification.verify(session, ctx=ctx, token_or_url=data.token, now=now)
    if not result.valid or result.patient is None:
        raise TokenRefused(result.reason or VerifyReason.MALFORMED, jti=result.jti)
    ids: dict[str, str | None] = {"patient_id": result.patient.id, "jti": result.jti}
    try:
        patient = visible_patient(session, principal=principal, patient_id=result.patient.id)
    except PatientNotFound as exc:
        raise NotYourUnit(**ids) from exc
    cycle = next((c for c in result.due if c.id == data.cycle_id), None)
    if cycle is None:  # result.due holds the token's "cyc" cycles of this patient, and nothing else
        raise CycleNotInToken(**ids)
    items = _items(cycle, data.items, ids)
    first = result.dispensations.get(cycle.id)
    if first is not None:
        raise AlreadyDispensed(dispensation_out(first, cycle_number=cycle.number), **ids)
    if cycle.status not in (CycleStatus.PROGRAMADO.value, CycleStatus.CONFIRMADO.value):
        raise NotDispensable(**ids)

    row = Dispensation(
        cycle_id=cycle.id,
        patient_id=patient.id,
        items=items,
        jti=result.jti or "",
        dispensed_by_id=principal.id,
        dispensed_by_label=principal.display_name,
        dispensed_at=now,
    )
    session.add(row)
    cycle_id, number = cycle.id, cycle.number
    try:
        session.flush()
    except IntegrityError:  # another counter won the race: the unique cycle_id says so
        session.rollback()
        winner = _first(session, cycle_id, number)
        if winner is None:
            raise
        raise AlreadyDispensed(winner, **ids) from None
    audit.record(
        session,
        action="pharmacy.dispense",
        actor_id=principal.id,
        actor_role=principal.role,
        ip=ip,
        object_type="patient",
        object_id=patient.id,
        detail={
            "outcome": "dispensed",
            "cycle_id": cycle.id,
            "dispensation_id": row.id,
            "jti": result.jti,
            "items": len(items),
        },
    )
    touch_cycle(session, cycle)  # the family's phone shows the cycle as dispensed (last: holds the sync lock)
    return row, cycle


def audit_refusal(
    session: Session, *, principal: Principal, ip: str | None, cycle_id: str, error: PharmacyError
) -> None:
    """One audit row for a refused dispensation (ids and the code only; the caller commits)."""
    audit.record(
        session,
        action="pharmacy.dispense",
        actor_id=principal.id,
        actor_role=principal.role,
        ip=ip,
        object_type="patient" if error.patient_id else None,
        object_id=error.patient_id,
        detail={"outcome": error.code, "cycle_id": cycle_id, "jti": error.jti},
    )


# ---- revocation ------------------------------------------------------------------------------------


def revoke(
    session: Session,
    *,
    ctx: Context,
    patient: Patient,
    actor_id: str | None,
    actor_role: str | None,
    ip: str | None,
    now: datetime | None = None,
) -> int:
    """Revoke every live QR token of the child (audited, synced; the caller commits); returns how many.

    The next carnet read issues a new token; counters refuse the old one at once online and, offline,
    from their next trust-bundle refresh. The due cycles are touched so the family's next sync is not
    "nothing changed" and the phone fetches the carnet with its new QR.
    """
    now = now or utcnow()
    count = revoke_qr_tokens(session, patient_id=patient.id, now=now)
    audit.record(
        session,
        action="qr.revoke",
        actor_id=actor_id,
        actor_role=actor_role,
        ip=ip,
        object_type="patient",
        object_id=patient.id,
        detail={"revoked": count},
    )
    for cycle in due_cycles(session, patient_id=patient.id, today=ctx.today(now)):
        touch_cycle(session, cycle)
    return count


def revoke_for(session: Session, *, ctx: Context, principal: Principal, patient_id: str, ip: str | None) -> int:
    """:func:`revoke` for the child's guardian or an admin (others: :class:`NotAllowed`)."""
    if principal.role not in (Role.GUARDIAN, Role.ADMIN):
        raise NotAllowed()
    patient = visible_patient(session, principal=principal, patient_id=patient_id)
    return revoke(session, ctx=ctx, patient=patient, actor_id=principal.id, actor_role=principal.role, ip=ip)
