"""The agenda's use cases: browse months and days, filter, open, add, edit, delete, export.

Reads come from the offline store with the outbox laid over them
(:func:`carnet.agenda.repository.merge`). Every write goes to the outbox first and shows
at once, marked pending; the background sync sends it. Part of a family's login scope
(``session.agenda``); no Flet here.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Protocol

from carnet.agenda.form import AppointmentForm, blank_form, check_form, form_for
from carnet.agenda.repository import AgendaItem, AgendaRepository, add_months, filter_items, merge, next_appointment
from carnet.agenda.state import AgendaUi
from carnet.core.clock import Clock, local_date
from carnet.core.i18n import Translator
from carnet.core.ids import new_local_id
from carnet.core.navigation import Navigator, Screen
from carnet.data.outbox import Outbox, OutboxState, WriteOp
from carnet.data.records import SyncLedger, SyncStatus
from carnet_contract import models as contract

__all__ = ["AgendaCases"]

CREATE_PATH = "/api/v1/patients/{patient}/appointments"
RECORD_PATH = "/api/v1/appointments/{record}"


class AgendaHost(Navigator, Protocol):
    """What of the app's state the agenda reads and changes besides its own."""

    agenda: AgendaUi
    children: list[contract.PatientRef]
    selected_child_id: str | None
    sync: SyncStatus
    next_appointment: AgendaItem | None

    def child_name(self, patient_id: str) -> str: ...

    def show_sync_status(self, status: SyncStatus) -> None: ...

    def show_next_appointment(self, item: AgendaItem | None) -> None: ...


