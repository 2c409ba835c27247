"""Request limits: body size (an ASGI middleware) and per-user write rates (a route dependency).

Body size
    ``BodyLimitMiddleware`` refuses a request whose ``Content-Length`` is over the limit with 413
    before the app runs, and counts the bytes of a body sent without one (chunked) as the app reads
    it: past the limit the read fails and the answer is the same 413, so a large body is never held
    in memory. The limit is ``max_body_bytes`` (1 MB), and for the incident photo route the photo
    limit plus multipart overhead (answered with ``photo_too_large``). A JSON body nested too deep
    for the parser is a 400 ``invalid_json`` (errors.py), never a RecursionError.

Write rates
    ``write_limit(bucket)`` is a dependency for creation routes: a user may make at most
    ``write_rate_limit`` writes of one bucket (appointments, bookings, incidents, photos,
    dispensations, cycle confirmations, account closure requests, data exports) in a sliding window
    of ``write_rate_window_seconds``;
    beyond that 429 ``rate_limited`` with ``Retry-After``. The count comes from the audit log — every
    such write already leaves an audit row with its actor and time — so the limit holds across
    worker processes without a table of its own, and an idempotent replay (which writes nothing)
    does not count: it is answered before the check. The count is read in the route's own thread, on its
    session, just before the route runs (routes.py ``before_the_route``): a write takes one thread and one
    connection. Writes refused for bad input leave no audit row
    and are not counted (a refused dispensation is audited, and counts). Two requests racing at the
    limit may both pass: the limit is a brake on floods, not an exact quota.

Slow clients
    A body must arrive within ``body_timeout_seconds`` of the app's first read of it, else 408
    ``request_timeout`` (a body sent a byte at a time would otherwise hold a worker thread and a
    connection for as long as the client likes). The request head has its own deadline in the HTTP
    protocol (http_protocol.py); idle keep-alive connections close after ``keep_alive_seconds`` (cli.py).
"""

from __future__ import annotations

import asyncio
import functools
import math
import re
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from fastapi import Depends, Request
from sqlalchemy import Select, bindparam, literal, select
from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from carnet_server.audit import AuditEntry
from carnet_server.auth.deps import ClientAddress, ContextDep, CurrentUser, SessionDep, SignedInUser
from carnet_server.auth.service import check_address_throttle
from carnet_server.db import UTCDateTime, utcnow
from carnet_server.errors import ApiException, error_response, lang_of
from carnet_server.i18n import t
from carnet_server.idempotency.deps import IdempotencyDep
from carnet_server.routes import before_the_route, context_of

__all__ = ["BUCKETS", "BodyLimitMiddleware", "PHOTO_MULTIPART_OVERHEAD", "address_limit", "write_limit"]

#: Bytes a multipart envelope may add around a photo (boundaries, part headers, file name).
PHOTO_MULTIPART_OVERHEAD = 64 * 1024
_PHOTO_PATH = re.compile(r"/api/v1/incidents/[^/]+/photos/?")

#: bucket → the audit actions that count against it.
BUCKETS: dict[str, tuple[str, ...]] = {
    "appointments": ("appointment.create",),
    "bookings": ("blood_bank.booking.create",),
    "incidents": ("incident.create",),
    "incident_photos": ("incident.photo.add",),
    "dispensations": ("pharmacy.dispense",),
    "confirm": ("cycle.confirm", "cycle.confirm.repeat"),
    "prescriptions": ("cycle.prescribe", "cycle.apply", "cycle.defer", "cycle.suspend", "regimen.load"),
    "closure_requests": ("privacy.closure.request", "privacy.closure.cancel"),
    "privacy_exports": ("privacy.export",),
    "registrations": ("patient.create",),
    "invitations": ("guardian.invitation.create", "guardian.invitation.reissue"),
    "administration": ("admin.unit.create", "admin.staff.create", "admin.staff.password_reset"),
    "whatsapp_link_codes": ("whatsapp.link_code.issue",),
    "reminder_preferences": ("reminders.preferences.set",),
    "fever_episodes": ("fever.create",),
    "fever_steps": ("fever.step",),
}


