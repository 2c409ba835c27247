"""The synced-records bookkeeping every feature shares: a record's sync mark, the sync position and
what the sync screen shows of it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from carnet.data.outbox import OutboxItem


class Mark(StrEnum):
    SYNCED = "synced"
    PENDING = "pending"
    FAILED = "failed"


@dataclass(frozen=True)
class SyncPosition:
    cursor: str = ""
    #: ETag of the last caught-up page, valid for a request with ``etag_cursor``.
    etag: str | None = None
    etag_cursor: str | None = None
    #: The next page starts from scratch: drop every synced record first.
    needs_reset: bool = False
    last_success_at: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "cursor": self.cursor,
            "etag": self.etag,
            "etag_cursor": self.etag_cursor,
            "needs_reset": self.needs_reset,
            "last_success_at": self.last_success_at.isoformat() if self.last_success_at else None,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SyncPosition:
        last = data.get("last_success_at")
        return cls(
            cursor=data.get("cursor") or "",
            etag=data.get("etag"),
            etag_cursor=data.get("etag_cursor"),
            needs_reset=bool(data.get("needs_reset")),
            last_success_at=datetime.fromisoformat(last) if last else None,
        )


@dataclass
class SyncStatus:
    last_success_at: datetime | None = None
    pending: int = 0
    failed: list[OutboxItem] = field(default_factory=list)
    retry_at: datetime | None = None
