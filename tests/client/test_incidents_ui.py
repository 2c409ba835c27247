"""The incident screens built in-process (no Flutter): the report button on every family tab, the form
(categories as large tiles, checks, pending then folio), "Mis reportes" offline, the case desk's answer."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import flet as ft
import pytest

from carnet.incidents.photos import thumbnail
from carnet.core.navigation import Screen, Tab
from carnet.shell.app import CarnetUI
from carnet.shell.session import AppSession
from carnet_server.i18n import t as server_text
from carnet_server.incidents.service import MIN_ANSWER_CHARS
from tests.support.inprocess_server import InProcessServer
from tests.support.photos import noisy_png, opened, png
from tests.support.secret_stores import DictSecretStore

from .test_incidents import MATEO, PHOTO_POSTS, add_incident, ours, photos_on, resolve, stored
from .test_ui_inprocess import click, find, page, texts, walk  # noqa: F401  (page is a fixture)

pytestmark = pytest.mark.anyio
CATEGORIES = ["Medicamento", "Material médico", "Atención médica", "Licencia 140-Bis", "Carnet digital", "Banco de sangre",
              "Otro"]


async def _app(page, config, data_dir, server, username: str, secrets=None):  # type: ignore[no-untyped-def]
    session = AppSession(config, secrets or DictSecretStore(), data_dir, transport=server.transport)
    session.api._backoff = lambda attempt: 0.0
    ui = CarnetUI(page, session)
    ui.render()
    if await session.start():
        await session.refresh()
    else:
        await session.login(username, "carnet-demo")
    return ui, session


def report_buttons(page) -> list[Any]:  # type: ignore[no-untyped-def]
    """ "Reportar un problema" as words on a button (not only an icon's name)."""
    return [b for b in find(page, ft.TextButton) if isinstance(b.content, ft.Text)
            and b.content.value == "Reportar un problema"]


def report_button(page) -> Any:  # type: ignore[no-untyped-def]
    [found] = report_buttons(page)
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
async def test_report_button_is_on_every_tab_and_back_returns_there(page, config, data_dir, server: InProcessServer,
                                                                   tab: int, route: str) -> None:
    ui, session = await _app(page, config, data_dir, server, "madre.demo")
    await _go(page, tab)
    assert page.views[0].route == route
    button = report_button(page)
    assert button.height >= 48
    await click(button)
    assert page.views[0].route == "/report"
    assert [t.value for t in find(page, ft.Text) if t.value in CATEGORIES] == CATEGORIES
    # big tiles, two to a row over the whole width on a phone (the browser test measures them)
    assert all(tile(page, word).height >= 96 and tile(page, word).col == {"xs": 6, "sm": 4} for word in CATEGORIES)
    await click(find(page, ft.IconButton, tooltip="Volver")[0])
    assert page.views[0].route == route
    await session.close()


async def test_every_family_screen_has_the_report_button_in_words(page, config, data_dir,
                                                                 server: InProcessServer) -> None:
    """Every family screen but the forms carries "Reportar un problema" in words, and it opens the form; the
    report form itself and the forms being filled (leaving them drops what was typed) do not."""
    add_incident(server, "Mateo Hernández", "otro", "El código QR no se ve en el carnet.")
    _ui, session = await _app(page, config, data_dir, server, "madre.demo")
    state = session.state
    routes: dict[str, int] = {}

    def seen() -> None:
        routes[page.views[0].route] = len(report_buttons(page))

    seen()  # the children
    session.select_child(server.patient_id(MATEO))
    seen()
    session.show_sync_status()
    seen()
    session.show(Screen.SETTINGS)
    seen()
    await session.account.open()
    seen()
    session.show_tab(Tab.AGENDA)
    seen()
    session.agenda.open(state.agenda.items[0].id)
    seen()
    await click(report_button(page))  # from a detail screen: the form, and back to the detail
    assert page.views[0].route == "/report" and not report_buttons(page)
    await click(find(page, ft.IconButton, tooltip="Volver")[0])
    assert state.screen is Screen.APPOINTMENT
    session.agenda.new()
    seen()
    session.show_tab(Tab.BLOOD_BANK)
    seen()
    session.show(Screen.BOOKING)
    seen()
    session.report.show_list()
    seen()
    session.report.open(state.incidents.reports[0].id)
    seen()
    assert routes == {"/children": 1, "/carnet": 1, "/sync": 1, "/settings": 1, "/account": 1, "/agenda": 1,
                      "/appointment": 1, "/appointment/new": 0, "/blood-bank": 1, "/blood-bank/booking": 1,
                      "/reports": 1, "/report/one": 1}
    await session.close()


async def test_report_a_missing_medicine_offline_then_the_folio(page, config, data_dir, server: InProcessServer) -> None:
    ui, session = await _app(page, config, data_dir, server, "madre.demo")
    await click(find(page, ft.FilledTonalButton)[0])  # Mateo's carnet
    assert page.views[0].route == "/carnet"
    server.transport.offline = True
    await click(report_button(page))
    assert "Mateo Hernández, seleccionado" in [t.semantics_label for t in find(page, ft.Text)]
    assert "UMAE Hospital de Pediatría CMN Siglo XXI" in texts(page)  # the child's unit, shown
    await click(labelled(page, ft.FilledButton, "Enviar reporte"))  # empty: messages, nothing queued
    assert session.scope.outbox is not None and session.scope.outbox.items() == []
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
    server.transport.offline = False
    await session.refresh()
    shown = texts(page)
    [made] = ours(server, "En farmacia no hay desde el lunes.")
    assert f"Tu folio: {made.folio}" in shown and "Recibida" in shown and made.item_name == "Metotrexato"
    assert any(t.startswith("Respuesta esperada antes de ") for t in shown)
    await session.close()


async def test_my_reports_read_offline_with_the_conversation(page, config, data_dir, server: InProcessServer) -> None:
    incident_id = add_incident(server, "Valentina Hernández", "insumo", "No hay catéter.", item_name="Catéter")
    resolve(server, incident_id, "Ya hay catéter en el almacén, pase a recogerlo.")
    [folio] = [i.folio for i in ours(server, "No hay catéter.")]
    secrets = DictSecretStore()
    first = AppSession(config, secrets, data_dir, transport=server.transport)
    await first.start()
    await first.login("madre.demo", "carnet-demo")
    await first.close()
    server.transport.offline = True
    ui, session = await _app(page, config, data_dir, server, "madre.demo", secrets)
    await click(report_button(page))
    await click(labelled(page, ft.OutlinedButton, "Mis reportes"))
    assert page.views[0].route == "/reports"
    [row] = find(page, ft.OutlinedButton, tooltip=f"Ver reporte {folio}")
    await click(row)
    shown = texts(page)
    assert "Atendida" in shown and "Material médico: Catéter" in shown and "Valentina Hernández" in shown
    assert "Ya hay catéter en el almacén, pase a recogerlo." in shown and "Marcó el reporte como atendido" in shown
    assert any(t.startswith("Oficina de atención a casos · ") for t in shown)
    await click(labelled(page, ft.OutlinedButton, "No se resolvió"))
    [reason] = find(page, ft.TextField, label="¿Por qué no se resolvió?")
    reason.value = "No había en el almacén."
    await click(labelled(page, ft.FilledButton, "Enviar"))
    assert "Reapertura pendiente de enviar" in texts(page)
    [item] = session.scope.outbox.items()  # type: ignore[union-attr]
    assert item.body == {"reason": "No había en el almacén."}
    await session.close()


async def test_case_desk_answers_and_sees_the_servers_message(page, config, data_dir, server: InProcessServer) -> None:
    add_incident(server, MATEO, "medicamento", "No hay.", item_name="Vincristina")
    [folio] = [i.folio for i in ours(server, "No hay.")]
    ui, session = await _app(page, config, data_dir, server, "casos.demo")
    assert page.views[0].route == "/desk" and page.views[0].navigation_bar is None
    assert "Pantalla del personal: funciona solo con internet y no guarda datos en este equipo." in texts(page)
    await click(find(page, ft.OutlinedButton, tooltip=f"Abrir {folio}")[0])
    assert page.views[0].route == "/desk/case"
    assert "Falta: Vincristina" in texts(page)
    [answer] = find(page, ft.TextField, label="Respuesta")
    answer.value = "ok"
    await click(labelled(page, ft.FilledButton, "Marcar como atendida"))
    answer = find(page, ft.TextField, label="Respuesta")[0]
    assert answer.error == server_text("answer_required", "es", chars=MIN_ANSWER_CHARS)
    assert answer.value == "ok", "the typed answer survives the refusal"
    answer.value = "Llegó el medicamento: recójalo el jueves en farmacia."
    await click(labelled(page, ft.FilledButton, "Marcar como atendida"))
    shown = texts(page)
    assert f"Reporte {folio} marcado como atendido." in shown and "Atendida" in shown
    assert [i.status for i in ours(server, "No hay.")] == ["atendida"]
    assert find(page, ft.TextField, label="Respuesta")[0].value == ""
    await click(find(page, ft.IconButton, tooltip="Volver")[0])
    await click(labelled(page, ft.FilledButton, "Cifras de la semana"))
    assert page.views[0].route == "/desk/weekly"
    week = session.state.desk.week
    figures = server.ok("casos.demo", "GET", "/api/v1/case-desk/weekly", params={"week": week.isoformat()})
    [vincristina] = [s for s in figures["shortages"] if s["item_name"] == "Vincristina"
                     and s["unit_name"] == "UMAE Hospital de Pediatría CMN Siglo XXI"]
    assert figures["incidents_new"] >= 1 and vincristina["count"] >= 1  # the new report is this week's
    assert f"Reportes nuevos: {figures['incidents_new']}" in texts(page)
    assert f"Medicamento: {figures['by_category']['medicamento']}" in texts(page)
    assert f"Vincristina en UMAE Hospital de Pediatría CMN Siglo XXI: {vincristina['count']}" in texts(page)
    await session.close()


def _png(colour: str = "blue") -> bytes:
    return png(colour, (20, 14))


def _picked(*files: tuple[str, bytes | None]) -> Any:
    return type("E", (), {"files": [ft.FilePickerFile(id=n, name=name, size=len(data or b""), bytes=data)
                                    for n, (name, data) in enumerate(files)]})()


async def test_photos_on_a_report_checked_thumbnails_pending_then_the_servers(page, config, data_dir,
                                                                               server: InProcessServer) -> None:
    ui, session = await _app(page, config, data_dir, server, "madre.demo")
    await click(find(page, ft.FilledTonalButton)[0])  # Mateo's carnet
    server.transport.offline = True
    await click(report_button(page))
    add = labelled(page, ft.OutlinedButton, "Agregar foto")
    assert add.height >= 48 and not add.disabled
    action = add.action
    assert isinstance(action, ft.PickFiles) and action.with_data and action.allow_multiple
    assert action.file_type is ft.FilePickerFileType.IMAGE
    assert ("Hasta 3 fotos JPG o PNG de 25 MB como máximo cada una. Se envían reducidas y sin datos de "
            "ubicación.") in texts(page)
    original = noisy_png()  # a phone-sized photo: the screen gets its thumbnail, never the photo
    await action.file_picker.on_result(_picked(("receta.png", original), ("nota.pdf", b"%PDF-1.4 no es foto")))
    [draft] = session.state.incidents.form.photos  # type: ignore[union-attr]
    [thumb] = find(page, ft.Image, semantics_label="Foto 1 del reporte")
    assert thumb.src == draft.thumb and len(thumb.src) < 40_000 < len(draft.data) < len(original)
    assert opened(thumb.src).size == (240, 180)
    photo = draft.thumb
    assert "«nota.pdf» no es una foto JPG o PNG; no se agregó." in texts(page)
    [remove] = find(page, ft.IconButton, tooltip="Quitar foto 1")
    action = labelled(page, ft.OutlinedButton, "Agregar foto").action
    await action.file_picker.on_result(_picked(("b.png", _png("red")), ("c.png", _png("green"))))
    assert len(find(page, ft.Image, semantics_label="Foto 3 del reporte")) == 1
    assert labelled(page, ft.OutlinedButton, "Agregar foto").disabled, "three is the most"
    await click(find(page, ft.IconButton, tooltip="Quitar foto 3")[0])
    await click(find(page, ft.IconButton, tooltip="Quitar foto 2")[0])
    assert find(page, ft.Image, semantics_label="Foto 2 del reporte") == []
    assert not labelled(page, ft.OutlinedButton, "Agregar foto").disabled
    await click(tile(page, "Medicamento"))
    find(page, ft.TextField, label="¿Qué medicamento falta?")[0].value = "Metotrexato"
    find(page, ft.TextField, label="Cuéntanos qué pasó")[0].value = "En farmacia no hay desde el lunes."
    assert find(page, ft.Image, semantics_label="Foto 1 del reporte")[0].src == photo, "kept across redraws"
    await click(labelled(page, ft.FilledButton, "Enviar reporte"))
    assert page.views[0].route == "/report/one"
    assert "Foto pendiente de enviar" in texts(page)
    assert find(page, ft.Image, semantics_label="Foto 1 del reporte")[0].src == photo
    server.transport.offline = False
    await session.refresh()
    [made] = ours(server, "En farmacia no hay desde el lunes.")
    assert f"Tu folio: {made.folio}" in texts(page) and "Foto pendiente de enviar" not in texts(page)
    [kept] = photos_on(server)
    [sent] = server.transport.uploads(PHOTO_POSTS)
    assert sent == draft.data and opened(sent).size == (1600, 1200)
    assert kept.incident_id == made.id and opened(stored(server, kept)).size == (1600, 1200)
    if session.report.photo_task is not None:
        await session.report.photo_task
    [shown] = find(page, ft.Image, semantics_label="Foto 1 del reporte")
    assert shown.src == photo, "its own thumbnail, kept for the server's photo"
    assert server.transport.count("/api/v1/incidents/*/photos/*", "GET") == 0, "nothing downloaded again"
    await session.close()


async def test_while_a_photo_is_prepared_the_form_says_so_and_waits(page, config, data_dir, server: InProcessServer,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from carnet.incidents import cases as incident_cases

    release = threading.Event()
    real = incident_cases.check_photos

    def slow_check(*args: Any, **kwargs: Any) -> Any:
        assert release.wait(30), "the test never released the photo"
        return real(*args, **kwargs)

    monkeypatch.setattr(incident_cases, "check_photos", slow_check)
    ui, session = await _app(page, config, data_dir, server, "madre.demo")
    await click(find(page, ft.FilledTonalButton)[0])
    await click(report_button(page))
    picker = labelled(page, ft.OutlinedButton, "Agregar foto").action.file_picker
    picking = asyncio.ensure_future(picker.on_result(_picked(("a.png", _png()))))
    try:
        deadline = time.monotonic() + 10
        while "Preparando la foto…" not in texts(page):
            assert time.monotonic() < deadline, "no sign of the photo being prepared"
            await asyncio.sleep(0.01)
        assert find(page, ft.ProgressRing, semantics_label="Preparando la foto…")
        assert labelled(page, ft.FilledButton, "Enviar reporte").disabled, "not sent without its photo"
        assert labelled(page, ft.OutlinedButton, "Agregar foto").disabled
        assert session.report.submit(session.state.incidents.form) is False  # type: ignore[arg-type]
    finally:
        release.set()
        await picking
    assert "Preparando la foto…" not in texts(page)
    assert len(find(page, ft.Image, semantics_label="Foto 1 del reporte")) == 1
    assert not labelled(page, ft.FilledButton, "Enviar reporte").disabled
    await session.close()


async def test_a_refused_photo_shows_the_reason_with_retry_and_discard(page, config, data_dir,
                                                                       server: InProcessServer) -> None:
    ui, session = await _app(page, config, data_dir, server, "madre.demo")
    await click(find(page, ft.FilledTonalButton)[0])
    server.transport.offline = True
    await click(report_button(page))
    await labelled(page, ft.OutlinedButton, "Agregar foto").action.file_picker.on_result(_picked(("a.png", _png())))
    await click(tile(page, "Otro"))
    find(page, ft.TextField, label="Cuéntanos qué pasó")[0].value = "La enfermera no llegó a la cita."
    await click(labelled(page, ft.FilledButton, "Enviar reporte"))
    server.transport.offline = False
    with server.configured(incident_max_photos=0):  # the server takes no photo now
        await session.refresh()
    shown = texts(page)
    assert f"La foto no se pudo enviar: {server_text('too_many_photos', 'es', max=0)}" in shown
    assert photos_on(server) == []
    assert find(page, ft.Image, semantics_label="Foto 1 del reporte"), "still on screen, not lost"
    assert labelled(page, ft.FilledButton, "Reintentar") and labelled(page, ft.OutlinedButton, "Descartar")
    await click(labelled(page, ft.OutlinedButton, "Descartar"))
    assert find(page, ft.Image, semantics_label="Foto 1 del reporte") == []
    assert session.scope.outbox.items() == []  # type: ignore[union-attr]
    await session.close()


async def test_case_desk_sees_the_photo_and_downloads_the_week(page, config, data_dir, server: InProcessServer,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from carnet.views import common as common_view

    incident_id = add_incident(server, MATEO, "medicamento", "No hay.", item_name="Vincristina")
    [folio] = [i.folio for i in ours(server, "No hay.")]
    # The family sends a photo (from another phone, straight to the server).
    server.ok("madre.demo", "POST", f"/api/v1/incidents/{incident_id}/photos",
              files={"file": ("foto.png", png("blue", (800, 600)), "image/png")})
    [kept] = photos_on(server)
    photo = stored(server, kept)
    saved: list[tuple[str, bytes, str]] = []

    async def fake_save(name: str, data: bytes, extension: str) -> bool:
        saved.append((name, data, extension))
        return True

    monkeypatch.setattr(common_view, "save_bytes", fake_save)  # every download goes through it
    ui, session = await _app(page, config, data_dir, server, "casos.demo")
    await click(find(page, ft.OutlinedButton, tooltip=f"Abrir {folio}")[0])
    assert "Fotos de la familia" in texts(page)
    [image] = find(page, ft.Image, semantics_label="Foto 1 del reporte")
    assert image.src == thumbnail(photo) and opened(image.src).size == (240, 180), "the thumbnail only"
    await click(find(page, ft.IconButton, tooltip="Volver")[0])
    await click(labelled(page, ft.FilledButton, "Cifras de la semana"))
    week = session.state.desk.week
    await click(labelled(page, ft.FilledButton, "Descargar CSV"))
    await click(labelled(page, ft.OutlinedButton, "Descargar resumen (Markdown)"))
    assert [(n, e) for n, _, e in saved] == [(f"casos-semana-{week.isoformat()}.csv", "csv"),
                                             (f"casos-semana-{week.isoformat()}.md", "md")]
    assert saved[0][1].startswith(b"indicador,") and saved[1][1].startswith("# Sesión".encode())
    assert f"Archivo listo: casos-semana-{week.isoformat()}.md" in texts(page)
    await session.close()
