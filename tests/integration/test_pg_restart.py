"""PostgreSQL restarted during a load run (issue #7): the server recovers by itself, clients get retryable
errors, no write is lost or doubled.

A PostgreSQL cluster of this test's own (tests/support/pgcluster.py: the shared one on :5432 is never
touched) holds generated families; ``carnet-server --workers 2`` serves them. Guardians, each in a thread
of its own, report incidents and add appointments — each write with its own ``Idempotency-Key``, retried
with the same key on a 503 (after its Retry-After) or a connection error until it gets a 2xx — and read
their carnet and sync pages. Meanwhile PostgreSQL is restarted (``-m fast``), crash-restarted
(``-m immediate``), and crashed and kept down until the load has seen it before it starts again.

Then: only 2xx/304 or 503 ``database_unavailable`` with Retry-After were answered, never a 500; the same
worker processes still serve; every write exists exactly once (found by the unique mark in its text), with
the id its client was given, and nothing else was written.
"""

from __future__ import annotations

import os
import random
import re
import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from carnet_server.scale import SCALE_PASSWORD, guardian_username
from tests.support.pgcluster import PgCluster, find_pg_bin, private_cluster
from tests.support.processes import BIN, running_server, worker_pids

pytestmark = pytest.mark.postgres

PG_ENV = "CARNET_TEST_DATABASE_URL"
GUARDIANS = 10
PHASE_SECONDS = 30.0  # the most any phase may take before the test fails
WRITE_SECONDS = 45.0  # the most one write may take, retries included
MARK = re.compile(r"pgr-[0-9a-f-]{36}")


@pytest.fixture
def cluster() -> Iterator[PgCluster]:
    if not os.environ.get(PG_ENV):
        pytest.skip(f"postgres: set {PG_ENV} to run the PostgreSQL restart test")
    if find_pg_bin() is None:
        pytest.skip("postgres: initdb/pg_ctl not found (Debian package postgresql-15; .ci/run installs it)")
    with private_cluster(seconds=30) as pg:
        yield pg


@dataclass
class Write:
    kind: str
    key: str
    mark: str
    #: Status of every attempt (0: no HTTP answer).
    attempts: list[int] = field(default_factory=list)
    answer: dict[str, Any] | None = None


