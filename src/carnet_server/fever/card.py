"""The emergency card: what an emergency team must know without asking, and its signed QR (no HTTP here).

The card is read from the registry (patients: blood group, allergies, central venous catheter, oncologist),
the latest diagnosis, and the chemotherapy plan (the latest cycle given or due by today: protocol, phase,
date, drugs, and the weight it was dosed for). It is built fresh on every read; the app keeps its last copy
for the offline moment it is needed.

Its QR is a compact JWS signed with the same keys as the carnet's (``/.well-known/jwks.json``, the pharmacy
trust bundle) with the claims ``iss, sub, typ:"em", iat, exp, jti`` — no name, no diagnosis — valid
``EMERGENCY_TTL`` (72 hours). ``carnet_contract.qrtoken.verify(..., kind=TokenKind.EMERGENCY)`` checks it
offline and refuses a carnet token (``wrong_type``), as the carnet's checks refuse this one. Tokens are kept
in ``emergency_tokens`` and reused while more than ``REISSUE_BEFORE`` is left, the key is the active one, the
card is unchanged (``digest``) and the token is not revoked.

What a valid token proves, offline: that this server signed it for this child id (``sub``), and that it is
within its 72 hours and not on the cached revocation list. Not the clinical facts: those are on the card the
family shows, or come from the server (``POST /emergency-cards/verify``) when online.

Revocation (``revoked_at``), with the carnet's tokens (``patients.service.revoke_qr_tokens``): when the family
or an administrator revokes the child's QR codes (phone lost: ``POST /patients/{id}/qr/revoke``, or
``carnet-server revoke-qr``) and when a guardian is removed from the child (custody change). The online checks
refuse a revoked token at once (:func:`verify_stored`); the trust bundle lists it until it expires. A card
whose content changed is reissued but the old token is *not* revoked: it carries no clinical fact, so it is
not wrong, and a family offline with the previous card must not be turned away at the emergency desk; it
expires within 72 hours.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from carnet_contract import models as contract
from carnet_contract import qrtoken
from carnet_contract.models import CycleStatus, VerifyReason
from carnet_server.context import Context
from carnet_server.db import utcnow
from carnet_server.fever.tables import EmergencyToken
from carnet_server.patients.service import unit_out
from carnet_server.patients.tables import Cycle, Diagnosis, Patient, Protocol
from carnet_server.signing import new_jti

__all__ = [
    "EMERGENCY_TTL",
    "REISSUE_BEFORE",
    "build_card",
    "card_facts",
    "current_token",
    "expiry",
    "qr_url",
    "reason_key",
    "verify",
    "verify_stored",
]

EMERGENCY_TTL = timedelta(hours=72)
REISSUE_BEFORE = timedelta(hours=24)
#: Cycles that count as chemotherapy given (or about to be) for "last chemotherapy".
_GIVEN = (CycleStatus.APLICADO.value, CycleStatus.CONFIRMADO.value, CycleStatus.PROGRAMADO.value)


def age_years(birth: date, today: date) -> int:
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


def _last_cycle(session: Session, patient_id: str, today: date) -> Cycle | None:
    return session.scalar(
        select(Cycle)
        .where(Cycle.patient_id == patient_id, Cycle.status.in_(_GIVEN), Cycle.scheduled_for <= today)
        .order_by(Cycle.scheduled_for.desc(), Cycle.number.desc())
        .limit(1)
    )


def _latest_weight(session: Session, patient_id: str, today: date) -> float | None:
    return session.scalar(
        select(Cycle.weight_kg)
        .where(Cycle.patient_id == patient_id, Cycle.weight_kg.is_not(None), Cycle.scheduled_for <= today)
        .order_by(Cycle.scheduled_for.desc(), Cycle.number.desc())
        .limit(1)
    )


def card_facts(session: Session, *, patient: Patient, today: date) -> dict[str, object]:
    """The card's fields except its QR and time (also what the IPS export is made of)."""
    diagnosis = session.scalar(
        select(Diagnosis)
        .where(Diagnosis.patient_id == patient.id)
        .order_by(Diagnosis.diagnosed_on.desc(), Diagnosis.id)
        .limit(1)
    )
    last = _last_cycle(session, patient.id, today)
    protocol_name = last.protocol.name if last is not None and last.protocol is not None else None
    if protocol_name is None:
        protocol = session.scalar(select(Protocol).where(Protocol.patient_id == patient.id).limit(1))
        protocol_name = protocol.name if protocol is not None else None
    unit = unit_out(patient.unit)
    return {
        "patient_id": patient.id,
        "full_name": patient.full_name,
        "birth_date": patient.birth_date,
        "age_years": age_years(patient.birth_date, today),
        "sex": patient.sex,
        "weight_kg": _latest_weight(session, patient.id, today),
        "diagnosis": contract.Diagnosis(name=diagnosis.name, cie10=diagnosis.cie10, diagnosed_on=diagnosis.diagnosed_on)
        if diagnosis is not None
        else None,
        "protocol": protocol_name,
        "phase": last.phase if last is not None else None,
        "last_chemotherapy_date": last.scheduled_for if last is not None else None,
        "last_chemotherapy_drugs": [d.name for d in last.drugs] if last is not None else [],
        "central_venous_catheter": patient.central_venous_catheter,
        "allergies": patient.allergies,
        "blood_group": patient.blood_group,
        "treating_oncologist": patient.treating_oncologist,
        "unit": unit,
        "oncology_phone": unit.emergency.oncology_phone if unit.emergency is not None else None,
    }


