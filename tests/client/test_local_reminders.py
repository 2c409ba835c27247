"""The phone's own reminders, wired: after a sync the session schedules what the synced records call for
(through the notification plugin, here a recording fake), asks for the permission once, schedules nothing
twice across syncs, follows the kinds chosen in Ajustes, and a logout cancels what is pending. On the web
there is no plugin and nothing happens. The scheduling rules themselves: tests/unit/test_reminder_schedule.py."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from carnet_contract import models as contract
from tests.support.secret_stores import DictSecretStore

pytestmark = pytest.mark.anyio


@dataclass
class Pending:
    id: int


class FakePlugin:
    def __init__(self) -> None:
        self.pending: dict[int, tuple[datetime, str | None, str | None]] = {}
        self.scheduled: list[int] = []
        self.cancelled: list[int] = []
        self.asked = 0

    async def schedule(self, id: int, when: datetime, title: str | None = None, body: str | None = None,  # noqa: A002
                       payload: str = "") -> None:
        self.pending[id] = (when, title, body)
        self.scheduled.append(id)

    async def cancel(self, id: int) -> None:  # noqa: A002
        self.pending.pop(id, None)
        self.cancelled.append(id)

    async def get_pending_notifications(self) -> list[Any]:
        return [Pending(i) for i in self.pending]

    async def request_permissions(self) -> bool:
        self.asked += 1
        return True


async def test_a_sync_schedules_the_reminders_once_and_a_logout_cancels_them(make_session) -> None:
    plugin = FakePlugin()
    session = make_session(DictSecretStore())
    session.notification_plugin = plugin
    await session.start()
    await session.login("madre.demo", "carnet-demo")
    assert plugin.asked == 1 and plugin.scheduled, "the synced demo agenda has appointments to remind of"
    first = sorted(plugin.scheduled)
    assert all(when > datetime.now(UTC) - timedelta(minutes=1) for when, _, _ in plugin.pending.values())
    assert all(title and "Mateo" in (title + (body or "")) or "Valentina" in (title + (body or ""))
               for _, title, body in plugin.pending.values())
    await session.refresh()
    assert sorted(plugin.scheduled) == first and plugin.asked == 1  # nothing twice, asked once

    # Turning every kind off cancels what is pending.
    session.state.reminders.show(frozenset(), pending=False)
    await session.reschedule_reminders()
    assert plugin.pending == {} and sorted(plugin.cancelled) == first

    # Back on: scheduled again (they never rang). One rings; the next sync does not schedule it again.
    session.state.reminders.show(frozenset(contract.ReminderKind), pending=False)
    await session.reschedule_reminders()
    assert sorted(plugin.pending) == first
    rang = first[0]
    plugin.pending.pop(rang)
    count = plugin.scheduled.count(rang)
    await session.reschedule_reminders()
    assert plugin.scheduled.count(rang) == count and rang not in plugin.pending
    await session.logout()
    assert plugin.pending == {}


async def test_no_plugin_no_reminders(make_session) -> None:
    session = make_session(DictSecretStore())
    await session.start()
    await session.login("madre.demo", "carnet-demo")
    await session.reschedule_reminders()  # the web and desktops: nothing to do, nothing fails
    assert session.notification_plugin is None
