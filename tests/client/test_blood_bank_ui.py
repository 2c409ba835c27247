"""The blood-bank screens built in-process (no Flutter): the tab, the donor form, the confirmation, staff."""

from __future__ import annotations

import flet as ft
import pytest

from carnet.shell.app import CarnetUI
from carnet.core.i18n import Translator
from carnet.shell.session import AppSession

from tests.support.secret_stores import DictSecretStore
from .fake_api import FakeApi
from .test_blood_bank import CLOCK, DAY
from .test_ui_inprocess import click, find, page, texts  # noqa: F401  (page is a fixture)

pytestmark = pytest.mark.anyio
TR = Translator()


async def _app(page, config, data_dir, fake_api, username: str):  # type: ignore[no-untyped-def]
    session = AppSession(config, DictSecretStore(), data_dir, transport=fake_api.transport, clock=lambda: CLOCK)
    ui = CarnetUI(page, session)
    ui.render()
    await session.start()
    await session.login(username, "carnet-demo")
    return ui, session


def button(page, name: str):  # type: ignore[no-untyped-def]
    """The button whose text (or its screen-reader label) is ``name``."""
    found = [b for b in find(page, ft.FilledButton) + find(page, ft.OutlinedButton) + find(page, ft.FilledTonalButton)
             if isinstance(b.content, ft.Text) and name in (b.content.value, b.content.semantics_label)
             or b.content == name]
    assert found, name
    return found[0]


async def test_guardian_books_from_the_tab_with_checks_then_confirmation_and_cancel(page, config, data_dir,
                                                                                   fake_api: FakeApi) -> None:
    ui, session = await _app(page, config, data_dir, fake_api, "madre.demo")
    bar = page.views[0].navigation_bar
    assert [d.label for d in bar.destinations] == ["Carnet", "Agenda", "Banco de sangre"]
    bar.selected_index = 2
    await bar.on_change(type("E", (), {"control": bar})())
    assert page.views[0].route == "/blood-bank"
    assert "Mis citas de donación" in texts(page) and "Aún no hay citas de donación." in texts(page)
    await click(button(page, "Donación para Mateo Hernández"))
    await click(button(page, "Banco de Sangre UMAE Pediatría"))
    assert button(page, TR.t("bb_selected", label=TR.long_date(DAY)))  # today (the clock's day) is chosen
    slot = button(page, "07:30 a 08:00, 4 lugares")
    assert any(t.startswith("Lugares actualizados: ") for t in texts(page))
    # Large targets, named controls.
    for control in find(page, ft.FilledButton) + find(page, ft.OutlinedButton) + find(page, ft.FilledTonalButton):
        assert control.height >= 48
    for icon in find(page, ft.IconButton):
        assert icon.icon.semantics_label == icon.tooltip and icon.width >= 48
    await click(slot)
    assert page.views[0].route == "/blood-bank/form"

    await click(button(page, "Reservar"))  # empty: messages, nothing queued
    assert session.scope.outbox is not None and session.scope.outbox.items() == []
    assert "Revisa los campos marcados: no se guardó nada." in texts(page)
    [name] = find(page, ft.TextField, label="Nombre completo de quien dona")
    assert name.error == "Escribe el nombre completo (al menos 3 letras)."
    assert "Contesta todas las preguntas (faltan 2)." in texts(page)

    name.value = "Laura Hernández Ruiz"
    find(page, ft.TextField, label="Teléfono (10 dígitos)")[0].value = "55 1234 5678"
    find(page, ft.TextField, label="Fecha de nacimiento (DD/MM/AAAA)")[0].value = "14/02/1990"
    find(page, ft.TextField, label="Peso en kg")[0].value = "62"
    await click(button(page, "Sexo Mujer"))
    await click(button(page, "1. ¿Ha tenido fiebre en los últimos 14 días? No"))
    await click(button(page, "2. ¿Se siente bien de salud hoy? Sí"))
    assert button(page, "2. ¿Se siente bien de salud hoy? Sí, seleccionado")
    assert find(page, ft.TextField, label="Peso en kg")[0].value == "62", "typed text survives the redraws"
    await click(button(page, "Reservar"))
    assert page.views[0].route == "/blood-bank/booking"
    assert "Pendiente de confirmar" in texts(page)
    assert "El folio llega cuando el banco de sangre confirme la cita." in texts(page)

    await session.refresh()
    shown = texts(page)
    assert "Confirmada" in shown and "BS-2026-000001" in shown
    assert "Av. Cuauhtémoc 330, Doctores, CDMX" in shown
    assert "Trae identificación oficial. No vengas en ayunas." in shown  # the bank's instructions
    await click(button(page, "Cancelar cita"))
    assert "¿Cancelar esta cita de donación? El lugar queda libre para otra persona." in texts(page)
    await click(button(page, "Sí, cancelar"))
    assert "Cancelación pendiente de enviar" in texts(page)
    await session.refresh()
    assert "Cancelada" in texts(page)
    await session.close()


