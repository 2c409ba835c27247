"""Makes the phone's scheduled notifications match :func:`carnet.reminders.schedule.wanted`.

A thin layer over the notification plugin (``flet-notifications``'s ``LocalNotifications``, a Flet service
the shell builds on Android and iOS — see carnet/shell/notifications.py; features import no Flet, so the
plugin is handed in). On the web, on a desktop, or when the package is missing there is no plugin and
:class:`Notifier` does nothing.

:meth:`Notifier.reconcile` asks the plugin what is pending, then

    cancels   what this app scheduled that is pending but no longer wanted (a cancelled or moved
              appointment, a kind turned off, signed out: nothing wanted);
    schedules what is wanted and was never handed to the system — an id handed once is not scheduled
              again, even after it rang, so each reminder rings once.

The ids handed out are kept through ``handed`` (the shell keeps them in the encrypted store; in memory by
default) and pruned to what is still wanted or pending, so the set stays small. A plugin error is logged by
its type only (never a title or a body: they name the child) and the rest goes on; the next sync retries.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from carnet.data.store import OfflineStore
from carnet.reminders.schedule import LocalNotification

__all__ = ["HandedIds", "MemoryHanded", "NotificationPlugin", "Notifier", "Reconciled", "StoreHanded"]

log = logging.getLogger("carnet.reminders")


class NotificationPlugin(Protocol):
    """What the notifier needs of ``flet_notifications.LocalNotifications`` (its method names and keywords)."""

    async def schedule(
        self,
        id: int,  # noqa: A002 - the plugin's own keyword
        when: datetime,
        title: str | None = None,
        body: str | None = None,
        payload: str = "",
    ) -> None: ...

    async def cancel(self, id: int) -> None: ...  # noqa: A002

    async def get_pending_notifications(self) -> list[Any]:
        """Objects with an ``id`` (``flet_notifications.PendingNotification``)."""
        ...


class HandedIds(Protocol):
    """Where the ids handed to the system are kept between runs."""

    def load(self) -> set[int]: ...

    def save(self, ids: set[int]) -> None: ...


@dataclass
class StoreHanded:
    """The handed ids in the phone's encrypted store, per account (a logout's wipe forgets them)."""

    store: OfflineStore
    user_id: str
    KIND = "notifications"

    def load(self) -> set[int]:
        found = self.store.get(self.user_id, self.KIND, "handed")
        return {int(i) for i in found.value} if found is not None and isinstance(found.value, list) else set()

    def save(self, ids: set[int]) -> None:
        self.store.put(self.user_id, self.KIND, "handed", sorted(ids))


@dataclass
class MemoryHanded:
    ids: set[int] = field(default_factory=set)

    def load(self) -> set[int]:
        return set(self.ids)

    def save(self, ids: set[int]) -> None:
        self.ids = set(ids)


@dataclass(frozen=True)
class Reconciled:
    scheduled: tuple[int, ...] = ()
    cancelled: tuple[int, ...] = ()
    failed: int = 0


class Notifier:
    """One per signed-in family on a phone; ``plugin`` None: nothing is ever scheduled."""

    def __init__(self, plugin: NotificationPlugin | None, handed: HandedIds | None = None) -> None:
        self._plugin = plugin
        self._handed = handed or MemoryHanded()

    @property
    def available(self) -> bool:
        return self._plugin is not None

    async def reconcile(self, wanted: Iterable[LocalNotification]) -> Reconciled:
        """Cancel the stale, schedule the new (see the module's note)."""
        plugin = self._plugin
        if plugin is None:
            return Reconciled()
        wanted_by_id = {n.id: n for n in wanted}
        try:
            pending = {int(p.id) for p in await plugin.get_pending_notifications()}
        except Exception as exc:  # noqa: BLE001 - a plugin failure must not break the sync that called us
            log.warning("notifications: could not read the pending ones (%s)", type(exc).__name__)
            return Reconciled(failed=1)
        handed = self._handed.load()
        scheduled: list[int] = []
        cancelled: list[int] = []
        failed = 0
        for stale in sorted((pending & handed) - wanted_by_id.keys()):
            try:
                await plugin.cancel(stale)
                cancelled.append(stale)
            except Exception as exc:  # noqa: BLE001
                failed += 1
                log.warning("notifications: cancel failed (%s)", type(exc).__name__)
        for note in wanted_by_id.values():
            if note.id in handed or note.id in pending:
                continue
            try:
                await plugin.schedule(id=note.id, when=note.at, title=note.title, body=note.body, payload=note.key)
                scheduled.append(note.id)
            except Exception as exc:  # noqa: BLE001
                failed += 1
                log.warning("notifications: schedule failed (%s)", type(exc).__name__)
        still = (handed | set(scheduled)) & (wanted_by_id.keys() | (pending - set(cancelled)))
        self._handed.save(still)
        if scheduled or cancelled:
            log.info("notifications: %d scheduled, %d cancelled", len(scheduled), len(cancelled))
        return Reconciled(tuple(scheduled), tuple(cancelled), failed)

    async def clear(self) -> Reconciled:
        """Cancel everything this app scheduled that has not rung yet (signing out)."""
        return await self.reconcile(())
