"""Agenda: month with marked days, the chosen day's appointments, the next ones; filters; add."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import flet as ft

from carnet.agenda.repository import AgendaItem, days_with_appointments, month_weeks, upcoming
from carnet.agenda.repository import on_day as appointments_on
from carnet.core.clock import hhmm, local_date
from carnet.core.i18n import Translator
from carnet.data.records import Mark
from carnet.shell.state import AppState
from carnet.views.common import (
    GREEN,
    MIN_TOUCH,
    Handler,
    app_bar,
    banner,
    icon_button,
    labelled,
    nav_bar,
    screen,
    section,
    status_banners,
    sync_icon,
)
from carnet_contract import models as contract

KIND_ICONS = {
    contract.AppointmentKind.QUIMIOTERAPIA: ft.Icons.MEDICATION,
    contract.AppointmentKind.CONSULTA: ft.Icons.MEDICAL_SERVICES,
    contract.AppointmentKind.LABORATORIO: ft.Icons.SCIENCE,
    contract.AppointmentKind.ESTUDIO: ft.Icons.MONITOR_HEART,
    contract.AppointmentKind.BANCO_DE_SANGRE: ft.Icons.BLOODTYPE,
    contract.AppointmentKind.OTRO: ft.Icons.EVENT,
}


def when_text(tr: Translator, appointment: contract.Appointment, *, with_date: bool) -> str:
    hours = f"{hhmm(appointment.starts_at)}–{hhmm(appointment.ends_at)}"
    return f"{tr.date(local_date(appointment.starts_at))}, {hours}" if with_date else hours


def mark_text(tr: Translator, item: AgendaItem) -> ft.Control | None:
    if item.mark is Mark.PENDING:
        return ft.Text(tr.t("mark_pending"), size=13, color=ft.Colors.BLUE_900, weight=ft.FontWeight.W_600)
    if item.mark is Mark.FAILED:
        return ft.Text(tr.t("mark_failed"), size=13, color=ft.Colors.RED_900, weight=ft.FontWeight.W_600)
    return None


def appointment_button(
    state: AppState, tr: Translator, item: AgendaItem, on_open: Callable[[str], Any], *, with_date: bool
) -> ft.Control:
    """One appointment as a large button: time, kind, title, child, sync mark."""
    a = item.appointment
    cancelled = a.status == contract.AppointmentStatus.CANCELADA
    lines: list[ft.Control] = [
        ft.Text(
            f"{when_text(tr, a, with_date=with_date)} · {tr.t('kind.' + a.kind.value)}",
            size=14,
            color=ft.Colors.GREY_800,
        ),
        ft.Text(a.title, size=17, weight=ft.FontWeight.W_600, color=ft.Colors.BLACK),
    ]
    if len(state.children) > 1:
        lines.append(ft.Text(state.child_name(a.patient_id), size=14, color=ft.Colors.GREY_800))
    if cancelled:
        lines.append(ft.Text(tr.t("appt_status.cancelada"), size=13, color=ft.Colors.RED_900))
    mark = mark_text(tr, item)
    if mark is not None:
        lines.append(mark)
    return ft.OutlinedButton(
        content=ft.Row(
            [
                ft.Icon(KIND_ICONS.get(a.kind, ft.Icons.EVENT), color=GREEN, size=28),
                ft.Column(lines, spacing=2, expand=True),
            ],
            spacing=12,
        ),
        on_click=lambda _, aid=a.id: on_open(aid),
        style=ft.ButtonStyle(
            padding=ft.Padding.symmetric(horizontal=12, vertical=10), shape=ft.RoundedRectangleBorder(radius=10)
        ),
    )


def _child_filter(state: AppState, tr: Translator, on_child: Callable[[str | None], Any]) -> ft.Control:
    def option(label: str, value: str | None, tooltip: str) -> ft.Control:
        selected = state.agenda.patient_id == value
        kind = ft.FilledButton if selected else ft.OutlinedButton
        return kind(content=label, tooltip=tooltip, height=MIN_TOUCH, on_click=lambda _, v=value: on_child(v))

    options = [option(tr.t("filter_all_children"), None, tr.t("show_all_children"))]
    options += [option(c.display_name, c.id, tr.t("show_child", name=c.display_name)) for c in state.children]
    return ft.Row(options, wrap=True, spacing=8, run_spacing=8)


def _kind_filter(state: AppState, tr: Translator, on_kind: Callable[[str | None], Any]) -> ft.Control:
    current = state.agenda.kind.value if state.agenda.kind else "all"
    return ft.Dropdown(
        label=tr.t("filter_kind"),
        value=current,
        enable_search=False,
        expand=True,
        options=[ft.DropdownOption(key="all", text=tr.t("filter_all_kinds"))]
        + [ft.DropdownOption(key=k.value, text=tr.t("kind." + k.value)) for k in contract.AppointmentKind],
        on_select=lambda e: on_kind(None if e.control.value in (None, "all") else e.control.value),
    )


def _month(
    state: AppState,
    tr: Translator,
    marks: set[int],
    today: date,
    *,
    on_month: Callable[[int], Any],
    on_day: Callable[[date], Any],
) -> ft.Control:
    ui = state.agenda
    assert ui.month is not None
    header = ft.Row(
        [
            icon_button(ft.Icons.CHEVRON_LEFT, tr.t("prev_month"), lambda _: on_month(-1)),
            ft.Text(
                tr.month_year(ui.month).capitalize(),
                size=19,
                weight=ft.FontWeight.W_700,
                expand=True,
                text_align=ft.TextAlign.CENTER,
            ),
            icon_button(ft.Icons.CHEVRON_RIGHT, tr.t("next_month"), lambda _: on_month(1)),
        ]
    )
    initials = ft.Row(
        [
            ft.Text(d, expand=True, text_align=ft.TextAlign.CENTER, size=13, color=ft.Colors.GREY_700)
            for d in tr.weekday_initials()
        ],
        spacing=2,
    )
    rows: list[ft.Control] = [header, initials]
    for week in month_weeks(ui.month.year, ui.month.month):
        cells: list[ft.Control] = []
        for day in week:
            if day is None:
                cells.append(ft.Container(expand=True, height=MIN_TOUCH))
                continue
            marked, chosen = day.day in marks, day == ui.day
            label = tr.t("day_with_appointments", date=tr.date(day)) if marked else tr.date(day)
            if chosen:
                label = tr.t("day_selected", date=label)
            colour = ft.Colors.WHITE if chosen else ft.Colors.BLACK
            dot = ft.Container(
                width=6, height=6, border_radius=3, bgcolor=(ft.Colors.WHITE if chosen else GREEN) if marked else None
            )
            cells.append(
                ft.Container(
                    ft.TextButton(
                        content=ft.Column(
                            [
                                ft.Text(
                                    str(day.day),
                                    size=15,
                                    color=colour,
                                    semantics_label=label,
                                    weight=ft.FontWeight.W_700 if day == today else None,
                                ),
                                dot,
                            ],
                            spacing=2,
                            horizontal_alignment=ft.CrossAxisAlignment.CENTER,
                            alignment=ft.MainAxisAlignment.CENTER,
                        ),
                        on_click=lambda _, d=day: on_day(d),
                        height=MIN_TOUCH,
                        style=ft.ButtonStyle(
                            padding=0,
                            bgcolor=GREEN if chosen else None,
                            shape=ft.RoundedRectangleBorder(radius=8),
                            side=ft.BorderSide(1, GREEN) if day == today and not chosen else None,
                        ),
                    ),
                    expand=True,
                )
            )
        rows.append(ft.Row(cells, spacing=2))
    return ft.Card(
        ft.Container(ft.Column(rows, spacing=4), padding=8),
        variant=ft.CardVariant.OUTLINED,
        margin=0,
        semantic_container=False,  # each day its own node (see views.common.section)
    )


def build(
    state: AppState,
    tr: Translator,
    items: list[AgendaItem],
    *,
    today: date,
    now: Any,
    on_tab: Handler,
    on_refresh: Handler,
    on_settings: Handler,
    on_sync_status: Handler,
    on_dismiss: Handler,
    on_message_dismiss: Handler,
    on_month: Callable[[int], Any],
    on_day: Callable[[date], Any],
    on_child: Callable[[str | None], Any],
    on_kind: Callable[[str | None], Any],
    on_open: Callable[[str], Any],
    on_add: Handler,
) -> ft.View:
    ui = state.agenda
    assert ui.month is not None and ui.day is not None
    body: list[ft.Control] = [*status_banners(state, tr, on_dismiss=on_dismiss)]
    if state.online is False:
        body.append(banner(tr.t("agenda_offline"), icon=ft.Icons.CLOUD_OFF, bgcolor=ft.Colors.AMBER_200))
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
    if len(state.children) > 1:
        body.append(_child_filter(state, tr, on_child))
    body.append(ft.Row([labelled(_kind_filter(state, tr, on_kind), tr.t("filter_kind"), expand=True)]))
    marks = days_with_appointments(items, ui.month.year, ui.month.month)
    body.append(_month(state, tr, marks, today, on_month=on_month, on_day=on_day))
    # In the page, not floating: a floating button covered the calendar's last week at 360 px.
    body.append(
        ft.FilledButton(
            content=tr.t("add_appointment"),
            icon=ft.Icons.ADD,
            height=MIN_TOUCH,
            on_click=on_add,
            style=ft.ButtonStyle(bgcolor=GREEN, color=ft.Colors.WHITE),
        )
    )
    day_items = appointments_on(items, ui.day)
    day_list: list[ft.Control] = [appointment_button(state, tr, i, on_open, with_date=False) for i in day_items] or [
        ft.Text(tr.t("no_appointments_day"), size=16)
    ]
    body.append(section(tr.t("appointments_on", date=tr.long_date(ui.day)), day_list))
    soon = upcoming(items, now)
    soon_list: list[ft.Control] = [appointment_button(state, tr, i, on_open, with_date=True) for i in soon] or [
        ft.Text(tr.t("agenda_empty") if not ui.items else tr.t("no_upcoming_appointments"), size=16)
    ]
    body.append(section(tr.t("upcoming_title"), soon_list))
    bar = app_bar(
        tr.t("agenda_title"),
        tr,
        on_refresh=on_refresh,
        on_settings=on_settings,
        syncing=state.syncing,
        sync_button=sync_icon(state, tr, on_sync_status),
    )
    return screen("/agenda", bar, body, navigation_bar=nav_bar(state, tr, on_tab))
