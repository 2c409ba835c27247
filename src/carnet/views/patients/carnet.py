"""The carnet: child card, diagnosis, protocol, current cycle, drugs, mixing, large QR."""

from __future__ import annotations

from datetime import date, datetime

import flet as ft

from carnet.chemotherapy.doses import dose_detail, drug_text, figure, next_session
from carnet.core.i18n import Translator
from carnet.patients.cycles import PENDING, current_cycle
from carnet.shell.state import AppState
from carnet.views.common import GREEN, Handler, app_bar, banner, field, qr_section, screen, section, status_banners
from carnet_contract import models as contract


def _qr_block(state: AppState, tr: Translator, carnet: contract.Carnet, now: datetime) -> ft.Control:
    assert state.qr is not None
    return qr_section(
        tr,
        tr.t("qr_title"),
        state.qr,
        alt=tr.t("qr_alt", name=carnet.patient.display_name),
        expires_at=carnet.qr.expires_at,
        now=now,
        verified=state.qr_check is not None and state.qr_check.valid,
    )


def _drug_lines(tr: Translator, cycle: contract.Cycle) -> list[ft.Control]:
    """Each drug and its dose in words, and where the dose came from (arithmetic, cap, a change by hand)."""
    lines: list[ft.Control] = []
    for d in cycle.drugs:
        lines.append(ft.Text("• " + drug_text(tr, d), size=16))
        detail = dose_detail(tr, d.dose, cycle)
        if detail:
            lines.append(ft.Text("   " + " · ".join(detail), size=13, color=ft.Colors.GREY_800))
    return lines or [ft.Text(tr.t("no_drugs"), size=16)]


def _plan_lines(tr: Translator, cycle: contract.Cycle, today: date) -> list[ft.Control]:
    """Cycle n of N of its phase, the next session, a deferral or suspension with its reason."""
    lines: list[ft.Control] = []
    if cycle.phase_number and cycle.phase_cycles:
        key = "cycle_of_phase" if cycle.phase else "cycle_of"
        text = tr.t(key, phase=cycle.phase, number=cycle.phase_number, total=cycle.phase_cycles)
        lines.append(ft.Text(text, size=16, weight=ft.FontWeight.W_600))
    upcoming = next_session(cycle, today)
    pending = cycle.status in PENDING
    if pending and upcoming is not None and upcoming != cycle.scheduled_for:
        lines.append(ft.Text(tr.t("next_session", date=tr.long_date(upcoming)), size=16))
    if cycle.deferral is not None:
        lines.append(
            banner(
                tr.t(
                    "cycle_deferred",
                    before=tr.date(cycle.deferral.previous_date),
                    after=tr.date(cycle.scheduled_for),
                    reason=cycle.deferral.reason,
                ),
                icon=ft.Icons.EVENT_REPEAT,
                bgcolor=ft.Colors.AMBER_50,
                color=ft.Colors.BROWN_900,
            )
        )
    if cycle.suspended_reason:
        lines.append(ft.Text(tr.t("cycle_suspended", reason=cycle.suspended_reason), size=15))
    if cycle.bsa_m2 and cycle.weight_kg and cycle.height_cm:
        lines.append(
            ft.Text(
                tr.t(
                    "cycle_bsa",
                    weight=figure(cycle.weight_kg),
                    height=figure(cycle.height_cm),
                    bsa=figure(cycle.bsa_m2),
                ),
                size=13,
                color=ft.Colors.GREY_800,
            )
        )
    return lines


def _cycle_block(tr: Translator, carnet: contract.Carnet, today: date) -> ft.Control:
    cycle = current_cycle(carnet, today)
    if cycle is None:
        return section(tr.t("cycles"), [ft.Text(tr.t("no_upcoming"), size=16)])
    lines: list[ft.Control] = [
        ft.Text(tr.t("current_cycle", number=cycle.number), size=20, weight=ft.FontWeight.W_700),
        *_plan_lines(tr, cycle, today),
        ft.Text(
            tr.t("next_date", date=tr.date(cycle.scheduled_for)) if cycle.status in PENDING else tr.t("no_upcoming"),
            size=17,
        ),
        ft.Text(tr.t("cycle_status", status=tr.t(f"cycle.{cycle.status.value}")), size=15),
        ft.Text(
            tr.t("mixing", status=tr.t(f"mixing.{cycle.mixing.status.value}")), size=16, weight=ft.FontWeight.W_600
        ),
        *_milestones(tr, cycle, size=15),
        ft.Text(tr.t("drugs"), size=14, weight=ft.FontWeight.W_700),
        *_drug_lines(tr, cycle),
    ]
    name = cycle.protocol or (carnet.protocol.name if carnet.protocol else None)
    return section(tr.t("protocol") + (f": {name}" if name else ""), lines)


