"""FastAPI dependencies, written once as ``Annotated`` aliases and reused by every route."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from carnet.contract import Role
from carnet_server.auth.service import InvalidAccessToken, Principal, authenticate
from carnet_server.context import Context
from carnet_server.errors import Forbidden, NotAuthenticated
from carnet_server.i18n import Lang, negotiate

__all__ = [
    "AdminOrPharmacy",
    "ClientAddress",
    "ContextDep",
    "CurrentUser",
    "LangDep",
    "SessionDep",
    "require_role",
]

_bearer = HTTPBearer(auto_error=False, description="Access token from /api/v1/auth/login")


def get_context(request: Request) -> Context:
    ctx: Context = request.app.state.ctx
    return ctx


def get_session(ctx: Annotated[Context, Depends(get_context)]) -> Iterator[Session]:
    with ctx.sessions() as session:
        yield session


def get_lang(request: Request) -> Lang:
    return negotiate(request.headers.get("accept-language"))


def get_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


ContextDep = Annotated[Context, Depends(get_context)]
SessionDep = Annotated[Session, Depends(get_session)]
LangDep = Annotated[Lang, Depends(get_lang)]
ClientAddress = Annotated[str, Depends(get_address)]


def get_current_user(
    ctx: ContextDep,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise NotAuthenticated()
    try:
        return authenticate(session, ctx=ctx, access_token=credentials.credentials)
    except InvalidAccessToken as exc:
        raise NotAuthenticated("invalid_token") from exc
    finally:
        # Give the connection back to the pool now: between this dependency and the
        # route the request waits for a worker thread, and a connection held while
        # waiting can starve the pool under load (every worker blocked on checkout).
        session.rollback()


CurrentUser = Annotated[Principal, Depends(get_current_user)]


def require_role(*roles: Role) -> Callable[[Principal], Principal]:
    """A dependency that lets only ``roles`` through (403 otherwise)."""
    allowed = frozenset(r.value for r in roles)

    def dependency(user: CurrentUser) -> Principal:
        if user.role not in allowed:
            raise Forbidden()
        return user

    return dependency


AdminOrPharmacy = Annotated[Principal, Depends(require_role(Role.PHARMACY, Role.ADMIN))]
