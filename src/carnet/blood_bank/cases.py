"""The "Banco de sangre" use cases for families: choose child, bank, day and slot; the donor form;
"Mis citas de donación" with cancel and reschedule. Part of a family's login scope (``session.blood_bank``); no Flet.

Reads come from the offline store: banks, questionnaire and the last slots
fetched for each bank and day are cached (with when they were fetched), so the
screen works offline. Every write — book, cancel, reschedule — goes to the
outbox first and shows at once as pending; the sync sends it, and the
server's answer (confirmed with a folio, or rejected with every reason)
replaces it. A donor who may not donate yet is an answer, not a failure: the
phone checks the shared eligibility rules before queueing, and a refusal the
server still gives comes back as a ``Refusal`` whose form opens filled, with
every reason, to correct and send again.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Protocol

from carnet.blood_bank.form import DonorForm, check_donor, form_of, not_eligible_on
from carnet.blood_bank.repository import (
    BOOKINGS_PATH,
    CANCEL_PATH,
    RESCHEDULE_PATH,
    BookingRepository,
    BookingView,
    bookable_days,
    can_change,
    draft_of,
    merge,
    open_slots,
    upcoming,
)
from carnet.blood_bank.state import BloodBankUi
from carnet.core.clock import Clock, hhmm, local_date
from carnet.core.i18n import Translator
from carnet.core.ids import new_local_id
from carnet.core.navigation import Navigator, Screen, Tab
from carnet.data.api import ApiClient, ApiError, AuthError, NetworkError
from carnet.data.messages import message_for
from carnet.data.outbox import Outbox, WriteOp
from carnet.data.records import Mark, SyncLedger
from carnet.data.store import OfflineStore
from carnet_contract import models as contract

__all__ = ["BloodBankCases"]

log = logging.getLogger(__name__)


class BloodBankHost(Navigator, Protocol):
    """What of the app's state the blood-bank bookings read and change besides their own."""

    blood_bank: BloodBankUi
    children: list[contract.PatientRef]
    selected_child_id: str | None


