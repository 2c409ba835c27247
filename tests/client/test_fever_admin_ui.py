"""The unit's emergency service (fever, "Hora Dorada"; issue #19) written by the hospital on the administration
screen, by click: admin.demo edits Siglo XXI's 24-hour phone, address, map link, what to bring and what not to do;
a bad field is refused beside it and nothing is sent; the server's own refusal shows on the form; after the next
sync the family's fever screen shows the new words with no network."""

from __future__ import annotations

import flet as ft
import pytest

from carnet.shell.app import CarnetUI
from carnet.shell.session import AppSession
from tests.support.inprocess_server import InProcessServer, error_response
from tests.support.secret_stores import DictSecretStore

from . import test_ui_inprocess
from .test_account_ui import button
from .test_enrolment_ui import field, touch_targets_are_big
from .test_ui_inprocess import click, find, texts

pytestmark = pytest.mark.anyio
page = test_ui_inprocess.page  # the fixture: a real flet Page, in process

ADDRESS = "Av. Cuauhtémoc 330, puerta 4 (Urgencias Pediatría, planta baja)"
MAP = "https://maps.example.org/?q=urgencias-siglo-xxi"
BRING = ["La tarjeta de urgencias", "El termómetro"]
AVOID = ["No le des paracetamol antes de que lo revisen"]


async def _app(page, config, data_dir, server: InProcessServer):  # type: ignore[no-untyped-def]
    session = AppSession(config, DictSecretStore(), data_dir, transport=server.transport)
    session.api._backoff = lambda attempt: 0.0
    ui = CarnetUI(page, session)
    ui.render()
    await session.start()
    return ui, session


async def test_admin_writes_the_emergency_service_and_the_family_reads_it(  # type: ignore[no-untyped-def]
    page, config, data_dir, server: InProcessServer
) -> None:
    _ui, admin = await _app(page, config, data_dir / "admin", server)
    await admin.login("admin.demo", "carnet-demo")
    await admin.admin.open()
    unit = next(u for u in admin.state.admin.units if "Siglo XXI" in u.name)
    await click(button(page, f"Editar {unit.name}"))
    assert "Servicio de urgencias (fiebre: Hora Dorada)" in texts(page)
    touch_targets_are_big(page)  # every field labelled, every button 48 px
    phone = field(page, "Teléfono de urgencias (24 horas)")
    assert phone.value == "55 5555 0101"  # what the unit has now
    bring = field(page, "Qué llevar")
    assert field(page, "Qué no hacer").value.startswith("No le des medicina para bajar la fiebre")
    assert bring.multiline and len((bring.value or "").splitlines()) == 4

    # Bad fields: each refused beside it, nothing sent.
    patches = server.transport.count("/api/v1/admin/units/*", "PATCH")
    phone.value = " "
    field(page, "Enlace al mapa (https://…)").value = "http://mapa.example"
    bring.value = "\n".join(f"Cosa {n}" for n in range(13))
    await click(button(page, "Guardar cambios"))
    assert field(page, "Teléfono de urgencias (24 horas)").error == "Falta este dato."
    assert field(page, "Enlace al mapa (https://…)").error.startswith("El enlace al mapa debe empezar con https://")
    assert field(page, "Qué llevar").error == "Como máximo 12 renglones."
    assert server.transport.count("/api/v1/admin/units/*", "PATCH") == patches

    # The server's refusal is shown in its own words.
    field(page, "Teléfono de urgencias (24 horas)").value = "55 5555 0199"
    field(page, "Dirección de urgencias").value = ADDRESS
    field(page, "Enlace al mapa (https://…)").value = MAP
    field(page, "Qué llevar").value = "\n".join(BRING) + "\n\n"
    field(page, "Qué no hacer").value = AVOID[0]
    refusal = "Revisa estos datos: emergency > phone (no es válido)."
    server.transport.fail("PATCH", "/api/v1/admin/units/*", error_response(422, "validation_error", refusal))
    await click(button(page, "Guardar cambios"))
    assert refusal in texts(page)

    await click(button(page, "Guardar cambios"))
    assert f"Unidad guardada: {unit.name}." in texts(page)
    saved = next(u for u in admin.state.admin.units if u.id == unit.id).emergency
    assert saved is not None
    assert (saved.phone, saved.address, saved.map_url) == ("55 5555 0199", ADDRESS, MAP)
    assert (saved.bring, saved.avoid, saved.oncology_phone) == (BRING, AVOID, "55 5555 0102")
    await admin.close()

    # The family: the next sync brings the unit's new words; the fever screen shows them with no network.
    _ui, family = await _app(page, config, data_dir / "family", server)
    await family.login("madre.demo", "carnet-demo")
    mateo = [b for b in find(page, ft.FilledTonalButton) if b.tooltip == "Ver carnet de Mateo Hernández"]
    await click(mateo[0])
    server.transport.offline = True
    await click(next(b for b in find(page, ft.FilledButton) if b.tooltip == "Tiene fiebre (38 °C o más)"))
    assert page.views[0].route == "/fever"
    shown = texts(page)
    assert any(t.startswith(ADDRESS) for t in shown), shown
    assert all(any(item in t for t in shown) for item in BRING + AVOID), shown
    assert not any("supositorios" in t for t in shown)  # the old list is gone
    [call] = [b for b in find(page, ft.FilledButton) if "55 5555 0199" in str(getattr(b.content, "value", ""))]
    assert call.url == "tel:5555550199"
    [where] = [b for b in find(page, ft.OutlinedButton) if b.url == MAP]
    assert where.height >= 48
    await family.close()
