"""Tables of reminders: what each family chose, and what was already sent (each reminder goes once)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from carnet_server.db import Base, UTCDateTime, utcnow

__all__ = ["ReminderPreference", "ReminderSent"]


class ReminderPreference(Base):
    __tablename__ = "reminder_preferences"

    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    #: ``ReminderKind`` values chosen.
    kinds: Mapped[list[str]] = mapped_column(JSON, default=list)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ReminderSent(Base):
    """One row per reminder handed to a channel: ``{kind}:{object id}:{recipient}``; a second pass finds it."""

    __tablename__ = "reminders_sent"

    key: Mapped[str] = mapped_column(String(160), primary_key=True)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
