"""uvicorn's HTTP protocol (httptools) with a deadline for the request head.

uvicorn closes a keep-alive connection that stays idle after an answer, but it has no timer for a
client that connects and sends nothing, or sends its request line and headers a byte at a time:
such a client holds a connection (and a place under ``max_connections``) for as long as it likes.
``HeadTimeoutProtocol`` arms a timer when a connection opens and when each request's first byte
arrives, and disarms it when the headers are complete; if it fires, the client gets 408
``request_timeout`` and the connection is closed. The body's own deadline is in limits.py.

uvicorn takes the class as its ``http`` option (cli.server_options). Worker processes are spawned
and import the protocol by name, so they use ``EnvironmentHeadTimeoutProtocol``, which reads the
deadline from ``CARNET_HEAD_TIMEOUT_SECONDS`` (cli.py sets it from the settings).
"""

from __future__ import annotations

import asyncio
import json
import os
from functools import cache
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

__all__ = ["EnvironmentHeadTimeoutProtocol", "HeadTimeoutProtocol", "head_timeout_protocol"]

#: The head has no Accept-Language yet: the message is in both languages.
_BODY = json.dumps(
    {
        "error": {
            "code": "request_timeout",
            "message": "La solicitud tardó demasiado en llegar; inténtelo de nuevo. / "
            "The request took too long to arrive; please try again.",
        }
    },
    ensure_ascii=False,
).encode()
_RESPONSE = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\n"
    b"content-length: " + str(len(_BODY)).encode() + b"\r\nconnection: close\r\n\r\n" + _BODY
)


class HeadTimeoutProtocol(HttpToolsProtocol):
    """408 and close when a request's line and headers take longer than ``head_timeout`` seconds."""

    head_timeout: float = 10.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]  # as narrow as uvicorn's own
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm()

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def _arm(self) -> None:
        self._disarm()
        self._head_timer = self.loop.call_later(self.head_timeout, self._head_timed_out)

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if not self.transport.is_closing():
            self.transport.write(_RESPONSE)
            self.transport.close()


class EnvironmentHeadTimeoutProtocol(HeadTimeoutProtocol):
    """The protocol of spawned worker processes: the deadline comes from the environment."""

    head_timeout = float(os.environ.get("CARNET_HEAD_TIMEOUT_SECONDS") or HeadTimeoutProtocol.head_timeout)


@cache
def head_timeout_protocol(seconds: float) -> type[HeadTimeoutProtocol]:
    """A protocol class with this deadline (for a server in this process)."""
    return type("HeadTimeoutProtocol", (HeadTimeoutProtocol,), {"head_timeout": seconds})
