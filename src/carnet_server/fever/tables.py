"""Tables of the fever domain: the episodes (Hora Dorada) and the emergency card's QR tokens.

An episode belongs to the child's unit at the time the family pressed the button (``unit_id``): that unit's
staff see it and record its steps, and the weekly figures count it there. ``reporter_id`` is kept for the audit
trail only, as in incidents. Emergency tokens are kept apart from the carnet's ``qr_tokens`` (a carnet read
must never pick one up); they are reused while they have more than a day left, the card is unchanged and they
are not revoked. ``revoked_at`` (migration 0015): revoked with the carnet's tokens (card.py says when); the
pharmacy trust bundle lists those not yet expired, so an offline check refuses them too.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from carnet_server.db import Base, UTCDateTime, new_id, utcnow
from carnet_server.patients.tables import MedicalUnit

__all__ = ["OPEN_WHERE", "EmergencyToken", "FeverEpisode"]


#: The open statuses (service.OPEN_STATUSES), as the partial unique index says them.
OPEN_WHERE = "status IN ('avisada', 'en_urgencias', 'triage')"


class FeverEpisode(Base):
    __tablename__ = "fever_episodes"
    __table_args__ = (
        Index("ix_fever_episodes_unit_id_created_at", "unit_id", "created_at"),
        Index("ix_fever_episodes_patient_id_created_at", "patient_id", "created_at"),
        # One open episode per child, whoever opens it and however many desks or workers at once (service.py).
        Index(
            "uq_fever_episodes_open_patient",
            "patient_id",
            unique=True,
            sqlite_where=text(OPEN_WHERE),
            postgresql_where=text(OPEN_WHERE),
        ),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    patient_id: Mapped[str] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"))
    unit_id: Mapped[str] = mapped_column(ForeignKey("medical_units.id"))
    reporter_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    #: ``FeverStatus``.
    status: Mapped[str] = mapped_column(String(16))
    temperature_c: Mapped[float] = mapped_column(Float)
    measured_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    arrived_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    triage_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    antibiotic_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: ``FeverOrigin``: ``familia`` (the family's button) or ``unidad`` (staff, for a child who came without it;
    #: migration 0015).
    origin: Mapped[str] = mapped_column(String(8), default="familia", server_default="familia")

    unit: Mapped[MedicalUnit] = relationship(lazy="joined")


class EmergencyToken(Base):
    """An emergency card QR token as issued (``typ`` ``em``); ``digest`` is a hash of the card it was made for."""

    __tablename__ = "emergency_tokens"

    jti: Mapped[str] = mapped_column(String(32), primary_key=True)
    patient_id: Mapped[str] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"), index=True)
    kid: Mapped[str] = mapped_column(String(64))
    digest: Mapped[str] = mapped_column(String(64))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    token: Mapped[str] = mapped_column(Text)

    __table_args__ = (
        # The pharmacy trust bundle lists revoked tokens not yet expired: a small partial index (as qr_tokens').
        Index(
            "ix_emergency_tokens_revoked_expires_at",
            "expires_at",
            postgresql_where=text("revoked_at IS NOT NULL"),
            sqlite_where=text("revoked_at IS NOT NULL"),
        ),
    )
