"""Tables of the incidents domain: incidents, their replies and photos, the folio counter.

The reporter (``reporter_id``) is stored for the audit trail only: it is never
part of a response, so another family never learns who reported.
Photos live in the data dir (``files/incidents/<incident>/<photo>.<ext>``); the
table holds their metadata and relative path.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from carnet_server.db import Base, UTCDateTime, new_id, utcnow
from carnet_server.patients.tables import MedicalUnit

__all__ = ["Incident", "IncidentFolioCounter", "IncidentPhoto", "IncidentReply"]


class Incident(Base):
    __tablename__ = "incidents"
    __table_args__ = (
        Index("ix_incidents_unit_id_created_at", "unit_id", "created_at"),
        Index("ix_incidents_patient_id_created_at", "patient_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    folio: Mapped[str] = mapped_column(String(20), unique=True)
    patient_id: Mapped[str] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"))
    unit_id: Mapped[str] = mapped_column(ForeignKey("medical_units.id"))
    reporter_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    category: Mapped[str] = mapped_column(String(32))
    description: Mapped[str] = mapped_column(Text)
    item_name: Mapped[str | None] = mapped_column(String(120), nullable=True)
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    first_response_due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    first_response_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: ``app`` or ``whatsapp`` (``IncidentChannel``): a WhatsApp report's answers also go back to the chat.
    channel: Mapped[str] = mapped_column(String(16), default="app", server_default="app")

    unit: Mapped[MedicalUnit] = relationship(lazy="joined")
    replies: Mapped[list[IncidentReply]] = relationship(
        order_by=lambda: IncidentReply.position, lazy="selectin", cascade="all, delete-orphan"
    )
    photos: Mapped[list[IncidentPhoto]] = relationship(
        order_by=lambda: [IncidentPhoto.created_at, IncidentPhoto.id], lazy="selectin", cascade="all, delete-orphan"
    )


class IncidentReply(Base):
    """A staff answer, or a guardian's reopening (``reopens``; the message is the reason)."""

    __tablename__ = "incident_replies"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    incident_id: Mapped[str] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    author_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    author_role: Mapped[str] = mapped_column(String(16))
    message: Mapped[str] = mapped_column(Text)
    resolves: Mapped[bool] = mapped_column(Boolean, default=False)
    reopens: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class IncidentPhoto(Base):
    __tablename__ = "incident_photos"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    incident_id: Mapped[str] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    content_type: Mapped[str] = mapped_column(String(32))
    size: Mapped[int] = mapped_column(Integer)
    #: Relative to the data dir.
    path: Mapped[str] = mapped_column(String(200))
    uploaded_by: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class IncidentFolioCounter(Base):
    """One row per year: the last folio number handed out (``CE-{year}-{n:06d}``)."""

    __tablename__ = "incident_folio_counters"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    value: Mapped[int] = mapped_column(Integer)