class Load:
    """Guardians in threads; every answer counted; writes retried with their key until a 2xx."""

    def __init__(self, base: str, families: list[tuple[dict[str, str], str]]) -> None:
        self.base = base
        self.families = families
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.answers: Counter[str] = Counter()  # "200", "503 database_unavailable", …
        self.unexpected: list[str] = []
        self.transport_errors: Counter[str] = Counter()
        self.writes: list[Write] = []
        self.done = 0  # writes answered 2xx
        self.unavailable = 0  # 503 database_unavailable answers
        self.threads = [threading.Thread(target=self._guardian, args=(i,), daemon=True)
                        for i in range(len(families))]
        day = datetime.now(UTC).replace(hour=16, minute=0, second=0, microsecond=0) + timedelta(days=20)
        self.starts = [day + timedelta(days=d) for d in range(30)]

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def finish(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(WRITE_SECONDS + 15)
        assert not any(t.is_alive() for t in self.threads), "a load thread did not finish"

    def counts(self) -> tuple[int, int]:
        with self.lock:
            return self.done, self.unavailable

    def _note(self, response: httpx.Response, path: str) -> None:
        with self.lock:
            if response.status_code == 503:
                try:
                    code = response.json()["error"]["code"]
                except (ValueError, KeyError, TypeError):
                    code = "not the error body"
                self.answers[f"503 {code}"] += 1
                if code == "database_unavailable" and response.headers.get("Retry-After", "").isdigit():
                    self.unavailable += 1
                    return
            else:
                self.answers[str(response.status_code)] += 1
                if response.is_success or response.status_code == 304:
                    return
            self.unexpected.append(f"{response.status_code} on {path}: {response.text[:200]}")

    def _transport_error(self, exc: httpx.TransportError) -> None:
        with self.lock:
            self.transport_errors[type(exc).__name__] += 1

    def _guardian(self, index: int) -> None:
        auth, child = self.families[index]
        rng = random.Random(index)
        with httpx.Client(base_url=self.base, headers=auth, timeout=30.0) as client:
            turn = 0
            while not self.stop.is_set():
                turn += 1
                if turn % 2:
                    self._write(client, child, "incident" if turn % 4 == 1 else "appointment", rng)
                else:
                    path = f"/api/v1/patients/{child}/carnet" if turn % 4 == 0 else "/api/v1/sync"
                    try:
                        self._note(client.get(path, params={"limit": 50} if "sync" in path else None), path)
                    except httpx.TransportError as exc:
                        self._transport_error(exc)
                        time.sleep(0.2)  # backoff before the next request

    def _write(self, client: httpx.Client, child: str, kind: str, rng: random.Random) -> None:
        key = str(uuid.uuid4())
        write = Write(kind, key, f"pgr-{key}")
        if kind == "incident":
            url, body = "/api/v1/incidents", {
                "patient_id": child, "category": "medicamento", "item_name": "Vincristina",
                "description": f"No hay vincristina en la farmacia de la unidad ({write.mark})."}
        else:
            start = rng.choice(self.starts)
            url, body = f"/api/v1/patients/{child}/appointments", {
                "kind": "consulta", "title": f"Consulta {write.mark}", "place": "Consultorio particular",
                "starts_at": start.isoformat(), "ends_at": (start + timedelta(minutes=30)).isoformat()}
        with self.lock:
            self.writes.append(write)
        deadline = time.monotonic() + WRITE_SECONDS
        # A write once started is driven to an answer even after the load is told to stop.
        while time.monotonic() < deadline:
            try:
                response = client.post(url, json=body, headers={"Idempotency-Key": key})
            except httpx.TransportError as exc:
                self._transport_error(exc)
                write.attempts.append(0)
                time.sleep(0.5)  # backoff before the retry with the same key
                continue
            self._note(response, url)
            write.attempts.append(response.status_code)
            if response.is_success:
                write.answer = response.json()
                with self.lock:
                    self.done += 1
                return
            if response.status_code != 503:
                return  # recorded as unexpected
            time.sleep(min(3.0, float(response.headers.get("Retry-After", "1"))))  # the server's Retry-After


def wait_for(condition: Callable[[], bool], what: str, seconds: float = PHASE_SECONDS) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)  # poll interval


def login(base: str, number: int) -> tuple[dict[str, str], str]:
    response = httpx.post(f"{base}/api/v1/auth/login",
                          json={"username": guardian_username(number), "password": SCALE_PASSWORD}, timeout=30)
    assert response.status_code == 200, response.text
    auth = {"Authorization": f"Bearer {response.json()['access_token']}"}
    me = httpx.get(f"{base}/api/v1/me", headers=auth, timeout=30)
    assert me.status_code == 200, me.text
    return auth, me.json()["patients"][0]["id"]


