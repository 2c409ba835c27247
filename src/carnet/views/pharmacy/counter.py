"""The pharmacy counter: the scanner field, the verdict (colour, icon, words), the cycles due, dispensing.

The field keeps the focus for a hand-held scanner (it types the QR's URL and
Enter, like a keyboard) and gets it back after every result. Works wherever
the app runs: counter PC (desktop or web), tablet, phone with a USB/Bluetooth
scanner, or by pasting the URL/token.

Camera scanning ("Escanear con la cámara", where there is a camera: a phone or a browser): the QR read from
the preview goes the same way as a scanned or pasted URL (``PharmacyCases.scan``), so the verdict, offline too, is
the same; see ``views/scanning.py``.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import flet as ft

from carnet.chemotherapy.doses import days_text, dose_detail, dose_text
from carnet.core.i18n import Translator
from carnet.pharmacy.checks import Check, age_text, describe, dispensed_text
from carnet.shell.state import AppState
from carnet.views.common import (
    GREEN,
    MIN_TOUCH,
    Handler,
    app_bar,
    awaiting,
    banner,
    desk_layout,
    screen,
    section,
    status_banners,
)
from carnet.views.scanning import CameraScanner
from carnet_contract import models as contract

if TYPE_CHECKING:
    from datetime import datetime

    from carnet.pharmacy.cases import PharmacyCases

#: After a result the field asks for the focus until the client has confirmed it for FOCUS_SETTLED_SECONDS (the new
#: screen laid out, its accessibility nodes rebuilt), asking again whenever it is lost or unconfirmed, the pauses
#: growing from FOCUS_FIRST_PAUSE to FOCUS_LAST_PAUSE; a slow desk PC gets FOCUS_WATCH_SECONDS before it stops.
FOCUS_FIRST_PAUSE, FOCUS_LAST_PAUSE, FOCUS_SETTLED_SECONDS, FOCUS_WATCH_SECONDS = 0.25, 2.0, 3.0, 30.0


class PharmacyView:
    """Keeps the scanner field and its screen across redraws.

    The same ``ft.View`` and scrolling column are updated in place (not replaced), so
    Flutter keeps the field's widget, and its focus, while the rest of the screen changes.
    """

    def __init__(self, cases: PharmacyCases, *, camera: bool = False) -> None:
        self._cases = cases
        #: "Escanear con la cámara" beside the field, where the app has a camera (a phone, a browser).
        self.camera = CameraScanner(self._camera_read) if camera else None
        self.field = ft.TextField(
            autofocus=True,
            autocorrect=False,
            enable_suggestions=False,
            capitalization=ft.TextCapitalization.NONE,
            text_size=20,
            prefix_icon=ft.Icons.QR_CODE_SCANNER,
            on_submit=self._submit,
            on_focus=self._focused,
            on_blur=self._blurred,
        )
        self._has_focus = False
        #: Grows with every focus request: an older request's watch stops.
        self._focus_watch = 0
        self._seen_results = -1
        self._view: ft.View | None = None
        #: The two panes at a desk width (kept, like the screen: the field stays in the same column).
        self._panes: ft.ResponsiveRow | None = None
        #: True when a new result was drawn: the app hands the focus back to the field after the update.
        self.needs_focus = False

    async def _submit(self, _: Any = None) -> None:
        scanned = self.field.value or ""
        self.field.value = ""  # ready for the next scan
        await self._cases.scan(scanned)

    async def _camera_read(self, text: str) -> None:
        """The camera read a code: the same path as the hand-held scanner's."""
        await self._cases.scan(text)

    def forget_screen(self) -> None:
        """Another screen (settings) replaced this one: the next build makes a new one (the camera stops)."""
        self._view = None
        if self.camera is not None:
            self.camera.halt()

    def take_focus_request(self) -> bool:
        """True once after each new result: the caller hands the focus back to the field."""
        wanted, self.needs_focus = self.needs_focus, False
        return wanted

    def _focused(self, _: Any = None) -> None:
        self._has_focus = True

    def _blurred(self, _: Any = None) -> None:
        self._has_focus = False

    async def focus(self) -> None:
        """Hand the focus to the field, and again while the client settles the new screen (bounded).

        A request that reaches the client before it has laid out a new screen is dropped there, and
        rebuilding the screen's accessibility nodes can take the focus away: the field asks again whenever
        it lost it (or the client has not confirmed it yet) until the focus has held for a few seconds. A
        newer request (the next result) takes over from this one.
        """
        self._focus_watch += 1
        mine = self._focus_watch
        loop = asyncio.get_running_loop()
        deadline = loop.time() + FOCUS_WATCH_SECONDS
        self._has_focus = False
        held_since: float | None = None
        asked_at, pause = -FOCUS_LAST_PAUSE, FOCUS_FIRST_PAUSE
        while mine == self._focus_watch and loop.time() < deadline:
            now = loop.time()
            if self._has_focus:
                held_since = now if held_since is None else held_since
                if now - held_since >= FOCUS_SETTLED_SECONDS:
                    return
            else:
                if held_since is not None:  # lost again: ask at once
                    held_since, pause = None, FOCUS_FIRST_PAUSE
                    asked_at = -FOCUS_LAST_PAUSE
                if now - asked_at >= pause:
                    try:
                        await self.field.focus()
                    except Exception:  # noqa: BLE001 - not on a page (any more): nothing to focus
                        return
                    asked_at, pause = now, min(pause * 2, FOCUS_LAST_PAUSE)
            await asyncio.sleep(FOCUS_FIRST_PAUSE)  # the client's focus / blur events arrive meanwhile

    def build(
        self,
        state: AppState,
        tr: Translator,
        *,
        now: datetime,
        on_refresh: Handler,
        on_settings: Handler,
        wide: bool = False,
    ) -> ft.View:
        """The counter: one column (a phone); at a desk width (``wide``) the scanner and its verdict on the left,
        the child and the cycles to dispense on the right."""
        ui, cases = state.pharmacy, self._cases
        if ui.results != self._seen_results:
            self._seen_results = ui.results
            self.needs_focus = True
        self.field.label = tr.t("ph_scan_label")
        self.field.hint_text = tr.t("ph_scan_hint")
        self.field.disabled = ui.busy
        banners: list[ft.Control] = [*status_banners(state, tr)]
        body: list[ft.Control] = []
        body.append(self.field)
        actions: list[ft.Control] = [
            ft.FilledButton(
                content=ft.Text(tr.t("ph_scan_button"), size=17),
                icon=ft.Icons.QR_CODE_SCANNER,
                height=MIN_TOUCH,
                expand=True,
                on_click=self._submit,
                disabled=ui.busy,
                style=ft.ButtonStyle(bgcolor=GREEN, color=ft.Colors.WHITE),
            ),
        ]
        if ui.check is not None:
            actions.append(
                ft.OutlinedButton(
                    content=ft.Text(tr.t("ph_next"), size=16),
                    icon=ft.Icons.PERSON_ADD_ALT,
                    height=MIN_TOUCH,
                    expand=True,
                    on_click=lambda _: cases.clear(),
                    disabled=ui.busy,
                )
            )
        body.append(ft.Row(actions, spacing=8))
        if self.camera is not None:
            body.append(self.camera.draw(tr))
        if ui.check is not None:
            body.append(_verdict(state, tr))
        body.append(_keys_row(state, tr, cases, now))
        if ui.verifying:
            body.append(
                ft.Row(
                    [
                        ft.ProgressRing(width=24, height=24, semantics_label=tr.t("ph_verifying")),
                        ft.Text(tr.t("ph_verifying"), size=16),
                    ],
                    height=MIN_TOUCH,
                )
            )
        if ui.offline:
            body.append(
                banner(tr.t("ph_offline"), icon=ft.Icons.CLOUD_OFF, bgcolor=ft.Colors.AMBER_100, color=ft.Colors.BLACK)
            )
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
        answer = ui.verified
        dispensing: list[ft.Control] = []
        if answer is not None and answer.valid and answer.patient is not None:
            dispensing.append(
                section(
                    tr.t("ph_patient"),
                    [
                        ft.Text(answer.patient.display_name, size=22, weight=ft.FontWeight.W_700),
                        ft.Text(f"{tr.t('unit')}: {answer.patient.unit.name}", size=16),
                    ],
                )
            )
            dispensing.append(_cycles(state, tr, cases))
        if wide:
            if self._panes is None:
                self._panes = desk_layout([], [])
            scanning, beside = self._panes.controls
            assert isinstance(scanning, ft.Column) and isinstance(beside, ft.Column)
            scanning.controls, beside.controls = body, dispensing
            body = [*banners, self._panes]
        else:
            body = [*banners, *body, *dispensing]
        bar = app_bar(tr.t("ph_title"), tr, on_refresh=on_refresh, on_settings=on_settings, syncing=ui.refreshing)
        if self._view is None:
            self._view, self.needs_focus = screen("/pharmacy", bar, body), True  # a new screen: focus the field
        else:
            self._view.appbar = bar
            self._column().controls = body
        return self._view

    def _column(self) -> ft.Column:
        """The scrolling column of :func:`carnet.views.common.screen` (the field stays its child)."""
        assert self._view is not None
        container = self._view.controls[0]
        assert isinstance(container, ft.Container) and isinstance(container.content, ft.Column)
        return container.content


