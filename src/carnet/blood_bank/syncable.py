"""What the blood bank syncs: families' bookings (type ``blood_bank_booking``; the answer to a booking, a
cancellation or a reschedule is the ``Booking``, and the item's draft leaves with it)."""

from __future__ import annotations

from typing import Any

from carnet.blood_bank.repository import BookingRepository
from carnet.core.ids import is_local_id
from carnet.data.outbox import OutboxItem, WriteOp
from carnet.data.records import SyncLedger
from carnet.data.syncable import Upload
from carnet_contract import models as contract

__all__ = ["BookingSyncable"]


class BookingSyncable:
    types = frozenset({contract.SyncType.BLOOD_BANK_BOOKING.value})
    uploads: frozenset[str] = frozenset()

    def __init__(self, bookings: BookingRepository) -> None:
        self._bookings = bookings

    def read(self, change: contract.SyncChange) -> contract.Booking | None:
        return contract.Booking.model_validate(change.data) if change.op == "upsert" else None

    def apply(self, change: contract.SyncChange, record: Any) -> None:
        if record is None:
            self._bookings.delete_booking(change.id)
        else:
            self._bookings.put_booking(record)

    def settle(self, item: OutboxItem, answer: Any, ledger: SyncLedger) -> None:
        booking = contract.Booking.model_validate(answer)
        if item.op is WriteOp.CREATE and is_local_id(item.record_id):
            ledger.map_id(item.record_id, booking.id)
        self._bookings.put_booking(booking)
        self._bookings.delete_draft(item.id)

    def reset(self) -> None:
        self._bookings.clear_bookings()

    def upload(self, item: OutboxItem) -> Upload | None:
        return None
