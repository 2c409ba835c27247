"""The QR PNG scans back to the exact URL, and stays small enough (version ≤ 14, level M)."""

from __future__ import annotations

import io

import pytest
import zxingcpp
from PIL import Image

from carnet.patients.qr import MAX_VERSION, render_qr
from tests.support.inprocess_server import InProcessServer


def _decode(png: bytes) -> list[str]:
    image = Image.open(io.BytesIO(png)).convert("L")
    return [r.text for r in zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)]


@pytest.mark.parametrize("base", ["http://127.0.0.1:8000", "https://carnet.imss.gob.mx"])
def test_carnet_url_renders_scans_and_fits(server: InProcessServer, base: str) -> None:
    token = server.carnet_qr(server.patient_id("Mateo Hernández"))["token"]  # the server's EdDSA compact JWS
    url = f"{base}/v/{token}"
    qr = render_qr(url)
    assert qr.png.startswith(b"\x89PNG")
    assert qr.version <= MAX_VERSION
    assert qr.modules == 17 + 4 * qr.version + 8
    assert _decode(qr.png) == [url]


def test_small_text_is_never_micro_qr() -> None:
    qr = render_qr("A")
    assert qr.version == 1
    assert _decode(qr.png) == ["A"]
