"""The privacy notice and "Mi cuenta" built in-process (no Flutter): labels, touch sizes, the flows by click."""

from __future__ import annotations

import json

import flet as ft
import pytest
from sqlalchemy import select

from carnet.core.i18n import Translator
from carnet.shell.app import CarnetUI
from carnet.shell.session import AppSession
from carnet.views.auth import account as account_view
from carnet_server.auth.tables import User
from carnet_server.privacy.notices import current_notice
from tests.support.inprocess_server import InProcessServer
from tests.support.secret_stores import DictSecretStore

from .test_ui_inprocess import click, find, page, texts  # noqa: F401  (page is a fixture)

pytestmark = pytest.mark.anyio


async def _app(page, config, data_dir, server, username: str):  # type: ignore[no-untyped-def]
    session = AppSession(config, DictSecretStore(), data_dir, transport=server.transport)
    session.api._backoff = lambda attempt: 0.0
    ui = CarnetUI(page, session)
    ui.render()
    await session.start()
    await session.login(username, "carnet-demo")
    return ui, session


def button(page, name: str):  # type: ignore[no-untyped-def]
    """The button whose text is ``name``."""
    kinds = (ft.FilledButton, ft.OutlinedButton, ft.FilledTonalButton, ft.TextButton)
    found = [b for kind in kinds for b in find(page, kind)
             if (b.content.value if isinstance(b.content, ft.Text) else b.content) == name]
    assert found, f"{name!r} not among {[getattr(b.content, 'value', b.content) for k in kinds for b in find(page, k)]}"
    return found[0]


async def test_notice_gate_shows_the_text_and_accept_opens_the_carnet(page, config, data_dir,
                                                                      server: InProcessServer) -> None:
    server.forget_acceptance("padre.demo")
    ui, session = await _app(page, config, data_dir, server, "padre.demo")
    assert page.views[0].route == "/privacy"
    shown = texts(page)
    notice = current_notice(server.ctx.settings)  # the server's notice in force, in Spanish
    assert notice.es.title in shown and notice.es.summary in shown
    assert [s.heading for s in notice.es.sections] == [t for t in shown if t in {s.heading for s in notice.es.sections}]
    assert f"Versión {notice.version}, publicada el {Translator('es-MX').date(notice.published_on)}" in shown
    assert "Para aceptar el aviso se necesita conexión a internet." in shown
    accept, decline = button(page, "Acepto"), button(page, "Ahora no")
    assert accept.height >= 48 and decline.height >= 48 and not accept.disabled
    first = notice.es.sections[0]
    read = [t for t in find(page, ft.Text) if t.value in (first.heading, first.body)]
    assert len(read) == 2 and all(t.size >= 15 for t in read)
    await click(accept)
    assert page.views[0].route == "/carnet"
    assert find(page, ft.Image, semantics_label="Código QR del carnet de Santiago Ramírez")
    await session.close()


async def test_ahora_no_goes_back_to_login_with_the_reason(page, config, data_dir, server: InProcessServer) -> None:
    server.forget_acceptance("padre.demo")
    ui, session = await _app(page, config, data_dir, server, "padre.demo")
    await click(button(page, "Ahora no"))
    assert page.views[0].route == "/login"
    assert any("sin aceptar el aviso de privacidad" in t for t in texts(page))
    await session.close()


