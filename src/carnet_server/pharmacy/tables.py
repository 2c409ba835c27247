"""Tables of the pharmacy domain: dispensations (at most one per cycle, enforced by the database)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from carnet_server.db import Base, UTCDateTime, new_id, utcnow

__all__ = ["Dispensation"]


class Dispensation(Base):
    __tablename__ = "dispensations"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    #: Unique: a second dispensation of the same cycle fails in the database, whatever the race.
    cycle_id: Mapped[str] = mapped_column(ForeignKey("cycles.id", ondelete="CASCADE"), unique=True)
    patient_id: Mapped[str] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"), index=True)
    #: The drugs handed over: ``[{name, dose, unit, route}]``.
    items: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    #: The QR token presented (its ``jti``).
    jti: Mapped[str] = mapped_column(String(32))
    dispensed_by_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    dispensed_by_label: Mapped[str] = mapped_column(String(120))
    dispensed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
