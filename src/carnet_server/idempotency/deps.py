"""The ``Idempotency-Key`` dependency: a POST route opts in by taking an ``IdempotencyDep``.

    @router.post(...)
    def create(..., session: SessionDep, idem: IdempotencyDep) -> Response:
        record = service.create(session, ...)        # no commit
        return idem.respond(session, model, status=201)  # stores the response, commits once

Without the header the route runs as usual. With it: a retry with the same
body gets the stored status and body (``Idempotent-Replayed: true``), another
body gets 422 ``idempotency_key_reused``, a retry while the first request still
runs waits for it (409 ``idempotency_in_progress`` after 10 s). 4xx responses
are stored too; a 5xx gives the key back — also a 503 ``database_unavailable``
whose write's commit got no answer: a write that did commit keeps its stored
response, so the retry replays it (service.py explains each case).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, Request, Response
from pydantic import BaseModel
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from carnet_server.auth.deps import CurrentUser, SessionDep
from carnet_server.context import Context
from carnet_server.db import is_database_unavailable
from carnet_server.errors import ApiException
from carnet_server.idempotency import service
from carnet_server.routes import context_of

__all__ = ["HEADER", "Idempotency", "IdempotencyDep", "install_idempotency"]

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
KEY_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:~+=/-]{0,199}")


class Replay(Exception):
    """Raised by the dependency to answer with a stored response (the route does not run)."""

    def __init__(self, stored: service.Stored) -> None:
        super().__init__("replay")
        self.stored = stored


class Idempotency:
    """The request's claim on its key (``token`` is None without the header)."""

    def __init__(self, *, user_id: str, key: str | None, token: str | None) -> None:
        self.user_id = user_id
        self.key = key
        self.token = token
        self.completed = False

    def respond(self, session: Session, payload: BaseModel, *, status: int = 201) -> Response:
        """Store the response with the route's writes and commit them together."""
        body = payload.model_dump_json().encode("utf-8")
        if self.key is not None and self.token is not None:
            try:
                service.complete(
                    session, user_id=self.user_id, key=self.key, token=self.token, status=status, body=body
                )
            except service.ClaimLost:
                session.rollback()
                raise
        session.commit()
        self.completed = True
        return Response(content=body, status_code=status, media_type="application/json")


async def _render(request: Request, exc: Exception) -> Response | None:
    """The response the app's exception handlers make of ``exc``."""
    handlers = request.app.exception_handlers
    for cls in type(exc).__mro__:
        if cls in handlers:
            response: Response = await handlers[cls](request, exc)
            return response
    return None


async def idempotency(
    request: Request,
    user: CurrentUser,
    session: SessionDep,
    key: Annotated[
        str | None,
        Header(
            alias=HEADER,
            description="A UUID made by the client for this write "
            "(1–200 letters, digits, - _ . :); a retry sends the same one.",
        ),
    ] = None,
) -> AsyncIterator[Idempotency]:
    if key is None:
        yield Idempotency(user_id=user.id, key=None, token=None)
        return
    if not KEY_RE.fullmatch(key):
        raise ApiException(422, "invalid_idempotency_key")
    ctx = context_of(request)
    fp = service.fingerprint(request.method, request.url.path, await request.body())
    # End the request session's transaction (authentication read the user): its
    # connection goes back to the pool instead of idling while a claim is awaited.
    await run_in_threadpool(session.rollback)
    token = service.new_token()
    try:
        claimed = await run_in_threadpool(service.claim, ctx.sessions, user_id=user.id, key=key, fp=fp, token=token)
    except Exception as exc:  # KeyReused and InProgress are answered as they are (errors.py)
        if is_database_unavailable(exc):  # the claim may have been committed without an answer
            _pending(request).add(user_id=user.id, key=key, token=token)
        raise
    if isinstance(claimed, service.Stored):
        raise Replay(claimed)
    idem = Idempotency(user_id=user.id, key=key, token=claimed)
    try:
        yield idem
    except Exception as exc:
        if not idem.completed:
            await _rollback(session)  # free the handler's locks first
            response = await _render(request, exc)
            # 429 is not an answer to the request but to its timing: the key is given back for a retry.
            if response is not None and 400 <= response.status_code < 500 and response.status_code != 429:
                await _settle(
                    request,
                    ctx,
                    service.store,
                    user_id=user.id,
                    key=key,
                    token=claimed,
                    status=response.status_code,
                    body=bytes(response.body),
                )
            else:
                await _settle(request, ctx, service.release, user_id=user.id, key=key, token=claimed)
        raise
    if not idem.completed:  # the route answered without respond(): nothing to replay
        await _settle(request, ctx, service.release, user_id=user.id, key=key, token=claimed)


async def _rollback(session: Session) -> None:
    try:
        await run_in_threadpool(session.rollback)
    except Exception as exc:
        if not is_database_unavailable(exc):
            raise  # a dead connection has nothing left to roll back; anything else is a bug


async def _settle(
    request: Request, ctx: Context, step: Any, *, user_id: str, key: str, token: str, **kwargs: Any
) -> None:
    """Store the answer or give the key back; with the database unreachable, give it back later instead
    (a retry then runs the request again, which is what it would have answered)."""
    try:
        await run_in_threadpool(step, ctx.sessions, user_id=user_id, key=key, token=token, **kwargs)
    except Exception as exc:
        if not is_database_unavailable(exc):
            raise
        _pending(request).add(user_id=user_id, key=key, token=token)


def _pending(request: Request) -> service.PendingReleases:
    """The app's background releaser (one per process, made on first use)."""
    state = request.app.state
    pending: service.PendingReleases | None = getattr(state, "idempotency_pending", None)
    if pending is None:
        pending = state.idempotency_pending = service.PendingReleases(state.ctx.sessions)
    return pending


IdempotencyDep = Annotated[Idempotency, Depends(idempotency, scope="function")]


async def _replay(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Replay)
    return Response(
        content=exc.stored.body,
        status_code=exc.stored.status,
        media_type="application/json",
        headers={REPLAYED_HEADER: "true"},
    )


def install_idempotency(app: FastAPI) -> None:
    app.add_exception_handler(Replay, _replay)
