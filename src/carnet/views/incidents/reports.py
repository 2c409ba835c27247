""" "Reportar un problema" (the form, with up to three photos), "Mis reportes" (list) and one report
(its photos, conversation, "No se resolvió").

Photos are picked with Flet's ``FilePicker`` through a ``PickFiles`` client action on the "Agregar foto"
button: the client opens the picker inside the tap itself (browsers, iOS Safari above all, open a file
chooser only while handling the person's gesture; a ``pick_files()`` call from Python arrives too late
there), and the files, with their bytes, come back through ``FilePicker.on_result``. The form view owns
its picker (a strong reference while the form is on screen). Every photo on these screens is drawn from its
thumbnail (a few KB), never the whole photo: a redraw stays light.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

import flet as ft

from carnet.core.i18n import Translator
from carnet.data.records import Mark
from carnet.incidents.form import DESCRIPTION_MAX, ITEM_MAX, MAX_PHOTOS, ORIGINAL_MAX_BYTES, REASON_MAX, ReportForm
from carnet.incidents.repository import (
    NEEDS_ITEM,
    IncidentChange,
    IncidentView,
    ShownPhoto,
    can_reopen,
    deadline_text,
    mx_time,
)
from carnet.shell.state import AppState
from carnet.views.common import (
    GREEN,
    MIN_TOUCH,
    Handler,
    app_bar,
    banner,
    icon_button,
    screen,
    section,
    status_banners,
)
from carnet_contract import models as contract

if TYPE_CHECKING:
    from carnet.incidents.cases import IncidentCases

log = logging.getLogger(__name__)
THUMB = 104

CATEGORY_ICONS: dict[contract.IncidentCategory, ft.IconData] = {
    contract.IncidentCategory.MEDICAMENTO: ft.Icons.MEDICATION,
    contract.IncidentCategory.INSUMO: ft.Icons.INVENTORY_2,
    contract.IncidentCategory.ATENCION_MEDICA: ft.Icons.LOCAL_HOSPITAL,
    contract.IncidentCategory.LICENCIA_140_BIS: ft.Icons.WORK_HISTORY,
    contract.IncidentCategory.CARNET_DIGITAL: ft.Icons.QR_CODE_2,
    contract.IncidentCategory.BANCO_DE_SANGRE: ft.Icons.BLOODTYPE,
    contract.IncidentCategory.OTRO: ft.Icons.HELP_OUTLINE,
}
STATUS_LOOK: dict[contract.IncidentStatus, tuple[ft.IconData, str]] = {
    contract.IncidentStatus.RECIBIDA: (ft.Icons.INBOX, ft.Colors.BLUE_900),
    contract.IncidentStatus.EN_ATENCION: (ft.Icons.HOURGLASS_TOP, ft.Colors.ORANGE_900),
    contract.IncidentStatus.ATENDIDA: (ft.Icons.CHECK_CIRCLE, GREEN),
    contract.IncidentStatus.REABIERTA: (ft.Icons.REPLAY, ft.Colors.RED_900),
}


def status_look(tr: Translator, view: IncidentView) -> tuple[ft.IconData, str, str]:
    """Icon, colour and word of a report's state (a waiting or rejected write first)."""
    if view.mark is Mark.FAILED:
        return ft.Icons.ERROR_OUTLINE, ft.Colors.RED_900, tr.t("inc_rejected")
    if view.mark is Mark.PENDING and view.change is IncidentChange.CREATE:
        return ft.Icons.CLOUD_UPLOAD, ft.Colors.BLUE_GREY_800, tr.t("inc_pending")
    assert view.status is not None
    icon, colour = STATUS_LOOK[view.status]
    word = tr.t("inc_status." + view.status.value)
    if view.mark is Mark.PENDING:
        word += " · " + tr.t("inc_reopen_waiting")
    return icon, colour, word


def status_chip(tr: Translator, view: IncidentView) -> ft.Control:
    icon, colour, word = status_look(tr, view)
    return ft.Row(
        [ft.Icon(icon, color=colour, size=22), ft.Text(word, color=colour, size=16, weight=ft.FontWeight.W_700)],
        spacing=6,
    )


#: Marks the bar below, so a view drawn again in place does not get a second one.
REPORT_BAR = "report-bar"


