"""Routes of the auth domain: login, refresh, logout, password change, and who am I."""

from __future__ import annotations

from typing import Any

import anyio.to_thread
from fastapi import Request, Response
from sqlalchemy.orm import Session

from carnet_contract import models as contract
from carnet_contract.models import Role
from carnet_server.auth import service
from carnet_server.auth.deps import ClientAddress, ContextDep, SessionDep, SignedInUser
from carnet_server.auth.service import Principal
from carnet_server.context import Context
from carnet_server.memo import Kept
from carnet_server.patients.service import children_of_guardian, unit_out, units_of
from carnet_server.privacy import service as privacy
from carnet_server.privacy.notices import current_version
from carnet_server.routes import api_router, context_of

router = api_router(prefix="/api/v1", tags=["auth"])

_ERRORS: dict[int | str, dict[str, Any]] = {401: {"model": contract.ErrorBody}, 422: {"model": contract.ErrorBody}}


def token_response(tokens: service.IssuedTokens) -> contract.TokenResponse:
    user = tokens.user
    return contract.TokenResponse(
        access_token=tokens.access_token,
        refresh_token=tokens.refresh_token,
        expires_in=tokens.expires_in,
        user=contract.UserOut(id=user.id, role=Role(user.role), display_name=user.display_name),
        password_change_required=user.must_change_password,
    )


@router.post(
    "/auth/login", response_model=contract.TokenResponse, responses={**_ERRORS, 429: {"model": contract.ErrorBody}}
)
def login(
    body: contract.LoginRequest, session: SessionDep, ctx: ContextDep, address: ClientAddress
) -> contract.TokenResponse:
    """Trade a username and password for an access and a refresh token."""
    tokens = service.login(session, ctx=ctx, username=body.username, password=body.password, address=address)
    return token_response(tokens)


@router.post("/auth/refresh", response_model=contract.TokenResponse, responses=_ERRORS)
def refresh(body: contract.RefreshRequest, session: SessionDep, ctx: ContextDep) -> contract.TokenResponse:
    """Trade a refresh token for a new pair; the old refresh token stops working."""
    return token_response(service.refresh(session, ctx=ctx, refresh_token=body.refresh_token))


@router.post("/auth/logout", status_code=204, responses=_ERRORS)
def logout(user: SignedInUser, session: SessionDep, address: ClientAddress) -> Response:
    """End this session: its access and refresh tokens stop working."""
    service.logout(session, principal=user, address=address)
    return Response(status_code=204)


@router.post(
    "/auth/password",
    status_code=204,
    response_class=Response,
    responses={**_ERRORS, 429: {"model": contract.ErrorBody}},
)
def change_password(
    body: contract.PasswordChange, user: SignedInUser, session: SessionDep, ctx: ContextDep, address: ClientAddress
) -> Response:
    """Change the caller's password; every session of the account ends, this one included.

    A wrong current password is 422 ``wrong_current_password`` (not 401: the access token is fine,
    and a 401 would make the app refresh and retry); failures count towards the login throttle.
    """
    service.change_password(
        session,
        ctx=ctx,
        principal=user,
        current_password=body.current_password,
        new_password=body.new_password,
        address=address,
    )
    return Response(status_code=204)


@router.get("/me", response_model=contract.Me, responses=_ERRORS)
async def me(user: SignedInUser, request: Request) -> Response:
    """The caller, with the children (guardian) or units (staff) they see; for a guardian, where they stand
    with the privacy notice (answered before it is accepted: the app reads it to ask).

    Read in one thread on a session of its own, the answer serialised there (no session dependency: #20), and kept
    a few seconds by (caller, notice in force): sent again only while the commit watch says every commit since it
    was read has been dealt with (memo.py) — never a child no longer linked."""
    ctx = context_of(request)
    sent = kept_me(ctx, user)
    if sent is not None:
        return sent
    generation = ctx.me_cache.generation  # before the read: a write after it voids the answer
    mark = ctx.commits.mark()
    body = await anyio.to_thread.run_sync(_me, ctx, user)
    if mark is not None:
        ctx.me_cache.put((user.id, current_version(ctx.settings)), Kept(body, mark), generation=generation)
    return Response(body, media_type="application/json")


def kept_me(ctx: Context, user: Principal) -> Response | None:
    """Who-am-I as the route sends it, kept, while every commit since it was read has been dealt with; else None.
    Also sent before routing (kept.py)."""
    kept = ctx.me_cache.get((user.id, current_version(ctx.settings)))
    if kept is None or not ctx.commits.quiet_since(kept.mark):
        return None
    return Response(kept.body, media_type="application/json")


def _me(ctx: Context, user: Principal) -> bytes:
    with ctx.sessions() as session:
        return _me_model(session, ctx, user).model_dump_json(by_alias=True).encode()


def _me_model(session: Session, ctx: Context, user: Principal) -> contract.Me:
    patients = children_of_guardian(session, user_id=user.id) if user.role == Role.GUARDIAN else []
    units = [unit_out(u) for u in units_of(session, principal=user)] if user.role != Role.GUARDIAN else []
    status = (
        privacy.status_of(session, user_id=user.id, current_version=current_version(ctx.settings))
        if user.role == Role.GUARDIAN
        else None
    )
    return contract.Me(
        id=user.id, role=Role(user.role), display_name=user.display_name, patients=patients, units=units, privacy=status
    )
