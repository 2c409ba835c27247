"""The privacy notice: the gate a guardian passes before the app shows the children's data ("Acepto" /
"Ahora no", both always in sight below the scrolling text), and the same notice read again from Mi cuenta.
Drawing only."""

from __future__ import annotations

from typing import TYPE_CHECKING

import flet as ft

from carnet.core.i18n import Translator
from carnet.shell.state import AppState
from carnet.views.common import (
    GREEN,
    MIN_TOUCH,
    PAGE_PADDING,
    Handler,
    app_bar,
    awaiting,
    banner,
    screen,
    status_banners,
)
from carnet_contract import models as contract

if TYPE_CHECKING:
    from carnet.privacy.cases import PrivacyCases


def notice_controls(tr: Translator, notice: contract.PrivacyNotice) -> list[ft.Control]:
    """Title, version and date, summary and every section, at sizes meant to be read on a phone."""
    found: list[ft.Control] = [
        ft.Text(notice.title, size=22, weight=ft.FontWeight.W_700),
        ft.Text(
            tr.t("privacy_version", version=notice.version, date=tr.date(notice.published_on)),
            size=14,
            color=ft.Colors.GREY_800,
        ),
        ft.Container(
            ft.Text(notice.summary, size=17, weight=ft.FontWeight.W_500),
            bgcolor=ft.Colors.GREEN_50,
            padding=12,
            border_radius=8,
        ),
    ]
    for part in notice.sections:
        found.append(
            ft.Column(
                [ft.Text(part.heading, size=18, weight=ft.FontWeight.W_700, color=GREEN), ft.Text(part.body, size=16)],
                spacing=4,
            )
        )
    return found


def _state_lines(state: AppState, tr: Translator, cases: PrivacyCases) -> list[ft.Control]:
    """Loading, news and problems of the notice, with what can be done about them."""
    ui = state.privacy
    found: list[ft.Control] = []
    if ui.message:
        found.append(
            banner(ui.message, icon=ft.Icons.INFO_OUTLINE, bgcolor=ft.Colors.BLUE_50, color=ft.Colors.BLUE_900)
        )
    if ui.error:
        found.append(banner(ui.error, icon=ft.Icons.CLOUD_OFF, bgcolor=ft.Colors.AMBER_100, color=ft.Colors.BLACK))
        if ui.notice is None:
            found.append(
                ft.OutlinedButton(
                    content=ft.Text(tr.t("privacy_retry"), size=16),
                    icon=ft.Icons.REFRESH,
                    height=MIN_TOUCH,
                    disabled=ui.loading,
                    on_click=awaiting(cases.load_notice),
                )
            )
    if ui.loading:
        found.append(
            ft.Row(
                [
                    ft.ProgressRing(width=28, height=28, semantics_label=tr.t("privacy_loading")),
                    ft.Text(tr.t("privacy_loading"), size=16),
                ],
                height=MIN_TOUCH,
                spacing=12,
            )
        )
    return found


def build_gate(state: AppState, tr: Translator, cases: PrivacyCases) -> ft.View:
    """After login: the notice to accept. The buttons stay below the text, whatever is scrolled."""
    ui = state.privacy
    body: list[ft.Control] = [
        *status_banners(state, tr),
        ft.Text(tr.t("privacy_intro"), size=16, weight=ft.FontWeight.W_600),
        *_state_lines(state, tr, cases),
    ]
    if ui.notice is not None:
        body += notice_controls(tr, ui.notice)
    body += [
        ft.Text(tr.t("privacy_decline_note"), size=15, color=ft.Colors.GREY_800),
        ft.Text(tr.t("privacy_network_note"), size=15, color=ft.Colors.GREY_800),
    ]
    if ui.error and ui.can_continue_offline:
        body.append(
            ft.OutlinedButton(
                content=ft.Text(tr.t("privacy_continue_offline"), size=16),
                icon=ft.Icons.PHONE_ANDROID,
                height=MIN_TOUCH,
                on_click=lambda _: cases.continue_offline(),
            )
        )
    accept_label = tr.t("privacy_accepting") if ui.accepting else tr.t("privacy_accept")
    buttons = ft.Row(
        [
            ft.OutlinedButton(
                content=ft.Text(tr.t("privacy_decline"), size=18, weight=ft.FontWeight.W_600),
                height=56,
                expand=True,
                disabled=ui.accepting,
                on_click=awaiting(cases.decline),
            ),
            ft.FilledButton(
                content=ft.Text(accept_label, size=18, weight=ft.FontWeight.W_600),
                icon=ft.Icons.CHECK,
                height=56,
                expand=True,
                disabled=ui.notice is None or ui.accepting or ui.loading,
                on_click=awaiting(cases.accept),
                style=ft.ButtonStyle(
                    bgcolor={ft.ControlState.DISABLED: ft.Colors.GREY_300, ft.ControlState.DEFAULT: GREEN},
                    color={ft.ControlState.DISABLED: ft.Colors.GREY_700, ft.ControlState.DEFAULT: ft.Colors.WHITE},
                ),
            ),
        ],
        spacing=12,
    )
    text = ft.Container(
        ft.Column(body, spacing=12, scroll=ft.ScrollMode.AUTO, horizontal_alignment=ft.CrossAxisAlignment.STRETCH),
        padding=PAGE_PADDING,
        expand=True,
    )
    bottom = ft.Container(
        buttons,
        padding=ft.Padding.symmetric(horizontal=PAGE_PADDING, vertical=12),
        bgcolor=ft.Colors.WHITE,
        border=ft.Border.only(top=ft.BorderSide(1, ft.Colors.GREY_300)),
    )
    return ft.View(
        route="/privacy",
        appbar=app_bar(tr.t("privacy_title"), tr),
        padding=0,
        bgcolor=ft.Colors.WHITE,
        controls=[ft.Column([text, bottom], spacing=0, expand=True)],
    )


def build_reread(state: AppState, tr: Translator, cases: PrivacyCases, *, on_back: Handler) -> ft.View:
    """Mi cuenta → "Aviso de privacidad": the notice again, with when it was accepted."""
    ui, status = state.privacy, state.account.status
    body: list[ft.Control] = [*status_banners(state, tr)]
    if status is not None and status.accepted_at is not None:
        body.append(
            ft.Row(
                [
                    ft.Icon(ft.Icons.VERIFIED, color=GREEN, size=24),
                    ft.Text(
                        tr.t("privacy_accepted_on", when=tr.datetime(status.accepted_at)),
                        size=16,
                        weight=ft.FontWeight.W_600,
                        color=GREEN,
                        expand=True,
                    ),
                ],
                spacing=8,
            )
        )
    body += _state_lines(state, tr, cases)
    if ui.notice is not None:
        if status is not None and status.accepted_version != ui.notice.version:
            body.append(ft.Text(tr.t("privacy_not_accepted"), size=15, color=ft.Colors.RED_900))
        body += notice_controls(tr, ui.notice)
    return screen("/account/privacy", app_bar(tr.t("privacy_title"), tr, on_back=on_back), body)
