"""The incident screens built in-process (no Flutter): the report button on every family tab, the form
(categories as large tiles, checks, pending then folio), "Mis reportes" offline, the case desk's answer."""

from __future__ import annotations

from typing import Any

import flet as ft
import pytest

from carnet.app import CarnetUI
from carnet.session import AppSession

from tests.support.secret_stores import DictSecretStore
from .fake_api import FakeApi
from .test_ui_inprocess import click, find, page, texts, walk  # noqa: F401  (page is a fixture)

pytestmark = pytest.mark.anyio
CATEGORIES = ["Medicamento", "Insumo", "Atención médica", "Licencia 140-Bis", "Carnet digital", "Banco de sangre",
              "Otro"]


async def _app(page, config, data_dir, fake_api, username: str, secrets=None):  # type: ignore[no-untyped-def]
    session = AppSession(config, secrets or DictSecretStore(), data_dir, transport=fake_api.transport)
    session.api._backoff = lambda attempt: 0.0
    ui = CarnetUI(page, session)
    ui.render()
    if await session.start():
        await session.refresh()
    else:
        await session.login(username, "carnet-demo")
    return ui, session


def report_button(page) -> Any:  # type: ignore[no-untyped-def]
    [found] = find(page, ft.IconButton, tooltip="Reportar un problema")
    return found


def tile(page, word: str) -> ft.Control:  # type: ignore[no-untyped-def]
    found = [c for c in find(page, ft.FilledButton) + find(page, ft.OutlinedButton) if isinstance(c.content, ft.Column)
             and any(isinstance(t, ft.Text) and t.value == word for t in c.content.controls)]
    assert len(found) == 1, word
    return found[0]


def labelled(page, kind: type, name: str) -> Any:  # type: ignore[no-untyped-def]
    found = [b for b in find(page, kind) if isinstance(b.content, ft.Text)
             and name in (b.content.value, b.content.semantics_label) or b.content == name]
    assert found, name
    return found[0]


async def _go(page, tab: int) -> None:  # type: ignore[no-untyped-def]
    bar = page.views[0].navigation_bar
    bar.selected_index = tab
    await bar.on_change(type("E", (), {"control": bar})())


@pytest.mark.parametrize("tab, route", [(0, "/children"), (1, "/agenda"), (2, "/blood-bank")])
async def test_report_button_is_on_every_tab_and_back_returns_there(page, config, data_dir, fake_api: FakeApi,
                                                                   tab: int, route: str) -> None:
    ui, session = await _app(page, config, data_dir, fake_api, "madre.demo")
    await _go(page, tab)
    assert page.views[0].route == route
    button = report_button(page)
    assert button.height >= 48 and button.icon.semantics_label == "Reportar un problema"
    await click(button)
    assert page.views[0].route == "/report"
    assert [t.value for t in find(page, ft.Text) if t.value in CATEGORIES] == CATEGORIES
    assert all(tile(page, word).height >= 96 and tile(page, word).width >= 140 for word in CATEGORIES)
    await click(find(page, ft.IconButton, tooltip="Volver")[0])
    assert page.views[0].route == route
    await session.close()


async def test_report_a_missing_medicine_offline_then_the_folio(page, config, data_dir, fake_api: FakeApi) -> None:
    ui, session = await _app(page, config, data_dir, fake_api, "madre.demo")
    await click(find(page, ft.FilledTonalButton)[0])  # Mateo's carnet
    assert page.views[0].route == "/carnet"
    fake_api.offline = True
    await click(report_button(page))
    assert "Mateo Hernández, seleccionado" in [t.semantics_label for t in find(page, ft.Text)]
    assert "UMAE Hospital de Pediatría CMN Siglo XXI" in texts(page)  # the child's unit, shown
    await click(labelled(page, ft.FilledButton, "Enviar reporte"))  # empty: messages, nothing queued
    assert session.outbox is not None and session.outbox.items() == []
    assert "Elige qué pasó tocando una de las opciones." in texts(page)
    [description] = find(page, ft.TextField, label="Cuéntanos qué pasó")
    assert description.error == "Cuéntanos qué pasó (al menos 5 letras)."
    description.value = "En farmacia no hay desde el lunes."
    await click(tile(page, "Medicamento"))
    assert [t.semantics_label for t in find(page, ft.Text) if t.value == "Medicamento"] == ["Medicamento, seleccionado"]
    [item] = find(page, ft.TextField, label="¿Qué medicamento falta?")
    assert find(page, ft.TextField, label="Cuéntanos qué pasó")[0].value == "En farmacia no hay desde el lunes."
    await click(labelled(page, ft.FilledButton, "Enviar reporte"))
    assert item.error == "Escribe qué medicamento falta."
    item.value = "Metotrexato"
    await click(labelled(page, ft.FilledButton, "Enviar reporte"))
    assert page.views[0].route == "/report/one"
    shown = texts(page)
    assert "Pendiente de enviar" in shown and "El folio llega cuando el reporte se envíe." in shown
    assert "Reporte guardado. Se enviará en cuanto haya conexión." in shown
    fake_api.offline = False
    await session.refresh()
    shown = texts(page)
    assert "Tu folio: CE-2026-000123" in shown and "Recibida" in shown
    assert any(t.startswith("Respuesta esperada antes de ") for t in shown)
    await session.close()


