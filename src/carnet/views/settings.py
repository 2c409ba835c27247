"""Settings: language, the sync, "Mi cuenta", WhatsApp and reminders (families), and log out."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import flet as ft

from carnet.core.i18n import Translator
from carnet.shell.state import AppState
from carnet.views.common import GREEN, Handler, app_bar, screen, section, status_banners, touch_target
from carnet_contract import models as contract


def build(
    state: AppState,
    tr: Translator,
    *,
    on_back: Handler,
    on_locale: Callable[[str], Any],
    on_logout: Handler,
    on_send_and_logout: Handler | None = None,
    on_discard_and_logout: Handler | None = None,
    on_cancel_logout: Handler | None = None,
    on_sync_status: Handler | None = None,
    on_account: Handler | None = None,
    on_admin: Handler | None = None,
    on_whatsapp: Handler | None = None,
    on_reminders: Handler | None = None,
) -> ft.View:
    language = ft.RadioGroup(
        value=state.locale,
        on_change=lambda e: on_locale(e.control.value),
        content=ft.Column(
            [
                # Standard density: 48 px targets (a browser's default density makes them 32 px).
                touch_target(ft.Radio(value="es-MX", label=tr.t("lang_es"), visual_density=ft.VisualDensity.STANDARD)),
                touch_target(ft.Radio(value="en", label=tr.t("lang_en"), visual_density=ft.VisualDensity.STANDARD)),
            ],
            spacing=0,
        ),
    )
    banners = status_banners(state, tr)
    body: list[ft.Control] = [
        *banners,
        section(tr.t("language"), [language]),
    ]
    if on_sync_status is not None:
        sync = state.sync
        lines: list[ft.Control] = [
            ft.Text(
                tr.t("last_sync", when=tr.datetime(sync.last_success_at))
                if sync.last_success_at
                else tr.t("never_synced"),
                size=15,
            ),
            ft.Text(tr.t("pending_count", count=sync.pending) if sync.pending else tr.t("nothing_pending"), size=15),
            ft.FilledTonalButton(
                content=tr.t("sync_status"), icon=ft.Icons.CLOUD_SYNC, on_click=on_sync_status, height=52
            ),
        ]
        body.append(section(tr.t("sync_status"), lines))
    if on_account is not None and state.user is not None:
        family = state.user.role == contract.Role.GUARDIAN
        body.append(
            section(
                tr.t("acct_title"),
                [
                    ft.Text(tr.t("acct_settings_note" if family else "acct_settings_note_staff"), size=15),
                    ft.FilledTonalButton(
                        content=tr.t("acct_title"), icon=ft.Icons.MANAGE_ACCOUNTS, on_click=on_account, height=52
                    ),
                ],
            )
        )
    if state.user is not None and state.user.role == contract.Role.GUARDIAN and (on_whatsapp or on_reminders):
        # One section, two buttons side by side: the logout below stays where a thumb finds it.
        buttons: list[ft.Control] = []
        if on_whatsapp is not None:
            buttons.append(
                ft.FilledTonalButton(content=tr.t("wa_title"), icon=ft.Icons.CHAT, on_click=on_whatsapp, height=52)
            )
        if on_reminders is not None:
            buttons.append(
                ft.FilledTonalButton(
                    content=tr.t("rem_title"), icon=ft.Icons.NOTIFICATIONS_ACTIVE, on_click=on_reminders, height=52
                )
            )
        body.append(
            section(
                tr.t("wa_settings_title"),
                [
                    ft.Text(tr.t("wa_settings_note"), size=15),
                    ft.Row(buttons, wrap=True, spacing=12, run_spacing=8),
                ],
            )
        )
    if on_admin is not None and state.user is not None and state.user.role == contract.Role.ADMIN:
        body.append(
            section(
                tr.t("adm_title"),
                [
                    ft.Text(tr.t("adm_settings_note"), size=15),
                    ft.FilledTonalButton(
                        content=tr.t("adm_title"), icon=ft.Icons.ADMIN_PANEL_SETTINGS, on_click=on_admin, height=52
                    ),
                ],
            )
        )
    account: list[ft.Control] = []
    if state.user is not None:
        account.append(ft.Text(tr.t("signed_in_as", name=state.user.display_name), size=16))
    if state.web_session:
        account.append(ft.Text(tr.t("web_notice"), size=14, color=ft.Colors.GREY_800))
    elif state.secure_storage:
        account.append(ft.Text(tr.t("storage_secure"), size=14, color=ft.Colors.GREY_800))
    account.append(ft.Text(tr.t("logout_note"), size=14, color=ft.Colors.GREY_800))
    if state.logout_unsent:
        account += _logout_question(
            state,
            tr,
            on_send=on_send_and_logout,
            on_discard=on_discard_and_logout or on_logout,
            on_cancel=on_cancel_logout,
        )
    else:
        account.append(ft.OutlinedButton(content=tr.t("logout"), icon=ft.Icons.LOGOUT, on_click=on_logout, height=52))
    if state.logout_unsent:
        # The question goes first, where the family sees it without scrolling (the section sits at the bottom).
        body.insert(len(banners), section(tr.t("logout"), account))
    else:
        body.append(section(tr.t("logout"), account))
    return screen("/settings", app_bar(tr.t("settings"), tr, on_back=on_back), body)


def _logout_question(
    state: AppState, tr: Translator, *, on_send: Handler | None, on_discard: Handler, on_cancel: Handler | None
) -> list[ft.Control]:
    """Writes not sent yet: say how many and what; send them first, lose them (said plainly) or cancel."""
    sending = state.logout_sending
    found: list[ft.Control] = [
        ft.Text(tr.t("logout_unsent", what=state.logout_unsent), size=16, weight=ft.FontWeight.W_600),
        ft.Text(tr.t("logout_unsent_note"), size=15),
    ]
    if state.logout_problem:
        found.append(ft.Text(state.logout_problem, size=15, color=ft.Colors.RED_900))
    if sending:
        found.append(
            ft.Row(
                [
                    ft.ProgressRing(width=22, height=22, semantics_label=tr.t("logout_sending")),
                    ft.Text(tr.t("logout_sending")),
                ]
            )
        )
    buttons: list[ft.Control] = []
    if on_send is not None:
        buttons.append(
            ft.FilledButton(
                content=tr.t("logout_send_first"),
                icon=ft.Icons.CLOUD_UPLOAD,
                height=52,
                on_click=on_send,
                disabled=sending,
                style=ft.ButtonStyle(bgcolor=GREEN, color=ft.Colors.WHITE),
            )
        )
    buttons.append(
        ft.OutlinedButton(
            content=tr.t("logout_discard"),
            icon=ft.Icons.DELETE_OUTLINE,
            height=52,
            on_click=on_discard,
            disabled=sending,
            style=ft.ButtonStyle(color=ft.Colors.RED_900),
        )
    )
    if on_cancel is not None:
        buttons.append(ft.TextButton(content=tr.t("cancel"), height=52, on_click=on_cancel, disabled=sending))
    found.append(ft.Row(buttons, wrap=True, spacing=12, run_spacing=8))
    return found
