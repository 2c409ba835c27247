"""The pharmacy counter built in-process (no Flutter): scanner field, verdicts, dispensing, languages.

Also the family's carnet: a dispensed cycle says so ("Surtido el …").
"""

from __future__ import annotations

import flet as ft
import pytest

from carnet.shell.app import CarnetUI
from carnet.core.i18n import Translator
from carnet.shell.session import AppSession

from tests.support.secret_stores import DictSecretStore
from .fake_api import FakeApi
from .test_pharmacy import tamper_signature
from .test_ui_inprocess import click, find, page, texts  # noqa: F401  (page is a fixture)

pytestmark = pytest.mark.anyio
TR = Translator()
#: Background tasks the app asked the page to run (here: handing the focus back to the scanner field).
focus_requests: list[str] = []


async def _app(page, config, data_dir, fake_api, username: str):  # type: ignore[no-untyped-def]
    session = AppSession(config, DictSecretStore(), data_dir, transport=fake_api.transport)
    ui = CarnetUI(page, session)
    focus_requests.clear()

    def run_task(handler, *args):  # type: ignore[no-untyped-def]
        # The focus request awaits the Flutter client, which this recording page has not: note it instead.
        focus_requests.append(getattr(handler, "__name__", ""))
        handler(*args).close()

    page.run_task = run_task
    ui.render()
    await session.start()
    await session.login(username, "carnet-demo")
    return ui, session


def button(page, name: str):  # type: ignore[no-untyped-def]
    """The button whose text (or its screen-reader label) is ``name``."""
    found = [b for b in find(page, ft.FilledButton) + find(page, ft.OutlinedButton)
             if isinstance(b.content, ft.Text) and name in (b.content.value, b.content.semantics_label)]
    assert found, name
    return found[0]


def scanner(page) -> ft.TextField:  # type: ignore[no-untyped-def]
    [field] = find(page, ft.TextField, label="Escanee o pegue el código QR")
    return field


async def scan(page, text: str) -> None:  # type: ignore[no-untyped-def]
    """What a hand-held scanner does: type the text, then Enter."""
    field = scanner(page)
    field.value = text
    await field.on_submit(None)


async def test_scan_verify_and_dispense_on_the_screen(page, config, data_dir, fake_api: FakeApi) -> None:
    ui, session = await _app(page, config, data_dir, fake_api, "farmacia.demo")
    assert page.views[0].route == "/pharmacy"
    field = scanner(page)
    assert field.autofocus and field.on_submit is not None
    assert "Claves actualizadas hace menos de 1 min" in texts(page)
    assert button(page, "Actualizar claves").height >= 48

    carnet = fake_api.carnet("p-mateo")
    asked = focus_requests.count("focus")
    assert asked >= 1  # on open
    ui.render()
    assert focus_requests.count("focus") == asked  # a redraw alone doesn't take the focus
    await scan(page, carnet.qr.url)
    assert scanner(page).value == ""  # ready for the next code
    assert focus_requests.count("focus") >= asked + 2  # the offline verdict, then the server's answer
    shown = texts(page)
    assert "Auténtico y vigente" in shown and "Comprobado también en el servidor." in shown
    assert "Mateo Hernández" in shown and f"Unidad: {carnet.patient.unit.name}" in shown
    label = TR.t("ph_cycle", number=2, date=TR.date(carnet.cycles[1].scheduled_for))
    assert button(page, f"{label}, seleccionado")
    boxes = find(page, ft.Checkbox)
    assert [b.label for b in boxes] == ["Vincristina: 1.5 mg/m², vía intravenosa",
                                        "Metotrexato: 12 mg, vía intratecal"]
    assert all(b.value for b in boxes) and "Mezcla: en preparación" in shown
    # Every button is a large target; every icon button has a name.
    for control in find(page, ft.FilledButton) + find(page, ft.OutlinedButton):
        assert control.height >= 48
    for icon in find(page, ft.IconButton):
        assert icon.icon.semantics_label == icon.tooltip and icon.width >= 48

    await click(button(page, "Registrar surtido"))
    assert any(t.startswith("¿Registrar el surtido del ciclo 2 (2 de 2 medicamentos)?") for t in texts(page))
    assert fake_api.pharmacy.created == 0
    await click(button(page, "Sí, registrar"))
    assert fake_api.pharmacy.created == 1
    [done] = fake_api.pharmacy.dispensed.values()
    shown = texts(page)
    assert f"Surtido registrado: ciclo 2, el {TR.datetime(done.dispensed_at)}." in shown
    assert f"Surtido el {TR.datetime(done.dispensed_at)} por Farmacia UMAE" in shown
    assert "Todos los ciclos de este código ya se surtieron." in shown
    assert not find(page, ft.Checkbox)

    # A tampered code: red, plain words, nothing about the patient.
    await scan(page, tamper_signature(carnet.qr.token))
    shown = texts(page)
    assert "Alterado: la firma no corresponde" in shown and "Mateo Hernández" not in shown
    [verdict] = [t for t in find(page, ft.Text) if t.value == "Alterado: la firma no corresponde"]
    assert verdict.color == "#B71C1C"
    await session.close()


