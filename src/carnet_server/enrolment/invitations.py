"""Guardians: activation codes, activating an account or linking one more child, who has access, and
removing a guardian (no HTTP here).

    ActivationCodeInvalid(Invalid)    422 ``activation_code_invalid``: unknown, used, expired or revoked —
                                      one answer for all, so a guess learns nothing
    Throttled (domain_errors)         429: too many wrong codes from one address (settings)
    InvitationNotFound(NotFound)      not an invitation of this child
    Conflict("invitation_not_pending" / "invitation_used" / "already_linked")
    GuardianNotFound(NotFound)        not a guardian of this child

A code (codes.py) is stored only as a keyed hash, valid ``activation_code_hours`` (72) and once: it is
claimed with a conditional ``UPDATE … WHERE used_at IS NULL AND revoked_at IS NULL AND expires_at > now``,
so two people typing the same code cannot both win; anything refused after the claim (a username taken,
a weak password, a child already linked) rolls the claim back with the request's transaction.

Access is computed per request from ``guardian_patients`` (patients/service.py ``visible_patient``, the
sync's ``linked_patient_ids``): removing a link ends the guardian's access at once, with the tokens they
hold; their next sync starts over without the child (the cursor's link hash changed). The child's QR
tokens are revoked too, so a carnet kept on the removed guardian's phone fails at the pharmacy once the
counters refresh their revocation list; the remaining guardians' app gets a new one on its next read.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from carnet_contract import enrolment as wire
from carnet_contract.models import Role
from carnet_server import audit
from carnet_server.admin.service import USERNAME_RE, check_username
from carnet_server.auth.service import (
    IssuedTokens,
    Principal,
    check_address_throttle,
    check_new_password,
    create_user,
    record_failure,
    start_session,
)
from carnet_server.auth.tables import User
from carnet_server.context import Context
from carnet_server.db import rowcount, utcnow
from carnet_server.domain_errors import Conflict, Invalid, NotFound
from carnet_server.enrolment.codes import code_hash, new_code, normalize_code
from carnet_server.enrolment.identity import clean_name, name_problem
from carnet_server.enrolment.tables import GuardianInvitation
from carnet_server.patients.service import revoke_qr_tokens, visible_patient
from carnet_server.patients.tables import GuardianPatient, Patient
from carnet_server.whatsapp import links

__all__ = [
    "ACTIVATION_BUCKET",
    "ActivationCodeInvalid",
    "GuardianNotFound",
    "InvitationNotFound",
    "activate",
    "create",
    "guardians",
    "invitation_status",
    "issue",
    "link",
    "list_invitations",
    "normalize_phone",
    "remove_guardian",
    "reissue",
    "revoke",
]

#: The pseudo-username wrong codes are counted under (no account can have it: usernames start with a-z or 0-9).
ACTIVATION_BUCKET = "#activation"


class ActivationCodeInvalid(Invalid):
    code = "activation_code_invalid"


class InvitationNotFound(NotFound):
    code = "invitation_not_found"


class GuardianNotFound(NotFound):
    code = "guardian_not_found"


def _key(ctx: Context) -> bytes:
    # A key of its own, derived from the server's secret: a code hash is never a token.
    return hmac.new(ctx.access_key.raw_value, b"carnet/activation-code/v1", hashlib.sha256).digest()


def normalize_phone(text: str) -> str | None:
    """A Mexican mobile number as its 10 digits (spaces, dashes, parentheses and a +52 prefix dropped)."""
    digits = "".join(ch for ch in text if ch.isdigit())
    if text.strip().startswith("+52") and len(digits) == 12:
        digits = digits[2:]
    return digits if len(digits) == 10 else None


def invitation_status(row: GuardianInvitation, now: datetime) -> wire.InvitationStatus:
    if row.used_at is not None:
        return wire.InvitationStatus.USADA
    if row.revoked_at is not None:
        return wire.InvitationStatus.REVOCADA
    if row.expires_at <= now:
        return wire.InvitationStatus.VENCIDA
    return wire.InvitationStatus.PENDIENTE


def _audit(
    session: Session, *, action: str, actor_id: str, actor_role: str, patient_id: str, ip: str | None, **detail: str
) -> None:
    audit.record(
        session,
        action=action,
        actor_id=actor_id,
        actor_role=actor_role,
        object_type="patient",
        object_id=patient_id,
        ip=ip,
        detail=dict(detail) or None,
    )


# ---- staff: codes -----------------------------------------------------------------------------------------


def issue(
    session: Session,
    *,
    ctx: Context,
    patient_id: str,
    full_name: str,
    relationship: str,
    phone: str,
    created_by_id: str | None,
    now: datetime,
    code: str | None = None,
) -> tuple[GuardianInvitation, str]:
    """A new pending code for a guardian of the child, already checked (flushes; the caller commits).
    ``code`` is for the demo only (a code the README can print); else a random one."""
    code = code or new_code()
    normalized = normalize_code(code)
    assert normalized is not None
    row = GuardianInvitation(
        patient_id=patient_id,
        code_hash=code_hash(_key(ctx), normalized),
        full_name=full_name,
        relationship=relationship,
        phone=phone,
        created_by_id=created_by_id,
        created_at=now,
        expires_at=now + timedelta(hours=ctx.settings.activation_code_hours),
    )
    session.add(row)
    session.flush()
    return row, code


def _checked(body: wire.InvitationCreate) -> tuple[str, str, str]:
    name = clean_name(body.full_name)
    if name_problem("full_name", name):
        raise Invalid("invalid_guardian_name")
    phone = normalize_phone(body.phone)
    if phone is None:
        raise Invalid("invalid_phone")
    return name, clean_name(body.relationship), phone


def create(
    session: Session,
    *,
    ctx: Context,
    principal: Principal,
    patient_id: str,
    body: wire.InvitationCreate,
    ip: str | None,
    now: datetime | None = None,
) -> wire.Invitation:
    """A code for a new guardian of a child the caller may see. Commits; the code is in the answer only."""
    now = now or utcnow()
    patient = visible_patient(session, principal=principal, patient_id=patient_id)
    name, relationship, phone = _checked(body)
    row, code = issue(
        session,
        ctx=ctx,
        patient_id=patient.id,
        full_name=name,
        relationship=relationship,
        phone=phone,
        created_by_id=principal.id,
        now=now,
    )
    row.whatsapp_verified = body.whatsapp_verified
    _audit(
        session,
        action="guardian.invitation.create",
        actor_id=principal.id,
        actor_role=principal.role,
        patient_id=patient.id,
        ip=ip,
        invitation_id=row.id,
    )
    session.commit()
    return wire.Invitation(id=row.id, code=code, expires_at=row.expires_at)


def _invitation(session: Session, *, principal: Principal, patient_id: str, invitation_id: str) -> GuardianInvitation:
    patient = visible_patient(session, principal=principal, patient_id=patient_id)
    row = session.get(GuardianInvitation, invitation_id)
    if row is None or row.patient_id != patient.id:
        raise InvitationNotFound()
    return row


def list_invitations(
    session: Session, *, principal: Principal, patient_id: str, now: datetime | None = None
) -> list[wire.InvitationOut]:
    now = now or utcnow()
    patient = visible_patient(session, principal=principal, patient_id=patient_id)
    rows = session.scalars(
        select(GuardianInvitation)
        .where(GuardianInvitation.patient_id == patient.id)
        .order_by(GuardianInvitation.created_at.desc(), GuardianInvitation.id)
    )
    return [
        wire.InvitationOut(
            id=r.id,
            full_name=r.full_name,
            relationship=r.relationship,
            phone=r.phone,
            status=invitation_status(r, now),
            created_at=r.created_at,
            expires_at=r.expires_at,
        )
        for r in rows
    ]


def revoke(
    session: Session,
    *,
    principal: Principal,
    patient_id: str,
    invitation_id: str,
    ip: str | None,
    now: datetime | None = None,
) -> None:
    """Revoke a pending code (409 ``invitation_not_pending`` otherwise). Commits."""
    now = now or utcnow()
    row = _invitation(session, principal=principal, patient_id=patient_id, invitation_id=invitation_id)
    if invitation_status(row, now) != wire.InvitationStatus.PENDIENTE:
        raise Conflict("invitation_not_pending")
    row.revoked_at = now
    _audit(
        session,
        action="guardian.invitation.revoke",
        actor_id=principal.id,
        actor_role=principal.role,
        patient_id=row.patient_id,
        ip=ip,
        invitation_id=row.id,
    )
    session.commit()


def reissue(
    session: Session,
    *,
    ctx: Context,
    principal: Principal,
    patient_id: str,
    invitation_id: str,
    ip: str | None,
    now: datetime | None = None,
) -> wire.Invitation:
    """A new code for the same guardian (a lost, expired or revoked one); a pending old code is revoked.
    A used one is 409 ``invitation_used``. Commits."""
    now = now or utcnow()
    old = _invitation(session, principal=principal, patient_id=patient_id, invitation_id=invitation_id)
    status = invitation_status(old, now)
    if status == wire.InvitationStatus.USADA:
        raise Conflict("invitation_used")
    if status == wire.InvitationStatus.PENDIENTE:
        old.revoked_at = now
    row, code = issue(
        session,
        ctx=ctx,
        patient_id=old.patient_id,
        full_name=old.full_name,
        relationship=old.relationship,
        phone=old.phone,
        created_by_id=principal.id,
        now=now,
    )
    row.whatsapp_verified = old.whatsapp_verified
    _audit(
        session,
        action="guardian.invitation.reissue",
        actor_id=principal.id,
        actor_role=principal.role,
        patient_id=row.patient_id,
        ip=ip,
        invitation_id=row.id,
        replaces=old.id,
    )
    session.commit()
    return wire.Invitation(id=row.id, code=code, expires_at=row.expires_at)


# ---- families: activating ---------------------------------------------------------------------------------


def _claim(session: Session, *, ctx: Context, code: str, address: str, now: datetime) -> GuardianInvitation:
    """Throttle, then claim the code in the current transaction; a wrong code is recorded (committed)."""
    limit = ctx.settings.activation_max_per_address
    check_address_throttle(session, ctx=ctx, bucket=ACTIVATION_BUCKET, limit=limit, address=address, now=now)
    normalized = normalize_code(code)
    claimed = None
    if normalized is not None:
        digest = code_hash(_key(ctx), normalized)
        result = session.execute(
            update(GuardianInvitation)
            .where(
                GuardianInvitation.code_hash == digest,
                GuardianInvitation.used_at.is_(None),
                GuardianInvitation.revoked_at.is_(None),
                GuardianInvitation.expires_at > now,
            )
            .values(used_at=now)
            .execution_options(synchronize_session=False)
        )
        if rowcount(result) == 1:
            claimed = session.scalars(select(GuardianInvitation).where(GuardianInvitation.code_hash == digest)).one()
    if claimed is None:
        session.rollback()
        record_failure(session, bucket=ACTIVATION_BUCKET, address=address, now=now)
        session.commit()
        raise ActivationCodeInvalid()
    return claimed


def _link(session: Session, *, invitation: GuardianInvitation, user: User, now: datetime) -> None:
    session.add(
        GuardianPatient(
            user_id=user.id,
            patient_id=invitation.patient_id,
            relationship=invitation.relationship,
            phone=invitation.phone,
            linked_at=now,
        )
    )
    invitation.used_by_id = user.id
    if invitation.whatsapp_verified:
        links.link_verified_at_enrolment(
            session,
            user_id=user.id,
            phone_text=invitation.phone,
            now=now,
            verified_by=invitation.created_by_id,
            invitation_id=invitation.id,
        )


def activate(
    session: Session,
    *,
    ctx: Context,
    body: wire.ActivationRequest,
    address: str,
    now: datetime | None = None,
) -> IssuedTokens:
    """A new guardian account from a code, linked to the child, signed in (the login answer). Commits.

    The username's form and the password are checked before the code (a refusal for them spends neither a
    guess nor the code); whether the username is free only after the claim, in the same transaction, so the
    route does not tell strangers which usernames exist."""
    now = now or utcnow()
    username = body.username.strip().lower()
    if not USERNAME_RE.fullmatch(username):
        raise Invalid("invalid_username")
    check_new_password(username=username, current="", new=body.password)
    invitation = _claim(session, ctx=ctx, code=body.code, address=address, now=now)
    check_username(session, username)
    user = create_user(
        session,
        ctx=ctx,
        username=username,
        password=body.password,
        role=Role.GUARDIAN.value,
        display_name=invitation.full_name,
    )
    _link(session, invitation=invitation, user=user, now=now)
    _audit(
        session,
        action="guardian.activate",
        actor_id=user.id,
        actor_role=user.role,
        patient_id=invitation.patient_id,
        ip=address,
        invitation_id=invitation.id,
    )
    tokens = start_session(session, ctx=ctx, user=user, address=address, now=now)
    session.commit()
    return tokens


def link(
    session: Session,
    *,
    ctx: Context,
    principal: Principal,
    code: str,
    address: str,
    now: datetime | None = None,
) -> wire.LinkedPatient:
    """A signed-in guardian links one more child with its code. Commits."""
    now = now or utcnow()
    invitation = _claim(session, ctx=ctx, code=code, address=address, now=now)
    if session.get(GuardianPatient, (principal.id, invitation.patient_id)) is not None:
        raise Conflict("already_linked")
    user = session.get(User, principal.id)
    assert user is not None
    _link(session, invitation=invitation, user=user, now=now)
    _audit(
        session,
        action="guardian.link",
        actor_id=principal.id,
        actor_role=principal.role,
        patient_id=invitation.patient_id,
        ip=address,
        invitation_id=invitation.id,
    )
    patient = session.get(Patient, invitation.patient_id)
    assert patient is not None
    session.commit()
    return wire.LinkedPatient(id=patient.id, display_name=patient.display_name)


# ---- who has access ----------------------------------------------------------------------------------------


def guardians(session: Session, *, principal: Principal, patient_id: str) -> list[wire.GuardianOut]:
    """Everyone linked to the child: for its guardians (who else has access) and the staff who see it;
    the phone only for staff."""
    patient = visible_patient(session, principal=principal, patient_id=patient_id)
    rows = session.execute(
        select(GuardianPatient, User)
        .join(User, User.id == GuardianPatient.user_id)
        .where(GuardianPatient.patient_id == patient.id)
        .order_by(GuardianPatient.linked_at, User.display_name)
    ).all()
    staff = principal.role != Role.GUARDIAN
    return [
        wire.GuardianOut(
            user_id=user.id,
            display_name=user.display_name,
            relationship=link_row.relationship,
            phone=link_row.phone if staff else None,
            linked_at=link_row.linked_at,
            is_me=user.id == principal.id,
        )
        for link_row, user in rows
    ]


def remove_guardian(
    session: Session,
    *,
    principal: Principal,
    patient_id: str,
    user_id: str,
    ip: str | None,
    now: datetime | None = None,
) -> None:
    """End a guardian's access to the child at once, and revoke the child's QR tokens. Commits."""
    patient = visible_patient(session, principal=principal, patient_id=patient_id)
    gone = session.execute(
        delete(GuardianPatient)
        .where(GuardianPatient.patient_id == patient.id, GuardianPatient.user_id == user_id)
        .execution_options(synchronize_session=False)
    )
    if rowcount(gone) != 1:
        session.rollback()
        raise GuardianNotFound()
    revoke_qr_tokens(session, patient_id=patient.id, now=now)
    _audit(
        session,
        action="guardian.remove",
        actor_id=principal.id,
        actor_role=principal.role,
        patient_id=patient.id,
        ip=ip,
        guardian_id=user_id,
    )
    session.commit()
