"""Kept answers sent before routing (#20): the family's frequent reads, when this worker may send them as kept.

A family's app asks the same three things again and again — who am I, the child's carnet, the sync page after
its cursor (mostly a 304) — and while nothing was committed the answer is the one this worker already keeps
(memo.py). Even then the route cost more than twice the framework's floor: matching the path against every
route, solving its dependencies, validating its parameters. This layer, the innermost of the app's middlewares
(every one of theirs has run: headers, control characters, body limits, the catch-all), answers those requests
itself when — and only when — the route would send a kept answer without a query:

- the caller is one this worker keeps (``auth.deps.kept_caller``: the same token lookup ``get_signed_in_user``
  makes first), and passes the same checks as the route's own dependency (``refusal``, the role);
- the parameters are ones the route would take as they are (anything unusual — an odd number, a repeated or
  an over-long parameter, a mounted root path — goes to the route, which answers it or refuses it);
- the route's own kept-answer function says so (``kept_me``, ``kept_carnet``, ``kept_page``): the very code the
  route runs first, so both send the same bytes and headers.

Everything else, and every doubt, goes on to the route. tests/server/test_kept.py holds the routes to what this
layer assumes (their path, their dependencies and parameters): a route that gains a check fails there until this
layer makes it too.
"""

from __future__ import annotations

import re

from starlette.datastructures import Headers, QueryParams
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from carnet_contract.models import Role
from carnet_server.auth.deps import kept_caller, refusal
from carnet_server.auth.router import kept_me
from carnet_server.context import Context
from carnet_server.db import utcnow
from carnet_server.patients.router import kept_carnet
from carnet_server.sync.router import kept_page
from carnet_server.sync.service import MAX_CURSOR_LENGTH

__all__ = ["KEPT_PATHS", "KeptAnswersMiddleware"]

ME = "/api/v1/me"
SYNC = "/api/v1/sync"
#: The carnet's route, ``/api/v1/patients/{patient_id}/carnet``, as Starlette matches it (a segment: no ``/``).
CARNET = re.compile(r"/api/v1/patients/([^/]+)/carnet")
#: The routes this layer may answer (their paths as declared), for the tests that hold them to it.
KEPT_PATHS = (ME, "/api/v1/patients/{patient_id}/carnet", SYNC)

#: A page size the route takes as it is (``Query(ge=1, le=1000)``): digits without a sign, a space or a zero first.
_LIMIT = re.compile(r"[1-9][0-9]{0,3}")
_SYNC_PARAMETERS = frozenset({"cursor", "limit"})


class KeptAnswersMiddleware:
    """Sends a kept answer for ``GET`` who-am-I, carnet or sync when the route would send it as kept; otherwise
    passes the request on untouched."""

    def __init__(self, app: ASGIApp, ctx: Context) -> None:
        self.app = app
        self.ctx = ctx

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET" and not scope.get("root_path"):
            answer = self.answer(scope)
            if answer is not None:
                await answer(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def answer(self, scope: Scope) -> Response | None:
        """The kept answer for this request, or None (the route answers)."""
        path: str = scope["path"]
        carnet = None
        if path != ME and path != SYNC:
            carnet = CARNET.fullmatch(path)
            if carnet is None:
                return None
        headers = Headers(scope=scope)
        ctx = self.ctx
        user = kept_caller(ctx, headers.get("authorization"))
        if user is None:
            return None
        if path == ME:  # SignedInUser: no more checks
            return kept_me(ctx, user)
        if refusal(user, ctx) is not None:  # CurrentUser (and the guardian's role after it, for the sync)
            return None
        if carnet is not None:
            return kept_carnet(ctx, user, carnet.group(1), utcnow())
        if user.role != Role.GUARDIAN:
            return None
        return self._page(ctx, user.id, scope, headers)

    @staticmethod
    def _page(ctx: Context, user_id: str, scope: Scope, headers: Headers) -> Response | None:
        query = QueryParams(scope["query_string"])
        names = [name for name, _ in query.multi_items()]
        if len(set(names)) != len(names) or not _SYNC_PARAMETERS.issuperset(names):
            return None
        cursor = query.get("cursor", "")
        limit = query.get("limit", "200")
        if_none_match = headers.get("if-none-match")
        if (
            len(cursor) > MAX_CURSOR_LENGTH
            or not _LIMIT.fullmatch(limit)
            or int(limit) > 1000
            or (if_none_match is not None and len(if_none_match) > 1024)
        ):
            return None
        return kept_page(ctx, user_id, limit=int(limit), cursor=cursor, if_none_match=if_none_match)
