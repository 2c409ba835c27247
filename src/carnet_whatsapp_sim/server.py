"""The WhatsApp Cloud API simulator: signed webhooks out, the bot's messages in.

    carnet-whatsapp-sim serve --port P --webhook-url URL [--host H] [--phone-number-id PNID]
                              [--record FILE.sqlite]   (secrets: see carnet_whatsapp_sim.cli)

The Cloud API's side (``Authorization: Bearer <access token>``, checked in constant time; a wrong or
missing token → 401 code 190):

``POST /{phone_number_id}/messages``
    a pending ``/_sim/fail`` → that status (429 with ``Retry-After: 1``); another phone number id or
    a malformed body (:func:`carnet_whatsapp_sim.cloudapi.check_message`) → 400 code 100 (templates:
    132000/132001); a non-template message to a number that has not written within 24 h → 400 code
    131047 (the real API reports this later, by a status webhook); else the message is recorded with
    the next ``seq`` (in memory, and in the SQLite ``--record``) → 200 with a new ``wamid``.
``GET /{media_id}``
    → ``{"url": "<this server>/_media/<id>", "mime_type", "sha256", "file_size", "id"}``;
``GET /_media/{media_id}`` → the bytes (images sent with ``/_sim/inbound``; kept in memory).

The control API (JSON, no token; tests and the demo):

``POST /_sim/inbound``
    ``{"from": DIGITS, "text" | "button": {id, title?} | "list": {id, title?} | "image_b64" (+ "mime_type",
    "caption"), "name"?, "deliveries"? (1–10, default 1), "signature"?: "forged"}``: builds the
    webhook body of one message (a new ``wamid``; an option's title, when left out, is read from the
    bot's messages to that number), notes that the number wrote now (the 24 h window), and POSTs the
    same body, signed ``X-Hub-Signature-256`` with the app secret (with a random key when forged),
    ``deliveries`` times to the webhook URL (straight, no proxy; 10 s timeout) →
    ``{"message_id", "statuses": [HTTP status of each delivery, 0 for no answer], "seq"}`` where
    ``seq`` is the last recorded outbound message before it (read replies with ``after=seq``).
``POST /_sim/status {"id": wamid, "status": "sent|delivered|read|failed"}``
    → a status webhook about a recorded message (the server ignores these) → ``{"statuses": [...]}``.
``GET /_sim/messages?to=DIGITS&after=SEQ``
    → ``{"messages": [{"seq", "id", "to", "type", "body", "text", "received_at"}]}`` (``text``:
    :func:`carnet_whatsapp_sim.cloudapi.render`).
``POST /_sim/fail {"count": N, "status": 503}`` → the next N sends answer that status (429 or 5xx).
``POST /_sim/clock {"number": DIGITS, "age_hours": H}`` → the number last wrote H hours ago (null: never).
``GET /healthz``.

Logs carry message ids, media ids and HTTP codes only: never a text, a number or a name.
"""

from __future__ import annotations

import json
import logging
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from carnet_whatsapp_sim import cloudapi
from carnet_whatsapp_sim.simulator import MAX_BODY, Refused, Simulator

__all__ = ["Simulator", "make_server"]

log = logging.getLogger("carnet_whatsapp_sim")


