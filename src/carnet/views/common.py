"""Pieces every screen shares: app bar, banners, section cards. Drawing only."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from weakref import WeakKeyDictionary

import flet as ft

from carnet.core.i18n import Translator
from carnet.core.navigation import Tab
from carnet.shell.state import AppState

if TYPE_CHECKING:
    from carnet.patients.qr import QrImage
    from carnet_contract.enrolment import PatientRecord

Handler = Callable[..., Any]

log = logging.getLogger(__name__)
#: The save-file picker of each page (a strong reference: Flet drops services nothing refers to).
_SAVERS: WeakKeyDictionary[Any, ft.FilePicker] = WeakKeyDictionary()

GREEN = "#0B6E4F"
MIN_TOUCH = 48
PAGE_PADDING = 16
#: From this window width (logical px; ResponsiveRow's "lg") a staff desk is on a desk PC: its list is a table
#: and the detail stands beside it. Narrower, the phone layout: the list, then the detail on its own.
DESK_WIDTH = 992


def icon_button(icon: ft.IconData, label: str, on_click: Handler | None, *, color: str | None = None) -> ft.IconButton:
    """An icon button whose accessible name is ``label`` (tooltip alone names only a wrapper)."""
    return ft.IconButton(
        icon=ft.Icon(icon, color=color, semantics_label=label),
        tooltip=label,
        on_click=on_click,
        icon_size=26,
        width=MIN_TOUCH,
        height=MIN_TOUCH,
    )


def sync_icon(state: AppState, tr: Translator, on_sync_status: Handler) -> ft.IconButton:
    """Cloud icon opening the sync screen; its name says whether the app is offline, something waits or failed."""
    status = state.sync
    if state.online is False:  # known as soon as a request (the start's sync, a connectivity event) found no network
        label = tr.t("offline_status_pending", count=status.pending) if status.pending else tr.t("offline_status")
        return icon_button(ft.Icons.CLOUD_OFF, label, on_sync_status, color=ft.Colors.AMBER_200)
    if status.failed:
        return icon_button(ft.Icons.SYNC_PROBLEM, tr.t("sync_status_failed"), on_sync_status, color=ft.Colors.AMBER_200)
    if status.pending:
        return icon_button(
            ft.Icons.CLOUD_UPLOAD,
            tr.t("sync_status_pending", count=status.pending),
            on_sync_status,
            color=ft.Colors.WHITE,
        )
    return icon_button(ft.Icons.CLOUD_DONE, tr.t("sync_status"), on_sync_status, color=ft.Colors.WHITE)


def app_bar(
    title: str,
    tr: Translator,
    *,
    on_back: Handler | None = None,
    on_refresh: Handler | None = None,
    on_settings: Handler | None = None,
    syncing: bool = False,
    sync_button: ft.Control | None = None,
) -> ft.AppBar:
    actions: list[ft.Control] = [sync_button] if sync_button is not None else []
    if on_refresh is not None:
        if syncing:
            actions.append(
                ft.Container(
                    ft.ProgressRing(
                        width=22, height=22, stroke_width=3, color=ft.Colors.WHITE, semantics_label=tr.t("syncing")
                    ),
                    width=MIN_TOUCH,
                    height=MIN_TOUCH,
                    alignment=ft.Alignment.CENTER,
                )
            )
        else:
            actions.append(icon_button(ft.Icons.REFRESH, tr.t("refresh"), on_refresh, color=ft.Colors.WHITE))
    if on_settings is not None:
        actions.append(icon_button(ft.Icons.SETTINGS, tr.t("settings"), on_settings, color=ft.Colors.WHITE))
    leading = (
        icon_button(ft.Icons.ARROW_BACK, tr.t("back"), on_back, color=ft.Colors.WHITE) if on_back is not None else None
    )
    return ft.AppBar(
        # Up to two lines: a child's name beside four actions at 360–390 px must be read whole, not cut.
        title=ft.Text(
            title,
            color=ft.Colors.WHITE,
            weight=ft.FontWeight.W_600,
            size=18,
            max_lines=2,
            overflow=ft.TextOverflow.ELLIPSIS,
        ),
        title_spacing=8,
        bgcolor=GREEN,
        leading=leading,
        automatically_imply_leading=False,
        actions=actions,
    )


def banner(
    text: str,
    *,
    icon: ft.IconData,
    bgcolor: str,
    color: str = ft.Colors.BLACK,
    on_dismiss: Handler | None = None,
    dismiss_label: str = "",
) -> ft.Container:
    # Compact (small icon, tight padding): at 360×640 banners must leave room for what the screen is for.
    row: list[ft.Control] = [
        ft.Icon(icon, color=color, size=20),
        ft.Text(text, color=color, size=14, weight=ft.FontWeight.W_500, expand=True),
    ]
    if on_dismiss is not None:
        row.append(icon_button(ft.Icons.CLOSE, dismiss_label, on_dismiss, color=color))
    return ft.Container(
        ft.Row(row, spacing=8, vertical_alignment=ft.CrossAxisAlignment.CENTER),
        bgcolor=bgcolor,
        padding=ft.Padding.symmetric(horizontal=10, vertical=6),
        border_radius=8,
    )


def status_banners(state: AppState, tr: Translator, *, on_dismiss: Handler | None = None) -> list[ft.Control]:
    """Insecure storage, erased cache, offline/data-as-of: what the person must know."""
    found: list[ft.Control] = []
    if not state.secure_storage and not state.web_session:  # a browser session says so on login and settings
        found.append(
            banner(
                tr.t("insecure_notice"),
                icon=ft.Icons.LOCK_OPEN,
                bgcolor=ft.Colors.ORANGE_100,
                color=ft.Colors.BROWN_900,
            )
        )
    for notice in state.notices:
        found.append(
            banner(
                notice,
                icon=ft.Icons.INFO_OUTLINE,
                bgcolor=ft.Colors.BLUE_50,
                color=ft.Colors.BLUE_900,
                on_dismiss=on_dismiss,
                dismiss_label=tr.t("dismiss"),
            )
        )
    if state.online is False and state.carnet_fetched_at is not None:
        found.append(
            banner(
                tr.t("offline_banner", when=tr.datetime(state.carnet_fetched_at)),
                icon=ft.Icons.CLOUD_OFF,
                bgcolor=ft.Colors.AMBER_200,
                color=ft.Colors.BLACK,
            )
        )
    if state.sync_error:
        found.append(
            banner(state.sync_error, icon=ft.Icons.ERROR_OUTLINE, bgcolor=ft.Colors.RED_50, color=ft.Colors.RED_900)
        )
    return found


def notes(
    state: AppState,
    tr: Translator,
    *,
    message: str | None,
    error: str | None,
    on_dismiss: Handler,
    online_only: str | None = None,
    dismiss_error: bool = False,
) -> list[ft.Control]:
    """The top of a screen: the status banners, an "online only" line, the last use case's message (green, can be
    dismissed) and error (red; dismissable with ``dismiss_error``)."""
    found: list[ft.Control] = [*status_banners(state, tr)]
    if online_only is not None:
        found.append(ft.Text(online_only, size=13, color=ft.Colors.GREY_700))
    if message:
        found.append(
            banner(
                message,
                icon=ft.Icons.CHECK_CIRCLE,
                bgcolor=ft.Colors.GREEN_50,
                color=GREEN,
                on_dismiss=on_dismiss,
                dismiss_label=tr.t("dismiss"),
            )
        )
    if error:
        found.append(
            banner(
                error,
                icon=ft.Icons.ERROR_OUTLINE,
                bgcolor=ft.Colors.RED_50,
                color=ft.Colors.RED_900,
                on_dismiss=on_dismiss if dismiss_error else None,
                dismiss_label=tr.t("dismiss") if dismiss_error else "",
            )
        )
    return found


def chip(label: str, chosen: bool, on_click: Handler, tr: Translator, *, size: int = 15) -> ft.Control:
    """One choice of several: filled when chosen (and read out as "seleccionado"), outlined otherwise."""
    return (ft.FilledButton if chosen else ft.OutlinedButton)(
        content=ft.Text(label, size=size, semantics_label=tr.t("inc_selected", label=label) if chosen else label),
        height=MIN_TOUCH,
        on_click=on_click,
    )


def labelled(control: ft.Control, label: str, *, expand: bool = False) -> ft.Control:
    """``control`` read out with the name ``label``: flet 1.0.5's Dropdown shows its label but leaves its
    semantics node (a button) unnamed, so the label is merged into that node."""
    return ft.MergeSemantics(ft.Semantics(content=control, label=label), expand=expand)


def touch_target(control: ft.Control) -> ft.Control:
    """A radio or checkbox as a >= 48 px target: in a browser flet draws them 40 px tall (a desktop's tap-target
    size, which flet 1.0.5 cannot change), so 4 px above and below, merged into the control's one node."""
    return ft.MergeSemantics(ft.Container(control, padding=ft.Padding.symmetric(vertical=4)))


