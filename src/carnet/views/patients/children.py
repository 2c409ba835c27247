"""Child picker: one large button per child linked to the account."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import flet as ft

from carnet.core.i18n import Translator
from carnet.shell.state import AppState
from carnet.views.common import GREEN, Handler, app_bar, screen, status_banners


def build(
    state: AppState,
    tr: Translator,
    *,
    on_pick: Callable[[str], Any],
    on_refresh: Handler,
    on_settings: Handler,
    on_dismiss: Handler,
    sync_button: ft.Control | None = None,
    navigation_bar: ft.NavigationBar | None = None,
) -> ft.View:
    body: list[ft.Control] = [*status_banners(state, tr, on_dismiss=on_dismiss)]
    if state.children:
        body.append(ft.Text(tr.t("children_title"), size=22, weight=ft.FontWeight.W_700))
        for child in state.children:
            body.append(
                ft.FilledTonalButton(
                    content=ft.Row(
                        [
                            ft.Icon(ft.Icons.CHILD_CARE, size=28, color=GREEN),
                            ft.Text(child.display_name, size=19, weight=ft.FontWeight.W_600, expand=True),
                            ft.Icon(ft.Icons.CHEVRON_RIGHT),
                        ],
                        spacing=12,
                    ),
                    tooltip=tr.t("open_carnet_of", name=child.display_name),
                    height=72,
                    on_click=lambda _, cid=child.id: on_pick(cid),
                )
            )
    elif not state.syncing:
        body.append(ft.Text(tr.t("no_children") if state.online else tr.t("no_data_yet"), size=16))
    else:
        body.append(ft.Row([ft.ProgressRing(semantics_label=tr.t("syncing")), ft.Text(tr.t("syncing"))]))
    title = tr.t("app_title")
    return screen(
        "/children",
        app_bar(
            title, tr, on_refresh=on_refresh, on_settings=on_settings, syncing=state.syncing, sync_button=sync_button
        ),
        body,
        navigation_bar=navigation_bar,
    )
