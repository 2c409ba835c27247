"""What the carnets sync: cycles (type ``cycle``: a mixing status, a confirmation or a dispensation updates
the cached carnet holding it, so it shows offline before the next carnet read). Pulled only; the carnets
themselves are read whole by the session's refresh."""

from __future__ import annotations

from typing import Any

from carnet.data.outbox import OutboxItem
from carnet.data.records import SyncLedger
from carnet.data.syncable import Upload
from carnet.patients.repository import CarnetRepository
from carnet_contract import models as contract

__all__ = ["CycleSyncable"]


class CycleSyncable:
    types = frozenset({contract.SyncType.CYCLE.value})
    uploads: frozenset[str] = frozenset()

    def __init__(self, carnets: CarnetRepository) -> None:
        self._carnets = carnets

    def read(self, change: contract.SyncChange) -> contract.Cycle | None:
        return contract.Cycle.model_validate(change.data) if change.op == "upsert" else None

    def apply(self, change: contract.SyncChange, record: Any) -> None:
        if record is not None:  # a cycle leaves with its carnet (the next carnet read)
            self._carnets.put_cycle(record)

    def settle(self, item: OutboxItem, answer: Any, ledger: SyncLedger) -> None:
        """Nothing of a carnet is written from the phone."""

    def reset(self) -> None:
        """The carnets are read whole at every refresh: nothing to drop."""

    def upload(self, item: OutboxItem) -> Upload | None:
        return None
