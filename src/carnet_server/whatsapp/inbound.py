"""The durable inbound queue: the webhook stores, a worker processes.

The webhook answers Meta at once: it checks ``X-Hub-Signature-256`` (HMAC-SHA256 of the raw body under the
app secret, compared in constant time), then inserts each message into ``whatsapp_inbound`` keyed by its
message id — a redelivery of the same webhook inserts nothing, so it creates nothing twice. Status
notifications (sent, delivered, read) are acknowledged and ignored.

:func:`process_due` (the worker) leases the oldest unprocessed message of each number — a number's messages are
handled one at a time, in order — downloads an image's bytes from the provider when there is one, and in one
transaction runs the conversation (conversation.py), queues the answers (outbox.py), saves where the number is
in the menus, and marks the message processed, clearing its body. A failure rolls all of it back and the message
is tried again later; after ``MAX_ATTEMPTS`` it is marked processed with the error and the number gets an
apology. Each number may send ``whatsapp_max_per_minute`` messages a minute; beyond that they are marked
processed unread, with one notice a minute. Logs carry message ids and codes only.

:func:`purge` (the worker's periodic pass) deletes processed rows older than
``whatsapp_inbound_retention_days`` (30): the queue keeps a number only as long as it needs it.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import random
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import and_, func, null, select, update
from sqlalchemy.orm import Session, aliased

from carnet_server.context import Context
from carnet_server.db import dialect_insert, rowcount, utcnow
from carnet_server.logs import quiet_httpx_urls
from carnet_server.retry import backoff_seconds
from carnet_server.whatsapp import conversation, lease, outbox
from carnet_server.whatsapp.lease import due_filter
from carnet_server.whatsapp.tables import Conversation, InboundMessage

__all__ = ["extract", "process_due", "purge", "store", "verify_signature"]

log = logging.getLogger("carnet_server.whatsapp")

BATCH = 20
MAX_ATTEMPTS = 5
SIGNATURE_PREFIX = "sha256="
_PHONE_CHARS = frozenset("0123456789")

quiet_httpx_urls()  # the media URL's signed query never reaches a log


def verify_signature(secret: bytes, body: bytes, header: str | None) -> bool:
    """``X-Hub-Signature-256`` is ``sha256=`` and the hex HMAC-SHA256 of the exact body bytes."""
    if not header or not header.startswith(SIGNATURE_PREFIX):
        return False
    expected = hmac.new(secret, body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header[len(SIGNATURE_PREFIX) :].strip().lower())


def extract(payload: Any) -> list[tuple[str, str, dict[str, Any]]]:
    """``(message id, sender's number, message object)`` of every message in a webhook body; anything that is not
    a well-formed message (statuses, other fields, a number that is not digits) is skipped."""
    found: list[tuple[str, str, dict[str, Any]]] = []
    if not isinstance(payload, dict):
        return found
    for entry in payload.get("entry") or []:
        if not isinstance(entry, dict):
            continue
        for change in entry.get("changes") or []:
            value = change.get("value") if isinstance(change, dict) else None
            if not isinstance(value, dict) or change.get("field", "messages") != "messages":
                continue
            for message in value.get("messages") or []:
                if not isinstance(message, dict):
                    continue
                message_id, sender = message.get("id"), message.get("from")
                if not (isinstance(message_id, str) and 0 < len(message_id) <= 128):
                    continue
                if not (isinstance(sender, str) and 8 <= len(sender) <= 20 and set(sender) <= _PHONE_CHARS):
                    continue
                found.append((message_id, sender, message))
    return found


def store(session: Session, items: list[tuple[str, str, dict[str, Any]]], *, now: datetime) -> int:
    """Queue the messages (a known message id adds nothing); returns how many were new. Commits."""
    if not items:
        return 0
    insert = dialect_insert(session)
    added = 0
    for message_id, phone, message in items:
        statement = (
            insert(InboundMessage)
            .values(
                message_id=message_id,
                phone=phone,
                received_at=now,
                payload=message,
                attempts=0,
                next_attempt_at=now,
            )
            .on_conflict_do_nothing(index_elements=["message_id"])
        )
        added += rowcount(session.execute(statement))
    session.commit()
    return added


def purge(ctx: Context, *, now: datetime) -> int:
    """Delete processed messages received more than the retention period ago; returns how many. Commits."""
    cutoff = now - timedelta(days=ctx.settings.whatsapp_inbound_retention_days)
    return lease.purge(
        ctx,
        InboundMessage,
        InboundMessage.processed_at.is_not(None),
        InboundMessage.received_at < cutoff,
        what="whatsapp inbound: processed messages",
    )


def _claim(session: Session, *, now: datetime, lease_seconds: float) -> list[tuple[str, datetime]]:
    """Lease due messages, only the oldest unprocessed one of each number."""
    older = aliased(InboundMessage)
    earlier_pending = (
        select(older.message_id)
        .where(
            older.phone == InboundMessage.phone,
            older.processed_at.is_(None),
            (older.received_at < InboundMessage.received_at)
            | and_(older.received_at == InboundMessage.received_at, older.message_id < InboundMessage.message_id),
        )
        .exists()
    )
    due = [*due_filter(InboundMessage, InboundMessage.processed_at, now), ~earlier_pending]
    keys = list(
        session.scalars(
            select(InboundMessage.message_id)
            .where(*due)
            .order_by(InboundMessage.received_at, InboundMessage.message_id)
            .limit(BATCH)
        )
    )
    until = now + timedelta(seconds=lease_seconds)
    won: list[tuple[str, datetime]] = []
    for key in keys:
        changed = rowcount(
            session.execute(
                update(InboundMessage)
                .where(InboundMessage.message_id == key, *due_filter(InboundMessage, InboundMessage.processed_at, now))
                .values(lease_until=until)
                .execution_options(synchronize_session=False)
            )
        )
        if changed:
            won.append((key, until))
    session.commit()
    return won


def _download(ctx: Context, client: httpx.Client, media_id: str) -> bytes:
    """An image's bytes from the provider (two GETs: the media's URL, then the file), bounded in size."""
    settings = ctx.settings
    base = (settings.whatsapp_api_url or "").rstrip("/")
    token = settings.whatsapp_access_token.get_secret_value() if settings.whatsapp_access_token else ""
    headers = {"Authorization": f"Bearer {token}"}
    meta = client.get(f"{base}/{media_id}", headers=headers)
    meta.raise_for_status()
    url = meta.json().get("url")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise ValueError("no media url")
    limit = settings.incident_photo_max_bytes + 1
    chunks: list[bytes] = []
    size = 0
    with client.stream("GET", url, headers=headers) as response:
        response.raise_for_status()
        for chunk in response.iter_bytes():
            size += len(chunk)
            chunks.append(chunk)
            if size >= limit:
                break  # the photo pipeline refuses it as too large
    return b"".join(chunks)


def _conversation(session: Session, phone: str, now: datetime) -> Conversation:
    row = session.get(Conversation, phone)
    if row is None:
        row = Conversation(phone=phone, state={}, updated_at=now)
        session.add(row)
        session.flush()
    return row


def _throttled(
    session: Session, ctx: Context, row: Conversation, *, phone: str, key: str, received_at: datetime, now: datetime
) -> bool:
    """Whether this message is beyond the number's limit: more than the limit arrived in the minute up to it."""
    recent = session.scalar(
        select(func.count())
        .select_from(InboundMessage)
        .where(
            InboundMessage.phone == phone,
            InboundMessage.received_at > received_at - timedelta(minutes=1),
            (InboundMessage.received_at < received_at)
            | and_(InboundMessage.received_at == received_at, InboundMessage.message_id <= key),
        )
    )
    if int(recent or 0) <= ctx.settings.whatsapp_max_per_minute:
        return False
    if row.throttled_at is None or now - row.throttled_at >= timedelta(minutes=1):
        row.throttled_at = now
        outbox.enqueue(
            session,
            phone=phone,
            purpose="throttle",
            text="Recibimos muchos mensajes seguidos. Espera un minuto y escribe MENÚ para continuar.",
            now=now,
        )
    return True


