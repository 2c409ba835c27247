"""The "Banco de sangre" use cases for families: choose child, bank, day and slot; the donor form;
"Mis citas de donación" with cancel and reschedule. Part of the session (``session.blood_bank``); no Flet.

Reads come from the offline store: banks, questionnaire and the last slots
fetched for each bank and day are cached (with when they were fetched), so the
screen works offline. Every write — book, cancel, reschedule — goes to the
outbox first and shows at once as pending; the sync sends it, and the
server's answer (confirmed with a folio, or rejected with every reason)
replaces it.
"""

from __future__ import annotations

import logging
import uuid
from datetime import date
from typing import TYPE_CHECKING

from carnet.blood_bank.form import DonorForm, check_donor
from carnet.blood_bank.repository import (
    BOOKINGS_PATH,
    CANCEL_PATH,
    RESCHEDULE_PATH,
    BookingView,
    can_change,
    merge,
    open_slots,
    upcoming,
)
from carnet.blood_bank.state import BloodBankUi
from carnet.core.clock import MX, local_date
from carnet.core.ids import new_local_id
from carnet.core.navigation import Screen, Tab
from carnet.data.api import ApiError, AuthError, NetworkError
from carnet.data.outbox import WriteOp
from carnet.data.records import Mark
from carnet_contract import models as contract

if TYPE_CHECKING:
    from carnet.shell.session import AppSession

__all__ = ["BloodBankCases"]

log = logging.getLogger(__name__)


