"""Control characters in a request's path or query string: refused before any route runs (issue #16, item 14).

PostgreSQL cannot store or compare a NUL in text (a query with one fails: a 500), SQLite takes it; no id
or search term needs a control character. On both databases a path with one (``%00`` in an id) is a 404
``not_found`` — no such resource can exist — and a query parameter with one a 422 ``validation_error``
naming it, or, for a parameter whose route has a code of its own for a bad value (the sync cursor:
``invalid_cursor``, which tells the client to start over), that code. Request bodies are checked by the
contract's models (``carnet_contract.models._Request``), the Idempotency-Key by its own pattern
(idempotency/deps.py).
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from carnet_contract.models import has_control_characters
from carnet_server.errors import error_response, lang_of
from carnet_server.i18n import t

__all__ = ["OWN_CODES", "ControlCharactersMiddleware"]

#: (path, query parameter) → the code its route answers for a value it refuses.
OWN_CODES: dict[tuple[str, str], str] = {("/api/v1/sync", "cursor"): "invalid_cursor"}


class ControlCharactersMiddleware:
    """404 for a path, 422 for query parameters, with control characters (tab and line breaks aside)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        lang = lang_of(request)
        if has_control_characters(str(scope.get("path", ""))):
            response = error_response(request, 404, "not_found", t("not_found", lang))
            await response(scope, receive, send)
            return
        query = bytes(scope.get("query_string", b"")).decode("latin-1")
        fields: list[str] = []
        for name, value in parse_qsl(query, keep_blank_values=True):
            if has_control_characters(name) or has_control_characters(value):
                own = OWN_CODES.get((str(scope.get("path", "")), name))
                if own is not None:
                    response = error_response(request, 422, own, t(own, lang))
                    await response(scope, receive, send)
                    return
                item = f"{name if not has_control_characters(name) else '?'} ({t('field.control', lang)})"
                if item not in fields:
                    fields.append(item)
        if fields:
            message = t("validation_error", lang, fields=", ".join(fields))
            response = error_response(request, 422, "validation_error", message)
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)