def _keys_row(state: AppState, tr: Translator, cases: PharmacyCases, now: datetime) -> ft.Control:
    ui = state.pharmacy
    age = tr.t("ph_keys_updating") if ui.refreshing else age_text(tr, ui.trust_fetched_at, now)
    lines: list[ft.Control] = [
        ft.Row(
            [
                ft.Icon(ft.Icons.KEY, color=ft.Colors.GREY_700, size=20),
                ft.Text(age, size=14, color=ft.Colors.GREY_800, expand=True),
                ft.OutlinedButton(
                    content=ft.Text(tr.t("ph_refresh_keys"), size=15),
                    height=MIN_TOUCH,
                    on_click=awaiting(cases.refresh_keys),
                    disabled=ui.refreshing,
                ),
            ],
            spacing=8,
            vertical_alignment=ft.CrossAxisAlignment.CENTER,
        )
    ]
    if ui.trust_error:
        lines.append(ft.Text(ui.trust_error, size=14, color=ft.Colors.BROWN_700))
    return ft.Column(lines, spacing=2)


def _verdict(state: AppState, tr: Translator) -> ft.Control:
    check = state.pharmacy.check
    assert check is not None
    more: list[ft.Control] = []
    if check.emergency and check.valid_emergency:
        more = [*emergency_claims(tr, check), ft.Text(tr.t("ph_em_nothing_to_dispense"), size=14, color=GREY)]
    return verdict_box(tr, check, more)


