"""Response headers every answer carries (an ASGI middleware).

``X-Content-Type-Options: nosniff`` on every response: browsers take the declared type and never
guess one (an uploaded photo is never run as a page). ``Cache-Control: no-store`` on every API answer
(``/api/…``) and the QR's verification page (``/v/…``): they are personal — health data, tokens,
the carnet — so neither the browser nor a proxy keeps a copy. A route's own ``Cache-Control`` stays
only if it already says ``no-store`` (the pharmacy's trust bundle: ``private, no-store``); anything
weaker is replaced. Conditional requests (the sync's ``ETag``/``If-None-Match``) work without a
stored copy: the client keeps its own.
"""

from __future__ import annotations

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["NO_STORE_PREFIXES", "SecurityHeadersMiddleware", "csv_download", "markdown_text"]

#: Paths whose answers are never stored by a cache.
NO_STORE_PREFIXES = ("/api/", "/v/")


class SecurityHeadersMiddleware:
    """Adds ``nosniff`` everywhere and ``no-store`` under :data:`NO_STORE_PREFIXES`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        no_store = str(scope["path"]).startswith(NO_STORE_PREFIXES)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"x-content-type-options"]
                headers.append((b"x-content-type-options", b"nosniff"))
                if no_store:
                    own = [v for k, v in headers if k.lower() == b"cache-control"]
                    if not (len(own) == 1 and b"no-store" in own[0].lower()):
                        headers = [(k, v) for k, v in headers if k.lower() != b"cache-control"]
                        headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def csv_download(text: str, filename: str) -> Response:
    """A CSV table (UTF-8) the browser saves as ``filename``: the desks' weekly figures."""
    return Response(
        content=text.encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def markdown_text(text: str) -> Response:
    """A Markdown text (UTF-8): the weekly figures as the working group's minutes paste them."""
    return Response(content=text.encode("utf-8"), media_type="text/markdown; charset=utf-8")
