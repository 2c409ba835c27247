"""Tables of the mixing domain: orders (also the durable delivery queue) and the provider's callback events.

An order is pending delivery while ``delivered_at`` is NULL; a worker claims it
by setting ``lease_until`` with a conditional UPDATE (so several workers or
processes never send the same order at once), sends it with
``Idempotency-Key: <id>``, and on failure moves ``next_attempt_at`` forward
(backoff). Nothing lives only in memory: a restart picks up where it stopped.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from carnet_server.db import Base, UTCDateTime, new_id, utcnow

__all__ = ["MixingCallbackEvent", "MixingOrder"]


class MixingOrder(Base):
    __tablename__ = "mixing_orders"
    __table_args__ = (Index("ix_mixing_orders_delivery", "delivered_at", "next_attempt_at"),)

    #: Also the provider's ``Idempotency-Key``.
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    cycle_id: Mapped[str] = mapped_column(ForeignKey("cycles.id", ondelete="CASCADE"), unique=True)
    patient_id: Mapped[str] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"), index=True)
    provider: Mapped[str] = mapped_column(String(32))
    #: The order as sent (``contract.MixingOrder``), frozen at creation so every retry sends the same body.
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    #: Mirrors ``cycles.mixing_status``.
    status: Mapped[str] = mapped_column(String(16))
    #: ``occurred_at`` of the latest provider update applied (older ones arriving late are ignored).
    status_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_error: Mapped[str | None] = mapped_column(String(200), nullable=True)


class MixingCallbackEvent(Base):
    """Every provider event applied, by its id: a replayed event is refused."""

    __tablename__ = "mixing_callback_events"

    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("mixing_orders.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(16))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
