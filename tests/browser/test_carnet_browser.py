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

import io
import os
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.support.processes import BIN, free_port, start_server, stop, wait_until_http_ok

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = os.environ.get("CARNET_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
UI_SECONDS = 60.0
PASSWORD = "carnet-demo"

playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
zxingcpp = pytest.importorskip("zxingcpp", reason="zxing-cpp is not installed")
Image = pytest.importorskip("PIL.Image", reason="pillow is not installed")
if not Path(CHROMIUM).exists():
    pytest.skip(f"browser: no Chromium at {CHROMIUM}", allow_module_level=True)


# ---- processes -------------------------------------------------------------------------------


@dataclass
class WebApp:
    url: str
    proc: subprocess.Popen[bytes]
    log_path: Path


def start_app(api_url: str, home: Path, *, env: dict[str, str] | None = None) -> WebApp:
    """``carnet --web`` on a free port, with its own data dir and a test-only keyring file."""
    port = free_port()
    home.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "CARNET_API_URL": api_url,
        "CARNET_APP_DATA": str(home / "app-data"),
        "FLET_APP_STORAGE_DATA": str(home / "app-data"),
        "XDG_DATA_HOME": str(home / "xdg"),
        "PYTHON_KEYRING_BACKEND": "keyrings.alt.file.PlaintextKeyring",
        "CARNET_ALLOW_INSECURE_KEYRING": "1",
        "FLET_FORCE_WEB_SERVER": "true",
        **(env or {}),
    }
    env.pop("DISPLAY", None)
    log_path = home / "app.log"
    with log_path.open("ab") as log:
        proc = subprocess.Popen([str(BIN / "carnet"), "--web", "--port", str(port)], env=env, cwd=ROOT,
                                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
    app = WebApp(f"http://127.0.0.1:{port}", proc, log_path)
    try:
        wait_until_http_ok(app.url, proc)
    except BaseException:
        stop(proc)
        raise
    return app


@pytest.fixture
def api(tmp_path: Path) -> Iterator[tuple[str, Callable[[], None]]]:
    """(API base URL, stop function)."""
    external = os.environ.get("CARNET_TEST_API_URL")
    if external:
        yield external.rstrip("/"), lambda: None
        return
    server = start_server(tmp_path / "server")
    try:
        yield server.url, server.stop
    finally:
        server.stop()


# ---- browser helpers --------------------------------------------------------------------------


def wait_for(what: str, check: Callable[[], object], seconds: float = UI_SECONDS) -> object:
    """Poll ``check`` until it returns something truthy; fail after ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.1)  # poll interval, not a wait for state
    raise AssertionError(f"timed out waiting for {what}")


def open_app(page, url: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(url)
    page.wait_for_selector("flt-semantics-placeholder", state="attached", timeout=UI_SECONDS * 1000)
    # Flutter draws on a canvas; this turns on its accessibility tree (DOM nodes with roles/names).
    page.evaluate("document.querySelector('flt-semantics-placeholder').click()")


def _painted(png: bytes, box: dict[str, float], min_fraction: float = 0.5) -> bool:
    """Whether the canvas under ``box`` is filled by the control (not the blank loading page).

    The accessibility tree is updated a few frames before the canvas: a node can
    exist while the old frame (or the loading spinner) is still on screen.
    """
    image = Image.open(io.BytesIO(png)).convert("L")
    histogram = image.histogram()
    background = max(range(256), key=histogram.__getitem__)
    crop = image.crop((int(box["x"]), int(box["y"]), int(box["x"] + box["width"]),
                       int(box["y"] + box["height"])))
    pixels = crop.tobytes()
    differing = sum(1 for value in pixels if abs(value - background) > 8)
    return bool(pixels) and differing / len(pixels) > min_fraction


def screenshot_when_painted(page, locator, name: str,  # type: ignore[no-untyped-def]
                            min_fraction: float = 0.5) -> bytes:
    """Save a screenshot once the canvas has painted what the accessibility tree already shows."""
    box = locator.bounding_box()

    def shot() -> bytes | None:
        png = page.screenshot()
        return png if _painted(png, box, min_fraction) else None

    png = wait_for(f"{name} painted", shot)
    assert isinstance(png, bytes)
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / name).write_bytes(png)
    return png


def read_qr(png: bytes) -> str | None:
    image = Image.open(io.BytesIO(png)).convert("L")
    found = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
    return found[0].text if found else None


def qr_from_screen(page, name: str, *, also_painted=None) -> str:  # type: ignore[no-untyped-def]
    """Screenshots until the QR on screen decodes (and ``also_painted`` shows); saves that one."""
    holder: dict[str, bytes] = {}
    box = also_painted.bounding_box() if also_painted is not None else None

    def decoded() -> str | None:
        png = page.screenshot()
        if box is not None and not _painted(png, box):
            return None
        text = read_qr(png)
        if text:
            holder["png"] = png
        return text

    text = wait_for("a readable QR on screen", decoded)
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / name).write_bytes(holder["png"])
    assert isinstance(text, str)
    return text


def shows(page, text: str) -> int:  # type: ignore[no-untyped-def]
    """How many nodes show ``text``: as text, or inside a merged accessible label (cards)."""
    return page.get_by_text(text, exact=False).count() + page.get_by_label(text, exact=False).count()


def log_in(page, username: str) -> None:  # type: ignore[no-untyped-def]
    user = page.get_by_role("textbox", name="Usuario")
    wait_for("the login form", user.count)
    screenshot_when_painted(page, page.get_by_role("button", name="Entrar"), "login.png")
    # Flutter's web text fields take typed keys (a programmatic fill() does not reach Python).
    user.click()
    page.keyboard.type(username)
    page.get_by_role("textbox", name="Contraseña").click()
    page.keyboard.type("not-the-password")
    page.get_by_role("button", name="Entrar").click()
    wait_for("the wrong-password message", lambda: shows(page, "Usuario o contraseña incorrectos."))
    # Now the right password, typing and checking each field (keys typed into a just-focused
    # Flutter web field can be lost under load); imported here: that module imports this one.
    from tests.browser.test_blood_bank_browser import log_in as checked_log_in

    checked_log_in(page, username, page.get_by_role("button", name="Mateo Hernández"))


def tamper(token: str) -> str:
    """Change one character in the middle of the signature."""
    head, payload, signature = token.split(".")
    i = len(signature) // 2
    swapped = "B" if signature[i] != "B" else "C"
    return ".".join([head, payload, signature[:i] + swapped + signature[i + 1:]])


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
    app = start_app("http://127.0.0.1:9", tmp_path / "phone", env=env)
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
    app = start_app(api_url, tmp_path / "phone")
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
                mateo.click()

                wait_for("the carnet", lambda: shows(page, "NSS"))
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
                                else "http://127.0.0.1:9", tmp_path / "phone")
                page = browser.new_page(viewport={"width": 390, "height": 844})
                open_app(page, app.url)
                mateo = page.get_by_role("button", name="Mateo Hernández")
                wait_for("the cached child list", mateo.count)
                mateo.click()
                banner = page.get_by_text("Sin conexión — datos del", exact=False)
                wait_for("the offline banner", banner.count)
                assert qr_from_screen(page, "carnet-offline.png", also_painted=banner) == scanned

                # Settings: English, then log out (offline: the phone forgets the session anyway).
                page.get_by_role("button", name="Ajustes").click()
                english = page.get_by_role("radio", name="English")
                wait_for("the settings screen", english.count)
                english.click()
                logout = page.get_by_role("button", name="Log out")
                wait_for("the English settings", logout.count)
                screenshot_when_painted(page, logout, "settings.png", min_fraction=0.04)  # an outline
                logout.click()
                wait_for("the login screen in English", page.get_by_role("button", name="Log in").count)
            finally:
                browser.close()
    finally:
        stop(app.proc)