class BloodBankCases:
    def __init__(self, session: AppSession) -> None:
        self._s = session

    @property
    def _ui(self) -> BloodBankUi:
        return self._s.state.blood_bank

    def today(self) -> date:
        return local_date(self._s.clock())

    def _redraw(self) -> None:
        self._s.state.changed()

    # ---- loading -----------------------------------------------------------------------------

    def reload(self) -> None:
        """Re-read bookings (outbox laid over), banks, questionnaire and cached slots (no redraw)."""
        s, ui = self._s, self._ui
        repo = s.bookings
        if repo is None or s.outbox is None or s.records is None:
            return
        children = {c.id for c in s.state.children}
        items = s.outbox.items()
        with repo.transaction():
            repo.forget_drafts(keep={i.id for i in items})
            repo.forget_old_slots(self.today())
        views = merge(repo.bookings(), items, repo.drafts(), s.records.server_id)
        ui.bookings = upcoming([v for v in views if not children or v.patient_id in children], s.clock())
        if ui.selected_id is not None:
            ui.selected_id = s.records.server_id(ui.selected_id) or ui.selected_id
            if not any(v.id == ui.selected_id for v in ui.bookings):
                if s.state.screen is Screen.BOOKING:
                    s.state.screen = Screen.BLOOD_BANK
                    ui.message = s.tr.t("bb_booking_gone")
                ui.selected_id = None
        selected = next((v for v in ui.bookings if v.id == ui.selected_id), None)
        if selected is not None and selected.mark is not Mark.PENDING and ui.message in self._pending_messages():
            ui.message = None  # the server answered: the "pending" note is no longer true
        ui.banks, _ = repo.banks()
        ui.questions = repo.questions(s.tr.locale)
        if ui.patient_id not in children:
            ui.patient_id = (
                s.state.selected_child_id
                if s.state.selected_child_id in children
                else (s.state.children[0].id if len(s.state.children) == 1 else None)
            )
        if ui.bank_id not in {b.id for b in ui.banks}:
            ui.bank_id = ui.banks[0].id if len(ui.banks) == 1 else None
        if ui.day is None or ui.day < self.today():
            ui.day = self.today()
        self._cached_slots()

    def _pending_messages(self) -> set[str]:
        t = self._s.tr.t
        return {t("bb_saved_pending"), t("bb_cancel_pending"), t("bb_reschedule_pending")}

    def _cached_slots(self) -> None:
        s, ui = self._s, self._ui
        cached = s.bookings.slots(ui.bank_id, ui.day) if s.bookings and ui.bank_id and ui.day else None
        ui.slots, ui.slots_fetched_at = cached if cached else ([], None)
        ui.slots = open_slots(ui.slots, s.clock())

    async def fetch_reference(self) -> None:
        """Online: the banks and the questionnaire (in the app's language) into the cache."""
        s = self._s
        if s.bookings is None:
            return
        try:
            banks = await s.api.blood_banks()
            questions = await s.api.questionnaire()
        except AuthError:
            raise
        except ApiError as exc:
            log.info("blood-bank reference data not refreshed: %s", type(exc).__name__)
            return
        now = s.clock()
        with s.bookings.transaction():
            s.bookings.save_banks(banks, fetched_at=now)
            s.bookings.save_questions(s.tr.locale, questions, fetched_at=now)

    async def open(self) -> None:
        """The tab: cached data at once, then fresh slots (and, if missing, the reference data)."""
        s = self._s
        s.state.tab, s.state.screen = Tab.BLOOD_BANK, Screen.BLOOD_BANK
        self.reload()
        self._redraw()
        if s.bookings is not None and (not self._ui.banks or not self._ui.questions):
            try:
                await self.fetch_reference()
            except AuthError:
                await s.session_expired()
                return
            self.reload()
            self._redraw()
        await self.load_slots()

    async def load_slots(self) -> None:
        """The chosen bank and day: the cached slots at once, then the server's (kept with the time fetched)."""
        s, ui = self._s, self._ui
        if s.bookings is None or not ui.bank_id or ui.day is None:
            return
        bank_id, day = ui.bank_id, ui.day
        self._cached_slots()
        ui.loading_slots, ui.slots_cached = True, False
        self._redraw()
        try:
            slots = await s.api.slots(bank_id, day)
        except AuthError:
            ui.loading_slots = False
            await s.session_expired()
            return
        except NetworkError:
            ui.slots_cached = True
            s.state.online = False
        except ApiError as exc:
            ui.slots_cached = True
            ui.message = s.message_for(exc)
        else:
            if s.bookings is not None:
                with s.bookings.transaction():
                    s.bookings.save_slots(bank_id, day, slots, fetched_at=s.clock())
        finally:
            ui.loading_slots = False
        if (ui.bank_id, ui.day) == (bank_id, day):  # the person may have moved on meanwhile
            self._cached_slots()
        self._redraw()

    # ---- choices ------------------------------------------------------------------------------

    def pick_child(self, patient_id: str) -> None:
        if patient_id in {c.id for c in self._s.state.children}:
            self._ui.patient_id = patient_id
        self._redraw()

    async def pick_bank(self, bank_id: str) -> None:
        if bank_id in {b.id for b in self._ui.banks} and not self._ui.rescheduling_id:
            self._ui.bank_id = bank_id
            await self.load_slots()

    async def pick_day(self, day: date) -> None:
        if day >= self.today():
            self._ui.day = day
            await self.load_slots()

    def pick_slot(self, slot_id: str) -> None:
        """A free slot: the donor form (or, when rescheduling, the change goes to the outbox)."""
        s, ui = self._s, self._ui
        slot = next((x for x in ui.slots if x.id == slot_id), None)
        if slot is None or slot.closed or slot.available <= 0:
            return
        if ui.rescheduling_id:
            self._queue_reschedule(ui.rescheduling_id, slot)
            return
        if ui.patient_id is None:
            ui.message = s.tr.t("bb_pick_child_first")
            self._redraw()
            return
        keep = ui.form if ui.form is not None else None
        ui.form = DonorForm(patient_id=ui.patient_id, slot_id=slot.id)
        if keep is not None:  # a second try keeps what was typed
            for name in ("full_name", "phone", "birth_text", "weight_text", "sex", "last_donation_text"):
                setattr(ui.form, name, getattr(keep, name))
            ui.form.answers = dict(keep.answers)
        ui.message = None
        s.state.screen = Screen.BOOKING_FORM
        self._redraw()

    def answer(self, question_id: str, value: bool) -> None:
        form = self._ui.form
        if form is not None and any(q.id == question_id for q in self._ui.questions):
            form.answers[question_id] = value
            form.errors.pop("answers", None)
            self._redraw()

    def set_sex(self, value: str) -> None:
        if self._ui.form is not None:
            self._ui.form.sex = value
            self._ui.form.errors.pop("sex", None)
            self._redraw()

    def dismiss_message(self) -> None:
        self._ui.message = None
        self._redraw()

    # ---- writes (through the outbox) ------------------------------------------------------------

    def _bank(self, bank_id: str | None) -> contract.BloodBank | None:
        return next((b for b in self._ui.banks if b.id == bank_id), None)

    def _label(self, bank: contract.BloodBank, slot: contract.Slot) -> str:
        start = slot.starts_at.astimezone(MX)
        return f"{self._s.tr.date(start.date())} {start:%H:%M} · {bank.name}"

    def submit(self, form: DonorForm) -> bool:
        """Check the form; on success queue the booking and show it as pending. False: messages, nothing queued."""
        s, ui = self._s, self._ui
        if s.outbox is None or s.bookings is None or s.store is None:
            return False
        result = check_donor(form, ui.questions, s.tr, today=self.today(), children={c.id for c in s.state.children})
        bank = self._bank(ui.bank_id)
        slot = next((x for x in ui.slots if x.id == form.slot_id), None)
        if result.body is None or bank is None or slot is None:
            form.errors = result.errors or {"slot": s.tr.t("bb_err_slot")}
            ui.form, ui.message = form, s.tr.t("form_fix")
            self._redraw()
            return False
        form.errors = {}
        record_id, item_id = new_local_id(), str(uuid.uuid4())
        with s.store.transaction():  # the write and what draws it, together
            s.outbox.add(
                type=contract.SyncType.BLOOD_BANK_BOOKING,
                op=WriteOp.CREATE,
                method="POST",
                path=BOOKINGS_PATH,
                body=result.body,
                record_id=record_id,
                patient_id=form.patient_id,
                label=self._label(bank, slot),
                now=s.clock(),
                item_id=item_id,
            )
            s.bookings.put_draft(item_id, bank=bank, slot=slot)
        ui.form, ui.selected_id, ui.message = None, record_id, s.tr.t("bb_saved_pending")
        self.reload()
        s.state.screen = Screen.BOOKING
        self._redraw()
        s.request_sync()
        return True

    def open_booking(self, booking_id: str) -> None:
        ui = self._ui
        if any(v.id == booking_id for v in ui.bookings):
            ui.selected_id, ui.confirm_cancel, ui.message = booking_id, False, None
            self._s.state.screen = Screen.BOOKING
            self._redraw()

    def close(self) -> None:
        """Back from the form, the booking, or a reschedule."""
        s, ui = self._s, self._ui
        if ui.rescheduling_id and s.state.screen is Screen.BLOOD_BANK:
            ui.selected_id, ui.rescheduling_id = ui.rescheduling_id, None
            s.state.screen = Screen.BOOKING
        else:
            s.state.screen = Screen.BLOOD_BANK
            ui.selected_id, ui.confirm_cancel = None, False
        ui.form = None
        self._redraw()

    def ask_cancel(self, confirm: bool = True) -> None:
        self._ui.confirm_cancel = confirm
        self._redraw()

    def _changeable(self, booking_id: str) -> BookingView | None:
        view = next((v for v in self._ui.bookings if v.id == booking_id), None)
        return view if view is not None and can_change(view, self._s.clock()) else None

    def cancel(self, booking_id: str) -> None:
        s, ui = self._s, self._ui
        view = self._changeable(booking_id)
        if s.outbox is None or view is None or view.bank is None or view.slot is None:
            return
        s.outbox.add(
            type=contract.SyncType.BLOOD_BANK_BOOKING,
            op=WriteOp.UPDATE,
            method="POST",
            path=CANCEL_PATH,
            body=None,
            record_id=view.id,
            patient_id=view.patient_id,
            label=self._label(view.bank, view.slot),
            now=s.clock(),
        )
        ui.confirm_cancel, ui.message = False, s.tr.t("bb_cancel_pending")
        self.reload()
        self._redraw()
        s.request_sync()

    async def start_reschedule(self, booking_id: str) -> None:
        s, ui = self._s, self._ui
        view = self._changeable(booking_id)
        if view is None or view.bank is None or view.slot is None:
            return
        ui.rescheduling_id, ui.bank_id, ui.confirm_cancel = view.id, view.bank.id, False
        ui.day = max(local_date(view.slot.starts_at), self.today())
        ui.message = None
        s.state.screen = Screen.BLOOD_BANK
        self._redraw()
        await self.load_slots()

    def _queue_reschedule(self, booking_id: str, slot: contract.Slot) -> None:
        s, ui = self._s, self._ui
        view = self._changeable(booking_id)
        if s.outbox is None or s.bookings is None or s.store is None or view is None or view.bank is None:
            return
        if view.slot is not None and view.slot.id == slot.id:
            return
        item_id = str(uuid.uuid4())
        with s.store.transaction():
            s.outbox.add(
                type=contract.SyncType.BLOOD_BANK_BOOKING,
                op=WriteOp.UPDATE,
                method="POST",
                path=RESCHEDULE_PATH,
                body=contract.RescheduleRequest(slot_id=slot.id).model_dump(),
                record_id=view.id,
                patient_id=view.patient_id,
                label=self._label(view.bank, slot),
                now=s.clock(),
                item_id=item_id,
            )
            s.bookings.put_draft(item_id, bank=view.bank, slot=slot)
        ui.rescheduling_id, ui.selected_id, ui.message = None, view.id, s.tr.t("bb_reschedule_pending")
        self.reload()
        s.state.screen = Screen.BOOKING
        self._redraw()
        s.request_sync()
