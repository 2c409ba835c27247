"""The oncology desk (online only, nothing kept on the device): search, register a child, a child's page with its
guardians and codes, a guardian's new code (large, and as a QR to scan across a desk), the registry figures.
Drawing only. The form fields live in :class:`OncologyView`, so what was typed survives redraws; at a desk's
width the form lays its fields two by two."""

from __future__ import annotations

import unicodedata
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import flet as ft

from carnet.core.i18n import Translator
from carnet.core.navigation import Screen
from carnet.enrolment.codes import display_code
from carnet.enrolment.form import GuardianForm, RegistrationForm, form_of
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
    download_buttons,
    field,
    notes,
    qr_image,
    result_button,
    screen,
    section,
    table_header,
    table_row,
    week_bar,
)
from carnet.views.fever.desk import entry_button as fever_entry
from carnet.views.fever.desk import figures_button as fever_figures_button
from carnet.views.fever.desk import open_alert as fever_alert
from carnet.views.incidents.desk import bars
from carnet_contract import enrolment as wire

if TYPE_CHECKING:
    from carnet.enrolment.desk import OncologyCases

BIG = 56
BLOOD_GROUPS = ("A+", "A-", "B+", "B-", "AB+", "AB-", "O+", "O-")
#: Registration fields typed as text: (name, catalogue key of the label, keyboard).
TEXT_FIELDS = (
    ("given_names", "onc_f_given_names", ft.KeyboardType.NAME),
    ("paternal_surname", "onc_f_paternal_surname", ft.KeyboardType.NAME),
    ("maternal_surname", "onc_f_maternal_surname", ft.KeyboardType.NAME),
    ("birth_date", "onc_f_birth_date", ft.KeyboardType.DATETIME),
    ("curp", "onc_f_curp", ft.KeyboardType.TEXT),
    ("nss", "onc_f_nss", ft.KeyboardType.NUMBER),
    ("agregado", "onc_f_agregado", ft.KeyboardType.TEXT),
    ("diagnosed_on", "onc_f_diagnosed_on", ft.KeyboardType.DATETIME),
    ("treating_oncologist", "onc_f_oncologist", ft.KeyboardType.NAME),
    ("allergies", "onc_f_allergies", ft.KeyboardType.TEXT),
)
HINTS = {
    "birth_date": "onc_date_hint",
    "diagnosed_on": "onc_date_hint",
    "curp": "onc_curp_hint",
    "nss": "onc_nss_hint",
    "agregado": "onc_agregado_hint",
}
GUARDIAN_FIELDS = (
    ("full_name", "onc_g_name", ft.KeyboardType.NAME),
    ("relationship", "onc_g_relationship", ft.KeyboardType.TEXT),
    ("phone", "onc_g_phone", ft.KeyboardType.PHONE),
)


def _text(keyboard: ft.KeyboardType, **kwargs: Any) -> ft.TextField:
    return ft.TextField(
        autocorrect=False,
        enable_suggestions=False,
        text_size=17,
        keyboard_type=keyboard,
        error_max_lines=4,
        helper_max_lines=2,
        **kwargs,
    )


def _busy(label: str) -> ft.Control:
    return ft.Row(
        [ft.ProgressRing(width=28, height=28, semantics_label=label), ft.Text(label, size=16)],
        spacing=12,
        height=MIN_TOUCH,
    )


def _error_text(text: str | None) -> list[ft.Control]:
    return [ft.Text(text, size=14, color=ft.Colors.RED_900, weight=ft.FontWeight.W_500)] if text else []


def _notes(state: AppState, tr: Translator, cases: OncologyCases) -> list[ft.Control]:
    ui = state.oncology
    return notes(
        state,
        tr,
        message=ui.message,
        error=ui.error,
        on_dismiss=lambda _: cases.dismiss_message(),
        online_only=tr.t("onc_online_only"),
    )


def _wide(controls: list[ft.Control]) -> ft.ResponsiveRow:
    """Two columns at a desk's width, one on a phone."""
    for control in controls:
        control.col = {"xs": 12, "md": 6}
    return ft.ResponsiveRow(controls, spacing=12, run_spacing=12)


