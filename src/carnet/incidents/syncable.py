"""What the incidents sync: reports (type ``incident``; the answer to a report or a reopening is the
``Incident`` with its replies) and their photos (type ``incident_photo``: the bytes wait encrypted in the
store and go as a multipart upload once the report has its server id; the answer is the ``Incident``, and
the bytes leave the phone's queue with the item, its thumbnail staying as the server photo's, so it is not
downloaded again)."""

from __future__ import annotations

from typing import Any

from carnet.core.ids import is_local_id
from carnet.data.outbox import OutboxItem, WriteOp
from carnet.data.records import SyncLedger
from carnet.data.syncable import Upload
from carnet.incidents.repository import PHOTO_TYPE, IncidentRepository
from carnet_contract import models as contract

__all__ = ["IncidentSyncable"]


class IncidentSyncable:
    types = frozenset({contract.SyncType.INCIDENT.value, PHOTO_TYPE})
    uploads = frozenset({PHOTO_TYPE})

    def __init__(self, incidents: IncidentRepository) -> None:
        self._incidents = incidents

    def read(self, change: contract.SyncChange) -> contract.Incident | None:
        if change.type != contract.SyncType.INCIDENT or change.op != "upsert":
            return None
        return contract.Incident.model_validate(change.data)

    def apply(self, change: contract.SyncChange, record: Any) -> None:
        if change.type != contract.SyncType.INCIDENT:
            return
        if record is None:
            self._incidents.delete_incident(change.id)
        else:
            self._incidents.put_incident(record)

    def settle(self, item: OutboxItem, answer: Any, ledger: SyncLedger) -> None:
        incident = contract.Incident.model_validate(answer)
        if item.type == PHOTO_TYPE:
            self._keep_own_thumb(item.id, incident)
            self._incidents.put_incident(incident)
            self._incidents.delete_draft(item.id)
            return
        if item.op is WriteOp.CREATE and is_local_id(item.record_id):
            ledger.map_id(item.record_id, incident.id)
        self._incidents.put_incident(incident)

    def reset(self) -> None:
        self._incidents.clear_incidents()

    def upload(self, item: OutboxItem) -> Upload | None:
        draft = self._incidents.draft(item.id)
        if draft is None:
            return None
        return Upload(draft.data, draft.content_type, draft.upload_name)

    def _keep_own_thumb(self, item_id: str, incident: contract.Incident) -> None:
        """A photo upload was answered: its one new photo in the answer is the phone's own, whose thumbnail
        is kept for it (nothing to download for "Mis reportes"). When that is not certain, nothing is kept
        and the screen fetches the photo as for any other."""
        before = self._incidents.incident(incident.id)
        known = {p.id for p in before.photos} if before is not None else set()
        new = [p for p in incident.photos if p.id not in known]
        draft = self._incidents.draft(item_id)
        if len(new) == 1 and draft is not None and draft.thumb:
            self._incidents.put_thumb(new[0].id, draft.thumb)
