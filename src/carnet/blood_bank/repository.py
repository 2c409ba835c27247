"""Blood-bank donor bookings on the phone: cached banks, slots and questionnaire; bookings with pending writes.

:class:`BookingRepository` reads and writes one user's synced bookings, the
cached reference data (banks, questionnaire per language, the last slots
fetched per bank and day, each with when it was fetched) and the *drafts*
(bank and slot of a queued booking or reschedule, keyed by the outbox item,
so a pending write can be drawn before the server answers). Never the network.

:func:`merge` lays the outbox over the synced bookings, like
:func:`carnet.agenda.repository.merge` does for appointments: a booking just made shows
at once as pending ("pendiente de confirmar"); a rejected one shows the
server's reason until the person retries or discards it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any, TypedDict

from pydantic import ValidationError

from carnet.core.clock import MX
from carnet.data.outbox import OutboxItem, OutboxState, WriteOp
from carnet.data.records import Mark
from carnet.data.store import OfflineStore
from carnet_contract import models as contract

__all__ = [
    "BOOKINGS_PATH",
    "BookingChange",
    "BookingRepository",
    "BookingView",
    "RefusedChange",
    "Refusal",
    "bookable_days",
    "can_change",
    "change_of",
    "draft_of",
    "merge",
    "open_slots",
]

BOOKINGS_PATH = "/api/v1/blood-bank/bookings"
CANCEL_PATH = BOOKINGS_PATH + "/{record}/cancel"
RESCHEDULE_PATH = BOOKINGS_PATH + "/{record}/reschedule"
#: The server takes bookings from today up to this many days ahead (Mexico City dates).
MAX_DAYS_AHEAD = 60


class BookingChange(StrEnum):
    CREATE = "create"
    CANCEL = "cancel"
    RESCHEDULE = "reschedule"


def change_of(item: OutboxItem) -> BookingChange:
    if item.op is WriteOp.CREATE:
        return BookingChange.CREATE
    return BookingChange.CANCEL if item.path.endswith("/cancel") else BookingChange.RESCHEDULE


@dataclass(frozen=True)
class BookingView:
    """A booking as the family sees it: the server's, or one still waiting in the outbox."""

    id: str
    patient_id: str
    bank: contract.BloodBank | None
    slot: contract.Slot | None
    #: None while the creation waits for the server (no folio yet).
    status: contract.BookingStatus | None
    folio: str | None
    donor_name: str
    mark: Mark = Mark.SYNCED
    #: The write waiting (pending) or rejected (failed) for this booking.
    change: BookingChange | None = None
    #: The server's reason for a rejection (every reason, one per line).
    error: str | None = None
    #: The outbox item behind ``change`` (retry / discard).
    item_id: str | None = None
    #: The new time a change asked for that did not go through (a failed write, or ``refused``); ``slot`` is
    #: the booking's own time, which still holds.
    asked_slot: contract.Slot | None = None
    #: Why the blood bank refused that change: the donor may not donate on that day (every reason).
    refused: tuple[str, ...] = ()


@dataclass(frozen=True)
class Refusal:
    """A booking the server answered "this donor may not donate yet": an answer kept for the family
    (every reason, and what was typed, so the form comes back filled), not a failed write."""

    id: str
    patient_id: str
    #: The ``BookingCreate`` body that was sent.
    body: dict[str, Any]
    reasons: list[str]
    bank: contract.BloodBank | None
    slot: contract.Slot | None


@dataclass(frozen=True)
class RefusedChange:
    """A change of time the blood bank answered "this donor may not donate on that day": an answer kept for
    the family beside the booking, which keeps its time (not a failed write)."""

    #: The time asked for.
    slot: contract.Slot | None
    reasons: tuple[str, ...]