class AgendaCases:
    def __init__(
        self,
        *,
        state: AgendaHost,
        records: AgendaRepository,
        ledger: SyncLedger,
        outbox: Outbox,
        tr: Translator,
        clock: Clock,
        request_sync: Callable[[], None],
    ) -> None:
        self._state = state
        self._records = records
        self._ledger = ledger
        self._outbox = outbox
        self._tr = tr
        self._clock = clock
        self._request_sync = request_sync

    @property
    def _ui(self) -> AgendaUi:
        return self._state.agenda

    def today(self) -> date:
        return local_date(self._clock())

    # ---- loading ---------------------------------------------------------------------

    def all_items(self) -> list[AgendaItem]:
        children = {c.id for c in self._state.children}
        items = merge(self._records.appointments(), self._outbox.items(), self._ledger.server_id)
        # Only children still linked to the account (the server drops the rest at the next sync).
        return [i for i in items if not children or i.appointment.patient_id in children]

    def reload(self) -> None:
        """Re-read appointments, the sync status and the carnet's next appointment (one redraw)."""
        with self._state.batch():
            self._reload()

    def _reload(self) -> None:
        ui = self._ui
        if ui.month is None or ui.day is None:
            ui.show_day(self.today())
        if ui.patient_id is not None and ui.patient_id not in {c.id for c in self._state.children}:
            ui.filter_child(None)
        items = self.all_items()
        selected_id = ui.selected_id
        if selected_id is not None:
            # A record created on the phone keeps showing once the server's version replaces it.
            selected_id = self._ledger.server_id(selected_id) or selected_id
        if selected_id is not None and not any(i.id == selected_id for i in items):
            if self._state.screen is Screen.APPOINTMENT:
                ui.show_message(self._tr.t("appt_not_found"))
                self._state.go_to(Screen.AGENDA)
            selected_id = None
        ui.show_items(items, selected_id)
        if self._outbox is not None:
            outbox_items = self._outbox.items()
            if ui.message in self._pending_messages() and not any(
                i.type == contract.SyncType.APPOINTMENT and i.state is OutboxState.PENDING for i in outbox_items
            ):
                ui.dismiss_message()  # sent: "se enviará cuando haya conexión" is no longer true
            self._state.show_sync_status(
                SyncStatus(
                    pending=sum(1 for i in outbox_items if i.state is OutboxState.PENDING),
                    failed=[i for i in outbox_items if i.state is OutboxState.FAILED],
                    retry_at=self._outbox.next_attempt_at(),
                    last_success_at=self._ledger.position().last_success_at,
                )
            )
        self.load_next_appointment(items)

    def _pending_messages(self) -> set[str]:
        return {self._tr.t("saved_pending"), self._tr.t("deleted_pending")}

    def load_next_appointment(self, items: list[AgendaItem] | None = None) -> None:
        child = self._state.selected_child_id
        items = self.all_items() if items is None else items
        self._state.show_next_appointment(next_appointment(items, child, self._clock()) if child else None)

    def visible(self) -> list[AgendaItem]:
        ui = self._ui
        return filter_items(ui.items, patient_id=ui.patient_id, kind=ui.kind)

    # ---- browsing --------------------------------------------------------------------------

    def move_month(self, months: int) -> None:
        ui = self._ui
        assert ui.month is not None
        month = add_months(ui.month, months)
        today = self.today()
        ui.show_month(month, month if (month.year, month.month) != (today.year, today.month) else today)

    def pick_day(self, day: date) -> None:
        self._ui.show_day(day)

    def filter_child(self, patient_id: str | None) -> None:
        ui = self._ui
        ui.filter_child(
            patient_id if patient_id is None or patient_id in {c.id for c in self._state.children} else ui.patient_id
        )

    def filter_kind(self, kind: str | None) -> None:
        try:
            chosen = contract.AppointmentKind(kind) if kind else None
        except ValueError:
            chosen = None
        self._ui.filter_kind(chosen)

    def open(self, appointment_id: str) -> None:
        ui = self._ui
        if not any(i.id == appointment_id for i in ui.items):
            return
        with self._state.batch():
            ui.open(appointment_id)
            self._state.go_to(Screen.APPOINTMENT)

    def close(self) -> None:
        """Back from the details or the form."""
        ui = self._ui
        to_details = bool(
            self._state.screen is Screen.APPOINTMENT_FORM
            and ui.form is not None
            and ui.form.record_id
            and ui.selected_id
        )
        with self._state.batch():
            self._state.go_to(Screen.APPOINTMENT if to_details else Screen.AGENDA)
            ui.close(keep_selected=to_details)

    def dismiss_message(self) -> None:
        self._ui.dismiss_message()

    # ---- writes (through the outbox) -----------------------------------------------------

    def new(self) -> None:
        ui = self._ui
        if not self._state.children:
            return
        patient = ui.patient_id or self._state.selected_child_id or self._state.children[0].id
        with self._state.batch():
            ui.start_new(blank_form(patient, ui.day or self.today()))
            self._state.go_to(Screen.APPOINTMENT_FORM)

    def edit(self, appointment_id: str) -> None:
        item = next((i for i in self._ui.items if i.id == appointment_id), None)
        if item is None or not item.editable:
            return
        with self._state.batch():
            self._ui.start_edit(form_for(item.appointment), appointment_id)
            self._state.go_to(Screen.APPOINTMENT_FORM)

    def save(self, form: AppointmentForm) -> bool:
        """Check the form; on success queue the write and show it at once. False: messages, nothing changed."""
        ui = self._ui
        result = check_form(form, self._tr, children={c.id for c in self._state.children})
        if result.body is None:
            form.errors = result.errors
            ui.form_refused(form, self._tr.t("form_fix"))
            return False
        form.errors = {}
        if form.record_id is None:
            record_id = new_local_id()
            self._outbox.add(
                type=contract.SyncType.APPOINTMENT,
                op=WriteOp.CREATE,
                method="POST",
                path=CREATE_PATH.format(patient=form.patient_id),
                body=result.body,
                record_id=record_id,
                patient_id=form.patient_id,
                label=result.body["title"],
                now=self._clock(),
            )
        else:
            item = next((i for i in ui.items if i.id == form.record_id), None)
            if item is None or not item.editable:
                return False
            record_id = item.id
            self._outbox.add(
                type=contract.SyncType.APPOINTMENT,
                op=WriteOp.UPDATE,
                method="PATCH",
                path=RECORD_PATH,
                body=result.body,
                record_id=record_id,
                patient_id=item.appointment.patient_id,
                label=result.body["title"],
                now=self._clock(),
            )
        starts = local_date(datetime.fromisoformat(result.body["starts_at"]))
        with self._state.batch():
            ui.saved(record_id, starts, self._tr.t("saved_pending"))
            self._reload()
            self._state.go_to(Screen.APPOINTMENT)
        self._request_sync()
        return True

    def ask_delete(self, confirm: bool = True) -> None:
        self._ui.ask_delete(confirm)

    def delete(self, appointment_id: str) -> None:
        ui = self._ui
        item = next((i for i in ui.items if i.id == appointment_id), None)
        if item is None or not item.editable:
            return
        self._outbox.add(
            type=contract.SyncType.APPOINTMENT,
            op=WriteOp.DELETE,
            method="DELETE",
            path=RECORD_PATH,
            body=None,
            record_id=item.id,
            patient_id=item.appointment.patient_id,
            label=item.appointment.title,
            now=self._clock(),
        )
        with self._state.batch():
            ui.deleted(self._tr.t("deleted_pending"))
            self._reload()
            self._state.go_to(Screen.AGENDA)
        self._request_sync()

    # ---- export ----------------------------------------------------------------------------

    def calendar_file(self, appointment_id: str) -> tuple[str, bytes] | None:
        """(file name, .ics bytes) built on the phone from the stored appointment (works offline)."""
        from carnet_contract.ics import build_calendar

        item = next((i for i in self._ui.items if i.id == appointment_id), None)
        if item is None:
            return None
        appointment = item.appointment
        name = self._state.child_name(appointment.patient_id)
        data = build_calendar([appointment], name=f"Carnet — {name}" if name else "Carnet")
        day = local_date(appointment.starts_at)
        return f"cita-{day:%Y-%m-%d}-{appointment.kind.value}.ics", data

    def calendar_result(self, ok: bool) -> None:
        self._ui.show_message(self._tr.t("calendar_saved" if ok else "calendar_failed"))
