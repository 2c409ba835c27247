"""Blood-bank staff: today's list of the bank with one-tap check-in / no-show, and donors per child."""

from __future__ import annotations

from typing import TYPE_CHECKING

import flet as ft

from carnet.core.clock import hhmm
from carnet.core.i18n import Translator
from carnet.shell.state import AppState
from carnet.views.common import (
    GREEN,
    MIN_TOUCH,
    Handler,
    app_bar,
    awaiting,
    banner,
    icon_button,
    screen,
    section,
    status_banners,
)
from carnet_contract import models as contract

if TYPE_CHECKING:
    from carnet.blood_bank.staff import StaffCases
    from carnet.blood_bank.state import StaffUi


def _asking(
    tr: Translator, booking: contract.StaffBooking, staff: StaffCases, ui: StaffUi, kind: str, busy: bool
) -> ft.Control:
    """The reason for a check-in on another day, or for undoing a check-in; nothing is sent until confirmed."""
    name = booking.donor.full_name
    if kind == "override":
        question = tr.t("staff_override_ask", day=tr.long_date(staff.booking_day(booking)), name=name)
        yes, icon, colour = tr.t("staff_override_yes"), ft.Icons.HOW_TO_REG, GREEN
    else:
        question = tr.t("staff_undo_ask", name=name)
        yes, icon, colour = tr.t("staff_undo_yes"), ft.Icons.UNDO, ft.Colors.RED_800
    reason = ft.TextField(
        label=tr.t("staff_reason"),
        value=staff.reason,
        max_length=500,
        text_size=16,
        error=ui.reason_error,
        on_change=lambda e: staff.set_reason(e.control.value or ""),
    )
    return ft.Column(
        [
            ft.Text(question, size=15, weight=ft.FontWeight.W_600),
            reason,
            ft.Row(
                [
                    ft.FilledButton(
                        content=ft.Text(yes, size=16),
                        icon=icon,
                        height=MIN_TOUCH,
                        disabled=busy,
                        on_click=awaiting(staff.confirm),
                        style=ft.ButtonStyle(bgcolor=colour, color=ft.Colors.WHITE),
                    ),
                    ft.OutlinedButton(
                        content=ft.Text(tr.t("staff_keep"), size=16),
                        height=MIN_TOUCH,
                        on_click=lambda _: staff.stop_asking(),
                    ),
                ],
                wrap=True,
                spacing=12,
                run_spacing=8,
            ),
        ],
        spacing=8,
    )


def _row(tr: Translator, booking: contract.StaffBooking, staff: StaffCases, ui: StaffUi) -> ft.Control:
    busy = booking.id in ui.busy_ids
    name = booking.donor.full_name
    done = booking.status is not contract.BookingStatus.CONFIRMADA
    colour = (
        GREEN
        if booking.status is contract.BookingStatus.ASISTIO
        else (ft.Colors.RED_900 if done else ft.Colors.BLUE_900)
    )
    lines: list[ft.Control] = [
        ft.Text(f"{hhmm(booking.slot.starts_at)} · {name}", size=18, weight=ft.FontWeight.W_700),
        ft.Text(tr.t("staff_for", name=booking.patient_display_name), size=15),
        ft.Text(
            f"{tr.t('bb_folio')} {booking.folio} · {tr.t('bb_status.' + booking.status.value)}",
            size=15,
            color=colour,
            weight=ft.FontWeight.W_600,
        ),
    ]
    if booking.checked_in_at is not None:
        lines.append(ft.Text(tr.t("staff_arrived", time=hhmm(booking.checked_in_at)), size=14))
    if ui.asking is not None and ui.asking[0] == booking.id:
        lines.append(_asking(tr, booking, staff, ui, ui.asking[1], busy))
    elif not done:
        lines.append(
            ft.Row(
                [
                    ft.FilledButton(
                        content=ft.Text(
                            tr.t("staff_check_in"), size=17, semantics_label=tr.t("staff_check_in_label", name=name)
                        ),
                        icon=ft.Icons.HOW_TO_REG,
                        height=56,
                        expand=True,
                        disabled=busy,
                        on_click=awaiting(staff.check_in, booking.id),
                        style=ft.ButtonStyle(bgcolor=GREEN, color=ft.Colors.WHITE),
                    ),
                    ft.OutlinedButton(
                        content=ft.Text(
                            tr.t("staff_no_show"), size=16, semantics_label=tr.t("staff_no_show_label", name=name)
                        ),
                        height=56,
                        disabled=busy,
                        on_click=awaiting(staff.no_show, booking.id),
                    ),
                ],
                spacing=12,
            )
        )
    elif booking.status is contract.BookingStatus.ASISTIO:
        lines.append(
            ft.OutlinedButton(
                content=ft.Text(tr.t("staff_undo"), size=16, semantics_label=tr.t("staff_undo_label", name=name)),
                icon=ft.Icons.UNDO,
                height=MIN_TOUCH,
                disabled=busy,
                on_click=lambda _, b=booking.id: staff.ask_undo(b),
                style=ft.ButtonStyle(color=ft.Colors.RED_800),
            )
        )
    return ft.Card(ft.Container(ft.Column(lines, spacing=4), padding=12), variant=ft.CardVariant.OUTLINED, margin=0)