class OncologyView:
    """Every screen of the oncology desk; holds the typed fields and the form's choices across redraws."""

    def __init__(
        self,
        cases: OncologyCases,
        redraw: Callable[[], None],
        open_plan: Callable[[str, str], Awaitable[None]] | None = None,
        open_fever: Callable[[], Awaitable[None]] | None = None,
        open_fever_figures: Callable[[int], Awaitable[None]] | None = None,
    ) -> None:
        self._cases = cases
        #: The unit's fever episodes and their weekly figures (``carnet.fever.desk``).
        self._open_fever, self._open_fever_figures = open_fever, open_fever_figures
        self._redraw = redraw
        #: The child's chemotherapy plan (``carnet.chemotherapy``), given the child's id and name.
        self._open_plan = open_plan
        self.query = _text(ft.KeyboardType.TEXT, on_submit=self._search, autofocus=True)
        self.fields = {name: _text(kind, on_change=self._edited) for name, _, kind in TEXT_FIELDS}
        self.fields["curp"].capitalization = ft.TextCapitalization.CHARACTERS
        self.fields["agregado"].capitalization = ft.TextCapitalization.CHARACTERS
        self.fields["allergies"].multiline = True
        self.diagnosis_filter = _text(ft.KeyboardType.TEXT, on_change=self._filter_changed)
        #: The catalogue entries matching the filter: updated in place while typing (a redraw would take the
        #: focus from the filter).
        self.diagnosis_matches = ft.Column(spacing=6, horizontal_alignment=ft.CrossAxisAlignment.STRETCH)
        self._picker: tuple[Translator, list[wire.DiagnosisEntry]] | None = None
        self.sex = ""
        self.unit_id = ""
        self.diagnosis_code = ""
        self.blood_group = ""
        self.catheter = False
        self.guardian = {name: _text(kind) for name, _, kind in GUARDIAN_FIELDS}
        self._sent = 0
        #: The CSV picker (bulk import), kept referenced while the desk lives.
        self.import_picker = import_picker(cases)
        #: The screen drawn last: entering the correction form fills it with the record.
        self._last: Screen | None = None

    # ---- events ----------------------------------------------------------------------------------

    async def _search(self, _: Any = None) -> None:
        await self._cases.search(self.query.value or "")

    def _edited(self, _: Any = None) -> None:
        self._cases.edit_form()

    def _choose(self, name: str, value: Any) -> Handler:
        def handler(_: Any = None) -> None:
            setattr(self, name, value)
            self._cases.edit_form()
            self._redraw()

        return handler

    def read_registration(self) -> RegistrationForm:
        values = {name: self.fields[name].value or "" for name, _, _ in TEXT_FIELDS}
        return RegistrationForm(
            **values,
            sex=self.sex,
            unit_id=self.unit_id,
            diagnosis_code=self.diagnosis_code,
            blood_group=self.blood_group,
            central_venous_catheter=self.catheter,
        )

    async def _register(self, _: Any = None) -> None:
        await self._cases.register(self.read_registration())

    async def _correct(self, _: Any = None) -> None:
        await self._cases.correct(self.read_registration())

    def _fill(self, form: RegistrationForm) -> None:
        for name, _, _ in TEXT_FIELDS:
            self.fields[name].value = getattr(form, name)
        self.sex, self.unit_id, self.diagnosis_code = form.sex, form.unit_id, form.diagnosis_code
        self.blood_group, self.catheter = form.blood_group, form.central_venous_catheter
        self.diagnosis_filter.value = ""

    async def _invite(self, _: Any = None) -> None:
        await self._cases.invite(GuardianForm(**{name: c.value or "" for name, c in self.guardian.items()}))

    def _empty_forms_when_sent(self, sent: int) -> None:
        if sent == self._sent:
            return
        self._sent = sent
        for control in [*self.fields.values(), *self.guardian.values(), self.diagnosis_filter]:
            control.value = ""
        self.sex = self.unit_id = self.diagnosis_code = self.blood_group = ""
        self.catheter = False

    # ---- screens -----------------------------------------------------------------------------------

    def build(
        self,
        state: AppState,
        tr: Translator,
        *,
        on_back: Handler,
        on_refresh: Handler,
        on_settings: Handler,
        wide: bool = False,
    ) -> ft.View:
        """The desk's screens; ``wide`` (a desk PC): results as a table, a child's record beside them."""
        self._empty_forms_when_sent(state.oncology.sent)
        entering, self._last = state.screen is not self._last, state.screen
        if state.screen is Screen.ONCOLOGY_REGISTER:
            return self._registration(state, tr, on_back)
        if state.screen is Screen.ONCOLOGY_EDIT and state.oncology.record is not None:
            if entering:
                self._fill(form_of(state.oncology.record))
            return self._registration(state, tr, on_back, editing=True)
        if state.screen is Screen.ONCOLOGY_REFER and state.oncology.record is not None:
            return self._referral(state, tr, on_back)
        if state.screen is Screen.ONCOLOGY_INVITE and state.oncology.record is not None:
            return self._invitation(state, tr, on_back)
        if state.screen is Screen.ONCOLOGY_CHILD:
            return self._child(state, tr, on_back, on_refresh, on_settings, wide=wide)
        if state.screen is Screen.ONCOLOGY_FIGURES:
            return self._figures(state, tr, on_back)
        if state.screen is Screen.ONCOLOGY_IMPORT:
            return self._import(state, tr, on_back)
        return self._search_screen(state, tr, on_refresh, on_settings, wide=wide)

    def _search_screen(
        self, state: AppState, tr: Translator, on_refresh: Handler, on_settings: Handler, *, wide: bool = False
    ) -> ft.View:
        ui = state.oncology
        body = _notes(state, tr, self._cases)
        if self._open_fever is not None:  # a child with a fever on the way: at once, above the search
            body += fever_alert(state, tr, awaiting(self._open_fever))
        body += self._search_pane(state, tr, wide=wide)
        bar = app_bar(tr.t("onc_title"), tr, on_refresh=on_refresh, on_settings=on_settings, syncing=ui.loading)
        return screen("/oncology", bar, body)

    def _search_pane(
        self, state: AppState, tr: Translator, *, wide: bool, chosen: wire.PatientRecord | None = None
    ) -> list[ft.Control]:
        """The desk's buttons, the search and its results: cards (a phone) or a table (``wide``, a desk PC;
        fewer columns when the ``chosen`` child's record stands beside it)."""
        ui, cases = state.oncology, self._cases
        body: list[ft.Control] = []
        body.append(
            ft.Row(
                [
                    ft.FilledButton(
                        content=ft.Text(tr.t("onc_register"), size=16),
                        icon=ft.Icons.PERSON_ADD,
                        height=MIN_TOUCH,
                        on_click=lambda _: cases.new_child(),
                        style=ft.ButtonStyle(bgcolor=GREEN, color=ft.Colors.WHITE),
                    ),
                    ft.OutlinedButton(
                        content=ft.Text(tr.t("onc_figures"), size=16),
                        icon=ft.Icons.BAR_CHART,
                        height=MIN_TOUCH,
                        on_click=awaiting(cases.show_figures, 0),
                    ),
                    ft.OutlinedButton(
                        content=ft.Text(tr.t("imp_open"), size=16),
                        icon=ft.Icons.UPLOAD_FILE,
                        height=MIN_TOUCH,
                        on_click=lambda _: cases.open_import(),
                    ),
                    *([fever_entry(tr, awaiting(self._open_fever))] if self._open_fever is not None else []),
                ],
                wrap=True,
                spacing=8,
                run_spacing=8,
            )
        )
        self.query.label = tr.t("onc_search")
        self.query.hint_text = tr.t("onc_search_hint")
        search = ft.FilledTonalButton(
            content=ft.Text(tr.t("onc_search_button"), size=16),
            icon=ft.Icons.SEARCH,
            height=MIN_TOUCH,
            disabled=ui.loading,
            on_click=self._search,
        )
        body.append(section(tr.t("onc_search_title"), [self.query, search]))
        if ui.results is not None:
            rows: list[ft.Control]
            if not ui.results:
                rows = [ft.Text(tr.t("onc_none_found"), size=16)]
            elif wide:
                rows = self._result_table(tr, ui.results, chosen)
            else:
                rows = [self._result(tr, r) for r in ui.results]
            body.append(section(tr.t("onc_results", count=len(ui.results)), rows))
        elif ui.loading and chosen is None:
            body.append(_busy(tr.t("desk_loading")))
        return body

    def _result_table(
        self, tr: Translator, records: list[wire.PatientRecord], chosen: wire.PatientRecord | None
    ) -> list[ft.Control]:
        """The results as a table (a desk PC): a header row, a row per child (a button that opens the record)."""
        columns = [(tr.t("col_name"), 4), (tr.t("col_born"), 2), (tr.t("col_curp"), 4), (tr.t("col_unit"), 3)]
        if chosen is not None:
            columns = [(tr.t("col_name"), 4), (tr.t("col_curp"), 4)]
        found: list[ft.Control] = [table_header(columns)]
        for record in records:
            name = ft.Text(record.full_name, size=16, weight=ft.FontWeight.W_700)
            cells: list[ft.Control | str] = [name, tr.date(record.birth_date), record.curp, record.unit.name]
            found.append(
                table_row(
                    columns,
                    [name, record.curp] if chosen is not None else cells,
                    on_click=awaiting(self._cases.open, record.id),
                    tooltip=tr.t("onc_open", name=record.full_name),
                    chosen=chosen is not None and chosen.id == record.id,
                )
            )
        return found

    def _result(self, tr: Translator, record: wire.PatientRecord) -> ft.Control:
        return result_button(
            tr, record, on_click=awaiting(self._cases.open, record.id), tooltip=tr.t("onc_open", name=record.full_name)
        )

    # ---- registration --------------------------------------------------------------------------------

    def _registration(self, state: AppState, tr: Translator, on_back: Handler, *, editing: bool = False) -> ft.View:
        ui, cases = state.oncology, self._cases
        errors = ui.form_errors
        for name, label, _ in TEXT_FIELDS:
            control = self.fields[name]
            control.label = tr.t(label)
            control.error = errors.get(name)
            control.disabled = ui.busy
            control.helper = tr.t(HINTS[name]) if name in HINTS else None
        body = _notes(state, tr, cases)
        body.append(ft.Text(tr.t("onc_register_explain"), size=15))
        names = [self.fields[n] for n in ("given_names", "paternal_surname", "maternal_surname", "birth_date")]
        sex = [
            ft.Text(tr.t("onc_f_sex"), size=14, weight=ft.FontWeight.W_600),
            ft.Row(
                [
                    chip(tr.t("onc_sex." + s.value), self.sex == s.value, self._choose("sex", s.value), tr)
                    for s in wire.Sex
                ],
                wrap=True,
                spacing=6,
            ),
            *_error_text(errors.get("sex")),
        ]
        body.append(section(tr.t("onc_s_child"), [_wide(list(names)), *sex]))
        ids = [self.fields[n] for n in ("curp", "nss", "agregado")]
        body.append(section(tr.t("onc_s_ids"), [_wide(list(ids))]))
        units: list[ft.Control] = []
        if editing and ui.record is not None:
            units = [field(tr.t("onc_f_unit"), ui.record.unit.name), ft.Text(tr.t("onc_unit_by_referral"), size=13)]
        elif len(ui.units) > 1:
            units = [
                ft.Text(tr.t("onc_f_unit"), size=14, weight=ft.FontWeight.W_600),
                ft.Row(
                    [chip(u.name, self.unit_id == u.id, self._choose("unit_id", u.id), tr) for u in ui.units],
                    wrap=True,
                    spacing=6,
                    run_spacing=6,
                ),
                *_error_text(errors.get("unit_id")),
            ]
        elif ui.units:
            units = [field(tr.t("onc_f_unit"), ui.units[0].name)]
        body.append(
            section(
                tr.t("onc_s_unit"),
                [
                    *units,
                    *self._diagnosis_picker(state, tr),
                    _wide([self.fields["diagnosed_on"], self.fields["treating_oncologist"]]),
                ],
            )
        )
        blood = [
            chip(group, self.blood_group == group, self._choose("blood_group", group), tr) for group in BLOOD_GROUPS
        ]
        blood.append(chip(tr.t("onc_blood_unknown"), not self.blood_group, self._choose("blood_group", ""), tr))
        body.append(
            section(
                tr.t("onc_s_emergency"),
                [
                    ft.Text(tr.t("onc_f_blood_group"), size=14, weight=ft.FontWeight.W_600),
                    ft.Row(blood, wrap=True, spacing=6, run_spacing=6),
                    ft.ResponsiveRow([self.fields["allergies"]]),
                    ft.Checkbox(
                        label=tr.t("onc_f_catheter"),
                        value=self.catheter,
                        on_change=lambda e: self._choose("catheter", bool(e.control.value))(),
                        height=MIN_TOUCH,
                    ),
                ],
            )
        )
        if errors.get("form"):
            body.append(
                banner(errors["form"], icon=ft.Icons.ERROR_OUTLINE, bgcolor=ft.Colors.RED_50, color=ft.Colors.RED_900)
            )
        if ui.existing_id:
            body.append(
                ft.FilledTonalButton(
                    content=ft.Text(tr.t("onc_open_existing"), size=16),
                    icon=ft.Icons.FOLDER_OPEN,
                    height=MIN_TOUCH,
                    on_click=awaiting(cases.open, ui.existing_id),
                )
            )
        label = "onc_register_confirm" if ui.similar else ("onc_correct_send" if editing else "onc_register_send")
        body.append(
            ft.FilledButton(
                content=ft.Text(
                    tr.t("onc_registering") if ui.busy else tr.t(label), size=18, weight=ft.FontWeight.W_600
                ),
                icon=ft.Icons.SAVE,
                height=BIG,
                disabled=ui.busy,
                on_click=self._correct if editing else self._register,
                style=ft.ButtonStyle(bgcolor=ft.Colors.ORANGE_900 if ui.similar else GREEN, color=ft.Colors.WHITE),
            )
        )
        if ui.busy:
            body.append(_busy(tr.t("onc_registering")))
        if editing:
            return screen("/oncology/edit", app_bar(tr.t("onc_correct"), tr, on_back=on_back), body)
        return screen("/oncology/register", app_bar(tr.t("onc_register"), tr, on_back=on_back), body)

    def _referral(self, state: AppState, tr: Translator, on_back: Handler) -> ft.View:
        ui, cases, record = state.oncology, self._cases, state.oncology.record
        assert record is not None
        body = _notes(state, tr, cases)
        body.append(ft.Text(tr.t("onc_refer_explain", name=record.display_name, unit=record.unit.name), size=15))
        others = [u for u in ui.all_units if u.id != record.unit.id]
        chips = [
            chip(
                f"{u.name} ({tr.t('onc_level.' + u.level.value)}, {u.state})",
                ui.refer_to == u.id,
                lambda _, uid=u.id: cases.choose_referral(uid),
                tr,
            )
            for u in others
        ]
        if chips:
            body.append(section(tr.t("onc_refer_to"), [ft.Row(chips, wrap=True, spacing=6, run_spacing=6)]))
        elif ui.loading:
            body.append(_busy(tr.t("desk_loading")))
        target = next((u for u in others if u.id == ui.refer_to), None)
        if target is not None:
            body.append(
                ft.Container(
                    ft.Column(
                        [
                            ft.Text(
                                tr.t(
                                    "onc_refer_confirm",
                                    name=record.display_name,
                                    unit=target.name,
                                    old=record.unit.name,
                                ),
                                size=16,
                                weight=ft.FontWeight.W_700,
                                color=ft.Colors.ORANGE_900,
                            ),
                            ft.FilledButton(
                                content=ft.Text(tr.t("onc_refer_yes", unit=target.name), size=16),
                                icon=ft.Icons.MOVE_UP,
                                height=BIG,
                                disabled=ui.busy,
                                on_click=awaiting(cases.refer),
                                style=ft.ButtonStyle(bgcolor=ft.Colors.ORANGE_900, color=ft.Colors.WHITE),
                            ),
                            ft.OutlinedButton(
                                content=ft.Text(tr.t("onc_remove_no"), size=16),
                                height=BIG,
                                disabled=ui.busy,
                                on_click=lambda _: cases.choose_referral(None),
                            ),
                        ],
                        spacing=10,
                        horizontal_alignment=ft.CrossAxisAlignment.STRETCH,
                    ),
                    bgcolor=ft.Colors.ORANGE_50,
                    padding=12,
                    border_radius=8,
                )
            )
        return screen("/oncology/referral", app_bar(tr.t("onc_refer"), tr, on_back=on_back), body)

    def _diagnosis_picker(self, state: AppState, tr: Translator) -> list[ft.Control]:
        ui = state.oncology
        chosen = next((d for d in ui.diagnoses if d.code == self.diagnosis_code), None)
        found: list[ft.Control] = [ft.Text(tr.t("onc_f_diagnosis"), size=14, weight=ft.FontWeight.W_600)]
        if chosen is not None:
            found.append(
                ft.Row(
                    [
                        ft.Icon(ft.Icons.CHECK_CIRCLE, color=GREEN, size=22),
                        ft.Text(
                            f"{chosen.code} · {chosen.name} ({chosen.group_name})",
                            size=16,
                            expand=True,
                            weight=ft.FontWeight.W_600,
                        ),
                        ft.TextButton(
                            content=ft.Text(tr.t("onc_change"), size=15),
                            height=MIN_TOUCH,
                            on_click=self._choose("diagnosis_code", ""),
                        ),
                    ],
                    spacing=8,
                )
            )
            return [*found, *_error_text(state.oncology.form_errors.get("diagnosis_code"))]
        self.diagnosis_filter.label = tr.t("onc_diagnosis_search")
        self.diagnosis_filter.hint_text = tr.t("onc_diagnosis_hint")
        self._picker = (tr, ui.diagnoses)
        self._fill_matches()
        found += [self.diagnosis_filter, self.diagnosis_matches]
        return [*found, *_error_text(state.oncology.form_errors.get("diagnosis_code"))]

    def _fill_matches(self) -> None:
        if self._picker is None:
            return
        tr, diagnoses = self._picker
        words = _plain(self.diagnosis_filter.value or "").split()
        matches = (
            [d for d in diagnoses if all(w in _plain(f"{d.code} {d.name} {d.group_name}") for w in words)]
            if words
            else []
        )
        shown: list[ft.Control] = [
            ft.OutlinedButton(
                content=ft.Text(f"{entry.code} · {entry.name}", size=15),
                tooltip=tr.t("onc_choose_diagnosis", name=f"{entry.code} {entry.name}"),
                height=MIN_TOUCH,
                on_click=self._choose("diagnosis_code", entry.code),
            )
            for entry in matches[:8]
        ]
        if words and not matches:
            shown.append(ft.Text(tr.t("onc_diagnosis_none"), size=14))
        elif len(matches) > 8:
            shown.append(ft.Text(tr.t("onc_diagnosis_more", count=len(matches) - 8), size=14))
        self.diagnosis_matches.controls = shown

    def _filter_changed(self, _: Any = None) -> None:
        self._fill_matches()
        try:
            self.diagnosis_matches.update()
        except RuntimeError:  # not on a page (yet): the next redraw shows them
            self._redraw()

    # ---- a child's page ------------------------------------------------------------------------------

    def _child(
        self,
        state: AppState,
        tr: Translator,
        on_back: Handler,
        on_refresh: Handler,
        on_settings: Handler,
        *,
        wide: bool = False,
    ) -> ft.View:
        """A child's record: on its own screen (a phone); beside the search and its results (``wide``), on the
        search's screen."""
        ui, record = state.oncology, state.oncology.record
        if wide:
            body = _notes(state, tr, self._cases)
            record_pane: list[ft.Control] = [
                ft.Row(
                    [
                        ft.OutlinedButton(
                            content=ft.Text(tr.t("onc_close_child"), size=16),
                            icon=ft.Icons.CLOSE,
                            height=MIN_TOUCH,
                            on_click=on_back,
                        )
                    ],
                    alignment=ft.MainAxisAlignment.END,
                ),
                *self._child_pane(state, tr),
            ]
            body.append(desk_layout(self._search_pane(state, tr, wide=True, chosen=record), record_pane))
            bar = app_bar(tr.t("onc_title"), tr, on_refresh=on_refresh, on_settings=on_settings, syncing=ui.loading)
            return screen("/oncology", bar, body)
        body = _notes(state, tr, self._cases) + self._child_pane(state, tr)
        if record is None:
            return screen("/oncology/child", app_bar(tr.t("onc_title"), tr, on_back=on_back), body)
        bar = app_bar(record.display_name, tr, on_back=on_back, on_refresh=on_refresh, syncing=ui.loading)
        return screen("/oncology/child", bar, body)

    def _child_pane(self, state: AppState, tr: Translator) -> list[ft.Control]:
        """What a child's record shows: the record, the buttons, guardians, codes, corrections."""
        ui, cases, record = state.oncology, self._cases, state.oncology.record
        body: list[ft.Control] = []
        if record is None:
            body.append(_busy(tr.t("desk_loading")) if ui.loading else ft.Text(tr.t("onc_none_found"), size=16))
            return body
        yes, no = tr.t("onc_yes"), tr.t("onc_no")
        details: list[ft.Control] = [
            ft.Text(record.full_name, size=22, weight=ft.FontWeight.W_700),
            _wide(
                [
                    field(tr.t("onc_f_birth_date"), tr.date(record.birth_date)),
                    field(tr.t("onc_f_sex"), tr.t("onc_sex." + record.sex.value) if record.sex else "—"),
                    field(tr.t("onc_f_curp"), record.curp),
                    field(tr.t("onc_f_nss"), record.nss + (f" · {record.agregado}" if record.agregado else "")),
                    field(tr.t("onc_f_unit"), record.unit.name),
                    field(
                        tr.t("onc_f_diagnosis"),
                        f"{record.diagnosis.code} · {record.diagnosis.name}" if record.diagnosis else "—",
                    ),
                    field(
                        tr.t("onc_f_diagnosed_on"),
                        tr.date(record.diagnosis.diagnosed_on)
                        if record.diagnosis and record.diagnosis.diagnosed_on
                        else "—",
                    ),
                    field(tr.t("onc_f_oncologist"), record.treating_oncologist or "—"),
                    field(tr.t("onc_f_blood_group"), record.blood_group or tr.t("onc_blood_unknown")),
                    field(tr.t("onc_f_allergies"), record.allergies or "—"),
                    field(
                        tr.t("onc_f_catheter"),
                        "—"
                        if record.central_venous_catheter is None
                        else (yes if record.central_venous_catheter else no),
                    ),
                ]
            ),
        ]
        body.append(section(tr.t("onc_s_record"), details))
        body.append(
            ft.Row(
                [
                    ft.OutlinedButton(
                        content=ft.Text(tr.t("onc_correct"), size=16),
                        icon=ft.Icons.EDIT,
                        height=MIN_TOUCH,
                        disabled=ui.busy,
                        on_click=lambda _: cases.edit(),
                    ),
                    ft.OutlinedButton(
                        content=ft.Text(tr.t("onc_refer"), size=16),
                        icon=ft.Icons.MOVE_UP,
                        height=MIN_TOUCH,
                        disabled=ui.busy,
                        on_click=awaiting(cases.start_referral),
                    ),
                ],
                wrap=True,
                spacing=8,
                run_spacing=8,
            )
        )
        if self._open_plan is not None:
            body.append(
                ft.FilledTonalButton(
                    content=ft.Text(tr.t("chemo_open"), size=17),
                    icon=ft.Icons.MEDICATION,
                    height=BIG,
                    disabled=ui.busy,
                    on_click=awaiting(self._open_plan, record.id, record.display_name),
                )
            )
        body.append(
            ft.FilledButton(
                content=ft.Text(tr.t("onc_add_guardian"), size=17),
                icon=ft.Icons.PERSON_ADD,
                height=BIG,
                disabled=ui.busy,
                on_click=lambda _: cases.new_guardian(),
                style=ft.ButtonStyle(bgcolor=GREEN, color=ft.Colors.WHITE),
            )
        )
        body.append(section(tr.t("onc_guardians"), self._guardians(state, tr)))
        body.append(section(tr.t("onc_codes"), self._codes(state, tr)))
        body.append(section(tr.t("onc_history"), self._history(state, tr)))
        return body

    def _guardians(self, state: AppState, tr: Translator) -> list[ft.Control]:
        ui, cases = state.oncology, self._cases
        if not ui.guardians:
            return [ft.Text(tr.t("onc_no_guardians"), size=15)]
        rows: list[ft.Control] = []
        for g in ui.guardians:
            who = g.display_name + (f" ({g.relationship})" if g.relationship else "")
            line: list[ft.Control] = [
                ft.Text(who, size=16, weight=ft.FontWeight.W_600),
                ft.Text(
                    " · ".join(
                        x
                        for x in (
                            g.phone,
                            tr.t("onc_linked_on", when=tr.date(g.linked_at.date())) if g.linked_at else None,
                        )
                        if x
                    ),
                    size=14,
                ),
            ]
            if ui.removing == g.user_id:
                line.append(
                    ft.Container(
                        ft.Column(
                            [
                                ft.Text(
                                    tr.t("onc_remove_confirm", name=g.display_name),
                                    size=15,
                                    weight=ft.FontWeight.W_700,
                                    color=ft.Colors.RED_900,
                                ),
                                ft.Row(
                                    [
                                        ft.FilledButton(
                                            content=ft.Text(tr.t("onc_remove_yes"), size=15),
                                            height=MIN_TOUCH,
                                            disabled=ui.busy,
                                            on_click=awaiting(cases.remove_guardian, g.user_id),
                                            style=ft.ButtonStyle(bgcolor=ft.Colors.RED_800, color=ft.Colors.WHITE),
                                        ),
                                        ft.OutlinedButton(
                                            content=ft.Text(tr.t("onc_remove_no"), size=15),
                                            height=MIN_TOUCH,
                                            on_click=lambda _: cases.ask_remove(None),
                                        ),
                                    ],
                                    wrap=True,
                                    spacing=8,
                                ),
                            ],
                            spacing=8,
                        ),
                        bgcolor=ft.Colors.RED_50,
                        padding=10,
                        border_radius=8,
                    )
                )
            else:
                line.append(
                    ft.OutlinedButton(
                        content=ft.Text(tr.t("onc_remove", name=g.display_name), size=15),
                        icon=ft.Icons.PERSON_REMOVE,
                        height=MIN_TOUCH,
                        disabled=ui.busy,
                        on_click=lambda _, uid=g.user_id: cases.ask_remove(uid),
                    )
                )
            rows.append(ft.Column(line, spacing=4))
        return rows

    def _codes(self, state: AppState, tr: Translator) -> list[ft.Control]:
        ui, cases = state.oncology, self._cases
        if not ui.invitations:
            return [ft.Text(tr.t("onc_no_codes"), size=15)]
        rows: list[ft.Control] = []
        for inv in ui.invitations:
            status = tr.t("onc_code_status." + inv.status.value)
            actions: list[ft.Control] = []
            if inv.status is wire.InvitationStatus.PENDIENTE:
                actions.append(
                    ft.OutlinedButton(
                        content=ft.Text(tr.t("onc_revoke", name=inv.full_name), size=15),
                        icon=ft.Icons.BLOCK,
                        height=MIN_TOUCH,
                        disabled=ui.busy,
                        on_click=awaiting(cases.revoke, inv.id),
                    )
                )
            if inv.status is not wire.InvitationStatus.USADA:
                actions.append(
                    ft.OutlinedButton(
                        content=ft.Text(tr.t("onc_reissue", name=inv.full_name), size=15),
                        icon=ft.Icons.AUTORENEW,
                        height=MIN_TOUCH,
                        disabled=ui.busy,
                        on_click=awaiting(cases.reissue, inv.id),
                    )
                )
            rows.append(
                ft.Column(
                    [
                        ft.Text(
                            f"{inv.full_name} ({inv.relationship}) · {inv.phone}", size=16, weight=ft.FontWeight.W_600
                        ),
                        ft.Text(tr.t("onc_code_line", status=status, when=tr.datetime(inv.expires_at)), size=14),
                        ft.Row(actions, wrap=True, spacing=8, run_spacing=8),
                    ],
                    spacing=4,
                )
            )
        return rows

    def _history(self, state: AppState, tr: Translator) -> list[ft.Control]:
        rows: list[ft.Control] = []
        for c in state.oncology.corrections:
            what = tr.t("onc_h_referral") if c.kind is wire.CorrectionKind.REFERENCIA else tr.t("onc_h_" + c.field)
            rows.append(
                ft.Column(
                    [
                        ft.Text(f"{what}: {c.old_value or '—'} → {c.new_value or '—'}", size=15),
                        ft.Text(
                            tr.t("onc_h_by", who=c.changed_by, when=tr.datetime(c.changed_at)),
                            size=13,
                            color=ft.Colors.GREY_800,
                        ),
                    ],
                    spacing=0,
                )
            )
        return rows or [ft.Text(tr.t("onc_h_none"), size=15)]

    # ---- a guardian's code ------------------------------------------------------------------------------

    def _invitation(self, state: AppState, tr: Translator, on_back: Handler) -> ft.View:
        ui, cases, record = state.oncology, self._cases, state.oncology.record
        assert record is not None
        body = _notes(state, tr, cases)
        if ui.issued is not None:
            code = display_code(ui.issued.code)
            block: list[ft.Control] = [
                ft.Text(
                    tr.t("onc_code_for", name=ui.issued_for, child=record.display_name),
                    size=17,
                    weight=ft.FontWeight.W_600,
                    text_align=ft.TextAlign.CENTER,
                ),
                ft.Text(
                    code,
                    size=46,
                    weight=ft.FontWeight.W_800,
                    font_family="monospace",
                    selectable=True,
                    text_align=ft.TextAlign.CENTER,
                    semantics_label=tr.t("onc_code_alt", code=" ".join(code)),
                ),
            ]
            if ui.issued_qr is not None:
                alt = tr.t("onc_code_qr", name=ui.issued_for)
                block.append(qr_image(ui.issued_qr, alt=alt, max_width=300, min_module=4))
            block += [
                ft.Text(
                    tr.t("onc_code_valid", when=tr.datetime(ui.issued.expires_at)),
                    size=17,
                    weight=ft.FontWeight.W_700,
                    text_align=ft.TextAlign.CENTER,
                ),
                ft.Text(tr.t("onc_code_explain"), size=15, text_align=ft.TextAlign.CENTER),
                ft.FilledButton(
                    content=ft.Text(tr.t("onc_code_done"), size=17),
                    icon=ft.Icons.CHECK,
                    height=BIG,
                    on_click=on_back,
                    style=ft.ButtonStyle(bgcolor=GREEN, color=ft.Colors.WHITE),
                ),
            ]
            centred = ft.Column(block, spacing=10, horizontal_alignment=ft.CrossAxisAlignment.CENTER)
            body.append(section(tr.t("onc_code_title"), [ft.Container(centred, alignment=ft.Alignment.CENTER)]))
            return screen("/oncology/code", app_bar(tr.t("onc_code_title"), tr, on_back=on_back), body)
        errors = ui.guardian_errors
        for name, label, _ in GUARDIAN_FIELDS:
            control = self.guardian[name]
            control.label = tr.t(label)
            control.error = errors.get(name)
            control.disabled = ui.busy
        self.guardian["phone"].helper = tr.t("onc_g_phone_hint")
        self.guardian["relationship"].helper = tr.t("onc_g_relationship_hint")
        body.append(ft.Text(tr.t("onc_add_guardian_explain", child=record.display_name), size=15))
        body.append(_wide(list(self.guardian.values())))
        if errors.get("form"):
            body.append(
                banner(errors["form"], icon=ft.Icons.ERROR_OUTLINE, bgcolor=ft.Colors.RED_50, color=ft.Colors.RED_900)
            )
        body.append(
            ft.FilledButton(
                content=ft.Text(
                    tr.t("onc_issuing") if ui.busy else tr.t("onc_issue"), size=18, weight=ft.FontWeight.W_600
                ),
                icon=ft.Icons.QR_CODE_2,
                height=BIG,
                disabled=ui.busy,
                on_click=self._invite,
                style=ft.ButtonStyle(bgcolor=GREEN, color=ft.Colors.WHITE),
            )
        )
        return screen("/oncology/guardian", app_bar(tr.t("onc_add_guardian"), tr, on_back=on_back), body)

    # ---- registry figures -------------------------------------------------------------------------------

    def _figures(self, state: AppState, tr: Translator, on_back: Handler) -> ft.View:
        ui, cases, figures = state.oncology, self._cases, state.oncology.figures
        body = _notes(state, tr, cases)
        if self._open_fever_figures is not None:
            body.append(fever_figures_button(tr, awaiting(self._open_fever_figures, 0)))
        if ui.week is not None:
            body.append(week_bar(tr, ui.week, cases.show_figures))
        if figures is None:
            body.append(_busy(tr.t("desk_loading")) if ui.loading else ft.Text("—"))
        else:
            body.append(download_buttons(tr, busy=ui.busy, make=cases.figures_file, saved=cases.file_saved))
            levels = figures.units_by_level
            body.append(
                section(
                    tr.t("onc_figures"),
                    [
                        ft.Text(tr.t("onc_fig_total", count=figures.total), size=20, weight=ft.FontWeight.W_700),
                        ft.Text(tr.t("onc_fig_new", count=figures.new_this_week), size=17),
                        ft.Text(tr.t("onc_fig_previous", count=figures.previous_total), size=16),
                        ft.Text(
                            tr.t(
                                "onc_fig_units",
                                count=levels.umae + levels.segundo_nivel,
                                umae=levels.umae,
                                second=levels.segundo_nivel,
                            ),
                            size=16,
                        ),
                    ],
                )
            )
            body.append(
                section(tr.t("onc_fig_by_unit"), bars([(u.name, u.total) for u in figures.by_unit]) or [ft.Text("—")])
            )
        return screen("/oncology/figures", app_bar(tr.t("onc_figures"), tr, on_back=on_back), body)

    # ---- bulk CSV import ---------------------------------------------------------------------------------

    def _import(self, state: AppState, tr: Translator, on_back: Handler) -> ft.View:
        body = _notes(state, tr, self._cases)
        body.extend(import_controls(state, tr, self._cases, self.import_picker))
        return screen("/oncology/import", app_bar(tr.t("imp_title"), tr, on_back=on_back), body)


