"""Login screen. Kept alive while shown so the typed username survives redraws."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import flet as ft

from carnet.core.i18n import Translator
from carnet.shell.state import AppState
from carnet.views.common import GREEN, MIN_TOUCH, banner, icon_button, screen, status_banners

LoginHandler = Callable[[str, str], Awaitable[None]]


class LoginView:
    def __init__(
        self, on_login: LoginHandler, on_activate: Callable[[Any], None] | None = None, *, autofocus: bool = True
    ) -> None:
        """``autofocus``: the username field takes the focus at once (not in a browser: there a focus given before
        a screen reader turns on Flutter's accessibility tree stays on an unnamed input of the engine's own)."""
        self._on_login = on_login
        self._on_activate = on_activate
        self._tr = Translator("es-MX")
        self.username = ft.TextField(
            autofocus=autofocus,
            autocorrect=False,
            enable_suggestions=False,
            capitalization=ft.TextCapitalization.NONE,
            autofill_hints=ft.AutofillHint.USERNAME,
            on_submit=self._focus_password,
            text_size=18,
        )
        self.password = ft.TextField(
            password=True,  # revealed by our own named button (flet's reveal icon has no accessible name)
            autocorrect=False,
            enable_suggestions=False,
            autofill_hints=ft.AutofillHint.PASSWORD,
            on_submit=self._submit,
            text_size=18,
        )

    def _toggle_password(self, _: Any = None) -> None:
        self.password.password = not self.password.password
        self._reveal_button()
        self.password.update()

    def _reveal_button(self) -> None:
        hidden = bool(self.password.password)
        self.password.suffix_icon = icon_button(
            ft.Icons.VISIBILITY if hidden else ft.Icons.VISIBILITY_OFF,
            self._tr.t("show_password" if hidden else "hide_password"),
            self._toggle_password,
        )

    async def _focus_password(self, _: ft.Event[ft.TextField]) -> None:
        await self.password.focus()

    async def _submit(self, _: ft.Event[ft.TextField] | ft.Event[ft.Button]) -> None:
        await self._on_login(self.username.value, self.password.value)

    def build(self, state: AppState, tr: Translator) -> ft.View:
        busy = state.busy
        self._tr = tr
        self._reveal_button()
        self.username.label = tr.t("username")
        self.password.label = tr.t("password")
        self.username.disabled = self.password.disabled = busy
        if state.login_error:
            self.password.value = ""
        button = ft.FilledButton(
            content=tr.t("logging_in") if busy else tr.t("login_button"),
            on_click=self._submit,
            disabled=busy,
            height=56,
            style=ft.ButtonStyle(
                bgcolor=GREEN, color=ft.Colors.WHITE, text_style=ft.TextStyle(size=18, weight=ft.FontWeight.W_600)
            ),
        )
        body: list[ft.Control] = [
            ft.Container(
                ft.Image(src="icon.png", width=88, height=88, semantics_label="Carnet"),
                alignment=ft.Alignment.CENTER,
                padding=ft.Padding.only(top=24),
            ),
            ft.Text(tr.t("login_title"), size=26, weight=ft.FontWeight.W_700, text_align=ft.TextAlign.CENTER),
            ft.Text(tr.t("login_subtitle"), size=16, text_align=ft.TextAlign.CENTER),
            # The form first: at 360×640 the notices below must not push "Entrar" off the screen.
            ft.AutofillGroup(
                ft.Column(
                    [self.username, self.password], spacing=12, horizontal_alignment=ft.CrossAxisAlignment.STRETCH
                )
            ),
            button,
            *status_banners(state, tr),
            *(
                [banner(tr.t("web_notice"), icon=ft.Icons.PUBLIC, bgcolor=ft.Colors.BLUE_50, color=ft.Colors.BLUE_900)]
                if state.web_session
                else []
            ),
            *(
                [
                    banner(
                        state.login_info,
                        icon=ft.Icons.INFO_OUTLINE,
                        bgcolor=ft.Colors.BLUE_50,
                        color=ft.Colors.BLUE_900,
                    )
                ]
                if state.login_info
                else []
            ),
        ]
        if self._on_activate is not None:
            body.append(
                ft.OutlinedButton(
                    content=ft.Text(tr.t("enr_have_code"), size=17),
                    icon=ft.Icons.QR_CODE_2,
                    height=MIN_TOUCH + 8,
                    disabled=busy,
                    on_click=self._on_activate,
                )
            )
        if busy:
            body.append(
                ft.Row(
                    [
                        ft.ProgressRing(width=28, height=28, semantics_label=tr.t("logging_in")),
                        ft.Text(tr.t("logging_in"), size=16),
                    ],
                    alignment=ft.MainAxisAlignment.CENTER,
                    height=MIN_TOUCH,
                )
            )
        if state.login_error:
            body.append(
                ft.Container(
                    ft.Text(state.login_error, color=ft.Colors.RED_900, size=16, weight=ft.FontWeight.W_500),
                    bgcolor=ft.Colors.RED_50,
                    padding=12,
                    border_radius=8,
                )
            )
        return screen("/login", None, body)