def _finish(session: Session, key: str, *, now: datetime, error: str | None = None) -> None:
    session.execute(
        update(InboundMessage)
        .where(InboundMessage.message_id == key)
        .values(processed_at=now, payload=null(), lease_until=None, last_error=error)  # SQL NULL, not JSON null
        .execution_options(synchronize_session=False)
    )


def process_due(ctx: Context, client: httpx.Client, *, rng: random.Random | None = None) -> int:
    """One round; returns how many messages were handled (processed or given up)."""
    settings = ctx.settings
    handled = 0
    with ctx.sessions() as session:
        claimed = _claim(session, now=utcnow(), lease_seconds=settings.whatsapp_timeout_seconds * 3 + 10)
        for key, _lease in claimed:
            row = session.get(InboundMessage, key, populate_existing=True)
            if row is None or row.processed_at is not None:
                session.rollback()
                continue
            phone, attempts, received_at = row.phone, row.attempts, row.received_at
            message = conversation.parse_message(row.payload or {})
            session.rollback()
            media: bytes | None = None
            error: str | None = None
            if message.media_id and settings.whatsapp_api_url:
                try:
                    media = _download(ctx, client, message.media_id)
                except (httpx.HTTPError, ValueError) as exc:
                    error = f"media: {type(exc).__name__}"
            if error is None or attempts + 1 >= MAX_ATTEMPTS:
                try:
                    _process(session, ctx, key=key, phone=phone, received_at=received_at, message=message, media=media)
                    handled += 1
                    continue
                except Exception as exc:  # noqa: BLE001 — roll back this message, try it later
                    session.rollback()
                    error = type(exc).__name__
                    log.error("whatsapp message %s not processed (%s)", key, error)
            if attempts + 1 >= MAX_ATTEMPTS:
                now = utcnow()
                _finish(session, key, now=now, error=f"gave up: {error}"[:200])
                outbox.enqueue(
                    session,
                    phone=phone,
                    purpose="error",
                    text="Lo sentimos, no pudimos atender tu mensaje. Escribe MENÚ para intentarlo de nuevo.",
                    now=now,
                )
                session.commit()
                handled += 1
                continue
            delay = backoff_seconds(
                attempts + 1,
                base=settings.whatsapp_retry_base_seconds,
                maximum=settings.whatsapp_retry_max_seconds,
                rng=rng,
            )
            session.execute(
                update(InboundMessage)
                .where(InboundMessage.message_id == key)
                .values(
                    attempts=InboundMessage.attempts + 1,
                    lease_until=None,
                    next_attempt_at=utcnow() + timedelta(seconds=delay),
                    last_error=(error or "")[:200],
                )
                .execution_options(synchronize_session=False)
            )
            session.commit()
    return handled


def _process(
    session: Session,
    ctx: Context,
    *,
    key: str,
    phone: str,
    received_at: datetime,
    message: conversation.Inbound,
    media: bytes | None,
) -> None:
    now = utcnow()
    chat = _conversation(session, phone, now)
    chat.last_inbound_at = now
    if _throttled(session, ctx, chat, phone=phone, key=key, received_at=received_at, now=now):
        _finish(session, key, now=now, error="throttled")
        session.commit()
        log.info("whatsapp message %s not read: the number is over its per-minute limit", key)
        return
    answers, state, user_id = conversation.handle(
        session, ctx, phone=phone, state=dict(chat.state or {}), message=message, now=now, media=media
    )
    for answer in answers:
        outbox.enqueue(session, phone=phone, purpose="reply", body=answer.body(), user_id=user_id, now=now)
    chat = _conversation(session, phone, now)  # the services may have expired it
    chat.state = state
    chat.updated_at = now
    _finish(session, key, now=now)
    session.commit()
    log.info("whatsapp message %s processed (%d answers)", key, len(answers))
