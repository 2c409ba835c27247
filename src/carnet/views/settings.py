"""Settings: language and log out."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import flet as ft

from carnet.i18n import Translator
from carnet.state import AppState
from carnet.views.common import Handler, app_bar, screen, section, status_banners


def build(state: AppState, tr: Translator, *, on_back: Handler, on_locale: Callable[[str], Any],
          on_logout: Handler) -> ft.View:
    language = ft.RadioGroup(
        value=state.locale,
        on_change=lambda e: on_locale(e.control.value),
        content=ft.Column([ft.Radio(value="es-MX", label=tr.t("lang_es")),
                           ft.Radio(value="en", label=tr.t("lang_en"))], spacing=8),
    )
    body: list[ft.Control] = [
        *status_banners(state, tr),
        section(tr.t("language"), [language]),
    ]
    account: list[ft.Control] = []
    if state.user is not None:
        account.append(ft.Text(tr.t("signed_in_as", name=state.user.display_name), size=16))
    if state.secure_storage:
        account.append(ft.Text(tr.t("storage_secure"), size=14, color=ft.Colors.GREY_800))
    account += [
        ft.Text(tr.t("logout_note"), size=14, color=ft.Colors.GREY_800),
        ft.OutlinedButton(content=tr.t("logout"), icon=ft.Icons.LOGOUT, on_click=on_logout, height=52),
    ]
    body.append(section(tr.t("logout"), account))
    return screen("/settings", app_bar(tr.t("settings"), tr, on_back=on_back), body)