async def test_second_counter_sees_the_409_words_and_english(page, config, data_dir, fake_api: FakeApi) -> None:
    ui, session = await _app(page, config, data_dir, fake_api, "farmacia.demo")
    url = fake_api.carnet("p-valentina").qr.url
    await scan(page, url)
    # Another counter records it first (the fake's own handler, as the other counter's request would).
    other = AppSession(session.config, DictSecretStore(), data_dir.parent / "other", transport=fake_api.transport)
    await other.start()
    await other.login("admin.demo", "carnet-demo")
    await other.pharmacy.scan(url)
    other.pharmacy.ask_confirm()
    await other.pharmacy.dispense()
    assert fake_api.pharmacy.created == 1

    await click(button(page, "Registrar surtido"))
    await click(button(page, "Sí, registrar"))
    [first] = fake_api.pharmacy.dispensed.values()
    expected = f"Este ciclo ya se surtió el {TR.datetime(first.dispensed_at)} por Administración. No se registró nada."
    assert expected in texts(page) and fake_api.pharmacy.created == 1

    await session.set_locale("en")
    assert find(page, ft.TextField, label="Scan or paste the QR code")
    assert "Genuine and current" in texts(page)
    await other.close()
    await session.close()


async def test_offline_counter_says_so_and_offers_no_dispensing(page, config, data_dir, fake_api: FakeApi) -> None:
    ui, session = await _app(page, config, data_dir, fake_api, "farmacia.demo")
    fake_api.offline = True
    await scan(page, fake_api.carnet("p-mateo").qr.url)
    shown = texts(page)
    assert "Auténtico y vigente" in shown and "Comprobado en este equipo con las claves guardadas." in shown
    assert TR.t("ph_offline") in shown
    assert not find(page, ft.Checkbox) and not [b for b in find(page, ft.FilledButton)
                                                if isinstance(b.content, ft.Text)
                                                and b.content.value == "Registrar surtido"]
    await click(button(page, "Actualizar claves"))
    assert TR.t("ph_keys_offline") in texts(page)
    await click(button(page, "Siguiente paciente"))
    assert "Auténtico y vigente" not in texts(page)
    await session.close()


async def test_family_carnet_shows_mixing_and_dispensed(page, config, data_dir, fake_api: FakeApi) -> None:
    counter = AppSession(config, DictSecretStore(), data_dir.parent / "counter", transport=fake_api.transport)
    await counter.start()
    await counter.login("farmacia.demo", "carnet-demo")
    await counter.pharmacy.scan(fake_api.carnet("p-santiago").qr.url)
    counter.pharmacy.ask_confirm()
    await counter.pharmacy.dispense()
    [done] = fake_api.pharmacy.dispensed.values()

    ui, session = await _app(page, config, data_dir, fake_api, "padre.demo")
    assert page.views[0].route == "/carnet"
    shown = texts(page)
    when = TR.datetime(done.dispensed_at)
    assert f"Surtido el {when}" in shown  # the current cycle's block
    assert f"Mezcla: en preparación · Surtido el {when}" in shown  # the history line of cycle 2
    assert "Mezcla: entregada" in shown  # cycle 1's mixture, in the history
    await counter.close()
    await session.close()
