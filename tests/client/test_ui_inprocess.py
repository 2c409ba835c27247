"""The screens built in-process on a real flet Page (no Flutter): labels, flow, languages.

Flet's own tests build a ``Session`` over a recording ``Connection``; that is
internal API, so it stays in the one fixture below. Handlers are called the
way a click would call them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import flet as ft
import msgpack
import pytest
from flet.controls.base_control import BaseControl
from flet.controls.context import _context_page
from flet.messaging.connection import Connection
from flet.messaging.protocol import configure_encode_object_for_msgpack, decode_ext_from_msgpack
from flet.messaging.session import Session
from flet.pubsub.pubsub_hub import PubSubHub
from sqlalchemy import select

from carnet.core.config import AppConfig
from carnet.data.secret_store import MemorySecretStore, SecretStore
from carnet.shell.app import CarnetUI
from carnet.shell.session import AppSession
from carnet_server.patients.tables import Patient
from tests.support.inprocess_server import InProcessServer
from tests.support.secret_stores import DictSecretStore

pytestmark = pytest.mark.anyio


def _wire(obj: Any) -> Any:
    packed = msgpack.packb(obj, default=configure_encode_object_for_msgpack(BaseControl))
    return msgpack.unpackb(packed, ext_hook=decode_ext_from_msgpack, strict_map_key=False)


class RecordingConnection(Connection):
    """Encodes every message like a real transport would, and keeps it."""

    def __init__(self) -> None:
        super().__init__()
        self.pubsubhub = PubSubHub()
        self.messages: list[Any] = []

    def send_message(self, message: Any) -> None:
        self.messages.append(_wire([message.action, message.body]))


@pytest.fixture
async def page() -> Iterator[ft.Page]:
    connection = RecordingConnection()
    connection.loop = asyncio.get_running_loop()
    session = Session(connection)
    _wire(session.get_page_patch())
    token = _context_page.set(session.page)
    yield session.page
    _context_page.reset(token)


async def _ui(page: ft.Page, config: AppConfig, data_dir: Path, server: InProcessServer,
              secrets: SecretStore) -> tuple[CarnetUI, AppSession]:
    session = AppSession(config, secrets, data_dir, transport=server.transport)
    ui = CarnetUI(page, session)
    ui.render()
    await session.start()
    return ui, session


def walk(control: Any) -> Iterator[Any]:
    """Every control under ``control`` (fields holding controls or lists of them)."""
    if isinstance(control, BaseControl):
        yield control
        for name in getattr(control, "__dataclass_fields__", {}):
            if name.startswith("_") or name == "parent":
                continue
            value = getattr(control, name, None)
            if isinstance(value, BaseControl):
                yield from walk(value)
            elif isinstance(value, list):
                for item in value:
                    yield from walk(item)


def texts(page: ft.Page) -> list[str]:
    return [c.value for c in walk(page.views[0]) if isinstance(c, ft.Text)]


def find(page: ft.Page, kind: type, **attrs: Any) -> list[Any]:
    return [c for c in walk(page.views[0]) if isinstance(c, kind)
            and all(getattr(c, k, None) == v for k, v in attrs.items())]


async def click(control: Any) -> None:
    result = control.on_click(None)
    if asyncio.iscoroutine(result):
        await result


async def test_login_pick_child_and_carnet(page, config, data_dir, server) -> None:
    ui, session = await _ui(page, config, data_dir, server, DictSecretStore())
    assert page.views[0].route == "/login"
    [user] = find(page, ft.TextField, label="Usuario")
    [password] = find(page, ft.TextField, label="Contraseña")
    assert password.password
    user.value, password.value = "madre.demo", "carnet-demo"
    [enter] = find(page, ft.FilledButton, content="Entrar")
    await click(enter)

    assert page.views[0].route == "/children"
    buttons = find(page, ft.FilledTonalButton)
    assert [b.tooltip for b in buttons] == ["Ver carnet de Mateo Hernández", "Ver carnet de Valentina Hernández"]
    assert all(b.height >= 48 for b in buttons)
    await click(buttons[0])

    assert page.views[0].route == "/carnet"
    [qr] = find(page, ft.Image, semantics_label="Código QR del carnet de Mateo Hernández")
    assert isinstance(qr.src, bytes) and qr.src.startswith(b"\x89PNG") and qr.width >= 250
    shown = texts(page)
    with server.db() as db:  # Mateo as the server keeps him
        mateo = db.scalars(select(Patient).where(Patient.display_name == "Mateo Hernández")).one()
    assert "Mateo Hernández López" in shown and mateo.nss in shown
    assert any(t.startswith("Válido hasta ") for t in shown)
    assert "Mezcla: en preparación" in shown  # his next cycle's mixture
    assert any("Metotrexato intratecal: 12 mg, vía IT" in t for t in shown)
    for button in find(page, ft.IconButton):  # every icon button has a name and a touch-sized target
        assert button.tooltip and button.icon.semantics_label == button.tooltip
        assert button.width >= 48 and button.height >= 48
    await session.close()


async def test_wrong_password_shows_message_and_keeps_username(page, config, data_dir, server) -> None:
    ui, session = await _ui(page, config, data_dir, server, DictSecretStore())
    [user] = find(page, ft.TextField, label="Usuario")
    [password] = find(page, ft.TextField, label="Contraseña")
    user.value, password.value = "madre.demo", "nope"
    await click(find(page, ft.FilledButton)[0])
    assert "Usuario o contraseña incorrectos." in texts(page)
    assert find(page, ft.TextField, label="Usuario")[0].value == "madre.demo"
    assert find(page, ft.TextField, label="Contraseña")[0].value == ""
    await session.close()


async def test_progress_is_visible_while_logging_in(page, config, data_dir, server) -> None:
    ui, session = await _ui(page, config, data_dir, server, DictSecretStore())
    session.state.start_login()
    assert find(page, ft.ProgressRing, semantics_label="Entrando…")
    assert find(page, ft.FilledButton)[0].disabled
    await session.close()


async def test_memory_only_device_shows_the_notice(page, config, data_dir, server) -> None:
    ui, session = await _ui(page, config, data_dir, server, MemorySecretStore())
    assert ("Este dispositivo no tiene almacenamiento seguro: la sesión no se guardará al cerrar la app"
            in texts(page))
    await session.close()


async def test_settings_language_and_logout(page, config, data_dir, server) -> None:
    ui, session = await _ui(page, config, data_dir, server, DictSecretStore())
    await session.login("padre.demo", "carnet-demo")
    assert page.views[0].route == "/carnet"
    [settings] = find(page, ft.IconButton, tooltip="Ajustes")
    await click(settings)
    assert page.views[0].route == "/settings"
    [group] = find(page, ft.RadioGroup)
    group.value = "en"
    group.on_change(type("ChangeEvent", (), {"control": group})())  # schedules page.run_task
    for _ in range(1000):  # yield to the loop until the task ran (bounded; no sleeping)
        if session.state.locale == "en":
            break
        await asyncio.sleep(0)
    assert session.state.locale == "en"
    assert "Log out" in [b.content for b in find(page, ft.OutlinedButton)]
    await click(find(page, ft.IconButton, tooltip="Back")[0])
    assert page.views[0].route == "/carnet"
    assert any(t.startswith("Valid until ") for t in texts(page))
    await click(find(page, ft.IconButton, tooltip="Settings")[0])
    await click(find(page, ft.OutlinedButton)[0])
    assert page.views[0].route == "/login"
    assert find(page, ft.FilledButton, content="Log in")
    await session.close()


async def test_offline_start_shows_cached_carnet_with_banner(page, config, data_dir, server) -> None:
    secrets = DictSecretStore()
    first = AppSession(config, secrets, data_dir, transport=server.transport)
    await first.start()
    await first.login("padre.demo", "carnet-demo")
    await first.close()
    server.transport.offline = True
    ui, session = await _ui(page, config, data_dir, server, secrets)
    session.api._backoff = lambda attempt: 0.0
    assert page.views[0].route == "/carnet"
    await session.refresh()
    assert any(t.startswith("Sin conexión — datos del ") for t in texts(page))
    assert find(page, ft.Image, semantics_label="Código QR del carnet de Santiago Ramírez")
    await session.close()
