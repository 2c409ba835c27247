"""The oncology desk's chemotherapy screens: a child's plan (cycles, their life, lifetime anthracyclines) and
writing the next cycle (doses computed by the server, shown before writing; a dose changed by hand needs a
reason). Drawing only; the fields keep what was typed across redraws."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

import flet as ft

from carnet.chemotherapy.cases import STAFF_KINDS
from carnet.chemotherapy.doses import dose_detail, dose_text, drug_text, figure
from carnet.chemotherapy.form import PrescriptionForm
from carnet.core.clock import local_date
from carnet.core.i18n import Translator
from carnet.core.navigation import Screen
from carnet.patients.cycles import PENDING
from carnet.shell.state import AppState
from carnet.views.common import (
    GREEN,
    MIN_TOUCH,
    Handler,
    app_bar,
    banner,
    chip,
    desk_layout,
    notes,
    screen,
    section,
)
from carnet_contract import chemotherapy as chemo
from carnet_contract import models as contract

if TYPE_CHECKING:
    from carnet.chemotherapy.cases import ChemotherapyCases

__all__ = ["ChemotherapyView"]

BIG = 56
Kind = chemo.CycleActionKind


def _text(**kwargs: Any) -> ft.TextField:
    return ft.TextField(text_size=17, error_max_lines=3, helper_max_lines=2, **kwargs)


class ChemotherapyView:
    def __init__(self, cases: ChemotherapyCases, redraw: Any, clock: Any) -> None:
        self._cases = cases
        self._redraw = redraw
        self._clock = clock
        #: The regimen (version id) and phase chosen with their chips.
        self.protocol_id = ""
        self.phase_code = ""
        self.date = _text(keyboard_type=ft.KeyboardType.DATETIME)
        self.weight = _text(keyboard_type=ft.KeyboardType.NUMBER, suffix="kg")
        self.height = _text(keyboard_type=ft.KeyboardType.NUMBER, suffix="cm")
        self.measured_on = _text(keyboard_type=ft.KeyboardType.DATETIME)
        #: drug code → (amount, reason) fields, made when the drug is first shown.
        self.overrides: dict[str, tuple[ft.TextField, ft.TextField]] = {}
        self.reason = _text(multiline=True, min_lines=1, max_lines=3, max_length=500)
        self.new_date = _text(keyboard_type=ft.KeyboardType.DATETIME)
        self._sent = 0
        # "Citar consulta, laboratorio o estudio"
        self.appt_kind = ""
        self.appt_title = _text(max_length=120, counter="")
        self.appt_date = _text(keyboard_type=ft.KeyboardType.DATETIME)
        self.appt_start = _text(keyboard_type=ft.KeyboardType.DATETIME)
        self.appt_end = _text(keyboard_type=ft.KeyboardType.DATETIME)
        self.appt_place = _text(max_length=200, counter="")
        self._scheduled = 0

    # ---- reading and clearing the form -------------------------------------------------------------

    def read(self) -> PrescriptionForm:
        return PrescriptionForm(
            protocol_id=self.protocol_id,
            phase=self.phase_code,
            scheduled_for=self.date.value or "",
            weight_kg=self.weight.value or "",
            height_cm=self.height.value or "",
            measured_on=self.measured_on.value or "",
            overrides={code: (a.value or "", r.value or "") for code, (a, r) in self.overrides.items()},
        )

    def _clear(self) -> None:
        for control in (
            self.weight,
            self.height,
            self.date,
            self.measured_on,
            *[f for pair in self.overrides.values() for f in pair],
        ):
            control.value = ""
        self.reason.value = self.new_date.value = ""

    def _choose_protocol(self, regimen_id: str) -> Handler:
        def choose(_: Any = None) -> None:
            if regimen_id != self.protocol_id:
                self.protocol_id, self.phase_code = regimen_id, ""
                self._redraw()

        return choose

    def _choose_phase(self, code: str) -> Handler:
        def choose(_: Any = None) -> None:
            self.phase_code = code
            self._redraw()

        return choose

    async def _compute(self, _: Any = None) -> None:
        await self._cases.compute(self.read())

    async def _write(self, _: Any = None) -> None:
        await self._cases.write(self.read())

    # ---- drawing -------------------------------------------------------------------------------------

    def build(
        self, state: AppState, tr: Translator, *, on_back: Handler, on_refresh: Handler, wide: bool = False
    ) -> ft.View:
        """The plan (or the prescription form); ``wide`` (a desk PC): the appointment form beside the cycles."""
        ui = state.chemotherapy
        if ui.sent != self._sent:  # a cycle was written: an empty form for the next one
            self._sent = ui.sent
            self._clear()
        top = notes(
            state,
            tr,
            message=ui.message,
            error=ui.error,
            on_dismiss=lambda _: ui.dismiss_message(),
            online_only=tr.t("onc_online_only"),
        )
        if state.screen is Screen.CHEMO_PRESCRIBE:
            body = [*top, *self._form(state, tr)]
            title = tr.t("chemo_new_title")
        elif wide and ui.plan is not None:  # a desk PC: the cycles on the left, the appointment form beside them
            body = [*top, desk_layout(self._plan(state, tr), [self._appointment_form(state, tr)], list_share=7)]
            title = tr.t("chemo_title")
        else:
            body = [*top, *self._plan(state, tr)]
            if ui.plan is not None:
                body.append(self._appointment_form(state, tr))
            title = tr.t("chemo_title")
        if ui.busy or ui.loading:
            body.append(ft.ProgressRing(width=28, height=28, semantics_label=tr.t("loading")))
        route = "/oncology/chemo/new" if state.screen is Screen.CHEMO_PRESCRIBE else "/oncology/chemo"
        return screen(route, app_bar(title, tr, on_back=on_back, on_refresh=on_refresh), body)

    # ---- the plan ------------------------------------------------------------------------------------

    def _plan(self, state: AppState, tr: Translator) -> list[ft.Control]:
        ui = state.chemotherapy
        body: list[ft.Control] = [ft.Text(ui.patient_name, size=22, weight=ft.FontWeight.W_700)]
        plan = ui.plan
        if plan is None:
            return body
        body.append(
            ft.FilledButton(
                content=ft.Text(tr.t("chemo_write_next"), size=18, weight=ft.FontWeight.W_600),
                icon=ft.Icons.EDIT_NOTE,
                height=BIG,
                disabled=ui.busy,
                on_click=lambda _: self._cases.new_cycle(),
                style=ft.ButtonStyle(bgcolor=GREEN, color=ft.Colors.WHITE),
            )
        )
        body += _cumulative(tr, plan.cumulative)
        if plan.measurements:
            m = plan.measurements[0]
            body.append(
                ft.Text(
                    tr.t(
                        "chemo_last_measure",
                        weight=figure(m.weight_kg),
                        height=figure(m.height_cm),
                        date=tr.date(m.measured_on),
                    ),
                    size=15,
                )
            )
        if not plan.cycles:
            body.append(ft.Text(tr.t("chemo_no_cycles"), size=16))
        for cycle in sorted(plan.cycles, key=lambda c: (c.scheduled_for, c.number), reverse=True):
            body.append(self._cycle_card(state, tr, cycle))
        return body

    def _appointment_form(self, state: AppState, tr: Translator) -> ft.Control:
        """A consultation, laboratory or study for the child (the family sees it on the agenda)."""
        ui = state.chemotherapy
        if ui.scheduled != self._scheduled:  # one was scheduled: an empty form for the next
            self._scheduled = ui.scheduled
            self.appt_kind = ""
            for control in (self.appt_title, self.appt_date, self.appt_start, self.appt_end, self.appt_place):
                control.value = ""
        errors = ui.appointment_errors

        def choose(kind: str) -> Handler:
            def handler(_: Any = None) -> None:
                self.appt_kind = kind
                self._redraw()

            return handler

        kinds = [chip(tr.t(f"kind.{k.value}"), self.appt_kind == k.value, choose(k.value), tr) for k in STAFF_KINDS]
        for control, key, label in (
            (self.appt_title, "title", "chemo_appt_title"),
            (self.appt_date, "date", "chemo_appt_date"),
            (self.appt_start, "start", "chemo_appt_start"),
            (self.appt_end, "end", "chemo_appt_end"),
            (self.appt_place, "place", "chemo_appt_place"),
        ):
            control.label = tr.t(label)
            control.error = errors.get(key)
            control.disabled = ui.busy
        self.appt_date.helper = tr.t("date_hint")

        async def schedule(_: Any = None) -> None:
            await self._cases.schedule(
                self.appt_kind,
                self.appt_title.value or "",
                self.appt_date.value or "",
                self.appt_start.value or "",
                self.appt_end.value or "",
                self.appt_place.value or "",
            )

        return section(
            tr.t("chemo_appt_section"),
            [
                ft.Row(kinds, wrap=True, spacing=8, run_spacing=8),
                *_error_text(errors.get("kind") or errors.get("form")),
                ft.ResponsiveRow(
                    [
                        ft.Container(self.appt_title, col={"xs": 12, "md": 6}),
                        ft.Container(self.appt_place, col={"xs": 12, "md": 6}),
                        ft.Container(self.appt_date, col={"xs": 12, "md": 4}),
                        ft.Container(self.appt_start, col={"xs": 6, "md": 4}),
                        ft.Container(self.appt_end, col={"xs": 6, "md": 4}),
                    ],
                    run_spacing=12,
                ),
                ft.FilledTonalButton(
                    content=ft.Text(tr.t("chemo_appt_send"), size=16),
                    icon=ft.Icons.EVENT_AVAILABLE,
                    height=MIN_TOUCH,
                    disabled=ui.busy,
                    on_click=schedule,
                ),
            ],
        )

    def _cycle_card(self, state: AppState, tr: Translator, cycle: contract.Cycle) -> ft.Control:
        ui = state.chemotherapy
        head = tr.t(
            "chemo_cycle_head",
            number=cycle.number,
            date=tr.date(cycle.scheduled_for),
            status=tr.t(f"cycle.{cycle.status.value}"),
        )
        lines: list[ft.Control] = []
        if cycle.phase and cycle.phase_number and cycle.phase_cycles:
            lines.append(
                ft.Text(
                    tr.t("cycle_of_phase", phase=cycle.phase, number=cycle.phase_number, total=cycle.phase_cycles),
                    size=15,
                )
            )
        for drug in cycle.drugs:
            lines.append(ft.Text("• " + drug_text(tr, drug), size=15))
            detail = dose_detail(tr, drug.dose, cycle)
            if detail:
                lines.append(ft.Text("   " + " · ".join(detail), size=13, color=ft.Colors.GREY_800))
        lines.append(ft.Text(tr.t("mixing", status=tr.t(f"mixing.{cycle.mixing.status.value}")), size=14))
        if cycle.deferral is not None:
            lines.append(
                ft.Text(
                    tr.t(
                        "cycle_deferred",
                        before=tr.date(cycle.deferral.previous_date),
                        after=tr.date(cycle.scheduled_for),
                        reason=cycle.deferral.reason,
                    ),
                    size=14,
                )
            )
        if cycle.suspended_reason:
            lines.append(ft.Text(tr.t("cycle_suspended", reason=cycle.suspended_reason), size=14))
        if cycle.status in PENDING:
            step = ui.step
            if step is not None and step.cycle_id == cycle.id:
                lines += self._step_form(state, tr, cycle, step.action)
            else:
                lines.append(self._actions(state, tr, cycle))
        return section(head, lines)

    def _actions(self, state: AppState, tr: Translator, cycle: contract.Cycle) -> ft.Control:
        busy = state.chemotherapy.busy
        buttons: list[ft.Control] = []

        def step(kind: Kind) -> Any:
            async def handler(_: Any = None) -> None:
                if kind in (Kind.DEFER, Kind.SUSPEND):
                    self.reason.value = ""
                    self.new_date.value = (cycle.scheduled_for + timedelta(days=7)).isoformat()
                    self._cases.ask_step(cycle.id, kind)
                else:
                    await self._cases.step(cycle, kind)

            return handler

        kinds = [Kind.APPLY, Kind.DEFER, Kind.SUSPEND]
        if cycle.confirmed_at is None:
            kinds.insert(0, Kind.CONFIRM)
        for kind in kinds:
            label = tr.t(f"chemo_act.{kind.value}")
            buttons.append(
                ft.OutlinedButton(
                    content=ft.Text(label, size=15),
                    height=MIN_TOUCH,
                    disabled=busy,
                    tooltip=tr.t("chemo_act_for", action=label, number=cycle.number),
                    on_click=step(kind),
                )
            )
        return ft.Row(buttons, wrap=True, spacing=8, run_spacing=8)

    def _step_form(self, state: AppState, tr: Translator, cycle: contract.Cycle, kind: Kind) -> list[ft.Control]:
        ui = state.chemotherapy
        self.reason.label = tr.t("chemo_reason")
        self.reason.error = ui.step_errors.get("reason")
        self.new_date.label = tr.t("chemo_new_date")
        self.new_date.helper = tr.t("date_hint")
        self.new_date.error = ui.step_errors.get("new_date")
        fields: list[ft.Control] = [self.reason]
        if kind is Kind.DEFER:
            fields.append(self.new_date)
        if ui.step_errors.get("form"):
            fields.append(ft.Text(ui.step_errors["form"], color=ft.Colors.RED_900, size=15))

        async def save(_: Any = None) -> None:
            await self._cases.step(cycle, kind, reason=self.reason.value or "", new_date=self.new_date.value or "")

        label = tr.t(f"chemo_act.{kind.value}")
        return [
            ft.Text(tr.t("chemo_step_title", action=label, number=cycle.number), size=16, weight=ft.FontWeight.W_600),
            *fields,
            ft.Row(
                [
                    ft.FilledButton(
                        content=ft.Text(label, size=16),
                        height=MIN_TOUCH,
                        disabled=ui.busy,
                        on_click=save,
                        style=ft.ButtonStyle(bgcolor=ft.Colors.RED_800, color=ft.Colors.WHITE),
                    ),
                    ft.TextButton(
                        content=ft.Text(tr.t("cancel"), size=16),
                        height=MIN_TOUCH,
                        on_click=lambda _: self._cases.ask_step(None),
                    ),
                ],
                wrap=True,
            ),
        ]

    # ---- writing the next cycle -----------------------------------------------------------------------

    def _form(self, state: AppState, tr: Translator) -> list[ft.Control]:
        ui = state.chemotherapy
        catalogue = ui.catalogue
        regimens = catalogue.regimens if catalogue else []
        errors = ui.errors
        if not self.protocol_id and len(regimens) == 1:
            self.protocol_id = regimens[0].id
        regimen = next((r for r in regimens if r.id == self.protocol_id), None)
        phases = regimen.phases if regimen else []
        if not self.phase_code and phases:
            self.phase_code = phases[0].code
        protocol_chips = [
            chip(
                r.name + (f" · v{r.version}" if r.version > 1 else ""),
                r.id == self.protocol_id,
                self._choose_protocol(r.id),
                tr,
            )
            for r in regimens
        ]
        phase_chips = [
            chip(
                tr.t("chemo_phase_one" if p.cycles == 1 else "chemo_phase_option", name=p.name, cycles=p.cycles),
                p.code == self.phase_code,
                self._choose_phase(p.code),
                tr,
            )
            for p in phases
        ]
        if not self.date.value:
            self.date.value = (local_date(self._clock()) + timedelta(days=1)).isoformat()
        if ui.plan is not None and ui.plan.measurements and not self.height.value:
            self.height.value = figure(ui.plan.measurements[0].height_cm)
        for control, key, label in (
            (self.date, "scheduled_for", "chemo_date"),
            (self.weight, "weight_kg", "chemo_weight"),
            (self.height, "height_cm", "chemo_height"),
            (self.measured_on, "measured_on", "chemo_measured_on"),
        ):
            control.label = tr.t(label)
            control.error = errors.get(key)
            control.disabled = ui.busy
        self.date.helper = tr.t("date_hint")
        self.measured_on.helper = tr.t("chemo_measured_hint")
        body: list[ft.Control] = [ft.Text(ui.patient_name, size=20, weight=ft.FontWeight.W_700)]
        if regimen is not None and regimen.example:
            body.append(
                banner(
                    tr.t("example_protocol"),
                    icon=ft.Icons.SCIENCE,
                    bgcolor=ft.Colors.AMBER_50,
                    color=ft.Colors.BROWN_900,
                )
            )
        if errors.get("form"):
            body.append(
                banner(errors["form"], icon=ft.Icons.ERROR_OUTLINE, bgcolor=ft.Colors.RED_50, color=ft.Colors.RED_900)
            )
        body += [
            ft.Text(tr.t("chemo_protocol"), size=15, weight=ft.FontWeight.W_600),
            ft.Row(protocol_chips, wrap=True, spacing=8, run_spacing=8),
            *_error_text(errors.get("protocol_id")),
        ]
        if phase_chips:
            body += [
                ft.Text(tr.t("chemo_phase"), size=15, weight=ft.FontWeight.W_600),
                ft.Row(phase_chips, wrap=True, spacing=8, run_spacing=8),
            ]
        body += [
            *_error_text(errors.get("phase")),
            ft.ResponsiveRow(
                [
                    ft.Container(self.date, col={"xs": 12, "md": 4}),
                    ft.Container(self.weight, col={"xs": 6, "md": 4}),
                    ft.Container(self.height, col={"xs": 6, "md": 4}),
                    ft.Container(self.measured_on, col={"xs": 12, "md": 4}),
                ],
                run_spacing=12,
            ),
            ft.OutlinedButton(
                content=ft.Text(tr.t("chemo_compute"), size=17),
                icon=ft.Icons.CALCULATE,
                height=MIN_TOUCH + 4,
                disabled=ui.busy,
                on_click=self._compute,
            ),
        ]
        preview = ui.preview
        if preview is not None:
            body += self._preview(state, tr, preview, phases)
        if ui.confirm_reasons:
            body.append(
                banner(
                    tr.t("chemo_confirm_measure", reasons=" ".join(ui.confirm_reasons)),
                    icon=ft.Icons.MONITOR_WEIGHT,
                    bgcolor=ft.Colors.AMBER_100,
                    color=ft.Colors.BROWN_900,
                )
            )
        if preview is not None or ui.confirm_reasons:
            body.append(
                ft.FilledButton(
                    content=ft.Text(
                        tr.t("chemo_write_confirmed") if ui.confirm_reasons else tr.t("chemo_write"),
                        size=18,
                        weight=ft.FontWeight.W_600,
                    ),
                    icon=ft.Icons.SAVE,
                    height=BIG,
                    disabled=ui.busy,
                    on_click=self._write,
                    style=ft.ButtonStyle(bgcolor=GREEN, color=ft.Colors.WHITE),
                )
            )
        return body

    def _preview(
        self, state: AppState, tr: Translator, preview: chemo.PrescribedCycle, phases: list[chemo.RegimenPhase]
    ) -> list[ft.Control]:
        errors = state.chemotherapy.errors
        lines: list[ft.Control] = [
            ft.Text(
                tr.t(
                    "cycle_bsa",
                    weight=figure(preview.weight_kg or 0),
                    height=figure(preview.height_cm or 0),
                    bsa=figure(preview.bsa_m2 or 0),
                ),
                size=15,
            ),
        ]
        if preview.phase and preview.phase_number and preview.phase_cycles:
            lines.append(
                ft.Text(
                    tr.t(
                        "cycle_of_phase", phase=preview.phase, number=preview.phase_number, total=preview.phase_cycles
                    ),
                    size=15,
                )
            )
        phase = next((p for p in phases if p.name == preview.phase), None)
        codes = {d.name: d.code for d in phase.drugs} if phase else {}
        for drug in preview.drugs:
            lines.append(ft.Text(drug_text(tr, drug), size=16, weight=ft.FontWeight.W_600))
            detail = dose_detail(tr, drug.dose, preview)
            if detail:
                lines.append(ft.Text(" · ".join(detail), size=14, color=ft.Colors.GREY_800))
            code = codes.get(drug.name)
            if code is None:
                continue
            amount, reason = self.overrides.setdefault(code, (_text(keyboard_type=ft.KeyboardType.NUMBER), _text()))
            amount.label = tr.t("chemo_by_hand", dose=dose_text(tr, drug.dose))
            amount.suffix = drug.dose.unit
            amount.error = errors.get(f"dose:{code}")
            reason.label = tr.t("chemo_by_hand_reason", name=drug.name)
            reason.error = errors.get(f"reason:{code}")
            lines.append(
                ft.ResponsiveRow(
                    [ft.Container(amount, col={"xs": 12, "md": 4}), ft.Container(reason, col={"xs": 12, "md": 8})],
                    run_spacing=8,
                )
            )
        return [section(tr.t("chemo_preview_title"), lines), *_cumulative(tr, preview.cumulative)]


def _error_text(text: str | None) -> list[ft.Control]:
    return [ft.Text(text, size=14, color=ft.Colors.RED_900, weight=ft.FontWeight.W_500)] if text else []


def _cumulative(tr: Translator, totals: list[chemo.CumulativeDose]) -> list[ft.Control]:
    found: list[ft.Control] = []
    for total in totals:
        text = tr.t(
            "chemo_cumulative",
            after=figure(total.after),
            this=figure(total.this_cycle),
            warning=figure(total.warning_at),
        )
        if total.over:
            found.append(
                banner(
                    tr.t("chemo_cumulative_over", text=text),
                    icon=ft.Icons.WARNING_AMBER,
                    bgcolor=ft.Colors.RED_50,
                    color=ft.Colors.RED_900,
                )
            )
        else:
            found.append(ft.Text(text, size=15))
    return found