def import_picker(cases: OncologyCases) -> ft.FilePicker:
    """The CSV picker of the bulk import: the first picked file's name and bytes, checked at once by a dry run."""

    async def picked(e: Any) -> None:
        files = list(getattr(e, "files", None) or [])
        if files:
            await cases.pick_import(
                str(getattr(files[0], "name", "") or ""), file_bytes(getattr(files[0], "bytes", None))
            )

    return ft.FilePicker(on_result=picked)


def import_controls(state: AppState, tr: Translator, cases: OncologyCases, picker: ft.FilePicker) -> list[ft.Control]:
    """The bulk import's controls (the oncology desk's import screen, and the administration screen): the CSV
    picker, the dry run's counts or every refused row, then "Importar" and the guardians' codes."""
    ui = state.oncology
    body: list[ft.Control] = []
    body.append(ft.Text(tr.t("imp_hint"), size=15))
    body.append(
        ft.OutlinedButton(
            content=ft.Text(tr.t("imp_pick"), size=16),
            icon=ft.Icons.UPLOAD_FILE,
            height=MIN_TOUCH,
            disabled=ui.busy,
            action=ft.PickFiles(
                picker,
                file_type=ft.FilePickerFileType.CUSTOM,
                allowed_extensions=["csv"],
                allow_multiple=False,
                with_data=True,
                cancel_upload_on_window_blur=False,
            ),
        )
    )
    if ui.import_file is not None:
        body.append(ft.Text(tr.t("imp_file", name=ui.import_file[0] or "—"), size=15, weight=ft.FontWeight.W_600))
    if ui.busy:
        body.append(_busy(tr.t("imp_checking")))
    result = ui.import_result
    if ui.import_errors:
        body.append(
            section(
                tr.t("imp_refused", count=len(ui.import_errors)),
                [ft.Text(tr.t("imp_nothing_written"), size=15, weight=ft.FontWeight.W_700, color=ft.Colors.RED_900)]
                + [ft.Text(reason, size=15, color=ft.Colors.RED_900, selectable=True) for reason in ui.import_errors],
            )
        )
    elif result is not None:
        lines: list[ft.Control] = [
            ft.Text(tr.t("imp_rows", count=result.rows), size=16),
            ft.Text(
                tr.t("imp_would_create" if result.dry_run else "imp_created", count=result.created),
                size=18,
                weight=ft.FontWeight.W_700,
            ),
            ft.Text(tr.t("imp_unchanged", count=result.unchanged), size=16),
        ]
        if result.dry_run:
            lines.append(
                ft.FilledButton(
                    content=ft.Text(tr.t("imp_run"), size=16),
                    icon=ft.Icons.CLOUD_UPLOAD,
                    height=BIG,
                    disabled=ui.busy,
                    on_click=awaiting(cases.run_import),
                    style=ft.ButtonStyle(bgcolor=GREEN, color=ft.Colors.WHITE),
                )
            )
        else:
            for invitation in result.invitations:
                lines.append(
                    ft.Text(
                        tr.t(
                            "imp_code",
                            row=invitation.row,
                            name=invitation.guardian_name,
                            code=display_code(invitation.code),
                        ),
                        size=17,
                        weight=ft.FontWeight.W_600,
                        selectable=True,
                    )
                )
            if result.invitations:
                lines.append(ft.Text(tr.t("imp_codes_once"), size=14, color=ft.Colors.ORANGE_900))
        body.append(section(tr.t("imp_check_title" if result.dry_run else "imp_done_title"), lines))
    return body


def file_bytes(value: Any) -> bytes | None:
    """The picker's bytes as ``bytes`` (msgpack gives bytes; a list of ints is accepted too)."""
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    if isinstance(value, list) and all(isinstance(v, int) for v in value):
        try:
            return bytes(value)
        except ValueError:
            return None
    return None


def _plain(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text.casefold()) if not unicodedata.combining(c))