def _milestones(tr: Translator, cycle: contract.Cycle, *, size: int) -> list[ft.Control]:
    """When the hospital confirmed the cycle and when a pharmacy dispensed it (each once, if it happened)."""
    lines: list[ft.Control] = []
    if cycle.confirmed_at is not None:
        lines.append(ft.Text(tr.t("cycle_confirmed", when=tr.datetime(cycle.confirmed_at)), size=size))
    if cycle.dispensed_at is not None:
        lines.append(
            ft.Text(
                tr.t("cycle_dispensed", when=tr.datetime(cycle.dispensed_at)),
                size=size,
                color=GREEN,
                weight=ft.FontWeight.W_600,
            )
        )
    return lines


def _history(tr: Translator, carnet: contract.Carnet) -> ft.Control:
    """Every cycle with its status, its mixture's status and, once dispensed, when."""
    rows: list[ft.Control] = []
    for c in sorted(carnet.cycles, key=lambda c: (c.scheduled_for, c.number)):
        details = [tr.t("mixing", status=tr.t(f"mixing.{c.mixing.status.value}"))]
        if c.dispensed_at is not None:
            details.append(tr.t("cycle_dispensed", when=tr.datetime(c.dispensed_at)))
        rows.append(
            ft.Column(
                [
                    ft.Text(
                        tr.t(
                            "cycle_line",
                            number=c.number,
                            date=tr.date(c.scheduled_for),
                            status=tr.t(f"cycle.{c.status.value}"),
                        ),
                        size=15,
                    ),
                    ft.Text(" · ".join(details), size=13, color=ft.Colors.GREY_800),
                ],
                spacing=0,
            )
        )
    return section(tr.t("cycles"), rows)


def _next_appointment(state: AppState, tr: Translator, on_open: Handler) -> ft.Control:
    item = state.next_appointment
    if item is None:
        return section(tr.t("next_appointment"), [ft.Text(tr.t("no_next_appointment"), size=16)])
    a = item.appointment
    return section(
        tr.t("next_appointment"),
        [
            ft.TextButton(
                content=ft.Column(
                    [
                        ft.Text(a.title, size=18, weight=ft.FontWeight.W_700, color=ft.Colors.BLACK),
                        ft.Text(
                            tr.time_range(a.starts_at, a.ends_at),
                            size=16,
                            color=ft.Colors.BLACK,
                        ),
                        ft.Text(
                            tr.t("kind." + a.kind.value) + (f" · {a.place}" if a.place else ""),
                            size=14,
                            color=ft.Colors.GREY_800,
                        ),
                    ],
                    spacing=2,
                ),
                on_click=lambda _: on_open(a.id),
                style=ft.ButtonStyle(padding=4),
            ),
        ],
    )


def build(
    state: AppState,
    tr: Translator,
    *,
    today: date,
    now: datetime,
    on_back: Handler | None,
    on_refresh: Handler,
    on_settings: Handler,
    on_dismiss: Handler,
    sync_button: ft.Control | None = None,
    navigation_bar: ft.NavigationBar | None = None,
    on_open_appointment: Handler = lambda _id: None,
    access: ft.Control | None = None,
    fever: list[ft.Control] | None = None,
) -> ft.View:
    carnet = state.carnet
    body: list[ft.Control] = [*status_banners(state, tr, on_dismiss=on_dismiss)]
    if carnet is None:
        body.append(ft.Text(tr.t("no_data_yet"), size=16))
        return screen(
            "/carnet",
            app_bar(
                tr.t("carnet_title"),
                tr,
                on_back=on_back,
                on_refresh=on_refresh,
                on_settings=on_settings,
                syncing=state.syncing,
                sync_button=sync_button,
            ),
            body,
            navigation_bar=navigation_bar,
        )
    patient = carnet.patient
    # The QR first, then the notices: with the navigation bar it must fit a 360×640 screen whole.
    banners, body = body, []
    body += [
        _qr_block(state, tr, carnet, now),
        *banners,
        # Fever during chemotherapy: the big worded button (and the emergency card), right under the QR.
        *(fever or []),
        section(
            tr.t("carnet_title"),
            [
                ft.Text(patient.full_name, size=22, weight=ft.FontWeight.W_700),
                field(tr.t("nss"), patient.nss),
                field(tr.t("curp"), patient.curp),
                field(tr.t("birth_date"), tr.date(patient.birth_date)),
                field(tr.t("unit"), patient.unit.name),
            ],
        ),
        _next_appointment(state, tr, on_open_appointment),
        section(
            tr.t("diagnosis"),
            [
                ft.Text(
                    carnet.diagnosis.name + (f" ({carnet.diagnosis.cie10})" if carnet.diagnosis.cie10 else ""), size=16
                )
                if carnet.diagnosis
                else ft.Text("—"),
            ],
        ),
        _cycle_block(tr, carnet, today),
        _history(tr, carnet),
        *([access] if access is not None else []),
    ]
    if state.carnet_fetched_at is not None and state.online is not False:
        body.append(
            ft.Text(tr.t("updated_at", when=tr.datetime(state.carnet_fetched_at)), size=13, color=ft.Colors.GREY_700)
        )
    return screen(
        "/carnet",
        app_bar(
            patient.display_name,
            tr,
            on_back=on_back,
            on_refresh=on_refresh,
            on_settings=on_settings,
            syncing=state.syncing,
            sync_button=sync_button,
        ),
        body,
        navigation_bar=navigation_bar,
    )
