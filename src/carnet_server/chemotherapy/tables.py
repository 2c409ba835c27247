"""Tables of the chemotherapy plan: the regimen catalogue (every version kept) and the children's measurements.

A cycle (``patients.tables.Cycle``) points at the regimen version it was written from; its drugs carry the
structured doses.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, Float, ForeignKey, Integer, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from carnet_server.db import Base, UTCDateTime, new_id, utcnow

__all__ = ["BodyMeasurement", "Regimen"]


class Regimen(Base):
    """One version of a catalogue regimen; its phases are ``carnet_contract.chemotherapy.RegimenPhase`` JSON."""

    __tablename__ = "regimens"
    __table_args__ = (UniqueConstraint("code", "version", name="uq_regimens_code_version"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    code: Mapped[str] = mapped_column(String(40), index=True)
    version: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    example: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    phases: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)


class BodyMeasurement(Base):
    """A child's weight and height on a date, as a prescriber recorded them."""

    __tablename__ = "body_measurements"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    patient_id: Mapped[str] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"), index=True)
    measured_on: Mapped[date] = mapped_column(Date)
    weight_kg: Mapped[float] = mapped_column(Float)
    height_cm: Mapped[float] = mapped_column(Float)
    recorded_by: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
