"""Incidents in a real browser: madre.demo reports a missing medicine (category tile, item, description,
a photo attached through Chromium's file chooser) and gets the folio; casos.demo, in a fresh app with its
own data dir, sees which child it is about (name · unit) in the queue, opens it (the name again), sees the
photo, answers it, marking it atendida, and downloads the week's figures as CSV (a real browser download);
madre.demo syncs and reads the answer.

Screenshots: test-artifacts/incident-report.png, incident-photo.png, incident-casedesk.png,
incident-weekly.png, incident-answered.png. Same set-up as test_carnet_browser.py (real server,
``carnet --web``, headless Chromium).
"""

from __future__ import annotations

import io
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from carnet.core.clock import MX
from tests.browser.support import (
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    click_and_wait,
    click_until,
    into_view,
    log_in,
    open_app,
    PASSWORD,
    playwright_api,
    reveal,
    screenshot_when_painted,
    shows,
    start_app,
    stop,
    type_into,
    UI_SECONDS,
    wait_for,
)

pytestmark = pytest.mark.browser

DESCRIPTION = "En la farmacia de la UMAE no hay desde el lunes (prueba en navegador)."
ANSWER = "Ya llegó el metotrexato: recójalo el jueves en la farmacia de la UMAE, ventanilla 3."


def photo_png() -> bytes:
    """A small picture of a prescription-coloured square (what the family would photograph)."""
    out = io.BytesIO()
    Image.new("RGB", (120, 90), (30, 120, 200)).save(out, format="PNG")
    return out.getvalue()


def server_photos(api_url: str, folio: str) -> list[dict[str, object]]:
    with httpx.Client(base_url=api_url, timeout=15.0) as client:
        token = client.post("/api/v1/auth/login", json={"username": "madre.demo", "password": PASSWORD}).json()
        incidents = client.get("/api/v1/incidents", headers={"Authorization": f"Bearer {token['access_token']}"})
        [incident] = [i for i in incidents.json() if i["folio"] == folio]
        return list(incident["photos"])


def report_button_in_words(page, width: int) -> None:  # type: ignore[no-untyped-def]
    """ "Reportar un problema" is a button with its words on screen (far wider than a 48-px icon), whole inside
    a screen ``width`` wide."""
    button = page.get_by_role("button", name="Reportar un problema", exact=True)
    wait_for("the report button", button.count)
    into_view(page, button, "the report button on screen")
    box = button.first.bounding_box()
    assert box is not None and box["width"] >= 150 and box["x"] >= 0 and box["x"] + box["width"] <= width, box