async def test_my_reports_read_offline_with_the_conversation(page, config, data_dir, fake_api: FakeApi) -> None:
    incident = fake_api.incidents.add("p-valentina", "insumo", "No hay catéter.", item_name="Catéter")
    fake_api.incidents.resolve(incident.id, "Ya hay catéter en el almacén, pase a recogerlo.")
    secrets = DictSecretStore()
    first = AppSession(config, secrets, data_dir, transport=fake_api.transport)
    await first.start()
    await first.login("madre.demo", "carnet-demo")
    await first.close()
    fake_api.offline = True
    ui, session = await _app(page, config, data_dir, fake_api, "madre.demo", secrets)
    await click(report_button(page))
    await click(labelled(page, ft.OutlinedButton, "Mis reportes"))
    assert page.views[0].route == "/reports"
    [row] = find(page, ft.OutlinedButton, tooltip="Ver reporte CE-2026-000123")
    await click(row)
    shown = texts(page)
    assert "Atendida" in shown and "Insumo: Catéter" in shown and "Valentina Hernández" in shown
    assert "Ya hay catéter en el almacén, pase a recogerlo." in shown and "Marcó el reporte como atendido" in shown
    assert any(t.startswith("Módulo de atención · ") for t in shown)
    await click(labelled(page, ft.OutlinedButton, "No se resolvió"))
    [reason] = find(page, ft.TextField, label="¿Por qué no se resolvió?")
    reason.value = "No había en el almacén."
    await click(labelled(page, ft.FilledButton, "Enviar"))
    assert "Reapertura pendiente de enviar" in texts(page)
    [item] = session.outbox.items()  # type: ignore[union-attr]
    assert item.body == {"reason": "No había en el almacén."}
    await session.close()


async def test_case_desk_answers_and_sees_the_servers_message(page, config, data_dir, fake_api: FakeApi) -> None:
    fake_api.incidents.add("p-mateo", "medicamento", "No hay.", item_name="Vincristina")
    ui, session = await _app(page, config, data_dir, fake_api, "casos.demo")
    assert page.views[0].route == "/desk" and page.views[0].navigation_bar is None
    assert "Modo personal: solo en línea; nada se guarda en este dispositivo." in texts(page)
    await click(find(page, ft.OutlinedButton, tooltip="Abrir CE-2026-000123")[0])
    assert page.views[0].route == "/desk/case"
    assert "Falta: Vincristina" in texts(page)
    [answer] = find(page, ft.TextField, label="Respuesta")
    answer.value = "ok"
    await click(labelled(page, ft.FilledButton, "Marcar como atendida"))
    answer = find(page, ft.TextField, label="Respuesta")[0]
    assert answer.error == "Para marcarlo como atendido escribe una respuesta concreta."
    assert answer.value == "ok", "the typed answer survives the refusal"
    answer.value = "Llegó el medicamento: recójalo el jueves en farmacia."
    await click(labelled(page, ft.FilledButton, "Marcar como atendida"))
    shown = texts(page)
    assert "Reporte CE-2026-000123 marcado como atendido." in shown and "Atendida" in shown
    assert find(page, ft.TextField, label="Respuesta")[0].value == ""
    await click(find(page, ft.IconButton, tooltip="Volver")[0])
    await click(labelled(page, ft.FilledButton, "Cifras de la semana"))
    assert page.views[0].route == "/desk/weekly"
    assert "Reportes nuevos: 1" in texts(page) and "Medicamento: 1" in texts(page)
    assert "Vincristina en UMAE Hospital de Pediatría CMN Siglo XXI: 1" in texts(page)
    await session.close()
