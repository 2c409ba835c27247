"""One appointment: kind, title, date and time in Mexico City, unit, place, status, notes; actions."""

from __future__ import annotations

import flet as ft

from carnet.core.i18n import Translator
from carnet.shell.state import AppState
from carnet.views.agenda.calendar import mark_text
from carnet.views.common import GREEN, Handler, app_bar, banner, field, screen, section, status_banners


def build(
    state: AppState,
    tr: Translator,
    *,
    on_back: Handler,
    on_calendar: Handler,
    on_edit: Handler,
    on_ask_delete: Handler,
    on_cancel_delete: Handler,
    on_delete: Handler,
    on_dismiss: Handler,
    on_message_dismiss: Handler,
) -> ft.View:
    item = state.selected_appointment
    body: list[ft.Control] = [*status_banners(state, tr, on_dismiss=on_dismiss)]
    ui = state.agenda
    if ui.message:
        body.append(
            banner(
                ui.message,
                icon=ft.Icons.INFO_OUTLINE,
                bgcolor=ft.Colors.BLUE_50,
                color=ft.Colors.BLUE_900,
                on_dismiss=on_message_dismiss,
                dismiss_label=tr.t("dismiss"),
            )
        )
    bar = app_bar(tr.t("appointment_title"), tr, on_back=on_back)
    if item is None:
        body.append(ft.Text(tr.t("appt_not_found"), size=16))
        return screen("/appointment", bar, body)
    a = item.appointment
    facts: list[ft.Control] = [
        ft.Text(a.title, size=22, weight=ft.FontWeight.W_700),
        field(tr.t("appt_kind"), tr.t("kind." + a.kind.value)),
        field(
            tr.t("appt_when"),
            tr.time_range(a.starts_at, a.ends_at),
        ),
    ]
    if len(state.children) > 1:
        facts.append(field(tr.t("appt_patient"), state.child_name(a.patient_id)))
    if a.unit is not None:
        facts.append(field(tr.t("appt_unit"), a.unit.name))
    if a.place:
        facts.append(field(tr.t("appt_place"), a.place))
    facts.append(field(tr.t("appt_status"), tr.t("appt_status." + a.status.value)))
    if a.notes:
        facts.append(field(tr.t("appt_notes"), a.notes))
    facts.append(field(tr.t("appt_source"), tr.t("source." + a.source.value)))
    mark = mark_text(tr, item)
    if mark is not None:
        facts.append(mark)
    body.append(section(tr.t("appt_title"), facts))
    body.append(
        ft.FilledButton(
            content=tr.t("add_to_calendar"),
            icon=ft.Icons.EVENT_AVAILABLE,
            height=56,
            on_click=on_calendar,
            style=ft.ButtonStyle(bgcolor=GREEN, color=ft.Colors.WHITE),
        )
    )
    body.append(ft.Text(tr.t("calendar_local_note"), size=13, color=ft.Colors.GREY_700))
    if item.editable:
        if ui.confirm_delete:
            body.append(
                section(
                    tr.t("delete_appointment"),
                    [
                        ft.Text(tr.t("confirm_delete"), size=16),
                        ft.Row(
                            [
                                ft.FilledButton(
                                    content=tr.t("confirm_delete_yes"),
                                    icon=ft.Icons.DELETE,
                                    height=52,
                                    on_click=on_delete,
                                    style=ft.ButtonStyle(bgcolor=ft.Colors.RED_800, color=ft.Colors.WHITE),
                                ),
                                ft.OutlinedButton(content=tr.t("cancel"), height=52, on_click=on_cancel_delete),
                            ],
                            wrap=True,
                            spacing=12,
                        ),
                    ],
                )
            )
        else:
            body.append(
                ft.Row(
                    [
                        ft.OutlinedButton(
                            content=tr.t("edit_appointment"), icon=ft.Icons.EDIT, height=52, on_click=on_edit
                        ),
                        ft.OutlinedButton(
                            content=tr.t("delete_appointment"), icon=ft.Icons.DELETE, height=52, on_click=on_ask_delete
                        ),
                    ],
                    wrap=True,
                    spacing=12,
                )
            )
    else:
        body.append(ft.Text(tr.t("hospital_readonly"), size=14, color=ft.Colors.GREY_800))
    return screen("/appointment", bar, body)
