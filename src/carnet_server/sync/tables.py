"""Tables of the sync domain: the change counter and the latest change of every synced record."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from carnet_server.db import Base

__all__ = ["SyncCounter", "SyncState"]


class SyncCounter(Base):
    """A single row (id 1): the last change sequence number handed out."""

    __tablename__ = "sync_counter"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    value: Mapped[int] = mapped_column(BigInteger)


class SyncState(Base):
    """The last change of one synced record; ``deleted`` rows are tombstones."""

    __tablename__ = "sync_state"
    __table_args__ = (Index("ix_sync_state_patient_id_seq", "patient_id", "seq"),)

    type: Mapped[str] = mapped_column(String(32), primary_key=True)
    record_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    patient_id: Mapped[str] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(BigInteger, unique=True)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
