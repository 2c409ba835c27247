"""The unit's fever desks (issue #19), built in-process against the real server and used by click: the oncology desk
and the case desk show at once how many children with a fever are on their way (a tap opens the fever desk); the
fever desk's "Verificar tarjeta de urgencias" checks an emergency card's QR with the trust bundle kept on the device
— genuine, tampered, expired, or a carnet's code given instead — with no network, and online shows the card's
facts from the server; the bundle kept at one login serves the next when the network is down. The pharmacy
counter refuses an expired emergency card."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import flet as ft
import httpx
import pytest

from carnet.core.config import AppConfig
from carnet.pharmacy.checks import CheckKind, TrustCache
from carnet.shell.app import CarnetUI
from carnet.shell.session import AppSession
from carnet.views.scanning import Phase
from tests.support.inprocess_server import InProcessServer
from tests.support.qr_variants import server_key, sign_raw
from tests.support.secret_stores import DictSecretStore

from . import test_ui_inprocess
from .test_account_ui import button
from .test_camera_scanner import FakeCamera, jpeg_of
from .test_enrolment_ui import field, touch_targets_are_big
from .test_ui_inprocess import click, texts

pytestmark = pytest.mark.anyio
page = test_ui_inprocess.page  # the fixture: a real flet Page, in process

SCAN = "Código QR de la tarjeta de urgencias (escanee o pegue)"
TRUST = "/api/v1/pharmacy/trust"


def _notice(server: InProcessServer, child: str = "Mateo Hernández") -> None:
    pid = server.patient_id(child)
    server.ok(
        "madre.demo",
        "POST",
        f"/api/v1/patients/{pid}/fever-episodes",
        json={"temperature_c": 38.7, "measured_at": datetime.now(UTC).replace(microsecond=0).isoformat()},
    )


async def _desk(
    page: ft.Page,
    config: AppConfig,
    data_dir: Path,
    server: InProcessServer,
    who: str,
    secrets: DictSecretStore | None = None,
) -> AppSession:
    session = AppSession(config, secrets or DictSecretStore(), data_dir, transport=server.transport)
    session.api._backoff = lambda attempt: 0.0
    CarnetUI(page, session).render()
    await session.start()
    await session.login(who, "carnet-demo")
    return session


def _tampered(token: str) -> str:
    head, payload, signature = token.split(".")
    return ".".join([head, payload, ("A" if signature[0] != "A" else "B") + signature[1:]])


def _expired(server: InProcessServer, patient_id: str, issuer: str) -> str:
    """An emergency card's token genuinely signed, expired two days ago."""
    key, kid = server_key(server.ctx.keys)
    issued = int(time.time()) - 5 * 86400
    claims = {"iss": issuer, "sub": patient_id, "typ": "em", "iat": issued, "exp": issued + 72 * 3600, "jti": "old"}
    return sign_raw(key, {"alg": "EdDSA", "kid": kid}, claims)


async def _verify(page: ft.Page, scanned: str) -> list[str]:
    field(page, SCAN).value = scanned
    await click(button(page, "Verificar"))
    return texts(page)


@pytest.mark.parametrize("who", ["oncologia.demo", "casos.demo"])
async def test_the_home_screen_shows_open_fever_episodes_at_once(page, config, data_dir, server, who: str) -> None:  # type: ignore[no-untyped-def]
    session = await _desk(page, config, data_dir, server, who)
    assert not any("con fiebre" in t for t in texts(page))  # none open: no alert
    _notice(server)
    await click(test_ui_inprocess.find(page, ft.IconButton, tooltip="Actualizar")[0])  # the desk's own refresh
    alert = button(page, "1 niño con fiebre: aviso abierto — abrir")
    assert alert.height >= 48
    touch_targets_are_big(page)
    _notice(server, "Valentina Hernández")  # at La Raza: the case desk's unit too, not the oncology desk's
    await session.refresh()  # the periodic sync counts them too
    words = "2 niños con fiebre: avisos abiertos — abrir" if who == "casos.demo" else alert.content.value
    await click(button(page, words))
    assert page.views[0].route == "/fever-desk"
    assert len(session.state.fever_desk.episodes) == (2 if who == "casos.demo" else 1)
    await session.close()


