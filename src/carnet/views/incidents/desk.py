"""Case desk (online only): the queue by deadline with filters, one incident (the family's photos too)
with the answer box, and the weekly figures with bars drawn from Containers, downloadable as CSV and as
the Markdown summary.

Downloads go through :func:`carnet.views.common.save_bytes` (Flet's ``FilePicker.save_file``): in a browser
a download of that name; on a phone the system's save dialog; on a desktop a save dialog.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

import flet as ft

from carnet.core.i18n import Translator
from carnet.incidents.repository import deadline_text, mx_time
from carnet.shell.state import AppState
from carnet.views.common import (
    GREEN,
    MIN_TOUCH,
    Handler,
    app_bar,
    awaiting,
    chip,
    desk_layout,
    download_buttons,
    notes,
    screen,
    section,
    table_header,
    table_row,
    week_bar,
)
from carnet.views.fever.desk import entry_button, figures_button, open_alert
from carnet.views.incidents.reports import CATEGORY_ICONS, PHOTO, STATUS_LOOK, photo_image
from carnet_contract import models as contract

if TYPE_CHECKING:
    from carnet.incidents.desk import DeskCases

log = logging.getLogger(__name__)


def _status(tr: Translator, status: contract.IncidentStatus) -> ft.Control:
    icon, colour = STATUS_LOOK[status]
    return ft.Row(
        [
            ft.Icon(icon, color=colour, size=20),
            ft.Text(tr.t("inc_status." + status.value), color=colour, size=15, weight=ft.FontWeight.W_700),
        ],
        spacing=6,
        tight=True,
    )


#: Where a report came from, shown by an icon and its name (never the colour alone).
CHANNEL_ICONS = {
    contract.IncidentChannel.APP: ft.Icons.PHONE_ANDROID,
    contract.IncidentChannel.WHATSAPP: ft.Icons.CHAT,
}


def _channel(tr: Translator, incident: contract.Incident, size: int = 14) -> ft.Control:
    """ "Canal: App" / "Canal: WhatsApp", with its icon."""
    name = tr.t("desk_channel." + incident.channel.value)
    return ft.Row(
        [
            ft.Icon(CHANNEL_ICONS[incident.channel], color=ft.Colors.GREY_800, size=size + 4),
            ft.Text(tr.t("desk_channel", channel=name), size=size, color=ft.Colors.GREY_900),
        ],
        spacing=4,
        tight=True,
    )


def _child(tr: Translator, incident: contract.StaffIncident, size: int) -> ft.Control:
    """Which child the report is about, and the unit: "Nombre del niño · Unidad"."""
    return ft.Text(
        tr.t("desk_child", name=incident.patient_name, unit=incident.unit.name), size=size, weight=ft.FontWeight.W_600
    )


def _queue_row(tr: Translator, incident: contract.StaffIncident, now: datetime, desk: DeskCases) -> ft.Control:
    text, late = deadline_text(tr, incident, now)
    lines: list[ft.Control] = [
        ft.Row(
            [ft.Text(incident.folio, size=16, weight=ft.FontWeight.W_700), _status(tr, incident.status)],
            spacing=12,
            wrap=True,
        ),
        _child(tr, incident, 15),
        ft.Text(tr.t("inc_cat." + incident.category.value), size=15),
        _channel(tr, incident),
    ]
    if incident.item_name:
        lines.append(ft.Text(tr.t("desk_item", item=incident.item_name), size=15, weight=ft.FontWeight.W_600))
    lines.append(
        ft.Text(
            text,
            size=14,
            color=ft.Colors.RED_900 if late else ft.Colors.GREY_800,
            weight=ft.FontWeight.W_700 if late else None,
        )
    )
    return ft.OutlinedButton(
        content=ft.Row(
            [
                ft.Icon(CATEGORY_ICONS[incident.category], color=GREEN, size=30),
                ft.Column(lines, spacing=2, expand=True),
            ],
            spacing=12,
        ),
        tooltip=tr.t("desk_open", folio=incident.folio),
        on_click=awaiting(desk.open, incident.id),
        style=ft.ButtonStyle(
            padding=ft.Padding.symmetric(horizontal=12, vertical=10), shape=ft.RoundedRectangleBorder(radius=10)
        ),
    )


def _queue_columns(tr: Translator, *, beside: bool) -> list[tuple[str, int]]:
    """The queue's columns at a desk width; fewer when a case is open beside it."""
    if beside:
        return [(tr.t("col_folio"), 3), (tr.t("col_child"), 4), (tr.t("col_deadline"), 3)]
    return [
        (tr.t("col_folio"), 2),
        (tr.t("col_child"), 4),
        (tr.t("col_category"), 3),
        (tr.t("col_status"), 2),
        (tr.t("col_deadline"), 3),
    ]


