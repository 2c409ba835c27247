"""One donation booking: the confirmation (big folio, bank, address, time, what to bring), its state,
every reason of a rejection, cancel (with confirmation) and change of time."""

from __future__ import annotations

from typing import TYPE_CHECKING

import flet as ft

from carnet.blood_bank.repository import BookingView, can_change
from carnet.core.i18n import Translator
from carnet.data.records import Mark
from carnet.shell.state import AppState
from carnet.views.blood_bank.bookings import refusal_card, slot_when, status_text
from carnet.views.common import GREEN, Handler, app_bar, awaiting, banner, field, screen, section, status_banners

if TYPE_CHECKING:
    from datetime import datetime

    from carnet.blood_bank.cases import BloodBankCases


def build(
    state: AppState,
    tr: Translator,
    cases: BloodBankCases,
    *,
    now: datetime,
    on_back: Handler,
    on_dismiss: Handler,
    on_retry: Handler,
    on_discard: Handler,
) -> ft.View:
    ui = state.blood_bank
    view = state.selected_booking
    bar = app_bar(tr.t("bb_booking_title"), tr, on_back=on_back)
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
    if view is None:
        body.append(ft.Text(tr.t("bb_booking_gone"), size=16))
        return screen("/blood-bank/booking", bar, body)
    status, colour = status_text(tr, view)
    head: list[ft.Control] = [ft.Text(status, size=22, weight=ft.FontWeight.W_700, color=colour)]
    if view.folio:
        head += [
            ft.Text(tr.t("bb_folio"), size=14, color=ft.Colors.GREY_700),
            ft.Text(view.folio, size=34, weight=ft.FontWeight.W_800),
        ]
    elif view.mark is not Mark.FAILED:
        head.append(ft.Text(tr.t("bb_folio_pending"), size=15))
    if view.mark is Mark.FAILED and view.error:
        if view.asked_slot is not None:
            head.append(ft.Text(tr.t("bb_asked_time", when=slot_when(tr, view.asked_slot)), size=16))
        head.append(ft.Text(tr.t("bb_reason"), size=15, weight=ft.FontWeight.W_700, color=ft.Colors.RED_900))
        head += [ft.Text(line, size=16, color=ft.Colors.RED_900) for line in view.error.splitlines() if line.strip()]
        if view.item_id:
            head.append(
                ft.Row(
                    [
                        ft.FilledButton(
                            content=tr.t("retry"),
                            icon=ft.Icons.REFRESH,
                            height=52,
                            on_click=lambda _, i=view.item_id: on_retry(i),
                        ),
                        ft.OutlinedButton(
                            content=tr.t("discard"),
                            icon=ft.Icons.DELETE_OUTLINE,
                            height=52,
                            on_click=lambda _, i=view.item_id: on_discard(i),
                        ),
                    ],
                    wrap=True,
                    spacing=12,
                )
            )
    body.append(
        ft.Container(
            ft.Column(head, spacing=4),
            padding=16,
            border_radius=12,
            bgcolor=ft.Colors.RED_50 if view.mark is Mark.FAILED else ft.Colors.GREEN_50,
        )
    )
    if view.refused:
        body.append(_refused_change(tr, view, cases))
    facts: list[ft.Control] = [field(tr.t("appt_when"), slot_when(tr, view.slot))]
    if view.bank is not None:
        facts.append(field(tr.t("kind.banco_de_sangre"), view.bank.name))
        facts.append(field(tr.t("bb_address"), view.bank.address))
        if view.bank.phone:
            facts.append(field(tr.t("bb_bank_phone"), view.bank.phone))
    facts.append(field(tr.t("bb_donor"), view.donor_name))
    facts.append(field(tr.t("appt_patient"), state.child_name(view.patient_id)))
    body.append(section(tr.t("bb_booking_title"), facts))
    instructions = view.bank.instructions if view.bank and view.bank.instructions else tr.t("bb_instructions_default")
    body.append(section(tr.t("bb_instructions"), [ft.Text(instructions, size=16)]))
    if can_change(view, now):
        if ui.confirm_cancel:
            body.append(
                section(
                    tr.t("bb_cancel"),
                    [
                        ft.Text(tr.t("bb_confirm_cancel"), size=16),
                        ft.Row(
                            [
                                ft.FilledButton(
                                    content=tr.t("bb_confirm_cancel_yes"),
                                    icon=ft.Icons.EVENT_BUSY,
                                    height=52,
                                    on_click=lambda _, b=view.id: cases.cancel(b),
                                    style=ft.ButtonStyle(bgcolor=ft.Colors.RED_800, color=ft.Colors.WHITE),
                                ),
                                ft.OutlinedButton(
                                    content=tr.t("bb_keep"), height=52, on_click=lambda _: cases.ask_cancel(False)
                                ),
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
                        ft.FilledTonalButton(
                            content=tr.t("bb_reschedule"),
                            icon=ft.Icons.EDIT_CALENDAR,
                            height=52,
                            on_click=awaiting(cases.start_reschedule, view.id),
                        ),
                        ft.OutlinedButton(
                            content=tr.t("bb_cancel"),
                            icon=ft.Icons.EVENT_BUSY,
                            height=52,
                            on_click=lambda _: cases.ask_cancel(True),
                            style=ft.ButtonStyle(color=ft.Colors.RED_800),
                        ),
                    ],
                    wrap=True,
                    spacing=12,
                )
            )
    body.append(ft.OutlinedButton(content=tr.t("back"), height=52, on_click=on_back, style=ft.ButtonStyle(color=GREEN)))
    return screen("/blood-bank/booking", bar, body)


def _refused_change(tr: Translator, view: BookingView, cases: BloodBankCases) -> ft.Control:
    """The blood bank's answer to a change of time: the donor may not donate on that day (every reason); the
    booking keeps its time ("Cambiar horario" below asks for another). "Entendido" puts the answer away."""
    title = tr.t("bb_change_refused_title", when=slot_when(tr, view.asked_slot))
    note = tr.t("bb_change_refused_note", when=slot_when(tr, view.slot))
    ok = ft.OutlinedButton(
        content=tr.t("bb_change_refused_ok"), height=52, on_click=lambda _, b=view.id: cases.forget_refused_change(b)
    )
    return ft.Column([refusal_card(tr, view.refused, title=title, note=note), ok], spacing=8)
