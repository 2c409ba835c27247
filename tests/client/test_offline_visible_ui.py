"""Offline is visible at once and the app catches up by itself (issue #16, item 5), built in-process against the
real server: the cloud icon says "Sin conexión" (its accessible name too) after an offline start or a lost network;
the case desk's answer arrives when the app comes back to the foreground and right after "Mis reportes" opens."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace

import flet as ft
import pytest

from carnet.core.navigation import Screen
from carnet.data.secret_store import SecretStore
from carnet.shell.app import CarnetUI
from carnet.shell.session import AppSession
from carnet_contract import models as contract
from tests.support.inprocess_server import InProcessServer
from tests.support.secret_stores import DictSecretStore

from . import test_ui_inprocess
from .test_incidents import _report, add_incident, resolve
from .test_ui_inprocess import find

pytestmark = pytest.mark.anyio
page = test_ui_inprocess.page  # the fixture: a real flet Page, in process
SYNC_ICONS = {ft.Icons.CLOUD_OFF, ft.Icons.CLOUD_DONE, ft.Icons.CLOUD_UPLOAD, ft.Icons.SYNC_PROBLEM}
ANSWER = "Ya llegó el medicamento: pase el jueves a la farmacia."


async def _app(page, config, data_dir, server: InProcessServer, secrets: SecretStore):  # type: ignore[no-untyped-def]
    session = AppSession(config, secrets, data_dir, transport=server.transport)
    session.api._backoff = lambda attempt: 0.0
    ui = CarnetUI(page, session)
    ui.render()
    if await session.start():
        await session.refresh()
    else:
        await session.login("madre.demo", "carnet-demo")
    return ui, session


def cloud(page) -> ft.IconButton:  # type: ignore[no-untyped-def]
    """The app bar's sync icon (the one whose icon is a cloud)."""
    [found] = [b for b in find(page, ft.IconButton) if b.icon.icon in SYNC_ICONS]
    return found


async def test_an_offline_start_shows_the_cloud_offline_with_a_name(
    page, config, data_dir, server: InProcessServer
) -> None:
    secrets = DictSecretStore()
    first = AppSession(config, secrets, data_dir, transport=server.transport)
    await first.start()
    await first.login("madre.demo", "carnet-demo")
    await first.close()
    server.transport.offline = True  # the app starts with no network: its first sync fails
    _ui, session = await _app(page, config, data_dir, server, secrets)
    assert page.views[0].route == "/children"
    icon = cloud(page)
    assert icon.icon.icon == ft.Icons.CLOUD_OFF
    assert icon.tooltip == icon.icon.semantics_label == "Sin conexión"
    assert _report(session)  # a write while offline: the name counts it
    await session.refresh()  # (the sync each write asks for)
    session.show(Screen.CHILDREN)
    assert cloud(page).tooltip == "Sin conexión. Cambios pendientes de enviar: 1"
    server.transport.offline = False
    await session.refresh()
    assert cloud(page).icon.icon == ft.Icons.CLOUD_DONE and session.state.online is True
    await session.close()


async def test_a_lost_network_shows_offline_before_any_sync(page, config, data_dir, server: InProcessServer) -> None:
    _ui, session = await _app(page, config, data_dir, server, DictSecretStore())
    assert cloud(page).icon.icon == ft.Icons.CLOUD_DONE
    await session.network_changed(False)  # Flet's connectivity event
    assert cloud(page).icon.icon == ft.Icons.CLOUD_OFF and cloud(page).tooltip == "Sin conexión"
    await session.close()


def _status(session, incident_id: str) -> contract.IncidentStatus | None:  # type: ignore[no-untyped-def]
    return next((r.status for r in session.state.incidents.reports if r.id == incident_id), None)


async def test_back_in_the_foreground_the_case_desks_answer_shows(
    page, config, data_dir, server: InProcessServer
) -> None:
    incident_id = add_incident(server, "Mateo Hernández", "medicamento", "No hay metotrexato.", item_name="MTX")
    _ui, session = await _app(page, config, data_dir, server, DictSecretStore())
    session.report.show_list()
    assert _status(session, incident_id) is contract.IncidentStatus.RECIBIDA
    resolve(server, incident_id, ANSWER)
    await session.app_lifecycle("resume")  # a focus change alone (never hidden): no sync
    assert _status(session, incident_id) is contract.IncidentStatus.RECIBIDA
    await session.app_lifecycle("hide")
    await session.app_lifecycle("show")
    assert _status(session, incident_id) is contract.IncidentStatus.ATENDIDA
    await session.close()


async def test_opening_my_reports_brings_the_answer_without_waiting_for_the_interval(
    page, config, data_dir, server: InProcessServer
) -> None:
    incident_id = add_incident(server, "Mateo Hernández", "medicamento", "No hay metotrexato.", item_name="MTX")
    _ui, session = await _app(page, replace(config, sync_interval_seconds=300), data_dir, server, DictSecretStore())
    loop = asyncio.create_task(session.run_periodic_sync())
    try:
        resolve(server, incident_id, ANSWER)
        session.report.show_list()
        deadline = time.monotonic() + 20
        while _status(session, incident_id) is not contract.IncidentStatus.ATENDIDA:
            assert time.monotonic() < deadline, "the answer did not arrive after opening Mis reportes"
            await asyncio.sleep(0.05)  # poll interval, not a wait for state
        assert page.views[0].route == "/reports"
    finally:
        loop.cancel()
        await asyncio.gather(loop, return_exceptions=True)
        await session.close()