def build(state: AppState, tr: Translator, staff: StaffCases, *, on_refresh: Handler, on_settings: Handler) -> ft.View:
    ui = state.staff
    body: list[ft.Control] = [*status_banners(state, tr)]
    body.append(ft.Text(tr.t("staff_online_only"), size=13, color=ft.Colors.GREY_700))
    if ui.message:
        body.append(
            banner(
                ui.message,
                icon=ft.Icons.CHECK_CIRCLE,
                bgcolor=ft.Colors.GREEN_50,
                color=GREEN,
                on_dismiss=lambda _: staff.dismiss_message(),
                dismiss_label=tr.t("dismiss"),
            )
        )
    if ui.error:
        body.append(banner(ui.error, icon=ft.Icons.ERROR_OUTLINE, bgcolor=ft.Colors.RED_50, color=ft.Colors.RED_900))
    if len(ui.banks) > 1:
        body.append(
            ft.Row(
                [
                    (ft.FilledButton if b.id == ui.bank_id else ft.OutlinedButton)(
                        content=b.name, height=MIN_TOUCH, on_click=awaiting(staff.pick_bank, b.id)
                    )
                    for b in ui.banks
                ],
                wrap=True,
                spacing=8,
                run_spacing=8,
            )
        )
    bank = next((b for b in ui.banks if b.id == ui.bank_id), None)
    if bank is None and not ui.loading and not ui.error:
        body.append(ft.Text(tr.t("staff_no_banks"), size=16))
    if bank is not None:
        body.append(ft.Text(bank.name, size=18, weight=ft.FontWeight.W_700))
        day = ui.day
        rows: list[ft.Control] = [_row(tr, b, staff, ui) for b in ui.bookings]
        if not rows:
            rows = [ft.Text(tr.t("staff_loading") if ui.loading else tr.t("staff_none"), size=16)]
        if day is not None:
            title = tr.t("staff_today" if day == staff.today() else "staff_day", date=tr.long_date(day))
            body.append(
                ft.Row(
                    [
                        icon_button(ft.Icons.CHEVRON_LEFT, tr.t("staff_prev_day"), awaiting(staff.move_day, -1)),
                        ft.Text(
                            title, size=17, weight=ft.FontWeight.W_700, expand=True, text_align=ft.TextAlign.CENTER
                        ),
                        icon_button(ft.Icons.CHEVRON_RIGHT, tr.t("staff_next_day"), awaiting(staff.move_day, 1)),
                    ]
                )
            )
        body.append(section(tr.t("staff_list"), rows))
        counts = [
            ft.Text(
                tr.t(
                    "staff_count_line_one" if booked == 1 else "staff_count_line",
                    name=name,
                    today=today,
                    week=week,
                    booked=booked,
                ),
                size=16,
            )
            for name, today, week, booked in ui.counts
        ]
        body.append(section(tr.t("staff_counts"), counts or [ft.Text(tr.t("staff_no_counts"), size=16)]))
    bar = app_bar(tr.t("staff_title"), tr, on_refresh=on_refresh, on_settings=on_settings, syncing=ui.loading)
    return screen("/staff", bar, body)
