"""Ajustes → WhatsApp and Ajustes → Recordatorios built in-process (no Flutter) against the real server in
process: by click, a guardian gets a link code, the bot links the number (the code sent from a phone, done
here with the server's own function), "Ya lo envié" shows it linked, "Desvincular" asks, then unlinks; the
reminder switches reach ``/me/reminders``, offline too once the network is back. Staff see neither entry.

These need the server's ``/api/v1/me/whatsapp*`` and ``/api/v1/me/reminders`` (issue #18)."""

from __future__ import annotations

import re

import flet as ft
import pytest
from sqlalchemy import select

from carnet.reminders.preferences import REMINDERS_TYPE
from carnet.shell.app import CarnetUI
from carnet.shell.session import AppSession
from tests.support.inprocess_server import InProcessServer
from tests.support.secret_stores import DictSecretStore

from .test_ui_inprocess import click, find, page, texts, walk  # noqa: F401  (page is a fixture)

pytestmark = pytest.mark.anyio

BOT = "+52 55 0000 0000"
PHONE = "5215512345678"
CODE = re.compile(r"^CARNET-[A-Z0-9]{5}$")


async def _app(page, config, data_dir, server, username: str):  # type: ignore[no-untyped-def]
    session = AppSession(config, DictSecretStore(), data_dir, transport=server.transport)
    session.api._backoff = lambda attempt: 0.0
    ui = CarnetUI(page, session)
    ui.render()
    await session.start()
    await session.login(username, "carnet-demo")
    return ui, session


def button(page, name: str):  # type: ignore[no-untyped-def]
    kinds = (ft.FilledButton, ft.OutlinedButton, ft.FilledTonalButton, ft.TextButton)
    found = [
        b
        for kind in kinds
        for b in find(page, kind)
        if (b.content.value if isinstance(b.content, ft.Text) else b.content) == name
    ]
    assert found, f"{name!r} not among the buttons"
    return found[0]


def has_button(page, name: str) -> bool:  # type: ignore[no-untyped-def]
    try:
        button(page, name)
    except AssertionError:
        return False
    return True


def all_targets_big(page) -> bool:  # type: ignore[no-untyped-def]
    """Every button on screen is at least 48 px tall, and says what it does."""
    kinds = (ft.FilledButton, ft.OutlinedButton, ft.FilledTonalButton, ft.TextButton)
    found = [b for kind in kinds for b in find(page, kind)]
    assert found
    return all((b.height or 0) >= 48 and b.content for b in found)


def the_code(page) -> str:  # type: ignore[no-untyped-def]
    [code] = [t for t in texts(page) if t and CODE.match(t)]
    return code


def linked_phone(server: InProcessServer, username: str) -> str | None:
    from carnet_server.whatsapp.tables import WhatsAppLink

    with server.db() as db:
        return db.scalar(select(WhatsAppLink.phone).where(WhatsAppLink.user_id == server.user_id(username)))


def family_sends(server: InProcessServer, code: str) -> None:
    """What the bot does when a message with the code arrives from ``PHONE``."""
    from carnet_server.whatsapp import links

    with server.db() as db:
        links.link_by_code(db, ctx=server.ctx, phone=PHONE, raw=code.split("-", 1)[1])
        db.commit()


