""" "Banco de sangre" tab: "Mis citas de donación", then child, bank, day chips and slots with places left."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import flet as ft

from carnet.blood_bank.repository import BookingChange, BookingView, Refusal
from carnet.core.clock import hhmm
from carnet.core.i18n import Translator
from carnet.data.records import Mark
from carnet.shell.state import AppState
from carnet.views.common import (
    GREEN,
    MIN_TOUCH,
    Handler,
    app_bar,
    awaiting,
    banner,
    nav_bar,
    screen,
    section,
    status_banners,
    sync_icon,
)
from carnet_contract import models as contract

if TYPE_CHECKING:
    from carnet.blood_bank.cases import BloodBankCases


def status_text(tr: Translator, view: BookingView) -> tuple[str, str]:
    """What a booking's state is called, and its colour."""
    if view.mark is Mark.FAILED:
        key = {BookingChange.CREATE: "bb_rejected", BookingChange.CANCEL: "bb_failed_cancel"}.get(
            view.change or BookingChange.CREATE, "bb_failed_reschedule"
        )
        return tr.t(key), ft.Colors.RED_900
    if view.mark is Mark.PENDING:
        key = {BookingChange.CREATE: "bb_pending_confirm", BookingChange.CANCEL: "bb_pending_cancel"}.get(
            view.change or BookingChange.CREATE, "bb_pending_reschedule"
        )
        return tr.t(key), ft.Colors.BLUE_900
    assert view.status is not None
    colour = (
        ft.Colors.RED_900
        if view.status in (contract.BookingStatus.CANCELADA, contract.BookingStatus.NO_ASISTIO)
        else GREEN
    )
    return tr.t("bb_status." + view.status.value), colour


def slot_when(tr: Translator, slot: contract.Slot | None) -> str:
    if slot is None:
        return "—"
    return tr.time_range(slot.starts_at, slot.ends_at)


def _booking_button(state: AppState, tr: Translator, view: BookingView, cases: BloodBankCases) -> ft.Control:
    status, colour = status_text(tr, view)
    lines: list[ft.Control] = [
        ft.Text(status, size=15, weight=ft.FontWeight.W_700, color=colour),
        ft.Text(slot_when(tr, view.slot), size=16, color=ft.Colors.BLACK),
        ft.Text(view.bank.name if view.bank else "", size=14, color=ft.Colors.GREY_800),
    ]
    if view.refused:
        lines.append(ft.Text(tr.t("bb_change_refused_short"), size=14, color=ft.Colors.BROWN_900))
    if len(state.children) > 1:
        lines.append(ft.Text(state.child_name(view.patient_id), size=14, color=ft.Colors.GREY_800))
    if view.folio:
        lines.append(ft.Text(f"{tr.t('bb_folio')} {view.folio}", size=14, color=ft.Colors.GREY_800))
    return ft.OutlinedButton(
        content=ft.Row(
            [ft.Icon(ft.Icons.BLOODTYPE, color=ft.Colors.RED_700, size=28), ft.Column(lines, spacing=2, expand=True)],
            spacing=12,
        ),
        on_click=lambda _, bid=view.id: cases.open_booking(bid),
        style=ft.ButtonStyle(
            padding=ft.Padding.symmetric(horizontal=12, vertical=10), shape=ft.RoundedRectangleBorder(radius=10)
        ),
    )


def refusal_card(
    tr: Translator, reasons: list[str] | tuple[str, ...], *, title: str | None = None, note: str | None = None
) -> ft.Control:
    """The answer "this donor may not donate yet", with every reason: information, not an error."""
    lines: list[ft.Control] = [
        ft.Row(
            [
                ft.Icon(ft.Icons.INFO_OUTLINE, color=ft.Colors.BROWN_900, size=24),
                ft.Text(
                    title or tr.t("bb_not_eligible_title"),
                    size=17,
                    weight=ft.FontWeight.W_700,
                    color=ft.Colors.BROWN_900,
                    expand=True,
                ),
            ],
            spacing=8,
        )
    ]
    lines += [ft.Text(f"• {reason}", size=16, color=ft.Colors.BLACK) for reason in reasons]
    lines.append(ft.Text(note or tr.t("bb_not_eligible_note"), size=14, color=ft.Colors.GREY_800))
    return ft.Container(
        ft.Column(lines, spacing=6),
        padding=16,
        border_radius=12,
        bgcolor=ft.Colors.AMBER_50,
        border=ft.Border.all(1, ft.Colors.AMBER_200),
    )


