"""Delivering mixing orders to the provider from the durable queue in ``mixing_orders``.

A :class:`DeliveryWorker` runs in a plain thread of each server process (the
app's lifespan starts and stops it). Each round it claims due orders with a
conditional ``UPDATE … SET lease_until`` (only one worker, of any process,
wins an order; a crashed worker's lease just runs out), POSTs each to
``{provider}/orders`` with ``Idempotency-Key: <order id>`` and a
``X-Carnet-Signature``, and records the outcome:

    2xx, or 409 (the provider already has this key)   delivered; ``pendiente`` → ``solicitada``
    408, 429, 5xx, no answer, timeout                 attempts + 1, retry after
                                                      min(max, base · 2^attempts) with jitter
                                                      (a longer ``Retry-After`` is honoured)
    any other 4xx (the provider refuses the order     attempts + 1, ``last_error``, retry after
    as sent: wrong secret, a field it rejects)        ``mixing_refused_retry_seconds``

A refusal is not turned into ``rechazada``: it usually means a configuration
fault on our side (the secret, the URL), which staff see in
``GET /api/v1/mixing/orders`` and fix; the order then goes through unchanged.
Only the provider's own callback marks a mixture ``rechazada``.

Nothing lives only in memory: a restart finds the undelivered orders in the
table. A confirm wakes the worker at once (``wake``), but only as a hint —
without it the worker still finds the order on its next poll.
``last_error`` and the logs carry ids and HTTP codes only, never the payload.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from carnet_contract.models import MixingStatus
from carnet_server.context import Context
from carnet_server.db import rowcount, utcnow
from carnet_server.mixing import service
from carnet_server.mixing.tables import MixingOrder
from carnet_server.patients.service import touch_cycle
from carnet_server.patients.tables import Cycle
from carnet_server.retry import backoff_seconds, retry_after

__all__ = ["DeliveryWorker", "Outcome", "claim_due", "deliver_due"]

log = logging.getLogger("carnet_server.mixing")

BATCH = 10
_warned_unconfigured = False


@dataclass(frozen=True)
class Outcome:
    order_id: str
    delivered: bool
    error: str | None = None


def claim_due(
    session: Session, *, now: datetime, lease_seconds: float, limit: int = BATCH
) -> list[tuple[str, datetime]]:
    """Lease up to ``limit`` due orders for this worker; returns ``(order id, lease_until)``. Commits."""
    ids = list(
        session.scalars(
            select(MixingOrder.id)
            .where(*service.due_filter(now))
            .order_by(MixingOrder.next_attempt_at, MixingOrder.created_at)
            .limit(limit)
        )
    )
    until = now + timedelta(seconds=lease_seconds)
    claimed: list[tuple[str, datetime]] = []
    for order_id in ids:
        won = rowcount(
            session.execute(
                update(MixingOrder)
                .where(MixingOrder.id == order_id, *service.due_filter(now))
                .values(lease_until=until)
                .execution_options(synchronize_session=False)
            )
        )
        if won == 1:
            claimed.append((order_id, until))
    session.commit()
    return claimed


def seconds_until_next_due(session: Session, *, now: datetime) -> float | None:
    """When the next undelivered order falls due (None: the queue is empty). Each order is due once
    its next attempt time has come and no lease holds it."""
    rows = session.execute(
        select(MixingOrder.next_attempt_at, MixingOrder.lease_until)
        .where(MixingOrder.delivered_at.is_(None))
        .order_by(MixingOrder.next_attempt_at)
        .limit(500)
    ).all()
    session.rollback()
    if not rows:
        return None
    due = min(max((t for t in row if t is not None), default=now) for row in rows)
    return max(0.0, (due - now).total_seconds())


def _record_delivered(session: Session, *, order_id: str, now: datetime) -> None:
    delivered = rowcount(
        session.execute(
            update(MixingOrder)
            .where(MixingOrder.id == order_id, MixingOrder.delivered_at.is_(None))
            .values(delivered_at=now, lease_until=None, last_error=None)
            .execution_options(synchronize_session=False)
        )
    )
    if delivered:
        # Only "pendiente" becomes "solicitada": a callback may already have moved it further.
        moved = rowcount(
            session.execute(
                update(MixingOrder)
                .where(MixingOrder.id == order_id, MixingOrder.status == MixingStatus.PENDIENTE.value)
                .values(status=MixingStatus.SOLICITADA.value)
                .execution_options(synchronize_session=False)
            )
        )
        if moved:
            cycle_id = session.scalar(select(MixingOrder.cycle_id).where(MixingOrder.id == order_id))
            changed = rowcount(
                session.execute(
                    update(Cycle)
                    .where(Cycle.id == cycle_id, Cycle.mixing_status == MixingStatus.PENDIENTE.value)
                    .values(mixing_status=MixingStatus.SOLICITADA.value, mixing_updated_at=now)
                    .execution_options(synchronize_session=False)
                )
            )
            cycle = session.get(Cycle, cycle_id) if changed else None
            if cycle is not None:
                touch_cycle(session, cycle)
    session.commit()


def _record_failure(
    session: Session, *, order_id: str, lease: datetime, now: datetime, error: str, delay: float
) -> None:
    session.execute(
        update(MixingOrder)
        .where(MixingOrder.id == order_id, MixingOrder.delivered_at.is_(None), MixingOrder.lease_until == lease)
        .values(
            attempts=MixingOrder.attempts + 1,
            last_error=error[:200],
            lease_until=None,
            next_attempt_at=now + timedelta(seconds=delay),
        )
        .execution_options(synchronize_session=False)
    )
    session.commit()


def _send(client: httpx.Client, *, url: str, secret: bytes, order_id: str, payload: dict[str, Any]) -> httpx.Response:
    body = service.order_body(payload)
    headers = {
        "Content-Type": "application/json",
        "Idempotency-Key": order_id,
        service.SIGNATURE_HEADER: service.sign(secret, body, timestamp=int(time.time())),
    }
    return client.post(f"{url}/orders", content=body, headers=headers)


def deliver_due(ctx: Context, client: httpx.Client, *, rng: random.Random | None = None) -> list[Outcome]:
    """One round: claim the due orders and try each once. Returns what happened to each."""
    settings = ctx.settings
    url = (settings.mixing_provider_url or "").rstrip("/")
    if not url:
        return []
    secret = service.mixing_secret(settings)
    with ctx.sessions() as session:
        claimed = claim_due(session, now=utcnow(), lease_seconds=settings.mixing_lease_seconds)
        if not claimed:
            return []
        rows = session.execute(
            select(MixingOrder.id, MixingOrder.payload, MixingOrder.attempts).where(
                MixingOrder.id.in_([c[0] for c in claimed])
            )
        ).all()
        payloads = {row.id: row.payload for row in rows}
        attempts = {row.id: row.attempts for row in rows}
        session.rollback()
        outcomes: list[Outcome] = []
        for order_id, lease in claimed:
            error: str | None = None
            delay = 0.0
            try:
                response = _send(client, url=url, secret=secret, order_id=order_id, payload=payloads[order_id])
            except httpx.HTTPError as exc:
                error = f"no answer ({type(exc).__name__})"
                delay = backoff_seconds(
                    attempts[order_id] + 1,
                    base=settings.mixing_retry_base_seconds,
                    maximum=settings.mixing_retry_max_seconds,
                    rng=rng,
                )
            else:
                code = response.status_code
                if response.is_success or code == 409:
                    _record_delivered(session, order_id=order_id, now=utcnow())
                    log.info("mixing order %s delivered (HTTP %d)", order_id, code)
                    outcomes.append(Outcome(order_id, True))
                    continue
                if code in (408, 425, 429) or code >= 500:
                    error = f"HTTP {code}"
                    delay = backoff_seconds(
                        attempts[order_id] + 1,
                        base=settings.mixing_retry_base_seconds,
                        maximum=settings.mixing_retry_max_seconds,
                        rng=rng,
                    )
                    asked = retry_after(response)
                    if asked is not None:
                        delay = min(settings.mixing_retry_max_seconds, max(delay, asked))
                else:
                    error = f"HTTP {code} refused by the provider"
                    delay = settings.mixing_refused_retry_seconds
            _record_failure(session, order_id=order_id, lease=lease, now=utcnow(), error=error, delay=delay)
            log.warning(
                "mixing order %s not delivered (%s, attempt %d); next try in %.1f s",
                order_id,
                error,
                attempts[order_id] + 1,
                delay,
            )
            outcomes.append(Outcome(order_id, False, error))
        return outcomes


class DeliveryWorker:
    """The delivery loop of one server process, in a daemon thread."""

    def __init__(self, ctx: Context, *, transport: httpx.BaseTransport | None = None) -> None:
        self.ctx = ctx
        self._transport = transport  # tests put a fake provider here
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def configured(self) -> bool:
        return bool(self.ctx.settings.mixing_provider_url)

    def start(self) -> None:
        global _warned_unconfigured  # noqa: PLW0603 — warn once per process, not per instance
        service.mixing_secret(self.ctx.settings)  # made now (data dir, 0600) when not given
        if not self.configured:
            if not _warned_unconfigured:
                _warned_unconfigured = True
                log.warning(
                    "CARNET_MIXING_PROVIDER_URL is not set: mixing orders are kept as 'pendiente' "
                    "and delivered once it is set"
                )
            return
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="mixing-delivery", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """A hint that an order was just made: deliver now rather than at the next poll."""
        self._wake.set()

    def stop(self, timeout: float | None = None) -> None:
        self._stop.set()
        self._wake.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout if timeout is not None else self.ctx.settings.mixing_timeout_seconds + 5)

    def _run(self) -> None:
        settings = self.ctx.settings
        timeout = httpx.Timeout(settings.mixing_timeout_seconds, connect=min(5.0, settings.mixing_timeout_seconds))
        with httpx.Client(timeout=timeout, follow_redirects=False, transport=self._transport) as client:
            while not self._stop.is_set():
                self._wake.clear()
                wait = settings.mixing_poll_seconds
                try:
                    if deliver_due(self.ctx, client):
                        continue  # there may be more due orders
                    with self.ctx.sessions() as session:
                        due_in = seconds_until_next_due(session, now=utcnow())
                    if due_in is not None:
                        wait = min(wait, due_in + 0.05)
                except Exception as exc:  # noqa: BLE001 — keep the loop alive (database restarting, …)
                    log.error("mixing delivery round failed: %s", type(exc).__name__)
                self._wake.wait(wait)