def test_guardian_reports_a_missing_medicine_case_desk_answers_it(api, tmp_path: Path) -> None:  # noqa: F811
    api_url, _stop_api = api
    family = start_app(api_url, tmp_path / "phone-madre")
    desk_app = None
    try:
        with playwright_api.sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            try:
                page = browser.new_page(viewport={"width": 390, "height": 844})
                open_app(page, family.url)
                log_in(page, "madre.demo", page.get_by_role("button", name="Mateo Hernández"))
                click_until(page, page.get_by_role("button", name="Mateo Hernández"), "Mateo's carnet",
                            lambda: shows(page, "Ciclo actual"))
                page.set_viewport_size({"width": 360, "height": 640})  # the smallest phone: the button still fits
                report_button_in_words(page, 360)
                page.set_viewport_size({"width": 390, "height": 844})
                click_and_wait(page, "Reportar un problema", "Medicamento")
                click_and_wait(page, "Medicamento", "Medicamento, seleccionado")
                type_into(page, "¿Qué medicamento falta?", "Metotrexato 2.5 mg")
                type_into(page, "Cuéntanos qué pasó", DESCRIPTION)
                # A photo, through the browser's own file chooser (the button opens it inside the click).
                add_photo = page.get_by_role("button", name="Agregar foto")
                reveal(page, add_photo, "the Agregar foto button")
                into_view(page, add_photo, "Agregar foto on screen")
                choosers: list[Any] = []

                def chosen(chooser: Any) -> None:  # (Playwright takes a function, not a list's bound method)
                    choosers.append(chooser)

                page.on("filechooser", chosen)
                # (the evaluate lets Playwright deliver the event while polling)
                click_until(page, add_photo, "Agregar foto", lambda: choosers or page.evaluate("false"))
                page.remove_listener("filechooser", chosen)
                assert choosers[0].is_multiple()
                choosers[0].set_files({"name": "receta.png", "mimeType": "image/png", "buffer": photo_png()})
                thumb = page.get_by_role("img", name="Foto 1 del reporte").or_(page.get_by_label("Foto 1 del reporte"))
                wait_for("the photo's thumbnail", thumb.count)
                into_view(page, thumb, "the thumbnail on screen")
                assert page.get_by_role("button", name="Quitar foto 1").count()
                screenshot_when_painted(page, thumb.first, "incident-photo.png", min_fraction=0.3)
                tile = page.get_by_role("button", name="Medicamento, seleccionado")
                reveal(page, tile, "the chosen category", down=False)
                into_view(page, tile, "the category grid on screen")
                screenshot_when_painted(page, tile.first, "incident-report.png", min_fraction=0.1)
                # The app syncs right after the write: the server's folio replaces "Pendiente de enviar".
                pattern = re.compile(r"Tu folio: CE-\d{4}-\d+")
                folio = page.get_by_text(pattern).or_(page.get_by_label(pattern))  # a card merges its texts
                send = page.get_by_role("button", name="Enviar reporte")
                # Sends the report: a tap that landed leaves the form at once (no button to tap again) while the folio
                # comes with the sync; done() is checked before each tap.
                click_until(page, send, "the send button", lambda: folio.count() or not send.count())
                wait_for("the folio", folio.count)
                shown = folio.first.inner_text() + " " + (folio.first.get_attribute("aria-label") or "")
                found = re.search(r"CE-\d{4}-\d+", shown)
                assert found, shown
                folio_text = found.group(0)
                assert shows(page, "Recibida") and shows(page, "Respuesta esperada antes de")
                # The photo went after the report: the server holds it once; the report shows the server's copy.
                wait_for("the photo on the server", lambda: len(server_photos(api_url, folio_text)) == 1)
                wait_for("the photo's upload done", lambda: not shows(page, "Foto pendiente de enviar"))
                wait_for("the report's photo", page.get_by_role("img", name="Foto 1 del reporte")
                         .or_(page.get_by_label("Foto 1 del reporte")).count)

                # The case desk, in a fresh app with its own data dir.
                desk_app = start_app(api_url, tmp_path / "desk")
                desk = browser.new_page(viewport={"width": 390, "height": 844})
                open_app(desk, desk_app.url)
                log_in(desk, "casos.demo", desk.get_by_role("button", name="Cifras de la semana"))
                row = desk.get_by_role("button", name=re.compile(re.escape(folio_text)))
                reveal(desk, row, "the new report in the queue")
                # Which child and which unit, in the queue and in the case (issue #16 item 12).
                child = "Mateo Hernández López · UMAE Hospital de Pediatría CMN Siglo XXI"
                assert child in (row.first.get_attribute("aria-label") or "") + row.first.inner_text()
                # The queue's row shows "Falta: …" too: the report is open when a Volver shows with it.
                click_until(desk, row, "the new report",
                            lambda: desk.get_by_role("button", name="Volver").count()
                            and shows(desk, "Falta: Metotrexato 2.5 mg"))
                assert shows(desk, child)
                wait_for("what the family wrote", lambda: shows(desk, DESCRIPTION))
                family_photo = desk.get_by_role("img", name="Foto 1 del reporte").or_(
                    desk.get_by_label("Foto 1 del reporte"))
                reveal(desk, family_photo, "the family's photo")
                assert shows(desk, "Fotos de la familia")
                type_into(desk, "Respuesta", ANSWER)
                screenshot_when_painted(desk, desk.get_by_role("textbox", name="Respuesta").first,
                                        "incident-casedesk.png", min_fraction=0.1)
                # Sends the answer: not tapped again once accepted (done() is checked before each tap).
                click_until(desk, desk.get_by_role("button", name="Marcar como atendida"), "Marcar como atendida",
                            lambda: shows(desk, f"Reporte {folio_text} marcado como atendido."))

                # The week's figures, downloaded as CSV by the browser.
                back = desk.get_by_role("button", name="Volver")
                figures = desk.get_by_role("button", name="Cifras de la semana")
                click_until(desk, back, "Volver", lambda: figures.count() and not back.count())
                click_and_wait(desk, "Cifras de la semana", "Descargar CSV")
                monday = datetime.now(MX).date() - timedelta(days=datetime.now(MX).weekday())
                download_button = desk.get_by_role("button", name="Descargar CSV")
                into_view(desk, download_button, "Descargar CSV on screen")
                assert desk.get_by_role("button", name="Descargar resumen (Markdown)").count()
                screenshot_when_painted(desk, download_button.first, "incident-weekly.png", min_fraction=0.1)
                # The download event is caught while click_until polls (each poll is a Playwright call).
                with desk.expect_download(timeout=UI_SECONDS * 1000) as download:
                    click_until(desk, download_button, "Descargar CSV", lambda: shows(desk, "Archivo listo:"))
                assert download.value.suggested_filename == f"casos-semana-{monday.isoformat()}.csv"
                csv_text = Path(download.value.path()).read_text(encoding="utf-8")
                assert csv_text.startswith("indicador,categoria,unidad,insumo,valor")
                assert f"semana_inicio,,,,{monday.isoformat()}" in csv_text
                assert re.search(r"^desabasto,,[^,]+,Metotrexato 2\.5 mg,\d+\r?$", csv_text, re.MULTILINE), csv_text
                wait_for("the download confirmed", lambda: shows(desk, f"Archivo listo: casos-semana-{monday}.csv"))
                desk.close()

                # The family syncs and reads the answer.
                click_until(page, page.get_by_role("button", name="Actualizar"), "Actualizar",
                            lambda: shows(page, "Atendida"), scroll=False)
                answer = page.get_by_text(ANSWER).or_(page.get_by_label(ANSWER, exact=False))
                reveal(page, answer, "the case desk's answer")
                into_view(page, answer, "the answer on screen")
                assert shows(page, "Atendida") and shows(page, "Marcó el reporte como atendido")
                screenshot_when_painted(page, answer.first, "incident-answered.png", min_fraction=0.1)
                # A detail screen (the report itself) has the button too, and it opens the form.
                report_button_in_words(page, 390)
                click_and_wait(page, "Reportar un problema", "Medicamento")
            except BaseException:
                for n, open_page in enumerate(browser.contexts[-1].pages if browser.contexts else []):
                    ARTIFACTS.mkdir(exist_ok=True)
                    open_page.screenshot(path=str(ARTIFACTS / f"incident-failure-{n}.png"))
                raise
            finally:
                browser.close()
    finally:
        stop(family.proc)
        if desk_app is not None:
            stop(desk_app.proc)