class _Refused(StarletteHTTPException):
    """Raised to the app by the guarded ``receive``; the middleware answers the 413 or 408 itself."""


class BodyLimitMiddleware:
    """413 for bodies over the limit (by ``Content-Length`` before the app runs, else while read);
    408 for a body that does not arrive within ``body_timeout`` seconds."""

    def __init__(self, app: ASGIApp, *, max_bytes: int, photo_max_bytes: int, body_timeout: float = 120.0) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.photo_max_bytes = photo_max_bytes + PHOTO_MULTIPART_OVERHEAD
        self.body_timeout = body_timeout

    def _limit(self, path: str) -> tuple[int, str]:
        if _PHOTO_PATH.fullmatch(path):
            return self.photo_max_bytes, "photo_too_large"
        return self.max_bytes, "payload_too_large"

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, status: int, code: str, limit: int) -> None:
        request = Request(scope)
        message = t(code, lang_of(request), max_kb=limit // 1024)
        response = error_response(request, status, code, message, headers={"Connection": "close"})
        await response(scope, receive, send)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit, code = self._limit(scope["path"])
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > limit:
                    await self._refuse(scope, receive, send, 413, code, limit)
                    return
        received = 0
        body_done = False
        deadline: float | None = None
        refusal: tuple[int, str] | None = None

        async def guarded_receive() -> Message:
            nonlocal received, body_done, deadline, refusal
            if body_done:  # after the body only http.disconnect comes: no deadline for that wait
                return await receive()
            if deadline is None:
                deadline = asyncio.get_running_loop().time() + self.body_timeout
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                refusal = (408, "request_timeout")
                raise _Refused(408) from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                body_done = not message.get("more_body", False)
                if received > limit:
                    refusal = (413, code)
                    raise _Refused(413)
            return message

        replaced = False

        async def guarded_send(message: Message) -> None:
            nonlocal replaced
            if refusal is not None:  # whatever the app made of the failed read, the answer is ours
                if not replaced:
                    replaced = True
                    await self._refuse(scope, receive, send, *refusal, limit)
                return
            await send(message)

        await self.app(scope, guarded_receive, guarded_send)


def _check_rate(ctx: Any, user_id: str, bucket: str, session: Session | None) -> None:
    """In the route's thread, on its session (routes.py ``before_the_route``), or on a session of its own."""
    settings = ctx.settings
    window = timedelta(seconds=settings.write_rate_window_seconds)
    now = utcnow()
    statement = _rate_statement(bucket, settings.write_rate_limit)
    values = {"user_id": user_id, "since": now - window}
    if session is None:
        with ctx.sessions() as own:
            last_allowed = own.scalar(statement, values)
    else:
        last_allowed = session.scalar(statement, values)
    if last_allowed is not None:
        seconds = max(1, math.ceil((last_allowed + window - now).total_seconds()))
        raise ApiException(429, "rate_limited", params={"seconds": seconds}, headers={"Retry-After": str(seconds)})


@functools.cache
def _rate_statement(bucket: str, limit: int) -> Select[datetime]:
    """The limit-th newest write of the bucket's kinds in the window, if there is one: then the limit is reached,
    until that write leaves the window. One row read (the index on actor and time), not every write of the window;
    built once per bucket, over the table rather than the mapped class (the ORM's path cost more than the read; #20)."""
    log = AuditEntry.__table__
    return (
        select(log.c.at)
        .where(
            log.c.actor_id == bindparam("user_id"),
            # Each kind its own bound value: a list of plain values would be an "expanding" IN, rendered anew per run.
            log.c.action.in_([literal(action) for action in BUCKETS[bucket]]),
            log.c.at > bindparam("since", type_=UTCDateTime),
        )
        .order_by(log.c.at.desc())
        .offset(limit - 1)
        .limit(1)
    )


def write_limit(bucket: str, *, idempotent: bool = True, before_privacy_notice: bool = False) -> Any:
    """``dependencies=[write_limit("incidents")]``: the bucket's write rate per user (see above).

    With ``idempotent`` the request's ``Idempotency-Key`` claim is made first (the same claim the route
    gets), so a replay is answered from the store and never counted nor refused. The caller is a
    ``CurrentUser`` (a guardian must have accepted the privacy notice); ``before_privacy_notice`` is for
    the few routes a guardian may use before that (auth/deps.py), which take a ``SignedInUser``.
    """
    if bucket not in BUCKETS:
        raise ValueError(f"unknown rate bucket {bucket!r}")

    dependency: Callable[..., Awaitable[None]]
    if before_privacy_notice:
        if idempotent:
            raise ValueError("the Idempotency-Key claim needs a CurrentUser")

        async def signed_in(request: Request, user: SignedInUser) -> None:
            await before_the_route(request, functools.partial(_check_rate, context_of(request), user.id, bucket))

        dependency = signed_in
    elif idempotent:
        # The caller through the claim (which took the CurrentUser): each dependency FastAPI solves costs (#20).
        async def claimed(request: Request, idem: IdempotencyDep) -> None:
            await before_the_route(request, functools.partial(_check_rate, context_of(request), idem.user_id, bucket))

        dependency = claimed
    else:

        async def current(request: Request, user: CurrentUser) -> None:
            await before_the_route(request, functools.partial(_check_rate, context_of(request), user.id, bucket))

        dependency = current

    dependency.__name__ = f"write_limit_{bucket}"
    return Depends(dependency)


def address_limit(bucket: str, *, limit: Callable[[Any], int]) -> Any:
    """``dependencies=[address_limit(...)]`` for a route with no signed-in caller that creates something
    (``POST /api/v1/auth/activate``): the failures of ``bucket`` recorded from the caller's address in the
    login window, at most ``limit(settings)`` (auth/service.py ``check_address_throttle``); beyond that 429
    with Retry-After. Named like the write limits, so the walkers and the OpenAPI document see it."""

    def dependency(ctx: ContextDep, session: SessionDep, address: ClientAddress) -> None:
        try:
            check_address_throttle(
                session, ctx=ctx, bucket=bucket, limit=limit(ctx.settings), address=address, now=utcnow()
            )
        finally:
            session.rollback()  # give the connection back before the route runs

    dependency.__name__ = f"write_limit_address_{bucket.strip('#')}"
    return Depends(dependency)


def document_limits(app: Any) -> None:
    """Add the limits' answers to the OpenAPI document: 413 and 400 ``invalid_json`` on every operation with
    a body, 429 on every write-limited one (so clients and the schema tests know them)."""
    from fastapi.routing import APIRoute, iter_route_contexts

    original = app.openapi

    def openapi() -> dict[str, Any]:
        cached: dict[str, Any] | None = app.openapi_schema
        if cached:
            return cached
        schema: dict[str, Any] = original()
        error = {
            "description": "Error",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}},
        }
        for route_ctx in iter_route_contexts(app.routes):
            route = route_ctx.original_route
            if not isinstance(route, APIRoute) or not route.include_in_schema:
                continue
            limited = any(
                getattr(d.call, "__name__", "").startswith("write_limit_") for d in route.dependant.dependencies
            )
            for method in route.methods or ():
                operation = schema["paths"].get(route_ctx.path, {}).get(method.lower())
                if operation is None:
                    continue
                responses = operation.setdefault("responses", {})
                if "requestBody" in operation:
                    responses.setdefault("413", error)
                    responses.setdefault("400", error)
                if limited:
                    responses.setdefault("429", error)
        return schema

    app.openapi = openapi
