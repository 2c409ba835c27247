"""What the fever feature syncs: the family's episodes (type ``fever_episode``). The phone creates one through the
outbox (the answer is the ``FeverEpisode``: its server id replaces the local one); the unit's steps (arrival,
triage, antibiotic) come back as pulled changes of the same record."""

from __future__ import annotations

from typing import Any

from carnet.core.ids import is_local_id
from carnet.data.outbox import OutboxItem, WriteOp
from carnet.data.records import SyncLedger
from carnet.data.syncable import Upload
from carnet.fever.repository import EPISODE_TYPE, FeverRepository
from carnet_contract import models as contract

__all__ = ["FeverSyncable"]


class FeverSyncable:
    types = frozenset({EPISODE_TYPE})
    uploads: frozenset[str] = frozenset()

    def __init__(self, fever: FeverRepository) -> None:
        self._fever = fever

    def read(self, change: contract.SyncChange) -> contract.FeverEpisode | None:
        return contract.FeverEpisode.model_validate(change.data) if change.op == "upsert" else None

    def apply(self, change: contract.SyncChange, record: Any) -> None:
        if record is None:
            self._fever.delete_episode(change.id)
        else:
            self._fever.put_episode(record)

    def settle(self, item: OutboxItem, answer: Any, ledger: SyncLedger) -> None:
        episode = contract.FeverEpisode.model_validate(answer)
        if item.op is WriteOp.CREATE and is_local_id(item.record_id):
            ledger.map_id(item.record_id, episode.id)
        self._fever.put_episode(episode)

    def reset(self) -> None:
        self._fever.clear_episodes()

    def upload(self, item: OutboxItem) -> Upload | None:
        return None