def _queue_table(
    tr: Translator,
    incidents: list[contract.StaffIncident],
    now: datetime,
    desk: DeskCases,
    *,
    beside: bool,
    chosen: str | None,
) -> list[ft.Control]:
    """The queue as a table (a desk PC): a header row, then one row per report (a button that opens it);
    ``beside``: an open report stands beside it (fewer columns), ``chosen`` that report's row."""
    columns = _queue_columns(tr, beside=beside)
    rows: list[ft.Control] = [table_header(columns)]
    for incident in incidents:
        text, late = deadline_text(tr, incident, now)
        deadline = ft.Text(
            text,
            size=14,
            color=ft.Colors.RED_900 if late else ft.Colors.GREY_800,
            weight=ft.FontWeight.W_700 if late else None,
        )
        child = tr.t("desk_child", name=incident.patient_name, unit=incident.unit.name)
        folio: ft.Control = ft.Column(
            [
                ft.Text(incident.folio, size=15, weight=ft.FontWeight.W_700),
                _status(tr, incident.status),
                _channel(tr, incident),
            ],
            spacing=2,
        )
        if beside:
            cells: list[ft.Control | str] = [folio, child, deadline]
        else:
            folio = ft.Column(
                [ft.Text(incident.folio, size=15, weight=ft.FontWeight.W_700), _channel(tr, incident)], spacing=2
            )
            category = tr.t("inc_cat." + incident.category.value)
            if incident.item_name:
                category += " · " + incident.item_name
            cells = [folio, child, category, _status(tr, incident.status), deadline]
        rows.append(
            table_row(
                columns,
                cells,
                on_click=awaiting(desk.open, incident.id),
                tooltip=tr.t("desk_open", folio=incident.folio),
                chosen=incident.id == chosen,
            )
        )
    return rows


def _notes(state: AppState, tr: Translator, desk: DeskCases) -> list[ft.Control]:
    ui = state.desk
    return notes(
        state,
        tr,
        message=ui.message,
        error=ui.error,
        on_dismiss=lambda _: desk.dismiss_message(),
        online_only=tr.t("desk_online_only"),
    )


