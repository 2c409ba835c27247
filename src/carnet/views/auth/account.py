""" "Mi cuenta" and the screens it opens: change the password (every role); for guardians the privacy notice
accepted, "Descargar mis datos" (saved like the desk's weekly CSV: a download in a browser, the save
dialog on a phone) and the account closure request. Drawing only; the password form keeps what was typed
across redraws."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

import flet as ft

from carnet.auth.account import PasswordForm
from carnet.core.i18n import Translator
from carnet.core.navigation import Screen
from carnet.privacy.rights import REASON_MAX
from carnet.shell.state import AppState
from carnet.views.common import (
    GREEN,
    MIN_TOUCH,
    Handler,
    app_bar,
    awaiting,
    banner,
    notes,
    save_bytes,
    screen,
    section,
)

if TYPE_CHECKING:
    from carnet.auth.account import AccountCases
    from carnet.privacy.rights import DataRightsCases

BIG = 56


def _busy(label: str) -> ft.Control:
    return ft.Row(
        [ft.ProgressRing(width=28, height=28, semantics_label=label), ft.Text(label, size=16)],
        spacing=12,
        height=MIN_TOUCH,
    )


def _notes(state: AppState, tr: Translator, cases: AccountCases) -> list[ft.Control]:
    ui = state.account
    return notes(
        state, tr, message=ui.message, error=ui.error, on_dismiss=lambda _: cases.dismiss_message(), dismiss_error=True
    )


def _download(rights: DataRightsCases) -> Handler:
    async def handler(_: Any = None) -> None:
        made = await rights.export_file()
        if made is None:
            return
        name, data = made
        rights.file_saved(name, await save_bytes(name, data, "json"))

    return handler


def build(
    state: AppState,
    tr: Translator,
    cases: AccountCases,
    rights: DataRightsCases,
    *,
    on_back: Handler,
    on_link: Handler | None = None,
) -> ft.View:
    """ "Mi cuenta": one section per thing the person can do."""
    ui, status = state.account, state.account.status
    body = _notes(state, tr, cases)
    body.append(
        section(
            tr.t("acct_password_title"),
            [
                ft.Text(tr.t("acct_password_note"), size=15),
                ft.FilledTonalButton(
                    content=ft.Text(tr.t("acct_change"), size=16),
                    icon=ft.Icons.PASSWORD,
                    height=MIN_TOUCH,
                    on_click=lambda _: cases.show(Screen.ACCOUNT_PASSWORD),
                ),
            ],
        )
    )
    if cases.is_guardian and on_link is not None:
        body.append(
            section(
                tr.t("enr_link_title"),
                [
                    ft.Text(tr.t("enr_link_note"), size=15),
                    ft.FilledTonalButton(
                        content=ft.Text(tr.t("enr_link_open"), size=16),
                        icon=ft.Icons.PERSON_ADD,
                        height=MIN_TOUCH,
                        on_click=on_link,
                    ),
                ],
            )
        )
    if cases.is_guardian:
        accepted: list[ft.Control] = []
        if status is not None and status.accepted_at is not None:
            accepted.append(
                ft.Row(
                    [
                        ft.Icon(ft.Icons.VERIFIED, color=GREEN, size=22),
                        ft.Text(
                            tr.t("privacy_accepted_on", when=tr.datetime(status.accepted_at)),
                            size=16,
                            weight=ft.FontWeight.W_600,
                            expand=True,
                        ),
                    ],
                    spacing=8,
                )
            )
        body.append(
            section(
                tr.t("privacy_title"),
                [
                    *accepted,
                    ft.FilledTonalButton(
                        content=ft.Text(tr.t("acct_privacy_read"), size=16),
                        icon=ft.Icons.POLICY,
                        height=MIN_TOUCH,
                        on_click=awaiting(cases.open_notice),
                    ),
                ],
            )
        )
        export: list[ft.Control] = [
            ft.Text(tr.t("acct_export_note"), size=15),
            ft.FilledButton(
                content=ft.Text(tr.t("acct_export"), size=16),
                icon=ft.Icons.DOWNLOAD,
                height=BIG,
                disabled=ui.exporting,
                on_click=_download(rights),
                style=ft.ButtonStyle(bgcolor=GREEN, color=ft.Colors.WHITE),
            ),
        ]
        if ui.exporting:
            export.append(_busy(tr.t("acct_exporting")))
        body.append(section(tr.t("acct_export_title"), export))
        body.append(section(tr.t("acct_closure_title"), _closure_summary(state, tr, cases, rights)))
    return screen("/account", app_bar(tr.t("acct_title"), tr, on_back=on_back), body)


def _closure_summary(state: AppState, tr: Translator, cases: AccountCases, rights: DataRightsCases) -> list[ft.Control]:
    ui, status = state.account, state.account.status
    request = status.closure_request if status is not None else None
    if request is None:
        return [
            ft.Text(tr.t("acct_closure_none"), size=15),
            ft.OutlinedButton(
                content=ft.Text(tr.t("acct_closure_open"), size=16),
                icon=ft.Icons.NO_ACCOUNTS,
                height=MIN_TOUCH,
                on_click=lambda _: cases.show(Screen.ACCOUNT_CLOSURE),
            ),
        ]
    lines: list[ft.Control] = [
        ft.Row(
            [
                ft.Icon(ft.Icons.SCHEDULE, color=ft.Colors.ORANGE_900, size=22),
                ft.Text(
                    tr.t("acct_closure_requested", when=tr.datetime(request.requested_at)),
                    size=16,
                    weight=ft.FontWeight.W_700,
                    expand=True,
                ),
            ],
            spacing=8,
        ),
        ft.Text(tr.t("acct_closure_withdraw_note"), size=15),
        ft.OutlinedButton(
            content=ft.Text(tr.t("acct_closure_withdraw"), size=16),
            icon=ft.Icons.UNDO,
            height=BIG,
            disabled=ui.closure_busy,
            on_click=awaiting(rights.withdraw_closure),
        ),
    ]
    if ui.closure_busy:
        lines.append(_busy(tr.t("acct_closure_sending")))
    return lines


class PasswordView:
    """Current, new and repeated password (masked, with one show/hide switch for the three)."""

    def __init__(self, cases: AccountCases, redraw: Callable[[], None]) -> None:
        self._cases = cases
        self._redraw = redraw
        self.shown = False
        field = partial(
            ft.TextField,
            autocorrect=False,
            enable_suggestions=False,
            text_size=18,
            max_length=256,
            counter="",
            error_max_lines=3,
            helper_max_lines=2,
        )
        self.current = field(autofill_hints=ft.AutofillHint.PASSWORD, autofocus=True)
        self.new = field(autofill_hints=ft.AutofillHint.NEW_PASSWORD)
        self.repeat = field(autofill_hints=ft.AutofillHint.NEW_PASSWORD, on_submit=self._submit)

    def read(self) -> PasswordForm:
        return PasswordForm(current=self.current.value or "", new=self.new.value or "", repeat=self.repeat.value or "")

    async def _submit(self, _: Any = None) -> None:
        await self._cases.change_password(self.read())

    def _toggle(self, _: Any = None) -> None:
        self.shown = not self.shown
        self._redraw()

    def build(self, state: AppState, tr: Translator, *, on_back: Handler, pending: int) -> ft.View:
        ui = state.account
        errors = ui.password_errors
        for name, field, label in (
            ("current", self.current, "acct_current"),
            ("new", self.new, "acct_new"),
            ("repeat", self.repeat, "acct_repeat"),
        ):
            field.label = tr.t(
                "acct_current_temporary" if name == "current" and state.password_change_required else label
            )
            field.password = not self.shown
            field.error = errors.get(name)
            field.disabled = ui.changing_password
        self.new.helper = tr.t("acct_new_hint", min=self._cases.min_length)
        body = _notes(state, tr, self._cases)
        if state.password_change_required:
            body.append(
                banner(
                    tr.t("acct_temporary"), icon=ft.Icons.LOCK_RESET, bgcolor=ft.Colors.AMBER_100, color=ft.Colors.BLACK
                )
            )
        notes: list[ft.Control] = [ft.Text(tr.t("acct_password_note"), size=15)]
        if self._cases.is_guardian:
            notes.append(ft.Text(tr.t("acct_password_note_family"), size=15, color=ft.Colors.GREY_800))
        if pending:
            notes.append(
                banner(
                    tr.t("acct_pending_warning", count=pending), icon=ft.Icons.CLOUD_UPLOAD, bgcolor=ft.Colors.AMBER_100
                )
            )
        body += notes
        if errors.get("form"):
            body.append(
                banner(errors["form"], icon=ft.Icons.ERROR_OUTLINE, bgcolor=ft.Colors.RED_50, color=ft.Colors.RED_900)
            )
        toggle = ft.TextButton(
            content=ft.Text(tr.t("acct_hide") if self.shown else tr.t("acct_show"), size=16),
            icon=ft.Icons.VISIBILITY_OFF if self.shown else ft.Icons.VISIBILITY,
            height=MIN_TOUCH,
            on_click=self._toggle,
        )
        fields = ft.Column(
            [self.current, self.new, self.repeat], spacing=12, horizontal_alignment=ft.CrossAxisAlignment.STRETCH
        )
        body += [
            ft.AutofillGroup(fields),
            toggle,
            ft.FilledButton(
                content=ft.Text(
                    tr.t("acct_changing") if ui.changing_password else tr.t("acct_change"),
                    size=18,
                    weight=ft.FontWeight.W_600,
                ),
                icon=ft.Icons.PASSWORD,
                height=BIG,
                disabled=ui.changing_password,
                on_click=self._submit,
                style=ft.ButtonStyle(bgcolor=GREEN, color=ft.Colors.WHITE),
            ),
        ]
        if ui.changing_password:
            body.append(_busy(tr.t("acct_changing")))
        return screen("/account/password", app_bar(tr.t("acct_password_title"), tr, on_back=on_back), body)


class ClosureView:
    """Ask to close the account: what happens, an optional reason, then a confirm step."""

    def __init__(self, cases: AccountCases, rights: DataRightsCases) -> None:
        self._cases = cases
        self._rights = rights
        self.reason = ft.TextField(multiline=True, min_lines=2, max_lines=5, max_length=REASON_MAX, text_size=17)

    async def _send(self, _: Any = None) -> None:
        await self._rights.request_closure(self.reason.value or "")

    def build(self, state: AppState, tr: Translator, *, on_back: Handler) -> ft.View:
        ui, cases, rights = state.account, self._cases, self._rights
        self.reason.label = tr.t("acct_closure_reason")
        self.reason.disabled = ui.closure_busy
        body = _notes(state, tr, cases)
        body.append(
            section(
                tr.t("acct_closure_title"),
                [
                    ft.Text(tr.t("acct_closure_explain"), size=16),
                    ft.Text(tr.t("acct_closure_record"), size=16, weight=ft.FontWeight.W_600),
                    ft.Text(tr.t("acct_closure_withdraw_note"), size=15, color=ft.Colors.GREY_800),
                ],
            )
        )
        body.append(self.reason)
        if not ui.closure_confirm:
            body.append(
                ft.FilledTonalButton(
                    content=ft.Text(tr.t("acct_closure_continue"), size=17),
                    height=BIG,
                    icon=ft.Icons.ARROW_FORWARD,
                    on_click=lambda _: rights.ask_closure(True),
                )
            )
        else:
            body.append(
                ft.Container(
                    ft.Column(
                        [
                            ft.Text(
                                tr.t("acct_closure_confirm"),
                                size=17,
                                weight=ft.FontWeight.W_700,
                                color=ft.Colors.RED_900,
                            ),
                            ft.FilledButton(
                                content=ft.Text(tr.t("acct_closure_yes"), size=17),
                                icon=ft.Icons.NO_ACCOUNTS,
                                height=BIG,
                                disabled=ui.closure_busy,
                                on_click=self._send,
                                style=ft.ButtonStyle(bgcolor=ft.Colors.RED_800, color=ft.Colors.WHITE),
                            ),
                            ft.OutlinedButton(
                                content=ft.Text(tr.t("acct_closure_no"), size=17),
                                height=BIG,
                                disabled=ui.closure_busy,
                                on_click=lambda _: rights.ask_closure(False),
                            ),
                        ],
                        spacing=10,
                        horizontal_alignment=ft.CrossAxisAlignment.STRETCH,
                    ),
                    bgcolor=ft.Colors.RED_50,
                    padding=12,
                    border_radius=8,
                )
            )
            if ui.closure_busy:
                body.append(_busy(tr.t("acct_closure_sending")))
        return screen("/account/closure", app_bar(tr.t("acct_closure_title"), tr, on_back=on_back), body)
