"""FastAPI dependencies, written once as ``Annotated`` aliases and reused by every route.

``CurrentUser`` is the default for every route: a signed-in caller whose password is not a temporary
one an administrator made (else 403 ``password_change_required``: change it first), and — for a
guardian — one who accepted the privacy notice in force (else 403 ``privacy_notice_required``), so a
new route serves health data only after that without anyone remembering to check. ``SignedInUser`` skips the notice
check; only the routes a guardian needs before accepting use it (who am I, log out, change the
password, accept the notice, ask to close the account or withdraw that) — tests/server/test_privacy.py
holds that list and fails when another route uses it.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated, Any

import anyio
import anyio.to_thread
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.security.utils import get_authorization_scheme_param
from sqlalchemy.orm import Session

from carnet_contract.models import Role
from carnet_server.auth.service import InvalidAccessToken, Principal, access_claims, session_principal
from carnet_server.context import Context
from carnet_server.errors import ApiException, Forbidden, NotAuthenticated, lang_of
from carnet_server.i18n import Lang
from carnet_server.privacy.notices import current_version
from carnet_server.routes import context_of

__all__ = [
    "AdminOrPharmacy",
    "ClientAddress",
    "client_address",
    "ContextDep",
    "CurrentUser",
    "LangDep",
    "SessionDep",
    "SignedInUser",
    "dependency_calls",
    "get_current_user",
    "get_signed_in_user",
    "kept_caller",
    "refusal",
    "require_role",
]

_bearer = HTTPBearer(auto_error=False, description="Access token from /api/v1/auth/login")


# The cheap dependencies are ``async``: FastAPI runs every plain ``def`` dependency in the thread pool, and each
# such hop (a thread handoff and two GIL transfers) cost more than the work itself (bench/RESULTS.md, issue #20).
# Only what does blocking I/O (the token's session lookup, the route) goes to a thread.


async def get_context(request: Request) -> Context:
    return context_of(request)


async def get_session(request: Request) -> AsyncIterator[Session]:
    """A session for the request (of the app's context, read off the request rather than through ``get_context``: every
    dependency FastAPI solves costs, #20). Making it does no I/O; closing does only when a transaction is still open
    (a route that refused before committing): then the rollback runs in a thread, not on the event loop — with a
    limiter of its own, as FastAPI does for a dependency's exit: taking a token of the shared pool could wait on
    threads that wait for this very connection (the 200-booking race), a deadlock until the pool's timeout.
    Shielded from cancellation, as FastAPI shields a dependency's exit: a client that hangs up mid-request cancels
    the request, and an unshielded close would never run — the connection lost to the pool, and SQLite's write
    lock held, until every thread waits for a connection (a server that stops answering)."""
    session = context_of(request).sessions()
    try:
        yield session
    finally:
        if session.in_transaction():
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(session.close, limiter=anyio.CapacityLimiter(1))
        else:
            session.close()


def client_address(request: Request) -> str:
    """The client's address as the throttles count it: the connection's peer, or what a proxy listed in
    ``CARNET_TRUSTED_PROXIES`` forwarded (app.py); never a header from anyone else."""
    return request.client.host if request.client else "unknown"


async def get_address(request: Request) -> str:
    return client_address(request)


ContextDep = Annotated[Context, Depends(get_context)]
SessionDep = Annotated[Session, Depends(get_session)]


async def request_lang(request: Request) -> Lang:
    """The caller's language: the same negotiation as the error bodies (``errors.lang_of``)."""
    return lang_of(request)


LangDep = Annotated[Lang, Depends(request_lang)]
ClientAddress = Annotated[str, Depends(get_address)]


Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


# Each dependency FastAPI solves per request costs more than the checks themselves (#20): a route's whole
# authentication — the bearer token, the caller, the privacy notice, the role — is one dependency besides the
# bearer scheme (which documents it in the OpenAPI). The checks a dependency makes by calling the others are listed
# in its ``implies``; ``dependency_calls`` counts them, so the structural tests (every route authenticates; which
# routes skip the privacy notice) see through it.


async def get_signed_in_user(request: Request, credentials: Credentials) -> Principal:
    """The caller behind the bearer token (401 without a good one); no privacy notice check.

    From memory when this worker looked the very same token up in the last few seconds (memo.py): then no
    query and no thread. Otherwise the session and user row are read in a thread, on a session of that thread's
    own."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise NotAuthenticated()
    ctx = context_of(request)
    token = credentials.credentials
    cached = ctx.auth_cache.get(token)
    if cached is not None:
        request.state.auth_from_cache = token
        return cached
    return await _look_up(ctx, token)


def kept_caller(ctx: Context, authorization: str | None) -> Principal | None:
    """The caller behind an ``Authorization`` header when this worker keeps that token's lookup: what
    ``get_signed_in_user`` returns without a query (the header read as ``HTTPBearer`` reads it). None when it
    would look the token up, or refuse it. For answers sent before routing (kept.py)."""
    scheme, token = get_authorization_scheme_param(authorization)
    if not (authorization and scheme and token) or scheme.lower() != "bearer":
        return None
    return ctx.auth_cache.get(token)


async def _look_up(ctx: Context, token: str) -> Principal:
    generation = ctx.auth_cache.generation  # before the read: a write to the auth tables after it voids the answer
    try:
        user_id, session_id, expires = access_claims(ctx, token)
    except InvalidAccessToken as exc:
        raise NotAuthenticated("invalid_token") from exc
    principal = await anyio.to_thread.run_sync(_read_principal, ctx, user_id, session_id)
    ctx.auth_cache.put(token, principal, generation=generation, good_for=expires - time.time())
    return principal


def _read_principal(ctx: Context, user_id: str, session_id: str) -> Principal:
    # A session of this thread's own, closed here: the connection is back in the pool before the request waits
    # for another thread (a connection held while waiting can starve the pool under load).
    with ctx.sessions() as session:
        try:
            return session_principal(session, user_id=user_id, session_id=session_id)
        except InvalidAccessToken as exc:
            raise NotAuthenticated("invalid_token") from exc


SignedInUser = Annotated[Principal, Depends(get_signed_in_user)]


def refusal(user: Principal, ctx: Context) -> str | None:
    """Why ``get_current_user`` refuses a signed-in caller (its 403 code), or None."""
    if user.must_change_password:
        return "password_change_required"
    if user.role == Role.GUARDIAN and user.privacy_version != current_version(ctx.settings):
        return "privacy_notice_required"
    return None


async def get_current_user(request: Request, credentials: Credentials) -> Principal:
    """The signed-in caller (``get_signed_in_user``), with a password of their own; a guardian must have accepted
    the current privacy notice (403 otherwise).

    No query: the accepted version came with the user row that authentication read, and the current
    version is cached (privacy/notices.py). A refusal of a cached caller is checked against the database first:
    the notice may have been accepted (or the password changed) on another worker.
    """
    user = await get_signed_in_user(request, credentials)
    ctx = context_of(request)
    refused = refusal(user, ctx)
    token = getattr(request.state, "auth_from_cache", None)
    if refused is not None and token is not None:
        ctx.auth_cache.forget(token)
        user = await _look_up(ctx, token)
        refused = refusal(user, ctx)
    if refused is not None:
        raise ApiException(403, refused)
    return user


get_current_user.implies = (get_signed_in_user,)  # type: ignore[attr-defined]
CurrentUser = Annotated[Principal, Depends(get_current_user)]


def require_role(*roles: Role) -> Callable[[Request, HTTPAuthorizationCredentials | None], Awaitable[Principal]]:
    """A dependency that lets only ``roles`` through (403 otherwise), after ``get_current_user``'s checks."""
    allowed = frozenset(r.value for r in roles)

    async def dependency(request: Request, credentials: Credentials) -> Principal:
        user = await get_current_user(request, credentials)
        if user.role not in allowed:
            raise Forbidden()
        return user

    dependency.implies = (get_current_user, get_signed_in_user)  # type: ignore[attr-defined]
    dependency.roles = allowed  # type: ignore[attr-defined]
    return dependency


AdminOrPharmacy = Annotated[Principal, Depends(require_role(Role.PHARMACY, Role.ADMIN))]


def dependency_calls(dependant: Any) -> set[Any]:
    """Every callable a route depends on, directly, through other dependencies (a FastAPI ``Dependant``) or
    called by one of them (its ``implies``)."""
    found = set()
    for sub in dependant.dependencies:
        found.add(sub.call)
        found.update(getattr(sub.call, "implies", ()))
        found |= dependency_calls(sub)
    return found
