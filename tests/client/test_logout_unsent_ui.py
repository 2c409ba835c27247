"""Logging out with writes not sent yet (issue #16, item 1), built in-process against the real server: the question
says how many and what; "Cancelar" keeps them (they reach the server later); "Cerrar sesión y descartar" really
erases them; "Enviar y cerrar sesión" logs out only once everything went, else says what stayed."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import flet as ft
import pytest

from carnet.core.i18n import Translator
from carnet.core.navigation import Phase, Screen
from carnet.data.outbox import OutboxItem, OutboxState, WriteOp
from carnet.incidents.repository import PHOTO_TYPE
from carnet.shell.app import CarnetUI
from carnet.shell.session import AppSession
from carnet.shell.unsent import describe_unsent
from carnet_contract import models as contract
from tests.support.inprocess_server import InProcessServer
from tests.support.secret_stores import DictSecretStore

from . import test_ui_inprocess
from .test_incidents import _report, ours
from .test_ui_inprocess import click, find, texts

pytestmark = pytest.mark.anyio
page = test_ui_inprocess.page  # the fixture: a real flet Page, in process
TEXT = "No hay en farmacia desde el lunes (antes de cerrar sesión)."


def _item(type_: str, op: WriteOp = WriteOp.CREATE) -> OutboxItem:
    return OutboxItem(
        id="i",
        seq=1,
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
        state=OutboxState.PENDING,
        attempts=0,
        next_attempt_at=None,
        type=type_,
        op=op,
        method="POST",
        path="/",
        body=None,
        record_id="r",
        patient_id="p",
        label="",
        error=None,
        error_kind=None,
    )


def test_unsent_writes_are_named_the_way_a_parent_says_it() -> None:
    es, en = Translator(), Translator("en")
    report, photo = _item(contract.SyncType.INCIDENT), _item(PHOTO_TYPE, WriteOp.UPDATE)
    appointment = _item(contract.SyncType.APPOINTMENT)
    assert describe_unsent(es, [report]) == "1 reporte"
    assert describe_unsent(es, [appointment, report]) == "1 reporte y 1 cita"
    assert describe_unsent(es, [report, photo, photo, appointment]) == "1 reporte, 2 fotos y 1 cita"
    assert describe_unsent(en, [report, report, appointment]) == "2 reports and 1 appointment"
    assert (
        describe_unsent(
            es, [_item(contract.SyncType.INCIDENT, WriteOp.UPDATE), _item(contract.SyncType.BLOOD_BANK_BOOKING)]
        )
        == "1 respuesta a un reporte y 1 cita del banco de sangre"
    )
    assert describe_unsent(es, []) == ""


async def _offline_writes(page, config, data_dir, server: InProcessServer):  # type: ignore[no-untyped-def]
    """madre.demo logged in; offline, a report and an appointment written; settings open."""
    session = AppSession(config, DictSecretStore(), data_dir, transport=server.transport)
    session.api._backoff = lambda attempt: 0.0
    ui = CarnetUI(page, session)
    ui.render()
    await session.start()
    await session.login("madre.demo", "carnet-demo")
    server.transport.offline = True
    assert _report(session, text=TEXT)
    session.agenda.new()
    form = session.state.agenda.form
    assert form is not None
    form.title = "Consulta de nutrición"
    assert session.agenda.save(form)
    await session.refresh()
    assert session.state.online is False and len(session.unsent()) == 2
    session.show(Screen.SETTINGS)
    assert page.views[0].route == "/settings"
    return ui, session


def _button(page, text: str) -> Any:  # type: ignore[no-untyped-def]
    found = [
        b for kind in (ft.FilledButton, ft.OutlinedButton, ft.TextButton) for b in find(page, kind) if b.content == text
    ]
    assert len(found) == 1, (text, texts(page))
    return found[0]


async def test_logout_asks_first_and_cancel_keeps_every_unsent_write(
    page, config, data_dir, server: InProcessServer
) -> None:
    _ui, session = await _offline_writes(page, config, data_dir, server)
    await click(_button(page, "Cerrar sesión"))
    assert session.state.phase is Phase.READY, "no logout without asking"
    shown = texts(page)
    assert "Tienes 1 reporte y 1 cita sin enviar." in shown
    assert "Si cierras sesión sin enviarlos, se borran de este teléfono y no llegarán." in shown
    for choice in ("Enviar y cerrar sesión", "Cerrar sesión y descartar", "Cancelar"):
        assert _button(page, choice).height >= 48
    await click(_button(page, "Cancelar"))
    assert "Tienes 1 reporte y 1 cita sin enviar." not in texts(page)
    _button(page, "Cerrar sesión")  # the plain button again
    assert session.state.phase is Phase.READY and len(session.unsent()) == 2
    server.transport.offline = False
    await session.refresh()
    assert len(ours(server, TEXT)) == 1 and session.unsent() == []
    await session.close()


@pytest.mark.parametrize("web", [False, True], ids=["phone", "web-session"])
async def test_logout_and_discard_really_erases_them(
    page, config, data_dir, server: InProcessServer, web: bool
) -> None:
    _ui, session = await _offline_writes(page, config, None if web else data_dir, server)
    await click(_button(page, "Cerrar sesión"))
    await click(_button(page, "Cerrar sesión y descartar"))
    assert session.state.phase is Phase.LOGIN and page.views[0].route == "/login"
    server.transport.offline = False
    await session.login("madre.demo", "carnet-demo")  # the same person, on the same phone
    assert session.state.phase is Phase.READY
    assert session.unsent() == [] and session.pending_count() == 0
    await session.refresh()
    assert ours(server, TEXT) == [], "a discarded report never reaches the server"
    await session.close()


async def test_send_and_logout_says_what_stayed_offline_and_logs_out_once_sent(
    page, config, data_dir, server: InProcessServer
) -> None:
    _ui, session = await _offline_writes(page, config, data_dir, server)
    await click(_button(page, "Cerrar sesión"))
    await click(_button(page, "Enviar y cerrar sesión"))
    assert session.state.phase is Phase.READY, "nothing went: the session stays"
    assert "Sin conexión: sigue sin enviar 1 reporte y 1 cita. Tu sesión sigue abierta." in texts(page)
    assert len(session.unsent()) == 2
    server.transport.offline = False
    await click(_button(page, "Enviar y cerrar sesión"))
    assert session.state.phase is Phase.LOGIN and page.views[0].route == "/login"
    assert len(ours(server, TEXT)) == 1
    await session.close()
