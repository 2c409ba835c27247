"""What the blood bank syncs: families' bookings (type ``blood_bank_booking``; the answer to a booking, a
cancellation or a reschedule is the ``Booking``, and the item's draft leaves with it).

A booking refused with ``422 donor_not_eligible`` is an answer, not a sync failure: it is kept as a
:class:`~carnet.blood_bank.repository.Refusal` (reasons and what was typed) and the item leaves the outbox. So is
a change of time refused so (the donor may not donate on the new day): kept as a
:class:`~carnet.blood_bank.repository.RefusedChange` beside the booking, which keeps its time."""

from __future__ import annotations

from typing import Any

from carnet.blood_bank.repository import BookingChange, BookingRepository, change_of
from carnet.core.ids import is_local_id
from carnet.data.api import HttpError
from carnet.data.outbox import OutboxItem, WriteOp
from carnet.data.records import SyncLedger
from carnet.data.syncable import Upload
from carnet_contract import models as contract

__all__ = ["BookingSyncable"]

#: The server's answer "this donor may not donate (yet)", with every reason.
NOT_ELIGIBLE = "donor_not_eligible"


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

    def refused(self, item: OutboxItem, exc: Any) -> bool:
        """A new booking, or a change of time, refused for eligibility: kept as the family's answer (see
        ``AnswersRefusals``)."""
        if not isinstance(exc, HttpError) or exc.code != NOT_ELIGIBLE:
            return False
        change = change_of(item)
        if change is BookingChange.CANCEL:
            return False
        reasons = [r.message for r in exc.reasons] or [exc.message]
        draft = self._bookings.drafts().get(item.id)
        if change is BookingChange.CREATE:
            self._bookings.put_refusal(
                item.record_id, patient_id=item.patient_id, body=item.body or {}, reasons=reasons, draft=draft
            )
        else:
            self._bookings.put_refused_change(item.record_id, reasons=reasons, draft=draft)
        self._bookings.delete_draft(item.id)
        return True

    def reset(self) -> None:
        self._bookings.clear_bookings()

    def upload(self, item: OutboxItem) -> Upload | None:
        return None