class BookingRepository:
    """One user's bookings and blood-bank reference data in the offline store."""

    BOOKING, BANKS, QUESTIONS, SLOTS, DRAFT = "bb_booking", "bb_banks", "bb_questions", "bb_slots", "bb_draft"
    REFUSAL, REFUSED_CHANGE = "bb_refusal", "bb_refused_change"

    def __init__(self, store: OfflineStore, user_id: str) -> None:
        self._store = store
        self.user_id = user_id

    def transaction(self) -> AbstractContextManager[None]:
        return self._store.transaction()

    # bookings (written by the sync)
    def bookings(self) -> dict[str, contract.Booking]:
        found = {}
        for key, record in self._store.get_kind(self.user_id, self.BOOKING).items():
            try:
                found[key] = contract.Booking.model_validate(record.value)
            except ValidationError:
                continue
        return found

    def put_booking(self, booking: contract.Booking) -> None:
        self._store.put(self.user_id, self.BOOKING, booking.id, booking.model_dump(mode="json"))

    def delete_booking(self, booking_id: str) -> None:
        self._store.delete(self.user_id, self.BOOKING, booking_id)

    def clear_bookings(self) -> None:
        self._store.delete_kind(self.user_id, self.BOOKING)

    # reference data
    def banks(self) -> tuple[list[contract.BloodBank], datetime | None]:
        record = self._store.get(self.user_id, self.BANKS)
        if record is None:
            return [], None
        return [contract.BloodBank.model_validate(b) for b in record.value], record.fetched_at

    def save_banks(self, banks: list[contract.BloodBank], *, fetched_at: datetime) -> None:
        self._store.put(self.user_id, self.BANKS, "", [b.model_dump(mode="json") for b in banks], fetched_at=fetched_at)

    def questions(self, locale: str) -> list[contract.Question]:
        record = self._store.get(self.user_id, self.QUESTIONS, locale)
        return [contract.Question.model_validate(q) for q in record.value] if record else []

    def save_questions(self, locale: str, questions: list[contract.Question], *, fetched_at: datetime) -> None:
        self._store.put(
            self.user_id, self.QUESTIONS, locale, [q.model_dump(mode="json") for q in questions], fetched_at=fetched_at
        )

    @staticmethod
    def _slots_key(bank_id: str, day: date) -> str:
        return f"{bank_id}|{day.isoformat()}"

    def slots(self, bank_id: str, day: date) -> tuple[list[contract.Slot], datetime] | None:
        record = self._store.get(self.user_id, self.SLOTS, self._slots_key(bank_id, day))
        if record is None:
            return None
        return [contract.Slot.model_validate(s) for s in record.value], record.fetched_at

    def save_slots(self, bank_id: str, day: date, slots: list[contract.Slot], *, fetched_at: datetime) -> None:
        self._store.put(
            self.user_id,
            self.SLOTS,
            self._slots_key(bank_id, day),
            [s.model_dump(mode="json") for s in slots],
            fetched_at=fetched_at,
        )

    def forget_old_slots(self, today: date) -> None:
        """Slots of past days are of no use: drop them."""
        for key in self._store.get_kind(self.user_id, self.SLOTS):
            try:
                day = date.fromisoformat(key.rsplit("|", 1)[1])
            except (IndexError, ValueError):
                day = None
            if day is None or day < today:
                self._store.delete(self.user_id, self.SLOTS, key)

    # drafts of queued writes (keyed by outbox item id)
    def drafts(self) -> dict[str, dict[str, Any]]:
        return {key: record.value for key, record in self._store.get_kind(self.user_id, self.DRAFT).items()}

    def put_draft(self, item_id: str, *, bank: contract.BloodBank, slot: contract.Slot) -> None:
        self._store.put(self.user_id, self.DRAFT, item_id, draft_of(bank, slot))

    def delete_draft(self, item_id: str) -> None:
        self._store.delete(self.user_id, self.DRAFT, item_id)

    def forget_drafts(self, keep: set[str]) -> None:
        self._store.delete_kind(self.user_id, self.DRAFT, keep=keep)

    # refusals (eligibility answers, keyed by the refused booking's local id)
    def refusals(self) -> list[Refusal]:
        found = []
        for key, record in self._store.get_kind(self.user_id, self.REFUSAL).items():
            value = record.value
            bank, slot = _draft_parts(value.get("draft"))
            found.append(
                Refusal(
                    id=key,
                    patient_id=str(value.get("patient_id", "")),
                    body=value.get("body") or {},
                    reasons=[str(r) for r in value.get("reasons") or []],
                    bank=bank,
                    slot=slot,
                )
            )
        return found

    def put_refusal(
        self, record_id: str, *, patient_id: str, body: dict[str, Any], reasons: list[str], draft: dict[str, Any] | None
    ) -> None:
        value = {"patient_id": patient_id, "body": body, "reasons": reasons, "draft": draft}
        self._store.put(self.user_id, self.REFUSAL, record_id, value)

    def delete_refusal(self, record_id: str) -> None:
        self._store.delete(self.user_id, self.REFUSAL, record_id)

    # changes of time refused for eligibility (keyed by the booking's record id; the booking stays as it was)
    def refused_changes(self) -> dict[str, RefusedChange]:
        found = {}
        for key, record in self._store.get_kind(self.user_id, self.REFUSED_CHANGE).items():
            _, slot = _draft_parts(record.value.get("draft"))
            found[key] = RefusedChange(slot=slot, reasons=tuple(str(r) for r in record.value.get("reasons") or []))
        return found

    def put_refused_change(self, record_id: str, *, reasons: list[str], draft: dict[str, Any] | None) -> None:
        self._store.put(self.user_id, self.REFUSED_CHANGE, record_id, {"reasons": reasons, "draft": draft})

    def delete_refused_change(self, record_id: str) -> None:
        self._store.delete(self.user_id, self.REFUSED_CHANGE, record_id)


# ---- pure functions ------------------------------------------------------------------------


