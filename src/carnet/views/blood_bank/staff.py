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
    desk_layout,
    icon_button,
    screen,
    section,
    status_banners,
    table_header,
    table_row,
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


def _colour(booking: contract.StaffBooking) -> str:
    if booking.status is contract.BookingStatus.ASISTIO:
        return GREEN
    return ft.Colors.RED_900 if booking.status is not contract.BookingStatus.CONFIRMADA else ft.Colors.BLUE_900


def _actions(
    tr: Translator, booking: contract.StaffBooking, staff: StaffCases, ui: StaffUi, *, wide: bool = False
) -> ft.Control | None:
    """Check-in / no-show, the reason being asked, or undo; None when nothing is left to do."""
    busy = booking.id in ui.busy_ids
    name = booking.donor.full_name
    done = booking.status is not contract.BookingStatus.CONFIRMADA
    if ui.asking is not None and ui.asking[0] == booking.id:
        return _asking(tr, booking, staff, ui, ui.asking[1], busy)
    if not done:
        return ft.Row(
            [
                ft.FilledButton(
                    content=ft.Text(
                        tr.t("staff_check_in"), size=17, semantics_label=tr.t("staff_check_in_label", name=name)
                    ),
                    icon=ft.Icons.HOW_TO_REG,
                    height=56,
                    expand=not wide,
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
            run_spacing=8,
            wrap=wide,
        )
    if booking.status is contract.BookingStatus.ASISTIO:
        return ft.OutlinedButton(
            content=ft.Text(tr.t("staff_undo"), size=16, semantics_label=tr.t("staff_undo_label", name=name)),
            icon=ft.Icons.UNDO,
            height=MIN_TOUCH,
            disabled=busy,
            on_click=lambda _, b=booking.id: staff.ask_undo(b),
            style=ft.ButtonStyle(color=ft.Colors.RED_800),
        )
    return None


def _notes(tr: Translator, booking: contract.StaffBooking) -> list[ft.Control]:
    """Why the donor was checked in on another day, or the check-in undone: the staff's words, who and when."""
    return [
        ft.Text(
            tr.t(
                f"staff_note.{note.action.value}",
                when=tr.datetime(note.at, zone=False),
                by=note.by or tr.t("staff_note_no_account"),
                reason=note.reason,
            ),
            size=14,
            italic=True,
        )
        for note in booking.notes
    ]


def _row(tr: Translator, booking: contract.StaffBooking, staff: StaffCases, ui: StaffUi) -> ft.Control:
    name = booking.donor.full_name
    lines: list[ft.Control] = [
        ft.Text(f"{hhmm(booking.slot.starts_at)} · {name}", size=18, weight=ft.FontWeight.W_700),
        ft.Text(tr.t("staff_for", name=booking.patient_display_name), size=15),
        ft.Text(
            f"{tr.t('bb_folio')} {booking.folio} · {tr.t('bb_status.' + booking.status.value)}",
            size=15,
            color=_colour(booking),
            weight=ft.FontWeight.W_600,
        ),
    ]
    if booking.checked_in_at is not None:
        lines.append(ft.Text(tr.t("staff_arrived", time=hhmm(booking.checked_in_at)), size=14))
    lines += _notes(tr, booking)
    actions = _actions(tr, booking, staff, ui)
    if actions is not None:
        lines.append(actions)
    return ft.Card(
        ft.Container(ft.Column(lines, spacing=4), padding=12),
        variant=ft.CardVariant.OUTLINED,
        margin=0,
        semantic_container=False,  # the reason field and the buttons their own nodes (see views.common.section)
    )


def _booking_columns(tr: Translator) -> list[tuple[str, int]]:
    return [
        (tr.t("col_time"), 2),
        (tr.t("col_donor"), 4),
        (tr.t("col_for"), 4),
        (tr.t("col_status"), 4),
        (tr.t("col_actions"), 6),
    ]


def _table_row(tr: Translator, booking: contract.StaffBooking, staff: StaffCases, ui: StaffUi) -> ft.Control:
    """One booking as a table row (a desk PC): time, donor, child, folio and status, what to do."""
    status: list[ft.Control] = [
        ft.Text(booking.folio, size=14),
        ft.Text(tr.t("bb_status." + booking.status.value), size=15, color=_colour(booking), weight=ft.FontWeight.W_600),
    ]
    if booking.checked_in_at is not None:
        status.append(ft.Text(tr.t("staff_arrived", time=hhmm(booking.checked_in_at)), size=14))
    status += _notes(tr, booking)
    actions = _actions(tr, booking, staff, ui, wide=True)
    return table_row(
        _booking_columns(tr),
        [
            ft.Text(hhmm(booking.slot.starts_at), size=16, weight=ft.FontWeight.W_700),
            ft.Text(booking.donor.full_name, size=16, weight=ft.FontWeight.W_600),
            booking.patient_display_name,
            ft.Column(status, spacing=2),
            actions if actions is not None else ft.Text("—", size=15),
        ],
    )


def _counts(tr: Translator, ui: StaffUi, *, wide: bool) -> list[ft.Control]:
    """Donors per child: a line each (a phone), or a table (a desk PC)."""
    if not ui.counts:
        return [ft.Text(tr.t("staff_no_counts"), size=16)]
    if wide:
        columns = [(tr.t("col_patient"), 5), (tr.t("col_today"), 2), (tr.t("col_week"), 2), (tr.t("col_booked"), 2)]
        return [
            table_header(columns),
            *(
                table_row(columns, [name, str(today), str(week), str(booked)])
                for name, today, week, booked in ui.counts
            ),
        ]
    return [
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


def build(
    state: AppState, tr: Translator, staff: StaffCases, *, on_refresh: Handler, on_settings: Handler, wide: bool = False
) -> ft.View:
    """The day's list and the donor counts: one under the other (a phone), side by side (``wide``, a desk PC)."""
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
        day_list: list[ft.Control] = []
        rows: list[ft.Control]
        if not ui.bookings:
            rows = [ft.Text(tr.t("staff_loading") if ui.loading else tr.t("staff_none"), size=16)]
        elif wide:
            rows = [table_header(_booking_columns(tr)), *(_table_row(tr, b, staff, ui) for b in ui.bookings)]
        else:
            rows = [_row(tr, b, staff, ui) for b in ui.bookings]
        if day is not None:
            title = tr.t("staff_today" if day == staff.today() else "staff_day", date=tr.long_date(day))
            day_list.append(
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
        day_list.append(section(tr.t("staff_list"), rows))
        counts: list[ft.Control] = [section(tr.t("staff_counts"), _counts(tr, ui, wide=wide))]
        if wide:
            body.append(desk_layout(day_list, counts, list_share=8))
        else:
            body += day_list + counts
    bar = app_bar(tr.t("staff_title"), tr, on_refresh=on_refresh, on_settings=on_settings, syncing=ui.loading)
    return screen("/staff", bar, body)
