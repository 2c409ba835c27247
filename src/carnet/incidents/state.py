"""What the incident screens draw (families' reports, the case desk); changed only by their own methods."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from carnet.core.observable import Observable, change
from carnet.incidents.form import ReportForm
from carnet.incidents.repository import IncidentView
from carnet_contract import models as contract


@dataclass(eq=False)
class IncidentUi(Observable):
    """ "Reportar un problema" and "Mis reportes" (the family's reports, readable offline)."""

    form: ReportForm | None = None
    reports: list[IncidentView] = field(default_factory=list)
    selected_id: str | None = None
    #: The "No se resolvió" box is open for the selected report.
    reopening: bool = False
    reason_error: str | None = None
    message: str | None = None
    #: The screen to go back to from the form / the list.
    came_from: str | None = None

    @change
    def show_reports(self, reports: list[IncidentView], selected_id: str | None) -> None:
        self.reports, self.selected_id = reports, selected_id

    @change
    def start_report(self, form: ReportForm, *, came_from: str | None) -> None:
        """The form, with what is known already chosen (``came_from``: the screen to go back to, if new)."""
        if came_from is not None:
            self.came_from = came_from
        self.form, self.message = form, None

    @change
    def form_edited(self) -> None:
        """The form object changed (a child, a category, photos): redraw it."""

    @change
    def form_refused(self, form: ReportForm, message: str) -> None:
        self.form, self.message = form, message

    @change
    def report_queued(self, record_id: str, message: str) -> None:
        """The report went to the outbox: it is shown, pending."""
        self.form, self.selected_id, self.message = None, record_id, message
        self.reopening = False

    @change
    def show_list(self, *, came_from: str | None) -> None:
        if came_from is not None:
            self.came_from = came_from
        self.form, self.selected_id, self.reopening, self.message = None, None, False, None

    @change
    def open_report(self, report_id: str) -> None:
        self.selected_id, self.reopening, self.reason_error, self.message = report_id, False, None, None

    @change
    def close_report(self) -> None:
        self.selected_id, self.reopening = None, False

    @change
    def leave(self) -> None:
        """Back from the form or the list: nothing of them stays."""
        self.form, self.selected_id, self.message = None, None, None

    @change
    def photos_changed(self) -> None:
        """Photos of the shown report arrived (or could not): redraw it."""

    @change
    def ask_reopen(self, open_box: bool) -> None:
        self.reopening, self.reason_error = open_box, None

    @change
    def reason_refused(self, error: str | None) -> None:
        self.reason_error = error

    @change
    def reopen_queued(self, message: str) -> None:
        self.reopening, self.reason_error, self.message = False, None, message

    @change
    def show_message(self, message: str | None) -> None:
        self.message = message

    def dismiss_message(self) -> None:
        self.show_message(None)


@dataclass(eq=False)
class DeskUi(Observable):
    """Case desk (online only): the queue, its filters, one incident, the weekly figures."""

    incidents: list[contract.StaffIncident] = field(default_factory=list)
    units: list[contract.Unit] = field(default_factory=list)
    category: contract.IncidentCategory | None = None
    unit_id: str | None = None
    status: contract.IncidentStatus | None = None
    selected: contract.StaffIncident | None = None
    answer_error: str | None = None
    #: Answers sent (the answer box empties when it grows).
    sent: int = 0
    #: ``(incident id, text, resolves, Idempotency-Key)`` of an answer whose fate is unknown
    #: (no answer came back): sending the same answer again reuses the key, so it is kept once.
    unsent_answer: tuple[str, str, bool, str] | None = None
    loading: bool = False
    busy: bool = False
    week: date | None = None
    weekly: contract.WeeklyFigures | None = None
    message: str | None = None
    error: str | None = None

    @change
    def start_loading(self) -> None:
        self.loading, self.error = True, None

    @change
    def stop_loading(self) -> None:
        self.loading = False

    @change
    def show_queue(self, units: list[contract.Unit], incidents: list[contract.StaffIncident]) -> None:
        """The queue as the server has it now (the open case follows it)."""
        self.units, self.incidents = units, incidents
        if self.selected is not None:
            selected = self.selected
            self.selected = next((i for i in incidents if i.id == selected.id), selected)

    @change
    def filter(
        self,
        category: contract.IncidentCategory | None,
        unit_id: str | None,
        status: contract.IncidentStatus | None,
    ) -> None:
        self.category, self.unit_id, self.status = category, unit_id, status

    @change
    def open_case(self, incident: contract.StaffIncident | None) -> None:
        self.selected = incident
        self.answer_error, self.message, self.error = None, None, None

    @change
    def show_case(self, incident: contract.StaffIncident) -> None:
        self.selected = incident

    @change
    def photos_changed(self) -> None:
        """Photos of the open case arrived (held by the cases, in memory): redraw it."""

    @change
    def close_case(self) -> None:
        self.selected, self.answer_error = None, None

    @change
    def answer_refused(self, error: str) -> None:
        """Nothing was written: the reason shows under the answer box."""
        self.answer_error = error

    @change
    def start_answer(self, unsent: tuple[str, str, bool, str]) -> None:
        """An answer is being sent; ``unsent`` keeps its key until the server's answer comes."""
        self.busy, self.answer_error, self.message, self.error = True, None, None, None
        self.unsent_answer = unsent

    @change
    def forget_unsent_answer(self) -> None:
        self.unsent_answer = None

    @change
    def answered(self, incident: contract.StaffIncident, message: str) -> None:
        self.unsent_answer = None
        self.sent += 1
        self.selected = incident
        self.incidents = [incident if i.id == incident.id else i for i in self.incidents]
        self.message = message

    @change
    def start_busy(self) -> None:
        self.busy, self.error, self.message = True, None, None

    @change
    def stop_busy(self) -> None:
        self.busy = False

    @change
    def open_week(self, week: date) -> None:
        """The weekly figures of ``week`` (a Monday), to be fetched."""
        self.week, self.weekly, self.error = week, None, None

    @change
    def show_weekly(self, week: date, figures: contract.WeeklyFigures) -> None:
        if self.week == week:  # not another week chosen meanwhile
            self.weekly = figures

    @change
    def file_saved(self, *, message: str | None, error: str | None) -> None:
        self.message, self.error = message, error

    @change
    def show_error(self, error: str) -> None:
        self.error = error

    @change
    def show_message(self, message: str | None) -> None:
        self.message = message

    def dismiss_message(self) -> None:
        self.show_message(None)
