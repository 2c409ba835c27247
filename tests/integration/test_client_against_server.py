"""The app's services (no Flet) against the real server on loopback.

Log in as a demo guardian, load every carnet, stop the server, start the app
again: the carnet and its QR still come from the encrypted offline store, and
the QR still verifies against the cached JWKS.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import zxingcpp
from PIL import Image

from carnet.core.config import AppConfig
from carnet.shell.session import AppSession
from carnet.core.navigation import Phase, Screen
from carnet_contract import qrtoken
from carnet_contract.models import VerifyReason
from tests.support.processes import running_server
from tests.support.secret_stores import DictSecretStore

pytestmark = pytest.mark.anyio


def decode_qr(png: bytes) -> str:
    found = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)), formats=zxingcpp.BarcodeFormat.QRCode)
    assert len(found) == 1, "exactly one QR code in the rendered image"
    return str(found[0].text)


async def test_login_load_stop_server_and_the_carnet_stays(tmp_path: Path) -> None:
    secrets = DictSecretStore()
    app_dir = tmp_path / "app"
    with running_server(tmp_path / "server") as server:
        config = AppConfig(api_base_url=server.url, api_timeout_seconds=3.0, qr_issuer=server.url)
        online = AppSession(config, secrets, app_dir)
        try:
            assert await online.start() is False  # nobody logged in yet
            await online.login("madre.demo", "wrong-password")
            assert online.state.phase is Phase.LOGIN
            assert online.state.login_error  # a message, not a crash

            await online.login("madre.demo", "carnet-demo")
            state = online.state
            assert state.phase is Phase.READY and state.online is True
            names = sorted(child.display_name for child in state.children)
            assert len(names) == 2 and all("Hernández" in name for name in names)
            mateo = next(c for c in state.children if c.display_name.startswith("Mateo"))
            online.select_child(mateo.id)
            assert state.screen is Screen.CARNET
            assert state.carnet is not None and state.carnet.patient.id == mateo.id
            assert state.carnet.cycles, "the demo carnet has chemotherapy cycles"
            assert state.qr_check is not None and state.qr_check.valid, state.qr_check
            online_qr_url = state.carnet.qr.url
            assert state.qr is not None and decode_qr(state.qr.png) == online_qr_url
        finally:
            await online.close()
    assert server.proc.poll() is not None, "the server is stopped"

    offline = AppSession(config, secrets, app_dir)
    try:
        assert await offline.start() is True  # the saved session is restored
        await offline.refresh()
        state = offline.state
        assert state.online is False, "the refresh failed for want of a network"
        assert state.phase is Phase.READY
        offline.select_child(mateo.id)
        assert state.carnet is not None and state.carnet.patient.id == mateo.id
        assert state.carnet_fetched_at is not None
        assert state.carnet.qr.url == online_qr_url
        assert state.qr is not None and decode_qr(state.qr.png) == online_qr_url
        assert state.qr_check is not None and state.qr_check.valid, state.qr_check

        # The offline check really uses the cached keys: a changed signature fails.
        assert offline.scope.carnets is not None
        jwks = offline.scope.carnets.jwks()
        assert jwks is not None
        header, payload, signature = state.carnet.qr.token.split(".")
        middle = len(signature) // 2
        changed = "A" if signature[middle] != "A" else "B"
        forged = f"{header}.{payload}.{signature[:middle]}{changed}{signature[middle + 1:]}"
        assert qrtoken.verify(forged, jwks, issuer=server.url).reason is VerifyReason.BAD_SIGNATURE
    finally:
        await offline.close()
