"""Fever during chemotherapy, "Hora Dorada" (issue #19), in a real browser: madre.demo presses "Tiene fiebre" with no
network (a loopback proxy that drops every request), reads where to go, the map link, what to bring and what not to
do (the unit's data, on the phone with the carnet), sends the reading (queued), sees "Te esperan en urgencias" and
the emergency card with its QR; back online the episode reaches the unit; oncologia.demo, on a desk-width window,
sees it, records arrival, triage and first antibiotic, and the week's fever figures count it; the family then sees
each step.

Screenshots: test-artifacts/fever-go-now.png, fever-instructions.png, fever-card.png, fever-desk.png, fever-figures.png.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser.support import (
    ARTIFACTS,
    axe_violations,
    CHROMIUM,
    CHROMIUM_ARGS,
    click_until,
    into_view,
    log_in,
    open_app,
    playwright_api,
    qr_from_screen,
    reveal,
    screenshot_when_painted,
    shows,
    start_app,
    stop,
    type_into,
)
from tests.support.flaky_proxy import FlakyProxy

pytestmark = pytest.mark.browser


def _words(page, text: str):  # type: ignore[no-untyped-def]
    """The nodes that show ``text``: as text, or as a control's accessible name (a link button)."""
    return page.get_by_text(text, exact=False).or_(page.get_by_label(text, exact=False))


def test_fever_offline_reaches_the_unit_which_records_the_golden_hour(api, tmp_path: Path) -> None:
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

                    proxy.fate.drop = 1.0  # no signal from here on
                    fever = page.get_by_role("button", name="Tiene fiebre (38 °C o más)")
                    click_until(page, fever, "Tiene fiebre", lambda: shows(page, "Lleva ya a Mateo Hernández"))
                    assert shows(page, "Av. Cuauhtémoc 330")
                    screenshot_when_painted(page, page.get_by_role("button", name="Volver").first, "fever-go-now.png")
                    assert shows(page, "Llamar a urgencias (24 horas): 55 5555 0101")
                    # The rest of the unit's words, top to bottom on the way down to the form: the map link, what
                    # to bring, what not to do (the hospital's data, from the phone: no signal).
                    for words in (
                        "Ver en el mapa",
                        "Qué llevar",
                        "La credencial del IMSS o el NSS",
                        "Qué no hacer",
                        "No le des antibióticos que tengas en casa",
                    ):
                        reveal(page, _words(page, words), words)
                    type_into(page, "Temperatura (°C)", "38,7")
                    send = page.get_by_role("button", name="Avisar al hospital")
                    click_until(page, send, "Avisar al hospital", lambda: shows(page, "Te esperan en urgencias"))
                    assert shows(page, "Pendiente de enviar")
                    screenshot_when_painted(page, send.first, "fever-instructions.png")
                    assert axe_violations(page) == []  # every control named, for a screen reader

                    card = page.get_by_role("button", name="Tarjeta de urgencias")
                    click_until(page, card, "Tarjeta de urgencias", lambda: shows(page, "Grupo sanguíneo"))
                    assert shows(page, "Catéter venoso central")
                    assert axe_violations(page) == []
                    qr = page.get_by_role("img", name="Código QR de la tarjeta de urgencias de Mateo Hernández López")
                    reveal(page, qr, "the card's QR")
                    into_view(page, qr, "the card's QR on screen")
                    assert "/e/" in qr_from_screen(page, "fever-card.png")
                    back = page.get_by_role("button", name="Volver")
                    click_until(page, back, "Volver", lambda: shows(page, "Avisar al hospital"))

                    proxy.fate.drop = 0.0  # signal again: the episode goes
                    refresh = page.get_by_role("button", name="Actualizar")
                    click_until(page, refresh, "Actualizar", lambda: shows(page, "El hospital recibió el aviso"))

                    desk = browser.new_page(viewport={"width": 1280, "height": 900})
                    open_app(desk, app.url)
                    entry = desk.get_by_role("button", name="Fiebre: Hora Dorada")
                    log_in(desk, "oncologia.demo", entry)
                    click_until(desk, entry, "Fiebre: Hora Dorada", lambda: shows(desk, "Aún no llega a urgencias"))
                    for step, done in (
                        ("Registrar llegada de Mateo Hernández (ahora)", "Llegada de Mateo Hernández registrada"),
                        ("Registrar triage de Mateo Hernández (ahora)", "Triage de Mateo Hernández registrado"),
                        (
                            "Registrar primer antibiótico de Mateo Hernández (ahora)",
                            "Primer antibiótico de Mateo Hernández registrado",
                        ),
                    ):
                        if step.startswith("Registrar triage"):
                            assert shows(desk, "min desde la llegada")
                            screenshot_when_painted(desk, desk.get_by_role("button", name=step).first, "fever-desk.png")
                        click_until(desk, desk.get_by_role("button", name=step), step, lambda d=done: shows(desk, d))
                    assert axe_violations(desk) == []
                    figures = desk.get_by_role("button", name="Cifras de fiebre de la semana")
                    click_until(desk, figures, "the fever figures", lambda: shows(desk, "Episodios de fiebre: 1"))
                    assert shows(desk, "Sin antibiótico registrado: 0")
                    screenshot_when_painted(
                        desk, desk.get_by_role("button", name="Descargar CSV").first, "fever-figures.png"
                    )

                    click_until(page, refresh, "Actualizar", lambda: shows(page, "Primer antibiótico:"))
                    assert shows(page, "Llegada a urgencias:")
                except BaseException:
                    ARTIFACTS.mkdir(exist_ok=True)
                    for n, open_page in enumerate(browser.contexts[-1].pages if browser.contexts else []):
                        open_page.screenshot(path=str(ARTIFACTS / f"fever-failure-{n}.png"))
                    raise
                finally:
                    browser.close()
        finally:
            stop(app.proc)
