"""A redraw never sends a text field again whole: what the browser has typed but Python has not yet heard of
would be overwritten by Python's older value (seen as lost characters under load, #14's note).

Flet re-sends a control whole when it lands in a new parent; screens rebuild their layout (rows, columns,
autofill groups) on every redraw, so the app grafts what it draws onto the controls already on the page
(``shell/graft.py``). Each check types through Flet's own client-patch path, redraws with a banner inserted
above the fields, and reads the messages sent to the browser.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import flet as ft
import pytest

from carnet.shell.app import CarnetUI
from carnet.shell.session import AppSession
from tests.support.inprocess_server import InProcessServer
from tests.support.secret_stores import DictSecretStore

from .test_account_ui import button
from .test_ui_inprocess import click, find, page, walk  # noqa: F401  (page is a fixture)

pytestmark = pytest.mark.anyio


def _sent_text_fields(messages: list[Any]) -> Iterator[Any]:
    """Every TextField serialised whole in the messages (a patch that only changes props names no type)."""
    stack = list(messages)
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if item.get("_c") == "TextField":
                yield item
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)


def _type(page: ft.Page, field: ft.TextField, text: str) -> None:
    """What a keystroke does: the browser's value reaches Python as a client patch."""
    page.session.apply_patch(field._i, {"value": text})


async def _typed_then_redrawn(page: ft.Page, ui: CarnetUI, session: AppSession, labels: list[str]) -> list[Any]:
    fields = {label: f for f in find(page, ft.TextField) for label in labels if f.label == label}
    assert sorted(fields) == sorted(labels), [f.label for f in find(page, ft.TextField)]
    for label, f in fields.items():
        _type(page, f, f"{label} escrito")
    messages = page.session.connection.messages
    messages.clear()
    session.state.add_notice("Aviso de prueba")  # a banner above the fields (redrawn): every position moves
    assert messages, "the redraw sent nothing"
    for label, f in fields.items():
        assert f.value == f"{label} escrito"  # Python still holds what was typed
        assert any(c is f for c in walk(page.views[0])), f"{label} left the page"
        _type(page, f, f"{label} escrito y más")  # what is typed after the redraw still reaches Python
        assert f.value == f"{label} escrito y más", f"{label} is no longer heard from"
    return messages


async def _app(page: ft.Page, config, data_dir, server: InProcessServer) -> tuple[CarnetUI, AppSession]:  # type: ignore[no-untyped-def]
    session = AppSession(config, DictSecretStore(), data_dir, transport=server.transport)
    ui = CarnetUI(page, session)
    ui.render()
    await session.start()
    return ui, session


async def test_login_fields_are_not_sent_again_on_a_redraw(page, config, data_dir, server) -> None:
    ui, session = await _app(page, config, data_dir, server)
    messages = await _typed_then_redrawn(page, ui, session, ["Usuario", "Contraseña"])
    assert list(_sent_text_fields(messages)) == []
    await session.close()


async def test_activation_fields_are_not_sent_again_on_a_redraw(page, config, data_dir, server) -> None:
    ui, session = await _app(page, config, data_dir, server)
    await click(button(page, "Tengo un código de activación"))
    labels = ["Código de activación", "Elige tu usuario", "Elige tu contraseña", "Repite la contraseña"]
    messages = await _typed_then_redrawn(page, ui, session, labels)
    assert list(_sent_text_fields(messages)) == []
    await session.close()


async def test_the_oncology_register_form_is_not_sent_again_on_a_redraw(page, config, data_dir, server) -> None:
    ui, session = await _app(page, config, data_dir, server)
    await session.login("oncologia.demo", "carnet-demo")
    await click(button(page, "Registrar paciente"))
    assert page.views[0].route == "/oncology/register"
    messages = await _typed_then_redrawn(page, ui, session, ["Nombre(s)", "Primer apellido", "CURP", "NSS"])
    assert list(_sent_text_fields(messages)) == []
    await session.close()


async def test_a_changed_field_is_still_sent_and_a_new_one_whole(page, config, data_dir, server) -> None:
    """The check above can fail: a field Python changes is sent (its change only), a new field whole."""
    ui, session = await _app(page, config, data_dir, server)
    await click(button(page, "Tengo un código de activación"))
    code = find(page, ft.TextField, label="Código de activación")[0]
    messages = page.session.connection.messages
    messages.clear()
    await click(button(page, "Activar mi cuenta"))  # empty: each field says what is missing
    assert code.error and code.error in str(messages)
    assert list(_sent_text_fields(messages)) == []
    messages.clear()
    await click(find(page, ft.IconButton, tooltip="Volver")[0])
    assert page.views[0].route == "/login"
    assert len(list(_sent_text_fields(messages))) == 2  # a new screen: its two fields, whole
    await session.close()


async def test_the_oncology_search_field_is_not_sent_again_on_a_redraw(page, config, data_dir, server) -> None:
    ui, session = await _app(page, config, data_dir, server)
    await session.login("oncologia.demo", "carnet-demo")
    assert page.views[0].route == "/oncology"
    messages = await _typed_then_redrawn(page, ui, session, ["Nombre, CURP o NSS"])
    assert list(_sent_text_fields(messages)) == []
    await session.close()
