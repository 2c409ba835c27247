"""Tables of the idempotency domain: one row per (user, key), pending until the response is stored."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from carnet_server.db import Base, UTCDateTime, utcnow

__all__ = ["IdempotencyKey"]


class IdempotencyKey(Base):
    __tablename__ = "idempotency_keys"

    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    #: SHA-256 of method, path and the canonical JSON body.
    fingerprint: Mapped[str] = mapped_column(String(64))
    #: Who holds a pending claim; None once the response is stored.
    claim: Mapped[str | None] = mapped_column(String(32), nullable=True)
    claimed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    response_body: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
