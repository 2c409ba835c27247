"""The pharmacy counter: the app's real services against the real server on loopback (demo data).

Two counters scan madre.demo's real carnet QR: both see it genuine (offline
with the server's trust bundle, then online); the first records the
dispensation, the second gets 409 with who and when, and the server holds one.
Tampered, expired (signed with the server's own key), unknown-key and revoked
tokens are refused offline (the app talks through a loopback proxy that then
drops every request) and online. A revocation fails at once online, and offline
after the next key refresh.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from joserfc.jwk import OKPKey

from carnet.core.config import AppConfig
from carnet.core.navigation import Phase
from carnet.pharmacy.checks import CheckKind
from carnet.shell.session import AppSession
from carnet_server.signing import KeyStore, new_jti, sign_claims
from tests.client.test_pharmacy import tamper_signature as tamper
from tests.support.flaky_proxy import FlakyProxy
from tests.support.processes import running_server
from tests.support.secret_stores import DictSecretStore

PASSWORD = "carnet-demo"

pytestmark = pytest.mark.anyio


def api_login(client: httpx.Client, username: str) -> dict[str, str]:
    token = client.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD}).json()
    return {"Authorization": f"Bearer {token['access_token']}"}


def mateo_carnet(url: str) -> dict[str, Any]:
    """Mateo's carnet as madre.demo's phone gets it (with its QR)."""
    with httpx.Client(base_url=url, timeout=15.0) as client:
        headers = api_login(client, "madre.demo")
        me = client.get("/api/v1/me", headers=headers).json()
        mateo = next(p for p in me["patients"] if p["display_name"] == "Mateo Hernández")
        answer = client.get(f"/api/v1/patients/{mateo['id']}/carnet", headers=headers)
        assert answer.status_code == 200, answer.text
        return dict(answer.json())


def revoke(url: str, patient_id: str) -> int:
    with httpx.Client(base_url=url, timeout=15.0) as client:
        answer = client.post(f"/api/v1/patients/{patient_id}/qr/revoke", headers=api_login(client, "madre.demo"))
        assert answer.status_code == 200, answer.text
        return int(answer.json()["revoked"])


def dispensations_on_server(url: str, scanned: str) -> list[dict[str, Any]]:
    with httpx.Client(base_url=url, timeout=15.0) as client:
        answer = client.post("/api/v1/pharmacy/verify", json={"token": scanned},
                             headers=api_login(client, "farmacia.demo"))
        assert answer.status_code == 200, answer.text
        return list(answer.json()["dispensations"])


async def _counter(url: str, home: Path, username: str = "farmacia.demo") -> AppSession:
    session = AppSession(AppConfig(api_base_url=url, api_timeout_seconds=5.0), DictSecretStore(), home)
    session.api._backoff = lambda attempt: 0.0
    await session.start()
    await session.login(username, PASSWORD)
    assert session.state.phase is Phase.READY and session.state.pharmacy_mode, session.state.login_error
    assert session.state.pharmacy.trust is not None, "the trust bundle is fetched on login"
    return session


async def test_two_counters_one_dispensation_and_every_refused_token(tmp_path: Path) -> None:
    with running_server(tmp_path / "server") as server:
        port = int(server.url.rsplit(":", 1)[1])
        with FlakyProxy(port, seed=11, drop=0.0, lose_answer=0.0, delay=0.0) as proxy:
            carnet = mateo_carnet(server.url)
            url, patient_id = carnet["qr"]["url"], carnet["patient"]["id"]
            one = await _counter(proxy.url, tmp_path / "counter-1")
            two = await _counter(server.url, tmp_path / "counter-2")
            try:
                ui1, ui2 = one.state.pharmacy, two.state.pharmacy
                await one.pharmacy.scan(url)
                await two.pharmacy.scan(url)
                for ui in (ui1, ui2):
                    assert ui.check is not None and ui.check.kind is CheckKind.GENUINE and ui.check.online
                    assert ui.verified is not None and ui.verified.patient is not None
                    assert ui.verified.patient.display_name.startswith("Mateo")
                # The demo's next cycle is days away: shown, not chosen by itself; both counters pick it.
                assert ui1.cycle_id is None and ui2.cycle_id is None
                first_cycle = one.pharmacy.open_cycles()[0].id
                one.pharmacy.pick_cycle(first_cycle)
                two.pharmacy.pick_cycle(first_cycle)
                assert ui2.cycle_id == first_cycle and ui1.items

                one.pharmacy.ask_confirm()
                await one.pharmacy.dispense()
                assert ui1.error is None and ui1.message is not None and ui1.message.startswith("Surtido registrado")
                [recorded] = ui1.recorded
                two.pharmacy.ask_confirm()
                await two.pharmacy.dispense()
                assert ui2.message is None and ui2.error is not None
                assert ui2.error.startswith("Este ciclo ya se surtió el ") and recorded.dispensed_by in ui2.error
                assert [d["cycle_id"] for d in dispensations_on_server(server.url, url)] == [first_cycle]

                # Scanned again: the server says who and when; that cycle can't be chosen.
                await one.pharmacy.scan(url)
                again = one.pharmacy.dispensed(first_cycle)
                assert again is not None and again.dispensed_by == recorded.dispensed_by
                assert ui1.cycle_id != first_cycle

                # Refused tokens, online and offline.
                token = carnet["qr"]["token"]
                now = int(time.time())
                expired, _ = KeyStore(server.data_dir / "keys").sign(
                    {"iss": server.url, "sub": patient_id, "cyc": [first_cycle], "iat": now - 7200,
                     "nbf": now - 7200, "exp": now - 3600, "jti": new_jti()})
                refused = {
                    CheckKind.TAMPERED: tamper(token),
                    CheckKind.EXPIRED: expired,
                    CheckKind.UNKNOWN_KEY: sign_claims(  # a key the server never had
                        OKPKey.generate_key("Ed25519"), "k-nobody-knows",
                        {"iss": server.url, "sub": patient_id, "cyc": [first_cycle], "iat": now, "nbf": now,
                         "exp": now + 3600, "jti": new_jti()}),
                    CheckKind.MALFORMED: f"{server.url}/v/not-a-token",
                }
                for kind, scanned in refused.items():
                    proxy.fate.drop = 1.0  # offline
                    await one.pharmacy.scan(scanned)
                    assert ui1.check is not None and ui1.check.kind is kind and not ui1.check.online, kind
                    assert ui1.verified is None and not one.pharmacy.can_dispense(), kind
                    proxy.fate.drop = 0.0
                    await one.pharmacy.scan(scanned)
                    assert ui1.check.kind is kind and not one.pharmacy.can_dispense(), kind
                    if kind is not CheckKind.MALFORMED:  # a code that is no carnet code is never sent
                        assert ui1.check.online, kind

                # Revoked: at once online; offline once the keys are refreshed.
                assert revoke(server.url, patient_id) >= 1
                await one.pharmacy.scan(url)
                assert ui1.check.kind is CheckKind.REVOKED and ui1.check.online and not one.pharmacy.can_dispense()
                proxy.fate.drop = 1.0
                await one.pharmacy.scan(url)
                assert ui1.check.kind is CheckKind.GENUINE and not ui1.check.online and ui1.offline  # old bundle
                proxy.fate.drop = 0.0
                assert await one.pharmacy.refresh_keys()
                proxy.fate.drop = 1.0
                await one.pharmacy.scan(url)
                assert ui1.check.kind is CheckKind.REVOKED and not ui1.check.online
                proxy.fate.drop = 0.0
                # The new carnet QR (reissued on the next read) works again.
                fresh = mateo_carnet(server.url)["qr"]["url"]
                assert fresh != url
                await one.pharmacy.scan(fresh)
                assert ui1.check.kind is CheckKind.GENUINE and ui1.check.online
            finally:
                await one.close()
                await two.close()