def _handler(sim: Simulator) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "carnet-whatsapp-sim"
        sys_version = ""

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 — the stdlib's name
            pass  # request lines hold numbers (/_sim/messages?to=…): only our own lines are logged

        def _answer(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
            self._send(status, json.dumps(body, ensure_ascii=False).encode("utf-8"), "application/json", headers)

        def _send(self, status: int, data: bytes, kind: str, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def _raw(self) -> bytes | None:
            """The request body, read whole before any answer (a closed socket with unread data resets)."""
            try:
                length = int(self.headers.get("Content-Length") or "0")
            except ValueError:
                return None
            if length < 0 or length > MAX_BODY:
                return None
            return self.rfile.read(length)

        @staticmethod
        def _json(raw: bytes) -> Any:
            try:
                return json.loads(raw or b"null")
            except ValueError:
                raise Refused(400, "El cuerpo no es JSON / the body is not JSON") from None

        def _unauthorized(self) -> bool:
            if sim.authorized(self.headers.get("Authorization")):
                return False
            log.warning("request refused: bad access token (401)")
            self._answer(
                401,
                cloudapi.error(
                    190, "Invalid OAuth access token - Cannot parse access token", "Invalid or missing bearer token"
                ),
            )
            return True

        def do_GET(self) -> None:  # the stdlib's name
            url = urllib.parse.urlsplit(self.path)
            query = urllib.parse.parse_qs(url.query)
            parts = [p for p in url.path.split("/") if p]
            if url.path == "/healthz":
                self._answer(200, {"status": "ok"})
            elif url.path == "/_sim/messages":
                after = query.get("after", ["0"])[0]
                if not after.isdigit():
                    self._answer(400, {"error": "after", "message": "after: un número / after: a number"})
                    return
                self._answer(200, {"messages": sim.messages(to=query.get("to", [None])[0], after=int(after))})
            elif len(parts) in (1, 2) and parts[0] != "_sim" and (len(parts) == 1 or parts[0] == "_media"):
                if self._unauthorized():
                    return
                media = sim.media(parts[-1])
                if media is None:
                    self._answer(404, cloudapi.error(100, "(#100) Invalid parameter", "Unknown media id"))
                elif len(parts) == 2:
                    self._send(200, media.data, media.mime_type)
                else:
                    host = self.headers.get("Host") or "127.0.0.1"
                    self._answer(
                        200,
                        {
                            "messaging_product": "whatsapp",
                            "url": f"http://{host}/_media/{parts[0]}",
                            "mime_type": media.mime_type,
                            "sha256": media.sha256,
                            "file_size": len(media.data),
                            "id": parts[0],
                        },
                    )
            else:
                self._answer(404, {"error": "not_found"})

        def do_POST(self) -> None:
            path = urllib.parse.urlsplit(self.path).path
            raw = self._raw()
            if raw is None:
                self.close_connection = True
                self._answer(413, {"error": "too_large", "message": "Cuerpo demasiado grande / body too large"})
                return
            try:
                if path == f"/{sim.phone_number_id}/messages" or (
                    path.endswith("/messages") and path.count("/") == 2 and not path.startswith("/_sim/")
                ):
                    self._messages(path, raw)
                    return
                controls = {
                    "/_sim/inbound": sim.inbound,
                    "/_sim/status": sim.status,
                    "/_sim/fail": sim.set_failures,
                    "/_sim/clock": sim.set_clock,
                }
                if path not in controls:
                    self._answer(404, {"error": "not_found"})
                    return
                self._answer(200, controls[path](self._json(raw)))
            except Refused as exc:
                self._answer(exc.status, {"error": "refused", "message": exc.message})

        def _messages(self, path: str, raw: bytes) -> None:
            failure = sim.take_failure()
            if failure is not None:
                log.info("send answered %d on demand", failure)
                code, title = (130429, "Rate limit hit") if failure == 429 else (131016, "Service unavailable")
                self._answer(
                    failure,
                    cloudapi.error(code, title, "Simulated failure (/_sim/fail)"),
                    {"Retry-After": "1"} if failure == 429 else None,
                )
                return
            if self._unauthorized():
                return
            if path != f"/{sim.phone_number_id}/messages":
                self._answer(400, cloudapi.error(100, "Unsupported post request", "Unknown phone number id"))
                return
            try:
                body = self._json(raw)
            except Refused as exc:
                self._answer(400, cloudapi.error(100, "(#100) Invalid parameter", exc.message))
                return
            status, answer = sim.send(body)
            if status != 200:
                log.info("send refused: %d code %s", status, answer["error"]["code"])
            self._answer(status, answer)

    return Handler


def make_server(sim: Simulator, host: str = "127.0.0.1", port: int = 0) -> ThreadingHTTPServer:
    """The HTTP server of ``sim`` (port 0: a free one; read ``server.server_address``); not started."""
    server = ThreadingHTTPServer((host, port), _handler(sim))
    server.daemon_threads = True
    return server