def test_postgres_restarts_under_load(cluster: PgCluster, tmp_path: Path) -> None:
    data_dir = tmp_path / "server"
    env = {
        "CARNET_DATABASE_URL": cluster.url,
        "CARNET_ARGON2_TIME_COST": "1", "CARNET_ARGON2_MEMORY_COST": "8", "CARNET_ARGON2_PARALLELISM": "1",
        "CARNET_WORKERS": "2", "CARNET_ACCESS_TOKEN_MINUTES": "60",
        # The load writes much faster than a family would: the per-user limits are not under test here.
        "CARNET_WRITE_RATE_LIMIT": "100000", "CARNET_LOGIN_MAX_PER_ADDRESS": "1000",
    }
    subprocess.run([str(BIN / "carnet-server"), "generate", "--patients", "30", "--seed", "11"],
                   env={**os.environ, **env, "CARNET_DATA_DIR": str(data_dir)}, capture_output=True, check=True,
                   timeout=120)
    with running_server(data_dir, demo=False, env=env) as server:
        master = server.proc.pid
        wait_for(lambda: len(worker_pids(master)) == 2, "two worker processes")
        workers = worker_pids(master)
        families = [login(server.url, n) for n in range(1, GUARDIANS + 1)]
        load = Load(server.url, families)
        load.start()
        try:
            def writes_after(count: int) -> Callable[[], bool]:
                return lambda: load.counts()[0] >= count + GUARDIANS

            wait_for(writes_after(0), "writes before any restart")
            for mode in ("fast", "immediate"):  # a clean restart, then a crash restart
                cluster.restart(mode)
                wait_for(writes_after(load.counts()[0]), f"writes after the {mode} restart")
            # A crash kept down until the load has met it (answers 503 database_unavailable), then a start
            # that recovers from the WAL.
            cluster.stop("immediate")
            seen = load.counts()[1]
            wait_for(lambda: load.counts()[1] >= seen + GUARDIANS, "503 answers while PostgreSQL is down")
            cluster.start()
            wait_for(writes_after(load.counts()[0]), "writes after PostgreSQL came back")
        finally:
            load.finish()

        # Only 2xx/304 or 503 database_unavailable with Retry-After: never a 500, nothing else.
        assert load.unexpected == [], (load.unexpected[:5], load.answers)
        assert load.unavailable >= GUARDIANS, load.answers
        # The server never went away, only its database: no request failed below HTTP.
        assert not load.transport_errors, load.transport_errors
        # The same processes serve on: nothing restarted, and each answers from the database.
        assert server.proc.poll() is None and worker_pids(master) == workers
        for _ in range(8):  # new connections land on either worker
            with httpx.Client(base_url=server.url, headers=families[0][0], timeout=30) as fresh:
                assert fresh.get("/api/v1/me").status_code == 200

        # Every write answered 2xx, once in the database, with the id its client got; nothing else written.
        assert all(w.answer is not None for w in load.writes), [w.attempts for w in load.writes if not w.answer]
        retried = [w for w in load.writes if len(w.attempts) > 1]
        assert retried, "some writes met the outage and were retried"
        engine = create_engine(cluster.url)
        try:
            with engine.connect() as conn:
                rows = {
                    "incident": conn.execute(text(
                        "SELECT id, description FROM incidents WHERE description LIKE '%pgr-%'")).all(),
                    "appointment": conn.execute(text(
                        "SELECT id, title FROM appointments WHERE title LIKE '%pgr-%'")).all(),
                }
                keys = conn.execute(text("SELECT key, claim, status_code FROM idempotency_keys")).all()
        finally:
            engine.dispose()
        for kind, found in rows.items():
            marks = Counter(MARK.search(str(label)).group(0) for _id, label in found)  # type: ignore[union-attr]
            wanted = {w.mark: w for w in load.writes if w.kind == kind}
            assert set(marks) == set(wanted), f"{kind}: written ≠ answered"
            assert all(n == 1 for n in marks.values()), [m for m, n in marks.items() if n > 1]
            ids = {MARK.search(str(label)).group(0): row_id for row_id, label in found}  # type: ignore[union-attr]
            assert all(ids[m] == w.answer["id"] for m, w in wanted.items() if w.answer), f"{kind}: ids differ"
        stored = {key: (claim, status) for key, claim, status in keys}
        assert all(stored.get(w.key) == (None, 201) for w in load.writes), "every key holds its stored answer"

    log = server.log_path.read_text(errors="replace")
    assert "database unavailable" in log
    assert "Traceback" not in log and "internal_error" not in log
    assert "pgr-" not in log and "vincristina" not in log.lower()  # no request content in the log
