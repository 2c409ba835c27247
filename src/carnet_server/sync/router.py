"""Routes of the sync domain: ``GET /api/v1/sync`` with a strong ETag and 304."""

from __future__ import annotations

import hashlib
from typing import Annotated, Any

from fastapi import Depends, Header, Query, Request, Response

from carnet_contract import models as contract
from carnet_contract.models import Role
from carnet_server.auth.deps import ContextDep, SessionDep, require_role
from carnet_server.auth.service import Principal
from carnet_server.routes import api_router
from carnet_server.sync import service

router = api_router(prefix="/api/v1", tags=["sync"])

Guardian = Annotated[Principal, Depends(require_role(Role.GUARDIAN))]


def get_registry(request: Request) -> service.SyncRegistry:
    """The app's sync loaders (registered by ``create_app``)."""
    registry: service.SyncRegistry = request.app.state.sync_registry
    return registry


RegistryDep = Annotated[service.SyncRegistry, Depends(get_registry)]
_ERRORS: dict[int | str, dict[str, Any]] = {code: {"model": contract.ErrorBody} for code in (401, 403, 422)}


def etag_of(body: bytes) -> str:
    """A strong validator: the hash of the exact response body."""
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """RFC 9110 If-None-Match: weak comparison, lists and ``*``."""
    if not if_none_match:
        return False
    for listed in if_none_match.split(","):
        candidate = listed.strip()
        if candidate == "*" or candidate.removeprefix("W/") == etag:
            return True
    return False


@router.get("/sync", response_model=contract.SyncPage, responses={**_ERRORS, 304: {"description": "Not modified"}})
def read_changes(
    user: Guardian,
    session: SessionDep,
    ctx: ContextDep,
    registry: RegistryDep,
    cursor: Annotated[str, Query(max_length=service.MAX_CURSOR_LENGTH)] = "",
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    if_none_match: Annotated[str | None, Header(max_length=1024)] = None,
) -> Response:
    """Changes to the caller's children after ``cursor``; 304 when the ETag still matches."""
    page = service.page(session, ctx=ctx, registry=registry, user_id=user.id, cursor=cursor, limit=limit)
    body = page.model_dump_json().encode("utf-8")
    headers = {"ETag": etag_of(body)}  # no-store (headers.py): the app keeps its own copy and sends If-None-Match
    if etag_matches(if_none_match, headers["ETag"]):
        return Response(status_code=304, headers=headers)
    return Response(content=body, media_type="application/json", headers=headers)
