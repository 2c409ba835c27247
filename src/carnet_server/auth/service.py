"""Login, refresh, logout, password change and access-token checks (no HTTP here).

    InvalidCredentials(Unauthenticated)      wrong username or password (same for both)
    InvalidRefreshToken(Unauthenticated)     unknown, used, revoked or expired (scheme Bearer)
    InvalidAccessToken(Unauthenticated)      bad or expired JWT, or its session ended (scheme Bearer)
    WrongCurrentPassword(Invalid)            password change: the current password is wrong
    WeakPassword(Invalid)(code)              password change: the new password is refused
    Throttled (domain_errors)                account locked, or wrong credentials from a noisy address
                                             (see ``login``); ``retry_after`` seconds

Sessions and refresh tokens. A login opens an :class:`AuthSession` (the token
*family*); every access token carries its id, and :func:`authenticate` refuses
one whose session was revoked, so revoking a session ends its access tokens at
once. Each refresh token works once: :func:`refresh` claims it with a
conditional ``UPDATE … WHERE used_at IS NULL AND revoked_at IS NULL`` and issues
a new one. Presenting a refresh token that was already used (or revoked) again
is taken as theft — an attacker and the app both hold it — and revokes the
whole family: every refresh token and the session, hence its access tokens.

Two refreshes racing with the same token: the conditional UPDATE lets exactly
one win (PostgreSQL's row lock, SQLite's single writer); the loser sees a used
token and is treated as reuse, which revokes the family — the winner's new pair
included. There is deliberately no grace period: the app refreshes through one
lock (``carnet.api``), so a race only comes from a copied token. The cost: an app
that loses the answer to a refresh (network cut after the server rotated) must
log in again.
"""

from __future__ import annotations

import hashlib
import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2.exceptions import InvalidHashError, VerificationError
from joserfc import jwt
from joserfc.errors import JoseError
from sqlalchemy import ColumnElement, bindparam, func, select, update
from sqlalchemy.orm import Session

from carnet_server import audit
from carnet_server.auth.tables import AuthSession, LoginAttempt, RefreshToken, User
from carnet_server.context import Context
from carnet_server.db import rowcount, utcnow
from carnet_server.domain_errors import Invalid, Throttled, Unauthenticated

__all__ = [
    "InvalidAccessToken",
    "InvalidCredentials",
    "InvalidRefreshToken",
    "IssuedTokens",
    "MIN_PASSWORD_LENGTH",
    "Principal",
    "WeakPassword",
    "WrongCurrentPassword",
    "access_claims",
    "authenticate",
    "change_password",
    "check_address_throttle",
    "check_new_password",
    "create_user",
    "login",
    "logout",
    "record_failure",
    "refresh",
    "revoke_all_sessions",
    "session_principal",
    "start_session",
]

ACCESS_ALG = "HS256"


class InvalidCredentials(Unauthenticated):
    code = "invalid_credentials"


class InvalidRefreshToken(Unauthenticated):
    code = "invalid_refresh_token"
    scheme = "Bearer"


class InvalidAccessToken(Unauthenticated):
    code = "invalid_token"
    scheme = "Bearer"


class WrongCurrentPassword(Invalid):
    code = "wrong_current_password"


class WeakPassword(Invalid):
    """``code``: ``password_too_short``, ``password_is_username`` or ``password_unchanged``."""

    def __init__(self, code: str) -> None:
        super().__init__(code, min=MIN_PASSWORD_LENGTH)


MIN_PASSWORD_LENGTH = 10


@dataclass(frozen=True)
class Principal:
    """The authenticated caller."""

    id: str
    role: str
    display_name: str
    session_id: str
    #: The privacy notice version the user accepted last (``users.privacy_version``): the gate in
    #: auth/deps.py compares it with the current one without another query.
    privacy_version: str | None = None
    #: The account has a temporary password: only the routes of ``SignedInUser`` answer until it is changed.
    must_change_password: bool = False


@dataclass(frozen=True)
class IssuedTokens:
    access_token: str
    refresh_token: str
    expires_in: int
    user: User