def build_queue(
    state: AppState,
    tr: Translator,
    desk: DeskCases,
    *,
    now: datetime,
    on_refresh: Handler,
    on_settings: Handler,
    wide: bool = False,
    case: list[ft.Control] | None = None,
    on_fever: Handler | None = None,
) -> ft.View:
    """The queue. ``wide`` (a desk PC): a table over the whole width, or beside ``case`` (the open report)."""
    ui = state.desk
    body = _notes(state, tr, desk)
    if on_fever is not None:
        body += open_alert(state, tr, on_fever)  # a child with a fever on the way: at once, above the queue
    queue: list[ft.Control] = []
    queue.append(
        ft.FilledButton(
            content=ft.Text(tr.t("desk_weekly"), size=16),
            icon=ft.Icons.BAR_CHART,
            height=MIN_TOUCH,
            on_click=awaiting(desk.show_weekly, 0),
        )
    )
    if on_fever is not None:
        queue.append(entry_button(tr, on_fever))
    cats = [chip(tr.t("desk_all"), ui.category is None, lambda _: desk.set_filter(category=None), tr, size=14)]
    cats += [
        chip(
            tr.t("inc_cat." + c.value), ui.category is c, lambda _, v=c.value: desk.set_filter(category=v), tr, size=14
        )
        for c in contract.IncidentCategory
    ]
    states = [chip(tr.t("desk_all"), ui.status is None, lambda _: desk.set_filter(status=None), tr, size=14)]
    states += [
        chip(tr.t("inc_status." + s.value), ui.status is s, lambda _, v=s.value: desk.set_filter(status=v), tr, size=14)
        for s in contract.IncidentStatus
    ]
    filters: list[ft.Control] = [
        ft.Text(tr.t("desk_filter_category"), size=14, weight=ft.FontWeight.W_600),
        ft.Row(cats, wrap=True, spacing=6, run_spacing=6),
        ft.Text(tr.t("desk_filter_status"), size=14, weight=ft.FontWeight.W_600),
        ft.Row(states, wrap=True, spacing=6, run_spacing=6),
    ]
    if len(ui.units) > 1:
        units = [chip(tr.t("desk_all"), ui.unit_id is None, lambda _: desk.set_filter(unit_id=None), tr, size=14)]
        units += [
            chip(u.name, ui.unit_id == u.id, lambda _, v=u.id: desk.set_filter(unit_id=v), tr, size=14)
            for u in ui.units
        ]
        filters += [
            ft.Text(tr.t("desk_filter_unit"), size=14, weight=ft.FontWeight.W_600),
            ft.Row(units, wrap=True, spacing=6, run_spacing=6),
        ]
    queue.append(section(tr.t("desk_title"), filters))
    visible = desk.visible()
    if not visible:
        queue.append(ft.Text(tr.t("desk_loading") if ui.loading else tr.t("desk_none"), size=16))
    elif wide:
        chosen = ui.selected.id if case is not None and ui.selected is not None else None
        queue += _queue_table(tr, visible, now, desk, beside=case is not None, chosen=chosen)
    else:
        queue += [_queue_row(tr, i, now, desk) for i in visible]
    queue.append(_unlink_section(state, tr, desk))
    if wide and case is not None:
        body.append(desk_layout(queue, case))
    else:
        body += queue
    bar = app_bar(tr.t("desk_title"), tr, on_refresh=on_refresh, on_settings=on_settings, syncing=ui.loading)
    return screen("/desk", bar, body)


def _unlink_section(state: AppState, tr: Translator, desk: DeskCases) -> ft.Control:
    """A family lost its phone, or asks to stop the bot: end that number's WhatsApp link."""
    ui = state.desk

    def typed(e: Any) -> None:
        desk.unlink_phone = e.control.value or ""

    number = ft.TextField(
        label=tr.t("desk_wa_number"),
        value=desk.unlink_phone,
        keyboard_type=ft.KeyboardType.PHONE,
        max_length=20,
        on_change=typed,
        on_submit=awaiting(desk.unlink_whatsapp),
    )
    button = ft.FilledTonalButton(
        content=ft.Text(tr.t("desk_wa_unlink"), size=16),
        icon=ft.Icons.PHONELINK_ERASE,
        height=MIN_TOUCH,
        disabled=ui.busy,
        on_click=awaiting(desk.unlink_whatsapp),
    )
    return section(tr.t("desk_wa_title"), [ft.Text(tr.t("desk_wa_help"), size=14), number, button])