class BloodBankCases:
    def __init__(
        self,
        *,
        state: BloodBankHost,
        api: ApiClient,
        bookings: BookingRepository,
        outbox: Outbox,
        ledger: SyncLedger,
        store: OfflineStore,
        tr: Translator,
        clock: Clock,
        request_sync: Callable[[], None],
        session_expired: Callable[[], Awaitable[None]],
    ) -> None:
        self._state = state
        self._api = api
        self._bookings = bookings
        self._outbox = outbox
        self._ledger = ledger
        self._store = store
        self._tr = tr
        self._clock = clock
        self._request_sync = request_sync
        self._session_expired = session_expired

    @property
    def _ui(self) -> BloodBankUi:
        return self._state.blood_bank

    def today(self) -> date:
        return local_date(self._clock())

    # ---- loading -----------------------------------------------------------------------------

    def reload(self) -> None:
        """Re-read bookings (outbox laid over), banks, questionnaire and cached slots (one redraw)."""
        with self._state.batch():
            self._reload()

    def _reload(self) -> None:
        ui = self._ui
        repo = self._bookings
        children = {c.id for c in self._state.children}
        items = self._outbox.items()
        synced = repo.bookings()
        not_moved = repo.refused_changes()
        with repo.transaction():
            repo.forget_drafts(keep={i.id for i in items})
            repo.forget_old_slots(self.today())
            for record_id in [k for k in not_moved if (self._ledger.server_id(k) or k) not in synced]:
                repo.delete_refused_change(record_id)  # its booking is gone: so is the answer about it
                del not_moved[record_id]
        views = merge(synced, items, repo.drafts(), self._ledger.server_id, not_moved)
        bookings = upcoming([v for v in views if not children or v.patient_id in children], self._clock())
        refusals = [r for r in repo.refusals() if not children or r.patient_id in children]
        ui.show_refusals(refusals)
        selected_id = ui.selected_id
        if selected_id is not None:
            selected_id = self._ledger.server_id(selected_id) or selected_id
            refused = next((r for r in refusals if r.id == selected_id), None)
            if refused is not None and self._state.screen is Screen.BOOKING:
                # The booking being watched was answered "may not donate yet": its form, filled, with why.
                ui.show_bookings(bookings, None)
                self._open_refusal(refused.id)
                selected_id = None
            elif not any(v.id == selected_id for v in bookings):
                if self._state.screen is Screen.BOOKING:
                    self._state.go_to(Screen.BLOOD_BANK)
                    ui.show_message(self._tr.t("bb_booking_gone"))
                selected_id = None
        ui.show_bookings(bookings, selected_id)
        selected = next((v for v in bookings if v.id == selected_id), None)
        if selected is not None and selected.mark is not Mark.PENDING and ui.message in self._pending_messages():
            ui.dismiss_message()  # the server answered: the "pending" note is no longer true
        banks, _ = repo.banks()
        ui.show_reference(banks, repo.questions(self._tr.locale))
        if ui.patient_id not in children:
            ui.choose_child(
                self._state.selected_child_id
                if self._state.selected_child_id in children
                else (self._state.children[0].id if len(self._state.children) == 1 else None)
            )
        if ui.bank_id not in {b.id for b in banks}:
            ui.choose_bank(banks[0].id if len(banks) == 1 else None)
        self._day_with_slots()
        self._cached_slots()

    def days(self) -> list[date]:
        """The day chips: the days ahead on which the chosen bank has slots."""
        bank = self._bank(self._ui.bank_id)
        return bookable_days(self.today(), open_weekdays=bank.open_weekdays if bank else None)

    def _day_with_slots(self) -> None:
        """The chosen day, if it is still ahead and the bank has slots on it; else the first that is."""
        ui, today = self._ui, self.today()
        days = self.days()
        if ui.day is None or ui.day < today or (ui.day not in days and not ui.rescheduling_id):
            ui.choose_day(days[0] if days else today)

    def _pending_messages(self) -> set[str]:
        t = self._tr.t
        return {t("bb_saved_pending"), t("bb_cancel_pending"), t("bb_reschedule_pending")}

    def _cached_slots(self) -> None:
        ui = self._ui
        cached = self._bookings.slots(ui.bank_id, ui.day) if ui.bank_id and ui.day else None
        slots, fetched_at = cached if cached else ([], None)
        ui.show_slots(open_slots(slots, self._clock()), fetched_at)

    async def fetch_reference(self) -> None:
        """Online: the banks and the questionnaire (in the app's language) into the cache."""
        try:
            banks = await self._api.blood_banks()
            questions = await self._api.questionnaire()
        except AuthError:
            raise
        except ApiError as exc:
            log.info("blood-bank reference data not refreshed: %s", type(exc).__name__)
            return
        now = self._clock()
        with self._bookings.transaction():
            self._bookings.save_banks(banks, fetched_at=now)
            self._bookings.save_questions(self._tr.locale, questions, fetched_at=now)

    async def open(self) -> None:
        """The tab: cached data at once, then fresh slots (and, if missing, the reference data)."""
        with self._state.batch():
            self._state.go_to(Screen.BLOOD_BANK, tab=Tab.BLOOD_BANK)
            self._reload()
        if not self._ui.banks or not self._ui.questions:
            try:
                await self.fetch_reference()
            except AuthError:
                await self._session_expired()
                return
            self.reload()
        await self.load_slots()

    async def load_slots(self) -> None:
        """The chosen bank and day: the cached slots at once, then the server's (kept with the time fetched)."""
        ui = self._ui
        if not ui.bank_id or ui.day is None:
            return
        bank_id, day = ui.bank_id, ui.day
        with self._state.batch():
            self._cached_slots()
            ui.start_loading_slots()
        problem: ApiError | None = None
        try:
            slots = await self._api.slots(bank_id, day)
        except AuthError:
            ui.stop_loading_slots()
            await self._session_expired()
            return
        except ApiError as exc:
            problem = exc
        else:
            if self._bookings is not None:
                with self._bookings.transaction():
                    self._bookings.save_slots(bank_id, day, slots, fetched_at=self._clock())
        with self._state.batch():
            if isinstance(problem, NetworkError):
                self._state.set_online(False)
            elif problem is not None:
                ui.show_message(message_for(self._tr, problem))
            ui.stop_loading_slots(cached=problem is not None)
            if (ui.bank_id, ui.day) == (bank_id, day):  # the person may have moved on meanwhile
                self._cached_slots()

    # ---- choices ------------------------------------------------------------------------------

    def pick_child(self, patient_id: str) -> None:
        if patient_id in {c.id for c in self._state.children}:
            self._ui.choose_child(patient_id)

    async def pick_bank(self, bank_id: str) -> None:
        if bank_id in {b.id for b in self._ui.banks} and not self._ui.rescheduling_id:
            with self._state.batch():
                self._ui.choose_bank(bank_id)
                self._day_with_slots()
            await self.load_slots()

    async def pick_day(self, day: date) -> None:
        if day >= self.today():
            self._ui.choose_day(day)
            await self.load_slots()

    def pick_slot(self, slot_id: str) -> None:
        """A free slot: the donor form (or, when rescheduling, the change goes to the outbox)."""
        ui = self._ui
        slot = next((x for x in ui.slots if x.id == slot_id), None)
        if slot is None or slot.closed or slot.available <= 0:
            return
        if ui.rescheduling_id:
            self._queue_reschedule(ui.rescheduling_id, slot)
            return
        if ui.patient_id is None:
            ui.show_message(self._tr.t("bb_pick_child_first"))
            return
        keep = ui.form if ui.form is not None else None
        form = DonorForm(patient_id=ui.patient_id, slot_id=slot.id)
        if keep is not None:  # a second try keeps what was typed
            for name in (
                "full_name",
                "phone",
                "birth_text",
                "weight_text",
                "sex",
                "last_donation_text",
                "reminder_consent",
            ):
                setattr(form, name, getattr(keep, name))
            form.answers = dict(keep.answers)
        with self._state.batch():
            ui.open_form(form)
            self._state.go_to(Screen.BOOKING_FORM)

    def answer(self, question_id: str, value: bool) -> None:
        if self._ui.form is not None and any(q.id == question_id for q in self._ui.questions):
            self._ui.answer(question_id, value)

    def set_sex(self, value: str) -> None:
        if self._ui.form is not None:
            self._ui.choose_sex(value)

    def dismiss_message(self) -> None:
        self._ui.dismiss_message()

    # ---- writes (through the outbox) ------------------------------------------------------------

    def _bank(self, bank_id: str | None) -> contract.BloodBank | None:
        return next((b for b in self._ui.banks if b.id == bank_id), None)

    def _label(self, bank: contract.BloodBank, slot: contract.Slot) -> str:
        return f"{self._tr.date(local_date(slot.starts_at))} {hhmm(slot.starts_at)} · {bank.name}"

    def submit(self, form: DonorForm) -> bool:
        """Check the form, then the donor's eligibility on the slot's day; on success queue the booking and
        show it as pending. False: field messages or the refusal's reasons, the form as typed, nothing queued."""
        ui = self._ui
        bank = self._bank(ui.bank_id)
        slot = next((x for x in ui.slots if x.id == form.slot_id), None)
        result = check_donor(
            form,
            ui.questions,
            self._tr,
            today=self.today(),
            children={c.id for c in self._state.children},
            on=local_date(slot.starts_at) if slot is not None else None,
        )
        if result.refusal and bank is not None and slot is not None:
            form.errors, form.refusal = {}, list(result.refusal)
            ui.form_refused(form, None)
            return False
        if result.body is None or bank is None or slot is None:
            form.errors = result.errors or {"slot": self._tr.t("bb_err_slot")}
            form.refusal = []
            ui.form_refused(form, self._tr.t("form_fix"))
            return False
        form.errors, form.refusal = {}, []
        record_id, item_id = new_local_id(), str(uuid.uuid4())
        with self._store.transaction():  # the write and what draws it, together
            self._outbox.add(
                type=contract.SyncType.BLOOD_BANK_BOOKING,
                op=WriteOp.CREATE,
                method="POST",
                path=BOOKINGS_PATH,
                body=result.body,
                record_id=record_id,
                patient_id=form.patient_id,
                label=self._label(bank, slot),
                now=self._clock(),
                item_id=item_id,
            )
            self._bookings.put_draft(item_id, bank=bank, slot=slot)
            if form.refused_id:
                self._bookings.delete_refusal(form.refused_id)  # corrected and sent again
        with self._state.batch():
            ui.booking_queued(record_id, self._tr.t("bb_saved_pending"))
            self._reload()
            self._state.go_to(Screen.BOOKING)
        self._request_sync()
        return True

    def _open_refusal(self, refusal_id: str) -> bool:
        """The refused booking's form, filled as sent, at its bank and day, with every reason."""
        ui = self._ui
        refusal = next((r for r in ui.refusals if r.id == refusal_id), None)
        form = form_of(refusal.body, refusal=refusal.reasons, refused_id=refusal.id) if refusal else None
        if refusal is None or form is None:
            return False
        if refusal.slot is not None and not ui.rescheduling_id:
            ui.choose_bank(refusal.slot.bank_id)
            ui.choose_day(max(local_date(refusal.slot.starts_at), self.today()))
        if form.patient_id in {c.id for c in self._state.children}:
            ui.choose_child(form.patient_id)
        self._cached_slots()
        ui.correct_refusal(form)
        self._state.go_to(Screen.BOOKING_FORM)
        return True

    async def correct(self, refusal_id: str) -> None:
        """ "Corregir y enviar de nuevo": the refused booking's form, filled, then that day's slots fresh."""
        with self._state.batch():
            opened = self._open_refusal(refusal_id)
        if opened:
            await self.load_slots()

    def forget_refusal(self, refusal_id: str) -> None:
        """The family read the answer and does not want to correct it: it leaves "Mis citas"."""
        with self._bookings.transaction():
            self._bookings.delete_refusal(refusal_id)
        self.reload()

    def forget_refused_change(self, booking_id: str) -> None:
        """The family read why the time did not change: the answer leaves the booking (which kept its time)."""
        with self._bookings.transaction():
            self._bookings.delete_refused_change(booking_id)
        self.reload()

    def open_booking(self, booking_id: str) -> None:
        ui = self._ui
        if any(v.id == booking_id for v in ui.bookings):
            with self._state.batch():
                ui.open_booking(booking_id)
                self._state.go_to(Screen.BOOKING)

    def close(self) -> None:
        """Back from the form, the booking, or a reschedule."""
        ui = self._ui
        with self._state.batch():
            if ui.rescheduling_id and self._state.screen is Screen.BLOOD_BANK:
                ui.stop_reschedule()
                self._state.go_to(Screen.BOOKING)
            else:
                self._state.go_to(Screen.BLOOD_BANK)
                ui.close_booking()

    def ask_cancel(self, confirm: bool = True) -> None:
        self._ui.ask_cancel(confirm)

    def _changeable(self, booking_id: str) -> BookingView | None:
        view = next((v for v in self._ui.bookings if v.id == booking_id), None)
        return view if view is not None and can_change(view, self._clock()) else None

    def cancel(self, booking_id: str) -> None:
        ui = self._ui
        view = self._changeable(booking_id)
        if view is None or view.bank is None or view.slot is None:
            return
        self._outbox.add(
            type=contract.SyncType.BLOOD_BANK_BOOKING,
            op=WriteOp.UPDATE,
            method="POST",
            path=CANCEL_PATH,
            body=None,
            record_id=view.id,
            patient_id=view.patient_id,
            label=self._label(view.bank, view.slot),
            now=self._clock(),
        )
        with self._state.batch():
            ui.cancel_queued(self._tr.t("bb_cancel_pending"))
            self._reload()
        self._request_sync()

    async def start_reschedule(self, booking_id: str) -> None:
        ui = self._ui
        view = self._changeable(booking_id)
        if view is None or view.bank is None or view.slot is None:
            return
        with self._state.batch():
            ui.start_reschedule(view.id, view.bank.id, max(local_date(view.slot.starts_at), self.today()))
            self._state.go_to(Screen.BLOOD_BANK)
        await self.load_slots()

    def _queue_reschedule(self, booking_id: str, slot: contract.Slot) -> None:
        ui = self._ui
        view = self._changeable(booking_id)
        if view is None or view.bank is None:
            return
        if view.slot is not None and view.slot.id == slot.id:
            return
        booked = self._bookings.bookings().get(view.id)
        refusal = not_eligible_on(booked.donor, local_date(slot.starts_at), self._tr) if booked else ()
        if refusal:  # the answer at once, as the server's would be: beside the booking, which keeps its time
            with self._store.transaction():
                self._bookings.put_refused_change(view.id, reasons=list(refusal), draft=draft_of(view.bank, slot))
            with self._state.batch():
                ui.reschedule_queued(view.id, None)
                self._reload()
                self._state.go_to(Screen.BOOKING)
            return
        item_id = str(uuid.uuid4())
        with self._store.transaction():
            self._outbox.add(
                type=contract.SyncType.BLOOD_BANK_BOOKING,
                op=WriteOp.UPDATE,
                method="POST",
                path=RESCHEDULE_PATH,
                body=contract.RescheduleRequest(slot_id=slot.id).model_dump(),
                record_id=view.id,
                patient_id=view.patient_id,
                label=self._label(view.bank, slot),
                now=self._clock(),
                item_id=item_id,
            )
            self._bookings.put_draft(item_id, bank=view.bank, slot=slot)
            self._bookings.delete_refused_change(view.id)  # a new time asked for: the last answer is past
        with self._state.batch():
            ui.reschedule_queued(view.id, self._tr.t("bb_reschedule_pending"))
            self._reload()
            self._state.go_to(Screen.BOOKING)
        self._request_sync()