GREY = ft.Colors.GREY_800


def emergency_claims(tr: Translator, check: Check) -> list[ft.Control]:
    """What an emergency card's token carries (no name, no diagnosis: the card itself shows those)."""
    words: list[ft.Control] = []
    if check.subject:
        words.append(ft.Text(tr.t("ph_em_patient", id=check.subject), size=15))
    if check.issued_at is not None:
        words.append(ft.Text(tr.t("ph_em_issued", when=tr.datetime(check.issued_at)), size=15))
    if check.expires_at is not None:
        words.append(ft.Text(tr.t("ph_em_valid_until", when=tr.datetime(check.expires_at)), size=15))
    return words


def verdict_box(
    tr: Translator, check: Check, more: list[ft.Control] | None = None, *, headline: str | None = None
) -> ft.Control:
    """A scan's verdict: colour, icon and words (``headline``, or the verdict's own), where it was checked, then
    ``more``. The pharmacy counter's, and the fever desk's "Verificar tarjeta de urgencias"."""
    look = check.look
    source = tr.t("ph_checked_server" if check.online else "ph_checked_here")
    words: list[ft.Control] = [
        ft.Text(headline or describe(check, tr), size=22, weight=ft.FontWeight.W_700, color=look.colour),
        ft.Text(source, size=14, color=GREY),
        *(more or []),
    ]
    # A live region whose label is the verdict's words (merged): a screen reader announces it when it appears or
    # changes (Flutter web speaks it through its aria-live="polite" announcement element).
    return ft.MergeSemantics(
        ft.Semantics(
            live_region=True,
            content=ft.Container(
                ft.Row(
                    [
                        ft.Icon(getattr(ft.Icons, look.icon), color=look.colour, size=44),
                        ft.Column(words, spacing=2, expand=True),
                    ],
                    spacing=12,
                    vertical_alignment=ft.CrossAxisAlignment.CENTER,
                ),
                bgcolor=look.background,
                border=ft.Border.all(2, look.colour),
                border_radius=10,
                padding=14,
            ),
        )
    )


