"""The durable outbound queue: every message to a WhatsApp number goes through ``whatsapp_outbound``.

:func:`enqueue` adds a row in the caller's transaction (so an answer is queued exactly when the desk's reply
commits); the worker (whatsapp/worker.py) calls :func:`send_due`, which leases due rows and POSTs each to
``{CARNET_WHATSAPP_API_URL}/{phone_number_id}/messages`` with the access token:

    the number unlinked since (a row with ``user_id``)      dropped ("unlinked"): nothing about the child goes out
    the account deactivated since (a row with ``user_id``)  dropped ("inactive")
    inside the 24-hour window, a session body              sent as it is (text, buttons, list)
    outside it (or the provider says 131047), a template   the approved template instead
    outside it, no template                                dropped ("window_closed")
    2xx                                                    done; the provider's message id kept
    408, 425, 429, 5xx, no answer                          retried after min(max, base · 2^attempts) with jitter
                                                           (a longer Retry-After honoured)
    another 4xx (our configuration: token, number id)      retried after the maximum backoff
    ``whatsapp_max_attempts`` failures                     dropped ("gave_up"); the logs say so

The window is ours to track (``whatsapp_conversations.last_inbound_at``) with a five-minute margin, so a
message never races the window's end. Logs and ``last_error`` carry ids and HTTP codes, never a number or a text.
Once a row is done (sent, dropped or given up) its texts — ``session_body`` and the template's parameters —
are cleared: the row keeps only what it was for, when, and how it ended.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import null, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from carnet_server.auth.tables import User
from carnet_server.context import Context
from carnet_server.db import utcnow
from carnet_server.retry import backoff_seconds, retry_after
from carnet_server.whatsapp import lease
from carnet_server.whatsapp.lease import claim
from carnet_server.whatsapp.links import linked_phone
from carnet_server.whatsapp.tables import Conversation, OutboundMessage
from carnet_server.whatsapp.templates import Template

__all__ = ["Sent", "enqueue", "send_due", "window_open"]

log = logging.getLogger("carnet_server.whatsapp")

WINDOW = timedelta(hours=24)
MARGIN = timedelta(minutes=5)
BATCH = 20
MAX_TEXT = 4096
#: The Cloud API's error code for a free-form message outside the customer-service window.
REENGAGEMENT = 131047


@dataclass(frozen=True)
class Sent:
    message_id: str
    outcome: str  # sent, template, dropped, retry
    error: str | None = None


def enqueue(
    session: Session,
    *,
    phone: str,
    purpose: str,
    text: str | None = None,
    body: dict[str, Any] | None = None,
    template: Template | None = None,
    user_id: str | None = None,
    dedupe_key: str | None = None,
    now: datetime | None = None,
) -> bool:
    """Queue a message (does not commit). ``text`` is a plain session message; ``body`` a Cloud API message
    without ``to`` (interactive); ``template`` what to send when the window is closed. With ``user_id`` it goes
    only while ``phone`` is that account's linked number. False when ``dedupe_key`` was queued before."""
    if text is not None:
        body = {"type": "text", "text": {"body": text[:MAX_TEXT], "preview_url": False}}
    if body is None and template is None:
        raise ValueError("a message needs a body or a template")
    row = OutboundMessage(
        phone=phone,
        user_id=user_id,
        session_body=body,
        template=template.as_json() if template else None,
        purpose=purpose,
        dedupe_key=dedupe_key,
        created_at=now or utcnow(),
        next_attempt_at=now or utcnow(),
    )
    if dedupe_key is None:
        session.add(row)
        return True
    if session.scalar(select(OutboundMessage.id).where(OutboundMessage.dedupe_key == dedupe_key)) is not None:
        return False
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        return False  # another worker queued the same key just now
    return True


def window_open(session: Session, phone: str, now: datetime) -> bool:
    last = session.scalar(select(Conversation.last_inbound_at).where(Conversation.phone == phone))
    return last is not None and now - last < WINDOW - MARGIN


def _finish(
    session: Session,
    key: str,
    lease: datetime,
    *,
    outcome: str,
    provider_id: str | None = None,
    error: str | None = None,
) -> None:
    session.execute(
        update(OutboundMessage)
        .where(OutboundMessage.id == key, OutboundMessage.lease_until == lease)
        .values(
            done_at=utcnow(),
            lease_until=None,
            outcome=outcome,
            provider_message_id=provider_id,
            last_error=error[:200] if error else None,
            session_body=null(),  # the text sent (or not) is not kept (SQL NULL, not JSON null)
            template=null(),
        )
        .execution_options(synchronize_session=False)
    )
    session.commit()


def _retry(session: Session, key: str, lease: datetime, *, error: str, delay: float) -> None:
    session.execute(
        update(OutboundMessage)
        .where(OutboundMessage.id == key, OutboundMessage.lease_until == lease)
        .values(
            attempts=OutboundMessage.attempts + 1,
            last_error=error[:200],
            lease_until=None,
            next_attempt_at=utcnow() + timedelta(seconds=delay),
        )
        .execution_options(synchronize_session=False)
    )
    session.commit()


def _error_code(response: httpx.Response) -> int | None:
    try:
        data = response.json()
    except ValueError:
        return None
    error = data.get("error") if isinstance(data, dict) else None
    code = error.get("code") if isinstance(error, dict) else None
    return code if isinstance(code, int) else None