async def test_link_recheck_and_unlink_by_click(page, config, data_dir, server: InProcessServer) -> None:
    with server.configured(whatsapp_bot_number=BOT):
        _ui, session = await _app(page, config, data_dir, server, "madre.demo")
        await click(find(page, ft.IconButton, tooltip="Ajustes")[0])
        await click(button(page, "WhatsApp"))
        assert page.views[0].route == "/settings/whatsapp"
        assert "WhatsApp no vinculado" in texts(page)
        link = button(page, "Vincular WhatsApp")
        assert link.height >= 48
        await click(link)
        code = the_code(page)
        shown = texts(page)
        assert "1. Abre WhatsApp en tu teléfono." in shown
        assert f"2. Escribe a Mi Chat ONCOIMSS al {BOT}." in shown
        assert "3. Envía este código:" in shown
        assert any(t.startswith("El código vence el ") for t in shown)
        [big] = find(page, ft.Text, value=code)
        assert big.selectable and big.size >= 32 and big.color == ft.Colors.BLACK
        assert linked_phone(server, "madre.demo") is None
        assert all_targets_big(page)
        await click(button(page, "Ya lo envié"))  # not sent yet
        assert any("aún no llega" in t for t in texts(page))
        assert the_code(page) == code
        family_sends(server, code)
        await click(button(page, "Ya lo envié"))
        shown = texts(page)
        assert "Vinculado: •••• 5678" in shown and "Listo: tu WhatsApp •••• 5678 quedó vinculado." in shown
        assert not any(t and CODE.match(t) for t in shown)  # the code is spent: gone
        assert linked_phone(server, "madre.demo") == PHONE
        assert PHONE not in " ".join(t for t in shown if t)  # only the last four digits, ever
        await click(button(page, "Desvincular"))
        assert "¿Desvincular tu WhatsApp?" in texts(page)
        await click(button(page, "Cancelar"))
        assert "¿Desvincular tu WhatsApp?" not in texts(page) and linked_phone(server, "madre.demo") == PHONE
        await click(button(page, "Desvincular"))
        assert all_targets_big(page)
        await click(button(page, "Sí, desvincular"))
        assert "WhatsApp no vinculado" in texts(page) and "Tu WhatsApp quedó desvinculado." in texts(page)
        assert linked_phone(server, "madre.demo") is None
        session.back()
        assert page.views[0].route == "/settings"
        await session.close()


async def test_offline_no_code_and_a_clear_message(page, config, data_dir, server: InProcessServer) -> None:
    _ui, session = await _app(page, config, data_dir, server, "madre.demo")
    await click(find(page, ft.IconButton, tooltip="Ajustes")[0])
    await click(button(page, "WhatsApp"))
    server.transport.offline = True
    await click(button(page, "Vincular WhatsApp"))
    shown = texts(page)
    assert "Sin conexión: para pedir un código se necesita internet. Intenta de nuevo con conexión." in shown
    assert not any(t and CODE.match(t) for t in shown)
    server.transport.offline = False
    await session.close()


async def test_staff_settings_have_no_whatsapp_nor_reminders(page, config, data_dir, server: InProcessServer) -> None:
    _ui, session = await _app(page, config, data_dir, server, "casos.demo")
    await click(find(page, ft.IconButton, tooltip="Ajustes")[0])
    assert page.views[0].route == "/settings"
    assert not has_button(page, "WhatsApp") and not has_button(page, "Recordatorios")
    assert has_button(page, "Mi cuenta")
    await session.close()


def switches(page) -> dict[str, ft.Switch]:  # type: ignore[no-untyped-def]
    """Each reminder switch by the words beside it (one merged node for a screen reader)."""
    found: dict[str, ft.Switch] = {}
    for merged in find(page, ft.MergeSemantics):
        inner = list(walk(merged))
        boxes = [c for c in inner if isinstance(c, ft.Switch)]
        if len(boxes) == 1:
            [words] = [c.value for c in inner if isinstance(c, ft.Text)]
            found[words] = boxes[0]
    return found


#: The three appointment reminders, each its own switch (chemotherapy, consultation, laboratory).
APPOINTMENT_KINDS = ["quimioterapia_manana", "consulta_manana", "laboratorio_manana"]


async def flip(switch: ft.Switch, value: bool) -> None:
    class Event:
        control = switch

    switch.value = value
    switch.on_change(Event())  # type: ignore[arg-type, misc]


