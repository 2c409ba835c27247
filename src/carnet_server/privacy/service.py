"""Privacy: where a guardian stands with the notice, accepting it, and closing the account (no HTTP here).

    VersionOutdated(Conflict)    the version accepted is not the one in force
    ClosureNotFound(NotFound)    no such closure request / none open
    ClosureNotOpen(Conflict)     the request was already withdrawn or carried out
    NotAllowed (domain_errors)   the caller's role may not do this

Accepting records a ``privacy_acceptances`` row (once per user and version) and copies the version
and time to ``users``, where authentication reads them for the gate (auth/deps.py). A guardian has
at most one open (``solicitada``) closure request — a partial unique index says so, and a second
request while one is open answers with that one. Closing the account (an administrator) makes the
user inactive and ends every session: login then fails like a wrong password. Nothing else is
deleted: the children's clinical data belong to the hospital record. Every write leaves an audit row
with ids and the version only. Functions commit.
"""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import and_, bindparam, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from carnet_contract import models as contract
from carnet_contract.models import ClosureStatus, Role
from carnet_server import audit
from carnet_server.auth.service import Principal, revoke_all_sessions
from carnet_server.auth.tables import User
from carnet_server.db import utcnow
from carnet_server.domain_errors import Conflict, NotAllowed, NotFound
from carnet_server.privacy.tables import AccountClosureRequest, PrivacyAcceptance

__all__ = [
    "ClosureNotFound",
    "ClosureNotOpen",
    "VersionOutdated",
    "accept",
    "cancel_closure",
    "close_account",
    "closure_out",
    "list_closures",
    "record_acceptance",
    "request_closure",
    "status_of",
]

ID_RE = re.compile(r"[A-Za-z0-9_-]{1,32}")
OPEN = ClosureStatus.SOLICITADA.value


class VersionOutdated(Conflict):
    code = "privacy_version_outdated"


class ClosureNotFound(NotFound):
    code = "closure_request_not_found"


class ClosureNotOpen(Conflict):
    code = "closure_request_not_open"


def closure_out(row: AccountClosureRequest) -> contract.ClosureRequest:
    return contract.ClosureRequest(
        id=row.id, status=ClosureStatus(row.status), requested_at=row.requested_at, decided_at=row.decided_at
    )


def _guardian(principal: Principal) -> None:
    if principal.role != Role.GUARDIAN:
        raise NotAllowed()


def status_of(session: Session, *, user_id: str, current_version: str) -> contract.PrivacyStatus:
    """The user's accepted version and time, and the open closure request (one Core statement built once)."""
    row = session.connection().execute(_STATUS, {"user_id": user_id}).one()
    closure = (
        contract.ClosureRequest(
            id=row.closure_id,
            status=ClosureStatus(row.closure_status),
            requested_at=row.requested_at,
            decided_at=row.decided_at,
        )
        if row.closure_id is not None  # the outer join's NULLs when no request is open
        else None
    )
    return contract.PrivacyStatus(
        current_version=current_version,
        accepted_version=row.privacy_version,
        accepted_at=row.privacy_accepted_at,
        closure_request=closure,
    )


_STATUS = (
    select(
        User.privacy_version,
        User.privacy_accepted_at,
        AccountClosureRequest.id.label("closure_id"),
        AccountClosureRequest.status.label("closure_status"),
        AccountClosureRequest.requested_at,
        AccountClosureRequest.decided_at,
    )
    .outerjoin(
        AccountClosureRequest, and_(AccountClosureRequest.user_id == User.id, AccountClosureRequest.status == OPEN)
    )
    .where(User.id == bindparam("user_id"))
)


# ---- the notice ---------------------------------------------------------------------------------------


def record_acceptance(session: Session, *, user: User, version: str, now: datetime) -> None:
    """Add the acceptance row and set the user's columns (no checks, no commit: demo data, tests)."""
    session.add(PrivacyAcceptance(user_id=user.id, version=version, accepted_at=now))
    user.privacy_version = version
    user.privacy_accepted_at = now


def accept(
    session: Session,
    *,
    principal: Principal,
    version: str,
    current_version: str,
    ip: str | None,
    now: datetime | None = None,
) -> contract.PrivacyStatus:
    """A guardian accepts the notice in force; accepting it again changes nothing (same time, no new row)."""
    _guardian(principal)
    if version != current_version:
        raise VersionOutdated()
    now = now or utcnow()
    user = session.get_one(User, principal.id)
    earlier = session.scalar(
        select(PrivacyAcceptance.accepted_at).where(
            PrivacyAcceptance.user_id == user.id, PrivacyAcceptance.version == version
        )
    )
    if earlier is None:
        try:
            record_acceptance(session, user=user, version=version, now=now)
            audit.record(
                session,
                action="privacy.accept",
                actor_id=user.id,
                actor_role=user.role,
                ip=ip,
                object_type="user",
                object_id=user.id,
                detail={"version": version},
            )
            session.commit()
        except IntegrityError:  # the same guardian accepting twice at once: the other request recorded it
            session.rollback()
    elif user.privacy_version != version or user.privacy_accepted_at != earlier:
        user.privacy_version, user.privacy_accepted_at = version, earlier
        session.commit()
    return status_of(session, user_id=principal.id, current_version=current_version)


