"""The family's fever screens: the button on the carnet, "Ve ya a urgencias" with the reading, and the emergency
card with its QR. Drawing only; readable offline (what they show is on the phone)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import flet as ft

from carnet.core.clock import hhmm
from carnet.core.i18n import Translator
from carnet.data.records import Mark
from carnet.fever.cases import FeverCases, step_lines
from carnet.fever.form import FeverForm
from carnet.shell.state import AppState
from carnet.views.common import (
    GREEN,
    MIN_TOUCH,
    Handler,
    app_bar,
    banner,
    field,
    qr_section,
    save_bytes,
    screen,
    section,
    status_banners,
)
from carnet_contract import models as contract

__all__ = ["FeverView", "build_card", "card_button", "fever_button"]

RED = ft.Colors.RED_800


def fever_button(tr: Translator, on_click: Handler) -> ft.Control:
    """ "Tiene fiebre (38 °C o más)": big, red, worded, on each child's carnet."""
    text = tr.t("fever_button")
    return ft.FilledButton(
        content=ft.Row(
            [
                ft.Icon(ft.Icons.THERMOSTAT, color=ft.Colors.WHITE, size=30),
                ft.Text(text, size=19, weight=ft.FontWeight.W_700, color=ft.Colors.WHITE, expand=True),
            ],
            spacing=10,
            alignment=ft.MainAxisAlignment.CENTER,
        ),
        tooltip=text,
        height=64,
        on_click=on_click,
        style=ft.ButtonStyle(bgcolor=RED, shape=ft.RoundedRectangleBorder(radius=12), padding=12),
    )


def card_button(tr: Translator, on_click: Handler) -> ft.Control:
    """ "Tarjeta de urgencias": the emergency card (from the carnet and the fever screen)."""
    return ft.OutlinedButton(
        content=ft.Text(tr.t("fever_card_button"), size=16, weight=ft.FontWeight.W_600),
        icon=ft.Icons.MEDICAL_INFORMATION,
        height=MIN_TOUCH + 4,
        on_click=on_click,
    )


def _link_button(text: str, icon: ft.IconData, url: str, *, filled: bool) -> ft.Control:
    kind = ft.FilledButton if filled else ft.OutlinedButton
    return kind(
        content=ft.Text(text, size=18 if filled else 16, weight=ft.FontWeight.W_700 if filled else None),
        icon=icon,
        url=url,
        height=60 if filled else MIN_TOUCH + 4,
        style=ft.ButtonStyle(bgcolor=RED) if filled else None,
    )


def _tel(phone: str) -> str:
    return "tel:" + "".join(ch for ch in phone if ch.isdigit() or ch == "+")