def _refusal(tr: Translator, refusal: Refusal, cases: BloodBankCases) -> ft.Control:
    """A booking the blood bank answered "may not donate yet": why, and the way to correct it."""
    head = [ft.Text(slot_when(tr, refusal.slot), size=15, color=ft.Colors.GREY_800)] if refusal.slot else []
    return ft.Column(
        [
            *head,
            refusal_card(tr, refusal.reasons, title=tr.t("bb_refused_title")),
            ft.Row(
                [
                    ft.FilledButton(
                        content=tr.t("bb_refused_correct"),
                        icon=ft.Icons.EDIT,
                        height=52,
                        on_click=awaiting(cases.correct, refusal.id),
                    ),
                    ft.OutlinedButton(
                        content=tr.t("bb_refused_forget"),
                        height=52,
                        on_click=lambda _, rid=refusal.id: cases.forget_refusal(rid),
                    ),
                ],
                wrap=True,
                spacing=12,
            ),
        ],
        spacing=8,
    )


def _choice(
    tr: Translator, label: str, selected: bool, on_click: Handler, *, semantics: str | None = None
) -> ft.Control:
    """A large chip-like button; a screen reader hears whether it is the chosen one."""
    kind = ft.FilledButton if selected else ft.OutlinedButton
    name = semantics or label
    return kind(
        content=ft.Text(label, size=16, semantics_label=tr.t("bb_selected", label=name) if selected else name),
        height=MIN_TOUCH,
        on_click=on_click,
    )


def _slot_button(tr: Translator, slot: contract.Slot, cases: BloodBankCases, current: str | None) -> ft.Control:
    start, end = hhmm(slot.starts_at), hhmm(slot.ends_at)
    if slot.closed:
        places = tr.t("bb_closed")
    elif slot.available <= 0:
        places = tr.t("bb_full")
    else:
        places = tr.t("bb_place_one") if slot.available == 1 else tr.t("bb_places", count=slot.available)
    free = not slot.closed and slot.available > 0 and slot.id != current
    label = tr.t("bb_slot_label", start=start, end=end, places=places)
    kind = ft.FilledTonalButton if free else ft.OutlinedButton
    return kind(
        content=ft.Text(f"{start}–{end}  ·  {places}", size=18, weight=ft.FontWeight.W_600, semantics_label=label),
        height=56,
        disabled=not free,
        on_click=lambda _, sid=slot.id: cases.pick_slot(sid),
    )


#: Grey rows shown while a day's slots load (a morning's template has about this many).
SLOT_PLACEHOLDERS = 6


def _slots(state: AppState, tr: Translator, cases: BloodBankCases, now: datetime) -> list[ft.Control]:
    ui = state.blood_bank
    if not ui.bank_id:
        return [ft.Text(tr.t("bb_pick_bank_first"), size=16)]
    assert ui.day is not None
    lines: list[ft.Control] = []
    if ui.loading_slots:
        lines.append(
            ft.Row(
                [
                    ft.ProgressRing(width=22, height=22, semantics_label=tr.t("bb_loading_slots")),
                    ft.Text(tr.t("bb_loading_slots"), size=15),
                ]
            )
        )
    current = None
    if ui.rescheduling_id:
        moving = next((b for b in ui.bookings if b.id == ui.rescheduling_id), None)
        current = moving.slot.id if moving and moving.slot else None
    if ui.slots:
        lines.append(ft.Text(tr.t("bb_slots_zone"), size=14, color=ft.Colors.GREY_800))
    lines += [_slot_button(tr, slot, cases, current) for slot in ui.slots]
    if not ui.slots and ui.loading_slots:
        # Room for the slots on their way: the screen does not shrink under the finger and jump.
        lines += [
            ft.Container(height=56, bgcolor=ft.Colors.GREY_100, border_radius=8) for _ in range(SLOT_PLACEHOLDERS)
        ]
    if not ui.slots and not ui.loading_slots:
        offline = ui.slots_cached and ui.slots_fetched_at is None
        lines.append(ft.Text(tr.t("bb_no_slots_offline" if offline else "bb_no_slots"), size=16))
    if ui.slots_fetched_at is not None and not ui.loading_slots:
        if ui.slots_cached:
            lines.append(
                ft.Text(
                    tr.t("bb_slots_cached", when=tr.datetime(ui.slots_fetched_at)),
                    size=14,
                    color=ft.Colors.BROWN_900,
                    weight=ft.FontWeight.W_600,
                )
            )
        else:
            lines.append(
                ft.Text(
                    tr.t("bb_slots_fetched", when=tr.datetime(ui.slots_fetched_at)), size=13, color=ft.Colors.GREY_700
                )
            )
    return [section(tr.t("bb_slots", date=tr.long_date(ui.day)), lines)]


