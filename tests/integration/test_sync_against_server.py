"""Outbox and sync against the real server on loopback: a killed app, and a flaky network.

(a) A driver process (tests/support/sync_driver.py) queues N family
appointments and syncs; it SIGKILLs itself after the server answered a write
but before the local commit, then (restarted) before a sync page's commit.
After a last clean run every item reached the server exactly once and the
phone's store equals the server's list.

(b) The app's services talk to the server through a seeded flaky proxy that
drops requests, cuts answers and delays; they create, edit and delete, and
sync until quiet: the phone's data ends identical to the server's.
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from carnet.agenda.form import form_for
from carnet.core.config import AppConfig
from carnet.data.outbox import Backoff
from carnet.shell.session import AppSession
from carnet.core.navigation import Phase
from tests.support.flaky_proxy import FlakyProxy
from tests.support.processes import running_server
from tests.support.secret_stores import DictSecretStore

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "carnet-demo"
DRIVER_SECONDS = 120.0
QUIET_SECONDS = 120.0


def server_appointments(url: str, username: str = "madre.demo") -> dict[str, dict[str, Any]]:
    """Every appointment of the user's children in the server's widest list window."""
    with httpx.Client(base_url=url, timeout=15.0) as client:
        token = client.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD}).json()
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        me = client.get("/api/v1/me", headers=headers).json()
        now = datetime.now(UTC)
        params = {"from": (now - timedelta(days=199)).isoformat(), "to": (now + timedelta(days=199)).isoformat()}
        found: dict[str, dict[str, Any]] = {}
        for patient in me["patients"]:
            answer = client.get(f"/api/v1/patients/{patient['id']}/appointments", params=params, headers=headers)
            assert answer.status_code == 200, answer.text
            found.update({a["id"]: a for a in answer.json()})
        return found


def in_window(appointments: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    now = datetime.now(UTC)
    lo, hi = now - timedelta(days=198), now + timedelta(days=198)
    return {k: v for k, v in appointments.items()
            if lo <= datetime.fromisoformat(str(v["starts_at"]).replace("Z", "+00:00")) <= hi}


def comparable(appointment: dict[str, Any]) -> tuple[Any, ...]:
    return (appointment["id"], appointment["title"], appointment["revision"], appointment["status"],
            appointment["place"], appointment["notes"],
            datetime.fromisoformat(str(appointment["starts_at"]).replace("Z", "+00:00")))


def run_driver(api: str, home: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tests.support.sync_driver", "--api", api, "--home", str(home),
                           *extra], cwd=ROOT, capture_output=True, text=True, timeout=DRIVER_SECONDS)


def test_sigkill_between_the_servers_answer_and_the_local_commit(tmp_path: Path) -> None:
    n, prefix = 5, "Análisis tras corte"
    home = tmp_path / "phone"
    with running_server(tmp_path / "server") as server:
        # 1. Queue N writes and sync; die after the 3rd answer, before storing it.
        first = run_driver(server.url, home, "--create", str(n), "--prefix", prefix, "--kill-after-push", "3",
                           "--page-limit", "25")
        assert first.returncode == -signal.SIGKILL, first.stderr
        mine = [a for a in server_appointments(server.url).values() if a["title"].startswith(prefix)]
        assert len(mine) == 3, "the server has the 3rd one; the phone does not know yet"
        # 2. Restart: the rest is pushed (the 3rd again, same key); die before the 2nd sync page
        #    (2 changes a page: the 5 new appointments span 3 pages) is stored.
        second = run_driver(server.url, home, "--kill-before-page-commit", "2", "--page-limit", "2")
        assert second.returncode == -signal.SIGKILL, second.stderr
        # 3. Restart once more and finish.
        third = run_driver(server.url, home, "--page-limit", "25")
        assert third.returncode == 0, third.stderr
        result = json.loads(third.stdout.strip().splitlines()[-1])
        assert result["outbox"] == [] and result["online"] is True, result
        server_side = server_appointments(server.url)
        titles = sorted(a["title"] for a in server_side.values() if a["title"].startswith(prefix))
        assert titles == [f"{prefix} {i}" for i in range(n)], "every item reached the server exactly once"
        local = in_window(result["appointments"])
        assert len(local) > 50, "the demo year of appointments came down"
        assert sorted(map(comparable, local.values())) == sorted(map(comparable, server_side.values()))


async def _quiet(session: AppSession, deadline: float) -> None:
    """Sync until the outbox is empty and a whole sync succeeded (bounded; polls, never waits for state)."""
    assert session.scope.outbox is not None
    while time.monotonic() < deadline:
        await session.refresh()
        if not session.scope.outbox.items() and session.state.online and session.state.sync_error is None:
            return
        await asyncio.sleep(0.05)  # poll interval while the network misbehaves
    raise AssertionError(f"no quiet sync before the deadline; outbox: {session.scope.outbox.items()}")


@pytest.mark.anyio
async def test_flaky_network_ends_identical_to_the_server(tmp_path: Path) -> None:
    with running_server(tmp_path / "server") as server:
        port = int(server.url.rsplit(":", 1)[1])
        with FlakyProxy(port, seed=20261201, drop=0.15, lose_answer=0.15, delay=0.15, delay_seconds=0.2) as proxy:
            config = AppConfig(api_base_url=proxy.url, api_timeout_seconds=3.0)
            session = AppSession(config, DictSecretStore(), tmp_path / "phone",
                                 backoff=Backoff(base=0.05, cap=0.4))
            session.api._backoff = lambda attempt: 0.05
            deadline = time.monotonic() + QUIET_SECONDS
            try:
                await session.start()
                while session.state.phase is not Phase.READY and time.monotonic() < deadline:
                    await session.login("madre.demo", PASSWORD)  # a dropped login is simply tried again
                assert session.state.phase is Phase.READY
                await _quiet(session, deadline)
                agenda = session.agenda
                patients = [c.id for c in session.state.children]
                created_titles = []
                for i in range(8):
                    agenda.new()
                    form = session.state.agenda.form
                    assert form is not None
                    form.patient_id = patients[i % len(patients)]
                    form.title = f"Cita en red inestable {i}"
                    form.kind = ("consulta", "laboratorio", "estudio", "otro")[i % 4]
                    assert agenda.save(form), form.errors
                    created_titles.append(form.title)
                    if i % 3 == 0:
                        await session.refresh()  # some sync between writes, some not
                # Edit three (some still local-only, some synced) and delete two.
                mine = [it for it in session.state.agenda.items if it.appointment.title in created_titles]
                for item in mine[:3]:
                    form = form_for(item.appointment)
                    form.title = item.appointment.title + " (editada)"
                    form.notes = "Llevar carnet"
                    assert agenda.save(form), form.errors
                for item in mine[3:5]:
                    agenda.delete(item.id)
                await _quiet(session, deadline)
                assert sum(proxy.counts[f] for f in ("drop", "lose_answer")) >= 5, proxy.counts
            finally:
                await session.close()
        server_side = server_appointments(server.url)
        mine_on_server = sorted(a["title"] for a in server_side.values() if a["title"].startswith("Cita en red"))
        assert len(mine_on_server) == 6, mine_on_server  # 8 created, 2 deleted, none twice
        assert sum(1 for t in mine_on_server if t.endswith("(editada)")) == 3
        reopened = AppSession(AppConfig(api_base_url="http://127.0.0.1:9"), session.secrets, tmp_path / "phone")
        try:
            await reopened.start()
            assert reopened.login_scope is not None
            local = in_window({k: v.model_dump(mode="json") for k, v in reopened.login_scope.records.appointments().items()})
        finally:
            await reopened.close()
        assert sorted(map(comparable, local.values())) == sorted(map(comparable, server_side.values()))
