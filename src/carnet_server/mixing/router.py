"""Routes of the mixing domain: confirm a cycle (→ its mixing order), the provider's signed callbacks,
and the staff's view of the delivery queue."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool

from carnet_contract import models as contract
from carnet_contract.models import MixingStatus
from carnet_server.auth.deps import AdminOrPharmacy, ClientAddress, ContextDep, SessionDep
from carnet_server.context import Context
from carnet_server.db import utcnow
from carnet_server.errors import ApiException
from carnet_server.limits import write_limit
from carnet_server.mixing import service
from carnet_server.patients.service import cycle_out
from carnet_server.routes import api_router

router = api_router(prefix="/api/v1", tags=["mixing"])

_ERRORS: dict[int | str, dict[str, Any]] = {code: {"model": contract.ErrorBody} for code in (401, 403, 404, 409, 422)}
MAX_CALLBACK_BYTES = 16 * 1024


class CallbackAnswer(BaseModel):
    """The answer to a provider callback: whether it moved the order, and the order's status now."""

    applied: bool
    status: MixingStatus


@router.post(
    "/cycles/{cycle_id}/confirm",
    response_model=contract.Cycle,
    responses=_ERRORS,
    dependencies=[write_limit("confirm", idempotent=False)],
)
def confirm_cycle(
    cycle_id: str, request: Request, user: AdminOrPharmacy, session: SessionDep, ctx: ContextDep, address: ClientAddress
) -> contract.Cycle:
    """The hospital confirms a scheduled cycle: its mixture is ordered from the provider (``pendiente``
    until delivered). Confirming again answers the same cycle and orders nothing more."""
    cycle, order = service.confirm_cycle(
        session, principal=user, cycle_id=cycle_id, provider=ctx.settings.mixing_provider_name, ip=address
    )
    out = cycle_out(cycle)
    worker = getattr(request.app.state, "mixing_worker", None)
    if order is not None and worker is not None:
        worker.wake()
    return out


def _receive_callback(ctx: Context, raw: bytes, signature: str | None) -> CallbackAnswer:
    settings = ctx.settings
    service.verify_signature(
        signature,
        raw,
        secret=service.mixing_secret(settings),
        now=utcnow(),
        max_skew=settings.mixing_callback_max_skew_seconds,
    )
    try:
        event = contract.MixingCallback.model_validate_json(raw)
    except ValidationError as exc:
        raise RequestValidationError([{**e, "loc": ("body", *e.get("loc", ()))} for e in exc.errors()]) from exc
    with ctx.sessions() as session:
        result = service.apply_callback(session, event=event)
    return CallbackAnswer(applied=result.applied, status=result.status)


@router.post(
    "/mixing/callbacks", response_model=CallbackAnswer, responses={**_ERRORS, 413: {"model": contract.ErrorBody}}
)
async def mixing_callback(request: Request, ctx: ContextDep) -> CallbackAnswer:
    """The provider reports progress (``contract.MixingCallback``), signed with the shared secret:
    ``X-Carnet-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>``. A missing or
    forged signature, one outside the allowed clock skew, or an event id seen before → 401. An
    update that is not progress is recorded but not applied (``applied: false``)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_CALLBACK_BYTES:
        raise ApiException(413, "callback_too_large")
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_CALLBACK_BYTES:
            raise ApiException(413, "callback_too_large")
    return await run_in_threadpool(_receive_callback, ctx, raw, request.headers.get(service.SIGNATURE_HEADER))


@router.get("/mixing/orders", response_model=list[contract.MixingOrderState], responses=_ERRORS)
def list_orders(
    user: AdminOrPharmacy,
    session: SessionDep,
    address: ClientAddress,
    status: MixingStatus | None = None,
    pending: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 200,
) -> list[contract.MixingOrderState]:
    """Mixing orders of the caller's units (admin: all), newest first: ``pending=true`` lists those not yet
    delivered to the provider, with their attempts and last error."""
    return service.list_orders(session, principal=user, status=status, pending=pending, limit=limit, ip=address)
