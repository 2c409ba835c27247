"""The simulator's state, without HTTP: what Meta knows (see :mod:`carnet_whatsapp_sim.server` for the API).

- the bot's accepted messages, each with a ``seq`` (in memory; also in SQLite with ``record``, reloaded
  on start), read back by number and ``seq``;
- when each number last wrote (the 24-hour customer-service window), settable with :meth:`set_clock`;
- the images phones sent (in memory), by media id;
- pending failures (:meth:`set_failures`), taken one per send.

One lock guards it all; webhooks are delivered outside it (the bot may answer while its webhook runs).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import secrets
import sqlite3
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from carnet_whatsapp_sim import cloudapi

__all__ = ["MAX_BODY", "Media", "Refused", "Simulator"]

log = logging.getLogger("carnet_whatsapp_sim")

MAX_BODY = 8 * 1024 * 1024  # an image of up to 5 MB, in base64, to /_sim/inbound
MAX_IMAGE = 5 * 1024 * 1024
IMAGE_TYPES = ("image/jpeg", "image/png")
MAX_DELIVERIES = 10
WINDOW_SECONDS = 24 * 3600
DELIVERY_TIMEOUT = 10.0
#: Webhooks go straight to the server (no proxy from the environment).
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))

_SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    seq INTEGER PRIMARY KEY, id TEXT NOT NULL, to_number TEXT NOT NULL, type TEXT NOT NULL,
    body TEXT NOT NULL, text TEXT NOT NULL, received_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS last_inbound (number TEXT PRIMARY KEY, at REAL NOT NULL);
"""


