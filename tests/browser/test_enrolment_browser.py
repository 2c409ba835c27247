"""Issue #14's "Done when", in a real browser: oncologia.demo registers a child and adds a guardian at a desk
PC's width (1280 px); in a second browser session at a phone's width (390 px) the code is typed, the new
guardian chooses a username and a password, accepts the privacy notice and sees the child's carnet.

The code is read back from a screenshot of the desk's screen with a real QR reader (zxing-cpp): it scans.
Screenshots: test-artifacts/enrolment-register.png, enrolment-code.png, enrolment-code-390.png,
enrolment-activate.png,
enrolment-carnet.png. Same set-up as test_carnet_browser.py (real server, ``carnet --web``, headless Chromium).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.browser.support import (
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    click_and_wait,
    click_until,
    into_view,
    log_in,
    open_app,
    playwright_api,
    qr_from_screen,
    screenshot_when_painted,
    shows,
    start_app,
    stop,
    type_into,
    wait_for,
)
from tests.server.enrolment_support import curp, nss

pytestmark = pytest.mark.browser

CHILD_CURP = curp("GOLM190322HDFMPTA")
CHILD_NSS = nss("4567890123")
PASSWORD = "clave-de-lucia-2026"


def test_oncology_registers_a_child_and_a_new_guardian_activates_the_account(api, tmp_path: Path) -> None:
    api_url, _ = api
    app = start_app(api_url, tmp_path / "web")
    try:
        with playwright_api.sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            try:
                desk = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
                open_app(desk, app.url)
                register = desk.get_by_role("button", name="Registrar paciente")
                log_in(desk, "oncologia.demo", register)

                # Register Mateo Gómez López at the desk.
                click_until(desk, register, "Registrar paciente", desk.get_by_role("textbox", name="Nombre(s)").count)
                for label, value in [("Nombre(s)", "Mateo"), ("Primer apellido", "Gómez"),
                                     ("Segundo apellido", "López"), ("Fecha de nacimiento", "22/03/2019"),
                                     ("CURP", CHILD_CURP), ("NSS", CHILD_NSS),
                                     ("Fecha de diagnóstico", "2026-10-05")]:
                    type_into(desk, label, value)
                click_and_wait(desk, "Hombre", "Hombre, seleccionado")
                type_into(desk, "Buscar diagnóstico", "C91.0")
                # The matches are redrawn in place as the filter is typed: a tap on one being replaced is lost.
                click_until(desk, desk.get_by_role("button", name=re.compile(r"^C91\.0")), "the diagnosis",
                            lambda: desk.get_by_role("button", name="Cambiar").count())
                click_and_wait(desk, "O+", "O+, seleccionado")
                send = desk.get_by_role("button", name="Registrar", exact=True)
                into_view(desk, send, "Registrar on screen")
                screenshot_when_painted(desk, send.first, "enrolment-register.png", min_fraction=0.2)
                add = desk.get_by_role("button", name="Agregar tutor")
                # (sent again on a lost tap: the form keeps its Idempotency-Key, so the child is registered once)
                click_until(desk, send, "Registrar", lambda: add.count() and shows(desk, "Mateo Gómez López"))

                # A guardian for him: the code, large and as a QR.
                click_until(desk, add, "Agregar tutor",
                            desk.get_by_role("textbox", name="Nombre completo del familiar").count)
                type_into(desk, "Nombre completo del familiar", "Lucía López Pérez")
                type_into(desk, "Parentesco", "madre")
                type_into(desk, "Celular", "5587654321")
                qr = desk.get_by_role("img", name="Código QR de activación para Lucía López Pérez")
                # Makes a code on the server: a tap that landed leaves the form (no button to tap again); done() is
                # checked before each tap.
                generate = desk.get_by_role("button", name="Generar código")
                click_until(desk, generate, "Generar código", lambda: qr.count() or not generate.count())
                wait_for("the code's QR", qr.count)
                done = desk.get_by_role("button", name="Listo")
                code = qr_from_screen(desk, "enrolment-code.png", also_painted=done.first)
                assert re.fullmatch(r"[2-9A-HJKMNP-Z]{5}-[2-9A-HJKMNP-Z]{5}", code), code
                assert shows(desk, "Vale hasta el")
                desk.set_viewport_size({"width": 390, "height": 844})  # the same screen on a phone's width
                assert qr_from_screen(desk, "enrolment-code-390.png", also_painted=done.first) == code
                desk.set_viewport_size({"width": 1280, "height": 800})

                # A second browser session, a phone: the new guardian types the code.
                phone = browser.new_context(viewport={"width": 390, "height": 844}).new_page()
                open_app(phone, app.url)
                have = phone.get_by_role("button", name="Tengo un código de activación")
                wait_for("the login screen", have.count)
                click_until(phone, have, "Tengo un código de activación",
                            phone.get_by_role("textbox", name="Código de activación").count)
                typed_code = code.lower().replace("-", " ")
                type_into(phone, "Código de activación", typed_code)
                type_into(phone, "Elige tu usuario", "lucia.lopez")
                type_into(phone, "Elige tu contraseña", PASSWORD)
                type_into(phone, "Repite la contraseña", PASSWORD)
                activate = phone.get_by_role("button", name="Activar mi cuenta")
                screenshot_when_painted(phone, activate.first, "enrolment-activate.png", min_fraction=0.2)
                accept = phone.get_by_role("button", name="Acepto")
                code_error = phone.get_by_text("El código tiene 10 caracteres", exact=False)
                # Activates the account: not tapped again once the notice (or a word on the code) shows.
                click_until(phone, activate, "Activar mi cuenta", lambda: accept.count() or code_error.count())
                # Every character typed reached the app, even with redraws meanwhile (#14: none may be lost).
                assert not code_error.count(), phone.get_by_role("textbox", name="Código de activación").first.evaluate(
                    "e => e.value")
                wait_for("the privacy notice", accept.count)
                carnet = phone.get_by_role("img", name="Código QR del carnet de Mateo Gómez")
                click_until(phone, accept, "Acepto", carnet.count)
                assert qr_from_screen(phone, "enrolment-carnet.png").startswith("http")  # the carnet's QR scans

                # Back at the desk: the code is used, Lucía has access.
                click_until(desk, done, "Listo", lambda: add.count() and not done.count())
                click_until(desk, desk.get_by_role("button", name="Actualizar"), "Actualizar",
                            lambda: shows(desk, "Quitar acceso a Lucía López Pérez"), scroll=False)
            except BaseException:
                ARTIFACTS.mkdir(exist_ok=True)  # what each browser session showed, for whoever reads the failure
                for n, open_page in enumerate(p for context in browser.contexts for p in context.pages):
                    open_page.screenshot(path=str(ARTIFACTS / f"enrolment-failure-{n}.png"))
                raise
            finally:
                browser.close()
    finally:
        stop(app.proc)
