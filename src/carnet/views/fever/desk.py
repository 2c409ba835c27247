"""The unit's fever desk: the open episodes with the 60-minute clock from arrival, a tap per step (now, or another
time), "Registrar llegada sin aviso" (a child who came without the family's alert: find, arrival time, temperature),
and the week's fever figures with their files; "Verificar tarjeta de urgencias" takes a hand-held scanner, a pasted
code or the camera (a phone, a browser). Drawing only; online only like the other staff screens.
On a desk PC (``wide``) the episodes stand two to a row."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import flet as ft

from carnet.core.clock import hhmm
from carnet.core.i18n import Translator
from carnet.core.navigation import Screen
from carnet.fever.desk import CARNET_GIVEN, FeverDeskCases, minutes_since_arrival, next_step, over_the_hour
from carnet.pharmacy.checks import age_text
from carnet.shell.state import AppState
from carnet.views.common import (
    GREEN,
    MIN_TOUCH,
    Handler,
    app_bar,
    awaiting,
    download_buttons,
    notes,
    result_button,
    screen,
    section,
    week_bar,
)
from carnet.views.fever.family import card_facts
from carnet.views.pharmacy.counter import emergency_claims, verdict_box
from carnet.views.scanning import CameraScanner
from carnet_contract import models as contract
from carnet_contract.models import GOLDEN_HOUR_MINUTES, FeverStepKind

__all__ = ["FeverDeskView", "entry_button", "figures_button", "open_alert"]


def entry_button(tr: Translator, on_click: Handler) -> ft.Control:
    """ "Fiebre: Hora Dorada" on the oncology desk and the case desk."""
    return ft.FilledButton(
        content=ft.Text(tr.t("desk_fever_open"), size=16),
        icon=ft.Icons.THERMOSTAT,
        height=MIN_TOUCH,
        on_click=on_click,
        style=ft.ButtonStyle(bgcolor=ft.Colors.RED_800, color=ft.Colors.WHITE),
    )


def open_alert(state: AppState, tr: Translator, on_click: Handler) -> list[ft.Control]:
    """On the oncology desk and the case desk: the open fever episodes of their units, at once ("1 niño con fiebre:
    aviso abierto — abrir"), a tap opens the fever desk. Nothing while there is none (or not known yet)."""
    count = state.fever_desk.open_count
    if not count:
        return []
    words = tr.t("desk_fever_alert_one") if count == 1 else tr.t("desk_fever_alert_other", n=count)
    return [
        ft.Semantics(
            live_region=True,
            content=ft.FilledButton(
                content=ft.Text(words, size=18, weight=ft.FontWeight.W_700),
                icon=ft.Icons.WARNING_ROUNDED,
                height=MIN_TOUCH + 8,
                on_click=on_click,
                style=ft.ButtonStyle(bgcolor=ft.Colors.RED_900, color=ft.Colors.WHITE),
            ),
        )
    ]


def figures_button(tr: Translator, on_click: Handler) -> ft.Control:
    """Beside the other weekly figures: the week's fever figures."""
    return ft.OutlinedButton(
        content=ft.Text(tr.t("desk_fever_figures"), size=16),
        icon=ft.Icons.THERMOSTAT,
        height=MIN_TOUCH,
        on_click=on_click,
    )


class FeverDeskView:
    """The desk's screens; keeps the corrected time being typed across redraws."""

    def __init__(self, cases: FeverDeskCases, *, camera: bool = False) -> None:
        self._cases = cases
        #: "Escanear con la cámara" beside the card's field, where the app has a camera (a phone, a browser).
        self.camera = CameraScanner(self._verify_read) if camera else None
        self._sent = 0
        self._error: str | None = None
        self.at = ft.TextField(text_size=18, width=200, keyboard_type=ft.KeyboardType.DATETIME)
        #: "Registrar llegada sin aviso": the search, the arrival (the same time field as a step's), the reading.
        self.arrival_query = ft.TextField(text_size=18, on_submit=self._search_child)
        self.arrival_time = ft.TextField(text_size=18, width=260, keyboard_type=ft.KeyboardType.DATETIME)
        self.arrival_temp = ft.TextField(text_size=18, width=260, keyboard_type=ft.KeyboardType.NUMBER)
        self._arrival_round = 0
        #: "Verificar tarjeta de urgencias": a hand-held scanner types the QR's URL and Enter (or it is pasted).
        self.scan = ft.TextField(
            autocorrect=False,
            enable_suggestions=False,
            capitalization=ft.TextCapitalization.NONE,
            text_size=18,
            prefix_icon=ft.Icons.QR_CODE_SCANNER,
            on_submit=self._verify,
        )

    async def _search_child(self, _: Any = None) -> None:
        await self._cases.search_children(self.arrival_query.value or "")

    async def _register_arrival(self, _: Any = None) -> None:
        await self._cases.register_arrival(self.arrival_time.value or "", self.arrival_temp.value or "")

    async def _verify(self, _: Any = None) -> None:
        scanned = self.scan.value or ""
        self.scan.value = ""  # ready for the next card
        await self._cases.verify_card(scanned)

    async def _verify_read(self, text: str) -> None:
        """The camera read a card's code: the same path as the hand-held scanner's."""
        await self._cases.verify_card(text)

    def _notes(self, state: AppState, tr: Translator) -> list[ft.Control]:
        ui = state.fever_desk
        return notes(
            state,
            tr,
            message=ui.message,
            error=ui.error,
            on_dismiss=lambda _: self._cases.dismiss_message(),
            online_only=tr.t("desk_online_only"),
        )

    def build(
        self,
        state: AppState,
        tr: Translator,
        *,
        now: datetime,
        on_back: Handler,
        on_refresh: Handler,
        wide: bool = False,
    ) -> ft.View:
        ui = state.fever_desk
        self._error = ui.correct_error
        if ui.sent != self._sent:
            self.at.value, self._sent = "", ui.sent
        if ui.arrival_round != self._arrival_round:  # the form opens: empty, the arrival now
            self._arrival_round = ui.arrival_round
            self.arrival_query.value, self.arrival_temp.value = "", ""
            self.arrival_time.value = hhmm(now)
        if state.screen is Screen.FEVER_FIGURES:
            return self._figures(state, tr, on_back=on_back, on_refresh=on_refresh)
        body = self._notes(state, tr)
        actions: list[ft.Control] = [figures_button(tr, awaiting(self._cases.show_figures, 0))]
        if not ui.arrival_open:
            actions.insert(
                0,
                ft.FilledButton(
                    content=ft.Text(tr.t("desk_fever_unit_open"), size=16),
                    icon=ft.Icons.LOCAL_HOSPITAL,
                    height=MIN_TOUCH,
                    on_click=lambda _: self._cases.start_arrival(),
                    style=ft.ButtonStyle(bgcolor=ft.Colors.RED_800, color=ft.Colors.WHITE),
                ),
            )
        body.append(ft.Row(actions, wrap=True, spacing=8, run_spacing=8))
        if ui.arrival_open:
            body.append(self._arrival(state, tr))
        body.append(ft.Text(tr.t("desk_fever_goal", minutes=GOLDEN_HOUR_MINUTES), size=15, color=ft.Colors.GREY_800))
        if not ui.episodes:
            body.append(ft.Text(tr.t("desk_loading") if ui.loading else tr.t("desk_fever_none"), size=17))
        else:
            # The episode just opened at the unit, or the child's open one (409), first.
            shown = sorted(ui.episodes, key=lambda e: e.id != ui.focus)
            cards = [self._episode(state, tr, e, now) for e in shown]
            if wide:
                body.append(
                    ft.ResponsiveRow(
                        [ft.Container(c, col={"xs": 12, "md": 6}) for c in cards], spacing=12, run_spacing=12
                    )
                )
            else:
                body += cards
        body.append(self._card_check(state, tr, now))
        bar = app_bar(tr.t("desk_fever_title"), tr, on_back=on_back, on_refresh=on_refresh, syncing=ui.loading)
        return screen("/fever-desk", bar, body)

    def _arrival(self, state: AppState, tr: Translator) -> ft.Control:
        """ "Registrar llegada sin aviso": find the child (the oncology desk's search and result buttons), then the
        arrival time (now, filled in) and the temperature taken; "Registrar llegada" and "Cancelar"."""
        ui, cases = state.fever_desk, self._cases
        errors, child = ui.arrival_errors, ui.arrival_child
        lines: list[ft.Control] = [ft.Text(tr.t("desk_fever_unit_note"), size=14, color=ft.Colors.GREY_800)]
        cancel = ft.OutlinedButton(
            content=ft.Text(tr.t("cancel"), size=16), height=MIN_TOUCH, on_click=lambda _: cases.cancel_arrival()
        )
        if child is None:
            self.arrival_query.label = tr.t("desk_fever_unit_search")
            self.arrival_query.hint_text = tr.t("onc_search_hint")
            self.arrival_query.error = errors.get("query")
            lines += [
                self.arrival_query,
                ft.Row(
                    [
                        ft.FilledTonalButton(
                            content=ft.Text(tr.t("desk_fever_unit_search_button"), size=16),
                            icon=ft.Icons.SEARCH,
                            height=MIN_TOUCH,
                            disabled=ui.loading,
                            on_click=self._search_child,
                        ),
                        cancel,
                    ],
                    wrap=True,
                    spacing=8,
                    run_spacing=8,
                ),
            ]
            if ui.arrival_results is not None and not ui.arrival_results:
                lines.append(ft.Text(tr.t("desk_fever_unit_none_found"), size=16))
            for record in ui.arrival_results or []:
                lines.append(
                    result_button(
                        tr,
                        record,
                        on_click=lambda _, pid=record.id: cases.choose_child(pid),
                        tooltip=tr.t("desk_fever_unit_choose", name=record.full_name),
                    )
                )
            return section(tr.t("desk_fever_unit_title"), lines)
        self.arrival_time.label, self.arrival_time.hint_text = tr.t("desk_fever_unit_time"), "14:30"
        self.arrival_time.error = errors.get("time")
        self.arrival_temp.label, self.arrival_temp.hint_text = tr.t("desk_fever_unit_temp"), "38,5"
        self.arrival_temp.error = errors.get("temperature")
        for control in (self.arrival_time, self.arrival_temp):
            control.disabled = ui.busy
        lines += [
            ft.Row(
                [
                    ft.Text(
                        tr.t("desk_fever_unit_child", name=child.full_name, unit=child.unit.name),
                        size=18,
                        weight=ft.FontWeight.W_700,
                        expand=True,
                    ),
                    ft.TextButton(
                        content=ft.Text(tr.t("desk_fever_unit_change"), size=15),
                        height=MIN_TOUCH,
                        disabled=ui.busy,
                        on_click=lambda _: cases.choose_child(None),
                    ),
                ],
                wrap=True,
                vertical_alignment=ft.CrossAxisAlignment.CENTER,
            ),
            ft.Row([self.arrival_time, self.arrival_temp], wrap=True, spacing=8, run_spacing=8),
            ft.Row(
                [
                    ft.FilledButton(
                        content=ft.Text(tr.t("desk_fever_unit_save"), size=16),
                        icon=ft.Icons.CHECK,
                        height=MIN_TOUCH + 4,
                        disabled=ui.busy,
                        on_click=self._register_arrival,
                        style=ft.ButtonStyle(bgcolor=GREEN, color=ft.Colors.WHITE),
                    ),
                    cancel,
                ],
                wrap=True,
                spacing=8,
                run_spacing=8,
            ),
        ]
        return section(tr.t("desk_fever_unit_title"), lines)

    def _card_check(self, state: AppState, tr: Translator, now: datetime) -> ft.Control:
        """ "Verificar tarjeta de urgencias": the scanner field, this device's verdict (the cached keys), then the
        server's answer with the card's facts; the keys' age and "Actualizar claves"."""
        ui, cases = state.fever_desk, self._cases
        self.scan.label, self.scan.hint_text = tr.t("desk_em_scan_label"), tr.t("ph_scan_hint")
        self.scan.disabled = ui.card_verifying
        actions: list[ft.Control] = [
            ft.FilledButton(
                content=ft.Text(tr.t("desk_em_verify"), size=16),
                icon=ft.Icons.QR_CODE_SCANNER,
                height=MIN_TOUCH,
                disabled=ui.card_verifying,
                on_click=self._verify,
                style=ft.ButtonStyle(bgcolor=GREEN, color=ft.Colors.WHITE),
            )
        ]
        if ui.card_check is not None:
            actions.append(
                ft.OutlinedButton(
                    content=ft.Text(tr.t("desk_em_next"), size=16),
                    height=MIN_TOUCH,
                    on_click=lambda _: cases.clear_card(),
                )
            )
        lines: list[ft.Control] = [
            ft.Text(tr.t("desk_em_note"), size=14, color=ft.Colors.GREY_800),
            self.scan,
            ft.Row(actions, wrap=True, spacing=8, run_spacing=8),
        ]
        if self.camera is not None:
            lines.append(self.camera.draw(tr))
        check = ui.card_check
        if check is not None:
            headline = tr.t("desk_em_is_carnet") if check.message == CARNET_GIVEN else None
            claims = emergency_claims(tr, check) if check.valid_emergency else []
            lines.append(verdict_box(tr, check, claims, headline=headline))
            answer = ui.card_answer
            if ui.card_verifying:
                lines.append(ft.Text(tr.t("ph_verifying"), size=15))
            elif ui.card_offline:
                lines.append(ft.Text(tr.t("desk_em_offline"), size=15, color=ft.Colors.BROWN_700))
            elif ui.card_error:
                lines.append(ft.Text(ui.card_error, size=15, color=ft.Colors.RED_900))
            elif answer is not None and answer.valid:
                lines.append(ft.Text(tr.t("desk_em_server_ok"), size=17, weight=ft.FontWeight.W_700, color=GREEN))
                lines += card_facts(tr, answer.card) if answer.card else [ft.Text(tr.t("desk_em_not_yours"), size=15)]
            elif answer is not None:
                refused = answer.message or tr.t("desk_em_server_refused")
                lines.append(ft.Text(refused, size=17, weight=ft.FontWeight.W_700, color=ft.Colors.RED_900))
        lines.append(
            ft.Row(
                [
                    ft.Icon(ft.Icons.KEY, color=ft.Colors.GREY_700, size=20),
                    ft.Text(age_text(tr, ui.trust_fetched_at, now), size=14, color=ft.Colors.GREY_800, expand=True),
                    ft.OutlinedButton(
                        content=ft.Text(tr.t("ph_refresh_keys"), size=15),
                        height=MIN_TOUCH,
                        on_click=awaiting(cases.refresh_keys),
                    ),
                ],
                spacing=8,
                vertical_alignment=ft.CrossAxisAlignment.CENTER,
            )
        )
        if ui.trust_error:
            lines.append(ft.Text(ui.trust_error, size=14, color=ft.Colors.BROWN_700))
        return section(tr.t("desk_em_title"), lines)

    def _episode(self, state: AppState, tr: Translator, episode: contract.FeverEpisode, now: datetime) -> ft.Control:
        ui, cases = state.fever_desk, self._cases
        name = episode.patient_name or "—"
        focused = ui.focus == episode.id
        unit_opened = episode.origin is contract.FeverOrigin.UNIDAD
        opened = "desk_fever_opened_unit" if unit_opened else "desk_fever_notified"
        lines: list[ft.Control] = [
            *(
                [ft.Text(tr.t("desk_fever_unit_focus"), size=15, weight=ft.FontWeight.W_700, color=ft.Colors.RED_900)]
                if focused
                else []
            ),
            ft.Text(name, size=20, weight=ft.FontWeight.W_700),
            ft.Text(episode.unit.name, size=14, color=ft.Colors.GREY_800),
            ft.Text(
                tr.t("desk_fever_reading", temp=f"{episode.temperature_c:.1f}", when=tr.datetime(episode.measured_at)),
                size=16,
            ),
            ft.Text(tr.t(opened, when=tr.datetime(episode.created_at)), size=15),
        ]
        for label, at in (
            ("desk_fever_arrived", episode.arrived_at),
            ("desk_fever_triaged", episode.triage_at),
            ("desk_fever_antibiotic", episode.antibiotic_at),
        ):
            if at is not None:
                lines.append(ft.Text(tr.t(label, when=tr.datetime(at)), size=15))
        minutes = minutes_since_arrival(episode, now)
        if minutes is None:
            lines.append(ft.Text(tr.t("desk_fever_not_arrived"), size=16, weight=ft.FontWeight.W_600))
        else:
            late = over_the_hour(episode, now)
            lines.append(
                ft.Text(
                    tr.t("desk_fever_clock", minutes=minutes, goal=GOLDEN_HOUR_MINUTES),
                    size=20,
                    weight=ft.FontWeight.W_800,
                    color=ft.Colors.RED_900 if late else GREEN,
                )
            )
        step = next_step(episode)
        if step is not None:
            label = tr.t(f"desk_fever_step_{step.value}", name=name)
            lines.append(
                ft.FilledButton(
                    content=ft.Text(label, size=16),
                    icon=ft.Icons.CHECK,
                    height=MIN_TOUCH + 4,
                    disabled=ui.busy,
                    on_click=awaiting(cases.record, episode.id, step, None),
                    style=ft.ButtonStyle(bgcolor=GREEN, color=ft.Colors.WHITE),
                )
            )
            if ui.correcting is not None and ui.correcting[0] == episode.id:
                lines += self._correction(tr, episode.id, ui.correcting[1], busy=ui.busy)
            else:
                lines += [
                    ft.TextButton(
                        content=ft.Text(tr.t(f"desk_fever_other_time_{step.value}", name=name), size=15),
                        height=MIN_TOUCH,
                        on_click=lambda _, eid=episode.id, kind=step: cases.ask_correction(eid, kind),
                    ),
                    ft.TextButton(
                        content=ft.Text(tr.t("desk_fever_step_close", name=name), size=15),
                        height=MIN_TOUCH,
                        on_click=lambda _, eid=episode.id: cases.ask_correction(eid, FeverStepKind.CLOSE),
                    ),
                ]
        return ft.Card(
            ft.Container(
                ft.Column(lines, spacing=6),
                padding=16,
                border=ft.Border.all(3, ft.Colors.RED_900) if focused else None,
                border_radius=12 if focused else None,
            ),
            variant=ft.CardVariant.OUTLINED,
            margin=0,
            semantic_container=False,  # the time fields and the buttons their own nodes (see views.common.section)
        )

    def _correction(self, tr: Translator, episode_id: str, kind: FeverStepKind, *, busy: bool) -> list[ft.Control]:
        """A step at another time (``HH:MM``), or closing without an antibiotic (the time empty: now): the field,
        "Guardar" (the confirm step) and "Cancelar"."""
        cases = self._cases
        self.at.label = tr.t("desk_fever_at_label_close" if kind is FeverStepKind.CLOSE else "desk_fever_at_label")
        self.at.hint_text = "14:30"
        self.at.error = self._error

        async def save(_: Any = None) -> None:
            text = self.at.value or ""
            if kind is FeverStepKind.CLOSE and not text.strip():
                await cases.record(episode_id, kind, None)
            else:
                await cases.record_at(episode_id, kind, text)

        save_label = "desk_fever_close_save" if kind is FeverStepKind.CLOSE else "desk_fever_at_save"
        return [
            self.at,
            ft.Row(
                [
                    ft.FilledButton(
                        content=ft.Text(tr.t(save_label), size=16), height=MIN_TOUCH, disabled=busy, on_click=save
                    ),
                    ft.OutlinedButton(
                        content=ft.Text(tr.t("cancel"), size=16),
                        height=MIN_TOUCH,
                        on_click=lambda _: cases.ask_correction(None),
                    ),
                ],
                wrap=True,
                spacing=8,
            ),
        ]

    # ---- weekly figures ---------------------------------------------------------------------------------

    def _figures(self, state: AppState, tr: Translator, *, on_back: Handler, on_refresh: Handler) -> ft.View:
        ui, cases, figures = state.fever_desk, self._cases, state.fever_desk.figures
        body = self._notes(state, tr)
        if ui.week is not None:
            body.append(week_bar(tr, ui.week, cases.show_figures))
        if figures is None:
            body.append(ft.Text(tr.t("desk_loading") if ui.loading else "—", size=16))
        else:
            body.append(download_buttons(tr, busy=ui.busy, make=cases.figures_file, saved=cases.file_saved))
            body.append(section(tr.t("desk_fever_all_units"), _figure_lines(tr, figures)))
            for unit in figures.by_unit:
                body.append(section(unit.unit_name, _figure_lines(tr, unit)))
        bar = app_bar(tr.t("desk_fever_figures"), tr, on_back=on_back, on_refresh=on_refresh, syncing=ui.loading)
        return screen("/fever-desk/figures", bar, body)


def _figure_lines(tr: Translator, f: contract.FeverWeeklyFigures | contract.FeverUnitFigures) -> list[ft.Control]:
    share = f"{round(f.share_within_60 * 100)} %" if f.share_within_60 is not None else tr.t("desk_no_value")
    median = (
        tr.t("desk_fever_minutes", minutes=f"{f.median_minutes_to_antibiotic:g}")
        if f.median_minutes_to_antibiotic is not None
        else tr.t("desk_no_value")
    )
    return [
        ft.Text(tr.t("desk_fever_fig_episodes", count=f.episodes), size=20, weight=ft.FontWeight.W_700),
        ft.Text(tr.t("desk_fever_fig_within", share=share, count=f.within_60, goal=GOLDEN_HOUR_MINUTES), size=16),
        ft.Text(tr.t("desk_fever_fig_median", median=median), size=16),
        ft.Text(
            tr.t("desk_fever_fig_without", count=f.without_antibiotic),
            size=16,
            color=ft.Colors.RED_900 if f.without_antibiotic else None,
        ),
        ft.Text(tr.t("desk_fever_fig_at_unit", count=f.opened_at_unit), size=16),
    ]