class Refused(Exception):
    """Control input the simulator cannot act on: an HTTP status and a sentence (Spanish / English)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Media:
    data: bytes
    mime_type: str
    sha256: str


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _option(kind: str, value: Any) -> dict[str, str]:
    if not isinstance(value, dict) or not isinstance(value.get("id"), str) or not value["id"]:
        raise Refused(400, f"'{kind}' necesita un id / '{kind}' needs an id")
    return {k: v for k, v in value.items() if k in ("id", "title", "description") and isinstance(v, str)}


class Simulator:
    """Meta's state: the bot's recorded messages, who wrote when, media, pending failures."""

    def __init__(
        self,
        *,
        app_secret: bytes,
        access_token: str,
        webhook_url: str,
        phone_number_id: str = "carnet-demo",
        display_number: str = "5215500000000",
        record: Path | None = None,
    ) -> None:
        self.app_secret = app_secret
        self.access_token = access_token
        self.webhook_url = webhook_url
        self.phone_number_id = phone_number_id
        self.display_number = display_number
        self._lock = threading.Lock()
        self._messages: list[dict[str, Any]] = []
        self._last_inbound: dict[str, float] = {}
        self._media: dict[str, Media] = {}
        self._fail: tuple[int, int] = (0, 0)  # (count left, status)
        self._db: sqlite3.Connection | None = None
        if record is not None:
            record.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(record, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.executescript(_SCHEMA)
            for seq, wamid, to, kind, body, text, at in self._db.execute("SELECT * FROM messages ORDER BY seq"):
                self._messages.append(
                    {
                        "seq": seq,
                        "id": wamid,
                        "to": to,
                        "type": kind,
                        "body": json.loads(body),
                        "text": text,
                        "received_at": at,
                    }
                )
            self._last_inbound.update(self._db.execute("SELECT number, at FROM last_inbound").fetchall())

    # ---- the bot's side: outbound messages ----------------------------------------------------

    def authorized(self, header: str | None) -> bool:
        scheme, _, token = (header or "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(
            token.strip().encode("utf-8", "replace"), self.access_token.encode("utf-8")
        )

    def take_failure(self) -> int | None:
        """The status a pending ``/_sim/fail`` makes this send answer, if any."""
        with self._lock:
            count, status = self._fail
            if count <= 0:
                return None
            self._fail = (count - 1, status)
            return status

    def send(self, body: Any) -> tuple[int, dict[str, Any]]:
        """(status, answer) for a message body the bot POSTs (the token is already checked)."""
        try:
            to = cloudapi.check_message(body)
        except cloudapi.Invalid as exc:
            title = "(#100) Invalid parameter" if exc.code == 100 else f"(#{exc.code}) Template error"
            return 400, cloudapi.error(exc.code, title, exc.details)
        kind = body.get("type", "text")
        now = time.time()
        with self._lock:
            last = self._last_inbound.get(to)
            if kind != "template" and (last is None or now - last > WINDOW_SECONDS):
                details = (
                    "Message failed to send because more than 24 hours have passed since the customer "
                    "last replied to this number."
                )
                return 400, cloudapi.error(131047, "Re-engagement message", details)
            seq = (self._messages[-1]["seq"] if self._messages else 0) + 1
            message: dict[str, Any] = {
                "seq": seq,
                "id": cloudapi.new_wamid(),
                "to": to,
                "type": kind,
                "body": body,
                "text": cloudapi.render(body),
                "received_at": _now_iso(),
            }
            self._messages.append(message)
            if self._db is not None:
                self._db.execute(
                    "INSERT INTO messages VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (seq, message["id"], to, kind, json.dumps(body), message["text"], message["received_at"]),
                )
        log.info("message %s recorded (seq %d, %s)", message["id"], seq, kind)
        answer: dict[str, Any] = {
            "messaging_product": "whatsapp",
            "contacts": [{"input": body["to"], "wa_id": to}],
            "messages": [{"id": message["id"]}],
        }
        if kind == "template":
            answer["messages"][0]["message_status"] = "accepted"
        return 200, answer

    def messages(self, *, to: str | None = None, after: int = 0) -> list[dict[str, Any]]:
        with self._lock:
            return [m for m in self._messages if m["seq"] > after and (to is None or m["to"] == to)]

    def media(self, media_id: str) -> Media | None:
        with self._lock:
            return self._media.get(media_id)

    # ---- the phone's side: inbound messages ---------------------------------------------------

    def _title(self, number: str, option: dict[str, str]) -> dict[str, str]:
        """The option as the phone sends it back: its title (and description) from the bot's messages."""
        if "title" in option:
            return option
        for message in reversed(self.messages(to=number)):
            for choice in cloudapi.options(message["body"]):
                if choice.get("id") == option["id"]:
                    return {k: v for k, v in choice.items() if k in ("id", "title", "description")}
        return {**option, "title": option["id"]}

    def _content(self, number: str, request: dict[str, Any]) -> dict[str, Any]:
        if "text" in request:
            text = request["text"]
            if not isinstance(text, str) or not text.strip() or len(text) > cloudapi.TEXT_MAX:
                raise Refused(400, "text: de 1 a 4096 caracteres / text: 1 to 4096 characters")
            return {"type": "text", "text": {"body": text}}
        if "button" in request:
            reply = self._title(number, _option("button", request["button"]))
            reply.pop("description", None)
            return {"type": "interactive", "interactive": {"type": "button_reply", "button_reply": reply}}
        if "list" in request:
            reply = self._title(number, _option("list", request["list"]))
            return {"type": "interactive", "interactive": {"type": "list_reply", "list_reply": reply}}
        if "image_b64" in request:
            try:
                data = base64.b64decode(str(request["image_b64"]), validate=True)
            except (binascii.Error, ValueError):
                raise Refused(400, "image_b64 no es base64 / image_b64 is not base64") from None
            mime = request.get("mime_type", "image/jpeg")
            if not data or len(data) > MAX_IMAGE or mime not in IMAGE_TYPES:
                raise Refused(
                    400,
                    "Imagen vacía, de más de 5 MB o que no es JPEG/PNG / an empty image, over 5 MB, or not JPEG/PNG",
                )
            media_id = str(10**15 + secrets.randbelow(9 * 10**15))
            media = Media(data, mime, hashlib.sha256(data).hexdigest())
            with self._lock:
                self._media[media_id] = media
            log.info("media %s stored (%d bytes)", media_id, len(data))
            image = {"id": media_id, "mime_type": mime, "sha256": media.sha256}
            if isinstance(request.get("caption"), str) and request["caption"]:
                image["caption"] = request["caption"]
            return {"type": "image", "image": image}
        raise Refused(400, "Falta text, button, list o image_b64 / text, button, list or image_b64 is missing")

    def inbound(self, request: Any) -> dict[str, Any]:
        """Write as a phone: build, sign and deliver the webhook of one message (see the module's doc)."""
        if not isinstance(request, dict):
            raise Refused(400, "Se esperaba un objeto JSON / a JSON object was expected")
        number = request.get("from")
        if not isinstance(number, str) or not number.isascii() or not number.isdigit() or not 8 <= len(number) <= 15:
            raise Refused(
                400,
                "'from' debe ser un número en formato internacional, solo dígitos / "
                "'from' must be a phone number in international format, digits only",
            )
        deliveries = request.get("deliveries", 1)
        if not isinstance(deliveries, int) or isinstance(deliveries, bool) or not 1 <= deliveries <= MAX_DELIVERIES:
            raise Refused(
                400, f"'deliveries' va de 1 a {MAX_DELIVERIES} / 'deliveries' goes from 1 to {MAX_DELIVERIES}"
            )
        message: dict[str, Any] = {"from": number, "id": cloudapi.new_wamid(), "timestamp": str(int(time.time()))}
        message.update(self._content(number, request))
        if message["type"] == "interactive":
            last = self.messages(to=number)
            if last:
                message["context"] = {"from": self.display_number, "id": last[-1]["id"]}
        name = request["name"] if isinstance(request.get("name"), str) else "Usuario de prueba"
        body = json.dumps(
            cloudapi.message_webhook(
                phone_number_id=self.phone_number_id,
                display_number=self.display_number,
                sender=number,
                name=name,
                message=message,
            ),
            ensure_ascii=False,
        ).encode("utf-8")
        now = time.time()
        with self._lock:
            self._last_inbound[number] = now
            if self._db is not None:
                self._db.execute("INSERT OR REPLACE INTO last_inbound VALUES (?, ?)", (number, now))
            seq = self._messages[-1]["seq"] if self._messages else 0
        forged = request.get("signature") == "forged"
        statuses = [self.deliver(body, forged=forged) for _ in range(deliveries)]
        log.info("message %s delivered %s%s", message["id"], statuses, " (forged signature)" if forged else "")
        return {"message_id": message["id"], "statuses": statuses, "seq": seq}

    def status(self, request: Any) -> dict[str, Any]:
        """Deliver a status webhook about a recorded message."""
        wamid = request.get("id") if isinstance(request, dict) else None
        status = request.get("status") if isinstance(request, dict) else None
        if status not in ("sent", "delivered", "read", "failed"):
            raise Refused(400, "status: sent, delivered, read o failed / sent, delivered, read or failed")
        found = [m for m in self.messages() if m["id"] == wamid]
        if not found:
            raise Refused(404, "No hay tal mensaje / no such message")
        body = json.dumps(
            cloudapi.status_webhook(
                phone_number_id=self.phone_number_id,
                display_number=self.display_number,
                message_id=found[0]["id"],
                status=status,
                recipient=found[0]["to"],
            )
        ).encode("utf-8")
        statuses = [self.deliver(body)]
        log.info("status %s of %s delivered %s", status, found[0]["id"], statuses)
        return {"statuses": statuses}

    def deliver(self, body: bytes, *, forged: bool = False) -> int:
        """POST one webhook body, signed; the HTTP status of the answer, 0 when none came."""
        key = secrets.token_bytes(32) if forged else self.app_secret
        request = urllib.request.Request(  # noqa: S310 — our own --webhook-url
            self.webhook_url,
            data=body,
            method="POST",
            headers={"Content-Type": "application/json", cloudapi.SIGNATURE_HEADER: cloudapi.signature(key, body)},
        )
        try:
            with _OPENER.open(request, timeout=DELIVERY_TIMEOUT) as response:
                response.read()
                return int(response.status)
        except urllib.error.HTTPError as exc:
            exc.read()
            return int(exc.code)
        except (OSError, urllib.error.URLError) as exc:
            log.warning("webhook: no answer (%s)", type(exc).__name__)
            return 0

    # ---- control ---------------------------------------------------------------------------

    def set_failures(self, request: Any) -> dict[str, Any]:
        count = request.get("count") if isinstance(request, dict) else None
        status = request.get("status", 503) if isinstance(request, dict) else None
        if (
            not isinstance(count, int)
            or count < 0
            or not isinstance(status, int)
            or not (status == 429 or 500 <= status <= 599)
        ):
            raise Refused(400, "count ≥ 0 y status 429 o 5xx / count ≥ 0 and status 429 or 5xx")
        with self._lock:
            self._fail = (count, status)
        log.info("the next %d sends answer %d", count, status)
        return {"count": count, "status": status}

    def set_clock(self, request: Any) -> dict[str, Any]:
        number = request.get("number") if isinstance(request, dict) else None
        hours = request.get("age_hours") if isinstance(request, dict) else None
        if (
            not isinstance(number, str)
            or not number.isdigit()
            or (hours is not None and (not isinstance(hours, int | float) or isinstance(hours, bool) or hours < 0))
        ):
            raise Refused(400, "number (dígitos) y age_hours ≥ 0 o null / number (digits) and age_hours ≥ 0 or null")
        with self._lock:
            if hours is None:
                self._last_inbound.pop(number, None)
            else:
                self._last_inbound[number] = time.time() - hours * 3600
            if self._db is not None:
                self._db.execute("DELETE FROM last_inbound WHERE number = ?", (number,))
                if hours is not None:
                    self._db.execute("INSERT INTO last_inbound VALUES (?, ?)", (number, self._last_inbound[number]))
        return {"number": number, "age_hours": hours}
