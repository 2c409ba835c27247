"""Privacy notice and "Mi cuenta" in a real browser, in one journey (one server, one app, lean on CI time).

padre.demo has not accepted the notice (its acceptance is cleared in the test server's database): after
login the notice shows; "Ahora no" logs out saying why; logging in again, "Acepto" opens the carnet. From
settings, "Mi cuenta": "Descargar mis datos" is a real browser download whose JSON holds Santiago's data;
a closure request is made and withdrawn; the password is changed, the app returns to login, and the new
password logs in.

Screenshots: test-artifacts/privacy-notice.png, account.png. Same set-up as test_carnet_browser.py (real
server, ``carnet --web``, headless Chromium).
"""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pytest

from tests.browser.support import (
    CHROMIUM,
    CHROMIUM_ARGS,
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
    UI_SECONDS,
    wait_for,
)

pytestmark = pytest.mark.browser

NEW_PASSWORD = "nueva-clave-de-prueba"


def forget_acceptance(db: Path, username: str) -> None:
    """The guardian never accepted the notice (what a family created before the notice existed looks like)."""
    with sqlite3.connect(db, timeout=15.0) as conn:
        changed = conn.execute("UPDATE users SET privacy_version = NULL, privacy_accepted_at = NULL "
                               "WHERE username = ?", (username,)).rowcount
    assert changed == 1


def test_notice_then_my_account_download_closure_and_password(api, tmp_path: Path) -> None:
    if os.environ.get("CARNET_TEST_API_URL"):
        pytest.skip("needs the test server's own database (no external API)")
    api_url, _ = api
    forget_acceptance(tmp_path / "server" / "carnet.db", "padre.demo")
    app = start_app(api_url, tmp_path / "phone")
    try:
        with playwright_api.sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            try:
                page = browser.new_page(viewport={"width": 390, "height": 844}, accept_downloads=True)
                open_app(page, app.url)
                accept = page.get_by_role("button", name="Acepto")

                # The notice, then "Ahora no": back at login, with the reason.
                log_in(page, "padre.demo", accept)
                title = page.get_by_text("Aviso de privacidad de Carnet")
                wait_for("the notice's text", title.count)
                assert shows(page, "Versión 2026-11") and accept.is_enabled()
                screenshot_when_painted(page, title.first, "privacy-notice.png", min_fraction=0.05)
                click_until(page, page.get_by_role("button", name="Ahora no"), "Ahora no",
                            lambda: shows(page, "Cerraste la sesión sin aceptar el aviso de privacidad"))

                # Again, and "Acepto": the carnet.
                log_in(page, "padre.demo", accept)
                qr = page.get_by_role("img", name="Código QR del carnet de Santiago Ramírez")
                click_until(page, accept, "Acepto", qr.count)

                # Mi cuenta, from settings.
                my_account = page.get_by_role("button", name="Mi cuenta")
                click_until(page, page.get_by_role("button", name="Ajustes"), "Ajustes", my_account.count)
                download = page.get_by_role("button", name="Descargar mis datos")
                click_until(page, my_account, "Mi cuenta in settings", download.count)
                wait_for("the acceptance date", lambda: shows(page, "Aceptado el"))
                screenshot_when_painted(page, download.first, "account.png", min_fraction=0.2)

                # Descargar mis datos: a real download, its JSON holds the child's data.
                into_view(page, download, "Descargar mis datos on screen")
                # The download event is caught while click_until polls (each poll is a Playwright call).
                with page.expect_download(timeout=UI_SECONDS * 1000) as got:
                    click_until(page, download, "Descargar mis datos", lambda: shows(page, "Listo: se descargó"))
                name = got.value.suggested_filename
                assert name.startswith("carnet-mis-datos-") and name.endswith(".json")
                exported = json.loads(Path(got.value.path()).read_text(encoding="utf-8"))
                assert exported["account"]["username"] == "padre.demo"
                [child] = exported["children"]
                assert child["patient"]["display_name"] == "Santiago Ramírez" and child["cycles"]
                wait_for("the download confirmed", lambda: shows(page, f"Listo: se descargó {name}"))

                # Ask to close the account (a confirm step), then withdraw it.
                click_until(page, page.get_by_role("button", name="Solicitar cierre de cuenta"), "closure",
                            lambda: shows(page, "expediente clínico"))
                confirm = page.get_by_role("button", name="Sí, solicitar el cierre")
                click_until(page, page.get_by_role("button", name="Continuar"), "Continuar", confirm.count)
                withdraw = page.get_by_role("button", name="Retirar solicitud")
                # Sends the request: not tapped again once it is recorded (done() is checked before each tap).
                click_until(page, confirm, "the confirm step",
                            lambda: shows(page, "Solicitud registrada el") and withdraw.count())
                click_until(page, withdraw, "Retirar solicitud", lambda: shows(page, "Retiraste la solicitud"))

                # Change the password: back to login, and the new one logs in.
                click_until(page, page.get_by_role("button", name="Cambiar contraseña"), "Cambiar contraseña",
                            page.get_by_role("textbox", name="Contraseña actual").count)
                type_into(page, "Contraseña actual", "carnet-demo")
                type_into(page, "Contraseña nueva", NEW_PASSWORD)
                type_into(page, "Repite la contraseña nueva", NEW_PASSWORD)
                # Changes the password: not tapped again once back at login (done() is checked before each tap).
                click_until(page, page.get_by_role("button", name="Cambiar contraseña"), "the submit button",
                            lambda: shows(page, "Contraseña cambiada. Entra de nuevo con la nueva."))
                log_in(page, "padre.demo", qr, password=NEW_PASSWORD)  # the carnet, with the new password
            finally:
                browser.close()
    finally:
        stop(app.proc)