async def test_mi_cuenta_password_form_by_click(page, config, data_dir, server: InProcessServer) -> None:
    ui, session = await _app(page, config, data_dir, server, "madre.demo")
    await click(find(page, ft.IconButton, tooltip="Ajustes")[0])
    await click(button(page, "Mi cuenta"))
    assert page.views[0].route == "/account"
    shown = texts(page)
    with server.db() as db:  # when the demo guardian accepted the notice, as the server keeps it
        accepted_at = db.scalars(select(User.privacy_accepted_at).where(User.username == "madre.demo")).one()
    assert accepted_at is not None
    assert f"Aceptado el {Translator('es-MX').datetime(accepted_at)}" in shown
    for name in ("Cambiar contraseña", "Leer el aviso de privacidad", "Descargar mis datos",
                 "Solicitar cierre de cuenta"):
        assert button(page, name).height >= 48
    await click(button(page, "Cambiar contraseña"))
    assert page.views[0].route == "/account/password"
    fields = {f.label: f for f in find(page, ft.TextField)}
    assert set(fields) == {"Contraseña actual", "Contraseña nueva", "Repite la contraseña nueva"}
    assert all(f.password for f in fields.values())
    await click(button(page, "Mostrar contraseñas"))
    assert not any(f.password for f in find(page, ft.TextField))
    assert button(page, "Ocultar contraseñas")
    fields["Contraseña actual"].value = "carnet-demo"
    fields["Contraseña nueva"].value = "una-clave-nueva"
    fields["Repite la contraseña nueva"].value = "una-clave-nuev"
    await click(button(page, "Cambiar contraseña"))
    [repeat] = find(page, ft.TextField, label="Repite la contraseña nueva")
    assert repeat.error == "Las dos contraseñas nuevas no coinciden."
    assert find(page, ft.TextField, label="Contraseña actual")[0].value == "carnet-demo"  # kept across redraws
    fields["Contraseña actual"].value = "wrong-one"
    fields["Repite la contraseña nueva"].value = "una-clave-nueva"
    await click(button(page, "Cambiar contraseña"))
    assert find(page, ft.TextField, label="Contraseña actual")[0].error == "La contraseña actual no es correcta."
    fields["Contraseña actual"].value = "carnet-demo"
    await click(button(page, "Cambiar contraseña"))
    assert page.views[0].route == "/login"
    assert "Contraseña cambiada. Entra de nuevo con la nueva." in texts(page)
    await session.close()


async def test_export_and_closure_by_click(page, config, data_dir, server: InProcessServer, monkeypatch) -> None:
    saved: list[tuple[str, bytes, str]] = []

    async def fake_save(name: str, data: bytes, extension: str) -> bool:
        saved.append((name, data, extension))
        return True

    monkeypatch.setattr(account_view, "save_bytes", fake_save)
    ui, session = await _app(page, config, data_dir, server, "madre.demo")
    await session.account.open()
    await click(button(page, "Descargar mis datos"))
    [(name, data, extension)] = saved
    assert extension == "json" and name.startswith("carnet-mis-datos-")
    assert {c["patient"]["id"] for c in json.loads(data)["children"]} == set(server.children("madre.demo").values())
    assert f"Listo: se descargó {name}." in texts(page)

    await click(button(page, "Solicitar cierre de cuenta"))
    assert page.views[0].route == "/account/closure"
    shown = texts(page)
    assert any("expediente clínico" in t for t in shown) and any("deja de funcionar" in t for t in shown)
    [reason] = find(page, ft.TextField, label="Motivo (opcional)")
    reason.value = "Cambiamos de hospital"
    await click(button(page, "Continuar"))
    assert any(t.startswith("¿Solicitar el cierre de tu cuenta?") for t in texts(page))
    await click(button(page, "Sí, solicitar el cierre"))
    assert page.views[0].route == "/account"
    assert any(t.startswith("Solicitud registrada el ") for t in texts(page))
    await click(button(page, "Retirar solicitud"))
    assert "Retiraste la solicitud. Tu cuenta sigue activa." in texts(page)
    assert button(page, "Solicitar cierre de cuenta")

    await session.set_locale("en")
    assert button(page, "Download my data") and button(page, "Ask to close the account")
    assert any(t.startswith("Accepted on ") for t in texts(page))
    await session.close()


async def test_staff_mi_cuenta_has_the_password_only(page, config, data_dir, server: InProcessServer) -> None:
    ui, session = await _app(page, config, data_dir, server, "farmacia.demo")
    await click(find(page, ft.IconButton, tooltip="Ajustes")[0])
    await click(button(page, "Mi cuenta"))
    assert page.views[0].route == "/account"
    buttons = find(page, ft.FilledTonalButton) + find(page, ft.FilledButton)
    names = [getattr(b.content, "value", b.content) for b in buttons]
    assert "Cambiar contraseña" in names and "Descargar mis datos" not in names
    await click(find(page, ft.IconButton, tooltip="Volver")[0])
    assert page.views[0].route == "/settings"
    await session.close()