def _hash_refresh(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_user(
    session: Session,
    *,
    ctx: Context,
    username: str,
    password: str,
    role: str,
    display_name: str,
    must_change_password: bool = False,
) -> User:
    user = User(
        username=username,
        password_hash=ctx.hasher.hash(password),
        role=role,
        display_name=display_name,
        must_change_password=must_change_password,
    )
    session.add(user)
    session.flush()
    return user


# ---- throttling ---------------------------------------------------------------


def _retry_after(times: list[datetime], limit: int, window: timedelta, now: datetime) -> int | None:
    """Seconds until fewer than ``limit`` of ``times`` (newest first) are inside the window."""
    if len(times) < limit:
        return None
    frees_at = times[limit - 1] + window
    return max(1, math.ceil((frees_at - now).total_seconds()))


def _failures(session: Session, *, which: ColumnElement[bool], since: datetime, limit: int) -> list[datetime]:
    """The times of the newest ``limit`` failed attempts matching ``which`` after ``since``, newest first."""
    return list(
        session.scalars(
            select(LoginAttempt.at)
            .where(which, LoginAttempt.success.is_(False), LoginAttempt.at > since)
            .order_by(LoginAttempt.at.desc())
            .limit(limit)
        )
    )


def _account_wait(session: Session, *, ctx: Context, username: str, now: datetime) -> int | None:
    """Seconds the account stays locked: ``login_max_per_username`` failures since its last login within the
    window lock it, whoever tries and from wherever (None: not locked)."""
    settings = ctx.settings
    window = timedelta(minutes=settings.login_window_minutes)
    since = now - window
    last_success = session.scalar(
        select(func.max(LoginAttempt.at)).where(
            LoginAttempt.username == username, LoginAttempt.success.is_(True), LoginAttempt.at > since
        )
    )
    failures = _failures(
        session,
        which=LoginAttempt.username == username,
        since=max(since, last_success) if last_success else since,
        limit=settings.login_max_per_username,
    )
    return _retry_after(failures, settings.login_max_per_username, window, now)


def _address_wait(session: Session, *, ctx: Context, address: str, now: datetime) -> int | None:
    """Seconds until the address has fewer than ``login_max_per_address`` failures (of any account) within the
    window (None: it has fewer now). Such an address gets 429 for wrong credentials only (see :func:`login`)."""
    settings = ctx.settings
    window = timedelta(minutes=settings.login_window_minutes)
    failures = _failures(
        session, which=LoginAttempt.address == address, since=now - window, limit=settings.login_max_per_address
    )
    return _retry_after(failures, settings.login_max_per_address, window, now)


def check_address_throttle(
    session: Session, *, ctx: Context, bucket: str, limit: int, address: str, now: datetime
) -> None:
    """Too many failures of ``bucket`` (a pseudo-username that no account can have, e.g. ``#activation``) from
    ``address`` within the login window: :class:`Throttled`, whatever the request holds. Unlike a login's, this
    rule refuses the right answer too: a code has no password behind it, so only the address bounds guessing
    (the address is the connection's, or a trusted proxy's X-Forwarded-For: app.py). The failures are login
    attempts too, so they also count towards the login rule of that address."""
    window = timedelta(minutes=ctx.settings.login_window_minutes)
    recent = list(
        session.scalars(
            select(LoginAttempt.at)
            .where(
                LoginAttempt.username == bucket,
                LoginAttempt.address == address,
                LoginAttempt.success.is_(False),
                LoginAttempt.at > now - window,
            )
            .order_by(LoginAttempt.at.desc())
            .limit(limit)
        )
    )
    wait = _retry_after(recent, limit, window, now)
    if wait is not None:
        raise Throttled(wait)


def record_failure(session: Session, *, bucket: str, address: str, now: datetime) -> None:
    """One failure of ``bucket`` from ``address`` (the caller commits)."""
    session.add(LoginAttempt(username=bucket, address=address, at=now, success=False))


# ---- tokens -------------------------------------------------------------------


def _issue(session: Session, *, ctx: Context, user: User, session_id: str, now: datetime) -> IssuedTokens:
    ttl = timedelta(minutes=ctx.settings.access_token_minutes)
    claims = {
        "sub": user.id,
        "role": user.role,
        "sid": session_id,
        "iat": int(now.timestamp()),
        "exp": int((now + ttl).timestamp()),
    }
    access = jwt.encode({"alg": ACCESS_ALG}, claims, ctx.access_key, algorithms=[ACCESS_ALG])
    refresh_token = secrets.token_urlsafe(32)
    session.add(
        RefreshToken(
            session_id=session_id,
            token_hash=_hash_refresh(refresh_token),
            created_at=now,
            expires_at=now + timedelta(days=ctx.settings.refresh_token_days),
        )
    )
    return IssuedTokens(access, refresh_token, int(ttl.total_seconds()), user)


def login(
    session: Session, *, ctx: Context, username: str, password: str, address: str, now: datetime | None = None
) -> IssuedTokens:
    """Check the account's lock, then the password; record the attempt. Commits.

    The throttle is by account first: a locked account (:func:`_account_wait`) is refused before the password
    is checked, even the right one. The address only slows strangers down: many families share one address
    (mobile carriers' NAT, a hospital's Wi-Fi), so from an address with too many failures (:func:`_address_wait`)
    wrong credentials get :class:`Throttled` instead of :class:`InvalidCredentials`, while the right password
    of an account that is not locked still logs in. Every failure is recorded, and counts for its account.
    """
    now = now or utcnow()
    username = username.strip().lower()
    account_wait = _account_wait(session, ctx=ctx, username=username, now=now)
    if account_wait is not None:
        raise Throttled(account_wait)
    address_wait = _address_wait(session, ctx=ctx, address=address, now=now)
    user = session.scalar(select(User).where(User.username == username))
    ok = False
    try:
        ok = ctx.hasher.verify(user.password_hash if user else ctx.dummy_hash, password)
    except (VerificationError, InvalidHashError):
        ok = False
    ok = ok and user is not None and user.active
    session.add(LoginAttempt(username=username, address=address, at=now, success=ok))
    if not ok or user is None:
        session.commit()
        if address_wait is not None:
            raise Throttled(address_wait)
        raise InvalidCredentials()
    if ctx.hasher.check_needs_rehash(user.password_hash):
        user.password_hash = ctx.hasher.hash(password)
    tokens = start_session(session, ctx=ctx, user=user, address=address, now=now)
    session.commit()
    return tokens


def start_session(session: Session, *, ctx: Context, user: User, address: str | None, now: datetime) -> IssuedTokens:
    """Open a session for ``user`` and issue its first tokens, audited as a login (the caller commits)."""
    auth_session = AuthSession(user_id=user.id, created_at=now)
    session.add(auth_session)
    session.flush()
    tokens = _issue(session, ctx=ctx, user=user, session_id=auth_session.id, now=now)
    audit.record(
        session,
        action="auth.login",
        actor_id=user.id,
        actor_role=user.role,
        ip=address,
        object_type="auth_session",
        object_id=auth_session.id,
    )
    return tokens


def refresh(session: Session, *, ctx: Context, refresh_token: str, now: datetime | None = None) -> IssuedTokens:
    """Trade a refresh token for a new pair; the old one stops working. Commits.

    A used or revoked token presented again revokes its whole session (module docstring).
    """
    now = now or utcnow()
    token_hash = _hash_refresh(refresh_token)
    claimed = session.execute(
        update(RefreshToken)
        .where(
            RefreshToken.token_hash == token_hash,
            RefreshToken.used_at.is_(None),
            RefreshToken.revoked_at.is_(None),
            RefreshToken.expires_at > now,
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if rowcount(claimed) != 1:
        session.rollback()
        _revoke_on_reuse(session, token_hash=token_hash, now=now)
        raise InvalidRefreshToken()
    row = session.execute(
        select(AuthSession, User)
        .join(User, User.id == AuthSession.user_id)
        .join(RefreshToken, RefreshToken.session_id == AuthSession.id)
        .where(RefreshToken.token_hash == token_hash)
    ).one()
    auth_session, user = row
    if auth_session.revoked_at is not None or not user.active:
        session.rollback()
        raise InvalidRefreshToken()
    tokens = _issue(session, ctx=ctx, user=user, session_id=auth_session.id, now=now)
    session.commit()
    return tokens


def _revoke_on_reuse(session: Session, *, token_hash: str, now: datetime) -> None:
    """A refresh token that was not claimed: if it had been used or revoked, end its family. Commits."""
    row = session.execute(
        select(
            RefreshToken.session_id,
            RefreshToken.used_at,
            RefreshToken.revoked_at,
            AuthSession.user_id,
            AuthSession.revoked_at,
            User.role,
        )
        .join(AuthSession, AuthSession.id == RefreshToken.session_id)
        .join(User, User.id == AuthSession.user_id)
        .where(RefreshToken.token_hash == token_hash)
    ).one_or_none()
    if row is None:
        return  # unknown token
    session_id, used_at, revoked_at, user_id, session_revoked_at, role = row
    if used_at is None and revoked_at is None:
        return  # merely expired
    _revoke_sessions(session, AuthSession.id == session_id, now=now)
    if session_revoked_at is None:  # the first reuse ends a live family: worth a line in the audit log
        audit.record(
            session,
            action="auth.refresh_reuse",
            actor_id=user_id,
            actor_role=role,
            object_type="auth_session",
            object_id=session_id,
        )
    session.commit()


def _revoke_sessions(session: Session, which: ColumnElement[bool], *, now: datetime) -> None:
    """Revoke the sessions matching ``which`` and every refresh token of theirs (the caller commits)."""
    ids = select(AuthSession.id).where(which).scalar_subquery()
    session.execute(
        update(AuthSession)
        .where(which, AuthSession.revoked_at.is_(None))
        .values(revoked_at=now)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(RefreshToken)
        .where(RefreshToken.session_id.in_(ids), RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
        .execution_options(synchronize_session=False)
    )


def revoke_all_sessions(session: Session, *, user_id: str, now: datetime | None = None) -> None:
    """End every session of a user: all their access and refresh tokens stop working (the caller commits)."""
    _revoke_sessions(session, AuthSession.user_id == user_id, now=now or utcnow())


def check_new_password(*, username: str, current: str, new: str) -> None:
    """The password rules (:class:`WeakPassword`): long enough, not the username, not the current one."""
    if len(new) < MIN_PASSWORD_LENGTH:
        raise WeakPassword("password_too_short")
    if new.strip().lower() == username.strip().lower():
        raise WeakPassword("password_is_username")
    if new == current:
        raise WeakPassword("password_unchanged")


def change_password(
    session: Session,
    *,
    ctx: Context,
    principal: Principal,
    current_password: str,
    new_password: str,
    address: str,
    now: datetime | None = None,
) -> None:
    """Check the current password (throttled like a login: :func:`login`), then set the new one and end every
    session of the user, the caller's included. Commits."""
    now = now or utcnow()
    user = session.get(User, principal.id)
    if user is None or not user.active:
        raise InvalidAccessToken()
    account_wait = _account_wait(session, ctx=ctx, username=user.username, now=now)
    if account_wait is not None:
        raise Throttled(account_wait)
    address_wait = _address_wait(session, ctx=ctx, address=address, now=now)
    try:
        ok: bool = ctx.hasher.verify(user.password_hash, current_password)  # True, or it raises
    except (VerificationError, InvalidHashError):
        ok = False
    if not ok:
        session.add(LoginAttempt(username=user.username, address=address, at=now, success=False))
        session.commit()
        if address_wait is not None:
            raise Throttled(address_wait)
        raise WrongCurrentPassword()
    check_new_password(username=user.username, current=current_password, new=new_password)
    user.password_hash = ctx.hasher.hash(new_password)
    user.must_change_password = False
    revoke_all_sessions(session, user_id=user.id, now=now)
    audit.record(
        session,
        action="auth.password_change",
        actor_id=user.id,
        actor_role=user.role,
        ip=address,
        object_type="user",
        object_id=user.id,
    )
    session.commit()


def logout(session: Session, *, principal: Principal, address: str | None, now: datetime | None = None) -> None:
    """End the caller's session: its access and refresh tokens stop working. Commits."""
    _revoke_sessions(session, AuthSession.id == principal.session_id, now=now or utcnow())
    audit.record(
        session,
        action="auth.logout",
        actor_id=principal.id,
        actor_role=principal.role,
        ip=address,
        object_type="auth_session",
        object_id=principal.session_id,
    )
    session.commit()


def access_claims(ctx: Context, access_token: str, *, now: datetime | None = None) -> tuple[str, str, int]:
    """A good, unexpired access token's user id, session id and expiry (a Unix time); no database."""
    now = now or utcnow()
    try:
        token = jwt.decode(access_token, ctx.access_key, algorithms=[ACCESS_ALG])
    except (JoseError, ValueError, TypeError) as exc:
        raise InvalidAccessToken() from exc
    claims = token.claims
    exp, sub, sid = claims.get("exp"), claims.get("sub"), claims.get("sid")
    if not isinstance(exp, int) or exp <= now.timestamp() or not isinstance(sub, str) or not isinstance(sid, str):
        raise InvalidAccessToken()
    return sub, sid, exp


def session_principal(session: Session, *, user_id: str, session_id: str) -> Principal:
    """The caller of a live session of an active user (``InvalidAccessToken`` otherwise)."""
    # Core, on the session's connection: the columns only, one statement built once (no ORM entity, no identity
    # map, no statement to build and key per request: most of an authenticated request's cost before, #20).
    row = session.connection().execute(_SESSION_USER, {"sid": session_id, "sub": user_id}).one_or_none()
    if row is None or row.revoked_at is not None or not row.active:
        raise InvalidAccessToken()
    return Principal(
        id=user_id,
        role=row.role,
        display_name=row.display_name,
        session_id=session_id,
        privacy_version=row.privacy_version,
        must_change_password=row.must_change_password,
    )


def authenticate(session: Session, *, ctx: Context, access_token: str, now: datetime | None = None) -> Principal:
    """The caller behind an access token, if the token is good and its session alive."""
    user_id, session_id, _exp = access_claims(ctx, access_token, now=now)
    return session_principal(session, user_id=user_id, session_id=session_id)


#: The caller's user and session, by the token's session and user ids (authenticate).
_SESSION_USER = (
    select(
        User.role,
        User.display_name,
        User.privacy_version,
        User.must_change_password,
        User.active,
        AuthSession.revoked_at,
    )
    .join_from(AuthSession, User, AuthSession.user_id == User.id)
    .where(AuthSession.id == bindparam("sid"), User.id == bindparam("sub"))
)