async def test_rejection_shows_every_reason_with_retry_and_discard(page, config, data_dir, fake_api) -> None:
    ui, session = await _app(page, config, data_dir, fake_api, "padre.demo")
    await session.blood_bank.open()
    await click(button(page, "Banco de Sangre UMAE Pediatría"))
    assert button(page, TR.t("bb_selected", label=TR.long_date(DAY)))  # today (the clock's day) is chosen
    await click(button(page, "07:00 a 07:30, 4 lugares"))
    for label, value in (("Nombre completo de quien dona", "Luis Ramírez"), ("Teléfono (10 dígitos)", "5511112222"),
                         ("Fecha de nacimiento (DD/MM/AAAA)", "01/01/1985"), ("Peso en kg", "45")):
        find(page, ft.TextField, label=label)[0].value = value
    await click(button(page, "Sexo Hombre"))
    await click(button(page, "1. ¿Ha tenido fiebre en los últimos 14 días? Sí"))
    await click(button(page, "2. ¿Se siente bien de salud hoy? Sí"))
    await click(button(page, "Reservar"))
    await session.refresh()
    shown = texts(page)
    assert "Rechazada" in shown and "Motivo:" in shown
    assert "• Quien dona debe pesar al menos 50 kg." in shown
    assert "• Respuesta que impide donar hoy (q-fever)." in shown
    await click(button(page, "Descartar"))
    assert session.scope.outbox is not None and session.scope.outbox.items() == []
    await session.close()


async def test_staff_home_lists_the_day_and_checks_in_with_one_tap(page, config, data_dir, fake_api) -> None:
    family = AppSession(config, DictSecretStore(), data_dir / "family", transport=fake_api.transport,
                        clock=lambda: CLOCK)
    await family.start()
    await family.login("madre.demo", "carnet-demo")
    await family.blood_bank.open()
    from .test_blood_bank import _book  # the same booking as the use-case tests

    family.blood_bank.pick_child("p-valentina")
    await family.blood_bank.pick_bank("bank-1")
    await family.blood_bank.pick_day(DAY)
    assert _book(family)
    await family.refresh()
    await family.close()

    ui, session = await _app(page, config, data_dir, fake_api, "banco.demo")
    assert page.views[0].route == "/staff"
    assert page.views[0].navigation_bar is None, "no family tabs in staff mode"
    shown = texts(page)
    assert "Modo personal: solo en línea; nada se guarda en este dispositivo." in shown
    assert "07:00 · Laura Hernández Ruiz" in shown and "Para: Valentina Hernández" in shown
    assert "Valentina Hernández: el día 0 · la semana 0 (de 1 citas)" in shown
    await click(button(page, "Registrar llegada de Laura Hernández Ruiz"))
    shown = texts(page)
    assert "Llegada registrada: Laura Hernández Ruiz." in shown
    assert "Valentina Hernández: el día 1 · la semana 1 (de 1 citas)" in shown
    assert not [b for b in find(page, ft.FilledButton) if isinstance(b.content, ft.Text)
                and b.content.value == "Registrar llegada"]
    await click(find(page, ft.IconButton, tooltip="Día siguiente")[0])
    assert "No hay citas este día en este banco." in texts(page)
    await session.close()
