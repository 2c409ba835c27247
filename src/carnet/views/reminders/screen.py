"""Ajustes → Recordatorios: a switch per reminder kind, how reminders arrive, and whether the choice still waits
to be sent. Drawing only."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import flet as ft

from carnet.core.i18n import Translator
from carnet.reminders.state import KIND_ORDER
from carnet.shell.state import AppState
from carnet.views.common import MIN_TOUCH, Handler, app_bar, notes, screen, section
from carnet_contract import models as contract

if TYPE_CHECKING:
    from carnet.reminders.preferences import ReminderPreferenceCases

ROUTE = "/settings/reminders"


def kind_label(tr: Translator, kind: contract.ReminderKind) -> str:
    return tr.t("rem_kind." + kind.value)


def _switch(tr: Translator, cases: ReminderPreferenceCases, kind: contract.ReminderKind, on: bool) -> ft.Control:
    """The kind's words and its switch, one node for a screen reader (named by the words), >= 48 px tall; the
    words wrap on a narrow phone instead of being cut."""

    def changed(e: Any) -> None:
        cases.choose(kind, bool(e.control.value))

    return ft.MergeSemantics(
        ft.Row(
            [
                ft.Container(
                    ft.Text(kind_label(tr, kind), size=16),
                    expand=True,
                    padding=ft.Padding.symmetric(vertical=6),
                    on_click=lambda _: cases.choose(kind, not on),
                ),
                ft.Container(
                    ft.Switch(value=on, on_change=changed, active_color=ft.Colors.GREEN_800),
                    height=MIN_TOUCH,
                    alignment=ft.Alignment.CENTER,
                ),
            ],
            spacing=12,
            vertical_alignment=ft.CrossAxisAlignment.CENTER,
        )
    )


def build(state: AppState, tr: Translator, cases: ReminderPreferenceCases, *, on_back: Handler) -> ft.View:
    ui = state.reminders
    t = tr.t
    body = notes(
        state, tr, message=ui.message, error=ui.error, on_dismiss=lambda _: cases.dismiss_message(), dismiss_error=True
    )
    lines: list[ft.Control] = [ft.Text(t("rem_note"), size=15)]
    lines += [_switch(tr, cases, kind, ui.chosen(kind)) for kind in KIND_ORDER]
    if ui.pending:
        lines.append(
            ft.Row(
                [
                    ft.Icon(ft.Icons.CLOUD_UPLOAD, color=ft.Colors.GREY_800, size=22),
                    ft.Text(t("rem_pending"), size=14, color=ft.Colors.GREY_800, expand=True),
                ],
                spacing=8,
            )
        )
    if ui.loading:
        lines.append(
            ft.Row(
                [ft.ProgressRing(width=22, height=22, semantics_label=t("rem_loading")), ft.Text(t("rem_loading"))],
                spacing=8,
            )
        )
    body.append(section(t("rem_title"), lines))
    return screen(ROUTE, app_bar(t("rem_title"), tr, on_back=on_back), body)