def _cycles(state: AppState, tr: Translator, cases: PharmacyCases) -> ft.Control:
    ui = state.pharmacy
    cycles = cases.cycles()
    if not cycles:
        return section(tr.t("ph_due"), [ft.Text(tr.t("ph_no_due"), size=16)])
    rows: list[ft.Control] = []
    for cycle in cycles:
        label = tr.t("ph_cycle", number=cycle.number, date=tr.date(cycle.scheduled_for))
        done = cases.dispensed(cycle.id)
        if done is not None:
            rows.append(
                ft.Container(
                    ft.Column(
                        [
                            ft.Text(label, size=17, weight=ft.FontWeight.W_700),
                            ft.Row(
                                [
                                    ft.Icon(ft.Icons.INVENTORY, color=ft.Colors.BLUE_GREY_800, size=20),
                                    ft.Text(
                                        dispensed_text(tr, done),
                                        size=16,
                                        color=ft.Colors.BLUE_GREY_900,
                                        weight=ft.FontWeight.W_600,
                                        expand=True,
                                    ),
                                ]
                            ),
                        ],
                        spacing=4,
                    ),
                    bgcolor=ft.Colors.GREY_100,
                    border_radius=8,
                    padding=12,
                )
            )
            continue
        chosen = cycle.id == ui.cycle_id
        rows.append(
            (ft.FilledButton if chosen else ft.OutlinedButton)(
                content=ft.Text(
                    label,
                    size=18,
                    weight=ft.FontWeight.W_600,
                    semantics_label=tr.t("ph_selected", label=label) if chosen else label,
                ),
                height=56,
                on_click=lambda _, cid=cycle.id: cases.pick_cycle(cid),
                disabled=ui.busy,
                style=ft.ButtonStyle(bgcolor=GREEN if chosen else None, color=ft.Colors.WHITE if chosen else GREEN),
            )
        )
        if chosen:
            rows.append(_dispense_block(state, tr, cases, cycle))
        elif not cases.is_due(cycle):  # shown, never chosen by itself: its date says when it is due
            rows.append(
                ft.Text(tr.t("ph_not_due", date=tr.date(cycle.scheduled_for)), size=15, color=ft.Colors.GREY_800)
            )
    open_cycles = cases.open_cycles()
    if not open_cycles:
        rows.append(ft.Text(tr.t("ph_all_dispensed"), size=16, weight=ft.FontWeight.W_600))
    elif ui.cycle_id not in {c.id for c in open_cycles}:
        # Nothing due today is chosen: the button is there, and says so by being disabled.
        rows.append(ft.Text(tr.t("ph_pick_cycle"), size=16, weight=ft.FontWeight.W_600))
        rows.append(_register_button(tr, cases))
    return section(tr.t("ph_due"), rows)


def _register_button(tr: Translator, cases: PharmacyCases) -> ft.Control:
    """ "Registrar surtido": enabled only with a cycle chosen and at least one medicine ticked."""
    return ft.FilledButton(
        content=ft.Text(tr.t("ph_register"), size=18),
        icon=ft.Icons.MEDICATION,
        height=56,
        on_click=lambda _: cases.ask_confirm(),
        disabled=not cases.can_dispense(),
        style=ft.ButtonStyle(bgcolor=GREEN, color=ft.Colors.WHITE),
    )


