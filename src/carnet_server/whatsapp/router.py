"""Routes of the WhatsApp channel: the Cloud API webhook (Meta's handshake and signed notifications), a
guardian's link (code, status, unlink) and the case desk's unlink of a number."""

from __future__ import annotations

import hmac
import json
from typing import Annotated, Any

from fastapi import Depends, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import PlainTextResponse

from carnet_contract import models as contract
from carnet_contract.models import Role
from carnet_server.auth.deps import ClientAddress, ContextDep, CurrentUser, SessionDep, require_role
from carnet_server.auth.service import Principal
from carnet_server.context import Context
from carnet_server.db import utcnow
from carnet_server.errors import ApiException
from carnet_server.limits import write_limit
from carnet_server.routes import api_router
from carnet_server.whatsapp import inbound, links

router = api_router(prefix="/api/v1", tags=["whatsapp"])

_ERRORS: dict[int | str, dict[str, Any]] = {code: {"model": contract.ErrorBody} for code in (401, 403, 404, 422)}
Desk = Annotated[Principal, Depends(require_role(Role.CASE_DESK, Role.ADMIN))]


@router.get(
    "/whatsapp/webhook",
    response_class=PlainTextResponse,
    responses={403: {"model": contract.ErrorBody}, 404: {"model": contract.ErrorBody}},
)
def verify_subscription(
    ctx: ContextDep,
    mode: Annotated[str, Query(alias="hub.mode", max_length=32)] = "",
    token: Annotated[str, Query(alias="hub.verify_token", max_length=256)] = "",
    challenge: Annotated[str, Query(alias="hub.challenge", max_length=256)] = "",
) -> PlainTextResponse:
    """Meta's subscription handshake: the challenge back as text when the verify token matches, else 403."""
    expected = ctx.settings.whatsapp_verify_token
    if expected is None:
        raise ApiException(404, "whatsapp_not_configured")
    if mode != "subscribe" or not hmac.compare_digest(token.encode(), expected.get_secret_value().encode()):
        raise ApiException(403, "whatsapp_verify_failed")
    return PlainTextResponse(challenge)


def _store(ctx: Context, body: bytes) -> int:
    try:
        payload = json.loads(body)
    except ValueError:
        raise ApiException(400, "whatsapp_body_invalid") from None
    items = inbound.extract(payload)
    with ctx.sessions() as session:
        return inbound.store(session, items, now=utcnow())


@router.post(
    "/whatsapp/webhook",
    responses={
        400: {"model": contract.ErrorBody},
        401: {"model": contract.ErrorBody},
        404: {"model": contract.ErrorBody},
    },
)
async def receive(request: Request, ctx: ContextDep) -> dict[str, str]:
    """A Cloud API notification, signed with the app secret (``X-Hub-Signature-256``): 401 when the signature is
    missing or wrong, else 200 at once; the messages are processed from the durable queue (a redelivered message
    id adds nothing)."""
    secret = ctx.settings.whatsapp_app_secret
    if secret is None:
        raise ApiException(404, "whatsapp_not_configured")
    body = await request.body()
    if not inbound.verify_signature(
        secret.get_secret_value().encode(), body, request.headers.get("x-hub-signature-256")
    ):
        raise ApiException(401, "whatsapp_signature_invalid")
    added = await run_in_threadpool(_store, ctx, body)
    worker = getattr(request.app.state, "whatsapp_worker", None)
    if added and worker is not None:
        worker.wake()
    return {"status": "ok"}


@router.post(
    "/me/whatsapp/link-code",
    status_code=201,
    response_model=contract.WhatsAppLinkCode,
    responses=_ERRORS,
    dependencies=[write_limit("whatsapp_link_codes", idempotent=False)],
)
def link_code(
    user: CurrentUser, session: SessionDep, ctx: ContextDep, address: ClientAddress
) -> contract.WhatsAppLinkCode:
    """A one-use code (15 minutes) the guardian sends to the bot from the phone to link: the earlier one stops
    working."""
    return links.issue_code(session, ctx=ctx, principal=user, ip=address)


@router.get("/me/whatsapp", response_model=contract.WhatsAppLink, responses=_ERRORS)
def link_status(user: CurrentUser, session: SessionDep, ctx: ContextDep) -> contract.WhatsAppLink:
    """Whether a WhatsApp number gets this account's information (only its last four digits)."""
    return links.link_status(session, principal=user, bot_number=ctx.settings.whatsapp_bot_number)


@router.delete("/me/whatsapp", status_code=204, response_class=Response, responses=_ERRORS)
def unlink(user: CurrentUser, session: SessionDep, address: ClientAddress) -> Response:
    """End the link at once: the number gets nothing more about the children, queued messages included."""
    links.unlink_user(session, principal=user, ip=address)
    return Response(status_code=204)


@router.post("/whatsapp/unlink", status_code=204, response_class=Response, responses=_ERRORS)
def staff_unlink(body: contract.WhatsAppUnlink, user: Desk, session: SessionDep, address: ClientAddress) -> Response:
    """Case desk or admin end a number's link (a lost phone, the family's call); 404 when it is not linked."""
    links.unlink_number(session, principal=user, phone_text=body.phone, ip=address)
    return Response(status_code=204)
