"""Ajustes → WhatsApp: linked or not (the number masked), "Vincular WhatsApp" (the code large, the bot's number
and three steps), "Ya lo envié" and "Desvincular" with its confirmation. Drawing only."""

from __future__ import annotations

from typing import TYPE_CHECKING

import flet as ft

from carnet.core.i18n import Translator
from carnet.shell.state import AppState
from carnet.views.common import GREEN, MIN_TOUCH, Handler, app_bar, awaiting, notes, screen, section
from carnet_contract import models as contract

if TYPE_CHECKING:
    from carnet.whatsapp.cases import WhatsAppCases

ROUTE = "/settings/whatsapp"
BIG = 56


def _busy(label: str) -> ft.Control:
    return ft.Row(
        [ft.ProgressRing(width=28, height=28, semantics_label=label), ft.Text(label, size=16)],
        spacing=12,
        height=MIN_TOUCH,
    )


def _status_line(icon: ft.IconData, colour: str, text: str) -> ft.Control:
    """An icon and its words (the state is said in text, never by the colour alone)."""
    return ft.Row(
        [ft.Icon(icon, color=colour, size=26), ft.Text(text, size=18, weight=ft.FontWeight.W_700, expand=True)],
        spacing=10,
    )


def build(state: AppState, tr: Translator, cases: WhatsAppCases, *, on_back: Handler) -> ft.View:
    ui = state.whatsapp
    t = tr.t
    body = notes(
        state,
        tr,
        message=ui.message,
        error=ui.error,
        on_dismiss=lambda _: cases.dismiss_message(),
        online_only=t("wa_online_only"),
        dismiss_error=True,
    )
    link = ui.link
    status: list[ft.Control] = []
    if link is None:  # not known (yet): offline, "Vincular WhatsApp" still says why it cannot go
        status.append(_busy(t("wa_loading")) if ui.loading else ft.Text(t("wa_unknown"), size=15))
        if not ui.loading and ui.code is None:
            status.append(_link_button(tr, cases, busy=ui.busy))
    elif link.linked:
        status.append(_status_line(ft.Icons.CHECK_CIRCLE, GREEN, t("wa_linked", number=link.number or "")))
        if link.linked_at is not None:
            status.append(ft.Text(t("wa_linked_since", when=tr.datetime(link.linked_at)), size=15))
        status.append(ft.Text(t("wa_linked_note"), size=15))
        if not ui.confirm_unlink:
            status.append(
                ft.OutlinedButton(
                    content=ft.Text(t("wa_unlink"), size=16),
                    icon=ft.Icons.LINK_OFF,
                    height=MIN_TOUCH,
                    disabled=ui.busy,
                    on_click=lambda _: cases.ask_unlink(True),
                    style=ft.ButtonStyle(color=ft.Colors.RED_900),
                )
            )
    else:
        status.append(_status_line(ft.Icons.LINK_OFF, ft.Colors.GREY_800, t("wa_not_linked")))
        status.append(ft.Text(t("wa_not_linked_note"), size=15))
        if ui.code is None:
            status.append(_link_button(tr, cases, busy=ui.busy))
    body.append(section(t("wa_title"), status))
    if link is not None and link.linked and ui.confirm_unlink:
        body.append(_confirm_unlink(tr, cases, busy=ui.busy))
    if ui.code is not None and not (link is not None and link.linked):
        bot_number = ui.code.bot_number or (link.bot_number if link is not None else "")
        body.append(_code_card(tr, cases, ui.code, busy=ui.busy, bot_number=bot_number))
    if ui.busy:
        body.append(_busy(t("wa_busy")))
    return screen(ROUTE, app_bar(t("wa_title"), tr, on_back=on_back), body)


def _link_button(tr: Translator, cases: WhatsAppCases, *, busy: bool) -> ft.Control:
    return ft.FilledButton(
        content=ft.Text(tr.t("wa_link"), size=17),
        icon=ft.Icons.CHAT,
        height=BIG,
        disabled=busy,
        on_click=awaiting(cases.request_code),
        style=ft.ButtonStyle(bgcolor=GREEN, color=ft.Colors.WHITE),
    )