def _digest(facts: dict[str, object]) -> str:
    text = repr(
        sorted((k, v.model_dump_json() if hasattr(v, "model_dump_json") else repr(v)) for k, v in facts.items())
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def current_token(session: Session, *, ctx: Context, patient: Patient, digest: str, now: datetime) -> EmergencyToken:
    """The child's emergency token: the stored one while still good for this card, else a new one (flushed)."""
    active_kid = ctx.keys.active_kid
    latest = session.scalar(
        select(EmergencyToken)
        .where(EmergencyToken.patient_id == patient.id)
        .order_by(EmergencyToken.issued_at.desc())
        .limit(1)
    )
    if (
        latest is not None
        and latest.revoked_at is None
        and latest.kid == active_kid
        and latest.digest == digest
        and latest.expires_at - now > REISSUE_BEFORE
    ):
        return latest
    issued = now.replace(microsecond=0)
    expires = issued + EMERGENCY_TTL
    jti = new_jti()
    claims = {
        "iss": ctx.settings.base_url,
        "sub": patient.id,
        "typ": qrtoken.EMERGENCY_TYPE,
        "iat": int(issued.timestamp()),
        "exp": int(expires.timestamp()),
        "jti": jti,
    }
    token, kid = ctx.keys.sign(claims)
    row = EmergencyToken(
        jti=jti, patient_id=patient.id, kid=kid, digest=digest, issued_at=issued, expires_at=expires, token=token
    )
    session.add(row)
    session.flush()
    return row


def qr_url(ctx: Context, token: str) -> str:
    """``/e/`` beside the carnet's ``/v/``: a scanner's text names the type before anything is decoded."""
    return f"{ctx.settings.base_url}/e/{token}"


def build_card(
    session: Session, *, ctx: Context, patient: Patient, now: datetime | None = None
) -> contract.EmergencyCard:
    """The card with a current QR (may flush a new token; the caller commits)."""
    now = now or utcnow()
    facts = card_facts(session, patient=patient, today=ctx.today(now))
    token = current_token(session, ctx=ctx, patient=patient, digest=_digest(facts), now=now)
    qr = contract.QrCode(token=token.token, url=qr_url(ctx, token.token), expires_at=token.expires_at)
    return contract.EmergencyCard.model_validate({**facts, "qr": qr, "generated_at": now})


def verify(ctx: Context, token_or_url: str, *, now: datetime | None = None) -> qrtoken.Verification:
    """The offline check, with this server's keys and issuer (the same code the counter's phone runs)."""
    now = now or utcnow()
    return qrtoken.verify(
        token_or_url,
        ctx.keys.jwks(),
        now=now.timestamp(),
        issuer=ctx.settings.base_url,
        kind=qrtoken.TokenKind.EMERGENCY,
    )


def verify_stored(
    session: Session, ctx: Context, token_or_url: str, *, now: datetime | None = None
) -> qrtoken.Verification:
    """:func:`verify`, then what only the server knows: a revoked token is ``revoked`` at once (a counter
    offline learns it from its next trust-bundle refresh). Used by ``POST /emergency-cards/verify`` and ``/e/``."""
    result = verify(ctx, token_or_url, now=now)
    if not result.valid:
        return result
    jti = result.claims.get("jti")
    stored = session.get(EmergencyToken, jti) if isinstance(jti, str) else None
    if stored is not None and stored.revoked_at is not None:
        return qrtoken.Verification(False, VerifyReason.REVOKED, kid=result.kid, claims=result.claims)
    return result


def expiry(claims: Mapping[str, Any]) -> datetime | None:
    """A verified token's expiry."""
    exp = claims.get("exp")
    return datetime.fromtimestamp(exp, UTC) if isinstance(exp, int) and not isinstance(exp, bool) else None


def reason_key(result: qrtoken.Verification) -> str:
    """The i18n key of a verdict."""
    if result.valid:
        return "verify.emergency_valid"
    return f"verify.{(result.reason or VerifyReason.MALFORMED).value}"
