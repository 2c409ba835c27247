"""What the blood-bank screens draw (families' bookings, staff's day list); changed only by their own methods."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from carnet.blood_bank.form import DonorForm
from carnet.blood_bank.repository import BookingView, Refusal
from carnet.core.observable import Observable, change
from carnet_contract import models as contract


@dataclass(eq=False)
class BloodBankUi(Observable):
    """The "Banco de sangre" tab: the choices made, the slots shown, the form, "Mis citas de donación"."""

    patient_id: str | None = None
    bank_id: str | None = None
    day: date | None = None
    banks: list[contract.BloodBank] = field(default_factory=list)
    slots: list[contract.Slot] = field(default_factory=list)
    #: When the slots shown were fetched (None: none saved for this bank and day).
    slots_fetched_at: datetime | None = None
    #: True when the slots shown come from the phone's cache (no answer from the server just now).
    slots_cached: bool = False
    loading_slots: bool = False
    questions: list[contract.Question] = field(default_factory=list)
    form: DonorForm | None = None
    bookings: list[BookingView] = field(default_factory=list)
    #: Bookings answered "this donor may not donate yet" (answers, not sync failures).
    refusals: list[Refusal] = field(default_factory=list)
    selected_id: str | None = None
    confirm_cancel: bool = False
    #: The booking whose new slot is being chosen (reschedule), else None.
    rescheduling_id: str | None = None
    message: str | None = None

    # ---- what the phone holds -------------------------------------------------------------------

    @change
    def show_bookings(self, bookings: list[BookingView], selected_id: str | None) -> None:
        self.bookings, self.selected_id = bookings, selected_id

    @change
    def show_refusals(self, refusals: list[Refusal]) -> None:
        self.refusals = refusals

    @change
    def show_reference(self, banks: list[contract.BloodBank], questions: list[contract.Question]) -> None:
        self.banks, self.questions = banks, questions

    @change
    def show_slots(self, slots: list[contract.Slot], fetched_at: datetime | None) -> None:
        self.slots, self.slots_fetched_at = slots, fetched_at

    @change
    def start_loading_slots(self) -> None:
        self.loading_slots, self.slots_cached = True, False

    @change
    def stop_loading_slots(self, *, cached: bool = False) -> None:
        """The server answered (``cached`` False) or not: the slots shown are the phone's."""
        self.loading_slots = False
        self.slots_cached = self.slots_cached or cached

    # ---- choices --------------------------------------------------------------------------------

    @change
    def choose_child(self, patient_id: str | None) -> None:
        self.patient_id = patient_id

    @change
    def choose_bank(self, bank_id: str | None) -> None:
        self.bank_id = bank_id

    @change
    def choose_day(self, day: date) -> None:
        self.day = day

    @change
    def open_form(self, form: DonorForm) -> None:
        self.form, self.message = form, None

    @change
    def answer(self, question_id: str, value: bool) -> None:
        if self.form is not None:
            self.form.answers[question_id] = value
            self.form.errors.pop("answers", None)

    @change
    def choose_sex(self, value: str) -> None:
        if self.form is not None:
            self.form.sex = value
            self.form.errors.pop("sex", None)

    @change
    def form_refused(self, form: DonorForm, message: str | None) -> None:
        """The form comes back (as typed): field messages, or the donor's refusal (``form.refusal``)."""
        self.form, self.message = form, message

    @change
    def correct_refusal(self, form: DonorForm) -> None:
        """A refused booking's form, filled as it was sent, with the reasons: to correct and send again."""
        self.form, self.message, self.selected_id, self.confirm_cancel = form, None, None, False
        self.rescheduling_id = None

    # ---- bookings -------------------------------------------------------------------------------

    @change
    def booking_queued(self, record_id: str, message: str) -> None:
        """The donor form was sent to the outbox: its booking is shown, pending."""
        self.form, self.selected_id, self.message = None, record_id, message

    @change
    def open_booking(self, booking_id: str) -> None:
        self.selected_id, self.confirm_cancel, self.message = booking_id, False, None

    @change
    def close_booking(self) -> None:
        self.selected_id, self.confirm_cancel, self.form = None, False, None

    @change
    def ask_cancel(self, confirm: bool) -> None:
        self.confirm_cancel = confirm

    @change
    def cancel_queued(self, message: str) -> None:
        self.confirm_cancel, self.message = False, message

    @change
    def start_reschedule(self, booking_id: str, bank_id: str, day: date) -> None:
        self.rescheduling_id, self.bank_id, self.day = booking_id, bank_id, day
        self.confirm_cancel, self.message = False, None

    @change
    def stop_reschedule(self) -> None:
        """Back from choosing a new slot: the booking being moved is shown again."""
        self.selected_id, self.rescheduling_id, self.form = self.rescheduling_id, None, None

    @change
    def reschedule_queued(self, booking_id: str, message: str | None) -> None:
        """The new time asked for (``message`` says it waits to be sent), or refused on the phone (None)."""
        self.rescheduling_id, self.selected_id, self.message = None, booking_id, message

    @change
    def show_message(self, message: str | None) -> None:
        self.message = message

    def dismiss_message(self) -> None:
        self.show_message(None)


