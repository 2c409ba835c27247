"""Tables of the enrolment domain: guardians' activation codes and the corrections history of a record."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column

from carnet_server.db import Base, UTCDateTime, new_id, utcnow

__all__ = ["GuardianInvitation", "PatientCorrection"]


class GuardianInvitation(Base):
    """A one-time activation code for a guardian of a child. Only its keyed hash is stored
    (enrolment/invitations.py); it is pending until used, revoked or past ``expires_at``."""

    __tablename__ = "guardian_invitations"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    patient_id: Mapped[str] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    full_name: Mapped[str] = mapped_column(String(120))
    relationship: Mapped[str] = mapped_column(String(40))
    phone: Mapped[str] = mapped_column(String(20))
    created_by_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    used_by_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: Staff verified in person that ``phone`` is the guardian's WhatsApp: activation links it (whatsapp/links.py).
    whatsapp_verified: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class PatientCorrection(Base):
    """One change to a child's registry record: a field corrected, or a referral to another unit (``unit_id``).
    Kept with the record wherever it moves; readable by the staff who see the child."""

    __tablename__ = "patient_corrections"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    patient_id: Mapped[str] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    field: Mapped[str] = mapped_column(String(32))
    old_value: Mapped[str | None] = mapped_column(Text, nullable=True)
    new_value: Mapped[str | None] = mapped_column(Text, nullable=True)
    changed_by_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    changed_by_name: Mapped[str] = mapped_column(String(120))
    changed_by_role: Mapped[str | None] = mapped_column(String(16), nullable=True)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