class FeverView:
    """ "Ve ya a urgencias": keeps the typed temperature and time across redraws."""

    def __init__(self, cases: FeverCases, now: datetime) -> None:
        self._cases = cases
        self._sent = -1
        self.temperature = ft.TextField(
            text_size=20, keyboard_type=ft.KeyboardType.NUMBER, width=240, on_submit=self._submit
        )
        self.time = ft.TextField(value=hhmm(now), text_size=20, keyboard_type=ft.KeyboardType.DATETIME, width=240)

    def _submit(self, _: Any = None) -> None:
        form = FeverForm(temperature=self.temperature.value or "", time=self.time.value or "")
        self._cases.submit(form)

    def _emergency(self, tr: Translator) -> list[ft.Control]:
        cases = self._cases
        emergency, unit = cases.emergency(), cases.unit()
        unit_name = unit.name if unit is not None else ""
        if emergency is None:
            words = tr.t("fever_no_emergency", unit=unit_name) if unit_name else tr.t("fever_no_unit")
            return [section(tr.t("fever_where"), [ft.Text(words, size=17)])]
        where: list[ft.Control] = [
            ft.Text(unit_name, size=18, weight=ft.FontWeight.W_700),
            ft.Text(emergency.address, size=17),
            _link_button(tr.t("fever_call", phone=emergency.phone), ft.Icons.PHONE, _tel(emergency.phone), filled=True),
        ]
        if emergency.map_url:
            where.append(_link_button(tr.t("fever_map"), ft.Icons.MAP, emergency.map_url, filled=False))
        found: list[ft.Control] = [section(tr.t("fever_where"), where)]
        if emergency.bring:
            found.append(section(tr.t("fever_bring"), [ft.Text("• " + b, size=16) for b in emergency.bring]))
        if emergency.avoid:
            found.append(
                section(
                    tr.t("fever_avoid"),
                    [ft.Text("• " + a, size=16, weight=ft.FontWeight.W_600, color=RED) for a in emergency.avoid],
                )
            )
        return found

    def _status(self, tr: Translator) -> list[ft.Control]:
        view = self._cases.latest()
        if view is None:
            return []
        colour: str
        if view.mark is Mark.FAILED:
            title, colour = tr.t("fever_not_sent"), ft.Colors.RED_900
        elif view.status in (contract.FeverStatus.ANTIBIOTICO, contract.FeverStatus.CERRADA):
            title, colour = tr.t("fever_done"), GREEN
        else:
            title, colour = tr.t("fever_expected"), GREEN
        lines: list[ft.Control] = [ft.Text(title, size=22, weight=ft.FontWeight.W_700, color=colour)]
        lines += [ft.Text(line, size=16) for line in step_lines(tr, view)]
        return [section(tr.t("fever_status"), lines)]

    def build(
        self, state: AppState, tr: Translator, *, on_back: Handler, on_card: Handler, on_refresh: Handler | None = None
    ) -> ft.View:
        ui = state.fever
        if ui.sent != self._sent:
            if self._sent >= 0:
                self.temperature.value = ""
            self._sent = ui.sent
        name = self._cases.child_name()
        body: list[ft.Control] = [*status_banners(state, tr)]
        body.append(
            ft.Container(
                ft.Column(
                    [
                        ft.Text(
                            tr.t("fever_go_now", name=name), size=24, weight=ft.FontWeight.W_800, color=ft.Colors.WHITE
                        ),
                        ft.Text(tr.t("fever_go_now_why"), size=16, color=ft.Colors.WHITE),
                    ],
                    spacing=4,
                ),
                bgcolor=RED,
                border_radius=12,
                padding=16,
            )
        )
        if ui.message:
            body.append(
                banner(
                    ui.message,
                    icon=ft.Icons.CHECK_CIRCLE,
                    bgcolor=ft.Colors.GREEN_50,
                    color=GREEN,
                    on_dismiss=lambda _: self._cases.dismiss_message(),
                    dismiss_label=tr.t("dismiss"),
                )
            )
        body += self._status(tr)
        body += self._emergency(tr)
        self.temperature.label = tr.t("fever_temp_label")
        self.temperature.hint_text = tr.t("fever_temp_hint")
        self.temperature.error = ui.errors.get("temperature")
        self.time.label = tr.t("fever_time_label")
        self.time.error = ui.errors.get("time")
        body.append(
            section(
                tr.t("fever_tell"),
                [
                    ft.Text(tr.t("fever_tell_why"), size=15, color=ft.Colors.GREY_800),
                    self.temperature,
                    self.time,
                    ft.FilledButton(
                        content=ft.Text(tr.t("fever_submit"), size=17),
                        icon=ft.Icons.SEND,
                        height=56,
                        on_click=self._submit,
                        style=ft.ButtonStyle(bgcolor=GREEN, color=ft.Colors.WHITE),
                    ),
                    ft.Text(tr.t("fever_submit_note"), size=13, color=ft.Colors.GREY_700),
                ],
            )
        )
        body.append(card_button(tr, on_card))
        bar = app_bar(tr.t("fever_title"), tr, on_back=on_back, on_refresh=on_refresh, syncing=state.syncing)
        return screen("/fever", bar, body)


def _qr_block(tr: Translator, state: AppState, now: datetime) -> list[ft.Control]:
    ui = state.fever
    card, qr = ui.card, ui.card_qr
    if card is None or qr is None:
        return []
    return [
        qr_section(
            tr,
            tr.t("fever_card_qr"),
            qr,
            alt=tr.t("fever_card_qr_alt", name=card.full_name),
            expires_at=card.qr.expires_at,
            now=now,
            verified=ui.card_check is not None and ui.card_check.valid,
        )
    ]


def _big(label: str, value: str) -> ft.Control:
    """A card field for the emergency team: large, readable at arm's length."""
    return ft.Column(
        [ft.Text(label, size=14, color=ft.Colors.GREY_800), ft.Text(value, size=20, weight=ft.FontWeight.W_600)],
        spacing=0,
    )


