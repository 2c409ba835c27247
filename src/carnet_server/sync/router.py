"""Routes of the sync domain: ``GET /api/v1/sync`` with a strong ETag and 304."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import partial
from typing import Annotated, Any

import anyio.to_thread
from fastapi import Depends, Header, Query, Request, Response

from carnet_contract import models as contract
from carnet_contract.models import Role
from carnet_server.auth.deps import require_role
from carnet_server.auth.service import Principal
from carnet_server.context import Context
from carnet_server.memo import Mark
from carnet_server.routes import api_router, context_of
from carnet_server.sync import service

router = api_router(prefix="/api/v1", tags=["sync"])

Guardian = Annotated[Principal, Depends(require_role(Role.GUARDIAN))]


#: The largest page with changes kept in memory: a delta of a few records (a first sync's big pages are asked once;
#: at most ``max_entries`` pages per worker, memo.py).
KEPT_PAGE_BYTES = 8 * 1024

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


@dataclass(frozen=True)
class SyncAnswer:
    """A sync page as sent, what a worker keeps in memory (``read_changes``)."""

    body: bytes
    etag: str
    #: Nothing after the cursor: may be sent again for the cache time whoever writes (it carries no data).
    empty: bool
    #: Taken before the page was read (memo.py): a page with changes is sent again only while quiet since.
    mark: Mark


@router.get("/sync", response_model=contract.SyncPage, responses={**_ERRORS, 304: {"description": "Not modified"}})
async def read_changes(
    user: Guardian,
    request: Request,
    cursor: Annotated[str, Query(max_length=service.MAX_CURSOR_LENGTH)] = "",
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    if_none_match: Annotated[str | None, Header(max_length=1024)] = None,
) -> Response:
    """Changes to the caller's children after ``cursor``; 304 when the ETag still matches.

    A page is kept in memory a few seconds by (guardian, page size, cursor) (memo.py), ended by any write to her
    links or to the children's changes (every change of a synced record moves ``sync_state``): this worker's at
    once, another's as the commit watch hears of it. An empty one ("nothing new") holds no data: sent again for the
    cache time whatever the watch says. One with changes — the same page asked again, as an app on bad mobile data
    does when the answer is lost — only while the watch says every commit since it was read has been dealt with
    (``quiet_since``), so it is what a new read would give. The reads run in a thread on a session of its own."""
    ctx = context_of(request)
    sent = kept_page(ctx, user.id, limit=limit, cursor=cursor, if_none_match=if_none_match)
    if sent is not None:
        return sent
    generation = ctx.sync_cache.generation  # before the read: a write after it voids the answer
    mark = ctx.commits.mark()
    body, empty = await anyio.to_thread.run_sync(
        partial(_page, ctx, request.app.state.sync_registry, user_id=user.id, cursor=cursor, limit=limit)
    )
    kept = SyncAnswer(body=body, etag=etag_of(body), empty=empty, mark=mark)
    if empty or (mark is not None and len(body) <= KEPT_PAGE_BYTES):
        ctx.sync_cache.put((user.id, limit, cursor), kept, generation=generation)
    return _sent(kept, if_none_match)


def kept_page(ctx: Context, user_id: str, *, limit: int, cursor: str, if_none_match: str | None) -> Response | None:
    """A kept page as the route sends it (or its 304), when it may go without a query: an empty one for the cache
    time, one with changes while every commit since it was read has been dealt with. None otherwise. Also sent
    before routing (kept.py)."""
    kept = ctx.sync_cache.get((user_id, limit, cursor))
    if kept is None or not (kept.empty or ctx.commits.quiet_since(kept.mark)):
        return None
    return _sent(kept, if_none_match)


def _sent(page: SyncAnswer, if_none_match: str | None) -> Response:
    headers = {"ETag": page.etag}  # no-store (headers.py): the app keeps its own copy and sends If-None-Match
    if etag_matches(if_none_match, page.etag):
        return Response(status_code=304, headers=headers)
    return Response(content=page.body, media_type="application/json", headers=headers)


def _page(ctx: Context, registry: service.SyncRegistry, *, user_id: str, cursor: str, limit: int) -> tuple[bytes, bool]:
    """The page's JSON, and whether it is empty: the same cursor back, nothing after it."""
    with ctx.sessions() as session:
        page = service.page(session, ctx=ctx, registry=registry, user_id=user_id, cursor=cursor, limit=limit)
    empty = not page.changes and not page.has_more and not page.reset and page.cursor == cursor
    return page.model_dump_json().encode("utf-8"), empty
