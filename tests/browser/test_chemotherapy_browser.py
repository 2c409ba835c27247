"""Issue #15's browser test: oncologia.demo writes a cycle for Mateo at a desk PC's width (the doses computed
from his weight and height before it is written); madre.demo's phone shows it on the carnet and the agenda;
farmacia.demo scans the carnet's QR, confirms the cycle (its mixture is ordered) and dispenses it; the mixing
provider (the simulator, a real HTTP service) receives the structured doses and the child's BSA.

Screenshots: test-artifacts/chemo-prescribe.png, chemo-carnet.png, chemo-pharmacy.png.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
from pathlib import Path

import httpx
import pytest

from tests.browser.support import (
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    PASSWORD,
    click_and_wait,
    click_until,
    into_view,
    log_in,
    open_app,
    playwright_api,
    screenshot_when_painted,
    shows,
    start_app,
    stop,
    type_into,
    wait_for,
)
from tests.support.processes import free_port, running_simulator, start_server

pytestmark = pytest.mark.browser

QUICK = {"CARNET_MIXING_RETRY_BASE_SECONDS": "0.3", "CARNET_MIXING_POLL_SECONDS": "0.3"}
VINCRISTINA = "Vincristina: 1.2 mg, vía IV — días 1, 8, 15 y 22"  # 1.5 mg/m² × 0.78 m² (20 kg, 110 cm)


def _qr_url(api_url: str) -> str:
    with httpx.Client(base_url=api_url, timeout=15.0) as client:
        token = client.post("/api/v1/auth/login", json={"username": "madre.demo", "password": PASSWORD}).json()
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        mateo = next(p for p in client.get("/api/v1/me", headers=headers).json()["patients"]
                     if p["display_name"] == "Mateo Hernández")
        return str(client.get(f"/api/v1/patients/{mateo['id']}/carnet", headers=headers).json()["qr"]["url"])


def test_a_cycle_written_at_the_desk_reaches_the_family_the_pharmacy_and_the_provider(tmp_path: Path) -> None:
    secret = secrets.token_urlsafe(32)
    secret_file = tmp_path / "mixing.secret"
    secret_file.write_text(secret)
    os.chmod(secret_file, 0o600)
    port = free_port()
    with running_simulator(tmp_path / "provider", secret_file=secret_file,
                           callback_url=f"http://127.0.0.1:{port}/api/v1/mixing/callbacks") as provider:
        server = start_server(tmp_path / "server", port=port, env={
            **QUICK, "CARNET_MIXING_PROVIDER_URL": provider.url, "CARNET_MIXING_SECRET": secret})
        app = start_app(server.url, tmp_path / "web")
        try:
            with playwright_api.sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
                try:
                    # The desk: Mateo's plan, the next cycle written from the LLA induction.
                    desk = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
                    open_app(desk, app.url)
                    search = desk.get_by_role("button", name="Buscar")
                    log_in(desk, "oncologia.demo", search)
                    # Each control of a section is its own node for screen readers: a card merged as one node
                    # named the search field "Buscar paciente …", and each click on it took its focus away.
                    wait_for("the search field", desk.get_by_role("textbox", name="Nombre, CURP o NSS").count)
                    assert desk.get_by_role("textbox", name=re.compile("Buscar paciente")).count() == 0
                    type_into(desk, "Nombre, CURP o NSS", "Mateo")
                    record = desk.get_by_role("button", name=re.compile("Mateo Hernández López"))
                    click_until(desk, search, "Buscar", record.count)
                    click_until(desk, record, "Mateo's record",
                                desk.get_by_role("button", name="Plan de quimioterapia").count)
                    # (a button is disabled while its screen loads: clicked until the next screen shows)
                    click_and_wait(desk, "Plan de quimioterapia", "Escribir el siguiente ciclo")
                    click_and_wait(desk, "Escribir el siguiente ciclo", "LLA — inducción (ejemplo)")
                    click_until(desk, desk.get_by_role("button", name="LLA — inducción (ejemplo)"), "the protocol",
                                desk.get_by_role("button", name="Inducción (1 ciclo), seleccionado").count)
                    type_into(desk, "Peso", "20")
                    type_into(desk, "Talla", "110")
                    click_until(desk, desk.get_by_role("button", name="Calcular dosis"), "Calcular dosis",
                                lambda: shows(desk, VINCRISTINA))
                    assert shows(desk, "1.5 mg/m² × 0.78 m² = 1.2 mg")
                    assert shows(desk, "Protocolo de ejemplo (datos de demostración, no es una guía clínica)")
                    write = desk.get_by_role("button", name="Escribir ciclo", exact=True)
                    screenshot_when_painted(desk, write.first, "chemo-prescribe.png", min_fraction=0.2)
                    click_until(desk, write, "Escribir ciclo", lambda: shows(desk, "Ciclo 7 escrito para el"))
                    desk.context.close()

                    # The family's phone: the carnet and the agenda show the new cycle.
                    phone = browser.new_context(viewport={"width": 390, "height": 844}).new_page()
                    open_app(phone, app.url)
                    mateo = phone.get_by_role("button", name="Mateo Hernández")
                    log_in(phone, "madre.demo", mateo)
                    click_until(phone, mateo, "Mateo's carnet", lambda: shows(phone, VINCRISTINA))
                    assert shows(phone, "Inducción: ciclo 1 de 1")
                    assert shows(phone, "Ciclo actual: 7")
                    cycle = phone.get_by_text("Ciclo actual: 7")
                    into_view(phone, cycle, "the cycle on screen")
                    screenshot_when_painted(phone, cycle.first, "chemo-carnet.png", min_fraction=0.03)  # text on white
                    agenda = phone.get_by_role("tab", name=re.compile("Agenda"))
                    if not agenda.count():
                        agenda = phone.get_by_role("button", name=re.compile("^Agenda"))
                    click_until(phone, agenda, "Agenda", lambda: shows(phone, "Quimioterapia, ciclo 7 (sesión 1 de 5)"))
                    phone.context.close()

                    # The pharmacy counter: scan, confirm (the mixture is ordered), dispense.
                    counter = browser.new_context(
                        viewport={"width": 1280, "height": 800}).new_page()
                    open_app(counter, app.url)
                    scanner = counter.get_by_role("textbox", name="Escanee o pegue el código QR")
                    log_in(counter, "farmacia.demo", scanner)
                    type_into(counter, "Escanee o pegue el código QR", _qr_url(server.url), paste=True)
                    counter.keyboard.press("Enter")
                    confirm = counter.get_by_role("button", name="Confirmar el ciclo 7 y pedir la mezcla")
                    # cycle 7 is due first, but tomorrow: shown, not chosen by itself; the pharmacist picks it
                    cycle_7 = counter.get_by_role("button", name=re.compile(r"^Ciclo 7 · [^,]*$"))
                    wait_for("the verdict and cycle 7",
                             lambda: shows(counter, "Auténtico y vigente") and cycle_7.count())
                    click_until(counter, cycle_7, "Ciclo 7", confirm.count)
                    # the counter's checkbox: the drug's name, and its dose on the line under it
                    vincristine = counter.get_by_role("checkbox", name=re.compile(
                        r"^Vincristina\s+" + re.escape(VINCRISTINA.split(": ", 1)[1])))
                    assert vincristine.count() == 1
                    click_until(counter, confirm, "Confirmar el ciclo 7", lambda: shows(counter, "Ciclo 7 confirmado; mezcla:"))
                    yes = counter.get_by_role("button", name="Sí, registrar")
                    registrar = counter.get_by_role("button", name="Registrar surtido")

                    def dispensed() -> bool:
                        return shows(counter, "Surtido registrado: ciclo 7")

                    # A tap on "Sí, registrar" that Flutter web places beside the dialog (its semantics offset at a
                    # desk width) closes the dialog without registering: then open it again, as a person would.
                    for _ in range(3):
                        click_until(counter, registrar, "Registrar surtido", lambda: yes.count() or dispensed())
                        click_until(counter, yes, "Sí, registrar", lambda: dispensed() or not yes.count())
                        with contextlib.suppress(AssertionError):
                            wait_for("the dispensation registered", dispensed, seconds=15)
                        if dispensed():
                            break
                    assert dispensed(), "the dispensation was never registered"
                    # A plain screenshot: after dispensing the screen gets shorter and, at a desk width, Flutter
                    # web's semantics nodes stay where the scrolled layout had them (158 px lower than painted), so
                    # the painted check cannot line a node up with the canvas (a known defect, in the issue note).
                    counter.screenshot(path=str(ARTIFACTS / "chemo-pharmacy.png"))
                except BaseException:
                    ARTIFACTS.mkdir(exist_ok=True)  # what each open browser session showed, for the failure's reader
                    for n, open_page in enumerate(p for context in browser.contexts for p in context.pages):
                        open_page.screenshot(path=str(ARTIFACTS / f"chemo-failure-{n}.png"))
                    raise
                finally:
                    browser.close()

            # The provider received cycle 7's mixture as structured doses, with the child's BSA.
            def received() -> list[dict[str, object]]:
                return [o for o in provider.orders().values()
                        if {"name": "Vincristina", "amount": 1.2, "unit": "mg", "basis": "m2"} in o["doses"]]

            orders = wait_for("the order at the provider", received)
            assert isinstance(orders, list) and orders[0]["bsa_m2"] == 0.78 and orders[0]["recorded"] == 1
        finally:
            stop(app.proc)
            server.stop()
