"""The guardian's journey in a real browser: log in, pick a child, show the QR, scan it.

The real API server (``carnet-server --demo``) and the app in web mode
(``carnet --web``) run as child processes on loopback; headless Chromium,
driven by Playwright, uses the app through Flutter's accessibility tree (the
way a screen reader would). Screenshots land in ``test-artifacts/``. The QR is
read back from the screenshot with zxing-cpp and verified by the server as
the pharmacy would; then the server is stopped and the app restarted, and the
carnet and its QR must still open, with the offline banner.

Set ``CARNET_TEST_API_URL`` to use an API that is already running instead
of starting one (development only).
"""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest

from tests.browser.support import (
    CHROMIUM,
    CHROMIUM_ARGS,
    click_until,
    log_in as checked_log_in,
    open_app,
    PASSWORD,
    playwright_api,
    qr_from_screen,
    screenshot_when_painted,
    shows,
    start_app,
    stop,
    tamper,
    type_into,
    wait_for,
)

pytestmark = pytest.mark.browser

def log_in(page, username: str) -> None:  # type: ignore[no-untyped-def]
    user = page.get_by_role("textbox", name="Usuario")
    wait_for("the login form", user.count)
    screenshot_when_painted(page, page.get_by_role("button", name="Entrar"), "login.png")
    # Flutter's web text fields take typed keys (a programmatic fill() does not reach Python); type_into
    # checks what each field holds.
    type_into(page, "Usuario", username)
    type_into(page, "Contraseña", "not-the-password")
    click_until(page, page.get_by_role("button", name="Entrar"), "Entrar (wrong password)",
                lambda: shows(page, "Usuario o contraseña incorrectos."))
    # Now the right password, typing and checking each field (keys typed into a just-focused
    # Flutter web field can be lost under load).
    checked_log_in(page, username, page.get_by_role("button", name="Mateo Hernández"))


def pharmacy_verify(api_url: str, scanned: str) -> dict[str, object]:
    with httpx.Client(base_url=api_url, timeout=15.0) as client:
        login = client.post("/api/v1/auth/login", json={"username": "farmacia.demo", "password": PASSWORD})
        login.raise_for_status()
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        response = client.post("/api/v1/pharmacy/verify", json={"token": scanned}, headers=headers)
        assert response.status_code == 200, response.text
        return response.json()


def pharmacy_dispense(api_url: str, scanned: str, cycle_id: str, key: str) -> httpx.Response:
    """farmacia.demo records a cycle of the scanned code as dispensed (its own Idempotency-Key)."""
    with httpx.Client(base_url=api_url, timeout=15.0) as client:
        login = client.post("/api/v1/auth/login", json={"username": "farmacia.demo", "password": PASSWORD})
        login.raise_for_status()
        headers = {"Authorization": f"Bearer {login.json()['access_token']}", "Idempotency-Key": key}
        return client.post("/api/v1/pharmacy/dispensations", json={"token": scanned, "cycle_id": cycle_id},
                           headers=headers)


# ---- the journey ----------------------------------------------------------------------------


def test_device_without_secure_storage_says_so(tmp_path: Path) -> None:
    """No usable keyring: the login screen says the session won't be kept."""
    env = {"PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring", "CARNET_ALLOW_INSECURE_KEYRING": ""}
    app = start_app("http://127.0.0.1:9", tmp_path / "phone", env=env, device=True)
    try:
        with playwright_api.sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            try:
                page = browser.new_page(viewport={"width": 390, "height": 844})
                open_app(page, app.url)
                notice = page.get_by_text("Este dispositivo no tiene almacenamiento seguro", exact=False)
                wait_for("the insecure-storage notice", notice.count)
                screenshot_when_painted(page, notice, "login-no-secure-storage.png")
            finally:
                browser.close()
    finally:
        stop(app.proc)


def test_guardian_shows_qr_pharmacy_verifies_and_it_opens_offline(api, tmp_path: Path) -> None:
    api_url, stop_api = api
    app = start_app(api_url, tmp_path / "phone", device=True)  # a phone: its data outlive the restart below
    try:
        with playwright_api.sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            try:
                page = browser.new_page(viewport={"width": 390, "height": 844})
                open_app(page, app.url)
                log_in(page, "madre.demo")

                mateo = page.get_by_role("button", name="Mateo Hernández")
                wait_for("the child picker", mateo.count)
                assert page.get_by_role("button", name="Valentina Hernández").count() == 1
                screenshot_when_painted(page, mateo, "children.png")
                click_until(page, mateo, "Mateo's carnet", lambda: shows(page, "NSS"))
                assert page.get_by_role("img", name="Código QR del carnet de Mateo Hernández").count() == 1
                assert shows(page, "Válido hasta")
                assert shows(page, "Diagnóstico")
                scanned = qr_from_screen(page, "carnet.png")
                assert "/v/" in scanned

                # The pharmacy scans it: genuine. One character changed: not genuine.
                verified = pharmacy_verify(api_url, scanned)
                assert verified["valid"] is True and verified["due"]
                token = scanned.rsplit("/v/", 1)[1]
                assert pharmacy_verify(api_url, tamper(token))["valid"] is False
                # It dispenses the due cycle once; a second time (another key) is 409 with who and when.
                cycle_id = verified["due"][0]["id"]
                first = pharmacy_dispense(api_url, scanned, cycle_id, "browser-first")
                assert first.status_code == 201, first.text
                again = pharmacy_dispense(api_url, scanned, cycle_id, "browser-second")
                assert again.status_code == 409 and again.json()["error"]["code"] == "already_dispensed"
                already = again.json()["error"]["dispensation"]
                assert already["dispensed_by"] == first.json()["dispensed_by"]
                assert already["dispensed_at"] == first.json()["dispensed_at"] and already["cycle_id"] == cycle_id
                assert [d["cycle_id"] for d in pharmacy_verify(api_url, scanned)["dispensations"]] == [cycle_id]
                page.close()

                # Airplane mode: no API, the app restarted, same phone storage.
                stop_api()
                stop(app.proc)
                app = start_app(api_url if not os.environ.get("CARNET_TEST_API_URL")
                                else "http://127.0.0.1:9", tmp_path / "phone", device=True)
                page = browser.new_page(viewport={"width": 390, "height": 844})
                open_app(page, app.url)
                mateo = page.get_by_role("button", name="Mateo Hernández")
                wait_for("the cached child list", mateo.count)
                banner = page.get_by_text("Sin conexión — datos del", exact=False)
                click_until(page, mateo, "Mateo's carnet, offline", banner.count)
                assert qr_from_screen(page, "carnet-offline.png", also_painted=banner) == scanned

                # Settings: English, then log out (offline: the phone forgets the session anyway).
                english = page.get_by_role("radio", name="English")
                click_until(page, page.get_by_role("button", name="Ajustes"), "Ajustes", english.count)
                logout = page.get_by_role("button", name="Log out")
                click_until(page, english, "English", logout.count)
                screenshot_when_painted(page, logout, "settings.png", min_fraction=0.04)  # an outline
                click_until(page, logout, "Log out", page.get_by_role("button", name="Log in").count)
            finally:
                browser.close()
    finally:
        stop(app.proc)