def section(title: str, body: Sequence[ft.Control]) -> ft.Card:
    return ft.Card(
        ft.Container(
            ft.Column([ft.Text(title, size=14, weight=ft.FontWeight.W_700, color=GREEN), *body], spacing=6), padding=16
        ),
        variant=ft.CardVariant.OUTLINED,
        margin=0,
        # Each control keeps its own node for screen readers: a card as one container merged the title into the
        # first field's label, and a click on that field (with a screen reader on) took its focus away.
        semantic_container=False,
    )


def field(label: str, value: str) -> ft.Control:
    """A label/value pair (two texts a screen reader reads in order).

    Not wrapped in ``ft.Semantics``: in flet 1.0.5 a Semantics control inside a
    scrolling Column takes an unbounded height and breaks the layout.
    """
    return ft.Column(
        [ft.Text(label, size=12, color=ft.Colors.GREY_700), ft.Text(value, size=16, weight=ft.FontWeight.W_500)],
        spacing=0,
    )


def is_wide(width: float | None) -> bool:
    """Whether a window ``width`` wide (``page.width``; None before the client said) is a desk PC's."""
    return width is not None and width >= DESK_WIDTH


def desk_layout(
    list_pane: Sequence[ft.Control], detail_pane: Sequence[ft.Control], *, list_share: int = 5
) -> ft.ResponsiveRow:
    """A staff desk at a desk width: the list on the left (``list_share`` of 12 columns, 5 unless its rows
    hold buttons), the detail beside it (the rest). Side by side from the ResponsiveRow's "md" up (any window
    wide by :data:`DESK_WIDTH`, however the row measures itself); stacked should a stale width reach a phone.

    Only layout controls (a row of two columns): a redraw grafts them onto the ones on the page
    (``shell/graft.py``), so the fields inside keep their place and what is typed in them.
    """
    return ft.ResponsiveRow(
        [
            ft.Column(
                list(list_pane),
                col={"xs": 12, "md": list_share},
                spacing=12,
                horizontal_alignment=ft.CrossAxisAlignment.STRETCH,
            ),
            ft.Column(
                list(detail_pane),
                col={"xs": 12, "md": 12 - list_share},
                spacing=12,
                horizontal_alignment=ft.CrossAxisAlignment.STRETCH,
            ),
        ],
        spacing=16,
        run_spacing=12,
        vertical_alignment=ft.CrossAxisAlignment.START,
    )