class DeskCaseView:
    """One incident: what the family wrote, the conversation, the answer box (its text kept across redraws)."""

    def __init__(self, desk: DeskCases) -> None:
        self._desk = desk
        self.incident_id: str | None = None
        self._sent = 0
        self.answer = ft.TextField(multiline=True, min_lines=3, max_lines=8, max_length=2000, text_size=17)

    async def _send(self, resolves: bool) -> None:
        await self._desk.answer(self.answer.value or "", resolves=resolves)

    def build(self, state: AppState, tr: Translator, *, now: datetime, on_back: Handler) -> ft.View:
        """The case on its own screen (a phone)."""
        incident = state.desk.selected
        body = _notes(state, tr, self._desk) + self.pane(state, tr, now=now)
        title = incident.folio if incident is not None else tr.t("desk_title")
        return screen("/desk/case", app_bar(title, tr, on_back=on_back), body)

    def pane(
        self, state: AppState, tr: Translator, *, now: datetime, on_close: Handler | None = None
    ) -> list[ft.Control]:
        """What the case shows: on its own screen, or beside the queue (``on_close``: a button that closes it)."""
        ui, incident = state.desk, state.desk.selected
        body: list[ft.Control] = []
        if on_close is not None:
            body.append(
                ft.Row(
                    [
                        ft.OutlinedButton(
                            content=ft.Text(tr.t("desk_close_case"), size=16),
                            icon=ft.Icons.CLOSE,
                            height=MIN_TOUCH,
                            on_click=on_close,
                        )
                    ],
                    alignment=ft.MainAxisAlignment.END,
                )
            )
        if incident is None:
            if on_close is not None:  # beside the queue: what the empty side is waiting for
                body.append(ft.Text(tr.t("desk_loading") if ui.loading else tr.t("desk_pick_case"), size=16))
            return body
        if incident.id != self.incident_id or ui.sent != self._sent:
            self.incident_id, self._sent, self.answer.value = incident.id, ui.sent, ""  # a new case, or sent
        text, late = deadline_text(tr, incident, now)
        head: list[ft.Control] = [
            _status(tr, incident.status),
            _child(tr, incident, 17),
            ft.Text(tr.t("inc_cat." + incident.category.value), size=16, weight=ft.FontWeight.W_600),
            _channel(tr, incident, 15),
            ft.Text(text, size=15, color=ft.Colors.RED_900 if late else ft.Colors.GREY_800),
        ]
        if incident.item_name:
            head.append(ft.Text(tr.t("desk_item", item=incident.item_name), size=16, weight=ft.FontWeight.W_700))
        body.append(section(incident.folio, head))
        if incident.photos:
            shown = [
                photo_image(
                    tr,
                    n,
                    self._desk.photo_data.get(p.id),
                    side=PHOTO,
                    missing=tr.t("desk_photo_failed") if p.id in self._desk.photo_failed else tr.t("inc_photo_loading"),
                )
                for n, p in enumerate(incident.photos, start=1)
            ]
            body.append(section(tr.t("desk_photos"), [ft.Row(shown, wrap=True, spacing=10, run_spacing=10)]))
        talk: list[ft.Control] = [
            _line(tr, "Familia" if tr.locale.startswith("es") else "Family", incident.description, incident.created_at)
        ]
        for reply in incident.responses:
            note = (
                tr.t("inc_resolved_mark") if reply.resolves else (tr.t("inc_reopened_mark") if reply.reopens else None)
            )
            talk.append(_line(tr, reply.author_label, reply.message, reply.created_at, note))
        body.append(section(tr.t("inc_conversation"), talk))
        self.answer.label = tr.t("desk_answer")
        self.answer.hint_text = tr.t("desk_answer_hint")
        self.answer.error = ui.answer_error
        body.append(
            section(
                tr.t("desk_answer"),
                [
                    self.answer,
                    ft.Row(
                        [
                            ft.OutlinedButton(
                                content=ft.Text(tr.t("desk_send"), size=16),
                                icon=ft.Icons.SEND,
                                height=56,
                                disabled=ui.busy,
                                on_click=awaiting(self._send, False),
                            ),
                            ft.FilledButton(
                                content=ft.Text(tr.t("desk_resolve"), size=16),
                                icon=ft.Icons.CHECK_CIRCLE,
                                height=56,
                                disabled=ui.busy,
                                on_click=awaiting(self._send, True),
                                style=ft.ButtonStyle(bgcolor=GREEN, color=ft.Colors.WHITE),
                            ),
                        ],
                        wrap=True,
                        spacing=8,
                        run_spacing=8,
                    ),
                ],
            )
        )
        return body


