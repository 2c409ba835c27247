"""The audit log: who read or changed what, when, from where.

``detail`` holds ids and codes only — never names, NSS, CURP or tokens.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, Integer, String, insert
from sqlalchemy.orm import Mapped, Session, mapped_column

from carnet_server.db import Base, UTCDateTime, utcnow

__all__ = ["AuditEntry", "record", "record_now"]


class AuditEntry(Base):
    __tablename__ = "audit_log"
    #: (actor_id, at): the write rate limit counts one user's recent rows (limits.py).
    __table_args__ = (Index("ix_audit_log_actor_id_at", "actor_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    actor_role: Mapped[str | None] = mapped_column(String(16), nullable=True)
    action: Mapped[str] = mapped_column(String(64))
    object_type: Mapped[str | None] = mapped_column(String(32), nullable=True)
    object_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    ip: Mapped[str | None] = mapped_column(String(64), nullable=True)
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


def record(
    session: Session,
    *,
    action: str,
    actor_id: str | None = None,
    actor_role: str | None = None,
    object_type: str | None = None,
    object_id: str | None = None,
    ip: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Add one audit row to the session (the caller commits)."""
    session.add(
        AuditEntry(
            actor_id=actor_id,
            actor_role=actor_role,
            action=action,
            object_type=object_type,
            object_id=object_id,
            ip=ip,
            detail=detail,
        )
    )


def record_now(
    session: Session,
    *,
    action: str,
    actor_id: str | None,
    actor_role: str | None,
    object_type: str,
    object_id: str,
    ip: str | None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Write one audit row at once, with one INSERT (the caller commits): for a write whose other statements are
    written at once too, so that no ORM flush is needed for this one row (#20). :func:`record` waits for the flush."""
    session.execute(
        _INSERT,
        {
            "at": utcnow(),
            "actor_id": actor_id,
            "actor_role": actor_role,
            "action": action,
            "object_type": object_type,
            "object_id": object_id,
            "ip": ip,
            "detail": detail,
        },
    )


_INSERT = insert(AuditEntry.__table__)