async def test_the_fever_desk_verifies_an_emergency_card_offline_and_online(page, config, data_dir, server) -> None:  # type: ignore[no-untyped-def]
    pid = server.patient_id("Mateo Hernández")
    card: dict[str, Any] = server.ok("madre.demo", "GET", f"/api/v1/patients/{pid}/emergency-card")
    session = await _desk(page, config, data_dir, server, "oncologia.demo")
    ui = session.state.fever_desk
    assert ui.trust is not None and session.store is not None
    assert TrustCache(session.store).load() is not None  # kept on the device, as the pharmacy counter keeps it
    await click(button(page, "Fiebre: Hora Dorada"))
    assert page.views[0].route == "/fever-desk"
    assert "Verificar tarjeta de urgencias" in texts(page)
    touch_targets_are_big(page)

    # Online: genuine, and the server's answer brings the card's facts.
    shown = await _verify(page, card["qr"]["url"])
    assert "Tarjeta de urgencias auténtica" in shown and "Confirmada por el servidor" in shown
    assert "Mateo Hernández López" in shown and "Grupo sanguíneo" in shown
    assert f"Paciente (identificador): {pid}" in shown
    assert server.transport.count("/api/v1/emergency-cards/verify", "POST") == 1

    # No network: every verdict from the device alone.
    server.transport.offline = True
    shown = await _verify(page, card["qr"]["token"])
    assert "Tarjeta de urgencias auténtica" in shown
    assert any(t.startswith("Sin conexión: comprobada solo en este equipo") for t in shown)
    assert "Mateo Hernández López" not in shown  # the card's facts come from the server only
    shown = await _verify(page, _tampered(card["qr"]["token"]))
    assert ui.card_check is not None and ui.card_check.kind is CheckKind.TAMPERED
    assert "Alterado: la firma no corresponde" in shown and "Tarjeta de urgencias auténtica" not in shown
    assert ui.trust is not None
    shown = await _verify(page, _expired(server, pid, ui.trust.issuer))
    assert ui.card_check is not None and ui.card_check.kind is CheckKind.EXPIRED
    assert any(t.startswith("Tarjeta de urgencias vencida el") for t in shown)
    shown = await _verify(page, server.carnet_qr(pid)["url"])  # the carnet's code, given instead
    assert "Es el código del carnet, no el de la tarjeta de urgencias: pida la tarjeta de urgencias." in shown
    assert "Auténtico y vigente" not in shown
    await click(button(page, "Otra tarjeta"))
    assert ui.card_check is None and field(page, SCAN).value == ""
    server.transport.offline = False
    await session.close()


async def test_the_kept_bundle_serves_the_next_login_of_the_case_desk(page, config, data_dir, server) -> None:  # type: ignore[no-untyped-def]
    pid = server.patient_id("Mateo Hernández")
    token = server.ok("madre.demo", "GET", f"/api/v1/patients/{pid}/emergency-card")["qr"]["token"]
    secrets = DictSecretStore()
    first = await _desk(page, config, data_dir, server, "casos.demo", secrets)
    await first.logout()
    await first.close()

    def trust_down(request: httpx.Request) -> httpx.Response | None:
        if request.url.path == TRUST:
            raise httpx.ConnectError("down", request=request)
        return None

    server.transport.override = trust_down
    second = await _desk(page, config, data_dir, server, "casos.demo", secrets)
    ui = second.state.fever_desk
    assert ui.trust is not None and ui.trust_error is not None  # the kept one, and why it is not fresh
    server.transport.offline = True
    await second.fever_desk.open()
    await second.fever_desk.verify_card(token)
    assert ui.card_check is not None and ui.card_check.kind is CheckKind.EMERGENCY and ui.card_offline
    server.transport.override = None
    server.transport.offline = False
    await second.close()


async def test_the_counter_screen_refuses_an_expired_emergency_card(page, config, data_dir, server) -> None:  # type: ignore[no-untyped-def]
    pid = server.patient_id("Mateo Hernández")
    session = await _desk(page, config, data_dir, server, "farmacia.demo")
    assert page.views[0].route == "/pharmacy"
    trust = session.state.pharmacy.trust
    assert trust is not None
    server.transport.offline = True
    await session.pharmacy.scan(_expired(server, pid, trust.issuer))
    shown = texts(page)
    assert any(t.startswith("Tarjeta de urgencias vencida el") for t in shown)
    assert "Tarjeta de urgencias auténtica" not in shown
    assert "Es la tarjeta de urgencias, no el carnet: no hay nada que surtir con ella." not in shown
    check = session.state.pharmacy.check
    assert check is not None and check.kind is CheckKind.EXPIRED and check.emergency and not check.valid
    assert not any(t == "Registrar surtido" for t in shown)
    server.transport.offline = False
    await session.close()


async def test_the_fever_desk_reads_a_card_with_the_camera(page, config, data_dir, server) -> None:  # type: ignore[no-untyped-def]
    """In a browser or on a phone the card's QR is read by the camera too: "Escanear con la cámara" beside the field,
    and what it reads takes the scanner's path (the verdict, then the server's answer)."""
    pid = server.patient_id("Mateo Hernández")
    card: dict[str, Any] = server.ok("madre.demo", "GET", f"/api/v1/patients/{pid}/emergency-card")
    page.web = True  # what a browser's page says: the app has a camera
    session = AppSession(config, DictSecretStore(), data_dir, transport=server.transport)
    app = CarnetUI(page, session)
    app.render()
    await session.start()
    await session.login("oncologia.demo", "carnet-demo")
    await click(button(page, "Fiebre: Hora Dorada"))
    assert "Escanear con la cámara" in texts(page)
    touch_targets_are_big(page)
    assert app._fever_desk is not None and app._fever_desk.camera is not None
    scanner = app._fever_desk.camera
    scanner._camera, scanner.phase = FakeCamera(), Phase.OPEN  # type: ignore[assignment]  # the preview is up
    assert await scanner._decode(jpeg_of(card["qr"]["url"]))
    shown = texts(page)
    assert "Tarjeta de urgencias auténtica" in shown and "Confirmada por el servidor" in shown
    assert server.transport.count("/api/v1/emergency-cards/verify", "POST") == 1
    assert scanner.phase is Phase.CLOSED  # the camera stops once a code is read
    await session.close()