async def test_reminder_switches_reach_the_server_offline_too(page, config, data_dir, server: InProcessServer) -> None:
    _ui, session = await _app(page, config, data_dir, server, "madre.demo")
    assert server.ok("madre.demo", "GET", "/api/v1/me/reminders")["kinds"] == [
        *APPOINTMENT_KINDS,
        "mezcla_lista",
        "reporte_respondido",
        "donacion_manana",
    ]  # never chose: every kind
    await click(find(page, ft.IconButton, tooltip="Ajustes")[0])
    await click(button(page, "Recordatorios"))
    assert page.views[0].route == "/settings/reminders"
    assert "Te llegan por WhatsApp si tu número está vinculado, y como notificaciones en tu teléfono." in texts(page)
    shown = switches(page)
    assert list(shown) == [
        "Sesión de quimioterapia mañana",
        "Consulta mañana",
        "Laboratorio mañana",
        "Mezcla lista",
        "Respuesta a un reporte",
        "Donación de mañana",
    ]
    assert all(s.value for s in shown.values())
    assert all_targets_big(page)
    await flip(shown["Mezcla lista"], False)
    await session.refresh()
    assert server.ok("madre.demo", "GET", "/api/v1/me/reminders")["kinds"] == [
        *APPOINTMENT_KINDS,
        "reporte_respondido",
        "donacion_manana",
    ]
    assert session.state.reminders.kinds == {*APPOINTMENT_KINDS, "reporte_respondido", "donacion_manana"}
    # each appointment kind is its own switch: the consultation off, chemotherapy and laboratory stay
    await flip(switches(page)["Consulta mañana"], False)
    await session.refresh()
    assert server.ok("madre.demo", "GET", "/api/v1/me/reminders")["kinds"] == [
        "quimioterapia_manana",
        "laboratorio_manana",
        "reporte_respondido",
        "donacion_manana",
    ]
    await flip(switches(page)["Consulta mañana"], True)
    await session.refresh()
    # offline: kept on the phone (the outbox), sent when the network is back
    server.transport.offline = True
    await flip(switches(page)["Donación de mañana"], False)
    await session.refresh()
    assert not switches(page)["Donación de mañana"].value
    assert any(t and t.startswith("Tu elección está guardada en este teléfono") for t in texts(page))
    assert [i.type for i in session.unsent()] == [REMINDERS_TYPE]
    assert server.ok("madre.demo", "GET", "/api/v1/me/reminders")["kinds"] == [
        *APPOINTMENT_KINDS,
        "reporte_respondido",
        "donacion_manana",
    ]
    server.transport.offline = False
    await session.network_changed(True)
    await session.refresh()
    assert server.ok("madre.demo", "GET", "/api/v1/me/reminders")["kinds"] == [*APPOINTMENT_KINDS, "reporte_respondido"]
    assert session.unsent() == []
    assert not any(t and t.startswith("Tu elección está guardada en este teléfono") for t in texts(page))
    # chosen on another phone: opening the screen reads it
    server.ok("madre.demo", "PUT", "/api/v1/me/reminders", json={"kinds": ["mezcla_lista"]})
    session.back()
    await click(button(page, "Recordatorios"))
    assert [w for w, s in switches(page).items() if s.value] == ["Mezcla lista"]
    await session.close()


async def test_the_case_desk_unlinks_a_lost_phones_number(page, config, data_dir, server: InProcessServer) -> None:
    """The family's phone was lost: the desk types the number and the link ends; a wrong number changes nothing."""
    from carnet_server.whatsapp import links

    with server.db() as db:
        db.add(links.WhatsAppLink(user_id=server.user_id("madre.demo"), phone=PHONE, method="code"))
        db.commit()
    _ui, session = await _app(page, config, data_dir, server, "casos.demo")
    assert "WhatsApp: desvincular un número" in texts(page)
    field = next(f for f in find(page, ft.TextField) if f.label == "Número de WhatsApp (10 dígitos)")
    for typed, expected in (
        ("55 12", "Escriba el número con 10 dígitos"),
        ("55 9999 8888", "no está vinculado a ninguna cuenta"),
    ):
        field.value = typed
        field.on_change(type("E", (), {"control": field})())
        await click(button(page, "Desvincular número"))
        assert any(expected in (t or "") for t in texts(page)), texts(page)
        assert linked_phone(server, "madre.demo") == PHONE
        field = next(f for f in find(page, ft.TextField) if f.label == "Número de WhatsApp (10 dígitos)")
    field.value = "55 1234 5678"
    field.on_change(type("E", (), {"control": field})())
    await click(button(page, "Desvincular número"))
    assert "Número desvinculado: ya no recibe información por WhatsApp." in texts(page)
    assert linked_phone(server, "madre.demo") is None
    await session.close()
