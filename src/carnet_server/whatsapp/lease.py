"""Claiming rows of a durable queue table with a lease (the inbound and outbound WhatsApp queues), and deleting
the rows a queue is done with once they are past their retention.

A row is due when it is not done, its next attempt time has come and no lease holds it. A worker claims
a row with a conditional UPDATE that sets ``lease_until``: of several workers (threads or processes), one
wins; a crashed worker's lease just runs out and the row falls due again.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, delete, or_, select, update
from sqlalchemy.orm import InstrumentedAttribute, Session

from carnet_server.context import Context
from carnet_server.db import rowcount

__all__ = ["claim", "due_filter", "purge"]

log = logging.getLogger("carnet_server.whatsapp")


def due_filter(model: Any, done_column: InstrumentedAttribute[Any], now: datetime) -> list[ColumnElement[bool]]:
    return [
        done_column.is_(None),
        or_(model.next_attempt_at.is_(None), model.next_attempt_at <= now),
        or_(model.lease_until.is_(None), model.lease_until <= now),
    ]


def claim(
    session: Session,
    model: Any,
    key: InstrumentedAttribute[Any],
    done_column: InstrumentedAttribute[Any],
    order_by: list[Any],
    *,
    now: datetime,
    lease_seconds: float,
    limit: int,
) -> list[tuple[Any, datetime]]:
    """Lease up to ``limit`` due rows; returns ``(key, lease_until)`` of each won. Commits."""
    keys = list(
        session.scalars(select(key).where(*due_filter(model, done_column, now)).order_by(*order_by).limit(limit))
    )
    until = now + timedelta(seconds=lease_seconds)
    won: list[tuple[Any, datetime]] = []
    for value in keys:
        changed = rowcount(
            session.execute(
                update(model)
                .where(key == value, *due_filter(model, done_column, now))
                .values(lease_until=until)
                .execution_options(synchronize_session=False)
            )
        )
        if changed == 1:
            won.append((value, until))
    session.commit()
    return won


def purge(ctx: Context, model: Any, *past_retention: ColumnElement[bool], what: str) -> int:
    """Delete the rows of ``model`` that ``past_retention`` selects; returns how many and logs the count (no
    content) as ``what``. Commits."""
    with ctx.sessions() as session:
        removed = rowcount(
            session.execute(delete(model).where(*past_retention).execution_options(synchronize_session=False))
        )
        session.commit()
    if removed:
        log.info("%s: %d past retention deleted", what, removed)
    return removed
