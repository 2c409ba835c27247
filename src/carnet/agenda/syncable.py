"""What the agenda syncs: appointments (type ``appointment``)."""

from __future__ import annotations

from typing import Any

from carnet.agenda.repository import AgendaRepository
from carnet.core.ids import is_local_id
from carnet.data.outbox import OutboxItem, WriteOp
from carnet.data.records import SyncLedger
from carnet.data.syncable import Upload
from carnet_contract import models as contract

__all__ = ["AppointmentSyncable"]


class AppointmentSyncable:
    types = frozenset({contract.SyncType.APPOINTMENT.value})
    uploads: frozenset[str] = frozenset()

    def __init__(self, records: AgendaRepository) -> None:
        self._records = records

    def read(self, change: contract.SyncChange) -> contract.Appointment | None:
        return contract.Appointment.model_validate(change.data) if change.op == "upsert" else None

    def apply(self, change: contract.SyncChange, record: Any) -> None:
        if record is None:
            self._records.delete_appointment(change.id)
        else:
            self._records.put_appointment(record)

    def settle(self, item: OutboxItem, answer: Any, ledger: SyncLedger) -> None:
        if item.op is WriteOp.DELETE:
            server_id = ledger.server_id(item.record_id)
            if server_id:
                self._records.delete_appointment(server_id)
            return
        appointment = contract.Appointment.model_validate(answer)
        if item.op is WriteOp.CREATE and is_local_id(item.record_id):
            ledger.map_id(item.record_id, appointment.id)
        self._records.put_appointment(appointment)

    def reset(self) -> None:
        self._records.clear_appointments()

    def upload(self, item: OutboxItem) -> Upload | None:
        return None