def _provider_id(response: httpx.Response) -> str | None:
    try:
        messages = response.json().get("messages") or []
        value = messages[0].get("id")
    except (ValueError, AttributeError, IndexError, TypeError):
        return None
    return value if isinstance(value, str) else None


def send_due(ctx: Context, client: httpx.Client, *, rng: random.Random | None = None) -> list[Sent]:
    """One round: lease the due messages and try each once."""
    settings = ctx.settings
    base = (settings.whatsapp_api_url or "").rstrip("/")
    if not base or not settings.whatsapp_access_token:
        return []
    url = f"{base}/{settings.whatsapp_phone_number_id}/messages"
    headers = {"Authorization": f"Bearer {settings.whatsapp_access_token.get_secret_value()}"}
    lease_seconds = settings.whatsapp_timeout_seconds * 3 + 5
    results: list[Sent] = []
    with ctx.sessions() as session:
        claimed = claim(
            session,
            OutboundMessage,
            OutboundMessage.id,
            OutboundMessage.done_at,
            [OutboundMessage.next_attempt_at, OutboundMessage.created_at],
            now=utcnow(),
            lease_seconds=lease_seconds,
            limit=BATCH,
        )
        for key, lease in claimed:
            row = session.get(OutboundMessage, key, populate_existing=True)
            if row is None:
                continue
            results.append(_send_one(session, client, row, lease, url=url, headers=headers, ctx=ctx, rng=rng))
    return results


def _send_one(
    session: Session,
    client: httpx.Client,
    row: OutboundMessage,
    lease: datetime,
    *,
    url: str,
    headers: dict[str, str],
    ctx: Context,
    rng: random.Random | None,
) -> Sent:
    settings = ctx.settings
    key, attempts = row.id, row.attempts
    if row.user_id is not None and linked_phone(session, row.user_id) != row.phone:
        _finish(session, key, lease, outcome="dropped", error="unlinked")
        log.info("whatsapp message %s dropped: the number is no longer linked", key)
        return Sent(key, "dropped", "unlinked")
    if row.user_id is not None and not session.scalar(select(User.active).where(User.id == row.user_id)):
        _finish(session, key, lease, outcome="dropped", error="inactive")
        log.info("whatsapp message %s dropped: the account is no longer active", key)
        return Sent(key, "dropped", "inactive")
    bodies: list[tuple[str, dict[str, Any]]] = []
    if row.session_body is not None and window_open(session, row.phone, utcnow()):
        bodies.append(("sent", row.session_body))
    if row.template is not None:
        bodies.append(("template", Template.body(row.template)))
    session.rollback()  # no transaction held open across the HTTP call
    if not bodies:
        _finish(session, key, lease, outcome="dropped", error="window_closed")
        log.info("whatsapp message %s dropped: outside the 24-hour window and no template", key)
        return Sent(key, "dropped", "window_closed")
    error, delay = "", 0.0
    for outcome, body in bodies:
        payload = {"messaging_product": "whatsapp", "recipient_type": "individual", "to": row.phone, **body}
        try:
            response = client.post(url, json=payload, headers=headers)
        except httpx.HTTPError as exc:
            error = f"no answer ({type(exc).__name__})"
            delay = backoff_seconds(
                attempts + 1,
                base=settings.whatsapp_retry_base_seconds,
                maximum=settings.whatsapp_retry_max_seconds,
                rng=rng,
            )
            break
        code = response.status_code
        if response.is_success:
            _finish(session, key, lease, outcome=outcome, provider_id=_provider_id(response))
            log.info("whatsapp message %s %s (HTTP %d)", key, outcome, code)
            return Sent(key, outcome)
        if code == 400 and _error_code(response) == REENGAGEMENT:
            error = f"HTTP {code} ({REENGAGEMENT}: window closed)"
            continue  # the template, when there is one
        if code in (408, 425, 429) or code >= 500:
            error = f"HTTP {code}"
            delay = backoff_seconds(
                attempts + 1,
                base=settings.whatsapp_retry_base_seconds,
                maximum=settings.whatsapp_retry_max_seconds,
                rng=rng,
            )
            asked = retry_after(response)
            if asked is not None:
                delay = min(settings.whatsapp_retry_max_seconds, max(delay, asked))
        else:
            error = f"HTTP {code} refused ({_error_code(response)})"
            delay = settings.whatsapp_retry_max_seconds
        break
    else:
        _finish(session, key, lease, outcome="dropped", error=error or "window_closed")
        log.info("whatsapp message %s dropped: %s", key, error)
        return Sent(key, "dropped", error)
    if attempts + 1 >= settings.whatsapp_max_attempts:
        _finish(session, key, lease, outcome="dropped", error=f"gave up: {error}")
        log.warning("whatsapp message %s given up after %d attempts (%s)", key, attempts + 1, error)
        return Sent(key, "dropped", error)
    _retry(session, key, lease, error=error, delay=delay)
    log.warning("whatsapp message %s not sent (%s, attempt %d); next try in %.1f s", key, error, attempts + 1, delay)
    return Sent(key, "retry", error)


def purge(ctx: Context, *, now: datetime) -> int:
    """Delete the rows of messages done (sent, dropped or given up) more than the retention period ago: their text
    is gone already, this takes the number too. Returns how many. Commits."""
    cutoff = now - timedelta(days=ctx.settings.whatsapp_outbound_retention_days)
    return lease.purge(
        ctx,
        OutboundMessage,
        OutboundMessage.done_at.is_not(None),
        OutboundMessage.done_at < cutoff,
        what="whatsapp outbound: finished messages",
    )
