"""A family's enrolment screens: "Tengo un código de activación" (from the login screen) and "Agregar un niño con
código" (from Mi cuenta). Drawing only; each keeps what was typed across redraws."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any

import flet as ft

from carnet.core.i18n import Translator
from carnet.enrolment.form import ActivationForm
from carnet.shell.state import AppState
from carnet.views.common import GREEN, MIN_TOUCH, Handler, app_bar, banner, screen, section, status_banners
from carnet.views.scanning import CameraScanner

if TYPE_CHECKING:
    from carnet.enrolment.activation import FamilyEnrolmentCases

BIG = 56


def _busy(label: str) -> ft.Control:
    return ft.Row(
        [ft.ProgressRing(width=28, height=28, semantics_label=label), ft.Text(label, size=16)],
        spacing=12,
        height=MIN_TOUCH,
    )


def _error(text: str) -> ft.Control:
    return banner(text, icon=ft.Icons.ERROR_OUTLINE, bgcolor=ft.Colors.RED_50, color=ft.Colors.RED_900)


def _code_field(**kwargs: Any) -> ft.TextField:
    return ft.TextField(
        autocorrect=False,
        enable_suggestions=False,
        capitalization=ft.TextCapitalization.NONE,
        text_size=22,
        error_max_lines=4,
        helper_max_lines=3,
        **kwargs,
    )


class ActivationView:
    """Code, username, password and its repetition; one show/hide switch for both passwords."""

    def __init__(self, cases: FamilyEnrolmentCases, redraw: Any, *, camera: bool = False) -> None:
        self._cases = cases
        self._redraw = redraw
        self.shown = False
        self.code = _code_field()
        #: The activation sheet's QR read with the camera (a phone, a browser) fills the code field.
        self.camera = CameraScanner(self._camera_read) if camera else None
        text = partial(
            ft.TextField,
            autocorrect=False,
            enable_suggestions=False,
            text_size=18,
            max_length=256,
            counter="",
            error_max_lines=3,
            helper_max_lines=3,
        )
        self.username = text(capitalization=ft.TextCapitalization.NONE, autofill_hints=ft.AutofillHint.USERNAME)
        self.password = text(autofill_hints=ft.AutofillHint.NEW_PASSWORD)
        self.repeat = text(autofill_hints=ft.AutofillHint.NEW_PASSWORD, on_submit=self._submit)

    def read(self) -> ActivationForm:
        return ActivationForm(
            code=self.code.value or "",
            username=self.username.value or "",
            password=self.password.value or "",
            repeat=self.repeat.value or "",
        )

    async def _submit(self, _: Any = None) -> None:
        await self._cases.activate(self.read())

    def _camera_read(self, text: str) -> None:
        self.code.value = text
        self._redraw()

    def _toggle(self, _: Any = None) -> None:
        self.shown = not self.shown
        self._redraw()

    def build(self, state: AppState, tr: Translator, *, on_back: Handler) -> ft.View:
        ui = state.enrolment
        errors = ui.errors
        for name, control, label in (
            ("code", self.code, "enr_code"),
            ("username", self.username, "enr_username"),
            ("password", self.password, "enr_password"),
            ("repeat", self.repeat, "enr_repeat"),
        ):
            control.label = tr.t(label)
            control.error = errors.get(name)
            control.disabled = ui.busy
        self.password.password = self.repeat.password = not self.shown
        self.code.helper = tr.t("enr_code_hint")
        self.username.helper = tr.t("enr_username_hint")
        self.password.helper = tr.t("acct_new_hint", min=self._cases.min_length)
        body: list[ft.Control] = [*status_banners(state, tr)]
        body.append(
            section(
                tr.t("enr_title"),
                [
                    ft.Text(tr.t("enr_explain"), size=16),
                    ft.Text(tr.t("enr_online_only"), size=14, color=ft.Colors.GREY_800),
                    *([ft.Text(tr.t("enr_scan_hint"), size=14, color=ft.Colors.GREY_800)] if self.camera else []),
                ],
            )
        )
        if errors.get("form"):
            body.append(_error(errors["form"]))
        body.append(self.code)
        if self.camera is not None:
            body.append(self.camera.draw(tr))
        body += [
            ft.AutofillGroup(
                ft.Column(
                    [self.username, self.password, self.repeat],
                    spacing=12,
                    horizontal_alignment=ft.CrossAxisAlignment.STRETCH,
                )
            ),
            ft.TextButton(
                content=ft.Text(tr.t("acct_hide") if self.shown else tr.t("acct_show"), size=16),
                icon=ft.Icons.VISIBILITY_OFF if self.shown else ft.Icons.VISIBILITY,
                height=MIN_TOUCH,
                on_click=self._toggle,
            ),
            ft.FilledButton(
                content=ft.Text(
                    tr.t("enr_activating") if ui.busy else tr.t("enr_activate"), size=18, weight=ft.FontWeight.W_600
                ),
                icon=ft.Icons.HOW_TO_REG,
                height=BIG,
                disabled=ui.busy,
                on_click=self._submit,
                style=ft.ButtonStyle(bgcolor=GREEN, color=ft.Colors.WHITE),
            ),
        ]
        if ui.busy:
            body.append(_busy(tr.t("enr_activating")))
        return screen("/activate", app_bar(tr.t("enr_title"), tr, on_back=on_back), body)


class LinkChildView:
    """ "Agregar un niño con código": the code a hospital gave for one more child."""

    def __init__(self, cases: FamilyEnrolmentCases) -> None:
        self._cases = cases
        self.code = _code_field(on_submit=self._submit)

    async def _submit(self, _: Any = None) -> None:
        await self._cases.link_child(self.code.value or "")

    def build(self, state: AppState, tr: Translator, *, on_back: Handler) -> ft.View:
        ui = state.enrolment
        self.code.label = tr.t("enr_code")
        self.code.helper = tr.t("enr_code_hint")
        self.code.error = ui.link_errors.get("code")
        self.code.disabled = ui.linking
        body: list[ft.Control] = [*status_banners(state, tr)]
        body.append(
            section(
                tr.t("enr_link_title"),
                [
                    ft.Text(tr.t("enr_link_explain"), size=16),
                    ft.Text(tr.t("enr_online_only"), size=14, color=ft.Colors.GREY_800),
                ],
            )
        )
        if ui.link_errors.get("form"):
            body.append(_error(ui.link_errors["form"]))
        body += [
            self.code,
            ft.FilledButton(
                content=ft.Text(
                    tr.t("enr_linking") if ui.linking else tr.t("enr_link"), size=18, weight=ft.FontWeight.W_600
                ),
                icon=ft.Icons.PERSON_ADD,
                height=BIG,
                disabled=ui.linking,
                on_click=self._submit,
                style=ft.ButtonStyle(bgcolor=GREEN, color=ft.Colors.WHITE),
            ),
        ]
        if ui.linking:
            body.append(_busy(tr.t("enr_linking")))
        return screen("/account/link", app_bar(tr.t("enr_link_title"), tr, on_back=on_back), body)


def access_section(state: AppState, tr: Translator, patient_id: str) -> ft.Control | None:
    """Who has access to the child (as of the last sync); None before it is known."""
    guardians = state.enrolment.guardians.get(patient_id)
    if guardians is None:
        return None
    lines: list[ft.Control] = []
    for g in guardians:
        who = g.display_name + (f" ({g.relationship})" if g.relationship else "")
        if g.is_me:
            who = tr.t("enr_access_me", who=who)
        lines.append(
            ft.Row(
                [ft.Icon(ft.Icons.PERSON, color=GREEN, size=22), ft.Text(who, size=16, expand=True)],
                spacing=8,
            )
        )
    lines.append(ft.Text(tr.t("enr_access_note"), size=13, color=ft.Colors.GREY_800))
    return section(tr.t("enr_access_title"), lines)