def _line(tr: Translator, who: str, text: str, when: datetime, note: str | None = None) -> ft.Control:
    lines: list[ft.Control] = [
        ft.Text(f"{who} · {mx_time(tr, when)}", size=13, weight=ft.FontWeight.W_700, color=ft.Colors.GREY_800)
    ]
    if note:
        lines.append(ft.Text(note, size=13, weight=ft.FontWeight.W_700, color=GREEN))
    lines.append(ft.Text(text, size=16))
    return ft.Container(ft.Column(lines, spacing=2), padding=10, border_radius=10, bgcolor=ft.Colors.GREY_100)


def bars(rows: list[tuple[str, int]], colour: str = GREEN) -> list[ft.Control]:
    """A horizontal bar per row, drawn with Containers (no chart package on the phone)."""
    top = max((n for _, n in rows), default=0) or 1
    found: list[ft.Control] = []
    for label, count in rows:
        found.append(
            ft.Column(
                [
                    ft.Text(f"{label}: {count}", size=14),
                    ft.Row(
                        [
                            ft.Container(
                                height=14,
                                expand=max(1, round(100 * count / top)) if count else 1,
                                bgcolor=colour if count else ft.Colors.GREY_300,
                                border_radius=4,
                            ),
                            ft.Container(height=14, expand=max(0, 100 - round(100 * count / top)) or None),
                        ],
                        spacing=0,
                    ),
                ],
                spacing=2,
            )
        )
    return found


def build_weekly(
    state: AppState, tr: Translator, desk: DeskCases, *, on_back: Handler, on_fever: Handler | None = None
) -> ft.View:
    ui, figures = state.desk, state.desk.weekly
    body = _notes(state, tr, desk)
    if on_fever is not None:
        body.append(figures_button(tr, on_fever))
    week = ui.week
    if week is not None:
        body.append(week_bar(tr, week, desk.show_weekly))
    if figures is None:
        body.append(ft.Text(tr.t("desk_loading"), size=16))
    else:
        body.append(download_buttons(tr, busy=ui.busy, make=desk.weekly_file, saved=desk.file_saved))

        def hours(value: float | None) -> str:
            return tr.t("desk_hours", hours=f"{value:.1f}") if value is not None else tr.t("desk_no_value")

        body.append(
            section(
                tr.t("desk_weekly"),
                [
                    ft.Text(tr.t("desk_new", count=figures.incidents_new), size=18, weight=ft.FontWeight.W_700),
                    ft.Text(tr.t("desk_new_patients", count=figures.new_patients), size=16),
                    ft.Text(
                        tr.t("desk_overdue", count=figures.overdue),
                        size=16,
                        color=ft.Colors.RED_900 if figures.overdue else None,
                    ),
                    ft.Text(tr.t("desk_median_first", hours=hours(figures.median_hours_to_first_answer)), size=16),
                    ft.Text(tr.t("desk_median_done", hours=hours(figures.median_hours_to_atendida)), size=16),
                ],
            )
        )
        body.append(
            section(
                tr.t("desk_by_category"),
                bars(
                    [
                        (tr.t("inc_cat." + c.value), figures.by_category.get(c.value, 0))
                        for c in contract.IncidentCategory
                    ]
                ),
            )
        )
        body.append(
            section(
                tr.t("desk_by_status"),
                bars(
                    [
                        (tr.t("inc_status." + s.value), figures.by_status.get(s.value, 0))
                        for s in contract.IncidentStatus
                    ],
                    ft.Colors.BLUE_700,
                ),
            )
        )
        if figures.by_channel:  # an older server sends none
            body.append(
                section(
                    tr.t("desk_by_channel"),
                    bars(
                        [
                            (tr.t("desk_channel." + c.value), figures.by_channel.get(c.value, 0))
                            for c in contract.IncidentChannel
                        ],
                        ft.Colors.TEAL_800,
                    ),
                )
            )
        lines: list[Any] = [
            ft.Text(tr.t("desk_shortage_line", item=s.item_name, unit=s.unit_name, count=s.count), size=15)
            for s in figures.shortages
        ]
        body.append(section(tr.t("desk_shortages"), lines or [ft.Text(tr.t("desk_no_shortages"), size=15)]))
    return screen("/desk/weekly", app_bar(tr.t("desk_weekly"), tr, on_back=on_back), body)
