"""Mixing orders end to end: the real server and the provider simulator as two processes.

The provider is down while six orders are made (five confirmed here, one by
the demo seed); the server retries, is stopped, and the provider comes back
before the server starts again on the same data dir. Every order then reaches
the provider exactly once in its own record; its callbacks (retried by the
simulator while our server is down a second time) reach the server, and the
families' carnets end at ``entregada``.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from tests.support.processes import free_port, running_simulator, start_server

PASSWORD = "carnet-demo"
DEADLINE = 40.0
QUICK = {
    "CARNET_MIXING_RETRY_BASE_SECONDS": "0.3",
    "CARNET_MIXING_RETRY_MAX_SECONDS": "1.5",
    "CARNET_MIXING_POLL_SECONDS": "0.3",
    "CARNET_MIXING_LEASE_SECONDS": "5",
    "CARNET_MIXING_TIMEOUT_SECONDS": "3",
}


def poll(what: str, check: Callable[[], Any], seconds: float = DEADLINE) -> Any:
    """``check()`` until it returns something truthy, within ``seconds``."""
    deadline = time.monotonic() + seconds
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.2)  # poll interval, not a wait for state
    raise AssertionError(f"{what}: not within {seconds:.0f} s (last: {last!r})")


def login(url: str, username: str) -> dict[str, str]:
    answer = httpx.post(f"{url}/api/v1/auth/login", json={"username": username, "password": PASSWORD}, timeout=30)
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def orders(url: str, headers: dict[str, str]) -> dict[str, dict[str, Any]]:
    answer = httpx.get(f"{url}/api/v1/mixing/orders", headers=headers, timeout=15)
    assert answer.status_code == 200, answer.text
    return {o["order_id"]: o for o in answer.json()}


def test_orders_survive_a_provider_outage_and_a_server_restart(tmp_path: Path) -> None:
    secret = secrets.token_urlsafe(32)
    secret_file = tmp_path / "mixing.secret"
    secret_file.write_text(secret)
    os.chmod(secret_file, 0o600)
    data_dir = tmp_path / "server"
    port = free_port()
    callback_url = f"http://127.0.0.1:{port}/api/v1/mixing/callbacks"

    with running_simulator(tmp_path / "provider", secret_file=secret_file, callback_url=callback_url,
                           step_seconds=2.0) as provider:
        provider.outage(600)
        env = {**QUICK, "CARNET_MIXING_PROVIDER_URL": provider.url, "CARNET_MIXING_SECRET": secret}
        server = start_server(data_dir, port=port, env=env)
        try:
            admin = login(server.url, "admin.demo")
            # Each child's last cycle still "pendiente" and not confirmed: confirm it (five in all).
            confirmed: dict[str, str] = {}  # cycle id → patient id
            for patient_id in every_child(server.url):
                carnet = httpx.get(f"{server.url}/api/v1/patients/{patient_id}/carnet", headers=admin,
                                   timeout=15).json()
                waiting = [c for c in carnet["cycles"] if c["status"] == "programado"
                           and c["mixing"]["status"] == "pendiente" and not c["confirmed_at"]]
                if waiting:
                    answer = httpx.post(f"{server.url}/api/v1/cycles/{waiting[-1]['id']}/confirm",
                                        headers=admin, timeout=15)
                    assert answer.status_code == 200, answer.text
                    assert answer.json()["mixing"]["status"] == "pendiente"
                    confirmed[waiting[-1]["id"]] = patient_id
            assert len(confirmed) == 5

            # The provider is down: every order is tried (and kept), none delivered.
            def all_tried() -> dict[str, dict[str, Any]] | None:
                found = orders(server.url, admin)
                return found if len(found) == 6 and all(o["attempts"] >= 1 for o in found.values()) else None

            tried = poll("every order tried once", all_tried)
            assert all(o["delivered_at"] is None and o["status"] == "pendiente" for o in tried.values())
            assert all(o["last_error"] == "HTTP 503" for o in tried.values()), tried
            assert {o["cycle_id"] for o in tried.values()} >= set(confirmed)
            assert all(o["recorded"] == 0 for o in provider.orders().values())
        finally:
            server.stop()

        # The provider comes back while our server is down; the server starts again on the same data.
        provider.outage(0)
        server = start_server(data_dir, demo=False, port=port, env=env)
        try:
            admin = login(server.url, "admin.demo")

            def all_delivered() -> dict[str, dict[str, Any]] | None:
                found = orders(server.url, admin)
                return found if all(o["delivered_at"] for o in found.values()) else None

            delivered = poll("every order delivered", all_delivered)
        finally:
            server.stop()  # callbacks now fail: the provider keeps them and retries
        assert set(delivered) == set(tried)

        record = provider.orders()
        assert {k for k, v in record.items() if v["recorded"]} == set(tried)
        assert all(v["recorded"] == 1 for v in record.values()), record
        assert all(v["received"] >= 2 for v in record.values()), record  # 503 first, then accepted
        poll("the provider retries callbacks while our server is down",
             lambda: any(v["callback_failures"] for v in provider.orders().values()))

        server = start_server(data_dir, demo=False, port=port, env=env)
        try:
            admin, madre = login(server.url, "admin.demo"), login(server.url, "madre.demo")
            poll("every mixture delivered to the hospital", lambda: all(
                o["status"] == "entregada" for o in orders(server.url, admin).values()))
            record = provider.orders()
            assert all(v["callbacks"] == ["en_preparacion", "lista", "entregada"] for v in record.values()), record
            # Each mixture as the provider received it: structured doses (an amount in a unit) and the child's BSA.
            for v in record.values():
                assert v["doses"] and all(isinstance(d["amount"], float | int) and d["unit"] for d in v["doses"]), v
                assert isinstance(v["bsa_m2"], float) and 0.3 < v["bsa_m2"] < 2.5, v
            # A family's carnet shows it: Valentina's cycles 4 (confirmed by the demo seed) and 5, Mateo's 6.
            shown = []
            for patient_id in children_of(server.url, madre):
                carnet = httpx.get(f"{server.url}/api/v1/patients/{patient_id}/carnet", headers=madre,
                                   timeout=15).json()
                shown += [c["mixing"]["status"] for c in carnet["cycles"] if c["confirmed_at"]]
            assert shown == ["entregada"] * 3
        finally:
            server.stop()
    log = (data_dir / "server.log").read_text(errors="replace") + provider.log_path.read_text(errors="replace")
    for name in ("Mateo", "Valentina", "Hernández", secret):
        assert name not in log


def children_of(url: str, headers: dict[str, str]) -> list[str]:
    me = httpx.get(f"{url}/api/v1/me", headers=headers, timeout=15).json()
    return [p["id"] for p in me["patients"]]


def every_child(url: str) -> list[str]:
    """The demo children's ids, through their guardians' accounts."""
    return [pid for username in ("madre.demo", "padre.demo", "rosa.soto", "luis.torres")
            for pid in children_of(url, login(url, username))]


def test_the_simulator_checks_signatures_and_keys(tmp_path: Path) -> None:
    from carnet_mixing_sim.server import sign

    secret = secrets.token_bytes(24).hex()
    secret_file = tmp_path / "mixing.secret"
    secret_file.write_text(secret)
    # Nothing listens at the callback URL: callbacks fail and are retried, orders are still taken.
    with running_simulator(tmp_path / "provider", secret_file=secret_file,
                           callback_url=f"http://127.0.0.1:{free_port()}/cb", step_seconds=0.2) as provider:
        body = b'{"order_id":"ord-1","drugs":[]}'

        def send(content: bytes, key: str | None = "ord-1", signature: str | None = None) -> httpx.Response:
            headers = {"X-Carnet-Signature": signature or sign(secret.encode(), content)}
            if key:
                headers["Idempotency-Key"] = key
            return httpx.post(f"{provider.url}/orders", content=content, headers=headers, timeout=10)

        assert send(body, signature=sign(b"another secret", body)).status_code == 401
        assert send(body, signature=sign(secret.encode(), body, int(time.time()) - 3600)).status_code == 401
        assert send(body, key=None).status_code == 400
        assert send(b"not json", key="ord-2").status_code == 400
        assert send(body, key="ord-other").status_code == 422  # the key is the order's id
        first = send(body)
        assert first.status_code == 201 and first.json()["provider_ref"].startswith("SAFE-")
        again = send(body)
        assert again.status_code == 200 and again.json() == first.json()
        assert send(b'{"order_id":"ord-1","drugs":["x"]}').status_code == 422
        provider.outage(30)
        assert send(b'{"order_id":"ord-3"}', key="ord-3").status_code == 503
        provider.outage(0)
        record = provider.orders()
        assert record["ord-1"]["recorded"] == 1 and record["ord-1"]["received"] == 3  # signed, with its key
        assert record["ord-3"]["recorded"] == 0
        # An order whose drugs carry no structured dose cannot be mixed: refused, not recorded.
        text_dose = b'{"order_id":"ord-4","drugs":[{"name":"Vincristina","dose":"1.5","unit":"mg/m2"}]}'
        assert send(text_dose, key="ord-4").status_code == 422
        assert provider.orders()["ord-4"]["recorded"] == 0
        poll("a failed callback is retried", lambda: provider.orders()["ord-1"]["callback_failures"] >= 2)
        assert provider.orders()["ord-1"]["callbacks"] == []