def _drug_row(
    state: AppState, tr: Translator, cases: PharmacyCases, cycle: contract.Cycle, drug: contract.Drug
) -> ft.Control:
    """A medicine to tick: its name, and its dose under it (both wrap: nothing is cut at a phone's width)."""
    ui = state.pharmacy
    ticked = drug.name in ui.items
    disabled = ui.busy or ui.offline
    dose = tr.t("ph_dose_line", dose=dose_text(tr, drug.dose), route=drug.route)
    when = days_text(tr, drug)
    lines: list[ft.Control] = [
        ft.Text(drug.name, size=16, weight=ft.FontWeight.W_600),
        ft.Text(f"{dose} — {when}" if when else dose, size=16),
    ]
    # What the pharmacist checks: the computed dose, a cap, a dose changed by hand and why.
    detail = dose_detail(tr, drug.dose, cycle)
    if detail:
        changed = drug.dose.changed_reason is not None
        lines.append(
            ft.Text(
                " · ".join(detail),
                size=14,
                color=ft.Colors.RED_900 if changed else ft.Colors.GREY_800,
                weight=ft.FontWeight.W_600 if changed else None,
            )
        )
    # One checkbox for screen readers, named by the lines beside it; the lines toggle it too.
    return ft.MergeSemantics(
        ft.Row(
            [
                ft.Checkbox(
                    value=ticked,
                    disabled=disabled,
                    visual_density=ft.VisualDensity.STANDARD,
                    on_change=lambda e, name=drug.name: cases.toggle_item(name, bool(e.control.value)),
                ),
                ft.Container(
                    ft.Column(lines, spacing=2),
                    expand=True,
                    padding=ft.Padding.symmetric(vertical=6),
                    on_click=None if disabled else lambda _, name=drug.name: cases.toggle_item(name, not ticked),
                ),
            ],
            spacing=4,
            vertical_alignment=ft.CrossAxisAlignment.START,
        )
    )


def _dispense_block(state: AppState, tr: Translator, cases: PharmacyCases, cycle: contract.Cycle) -> ft.Control:
    ui = state.pharmacy
    lines: list[ft.Control] = [
        ft.Text(
            tr.t("mixing", status=tr.t(f"mixing.{cycle.mixing.status.value}")), size=16, weight=ft.FontWeight.W_600
        ),
        ft.Text(tr.t("ph_items"), size=14, weight=ft.FontWeight.W_700),
    ]
    if not cases.is_due(cycle):  # chosen by hand: handed over before its date
        lines.append(ft.Text(tr.t("ph_early", date=tr.date(cycle.scheduled_for)), size=15, color=ft.Colors.BROWN_700))
    lines.extend(_drug_row(state, tr, cases, cycle, drug) for drug in cycle.drugs)
    if not ui.items:
        lines.append(ft.Text(tr.t("ph_no_items"), size=15, color=ft.Colors.RED_900))
    if cycle.confirmed_at is None:  # its mixture not ordered yet: the pharmacy confirms the cycle first
        lines.append(
            ft.OutlinedButton(
                content=ft.Text(tr.t("ph_confirm_cycle", number=cycle.number), size=16),
                icon=ft.Icons.SCIENCE,
                height=MIN_TOUCH,
                disabled=not cases.can_confirm(cycle),
                on_click=awaiting(cases.confirm_cycle),
            )
        )
    if ui.confirming:
        lines.append(
            ft.Container(
                ft.Column(
                    [
                        ft.Text(
                            tr.t("ph_confirm", number=cycle.number, count=len(ui.items), total=len(cycle.drugs)),
                            size=16,
                            weight=ft.FontWeight.W_600,
                        ),
                        ft.Row(
                            [
                                ft.FilledButton(
                                    content=ft.Text(tr.t("ph_confirm_yes"), size=17),
                                    icon=ft.Icons.CHECK,
                                    height=56,
                                    expand=True,
                                    on_click=awaiting(cases.dispense),
                                    disabled=ui.busy,
                                    style=ft.ButtonStyle(bgcolor=GREEN, color=ft.Colors.WHITE),
                                ),
                                ft.OutlinedButton(
                                    content=ft.Text(tr.t("ph_confirm_no"), size=16),
                                    height=56,
                                    on_click=lambda _: cases.cancel_confirm(),
                                    disabled=ui.busy,
                                ),
                            ],
                            spacing=12,
                        ),
                    ],
                    spacing=8,
                ),
                bgcolor=ft.Colors.AMBER_50,
                border_radius=8,
                padding=12,
            )
        )
    else:
        lines.append(_register_button(tr, cases))
    if ui.busy:
        lines.append(ft.ProgressRing(width=24, height=24, semantics_label=tr.t("ph_sending")))
    return ft.Container(ft.Column(lines, spacing=6), padding=ft.Padding.only(left=8, bottom=8))