def table_header(columns: Sequence[tuple[str, int]]) -> ft.Control:
    """A table's header row: each column's title over its share (``expand``) of the width.

    Each title is a node of its own, a header (a card would otherwise read the titles out merged into its own
    label): a screen reader finds the column titles, and reads each row's cells after them.
    """
    return ft.Container(
        ft.Row(
            [
                ft.Semantics(
                    content=ft.Text(title, size=14, weight=ft.FontWeight.W_700, color=ft.Colors.GREY_900),
                    container=True,
                    header=True,
                    expand=share,
                )
                for title, share in columns
            ],
            spacing=12,
            vertical_alignment=ft.CrossAxisAlignment.CENTER,
        ),
        bgcolor=ft.Colors.GREY_100,
        border_radius=6,
        padding=ft.Padding.symmetric(horizontal=12, vertical=10),
    )


def table_cells(columns: Sequence[tuple[str, int]], cells: Sequence[ft.Control | str]) -> ft.Row:
    """A table row's cells, each as wide as its column in :func:`table_header` (a text or any control)."""
    placed: list[ft.Control] = []
    for (_, share), cell in zip(columns, cells, strict=True):
        if isinstance(cell, str):
            placed.append(ft.Text(cell, size=15, expand=share))
        else:
            placed.append(ft.Container(cell, expand=share))
    return ft.Row(placed, spacing=12, vertical_alignment=ft.CrossAxisAlignment.CENTER)


def table_row(
    columns: Sequence[tuple[str, int]],
    cells: Sequence[ft.Control | str],
    *,
    on_click: Handler | None = None,
    tooltip: str | None = None,
    chosen: bool = False,
) -> ft.Control:
    """One row of a table: a button over the whole row when it opens something (read out as its cells' words,
    at least 48 px tall), else a plain row."""
    row = table_cells(columns, cells)
    if on_click is None:
        return ft.Container(
            row,
            padding=ft.Padding.symmetric(horizontal=12, vertical=8),
            border=ft.Border.only(bottom=ft.BorderSide(1, ft.Colors.GREY_300)),
        )
    return ft.OutlinedButton(
        content=row,
        tooltip=tooltip,
        on_click=on_click,
        style=ft.ButtonStyle(
            padding=ft.Padding.symmetric(horizontal=12, vertical=14),  # one line of text: still 48 px
            shape=ft.RoundedRectangleBorder(radius=6),
            bgcolor=ft.Colors.GREEN_50 if chosen else None,
            side=ft.BorderSide(2, GREEN) if chosen else None,
        ),
    )


