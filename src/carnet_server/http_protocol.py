"""uvicorn's HTTP protocol (httptools) with a deadline for the request head, a bound on its size, and the
API's error shape for the requests that uvicorn refuses before the app sees them.

Head deadline
    uvicorn closes a keep-alive connection that stays idle after an answer, but it has no timer for a
    client that connects and sends nothing, or sends its request line and headers a byte at a time:
    such a client holds a connection (and a place under ``max_connections``) for as long as it likes.
    ``HeadTimeoutProtocol`` arms a timer when a connection opens and when each request's first byte
    arrives, and disarms it when the headers are complete; if it fires, the client gets 408
    ``request_timeout`` and the connection is closed. The body's own deadline is in limits.py.

Head size
    httptools sets no bound on the headers: a request line and headers over :data:`MAX_HEAD_BYTES`
    (64 KB, h11's bound too) get 431 ``headers_too_large`` and the connection is closed.

Refusals before the app
    uvicorn answers a request httptools cannot parse (two ``Content-Length`` headers, ``Content-Length``
    with chunked, a bad request line or version, …) with 400, and a request beyond ``max_connections``
    with 503, both in text/plain. Here they get the API's shape like every other error (errors.py):
    ``{"error": {"code", "message"}}`` — 400 ``bad_request``, 503 ``server_busy`` with ``Retry-After`` —
    with ``Cache-Control: no-store`` and ``X-Content-Type-Options: nosniff``. The head was not read, so
    its ``Accept-Language`` is unknown: the message is in Spanish and English.

uvicorn takes the class as its ``http`` option (cli.server_options). Worker processes are spawned
and import the protocol by name, so they use ``EnvironmentHeadTimeoutProtocol``, which reads the
deadline from ``CARNET_HEAD_TIMEOUT_SECONDS`` (cli.py sets it from the settings).
"""

from __future__ import annotations

import asyncio
import json
import os
from functools import cache
from http import HTTPStatus
from typing import Any

from uvicorn._types import ASGIReceiveCallable, ASGISendCallable, Scope
from uvicorn.protocols.http.flow_control import service_unavailable
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle

from carnet_server.i18n import t

__all__ = [
    "MAX_HEAD_BYTES",
    "EnvironmentHeadTimeoutProtocol",
    "HeadTimeoutProtocol",
    "head_timeout_protocol",
    "refusal",
]

#: The most bytes a request line and its headers may take together (names and values).
MAX_HEAD_BYTES = 64 * 1024
#: Seconds a client is told to wait after a 503 ``server_busy``.
BUSY_RETRY_AFTER_SECONDS = 5


def _body(code: str, **params: object) -> bytes:
    """The error body, its message in both languages (the head's Accept-Language is not known)."""
    message = f"{t(code, 'es', **params)} / {t(code, 'en', **params)}"
    return json.dumps({"error": {"code": code, "message": message}}, ensure_ascii=False).encode()


def _headers(body: bytes, extra: tuple[tuple[bytes, bytes], ...] = ()) -> list[tuple[bytes, bytes]]:
    return [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store"),
        (b"x-content-type-options", b"nosniff"),
        (b"connection", b"close"),
        *extra,
    ]


def refusal(status: int, code: str, **params: object) -> bytes:
    """A whole HTTP/1.1 answer in the API's error shape, for a connection that closes after it."""
    body = _body(code, **params)
    lines = [f"HTTP/1.1 {status} {HTTPStatus(status).phrase}".encode()]
    lines += [name + b": " + value for name, value in _headers(body)]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


_TIMEOUT = refusal(408, "request_timeout")
_BAD_REQUEST = refusal(400, "bad_request")
_HEAD_TOO_LARGE = refusal(431, "headers_too_large", max_kb=MAX_HEAD_BYTES // 1024)
_BUSY_BODY = _body("server_busy")


async def _server_busy(scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable) -> None:
    """uvicorn's ``service_unavailable`` (beyond ``limit_concurrency``) in the API's shape."""
    headers = _headers(_BUSY_BODY, ((b"retry-after", str(BUSY_RETRY_AFTER_SECONDS).encode()),))
    await send({"type": "http.response.start", "status": 503, "headers": headers})
    await send({"type": "http.response.body", "body": _BUSY_BODY, "more_body": False})


class _HeadTooLarge(Exception):
    """Raised from a parser callback: httptools turns it into a parse error, which uvicorn answers."""


class HeadTimeoutProtocol(HttpToolsProtocol):
    """408 and close when a request's line and headers take longer than ``head_timeout`` seconds; 431 when
    they are larger than :data:`MAX_HEAD_BYTES`; uvicorn's own 400 and 503 in the API's error shape."""

    head_timeout: float = 10.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_timer: asyncio.TimerHandle | None = None
        self._head_bytes = 0
        self._refusal: bytes | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]  # as narrow as uvicorn's own
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_bytes = 0
        self._arm()

    def on_url(self, url: bytes) -> None:
        self._count_head(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count_head(len(name) + len(value))
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def _count_head(self, size: int) -> None:
        self._head_bytes += size
        if self._head_bytes > MAX_HEAD_BYTES:
            self._refusal = _HEAD_TOO_LARGE
            raise _HeadTooLarge

    def send_400_response(self, msg: str) -> None:
        """uvicorn's answer to a request httptools could not parse (``msg`` is its text/plain body)."""
        self._disarm()
        self._refuse(self._refusal or _BAD_REQUEST)

    def _start_asgi_task(self, cycle: RequestResponseCycle, app: Any) -> None:
        super()._start_asgi_task(cycle, _server_busy if app is service_unavailable else app)

    def _arm(self) -> None:
        self._disarm()
        self._head_timer = self.loop.call_later(self.head_timeout, self._head_timed_out)

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        self._refuse(_TIMEOUT)

    def _refuse(self, response: bytes) -> None:
        if not self.transport.is_closing():
            self.transport.write(response)
            self.transport.close()


class EnvironmentHeadTimeoutProtocol(HeadTimeoutProtocol):
    """The protocol of spawned worker processes: the deadline comes from the environment."""

    head_timeout = float(os.environ.get("CARNET_HEAD_TIMEOUT_SECONDS") or HeadTimeoutProtocol.head_timeout)


@cache
def head_timeout_protocol(seconds: float) -> type[HeadTimeoutProtocol]:
    """A protocol class with this deadline (for a server in this process)."""
    return type("HeadTimeoutProtocol", (HeadTimeoutProtocol,), {"head_timeout": seconds})
