"""Add or edit a family appointment. Kept alive while shown so typed text survives redraws."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import flet as ft

from carnet.agenda.form import AppointmentForm
from carnet.core.i18n import Translator
from carnet.shell.state import AppState
from carnet.views.common import GREEN, Handler, app_bar, banner, labelled, screen
from carnet_contract import models as contract

FAMILY_KINDS = [k for k in contract.AppointmentKind if k in contract.GUARDIAN_APPOINTMENT_KINDS]


class AppointmentFormView:
    def __init__(self, form: AppointmentForm, on_save: Callable[[AppointmentForm], Any]) -> None:
        self.form = form
        self._on_save = on_save
        self.patient = ft.Dropdown(value=form.patient_id, enable_search=False, expand=True)
        self.kind = ft.Dropdown(value=form.kind, enable_search=False, expand=True)
        self.title = ft.TextField(
            value=form.title, max_length=120, text_size=17, capitalization=ft.TextCapitalization.SENTENCES
        )
        self.date = ft.TextField(
            value=form.date_text, keyboard_type=ft.KeyboardType.DATETIME, text_size=17, error_max_lines=3
        )
        self.start = ft.TextField(
            value=form.start_text, keyboard_type=ft.KeyboardType.DATETIME, text_size=17, error_max_lines=3, expand=True
        )
        self.end = ft.TextField(
            value=form.end_text, keyboard_type=ft.KeyboardType.DATETIME, text_size=17, error_max_lines=3, expand=True
        )
        self.place = ft.TextField(value=form.place, max_length=200, text_size=17)
        self.notes = ft.TextField(
            value=form.notes, max_length=1000, multiline=True, min_lines=2, max_lines=5, text_size=17
        )

    def read(self) -> AppointmentForm:
        f = self.form
        return AppointmentForm(
            record_id=f.record_id,
            patient_id=self.patient.value or "",
            kind=self.kind.value or "",
            title=self.title.value or "",
            date_text=self.date.value or "",
            start_text=self.start.value or "",
            end_text=self.end.value or "",
            place=self.place.value or "",
            notes=self.notes.value or "",
        )

    async def _save(self, _: Any = None) -> None:
        result = self._on_save(self.read())
        if hasattr(result, "__await__"):
            await result

    def build(self, state: AppState, tr: Translator, *, on_back: Handler, on_message_dismiss: Handler) -> ft.View:
        form = state.agenda.form or self.form
        errors = form.errors
        editing = form.record_id is not None
        self.patient.label, self.kind.label = tr.t("form_patient"), tr.t("form_kind")
        self.patient.options = [ft.DropdownOption(key=c.id, text=c.display_name) for c in state.children]
        self.patient.disabled = editing or len(state.children) < 2
        self.kind.options = [ft.DropdownOption(key=k.value, text=tr.t("kind." + k.value)) for k in FAMILY_KINDS]
        self.kind.disabled = editing  # the server keeps the kind of an existing appointment
        for control, key, label in (
            (self.title, "title", "form_title"),
            (self.date, "date", "form_date"),
            (self.start, "start", "form_start"),
            (self.end, "end", "form_end"),
            (self.place, "place", "form_place"),
            (self.notes, "notes", "form_notes"),
        ):
            control.label = tr.t(label)
            control.error = errors.get(key)
        # TextFields draw ``error`` in flet 1.0.5; Dropdowns keep ``error_text``.
        self.patient.error_text, self.kind.error_text = errors.get("patient"), errors.get("kind")
        body: list[ft.Control] = []
        if state.agenda.message and errors:
            body.append(
                banner(
                    state.agenda.message,
                    icon=ft.Icons.ERROR_OUTLINE,
                    bgcolor=ft.Colors.RED_50,
                    color=ft.Colors.RED_900,
                    on_dismiss=on_message_dismiss,
                    dismiss_label=tr.t("dismiss"),
                )
            )
        body += [
            ft.Row([labelled(self.patient, tr.t("form_patient"), expand=True)]),
            ft.Row([labelled(self.kind, tr.t("form_kind"), expand=True)]),
            self.title,
            self.date,
            ft.Row([self.start, self.end], spacing=12),
            self.place,
            self.notes,
            ft.FilledButton(
                content=tr.t("save"),
                icon=ft.Icons.CHECK,
                height=56,
                on_click=self._save,
                style=ft.ButtonStyle(bgcolor=GREEN, color=ft.Colors.WHITE),
            ),
            ft.OutlinedButton(content=tr.t("cancel"), height=52, on_click=on_back),
        ]
        title = tr.t("edit_appointment") if editing else tr.t("add_appointment")
        return screen("/appointment/edit" if editing else "/appointment/new", app_bar(title, tr, on_back=on_back), body)