def screen(
    route: str,
    appbar: ft.AppBar | None,
    controls: list[ft.Control],
    *,
    navigation_bar: ft.NavigationBar | None = None,
    floating_action_button: ft.FloatingActionButton | None = None,
) -> ft.View:
    return ft.View(
        route=route,
        appbar=appbar,
        padding=0,
        bgcolor=ft.Colors.WHITE,
        navigation_bar=navigation_bar,
        floating_action_button=floating_action_button,
        controls=[
            ft.Container(
                ft.Column(
                    controls, spacing=12, scroll=ft.ScrollMode.AUTO, horizontal_alignment=ft.CrossAxisAlignment.STRETCH
                ),
                padding=PAGE_PADDING,
                expand=True,
            )
        ],
    )


TABS = (Tab.CARNET, Tab.AGENDA, Tab.BLOOD_BANK)


def awaiting(fn: Callable[..., Awaitable[Any]], *args: Any) -> Callable[[Any], Awaitable[None]]:
    """A click handler that awaits ``fn(*args)`` (Flet awaits only coroutine functions, not lambdas)."""

    async def handler(_: Any = None) -> None:
        await fn(*args)

    return handler


def nav_bar(state: AppState, tr: Translator, on_tab: Callable[[Tab], Any]) -> ft.NavigationBar:
    """The three destinations; settings stays in the app bar."""

    async def changed(e: Any) -> None:
        result = on_tab(TABS[int(e.control.selected_index)])
        if inspect.isawaitable(result):
            await result

    return ft.NavigationBar(
        selected_index=TABS.index(state.tab),
        on_change=changed,
        destinations=[
            ft.NavigationBarDestination(
                icon=ft.Icons.BADGE_OUTLINED, selected_icon=ft.Icons.BADGE, label=tr.t("tab_carnet")
            ),
            ft.NavigationBarDestination(
                icon=ft.Icons.CALENDAR_MONTH_OUTLINED, selected_icon=ft.Icons.CALENDAR_MONTH, label=tr.t("tab_agenda")
            ),
            ft.NavigationBarDestination(
                icon=ft.Icons.BLOODTYPE_OUTLINED, selected_icon=ft.Icons.BLOODTYPE, label=tr.t("tab_blood_bank")
            ),
        ],
    )


def starting_view(tr: Translator) -> ft.View:
    return ft.View(
        route="/",
        padding=0,
        bgcolor=ft.Colors.WHITE,
        controls=[
            ft.Container(ft.ProgressRing(semantics_label=tr.t("syncing")), alignment=ft.Alignment.CENTER, expand=True)
        ],
    )


async def save_bytes(name: str, data: bytes, extension: str) -> bool | None:
    """Hand ``data`` to the platform as the file ``name`` (Flet's ``FilePicker.save_file``): in a browser the
    client turns the bytes into a download of that name; on a phone the system's save dialog opens; on a
    desktop a save dialog writes them. True saved (a browser download counts), False failed, None when the
    person closed the dialog without saving. One picker per page, held while the page lives."""
    try:
        page = ft.context.page
        picker = _SAVERS.get(page)
        if picker is None:
            picker = _SAVERS[page] = ft.FilePicker()
        path = await picker.save_file(
            file_name=name, src_bytes=data, file_type=ft.FilePickerFileType.CUSTOM, allowed_extensions=[extension]
        )
    except Exception as exc:  # noqa: BLE001 - a platform without the service: say so, don't crash
        log.warning("file not saved: %s", type(exc).__name__)
        return False
    if page.web:
        return True  # the browser downloads it; there is no path to report
    return True if path else None


#: The widest a QR is drawn (logical pixels): it fits a 360-wide phone with the screen's padding.
QR_MAX_WIDTH = 340


