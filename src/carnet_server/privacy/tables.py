"""Tables of the privacy domain: each acceptance of a notice version, and account closure requests.

``users.privacy_version`` / ``users.privacy_accepted_at`` hold the latest acceptance, so the
check on every guardian request costs no extra query; ``privacy_acceptances`` is the record.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from carnet_server.db import Base, UTCDateTime, new_id, utcnow

__all__ = ["AccountClosureRequest", "PrivacyAcceptance"]


class PrivacyAcceptance(Base):
    """One guardian accepted one version of the notice (once per version)."""

    __tablename__ = "privacy_acceptances"
    __table_args__ = (UniqueConstraint("user_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    version: Mapped[str] = mapped_column(String(32))
    accepted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AccountClosureRequest(Base):
    """A guardian asked for the account to be closed; at most one open (``solicitada``) per user."""

    __tablename__ = "account_closure_requests"
    __table_args__ = (
        Index(
            "uq_account_closure_requests_open",
            "user_id",
            unique=True,
            postgresql_where=text("status = 'solicitada'"),
            sqlite_where=text("status = 'solicitada'"),
        ),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="solicitada")
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    decided_by_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