def build(
    state: AppState,
    tr: Translator,
    cases: BloodBankCases,
    *,
    now: datetime,
    on_tab: Handler,
    on_refresh: Handler,
    on_settings: Handler,
    on_sync_status: Handler,
    on_dismiss: Handler,
) -> ft.View:
    ui = state.blood_bank
    body: list[ft.Control] = [*status_banners(state, tr, on_dismiss=on_dismiss)]
    if ui.message:
        body.append(
            banner(
                ui.message,
                icon=ft.Icons.INFO_OUTLINE,
                bgcolor=ft.Colors.BLUE_50,
                color=ft.Colors.BLUE_900,
                on_dismiss=lambda _: cases.dismiss_message(),
                dismiss_label=tr.t("dismiss"),
            )
        )
    if ui.rescheduling_id:
        moving = next((b for b in ui.bookings if b.id == ui.rescheduling_id), None)
        body.append(
            banner(
                tr.t("bb_rescheduling", donor=moving.donor_name if moving else ""),
                icon=ft.Icons.EDIT_CALENDAR,
                bgcolor=ft.Colors.AMBER_100,
            )
        )
        body.append(
            ft.OutlinedButton(content=tr.t("bb_stop_reschedule"), height=MIN_TOUCH, on_click=lambda _: cases.close())
        )
    else:
        mine = [_refusal(tr, r, cases) for r in ui.refusals]
        mine += [_booking_button(state, tr, v, cases) for v in ui.bookings]
        body.append(section(tr.t("bb_my_bookings"), mine or [ft.Text(tr.t("bb_no_bookings"), size=16)]))
        body.append(ft.Text(tr.t("bb_new"), size=20, weight=ft.FontWeight.W_700))
        if len(state.children) > 1:
            body.append(
                section(
                    tr.t("bb_for_child"),
                    [
                        ft.Row(
                            [
                                _choice(
                                    tr,
                                    c.display_name,
                                    ui.patient_id == c.id,
                                    lambda _, cid=c.id: cases.pick_child(cid),
                                    semantics=tr.t("bb_child_label", name=c.display_name),
                                )
                                for c in state.children
                            ],
                            wrap=True,
                            spacing=8,
                            run_spacing=8,
                        )
                    ],
                )
            )
        banks = [_choice(tr, b.name, ui.bank_id == b.id, awaiting(cases.pick_bank, b.id)) for b in ui.banks]
        body.append(
            section(
                tr.t("bb_bank"), [ft.Column(banks, spacing=8)] if banks else [ft.Text(tr.t("bb_no_banks"), size=16)]
            )
        )
    if ui.bank_id and ui.day is not None:
        days = [
            _choice(tr, tr.short_day(d), d == ui.day, awaiting(cases.pick_day, d), semantics=tr.long_date(d))
            for d in cases.days()
        ]
        body.append(section(tr.t("bb_day"), [ft.Row(days, wrap=True, spacing=8, run_spacing=8)]))
    body += _slots(state, tr, cases, now)
    bar = app_bar(
        tr.t("bb_title"),
        tr,
        on_refresh=on_refresh,
        on_settings=on_settings,
        syncing=state.syncing,
        sync_button=sync_icon(state, tr, on_sync_status),
    )
    return screen("/blood-bank", bar, body, navigation_bar=nav_bar(state, tr, on_tab))
