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
        path = str(scope.get("path", ""))
        query = bytes(scope.get("query_string", b"")).decode("latin-1")
        if has_control_characters(path):
            refusal: tuple[str, list[str]] | None = ("not_found", [])
        elif "%" in query or has_control_characters(query):  # else nothing to decode and nothing to refuse
            refusal = _query_refusal(path, query)
        else:
            refusal = None
        if refusal is None:
            await self.app(scope, receive, send)
            return
        code, names = refusal
        request = Request(scope)
        lang = lang_of(request)
        if code == "validation_error":
            message = t(code, lang, fields=", ".join(f"{name} ({t('field.control', lang)})" for name in names))
        else:
            message = t(code, lang)
        await error_response(request, 404 if code == "not_found" else 422, code, message)(scope, receive, send)


def _query_refusal(path: str, query: str) -> tuple[str, list[str]] | None:
    """The code for a query with control characters — its route's own, else ``validation_error`` with the
    parameters' names — or None for a clean one."""
    names: list[str] = []
    for name, value in parse_qsl(query, keep_blank_values=True):
        if has_control_characters(name) or has_control_characters(value):
            own = OWN_CODES.get((path, name))
            if own is not None:
                return own, []
            shown = name if not has_control_characters(name) else "?"
            if shown not in names:
                names.append(shown)
    return ("validation_error", names) if names else None
