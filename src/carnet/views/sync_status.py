"""Sync status anyone can read: last sync, what waits, what the server rejected (retry / discard)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import flet as ft

from carnet.blood_bank.repository import change_of
from carnet.core.i18n import Translator
from carnet.data.outbox import OutboxItem
from carnet.reminders.preferences import REMINDERS_TYPE
from carnet.shell.state import AppState
from carnet.views.common import GREEN, Handler, app_bar, screen, section, status_banners
from carnet_contract import models as contract


def item_label(tr: Translator, item: OutboxItem) -> str:
    if item.type == contract.SyncType.BLOOD_BANK_BOOKING:
        return tr.t("item_line", action=tr.t("bb_op." + change_of(item).value), label=item.label)
    if item.type == REMINDERS_TYPE:
        return tr.t("rem_item")
    return tr.t("item_line", action=tr.t("op." + item.op.value), label=item.label)


def build(
    state: AppState,
    tr: Translator,
    *,
    on_back: Handler,
    on_sync_now: Handler,
    on_retry: Callable[[str], Any],
    on_discard: Callable[[str], Any],
    on_dismiss: Handler,
) -> ft.View:
    status = state.sync
    summary: list[ft.Control] = [
        ft.Text(
            tr.t("last_sync", when=tr.datetime(status.last_success_at))
            if status.last_success_at
            else tr.t("never_synced"),
            size=16,
        ),
        ft.Text(
            tr.t("pending_count", count=status.pending) if status.pending else tr.t("nothing_pending"),
            size=16,
            weight=ft.FontWeight.W_600,
        ),
    ]
    if status.pending and status.retry_at is not None:
        summary.append(
            ft.Text(tr.t("next_retry", when=tr.datetime(status.retry_at)), size=14, color=ft.Colors.GREY_800)
        )
    if state.syncing:
        summary.append(
            ft.Row([ft.ProgressRing(width=22, height=22, semantics_label=tr.t("syncing")), ft.Text(tr.t("syncing"))])
        )
    else:
        summary.append(
            ft.FilledButton(
                content=tr.t("sync_now"),
                icon=ft.Icons.SYNC,
                height=52,
                on_click=on_sync_now,
                style=ft.ButtonStyle(bgcolor=GREEN, color=ft.Colors.WHITE),
            )
        )
    body: list[ft.Control] = [*status_banners(state, tr, on_dismiss=on_dismiss), section(tr.t("sync_status"), summary)]
    failed: list[ft.Control] = []
    for item in status.failed:
        label = item_label(tr, item)
        failed += [
            ft.Text(label, size=16, weight=ft.FontWeight.W_600),
            ft.Text(tr.t("failed_reason", reason=item.error or "—"), size=15, color=ft.Colors.RED_900),
            ft.Row(
                [
                    ft.FilledButton(
                        content=tr.t("retry"),
                        icon=ft.Icons.REFRESH,
                        height=48,
                        tooltip=tr.t("retry_item", label=label),
                        on_click=lambda _, i=item.id: on_retry(i),
                    ),
                    ft.OutlinedButton(
                        content=tr.t("discard"),
                        icon=ft.Icons.DELETE_OUTLINE,
                        height=48,
                        tooltip=tr.t("discard_item", label=label),
                        on_click=lambda _, i=item.id: on_discard(i),
                    ),
                ],
                wrap=True,
                spacing=12,
            ),
            ft.Divider(),
        ]
    body.append(section(tr.t("failed_title"), failed or [ft.Text(tr.t("no_failed"), size=16)]))
    return screen("/sync", app_bar(tr.t("sync_status"), tr, on_back=on_back), body)
