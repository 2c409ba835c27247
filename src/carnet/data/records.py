"""The synced-records bookkeeping every feature shares: a record's sync mark, the sync position and the
local → server id map (:class:`SyncLedger`), and what the sync screen shows of them."""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from carnet.core.ids import is_local_id
from carnet.data.outbox import OutboxItem
from carnet.data.store import OfflineStore


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


class SyncLedger:
    """One user's sync position and the map from ids made on the phone to the server's, in the offline store."""

    POSITION, ID_MAP = "sync_position", "id_map"

    def __init__(self, store: OfflineStore, user_id: str) -> None:
        self._store = store
        self.user_id = user_id

    def transaction(self) -> AbstractContextManager[None]:
        return self._store.transaction()

    def position(self) -> SyncPosition:
        record = self._store.get(self.user_id, self.POSITION)
        return SyncPosition.from_json(record.value) if record else SyncPosition()

    def save_position(self, position: SyncPosition) -> None:
        self._store.put(self.user_id, self.POSITION, "", position.to_json())

    def map_id(self, local_id: str, server_id: str) -> None:
        self._store.put(self.user_id, self.ID_MAP, local_id, server_id)

    def server_id(self, record_id: str) -> str | None:
        """The server's id of a record (itself when it never was a local one; None: not created yet)."""
        if not is_local_id(record_id):
            return record_id
        record = self._store.get(self.user_id, self.ID_MAP, record_id)
        return str(record.value) if record else None