def qr_image(qr: QrImage, *, alt: str, max_width: int = QR_MAX_WIDTH, min_module: int = 3) -> ft.Container:
    """A QR drawn crisp: a whole number of screen pixels per module (at least ``min_module``), ``max_width`` wide
    at most, on white, named ``alt`` for screen readers."""
    side = qr.modules * max(min_module, max_width // qr.modules)
    return ft.Container(
        ft.Image(
            src=qr.png,
            width=side,
            height=side,
            fit=ft.BoxFit.CONTAIN,
            filter_quality=ft.FilterQuality.NONE,
            semantics_label=alt,
        ),
        alignment=ft.Alignment.CENTER,
        bgcolor=ft.Colors.WHITE,
    )


def qr_section(
    tr: Translator, title: str, qr: QrImage, *, alt: str, expires_at: datetime, now: datetime, verified: bool
) -> ft.Card:
    """A large QR to show at a counter (the carnet's, the emergency card's): crisp, how long it is valid, and
    whether this phone checked its signature (``verified``)."""
    expired = expires_at < now
    lines: list[ft.Control] = [
        qr_image(qr, alt=alt),
        ft.Text(
            tr.t("qr_expired" if expired else "qr_valid_until", when=tr.datetime(expires_at)),
            size=17,
            weight=ft.FontWeight.W_600,
            text_align=ft.TextAlign.CENTER,
            color=ft.Colors.RED_900 if expired else ft.Colors.BLACK,
        ),
    ]
    if verified:
        lines.append(
            ft.Row(
                [
                    ft.Icon(ft.Icons.VERIFIED, color=GREEN, size=20),
                    ft.Text(tr.t("qr_signature_ok"), size=14, color=GREEN),
                ],
                alignment=ft.MainAxisAlignment.CENTER,
            )
        )
    return section(title, lines)


def week_bar(tr: Translator, week: date, move: Callable[[int], Awaitable[Any]]) -> ft.Row:
    """A weekly report's week (Monday to Sunday) between "Semana anterior" and "Semana siguiente"."""
    return ft.Row(
        [
            icon_button(ft.Icons.CHEVRON_LEFT, tr.t("desk_prev_week"), awaiting(move, -1)),
            ft.Text(
                tr.t("desk_week", start=tr.date(week), end=tr.date(week + timedelta(days=6))),
                size=16,
                weight=ft.FontWeight.W_700,
                expand=True,
                text_align=ft.TextAlign.CENTER,
            ),
            icon_button(ft.Icons.CHEVRON_RIGHT, tr.t("desk_next_week"), awaiting(move, 1)),
        ]
    )


def download_buttons(
    tr: Translator,
    *,
    busy: bool,
    make: Callable[[str], Awaitable[tuple[str, bytes] | None]],
    saved: Callable[[str, bool | None], None],
) -> ft.Row:
    """A weekly report's downloads, CSV and Markdown: ``make(kind)`` gives the file (None: nothing to save, its
    owner said why), :func:`save_bytes` hands it over, ``saved`` says what that did."""

    def download(kind: str) -> Handler:
        async def handler(_: Any = None) -> None:
            made = await make(kind)
            if made is not None:
                name, data = made
                saved(name, await save_bytes(name, data, kind))

        return handler

    return ft.Row(
        [
            ft.FilledButton(
                content=ft.Text(tr.t("desk_download_csv"), size=16),
                icon=ft.Icons.DOWNLOAD,
                height=MIN_TOUCH,
                disabled=busy,
                on_click=download("csv"),
                style=ft.ButtonStyle(bgcolor=GREEN, color=ft.Colors.WHITE),
            ),
            ft.OutlinedButton(
                content=ft.Text(tr.t("desk_download_md"), size=16),
                icon=ft.Icons.DESCRIPTION,
                height=MIN_TOUCH,
                disabled=busy,
                on_click=download("md"),
            ),
        ],
        wrap=True,
        spacing=8,
        run_spacing=8,
    )


def result_button(tr: Translator, record: PatientRecord, *, on_click: Handler, tooltip: str) -> ft.Control:
    """A child found by the search: name, then born, CURP and unit (the oncology desk's result on a phone; the
    fever desk's choice of child)."""
    return ft.OutlinedButton(
        content=ft.Column(
            [
                ft.Text(record.full_name, size=17, weight=ft.FontWeight.W_700),
                ft.Text(
                    tr.t("onc_result_line", born=tr.date(record.birth_date), curp=record.curp, unit=record.unit.name),
                    size=14,
                ),
            ],
            spacing=2,
        ),
        tooltip=tooltip,
        on_click=on_click,
        style=ft.ButtonStyle(padding=12, shape=ft.RoundedRectangleBorder(radius=10)),
    )