# ---- closing the account ----------------------------------------------------------------------------------


def _open_request(session: Session, user_id: str) -> AccountClosureRequest | None:
    return session.scalar(
        select(AccountClosureRequest).where(
            AccountClosureRequest.user_id == user_id, AccountClosureRequest.status == OPEN
        )
    )


def request_closure(
    session: Session, *, principal: Principal, reason: str | None, ip: str | None, now: datetime | None = None
) -> tuple[AccountClosureRequest, bool]:
    """Ask for the account to be closed; with one already open, that one (``created`` False)."""
    _guardian(principal)
    existing = _open_request(session, principal.id)
    if existing is not None:
        return existing, False
    row = AccountClosureRequest(user_id=principal.id, reason=reason or None, status=OPEN, requested_at=now or utcnow())
    session.add(row)
    try:
        session.flush()
    except IntegrityError:  # a concurrent request opened one first: the partial unique index refused ours
        session.rollback()
        existing = _open_request(session, principal.id)
        if existing is None:
            raise
        return existing, False
    audit.record(
        session,
        action="privacy.closure.request",
        actor_id=principal.id,
        actor_role=principal.role,
        ip=ip,
        object_type="closure_request",
        object_id=row.id,
    )
    session.commit()
    return row, True


def cancel_closure(
    session: Session, *, principal: Principal, ip: str | None, now: datetime | None = None
) -> AccountClosureRequest:
    """The guardian withdraws the open request (``cancelada``); :class:`ClosureNotFound` when none is open."""
    _guardian(principal)
    now = now or utcnow()
    request_id = session.execute(
        update(AccountClosureRequest)
        .where(AccountClosureRequest.user_id == principal.id, AccountClosureRequest.status == OPEN)
        .values(status=ClosureStatus.CANCELADA.value, decided_at=now, decided_by_id=principal.id)
        .returning(AccountClosureRequest.id)
        .execution_options(synchronize_session=False)
    ).scalar_one_or_none()
    if request_id is None:
        session.rollback()
        raise ClosureNotFound()
    audit.record(
        session,
        action="privacy.closure.cancel",
        actor_id=principal.id,
        actor_role=principal.role,
        ip=ip,
        object_type="closure_request",
        object_id=request_id,
    )
    session.commit()
    return session.get_one(AccountClosureRequest, request_id, populate_existing=True)


def _staff_out(row: AccountClosureRequest, user: User) -> contract.StaffClosureRequest:
    return contract.StaffClosureRequest(
        **closure_out(row).model_dump(),
        user_id=user.id,
        username=user.username,
        display_name=user.display_name,
        reason=row.reason,
    )


def list_closures(
    session: Session, *, principal: Principal, status: ClosureStatus | None, limit: int
) -> list[contract.StaffClosureRequest]:
    """Admin: closure requests, oldest first (the queue), optionally of one status."""
    if principal.role != Role.ADMIN:
        raise NotAllowed()
    query = select(AccountClosureRequest, User).join(User, User.id == AccountClosureRequest.user_id)
    if status is not None:
        query = query.where(AccountClosureRequest.status == status.value)
    rows = session.execute(
        query.order_by(AccountClosureRequest.requested_at, AccountClosureRequest.id).limit(limit)
    ).all()
    out = [_staff_out(row, user) for row, user in rows]
    session.rollback()
    return out


def close_account(
    session: Session, *, principal: Principal, request_id: str, ip: str | None, now: datetime | None = None
) -> contract.StaffClosureRequest:
    """Admin: carry out an open request — the account becomes inactive and every session of it ends."""
    if principal.role != Role.ADMIN:
        raise NotAllowed()
    if not ID_RE.fullmatch(request_id):
        raise ClosureNotFound()
    now = now or utcnow()
    user_id = session.execute(
        update(AccountClosureRequest)
        .where(AccountClosureRequest.id == request_id, AccountClosureRequest.status == OPEN)
        .values(status=ClosureStatus.CERRADA.value, decided_at=now, decided_by_id=principal.id)
        .returning(AccountClosureRequest.user_id)
        .execution_options(synchronize_session=False)
    ).scalar_one_or_none()
    if user_id is None:
        session.rollback()
        if session.get(AccountClosureRequest, request_id) is None:
            raise ClosureNotFound()
        raise ClosureNotOpen()
    session.execute(
        update(User).where(User.id == user_id).values(active=False).execution_options(synchronize_session=False)
    )
    revoke_all_sessions(session, user_id=user_id, now=now)
    audit.record(
        session,
        action="privacy.closure.close",
        actor_id=principal.id,
        actor_role=principal.role,
        ip=ip,
        object_type="closure_request",
        object_id=request_id,
        detail={"user_id": user_id},
    )
    session.commit()
    row = session.get_one(AccountClosureRequest, request_id, populate_existing=True)
    return _staff_out(row, session.get_one(User, user_id, populate_existing=True))