def draft_of(bank: contract.BloodBank, slot: contract.Slot) -> dict[str, Any]:
    """The bank and slot of a write, as kept beside it (a draft) or with its answer (a refused change)."""
    return {"bank": bank.model_dump(mode="json"), "slot": slot.model_dump(mode="json")}


def _draft_parts(draft: dict[str, Any] | None) -> tuple[contract.BloodBank | None, contract.Slot | None]:
    if not draft:
        return None, None
    try:
        return contract.BloodBank.model_validate(draft["bank"]), contract.Slot.model_validate(draft["slot"])
    except (KeyError, ValidationError):
        return None, None


def _view(booking: contract.Booking) -> BookingView:
    return BookingView(
        id=booking.id,
        patient_id=booking.patient_id,
        bank=booking.bank,
        slot=booking.slot,
        status=booking.status,
        folio=booking.folio,
        donor_name=booking.donor.full_name,
    )


class _Marks(TypedDict):
    """What an outbox item says about a ``BookingView``."""

    mark: Mark
    change: BookingChange | None
    error: str | None
    item_id: str | None


def merge(
    synced: dict[str, contract.Booking],
    outbox: Iterable[OutboxItem],
    drafts: dict[str, dict[str, Any]],
    server_id: Callable[[str], str | None] = lambda rid: rid,
    refused: Mapping[str, RefusedChange] | None = None,
) -> list[BookingView]:
    """The synced bookings with the changes of time refused for them (``refused``, by record id) and the
    outbox's booking writes applied in order; soonest first."""
    views: dict[str, BookingView] = {key: _view(value) for key, value in synced.items()}
    for key, answer in (refused or {}).items():
        rid = server_id(key) or key
        if rid in views:
            views[rid] = replace(views[rid], asked_slot=answer.slot, refused=answer.reasons)
    for item in outbox:
        if item.type != contract.SyncType.BLOOD_BANK_BOOKING:
            continue
        rid = server_id(item.record_id) or item.record_id
        mark = Mark.FAILED if item.state is OutboxState.FAILED else Mark.PENDING
        change = change_of(item)
        bank, slot = _draft_parts(drafts.get(item.id))
        current = views.get(rid)
        marks: _Marks = {
            "mark": mark,
            "change": change,
            "error": item.error if mark is Mark.FAILED else None,
            "item_id": item.id,
        }
        if change is BookingChange.CREATE:
            if current is not None:
                continue
            donor = (item.body or {}).get("donor") or {}
            views[rid] = BookingView(
                id=rid,
                patient_id=item.patient_id,
                bank=bank,
                slot=slot,
                status=None,
                folio=None,
                donor_name=str(donor.get("full_name", "")),
                **marks,
            )
        elif current is None:
            continue
        elif current.mark is Mark.FAILED:
            continue  # an earlier rejection is what the person must see first
        elif change is BookingChange.CANCEL:
            views[rid] = replace(current, **marks)
        elif mark is Mark.FAILED:  # the booking keeps its time; the one asked for is said beside it
            views[rid] = replace(current, asked_slot=slot, refused=(), **marks)
        else:
            views[rid] = replace(current, slot=slot or current.slot, asked_slot=None, refused=(), **marks)
    far = datetime.max.replace(tzinfo=MX)
    return sorted(views.values(), key=lambda v: (v.slot.starts_at if v.slot else far, v.id))


def can_change(view: BookingView, now: datetime) -> bool:
    """Cancel / reschedule: a confirmed booking, nothing waiting for it, not started yet."""
    return (
        view.status is contract.BookingStatus.CONFIRMADA
        and view.mark is Mark.SYNCED
        and view.slot is not None
        and view.slot.starts_at > now
    )


def open_slots(slots: Iterable[contract.Slot], now: datetime) -> list[contract.Slot]:
    """Slots not yet started, by start time (closed and full ones included: the screen says so)."""
    return sorted((s for s in slots if s.starts_at > now), key=lambda s: s.starts_at)


def bookable_days(today: date, count: int = 14, *, open_weekdays: Iterable[int] | None = None) -> list[date]:
    """The days of the next ``count`` from today (Mexico City), within the server's window, on which the bank
    has slots (``open_weekdays``, 0 = Monday; None: the bank did not say, every day)."""
    days = [today + timedelta(days=n) for n in range(min(count, MAX_DAYS_AHEAD + 1))]
    if open_weekdays is None:
        return days
    weekdays = set(open_weekdays)
    return [d for d in days if d.weekday() in weekdays]


def upcoming(views: Iterable[BookingView], now: datetime) -> list[BookingView]:
    """Bookings still to come (or waiting/rejected), then the rest: what "Mis citas" lists first."""

    def later(v: BookingView) -> bool:
        return v.slot is None or v.slot.ends_at >= now or v.mark is not Mark.SYNCED

    views = list(views)
    return [v for v in views if later(v)] + [v for v in views if not later(v)]
