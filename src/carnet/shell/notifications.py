"""The notification plugin for :class:`carnet.reminders.notifier.Notifier`, where there is one.

``flet-notifications`` (a third-party Flet extension over ``flutter_local_notifications``) schedules on
Android and iOS only; on the web, on a desktop, or when the package is not installed this answers None and the
notifier does nothing (a phone build also needs the POST_NOTIFICATIONS / RECEIVE_BOOT_COMPLETED permissions and
the package's ``flet-notifications-patch`` step after ``flet build``: docs/phone-builds.md). Built here, in
the shell, because only the shell and the views import Flet packages. The reminders are not alarms: the
schedule mode is Android's inexact one, which needs no exact-alarm permission (a few minutes late is fine).
"""

from __future__ import annotations

import importlib
import logging
from datetime import datetime
from typing import Any

import flet as ft

from carnet.reminders.notifier import NotificationPlugin

__all__ = ["notification_plugin"]

log = logging.getLogger("carnet.reminders")
PACKAGE = "flet_notifications"


class _Plugin:
    """``LocalNotifications`` with the arguments Carnet always gives it."""

    def __init__(self, module: Any) -> None:
        self._module = module
        self._service = module.LocalNotifications()  # a Flet service: it registers itself with the page

    async def schedule(
        self,
        id: int,  # noqa: A002 - the plugin's own keyword
        when: datetime,
        title: str | None = None,
        body: str | None = None,
        payload: str = "",
    ) -> None:
        mode = self._module.AndroidScheduleMode.INEXACT_ALLOW_WHILE_IDLE
        await self._service.schedule(id=id, when=when, title=title, body=body, payload=payload, schedule_mode=mode)

    async def cancel(self, id: int) -> None:  # noqa: A002
        await self._service.cancel(id)

    async def get_pending_notifications(self) -> list[Any]:
        pending: list[Any] = await self._service.get_pending_notifications()
        return pending

    async def request_permissions(self) -> bool:
        return bool(await self._service.request_permissions())


def notification_plugin(page: ft.Page) -> NotificationPlugin | None:
    """The plugin on Android and iOS when ``flet-notifications`` is installed; else None."""
    if page.web or page.platform is None or page.platform.value not in ("android", "ios"):
        return None
    try:
        module = importlib.import_module(PACKAGE)
    except ImportError:
        log.info("notifications: %s is not installed; no local reminders", PACKAGE)
        return None
    try:
        return _Plugin(module)
    except Exception as exc:  # noqa: BLE001 - a build without the extension's native half: no reminders
        log.warning("notifications: the plugin did not start (%s)", type(exc).__name__)
        return None
