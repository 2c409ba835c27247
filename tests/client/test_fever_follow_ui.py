"""The family follows a fever episode without pressing "Actualizar" (issue #19): while a child's episode is open and
the fever screen, the emergency card or the carnet is on screen, the app syncs every ``fever_sync_interval_seconds``
(20 s) instead of ``sync_interval_seconds`` (300 s); otherwise, and once the episode is over, back to normal. The
periodic loop runs on a fake scheduler that records each wait (no sleeps) and the unit records a step during it."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import flet as ft
import pytest

from carnet.core.navigation import Screen
from carnet.shell import session as session_module
from carnet.shell.app import CarnetUI
from carnet.shell.session import AppSession
from tests.support.inprocess_server import InProcessServer
from tests.support.secret_stores import DictSecretStore

from . import test_ui_inprocess
from .test_account_ui import button
from .test_enrolment_ui import field
from .test_ui_inprocess import click, find, texts

pytestmark = pytest.mark.anyio
page = test_ui_inprocess.page  # the fixture: a real flet Page, in process


def _steps(server: InProcessServer, episode_id: str, *steps: str) -> None:
    for step in steps:
        server.ok("oncologia.demo", "POST", f"/api/v1/fever-episodes/{episode_id}/steps", json={"step": step})


async def test_the_sync_interval_shortens_only_while_an_episode_is_open(  # type: ignore[no-untyped-def]
    page, config, data_dir, server: InProcessServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = datetime.now(UTC)
    config = replace(config, sync_interval_seconds=300, fever_sync_interval_seconds=20)
    session = AppSession(config, DictSecretStore(), data_dir, transport=server.transport, clock=lambda: now)
    session.api._backoff = lambda attempt: 0.0
    CarnetUI(page, session).render()
    await session.start()
    await session.login("madre.demo", "carnet-demo")
    assert session.sync_interval() == 300  # no episode
    await click(next(b for b in find(page, ft.FilledTonalButton) if b.tooltip == "Ver carnet de Mateo Hernández"))
    assert session.state.screen is Screen.CARNET and session.sync_interval() == 300
    await click(next(b for b in find(page, ft.FilledButton) if b.tooltip == "Tiene fiebre (38 °C o más)"))
    assert session.state.screen is Screen.FEVER and session.sync_interval() == 300  # the screen alone: no

    server.transport.offline = True
    field(page, "Temperatura (°C)").value = "38,8"
    await click(button(page, "Avisar al hospital"))
    assert "Te esperan en urgencias" in texts(page)
    assert session.sync_interval() == 20  # queued on the phone: under way already
    session.back()
    assert session.state.screen is Screen.CARNET and session.sync_interval() == 20
    session.back()
    assert session.state.screen is not Screen.CARNET and session.sync_interval() == 300  # elsewhere: normal
    wake = session._wake_event()
    wake.clear()
    await click(next(b for b in find(page, ft.FilledTonalButton) if b.tooltip == "Ver carnet de Mateo Hernández"))
    assert wake.is_set()  # back to the carnet: the loop, maybe waiting out 300 s, wakes at once
    await click(next(b for b in find(page, ft.FilledButton) if b.tooltip == "Tiene fiebre (38 °C o más)"))
    server.transport.offline = False
    await session.refresh()
    [view] = session.state.fever.episodes
    assert view.episode is not None  # sent: the unit has it
    episode_id = view.episode.id

    # The loop on a fake scheduler: each wait is recorded, then "times out" at once; the unit records steps meanwhile.
    waits: list[float] = []
    seen: list[list[str]] = []

    async def fake_wait_for(waiting: Coroutine[Any, Any, Any], timeout: float) -> None:  # noqa: ASYNC109 - wait_for's own
        waiting.close()
        waits.append(timeout)
        seen.append(texts(page))
        if len(waits) == 1:
            _steps(server, episode_id, "arrival")
        elif len(waits) == 2:
            _steps(server, episode_id, "triage", "antibiotic")
        else:
            raise asyncio.CancelledError
        raise TimeoutError

    monkeypatch.setattr(session_module.asyncio, "wait_for", fake_wait_for)
    with pytest.raises(asyncio.CancelledError):
        await session.run_periodic_sync()
    assert waits == [20, 20, 300]  # open, open, over: back to normal
    assert not any(t.startswith("Llegada a urgencias:") for t in seen[0])
    assert any(t.startswith("Llegada a urgencias:") for t in seen[1])  # synced with no tap
    assert any(t.startswith("Primer antibiótico:") for t in seen[2])
    assert session.state.screen is Screen.FEVER and session.sync_interval() == 300
    await session.close()