def report_bar(tr: Translator, on_click: Handler) -> ft.Control:
    """ "Reportar un problema" in words, in a slim strip under the app bar of the family screens: a parent
    looks for words, not for a warning triangle. Its own strip, not an app-bar action: at 360 px the app bar
    already holds the back arrow, the child's name on two lines, sync, refresh and settings."""
    return ft.Container(
        ft.Row(
            [
                ft.TextButton(
                    content=ft.Text(
                        tr.t("report_button"), size=15, weight=ft.FontWeight.W_600, color=ft.Colors.BROWN_900
                    ),
                    icon=ft.Icons.REPORT_PROBLEM,
                    icon_color=ft.Colors.AMBER_900,
                    height=MIN_TOUCH,
                    on_click=on_click,
                )
            ],
            alignment=ft.MainAxisAlignment.END,
        ),
        bgcolor=ft.Colors.AMBER_50,
        padding=ft.Padding.symmetric(horizontal=8),
        data=REPORT_BAR,
    )


class ReportFormView:
    """Keeps the typed text across redraws (one instance per form)."""

    def __init__(self, form: ReportForm, cases: IncidentCases) -> None:
        self.form = form
        self._cases = cases
        self.item = ft.TextField(value=form.item_name, max_length=ITEM_MAX, text_size=17)
        self.description = ft.TextField(
            value=form.description, multiline=True, min_lines=3, max_lines=8, max_length=DESCRIPTION_MAX, text_size=17
        )
        #: The photo picker service (registered with the page; kept referenced while the form lives).
        self.picker = ft.FilePicker(on_result=self._picked)

    async def _picked(self, e: Any) -> None:
        """The picker's answer: each file's name and bytes (None when the platform gave none), prepared off
        the event loop."""
        picked = [
            (str(getattr(f, "name", "") or ""), _as_bytes(getattr(f, "bytes", None)))
            for f in (getattr(e, "files", None) or [])
        ]
        if picked:
            await self._cases.add_photos(picked)

    def _thumb(self, tr: Translator, n: int, photo_id: str, thumb: bytes) -> ft.Control:
        image = photo_image(tr, n, thumb, missing="", side=THUMB)
        return ft.Column(
            [
                image,
                icon_button(
                    ft.Icons.DELETE_OUTLINE,
                    tr.t("inc_photo_remove", n=n),
                    lambda _, pid=photo_id: self._cases.remove_photo(pid),
                    color=ft.Colors.RED_900,
                ),
            ],
            spacing=0,
            tight=True,
            horizontal_alignment=ft.CrossAxisAlignment.CENTER,
        )

    def _photos(self, form: ReportForm, tr: Translator) -> list[ft.Control]:
        found: list[ft.Control] = [
            ft.Text(
                tr.t("inc_photos_hint", max=MAX_PHOTOS, mb=ORIGINAL_MAX_BYTES // (1024 * 1024)),
                size=14,
                color=ft.Colors.GREY_800,
            )
        ]
        if form.photos:
            found.append(
                ft.Row(
                    [self._thumb(tr, n, p.id, p.thumb) for n, p in enumerate(form.photos, start=1)],
                    wrap=True,
                    spacing=10,
                    run_spacing=10,
                )
            )
        if form.preparing:
            found.append(
                ft.Row(
                    [
                        ft.ProgressRing(
                            width=22, height=22, stroke_width=3, semantics_label=tr.t("inc_photo_preparing")
                        ),
                        ft.Text(tr.t("inc_photo_preparing"), size=15),
                    ],
                    spacing=8,
                )
            )
        if "photos" in form.errors:
            found.append(ft.Text(form.errors["photos"], color=ft.Colors.RED_900, size=15, weight=ft.FontWeight.W_600))
        found.append(
            ft.OutlinedButton(
                content=ft.Text(tr.t("inc_add_photo"), size=16),
                icon=ft.Icons.ADD_A_PHOTO,
                height=MIN_TOUCH,
                disabled=len(form.photos) >= MAX_PHOTOS or bool(form.preparing),
                action=ft.PickFiles(
                    self.picker,
                    file_type=ft.FilePickerFileType.IMAGE,
                    allow_multiple=True,
                    with_data=True,
                    cancel_upload_on_window_blur=False,
                ),
            )
        )
        return found

    def _submit(self, _: Any = None) -> None:
        self.form.item_name = self.item.value or ""
        self.form.description = self.description.value or ""
        self._cases.submit(self.form)

    def build(self, state: AppState, tr: Translator, *, on_back: Handler, on_list: Handler) -> ft.View:
        ui = state.incidents
        form = ui.form or self.form
        self.form = form
        errors = form.errors
        body: list[ft.Control] = []
        if ui.message and errors:
            body.append(
                banner(
                    ui.message,
                    icon=ft.Icons.ERROR_OUTLINE,
                    bgcolor=ft.Colors.RED_50,
                    color=ft.Colors.RED_900,
                    on_dismiss=lambda _: self._cases.dismiss_message(),
                    dismiss_label=tr.t("dismiss"),
                )
            )
        body.append(
            ft.OutlinedButton(
                content=ft.Text(tr.t("my_reports"), size=16), icon=ft.Icons.LIST_ALT, height=MIN_TOUCH, on_click=on_list
            )
        )
        # child
        if len(state.children) > 1:
            kids: list[ft.Control] = []
            for child in state.children:
                chosen = child.id == form.patient_id
                label = child.display_name
                kids.append(
                    (ft.FilledButton if chosen else ft.OutlinedButton)(
                        content=ft.Text(
                            label, size=16, semantics_label=tr.t("inc_selected", label=label) if chosen else label
                        ),
                        height=MIN_TOUCH,
                        on_click=lambda _, pid=child.id: self._cases.pick_child(pid),
                    )
                )
            kid_section: list[ft.Control] = [ft.Row(kids, wrap=True, spacing=8, run_spacing=8)]
            if "patient" in errors:
                kid_section.append(ft.Text(errors["patient"], color=ft.Colors.RED_900, size=15))
            body.append(section(tr.t("inc_child"), kid_section))
        elif state.children:
            body.append(
                ft.Text(
                    tr.t("inc_child_label", name=state.children[0].display_name), size=16, weight=ft.FontWeight.W_600
                )
            )
        # category: large icons with words
        tiles: list[ft.Control] = []
        for category, icon in CATEGORY_ICONS.items():
            chosen = form.category is category
            word = tr.t("inc_cat." + category.value)
            kind = ft.FilledButton if chosen else ft.OutlinedButton
            tiles.append(
                kind(
                    content=ft.Column(
                        [
                            ft.Icon(icon, size=40, color=ft.Colors.WHITE if chosen else GREEN),
                            ft.Text(
                                word,
                                size=16,
                                weight=ft.FontWeight.W_600,
                                text_align=ft.TextAlign.CENTER,
                                color=ft.Colors.WHITE if chosen else ft.Colors.BLACK,
                                semantics_label=tr.t("inc_selected", label=word) if chosen else word,
                            ),
                        ],
                        horizontal_alignment=ft.CrossAxisAlignment.CENTER,
                        alignment=ft.MainAxisAlignment.CENTER,
                        spacing=4,
                        tight=True,
                    ),
                    height=104,
                    col={"xs": 6, "sm": 4},  # two to a row on a phone, over the whole width
                    data=category.value,
                    on_click=lambda _, c=category: self._cases.pick_category(c),
                    style=ft.ButtonStyle(
                        shape=ft.RoundedRectangleBorder(radius=12),
                        padding=8,
                        bgcolor=GREEN if chosen else ft.Colors.GREEN_50,
                        side=ft.BorderSide(2, GREEN if chosen else ft.Colors.GREEN_200),
                    ),
                )
            )
        cat_section: list[ft.Control] = [ft.ResponsiveRow(tiles, spacing=10, run_spacing=10)]
        if "category" in errors:
            cat_section.append(
                ft.Text(errors["category"], color=ft.Colors.RED_900, size=15, weight=ft.FontWeight.W_600)
            )
        body.append(section(tr.t("inc_category"), cat_section))
        # unit (the child's, shown)
        body.append(section(tr.t("inc_unit"), [ft.Text(form.unit_name or tr.t("inc_unit_default"), size=16)]))
        details: list[ft.Control] = []
        if form.category in NEEDS_ITEM:
            assert form.category is not None
            self.item.label = tr.t("inc_item." + form.category.value)
            self.item.error = errors.get("item_name")
            details.append(self.item)
        self.description.label = tr.t("inc_description")
        self.description.hint_text = tr.t("inc_description_hint")
        self.description.error = errors.get("description")
        details.append(self.description)
        body.append(section(tr.t("inc_description"), details))
        body.append(section(tr.t("inc_photos"), self._photos(form, tr)))
        body += [
            ft.FilledButton(
                content=ft.Text(tr.t("inc_submit"), size=17),
                icon=ft.Icons.SEND,
                height=56,
                on_click=self._submit,
                disabled=bool(form.preparing),
                style=ft.ButtonStyle(bgcolor=GREEN, color=ft.Colors.WHITE),
            ),
            ft.Text(tr.t("inc_submit_note"), size=13, color=ft.Colors.GREY_700),
            ft.OutlinedButton(content=tr.t("cancel"), height=MIN_TOUCH, on_click=on_back),
        ]
        return screen("/report", app_bar(tr.t("report_title"), tr, on_back=on_back), body)


def _report_button(
    state: AppState, tr: Translator, view: IncidentView, now: datetime, cases: IncidentCases
) -> ft.Control:
    lines: list[ft.Control] = [
        status_chip(tr, view),
        ft.Text(
            tr.t("inc_cat." + view.category.value) + (f": {view.item_name}" if view.item_name else ""),
            size=16,
            color=ft.Colors.BLACK,
            weight=ft.FontWeight.W_600,
        ),
    ]
    if len(state.children) > 1:
        lines.append(ft.Text(state.child_name(view.patient_id), size=14, color=ft.Colors.GREY_800))
    lines.append(
        ft.Text(
            tr.t("inc_folio", folio=view.folio) if view.folio else tr.t("inc_folio_pending"),
            size=14,
            color=ft.Colors.GREY_800,
        )
    )
    if view.incident is not None:
        text, late = deadline_text(tr, view.incident, now)
        lines.append(ft.Text(text, size=14, color=ft.Colors.RED_900 if late else ft.Colors.GREY_800))
    return ft.OutlinedButton(
        content=ft.Column(lines, spacing=2),
        tooltip=tr.t("inc_open_report", folio=view.folio or ""),
        on_click=lambda _, rid=view.id: cases.open(rid),
        style=ft.ButtonStyle(
            padding=ft.Padding.symmetric(horizontal=12, vertical=10), shape=ft.RoundedRectangleBorder(radius=10)
        ),
    )


def build_list(
    state: AppState,
    tr: Translator,
    cases: IncidentCases,
    *,
    now: datetime,
    on_back: Handler,
    on_new: Handler,
    on_refresh: Handler,
    on_dismiss: Handler,
) -> ft.View:
    ui = state.incidents
    body: list[ft.Control] = [*status_banners(state, tr, on_dismiss=on_dismiss)]
    body.append(
        ft.FilledButton(
            content=ft.Text(tr.t("inc_new"), size=16),
            icon=ft.Icons.REPORT_PROBLEM,
            height=MIN_TOUCH,
            on_click=on_new,
            style=ft.ButtonStyle(bgcolor=GREEN, color=ft.Colors.WHITE),
        )
    )
    rows = [_report_button(state, tr, v, now, cases) for v in ui.reports]
    body.append(section(tr.t("my_reports"), rows or [ft.Text(tr.t("inc_none"), size=16)]))
    bar = app_bar(tr.t("my_reports"), tr, on_back=on_back, on_refresh=on_refresh, syncing=state.syncing)
    return screen("/reports", bar, body)


class ReportView:
    """One report: state, folio, deadline, conversation, "No se resolvió" (keeps the typed reason)."""

    def __init__(self, cases: IncidentCases) -> None:
        self._cases = cases
        self.reason = ft.TextField(multiline=True, min_lines=2, max_lines=5, max_length=REASON_MAX, text_size=17)

    def build(
        self,
        state: AppState,
        tr: Translator,
        *,
        now: datetime,
        on_back: Handler,
        on_refresh: Handler,
        on_retry: Handler,
        on_discard: Handler,
    ) -> ft.View:
        ui, view = state.incidents, state.selected_report
        body: list[ft.Control] = []
        if view is None:
            return screen("/report/one", app_bar(tr.t("my_reports"), tr, on_back=on_back), body)
        if ui.message:
            body.append(
                banner(
                    ui.message,
                    icon=ft.Icons.CLOUD_UPLOAD,
                    bgcolor=ft.Colors.BLUE_50,
                    color=ft.Colors.BLUE_900,
                    on_dismiss=lambda _: self._cases.dismiss_message(),
                    dismiss_label=tr.t("dismiss"),
                )
            )
        head: list[ft.Control] = [status_chip(tr, view)]
        head.append(
            ft.Text(
                tr.t("inc_folio", folio=view.folio) if view.folio else tr.t("inc_folio_pending"),
                size=20 if view.folio else 15,
                weight=ft.FontWeight.W_700,
            )
        )
        if view.incident is not None:
            text, late = deadline_text(tr, view.incident, now)
            head.append(
                ft.Row(
                    [
                        ft.Icon(
                            ft.Icons.WARNING_AMBER if late else ft.Icons.SCHEDULE,
                            color=ft.Colors.RED_900 if late else ft.Colors.GREY_800,
                            size=20,
                        ),
                        ft.Text(text, size=15, expand=True, color=ft.Colors.RED_900 if late else ft.Colors.GREY_800),
                    ],
                    spacing=6,
                )
            )
            head.append(ft.Text(view.incident.unit.name, size=14, color=ft.Colors.GREY_800))
        head.append(
            ft.Text(
                tr.t("inc_cat." + view.category.value) + (f": {view.item_name}" if view.item_name else ""),
                size=16,
                weight=ft.FontWeight.W_600,
            )
        )
        if len(state.children) > 1:
            head.append(ft.Text(state.child_name(view.patient_id), size=15))
        if view.mark is Mark.FAILED:
            head.append(ft.Text(view.error or "", color=ft.Colors.RED_900, size=15))
            head.append(
                ft.Row(
                    [
                        ft.FilledButton(
                            content=tr.t("retry"), height=MIN_TOUCH, on_click=lambda _, i=view.item_id: on_retry(i)
                        ),
                        ft.OutlinedButton(
                            content=tr.t("discard"), height=MIN_TOUCH, on_click=lambda _, i=view.item_id: on_discard(i)
                        ),
                    ],
                    spacing=8,
                    wrap=True,
                )
            )
        body.append(section(tr.t("inc_report"), head))
        shown = self._cases.photos(view)
        if shown:
            body.append(
                section(
                    tr.t("inc_photos"),
                    [
                        ft.Row(
                            [self._photo(tr, n, photo, on_retry, on_discard) for n, photo in enumerate(shown, start=1)],
                            wrap=True,
                            spacing=10,
                            run_spacing=10,
                        )
                    ],
                )
            )
        talk: list[ft.Control] = [_bubble(tr, tr.t("inc_you"), view.description, view.created_at, mine=True)]
        for reply in view.incident.responses if view.incident else []:
            mine = reply.author_role is contract.Role.GUARDIAN
            text = reply.message
            note = (
                tr.t("inc_resolved_mark") if reply.resolves else (tr.t("inc_reopened_mark") if reply.reopens else None)
            )
            talk.append(
                _bubble(
                    tr, tr.t("inc_you") if mine else reply.author_label, text, reply.created_at, mine=mine, note=note
                )
            )
        if view.pending_reason:
            talk.append(
                _bubble(tr, tr.t("inc_you"), view.pending_reason, None, mine=True, note=tr.t("inc_reopen_waiting"))
            )
        if view.incident is not None and not view.incident.responses:
            talk.append(ft.Text(tr.t("inc_no_replies"), size=15, color=ft.Colors.GREY_700))
        body.append(section(tr.t("inc_conversation"), talk))
        if can_reopen(view):
            if ui.reopening:
                self.reason.label = tr.t("inc_reason")
                self.reason.error = ui.reason_error
                body.append(
                    section(
                        tr.t("inc_not_solved"),
                        [
                            self.reason,
                            ft.FilledButton(
                                content=ft.Text(tr.t("inc_send_reason"), size=16),
                                icon=ft.Icons.SEND,
                                height=56,
                                style=ft.ButtonStyle(bgcolor=GREEN, color=ft.Colors.WHITE),
                                on_click=lambda _, rid=view.id: self._cases.reopen(rid, self.reason.value or ""),
                            ),
                            ft.OutlinedButton(
                                content=tr.t("cancel"),
                                height=MIN_TOUCH,
                                on_click=lambda _: self._cases.ask_reopen(False),
                            ),
                        ],
                    )
                )
            else:
                body.append(
                    ft.OutlinedButton(
                        content=ft.Text(tr.t("inc_not_solved"), size=16),
                        icon=ft.Icons.REPLAY,
                        height=56,
                        on_click=lambda _: self._cases.ask_reopen(True),
                    )
                )
        bar = app_bar(
            view.folio or tr.t("my_reports"), tr, on_back=on_back, on_refresh=on_refresh, syncing=state.syncing
        )
        return screen("/report/one", bar, body)

    def _photo(self, tr: Translator, n: int, photo: ShownPhoto, on_retry: Handler, on_discard: Handler) -> ft.Control:
        lines: list[ft.Control] = [
            photo_image(
                tr,
                n,
                photo.data,
                missing=tr.t("inc_photo_offline")
                if photo.key in self._cases.photo_unavailable
                else tr.t("inc_photo_loading"),
            )
        ]
        if photo.mark is Mark.PENDING:
            lines.append(
                ft.Row(
                    [
                        ft.Icon(ft.Icons.CLOUD_UPLOAD, color=ft.Colors.BLUE_GREY_800, size=18),
                        ft.Text(tr.t("inc_photo_pending"), size=13, color=ft.Colors.BLUE_GREY_800, expand=True),
                    ],
                    spacing=4,
                    width=PHOTO,
                )
            )
        elif photo.mark is Mark.FAILED:
            lines.append(
                ft.Text(
                    tr.t("inc_photo_rejected", reason=photo.error or ""),
                    size=14,
                    color=ft.Colors.RED_900,
                    weight=ft.FontWeight.W_600,
                    width=PHOTO,
                )
            )
            lines.append(
                ft.Row(
                    [
                        ft.FilledButton(
                            content=tr.t("retry"), height=MIN_TOUCH, on_click=lambda _, i=photo.key: on_retry(i)
                        ),
                        ft.OutlinedButton(
                            content=tr.t("discard"), height=MIN_TOUCH, on_click=lambda _, i=photo.key: on_discard(i)
                        ),
                    ],
                    spacing=8,
                    wrap=True,
                    width=PHOTO,
                )
            )
        return ft.Column(lines, spacing=4, tight=True)


PHOTO = 168


def photo_image(tr: Translator, n: int, data: bytes | None, *, missing: str, side: int = PHOTO) -> ft.Control:
    """A report's photo (named for screen readers: "Foto n del reporte") from its thumbnail, or a placeholder
    saying why it is not on screen. The bytes come from memory or the encrypted store: never a file or URL."""
    if data is None:
        return ft.Container(
            ft.Text(missing, size=13, color=ft.Colors.GREY_800, text_align=ft.TextAlign.CENTER),
            width=side,
            height=side,
            bgcolor=ft.Colors.GREY_200,
            border_radius=8,
            padding=8,
            alignment=ft.Alignment.CENTER,
        )
    return ft.Image(
        src=data,
        width=side,
        height=side,
        fit=ft.BoxFit.COVER,
        border_radius=8,
        cache_width=2 * side,
        semantics_label=tr.t("inc_photo_n", n=n),
    )


def _as_bytes(value: Any) -> bytes | None:
    """The picker's bytes as ``bytes`` (msgpack gives bytes; a list of ints is accepted too)."""
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    if isinstance(value, list) and all(isinstance(v, int) for v in value):
        try:
            return bytes(value)
        except ValueError:
            return None
    return None


def _bubble(
    tr: Translator, who: str, text: str, when: datetime | None, *, mine: bool, note: str | None = None
) -> ft.Control:
    lines: list[ft.Control] = [
        ft.Text(
            who + (f" · {mx_time(tr, when)}" if when else ""),
            size=13,
            weight=ft.FontWeight.W_700,
            color=ft.Colors.GREY_800,
        )
    ]
    if note:
        lines.append(ft.Text(note, size=13, weight=ft.FontWeight.W_700, color=GREEN if not mine else ft.Colors.RED_900))
    lines.append(ft.Text(text, size=16))
    return ft.Container(
        ft.Column(lines, spacing=2),
        padding=10,
        border_radius=10,
        bgcolor=ft.Colors.GREY_100 if mine else ft.Colors.GREEN_50,
        margin=ft.Margin.only(left=0 if mine else 24, right=24 if mine else 0),
    )
