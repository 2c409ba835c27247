"""What the agenda screens draw; changed only by its own methods."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from carnet.agenda.form import AppointmentForm
from carnet.agenda.repository import AgendaItem
from carnet.core.observable import Observable, change
from carnet_contract import models as contract


@dataclass(eq=False)
class AgendaUi(Observable):
    """What the agenda screens show: month, day, filters, the chosen appointment, the form."""

    month: date | None = None  # first day of the month shown
    day: date | None = None
    patient_id: str | None = None  # None: every child
    kind: contract.AppointmentKind | None = None  # None: every kind
    items: list[AgendaItem] = field(default_factory=list)
    selected_id: str | None = None
    confirm_delete: bool = False
    form: AppointmentForm | None = None
    #: A short confirmation or problem shown at the top of the agenda screens.
    message: str | None = None

    @change
    def show_items(self, items: list[AgendaItem], selected_id: str | None) -> None:
        self.items, self.selected_id = items, selected_id

    @change
    def show_day(self, day: date) -> None:
        """``day`` in its month."""
        self.day, self.month = day, day.replace(day=1)

    @change
    def show_month(self, month: date, day: date) -> None:
        self.month, self.day = month, day

    @change
    def filter_child(self, patient_id: str | None) -> None:
        self.patient_id = patient_id

    @change
    def filter_kind(self, kind: contract.AppointmentKind | None) -> None:
        self.kind = kind

    @change
    def open(self, appointment_id: str) -> None:
        self.selected_id, self.confirm_delete, self.message = appointment_id, False, None

    @change
    def close(self, *, keep_selected: bool) -> None:
        """Back from the details or the form (to the appointment when ``keep_selected``)."""
        if not keep_selected:
            self.selected_id = None
        self.form, self.confirm_delete = None, False

    @change
    def start_new(self, form: AppointmentForm) -> None:
        self.form, self.selected_id, self.message = form, None, None

    @change
    def start_edit(self, form: AppointmentForm, appointment_id: str) -> None:
        self.form, self.selected_id = form, appointment_id

    @change
    def form_refused(self, form: AppointmentForm, message: str) -> None:
        self.form, self.message = form, message

    @change
    def saved(self, record_id: str, day: date, message: str) -> None:
        """The form went to the outbox: its appointment is shown, on its day."""
        self.form, self.selected_id, self.message = None, record_id, message
        self.day, self.month = day, day.replace(day=1)

    @change
    def ask_delete(self, confirm: bool) -> None:
        self.confirm_delete = confirm

    @change
    def deleted(self, message: str) -> None:
        self.selected_id, self.confirm_delete, self.message = None, False, message

    @change
    def show_message(self, message: str | None) -> None:
        self.message = message

    def dismiss_message(self) -> None:
        self.show_message(None)
