"""The counter's camera in a real browser: Chromium's fake camera plays madre.demo's real carnet QR.

farmacia.demo taps "Escanear con la cámara" and types nothing: the browser's camera (granted to the page, as a
pharmacist's "Permitir" would) shows the QR, the app reads it (``take_picture()`` in a loop: a browser has no
frame stream; pyzbar on the web server) and the verdict "Auténtico y vigente" appears, checked by the server too,
and the camera closes. No torch toggle in a browser. The video is a Y4M file made here from the QR (never kept).

Screenshot: test-artifacts/camera-verdict.png.
"""

from __future__ import annotations

import io
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from carnet.patients.qr import render_qr
from tests.browser.support import (
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    click_until,
    log_in,
    open_app,
    playwright_api,
    shows,
    start_app,
    stop,
    wait_for,
)
from tests.browser.test_pharmacy_browser import SCANNER, WIDTH, mateo_qr

pytestmark = pytest.mark.browser

W, H = 640, 480


def qr_video(text: str, path: Path, frames: int = 2) -> Path:
    """A Y4M (4:2:0) of a few frames, each the QR of ``text`` on a grey table; Chromium loops it."""
    from PIL import Image

    with Image.open(io.BytesIO(render_qr(text, scale=4).png)) as qr:
        code = qr.convert("RGB")
    scale = max(1, (H - 40) // code.height)
    code = code.resize((code.width * scale, code.height * scale), Image.Resampling.NEAREST)
    with path.open("wb") as out:
        out.write(f"YUV4MPEG2 W{W} H{H} F30:1 Ip A1:1 C420jpeg\n".encode())
        for i in range(frames):
            picture = Image.new("RGB", (W, H), (180, 190, 200))
            picture.paste(code, ((W - code.width) // 2 + i, (H - code.height) // 2))
            y, cb, cr = picture.convert("YCbCr").split()
            out.write(b"FRAME\n" + y.tobytes())
            out.write(cb.resize((W // 2, H // 2)).tobytes() + cr.resize((W // 2, H // 2)).tobytes())
    return path


def test_counter_reads_the_carnet_qr_with_the_browsers_camera(api, tmp_path: Path) -> None:
    api_url, _stop_api = api
    video = qr_video(mateo_qr(api_url), tmp_path / "carnet-qr.y4m")
    app = start_app(api_url, tmp_path / "counter")
    camera_args = ["--use-fake-device-for-media-stream", f"--use-file-for-fake-video-capture={video}"]
    try:
        with playwright_api.sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, *camera_args], headless=True)
            try:
                context = browser.new_context(viewport={"width": WIDTH, "height": 844})
                origin = "{0.scheme}://{0.netloc}".format(urlsplit(app.url))
                context.grant_permissions(["camera"], origin=origin)
                page = context.new_page()
                open_app(page, app.url)
                field = page.get_by_role("textbox", name=SCANNER)
                log_in(page, "farmacia.demo", field)
                genuine = page.locator("flt-semantics").get_by_text("Auténtico y vigente")
                assert not genuine.count()
                # The tap's effect: the camera open (its close button), or already the verdict.
                click_until(page, page.get_by_role("button", name="Escanear con la cámara"), "Escanear con la cámara",
                            lambda: genuine.count() or page.get_by_role("button", name="Cerrar la cámara").count())
                wait_for("the verdict from the camera", genuine.count)
                wait_for("the server's answer", lambda: shows(page, "Comprobado también en el servidor."))
                assert shows(page, "Mateo Hernández")
                # Read, so the camera closed: the button is back; nothing was typed; no torch in a browser.
                wait_for("the camera closed", page.get_by_role("button", name="Escanear con la cámara").count)
                assert not page.get_by_role("button", name="Cerrar la cámara").count()
                assert not page.get_by_role("button", name="Encender la linterna").count()
                assert field.first.input_value() == ""
                # A plain screenshot: the screen gets shorter when the camera's preview closes, and Flutter web's
                # semantics nodes may stay where the longer layout had them, so the painted check cannot always
                # line the verdict's node up with the canvas (the known defect tests/browser/
                # test_chemotherapy_browser.py meets; seen once in CI under load). The verdict is read above.
                ARTIFACTS.mkdir(exist_ok=True)
                page.screenshot(path=str(ARTIFACTS / "camera-verdict.png"))
            finally:
                browser.close()
    finally:
        stop(app.proc)
