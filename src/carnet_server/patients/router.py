"""Routes of the patients domain."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from functools import partial
from typing import Any

import anyio.to_thread
from fastapi import Request, Response

from carnet_contract import models as contract
from carnet_contract.models import Role
from carnet_server.auth.deps import CurrentUser, client_address
from carnet_server.auth.service import Principal
from carnet_server.context import Context
from carnet_server.db import utcnow
from carnet_server.patients import service
from carnet_server.routes import api_router, context_of

router = api_router(prefix="/api/v1", tags=["patients"])

_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": contract.ErrorBody}, 401: {"model": contract.ErrorBody}}


@router.get("/patients/{patient_id}/carnet", response_model=contract.Carnet, responses=_NOT_FOUND)
async def read_carnet(patient_id: str, user: CurrentUser, request: Request) -> Response:
    """The child's carnet with its signed QR.

    A guardian's carnet is kept in memory a few seconds (memo.py: ended by any write this worker makes to what
    it is read from) and sent again as it is when nothing was committed to the database since it was read (no
    query); otherwise only after one indexed lookup says she is still linked to the child and its QR is neither
    revoked nor expired. Staff reads are never kept: each one is audited. The reads run in a thread on a session
    of its own (no session dependency to solve and close: #20)."""
    ctx = context_of(request)
    now = utcnow()
    kept = _kept(ctx, user, patient_id, now)
    if kept is not None and (
        ctx.commits.quiet_since(kept.mark)
        or await anyio.to_thread.run_sync(
            partial(_still_good, ctx, user_id=user.id, patient_id=patient_id, qr_jti=kept.qr_jti, now=now)
        )
    ):
        return Response(kept.body, media_type="application/json")
    generation = ctx.carnet_cache.generation  # before the read: a write after it voids the answer
    mark = ctx.commits.mark()  # likewise, anyone's commit after it: the answer is checked before it is sent again
    answer = await anyio.to_thread.run_sync(
        partial(_read_carnet, ctx, principal=user, patient_id=patient_id, ip=client_address(request))
    )
    if user.role == Role.GUARDIAN:
        ctx.carnet_cache.put((user.id, patient_id, ctx.today(now)), replace(answer, mark=mark), generation=generation)
    return Response(answer.body, media_type="application/json")


def kept_carnet(ctx: Context, user: Principal, patient_id: str, now: datetime) -> Response | None:
    """A guardian's kept carnet as the route sends it, when it may go without a query: its QR not expired, and every
    commit since it was read dealt with (memo.py). None otherwise. Also sent before routing (kept.py)."""
    kept = _kept(ctx, user, patient_id, now)
    if kept is None or not ctx.commits.quiet_since(kept.mark):
        return None
    return Response(kept.body, media_type="application/json")


def _kept(ctx: Context, user: Principal, patient_id: str, now: datetime) -> service.CarnetAnswer | None:
    """The guardian's carnet this worker keeps, its QR not expired (staff reads are never kept)."""
    if user.role != Role.GUARDIAN:
        return None
    kept = ctx.carnet_cache.get((user.id, patient_id, ctx.today(now)))
    return kept if kept is not None and kept.qr_expires_at > now else None


def _still_good(ctx: Context, **kwargs: Any) -> bool:
    with ctx.engine.connect() as conn:  # rolled back and back in the pool on leaving, in this thread
        return service.carnet_still_good(conn, **kwargs)


def _read_carnet(ctx: Context, **kwargs: Any) -> service.CarnetAnswer:
    with ctx.sessions() as session:  # closed (the connection back in the pool) in this thread (routes.py)
        return service.carnet_answer(session, ctx=ctx, **kwargs)