def _code_card(
    tr: Translator, cases: WhatsAppCases, code: contract.WhatsAppLinkCode, *, busy: bool, bot_number: str
) -> ft.Control:
    """The code, large and selectable (black on white), the bot's number and the three steps."""
    t = tr.t
    steps = [
        t("wa_step_open"),
        t("wa_step_write", number=bot_number) if bot_number else t("wa_step_write_bot"),
        t("wa_step_send"),
    ]
    lines: list[ft.Control] = [
        ft.Text(f"{n}. {text}", size=17, weight=ft.FontWeight.W_500) for n, text in enumerate(steps, start=1)
    ]
    lines.append(
        ft.Container(
            ft.Text(
                code.code,
                size=38,
                weight=ft.FontWeight.W_800,
                color=ft.Colors.BLACK,
                selectable=True,
                semantics_label=t("wa_code_label", code=" ".join(code.code)),
                text_align=ft.TextAlign.CENTER,
            ),
            bgcolor=ft.Colors.WHITE,
            border=ft.Border.all(3, ft.Colors.BLACK),
            border_radius=10,
            padding=ft.Padding.symmetric(horizontal=12, vertical=14),
            alignment=ft.Alignment.CENTER,
        )
    )
    if bot_number:
        lines.append(
            ft.Column(
                [
                    ft.Text(t("wa_bot_number"), size=14, color=ft.Colors.GREY_800),
                    ft.Text(
                        bot_number,
                        size=24,
                        weight=ft.FontWeight.W_700,
                        color=ft.Colors.BLACK,
                        selectable=True,
                        semantics_label=bot_number,  # selectable text has no name of its own on the web
                    ),
                ],
                spacing=0,
            )
        )
    if cases.code_expired():
        lines.append(ft.Text(t("wa_code_expired"), size=16, weight=ft.FontWeight.W_700, color=ft.Colors.RED_900))
    else:
        lines.append(ft.Text(t("wa_code_expires", when=tr.datetime(code.expires_at)), size=15))
    lines += [
        ft.FilledButton(
            content=ft.Text(t("wa_sent"), size=17),
            icon=ft.Icons.DONE,
            height=BIG,
            disabled=busy,
            on_click=awaiting(cases.check_sent),
            style=ft.ButtonStyle(bgcolor=GREEN, color=ft.Colors.WHITE),
        ),
        ft.OutlinedButton(
            content=ft.Text(t("wa_new_code"), size=16),
            icon=ft.Icons.REFRESH,
            height=MIN_TOUCH,
            disabled=busy,
            on_click=awaiting(cases.request_code),
        ),
    ]
    return section(t("wa_code_title"), lines)


def _confirm_unlink(tr: Translator, cases: WhatsAppCases, *, busy: bool) -> ft.Control:
    """The confirmation of "Desvincular", right under it: what it does, then yes or cancel."""
    t = tr.t
    return ft.Container(
        ft.Column(
            [
                ft.Text(t("wa_unlink_question"), size=18, weight=ft.FontWeight.W_700),
                ft.Text(t("wa_unlink_note"), size=15),
                ft.Row(
                    [
                        ft.FilledButton(
                            content=ft.Text(t("wa_unlink_yes"), size=16),
                            icon=ft.Icons.LINK_OFF,
                            height=MIN_TOUCH,
                            disabled=busy,
                            on_click=awaiting(cases.unlink),
                            style=ft.ButtonStyle(bgcolor=ft.Colors.RED_900, color=ft.Colors.WHITE),
                        ),
                        ft.TextButton(
                            content=ft.Text(t("cancel"), size=16),
                            height=MIN_TOUCH,
                            disabled=busy,
                            on_click=lambda _: cases.ask_unlink(False),
                        ),
                    ],
                    wrap=True,
                    spacing=12,
                    run_spacing=8,
                ),
            ],
            spacing=8,
        ),
        bgcolor=ft.Colors.RED_50,
        border=ft.Border.all(2, ft.Colors.RED_900),
        border_radius=10,
        padding=16,
    )
