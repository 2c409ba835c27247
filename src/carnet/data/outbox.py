"""The outbox: every write the person makes, kept on the phone until the server accepts it.

Each item is born with a UUID (sent as ``Idempotency-Key``), the HTTP method,
path and JSON body to replay, and the local record it concerns. Items keep
their order (a SQLite ``AUTOINCREMENT`` sequence) and survive an app that is
killed at any moment: they live in the encrypted offline store, body and error
message sealed (health data), only order and scheduling in clear.

States::

    pending ──(server accepted)──────────────► removed (the server's record replaces it)
       │  ▲
       │  └──(network / 5xx / 429 / 409 in progress: attempts+1, next_attempt_at = now + backoff)
       └──(4xx rejection)──► failed (the server's reason kept) ──retry (new Idempotency-Key)──► pending
                                   └──discard──► removed

A record created on the phone gets a local id (``local-<uuid>``); later edits
of it are queued behind its creation and find the server id through the id
map the sync writes when the creation is accepted (:mod:`carnet.data.sync`).
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from carnet.data.store import OfflineStore, OutboxRow

__all__ = ["Backoff", "Outbox", "OutboxItem", "OutboxState", "WriteOp"]


class OutboxState(StrEnum):
    PENDING = "pending"
    FAILED = "failed"


class WriteOp(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"


@dataclass(frozen=True)
class OutboxItem:
    id: str
    seq: int
    created_at: datetime
    state: OutboxState
    attempts: int
    next_attempt_at: datetime | None
    type: str
    op: WriteOp
    method: str
    #: May hold ``{record}``: replaced by the record's server id when sent.
    path: str
    body: dict[str, Any] | None
    record_id: str
    patient_id: str
    #: A short description for the sync screen (the record's title when queued).
    label: str
    #: The server's localised reason (failed), or the last transient problem.
    error: str | None
    #: "network" when the last attempt found no network (retried as soon as it is back).
    error_kind: str | None
    #: The ``Idempotency-Key`` sent: the item's id, or a new one after the person retried a rejection
    #: (the server keeps a rejection under its key; a rejected write changed nothing, so a new key is safe).
    key: str = ""

    @classmethod
    def from_row(cls, row: OutboxRow) -> OutboxItem:
        p = row.payload
        return cls(
            id=row.id,
            seq=row.seq,
            created_at=row.created_at,
            state=OutboxState(row.state),
            attempts=row.attempts,
            next_attempt_at=row.next_attempt_at,
            type=p["type"],
            op=WriteOp(p["op"]),
            method=p["method"],
            path=p["path"],
            body=p.get("body"),
            record_id=p["record_id"],
            patient_id=p.get("patient_id", ""),
            label=p.get("label", ""),
            error=p.get("error"),
            error_kind=p.get("error_kind"),
            key=p.get("key") or row.id,
        )

    def payload(self, **changes: Any) -> dict[str, Any]:
        data = {
            "type": self.type,
            "op": self.op.value,
            "method": self.method,
            "path": self.path,
            "body": self.body,
            "record_id": self.record_id,
            "patient_id": self.patient_id,
            "label": self.label,
            "error": self.error,
            "error_kind": self.error_kind,
            "key": self.key,
        }
        data.update(changes)
        return data

    def due(self, now: datetime) -> bool:
        return self.state is OutboxState.PENDING and (self.next_attempt_at is None or self.next_attempt_at <= now)


class Backoff:
    """Exponential backoff with "equal jitter": attempt n waits in [d/2, d], d = min(cap, base·2ⁿ⁻¹).

    A Retry-After from the server is honoured as a floor.
    """

    def __init__(self, *, base: float = 2.0, cap: float = 300.0, rng: random.Random | None = None) -> None:
        self.base, self.cap = base, cap
        self._rng = rng or random.Random()  # noqa: S311 — retry jitter, not a secret

    def ceiling(self, attempt: int) -> float:
        return min(self.cap, self.base * 2.0 ** max(0, attempt - 1))

    def delay(self, attempt: int, *, retry_after: float | None = None) -> float:
        ceiling = self.ceiling(attempt)
        jittered = ceiling / 2 + self._rng.uniform(0, ceiling / 2)
        return max(jittered, retry_after) if retry_after is not None else jittered


class Outbox:
    """One user's outbox in the offline store (small synchronous calls)."""

    def __init__(self, store: OfflineStore, user_id: str) -> None:
        self._store = store
        self.user_id = user_id

    # reads
    def items(self) -> list[OutboxItem]:
        """Every item, oldest first."""
        return [OutboxItem.from_row(row) for row in self._store.outbox_rows(self.user_id)]

    def get(self, item_id: str) -> OutboxItem | None:
        return next((item for item in self.items() if item.id == item_id), None)

    def pending_count(self) -> int:
        return sum(1 for item in self.items() if item.state is OutboxState.PENDING)

    def failed(self) -> list[OutboxItem]:
        return [item for item in self.items() if item.state is OutboxState.FAILED]

    def next_attempt_at(self) -> datetime | None:
        """When the earliest waiting item may be sent again (None: nothing waits)."""
        times = [
            i.next_attempt_at for i in self.items() if i.state is OutboxState.PENDING and i.next_attempt_at is not None
        ]
        return min(times) if times else None

    # writes
    def add(
        self,
        *,
        type: str,  # noqa: A002 — the item's "type" field
        op: WriteOp,
        method: str,
        path: str,
        body: dict[str, Any] | None,
        record_id: str,
        patient_id: str,
        label: str,
        now: datetime,
        item_id: str | None = None,
    ) -> str:
        item_id = item_id or str(uuid.uuid4())
        payload = {
            "type": type,
            "op": op.value,
            "method": method,
            "path": path,
            "body": body,
            "record_id": record_id,
            "patient_id": patient_id,
            "label": label,
            "error": None,
            "error_kind": None,
        }
        self._store.outbox_add(self.user_id, item_id, payload, created_at=now)
        return item_id

    def complete(self, item_id: str) -> None:
        """The server accepted it: the item leaves the outbox."""
        self._store.outbox_remove(self.user_id, item_id)

    def defer(self, item: OutboxItem, *, until: datetime, error: str | None, error_kind: str | None) -> None:
        """A transient failure: one more attempt counted, next try not before ``until``."""
        self._store.outbox_update(
            self.user_id,
            item.id,
            state=OutboxState.PENDING,
            attempts=item.attempts + 1,
            next_attempt_at=until,
            payload=item.payload(error=error, error_kind=error_kind),
        )

    def fail(self, item: OutboxItem, reason: str) -> None:
        """The server rejected it: kept, with the reason, until the person retries or discards it."""
        self._store.outbox_update(
            self.user_id,
            item.id,
            state=OutboxState.FAILED,
            attempts=item.attempts + 1,
            next_attempt_at=None,
            payload=item.payload(error=reason, error_kind="rejected"),
        )

    def retry(self, item_id: str) -> bool:
        item = self.get(item_id)
        if item is None or item.state is not OutboxState.FAILED:
            return False
        self._store.outbox_update(
            self.user_id,
            item.id,
            state=OutboxState.PENDING,
            attempts=0,
            next_attempt_at=None,
            payload=item.payload(error=None, error_kind=None, key=str(uuid.uuid4())),
        )
        return True

    def discard(self, item_id: str) -> list[str]:
        """Drop a failed item; dropping a creation drops the later changes of that record too."""
        items = self.items()
        item = next((i for i in items if i.id == item_id), None)
        if item is None or item.state is not OutboxState.FAILED:
            return []
        dropped = [item.id]
        if item.op is WriteOp.CREATE:
            dropped += [i.id for i in items if i.record_id == item.record_id and i.seq > item.seq]
        with self._store.transaction():
            for dropped_id in dropped:
                self._store.outbox_remove(self.user_id, dropped_id)
        return dropped

    def network_is_back(self, now: datetime) -> int:
        """Items waiting because the network was gone may go now; how many there were."""
        count = 0
        with self._store.transaction():
            for item in self.items():
                if item.state is OutboxState.PENDING and item.error_kind == "network" and not item.due(now):
                    self._store.outbox_update(
                        self.user_id, item.id, state=item.state, attempts=item.attempts, next_attempt_at=None
                    )
                    count += 1
        return count