@dataclass(eq=False)
class StaffUi(Observable):
    """Blood-bank staff (online only): their banks, the day's list, donor counts per child."""

    banks: list[contract.BloodBank] = field(default_factory=list)
    bank_id: str | None = None
    day: date | None = None
    bookings: list[contract.StaffBooking] = field(default_factory=list)
    #: patient id → (display name, came today, came this week, booked this week)
    counts: list[tuple[str, int, int, int]] = field(default_factory=list)
    loading: bool = False
    #: Booking ids whose check-in / no-show is being sent.
    busy_ids: set[str] = field(default_factory=set)
    message: str | None = None
    error: str | None = None
    #: ``(booking id, "override" | "undo")``: a check-in on another day, or an undo, waiting for its reason.
    asking: tuple[str, str] | None = None
    #: Why the reason typed was refused (shown under its field).
    reason_error: str | None = None
    #: How many times the day or bank was changed: a load that began before the last change read another list.
    moves: int = 0

    @change
    def start_loading(self) -> None:
        self.loading = True

    @change
    def loaded(
        self,
        *,
        banks: list[contract.BloodBank],
        bank_id: str | None,
        day: date | None,
        day_list: tuple[list[contract.StaffBooking], list[tuple[str, int, int, int]]] | None,
        error: str | None,
    ) -> None:
        """What a load found (``day_list`` None: the day's list was not fetched; the last one stays)."""
        self.banks, self.bank_id, self.day = banks, bank_id, day
        if day_list is not None:
            self.bookings, self.counts = day_list
        self.error, self.loading = error, False

    @change
    def stop_loading(self) -> None:
        self.loading = False

    @change
    def move_to(self, *, day: date | None = None, bank_id: str | None = None) -> None:
        """Another day or bank: its list is to be loaded (the last one is cleared meanwhile)."""
        if day is not None:
            self.day, self.message = day, None
        if bank_id is not None:
            self.bank_id = bank_id
        self.moves += 1
        self.bookings, self.counts = [], []
        self.asking, self.reason_error = None, None

    @change
    def start_marking(self, booking_id: str) -> None:
        self.busy_ids = self.busy_ids | {booking_id}
        self.message = self.error = None

    @change
    def ask(self, asking: tuple[str, str] | None, error: str | None = None) -> None:
        """Ask for the reason of an out-of-day check-in or of an undo (None: stop asking)."""
        self.asking, self.reason_error, self.message, self.error = asking, None, None, error

    @change
    def reason_refused(self, error: str) -> None:
        self.reason_error = error

    @change
    def marked(
        self, booking_id: str, done: contract.StaffBooking | None, *, message: str | None, error: str | None
    ) -> None:
        """The check-in / no-show answered (``done``: the booking as the server has it now) or failed."""
        self.busy_ids = self.busy_ids - {booking_id}
        if done is not None:
            self.bookings = [done if b.id == booking_id else b for b in self.bookings]
            if self.asking is not None and self.asking[0] == booking_id:
                self.asking, self.reason_error = None, None
        if message is not None:
            self.message = message
        if error is not None:
            self.error = error

    @change
    def show_message(self, message: str | None) -> None:
        self.message = message

    def dismiss_message(self) -> None:
        self.show_message(None)
