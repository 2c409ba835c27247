"""Tables of the blood-bank domain: banks, weekly templates, slots, bookings, the folio counter.

``slots.booked`` counts the bookings that hold a place (status ``confirmada``,
``asistio`` or ``no_asistio``); it only changes through conditional UPDATEs
(see bookings.py), and a CHECK keeps it within ``0 … capacity`` as a last line
of defence against overbooking.
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    Time,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from carnet_server.db import Base, UTCDateTime, new_id, utcnow
from carnet_server.patients.tables import MedicalUnit

__all__ = ["BloodBank", "Booking", "CheckInNote", "FolioCounter", "Slot", "SlotTemplate"]


class BloodBank(Base):
    __tablename__ = "blood_banks"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    unit_id: Mapped[str] = mapped_column(ForeignKey("medical_units.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(String(300))
    phone: Mapped[str] = mapped_column(String(40), default="")
    instructions: Mapped[str] = mapped_column(Text, default="")

    unit: Mapped[MedicalUnit] = relationship(lazy="joined")


class SlotTemplate(Base):
    """A weekly opening: on ``weekday`` (0 = Monday) from ``start`` to ``end`` local time, in slots."""

    __tablename__ = "slot_templates"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    bank_id: Mapped[str] = mapped_column(ForeignKey("blood_banks.id", ondelete="CASCADE"), index=True)
    weekday: Mapped[int] = mapped_column(Integer)
    start: Mapped[time] = mapped_column(Time)
    end: Mapped[time] = mapped_column(Time)
    slot_minutes: Mapped[int] = mapped_column(Integer)
    capacity: Mapped[int] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Slot(Base):
    __tablename__ = "slots"
    __table_args__ = (
        UniqueConstraint("bank_id", "starts_at", name="uq_slots_bank_id_starts_at"),
        CheckConstraint("booked >= 0 AND booked <= capacity", name="booked_within_capacity"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    bank_id: Mapped[str] = mapped_column(ForeignKey("blood_banks.id", ondelete="CASCADE"))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    capacity: Mapped[int] = mapped_column(Integer)
    booked: Mapped[int] = mapped_column(Integer, default=0)
    closed: Mapped[bool] = mapped_column(Boolean, default=False)

    bank: Mapped[BloodBank] = relationship(lazy="joined")


class Booking(Base):
    __tablename__ = "blood_bank_bookings"
    __table_args__ = (Index("ix_blood_bank_bookings_patient_id_status", "patient_id", "status"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    folio: Mapped[str] = mapped_column(String(20), unique=True)
    slot_id: Mapped[str] = mapped_column(ForeignKey("slots.id"), index=True)
    patient_id: Mapped[str] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"))
    guardian_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    donor_full_name: Mapped[str] = mapped_column(String(120))
    donor_phone: Mapped[str] = mapped_column(String(20))
    donor_birth_date: Mapped[date] = mapped_column(Date)
    donor_weight_kg: Mapped[float] = mapped_column(Float)
    donor_sex: Mapped[str] = mapped_column(String(8))
    donor_last_donation_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    #: The donor agreed to a WhatsApp reminder the day before (reminders/).
    donor_reminder_consent: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    answers: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16))
    checked_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    appointment_id: Mapped[str | None] = mapped_column(
        ForeignKey("appointments.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    slot: Mapped[Slot] = relationship(lazy="joined")


class CheckInNote(Base):
    """Why staff checked a donor in on a day other than the booking's (``override``), or undid a check-in
    (``undo``): the staff member's own words, kept here; the audit log names the note by id only."""

    __tablename__ = "blood_bank_check_in_notes"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    booking_id: Mapped[str] = mapped_column(ForeignKey("blood_bank_bookings.id", ondelete="CASCADE"), index=True)
    action: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    actor_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class FolioCounter(Base):
    """One row per year: the last folio number handed out (``BS-{year}-{n:06d}``)."""

    __tablename__ = "blood_bank_folio_counters"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    value: Mapped[int] = mapped_column(Integer)
