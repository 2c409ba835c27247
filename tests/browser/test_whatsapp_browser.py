"""Ajustes → WhatsApp and Ajustes → Recordatorios in a real browser, in one short journey.

madre.demo opens Ajustes → WhatsApp: not linked; "Vincular WhatsApp" shows the code large with the bot's number
and the steps; "Ya lo envié" before sending says the code has not arrived. Ajustes → Recordatorios: four switches
named by their words, on; "Mezcla lista" switched off reaches the server. Every control of both screens has a
name (axe-core). Screenshots: test-artifacts/whatsapp-code.png, reminders.png.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.browser.support import (
    AXE_JS,
    axe_violations,
    CHROMIUM,
    CHROMIUM_ARGS,
    click_until,
    log_in,
    open_app,
    PASSWORD,
    playwright_api,
    screenshot_when_painted,
    shows,
    start_app,
    stop,
    wait_for,
)
from tests.support.processes import start_server

pytestmark = pytest.mark.browser

BOT = "+52 55 0000 0000"


def reminders_on_server(api_url: str) -> Callable[[], list[str]]:
    """What the server holds for madre.demo, asked as her (one login, then one GET per call)."""
    with httpx.Client(base_url=api_url, timeout=15.0) as client:
        login = client.post("/api/v1/auth/login", json={"username": "madre.demo", "password": PASSWORD})
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}

    def kinds() -> list[str]:
        answer = httpx.get(f"{api_url}/api/v1/me/reminders", headers=headers, timeout=15.0)
        assert answer.status_code == 200, answer.text
        return list(answer.json()["kinds"])

    return kinds


def test_whatsapp_code_and_reminder_switches(tmp_path: Path) -> None:
    server = start_server(tmp_path / "server", env={"CARNET_WHATSAPP_BOT_NUMBER": BOT})
    app = start_app(server.url, tmp_path / "phone")
    try:
        with playwright_api.sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            try:
                page = browser.new_page(viewport={"width": 390, "height": 844})
                open_app(page, app.url)
                settings = page.get_by_role("button", name="Ajustes")
                log_in(page, "madre.demo", settings)

                whatsapp = page.get_by_role("button", name="WhatsApp", exact=True)
                click_until(page, settings, "Ajustes", whatsapp.count)  # a tap during the first sync's redraw is lost
                click_until(page, whatsapp, "WhatsApp in Ajustes", lambda: shows(page, "WhatsApp no vinculado"))
                # The code is read out one character at a time (its accessible name spells it).
                code = page.get_by_text(re.compile(r"^Código: C A R N E T - [A-Z0-9]( [A-Z0-9]){4}$"))
                # Asks the server for a code: not tapped again once it shows (done() is checked before each tap).
                click_until(page, page.get_by_role("button", name="Vincular WhatsApp"), "Vincular WhatsApp", code.count)
                assert shows(page, f"Escribe a Mi Chat ONCOIMSS al {BOT}") and shows(page, "Envía este código")
                assert page.get_by_text(BOT, exact=True).count()  # the number alone, to read or copy
                screenshot_when_painted(page, code.first, "whatsapp-code.png", min_fraction=0.05)
                if AXE_JS.exists():
                    assert axe_violations(page) == []
                click_until(page, page.get_by_role("button", name="Ya lo envié"), "Ya lo envié",
                            lambda: shows(page, "Tu código aún no llega"))

                reminders = page.get_by_role("button", name="Recordatorios", exact=True)
                click_until(page, page.get_by_role("button", name="Volver"), "Volver", reminders.count)
                mixture = page.get_by_role("switch", name="Mezcla lista")
                click_until(page, reminders, "Recordatorios in Ajustes", mixture.count)
                assert page.get_by_role("switch").count() == 6  # chemotherapy, consultation, laboratory apart
                assert mixture.first.is_checked()
                screenshot_when_painted(page, mixture.first, "reminders.png", min_fraction=0.05)
                if AXE_JS.exists():
                    assert axe_violations(page) == []
                # A toggle (not idempotent): done() is checked before each tap.
                click_until(page, mixture, "Mezcla lista", lambda: not mixture.first.is_checked())
                on_server = reminders_on_server(server.url)
                chosen = ["quimioterapia_manana", "consulta_manana", "laboratorio_manana", "reporte_respondido",
                          "donacion_manana"]
                wait_for("the choice on the server", lambda: on_server() == chosen)
            finally:
                browser.close()
    finally:
        stop(app.proc)
        server.stop()
