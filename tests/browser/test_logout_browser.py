"""Logging out with an unsent report, in a real browser (issue #16, item 1): madre.demo files a report with no
network (a loopback proxy that drops every request), taps "Cerrar sesión", is told "1 reporte" is not sent yet,
and, the network back, chooses "Enviar y cerrar sesión": the server has the report, then the login screen shows.
Discard and cancel are covered in tests/client/test_logout_unsent_ui.py.

Screenshot: test-artifacts/logout-unsent.png.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.browser.support import (
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    click_and_wait,
    click_until,
    log_in,
    open_app,
    PASSWORD,
    playwright_api,
    screenshot_when_painted,
    shows,
    start_app,
    stop,
    type_into,
    wait_for,
)
from tests.support.flaky_proxy import FlakyProxy

pytestmark = pytest.mark.browser

DESCRIPTION = "No hay metotrexato en la farmacia (enviado antes de cerrar sesión)."


def reports_on_server(api_url: str) -> int:
    with httpx.Client(base_url=api_url, timeout=15.0) as client:
        token = client.post("/api/v1/auth/login", json={"username": "madre.demo", "password": PASSWORD}).json()
        mine = client.get("/api/v1/incidents", headers={"Authorization": f"Bearer {token['access_token']}"})
        return sum(1 for incident in mine.json() if incident["description"] == DESCRIPTION)


def test_logout_with_an_unsent_report_says_so_and_sends_it_first(api, tmp_path: Path) -> None:
    api_url, _stop_api = api
    port = int(api_url.rsplit(":", 1)[1])
    with FlakyProxy(port, seed=1, drop=0.0, lose_answer=0.0, delay=0.0) as proxy:
        app = start_app(proxy.url, tmp_path / "phone")
        try:
            with playwright_api.sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
                try:
                    page = browser.new_page(viewport={"width": 390, "height": 844})
                    open_app(page, app.url)
                    mateo = page.get_by_role("button", name="Mateo Hernández")
                    log_in(page, "madre.demo", mateo)
                    click_until(page, mateo, "Mateo's carnet", lambda: shows(page, "Ciclo actual"))

                    proxy.fate.drop = 1.0  # no network from here on
                    click_and_wait(page, "Reportar un problema", "Medicamento")
                    click_and_wait(page, "Medicamento", "Medicamento, seleccionado")
                    type_into(page, "¿Qué medicamento falta?", "Metotrexato 2.5 mg")
                    type_into(page, "Cuéntanos qué pasó", DESCRIPTION)
                    send = page.get_by_role("button", name="Enviar reporte")
                    # Queues the report: a tap that landed leaves the form at once (no button to tap again);
                    # done() is checked before each tap.
                    click_until(page, send, "the send button",
                                lambda: shows(page, "Pendiente de enviar") or not send.count())
                    wait_for("the report waiting", lambda: shows(page, "Pendiente de enviar"))

                    settings = page.get_by_role("button", name="Ajustes")
                    back = page.get_by_role("button", name="Volver")

                    def back_home() -> int:  # the report, the list, then a screen with "Ajustes"
                        if not settings.count() and back.count():
                            back.first.click()
                        return settings.count()

                    wait_for("a screen with Ajustes", back_home)
                    english = page.get_by_role("radio", name="English")
                    click_until(page, settings, "Ajustes", english.count)
                    logout = page.get_by_role("button", name="Cerrar sesión", exact=True)
                    click_until(page, logout, "Cerrar sesión", lambda: shows(page, "Tienes 1 reporte sin enviar."))
                    send_first = page.get_by_role("button", name="Enviar y cerrar sesión")
                    assert page.get_by_role("button", name="Cerrar sesión y descartar").count() == 1
                    assert page.get_by_role("button", name="Cancelar").count() == 1
                    screenshot_when_painted(page, send_first.first, "logout-unsent.png", min_fraction=0.1)
                    assert reports_on_server(api_url) == 0

                    proxy.fate.drop = 0.0  # the network is back
                    entrar = page.get_by_role("button", name="Entrar")
                    click_until(page, send_first, "Enviar y cerrar sesión", entrar.count)
                    assert reports_on_server(api_url) == 1
                except BaseException:
                    ARTIFACTS.mkdir(exist_ok=True)
                    for n, open_page in enumerate(browser.contexts[-1].pages if browser.contexts else []):
                        open_page.screenshot(path=str(ARTIFACTS / f"logout-failure-{n}.png"))
                    raise
                finally:
                    browser.close()
        finally:
            stop(app.proc)
