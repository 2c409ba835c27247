"""Administration (admin, online only): staff accounts (create with a role and units, deactivate or reactivate,
reset a password — its temporary password shown once, large) and medical units (add one). Drawing only; the
forms keep what was typed across redraws."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import flet as ft

from carnet.admin.cases import EmergencyForm
from carnet.core.i18n import Translator
from carnet.shell.state import AppState
from carnet.views.common import (
    GREEN,
    MIN_TOUCH,
    Handler,
    app_bar,
    awaiting,
    banner,
    chip,
    desk_layout,
    screen,
    section,
    status_banners,
)
from carnet.views.enrolment.desk import file_bytes, import_controls, import_picker
from carnet_contract import enrolment as wire
from carnet_contract import models as contract

if TYPE_CHECKING:
    from carnet.admin.cases import AdminCases
    from carnet.enrolment.desk import OncologyCases

BIG = 56


def _text(**kwargs: Any) -> ft.TextField:
    return ft.TextField(autocorrect=False, enable_suggestions=False, text_size=17, error_max_lines=3, **kwargs)


class AdminView:
    def __init__(self, cases: AdminCases, redraw: Callable[[], None], importer: OncologyCases | None = None) -> None:
        self._cases = cases
        #: The bulk CSV import (the oncology desk's use cases; admin may import too) and its picker.
        self._importer = importer
        self.import_picker = import_picker(importer) if importer is not None else None
        self._redraw = redraw

        async def regimen_picked(e: Any) -> None:
            files = list(getattr(e, "files", None) or [])
            if files:
                name = str(getattr(files[0], "name", "") or "")
                await cases.load_regimen(name, file_bytes(getattr(files[0], "bytes", None)) or b"")

        #: A chemotherapy protocol file (JSON) to load into the catalogue.
        self.regimen_picker = ft.FilePicker(on_result=regimen_picked)
        self.username = _text(capitalization=ft.TextCapitalization.NONE)
        self.display_name = _text()
        self.role = ""
        self.unit_ids: list[str] = []
        self.unit_name = _text()
        self.unit_state = _text()
        self.unit_level = ""
        # The edit form of a unit or an account (one at a time), filled when "Editar" is pressed.
        self.edit_name = _text()
        self.edit_state = _text()
        self.edit_level = ""
        self.edit_display = _text()
        self.edit_units: list[str] = []
        # The unit's emergency service (fever, "Hora Dorada"): what the families' fever screen shows.
        self.em_phone = _text(keyboard_type=ft.KeyboardType.PHONE)
        self.em_address = _text(multiline=True, min_lines=2, max_lines=4)
        self.em_map_url = _text(keyboard_type=ft.KeyboardType.URL, capitalization=ft.TextCapitalization.NONE)
        self.em_oncology_phone = _text(keyboard_type=ft.KeyboardType.PHONE)
        self.em_bring = _text(multiline=True, min_lines=3, max_lines=12)
        self.em_avoid = _text(multiline=True, min_lines=3, max_lines=12)
        self._sent = 0

    def _choose(self, name: str, value: Any) -> Handler:
        def handler(_: Any = None) -> None:
            if name in ("unit_ids", "edit_units"):
                chosen: list[str] = getattr(self, name)
                setattr(self, name, [u for u in chosen if u != value] if value in chosen else [*chosen, value])
            else:
                setattr(self, name, value)
            self._redraw()

        return handler

    async def _create_staff(self, _: Any = None) -> None:
        await self._cases.create_staff(
            self.username.value or "", self.display_name.value or "", self.role, list(self.unit_ids)
        )

    async def _create_unit(self, _: Any = None) -> None:
        await self._cases.create_unit(self.unit_name.value or "", self.unit_level, self.unit_state.value or "")

    def _edit_unit(self, unit: contract.Unit) -> Handler:
        def handler(_: Any = None) -> None:
            self.edit_name.value, self.edit_state.value = unit.name, unit.state
            self.edit_level = unit.level.value
            form = EmergencyForm.of(unit.emergency)
            for control, value in zip(self._emergency_fields(), self._emergency_values(form), strict=True):
                control.value = value
            self._cases.edit("unit", unit.id)

        return handler

    def _edit_account(self, account: wire.StaffAccount) -> Handler:
        def handler(_: Any = None) -> None:
            self.edit_display.value = account.display_name
            self.edit_units = [u.id for u in account.units]
            self._cases.edit("staff", account.id)

        return handler

    def _emergency_fields(self) -> tuple[ft.TextField, ...]:
        return (self.em_phone, self.em_address, self.em_map_url, self.em_oncology_phone, self.em_bring, self.em_avoid)

    @staticmethod
    def _emergency_values(form: EmergencyForm) -> tuple[str, ...]:
        return (form.phone, form.address, form.map_url, form.oncology_phone, form.bring, form.avoid)

    async def _save_unit(self, unit_id: str) -> None:
        values = [control.value or "" for control in self._emergency_fields()]
        emergency = EmergencyForm(*values)
        await self._cases.update_unit(
            unit_id, self.edit_name.value or "", self.edit_level, self.edit_state.value or "", emergency
        )

    def _emergency(self, state: AppState, tr: Translator) -> list[ft.Control]:
        """The unit's emergency service: the families' fever screen shows it as written here."""
        errors = state.admin.edit_errors
        for control, key in zip(
            self._emergency_fields(),
            ("em_phone", "em_address", "em_map_url", "em_oncology_phone", "em_bring", "em_avoid"),
            strict=True,
        ):
            control.label, control.error = tr.t("adm_" + key), errors.get(key)
        self.em_map_url.hint_text = "https://maps.example/…"
        self.em_bring.helper = tr.t("adm_em_lines")
        self.em_avoid.helper = tr.t("adm_em_lines")
        return [
            ft.Text(tr.t("adm_em_title"), size=16, weight=ft.FontWeight.W_700),
            ft.Text(tr.t("adm_em_note"), size=14, color=ft.Colors.GREY_800),
            *self._emergency_fields(),
        ]

    async def _save_account(self, staff_id: str) -> None:
        await self._cases.update_account(staff_id, self.edit_display.value or "", list(self.edit_units))

    def _edit_buttons(self, state: AppState, tr: Translator, save: Handler) -> ft.Control:
        ui = state.admin
        found: list[ft.Control] = []
        if ui.edit_errors.get("form"):
            found.append(
                banner(
                    ui.edit_errors["form"],
                    icon=ft.Icons.ERROR_OUTLINE,
                    bgcolor=ft.Colors.RED_50,
                    color=ft.Colors.RED_900,
                )
            )
        found.append(
            ft.Row(
                [
                    ft.FilledButton(
                        content=ft.Text(tr.t("adm_save"), size=15),
                        icon=ft.Icons.SAVE,
                        height=MIN_TOUCH,
                        disabled=ui.busy,
                        on_click=save,
                        style=ft.ButtonStyle(bgcolor=GREEN, color=ft.Colors.WHITE),
                    ),
                    ft.OutlinedButton(
                        content=ft.Text(tr.t("adm_cancel_edit"), size=15),
                        height=MIN_TOUCH,
                        on_click=lambda _: self._cases.edit(None),
                    ),
                ],
                wrap=True,
                spacing=8,
                run_spacing=8,
            )
        )
        return ft.Column(found, spacing=6)

    def _unit(self, unit: contract.Unit, state: AppState, tr: Translator) -> ft.Control:
        ui = state.admin
        line = ft.Text(f"{unit.name} · {tr.t('onc_level.' + unit.level.value)} · {unit.state}", size=15)
        if ui.editing != ("unit", unit.id):
            return ft.Column(
                [
                    line,
                    ft.OutlinedButton(
                        content=ft.Text(tr.t("adm_edit_unit", name=unit.name), size=15),
                        icon=ft.Icons.EDIT,
                        height=MIN_TOUCH,
                        disabled=ui.busy,
                        on_click=self._edit_unit(unit),
                    ),
                ],
                spacing=4,
            )
        errors = ui.edit_errors
        self.edit_name.label, self.edit_name.error = tr.t("adm_unit_name"), errors.get("name")
        self.edit_state.label, self.edit_state.error = tr.t("adm_unit_state"), errors.get("state")
        levels = [
            chip(tr.t("onc_level." + lv.value), self.edit_level == lv.value, self._choose("edit_level", lv.value), tr)
            for lv in contract.UnitLevel
        ]
        return ft.Container(
            ft.Column(
                [
                    ft.Text(tr.t("adm_edit_unit_title"), size=16, weight=ft.FontWeight.W_700),
                    self.edit_name,
                    ft.Row(levels, wrap=True, spacing=6),
                    *([ft.Text(errors["level"], color=ft.Colors.RED_900, size=14)] if errors.get("level") else []),
                    self.edit_state,
                    *self._emergency(state, tr),
                    self._edit_buttons(state, tr, awaiting(self._save_unit, unit.id)),
                ],
                spacing=8,
            ),
            bgcolor=ft.Colors.BLUE_GREY_50,
            padding=10,
            border_radius=8,
        )

    def _account_form(self, account: wire.StaffAccount, state: AppState, tr: Translator) -> ft.Control:
        ui = state.admin
        errors = ui.edit_errors
        self.edit_display.label, self.edit_display.error = tr.t("adm_display_name"), errors.get("display_name")
        units = [chip(u.name, u.id in self.edit_units, self._choose("edit_units", u.id), tr) for u in ui.units]
        return ft.Container(
            ft.Column(
                [
                    ft.Text(
                        tr.t("adm_edit_account_title", username=account.username), size=16, weight=ft.FontWeight.W_700
                    ),
                    self.edit_display,
                    ft.Text(tr.t("adm_units_of"), size=14, weight=ft.FontWeight.W_600),
                    ft.Row(units, wrap=True, spacing=6, run_spacing=6),
                    *([ft.Text(errors["units"], color=ft.Colors.RED_900, size=14)] if errors.get("units") else []),
                    self._edit_buttons(state, tr, awaiting(self._save_account, account.id)),
                ],
                spacing=8,
            ),
            bgcolor=ft.Colors.BLUE_GREY_50,
            padding=10,
            border_radius=8,
        )

    def build(self, state: AppState, tr: Translator, *, on_back: Handler, wide: bool = False) -> ft.View:
        """Accounts, units, the catalogue: one column (a phone), two side by side (``wide``, a desk PC)."""
        ui, cases = state.admin, self._cases
        if ui.sent != self._sent:
            self._sent = ui.sent
            for control in (self.username, self.display_name, self.unit_name, self.unit_state):
                control.value = ""
            self.role, self.unit_ids, self.unit_level = "", [], ""
        body: list[ft.Control] = [
            *status_banners(state, tr),
            ft.Text(tr.t("onc_online_only"), size=13, color=ft.Colors.GREY_700),
        ]
        if ui.message:
            body.append(
                banner(
                    ui.message,
                    icon=ft.Icons.CHECK_CIRCLE,
                    bgcolor=ft.Colors.GREEN_50,
                    color=GREEN,
                    on_dismiss=lambda _: cases.dismiss_message(),
                    dismiss_label=tr.t("dismiss"),
                )
            )
        if ui.error:
            body.append(
                banner(ui.error, icon=ft.Icons.ERROR_OUTLINE, bgcolor=ft.Colors.RED_50, color=ft.Colors.RED_900)
            )
        if ui.issued is not None:
            body.append(self._password(ui.issued, tr))
        people: list[ft.Control] = [
            section(
                tr.t("adm_staff"),
                [self._account(a, state, tr) for a in ui.staff]
                or [ft.Text(tr.t("desk_loading") if ui.loading else "—", size=15)],
            ),
            self._new_account(state, tr),
        ]
        places: list[ft.Control] = [
            section(
                tr.t("adm_units"),
                [self._unit(u, state, tr) for u in ui.units] or [ft.Text("—")],
            ),
            self._new_unit(state, tr),
            self._catalogue(state, tr),
        ]
        if self._importer is not None and self.import_picker is not None:
            places.append(self._import(state, tr, self._importer, self.import_picker))
        if wide:  # a desk PC: the staff accounts on the left, the units and the catalogue beside them
            body.append(desk_layout(people, places, list_share=6))
        else:
            body += people + places
        bar = app_bar(tr.t("adm_title"), tr, on_back=on_back, on_refresh=awaiting(cases.load), syncing=ui.loading)
        return screen("/admin", bar, body)

    def _catalogue(self, state: AppState, tr: Translator) -> ft.Control:
        """The chemotherapy protocols (newest versions) and "Cargar archivo de protocolo": a new code or version."""
        ui = state.admin
        lines: list[ft.Control] = [ft.Text(tr.t("adm_regimens_hint"), size=14, color=ft.Colors.GREY_800)]
        for regimen in ui.catalogue.regimens if ui.catalogue else []:
            phases = ", ".join(p.name for p in regimen.phases)
            lines.append(
                ft.Text(
                    tr.t("adm_regimen_line", name=regimen.name, version=regimen.version, phases=phases),
                    size=15,
                )
            )
        lines.append(
            ft.OutlinedButton(
                content=ft.Text(tr.t("adm_regimen_pick"), size=16),
                icon=ft.Icons.UPLOAD_FILE,
                height=MIN_TOUCH,
                disabled=ui.busy,
                action=ft.PickFiles(
                    self.regimen_picker,
                    file_type=ft.FilePickerFileType.CUSTOM,
                    allowed_extensions=["json"],
                    allow_multiple=False,
                    with_data=True,
                    cancel_upload_on_window_blur=False,
                ),
            )
        )
        lines += [ft.Text(error, size=14, color=ft.Colors.RED_900) for error in ui.regimen_errors]
        return section(tr.t("adm_regimens"), lines)

    def _import(self, state: AppState, tr: Translator, importer: OncologyCases, picker: ft.FilePicker) -> ft.Control:
        onc = state.oncology
        found: list[ft.Control] = []
        if onc.message:
            found.append(
                banner(
                    onc.message,
                    icon=ft.Icons.CHECK_CIRCLE,
                    bgcolor=ft.Colors.GREEN_50,
                    color=GREEN,
                    on_dismiss=lambda _: importer.dismiss_message(),
                    dismiss_label=tr.t("dismiss"),
                )
            )
        if onc.error:
            found.append(
                banner(onc.error, icon=ft.Icons.ERROR_OUTLINE, bgcolor=ft.Colors.RED_50, color=ft.Colors.RED_900)
            )
        found.extend(import_controls(state, tr, importer, picker))
        return section(tr.t("imp_title"), found)

    def _password(self, issued: wire.StaffWithPassword, tr: Translator) -> ft.Control:
        return ft.Container(
            ft.Column(
                [
                    ft.Text(
                        tr.t("adm_temporary_for", username=issued.account.username), size=16, weight=ft.FontWeight.W_600
                    ),
                    ft.Text(
                        issued.temporary_password,
                        size=34,
                        weight=ft.FontWeight.W_800,
                        selectable=True,
                        font_family="monospace",
                    ),
                    ft.Text(tr.t("adm_temporary_note"), size=14),
                    ft.OutlinedButton(
                        content=ft.Text(tr.t("adm_temporary_hide"), size=15),
                        height=MIN_TOUCH,
                        on_click=lambda _: self._cases.forget_password(),
                    ),
                ],
                spacing=8,
            ),
            bgcolor=ft.Colors.AMBER_50,
            border=ft.Border.all(2, ft.Colors.AMBER_700),
            border_radius=10,
            padding=14,
        )

    def _account(self, account: wire.StaffAccount, state: AppState, tr: Translator) -> ft.Control:
        ui, cases = state.admin, self._cases
        units = ", ".join(u.name for u in account.units) or "—"
        lines: list[ft.Control] = [
            ft.Text(f"{account.display_name} ({account.username})", size=16, weight=ft.FontWeight.W_700),
            ft.Text(f"{tr.t('adm_role.' + account.role.value)} · {units}", size=14),
        ]
        if not account.active:
            lines.append(ft.Text(tr.t("adm_inactive"), size=14, color=ft.Colors.RED_900, weight=ft.FontWeight.W_600))
        elif account.password_change_required:
            lines.append(ft.Text(tr.t("adm_must_change"), size=14, color=ft.Colors.ORANGE_900))
        mine = state.user is not None and state.user.id == account.id
        if ui.editing == ("staff", account.id):
            lines.append(self._account_form(account, state, tr))
        elif ui.confirming is not None and ui.confirming[0] == account.id:
            action = ui.confirming[1]
            yes = (
                awaiting(cases.set_active, account.id, False)
                if action == "deactivate"
                else awaiting(cases.reset_password, account.id)
            )
            lines.append(
                ft.Container(
                    ft.Column(
                        [
                            ft.Text(
                                tr.t(f"adm_confirm_{action}", username=account.username),
                                size=15,
                                weight=ft.FontWeight.W_700,
                                color=ft.Colors.RED_900,
                            ),
                            ft.Row(
                                [
                                    ft.FilledButton(
                                        content=ft.Text(tr.t(f"adm_yes_{action}"), size=15),
                                        height=MIN_TOUCH,
                                        disabled=ui.busy,
                                        on_click=yes,
                                        style=ft.ButtonStyle(bgcolor=ft.Colors.RED_800, color=ft.Colors.WHITE),
                                    ),
                                    ft.OutlinedButton(
                                        content=ft.Text(tr.t("onc_remove_no"), size=15),
                                        height=MIN_TOUCH,
                                        on_click=lambda _: cases.ask(None),
                                    ),
                                ],
                                wrap=True,
                                spacing=8,
                            ),
                        ],
                        spacing=6,
                    ),
                    bgcolor=ft.Colors.RED_50,
                    padding=10,
                    border_radius=8,
                )
            )
        elif not mine:
            actions: list[ft.Control] = [
                ft.OutlinedButton(
                    content=ft.Text(tr.t("adm_edit_account", username=account.username), size=15),
                    icon=ft.Icons.EDIT,
                    height=MIN_TOUCH,
                    disabled=ui.busy,
                    on_click=self._edit_account(account),
                ),
                ft.OutlinedButton(
                    content=ft.Text(tr.t("adm_reset", username=account.username), size=15),
                    icon=ft.Icons.LOCK_RESET,
                    height=MIN_TOUCH,
                    disabled=ui.busy or not account.active,
                    on_click=lambda _, i=account.id: cases.ask(i, "reset"),
                ),
            ]
            if account.active:
                actions.append(
                    ft.OutlinedButton(
                        content=ft.Text(tr.t("adm_deactivate", username=account.username), size=15),
                        icon=ft.Icons.PERSON_OFF,
                        height=MIN_TOUCH,
                        disabled=ui.busy,
                        on_click=lambda _, i=account.id: cases.ask(i, "deactivate"),
                    )
                )
            else:
                actions.append(
                    ft.OutlinedButton(
                        content=ft.Text(tr.t("adm_reactivate", username=account.username), size=15),
                        icon=ft.Icons.PERSON,
                        height=MIN_TOUCH,
                        disabled=ui.busy,
                        on_click=awaiting(cases.set_active, account.id, True),
                    )
                )
            lines.append(ft.Row(actions, wrap=True, spacing=8, run_spacing=8))
        return ft.Column(lines, spacing=4)

    def _new_account(self, state: AppState, tr: Translator) -> ft.Control:
        ui = state.admin
        errors = ui.staff_errors
        self.username.label, self.username.error = tr.t("adm_username"), errors.get("username")
        self.username.helper = tr.t("enr_username_hint")
        self.display_name.label, self.display_name.error = tr.t("adm_display_name"), errors.get("display_name")
        roles = [
            chip(tr.t("adm_role." + r.value), self.role == r.value, self._choose("role", r.value), tr)
            for r in wire.StaffRole
        ]
        units = [chip(u.name, u.id in self.unit_ids, self._choose("unit_ids", u.id), tr) for u in ui.units]
        found: list[ft.Control] = [
            self.username,
            self.display_name,
            ft.Text(tr.t("adm_role"), size=14, weight=ft.FontWeight.W_600),
            ft.Row(roles, wrap=True, spacing=6, run_spacing=6),
            *([ft.Text(errors["role"], color=ft.Colors.RED_900, size=14)] if errors.get("role") else []),
            ft.Text(tr.t("adm_units_of"), size=14, weight=ft.FontWeight.W_600),
            ft.Row(units, wrap=True, spacing=6, run_spacing=6),
            *([ft.Text(errors["units"], color=ft.Colors.RED_900, size=14)] if errors.get("units") else []),
            *(
                [banner(errors["form"], icon=ft.Icons.ERROR_OUTLINE, bgcolor=ft.Colors.RED_50, color=ft.Colors.RED_900)]
                if errors.get("form")
                else []
            ),
            ft.FilledButton(
                content=ft.Text(tr.t("adm_create"), size=16),
                icon=ft.Icons.PERSON_ADD,
                height=BIG,
                disabled=ui.busy,
                on_click=self._create_staff,
                style=ft.ButtonStyle(bgcolor=GREEN, color=ft.Colors.WHITE),
            ),
        ]
        return section(tr.t("adm_new_account"), found)

    def _new_unit(self, state: AppState, tr: Translator) -> ft.Control:
        ui = state.admin
        errors = ui.unit_errors
        self.unit_name.label, self.unit_name.error = tr.t("adm_unit_name"), errors.get("name")
        self.unit_state.label, self.unit_state.error = tr.t("adm_unit_state"), errors.get("state")
        levels = [
            chip(tr.t("onc_level." + lv.value), self.unit_level == lv.value, self._choose("unit_level", lv.value), tr)
            for lv in contract.UnitLevel
        ]
        found: list[ft.Control] = [
            self.unit_name,
            ft.Row(levels, wrap=True, spacing=6),
            *([ft.Text(errors["level"], color=ft.Colors.RED_900, size=14)] if errors.get("level") else []),
            self.unit_state,
            *(
                [banner(errors["form"], icon=ft.Icons.ERROR_OUTLINE, bgcolor=ft.Colors.RED_50, color=ft.Colors.RED_900)]
                if errors.get("form")
                else []
            ),
            ft.FilledTonalButton(
                content=ft.Text(tr.t("adm_unit_create"), size=16),
                icon=ft.Icons.ADD_BUSINESS,
                height=BIG,
                disabled=ui.busy,
                on_click=self._create_unit,
            ),
        ]
        return section(tr.t("adm_new_unit"), found)