def _yes_no(tr: Translator, value: bool | None) -> str:
    if value is None:
        return tr.t("fever_card_unknown")
    return tr.t("fever_card_yes" if value else "fever_card_no")


def card_facts(tr: Translator, card: contract.EmergencyCard) -> list[ft.Control]:
    """The card's fields in large text, by section (the family's card screen, and the fever desk once the server
    confirmed a scanned card)."""
    unknown = tr.t("fever_card_unknown")
    diagnosis = unknown
    if card.diagnosis is not None:
        diagnosis = card.diagnosis.name + (f" ({card.diagnosis.cie10})" if card.diagnosis.cie10 else "")
    weight = f"{card.weight_kg:g} kg".replace(".", ",") if card.weight_kg is not None else unknown
    protocol = " — ".join(x for x in (card.protocol, card.phase) if x) or unknown
    last = tr.date(card.last_chemotherapy_date) if card.last_chemotherapy_date else unknown
    drugs = ", ".join(card.last_chemotherapy_drugs) or unknown
    return [
        section(
            tr.t("fever_card_who"),
            [
                ft.Text(card.full_name, size=24, weight=ft.FontWeight.W_800),
                _big(
                    tr.t("fever_card_age"),
                    tr.t("fever_card_age_value", years=card.age_years, born=tr.date(card.birth_date)),
                ),
                _big(tr.t("fever_card_sex"), card.sex or unknown),
                _big(tr.t("fever_card_weight"), weight),
                _big(tr.t("fever_card_blood"), card.blood_group or unknown),
                _big(tr.t("fever_card_allergies"), card.allergies or unknown),
            ],
        ),
        section(
            tr.t("fever_card_treatment"),
            [
                _big(tr.t("diagnosis"), diagnosis),
                _big(tr.t("fever_card_protocol"), protocol),
                _big(tr.t("fever_card_last_chemo"), last),
                _big(tr.t("fever_card_drugs"), drugs),
                _big(tr.t("fever_card_cvc"), _yes_no(tr, card.central_venous_catheter)),
            ],
        ),
        section(
            tr.t("fever_card_team"),
            [
                _big(tr.t("unit"), card.unit.name),
                _big(tr.t("fever_card_oncologist"), card.treating_oncologist or unknown),
                _big(tr.t("fever_card_onc_phone"), card.oncology_phone or unknown),
            ],
        ),
    ]


def build_card(
    state: AppState,
    tr: Translator,
    cases: FeverCases,
    *,
    now: datetime,
    on_back: Handler,
    on_refresh: Handler | None = None,
) -> ft.View:
    """The emergency card: every field large, then its signed QR; the IPS file (online)."""
    ui = state.fever
    card = ui.card
    body: list[ft.Control] = [*status_banners(state, tr)]
    if ui.error:
        body.append(
            banner(
                ui.error,
                icon=ft.Icons.ERROR_OUTLINE,
                bgcolor=ft.Colors.RED_50,
                color=ft.Colors.RED_900,
                on_dismiss=lambda _: cases.dismiss_message(),
                dismiss_label=tr.t("dismiss"),
            )
        )
    elif ui.message:
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
    if card is None:
        body.append(ft.Text(tr.t("fever_card_none"), size=17))
        return screen(
            "/emergency-card",
            app_bar(tr.t("fever_card_title"), tr, on_back=on_back, on_refresh=on_refresh, syncing=state.syncing),
            body,
        )
    body += [*card_facts(tr, card), *_qr_block(tr, state, now)]

    async def save_ips(_: Any = None) -> None:
        made = await cases.ips_file()
        if made is not None:
            cases.file_saved(made[0], await save_bytes(made[0], made[1], "json"))

    body.append(
        ft.OutlinedButton(
            content=ft.Text(tr.t("fever_ips_button"), size=16),
            icon=ft.Icons.DOWNLOAD,
            height=MIN_TOUCH + 4,
            on_click=save_ips,
            disabled=ui.busy,
        )
    )
    body.append(ft.Text(tr.t("fever_ips_note"), size=13, color=ft.Colors.GREY_700))
    if ui.card_fetched_at is not None:
        body.append(field(tr.t("fever_card_as_of"), tr.datetime(ui.card_fetched_at)))
    return screen(
        "/emergency-card",
        app_bar(tr.t("fever_card_title"), tr, on_back=on_back, on_refresh=on_refresh, syncing=state.syncing),
        body,
    )
