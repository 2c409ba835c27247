"""What every benchmark shares: load from a separate process, summaries, RESULTS.md sections.

Each benchmark alternates rounds of a baseline and its targets so that machine
noise hits both alike, and reports ratios against the baseline of the same run.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

RESULTS = ROOT / "bench" / "RESULTS.md"
HEADER = ("# Benchmarks\n\nFigures are ratios against a baseline measured in the same run; "
          "absolute numbers depend on the machine.\n\n")

#: name → (url, headers, expected status) for GET load, or
#: (url, headers, expected status, JSON bodies) for POST load: request i sends bodies[i % len(bodies)]; a body given
#: as ``(headers, JSON body)`` is sent with those headers instead (many families, each with its own token).
Targets = Mapping[str, tuple[str, dict[str, str], int] | tuple[str, dict[str, str], int, list[Any]]]
Bodies = list[Any] | None


async def _load(url: str, headers: dict[str, str], expect: int, requests: int, concurrency: int,
                bodies: Bodies = None) -> list[float]:
    latencies: list[float] = []
    remaining = requests

    async def send(client: httpx.AsyncClient, index: int) -> httpx.Response:
        if bodies is None:
            return await client.get(url, headers=headers)
        body = bodies[index % len(bodies)]
        if isinstance(body, tuple):
            return await client.post(url, headers=body[0], json=body[1])
        return await client.post(url, headers=headers, json=body)

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            started = time.perf_counter()
            response = await send(client, remaining)
            latencies.append(time.perf_counter() - started)
            if response.status_code != expect:
                raise RuntimeError(f"{url} answered {response.status_code}, expected {expect}: {response.text[:300]}")

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30.0) as client:
        await send(client, requests)  # warm the connection and caches (with a body of its own: see measure)
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
    return latencies


def _run_load(args: tuple[str, dict[str, str], int, int, int, Bodies]) -> tuple[float, list[float]]:
    url, headers, expect, requests, concurrency, bodies = args
    started = time.perf_counter()
    latencies = asyncio.run(_load(url, headers, expect, requests, concurrency, bodies))
    return time.perf_counter() - started, latencies


async def _burst(url: str, headers: dict[str, str], body: Any, count: int) -> list[tuple[int, float]]:
    """``count`` connections opened first, then the same request sent on all of them at once: (status, seconds
    from sending to the whole answer). Raw sockets, not httpx: with 200 connections httpx's own CPU (on the
    same two cores as the server) was most of what a race measured — 200 trivial requests took a median of
    0.4–1.5 s."""
    target = httpx.URL(url)
    host, port = target.host, target.port or 80
    payload = b"" if body is None else json.dumps(body).encode()
    lines = [f"{'GET' if body is None else 'POST'} {target.raw_path.decode()} HTTP/1.1", f"Host: {host}:{port}",
             "Connection: close", *(f"{name}: {value}" for name, value in headers.items())]
    if body is not None:
        lines += ["Content-Type: application/json", f"Content-Length: {len(payload)}"]
    request = ("\r\n".join(lines) + "\r\n\r\n").encode() + payload
    connections = [await asyncio.open_connection(host, port) for _ in range(count)]
    go = asyncio.Event()

    async def one(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> tuple[int, float]:
        await go.wait()
        started = time.perf_counter()
        writer.write(request)
        answer = await reader.read()  # Connection: close — the whole answer, then end of stream
        seconds = time.perf_counter() - started
        writer.close()
        return int(answer.split(b" ", 2)[1]), seconds

    tasks = [asyncio.ensure_future(one(reader, writer)) for reader, writer in connections]
    go.set()
    return list(await asyncio.gather(*tasks))


def _run_burst(args: tuple[str, dict[str, str], Any, int]) -> list[tuple[int, float]]:
    return asyncio.run(_burst(*args))


def burst(url: str, headers: dict[str, str], body: Any, *, count: int) -> list[tuple[int, float]]:
    """``count`` identical requests at once over ``count`` connections (POST ``body``, or GET when it is None),
    from a separate process: (status, seconds)."""
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(_run_burst, ((url, headers, body, count),))


WRK_RPS = re.compile(r"Requests/sec:\s+([0-9.]+)")
#: One request of a wrk script: method, full URL, headers, JSON body (None: no body).
WrkRequest = tuple[str, str, dict[str, str], Any]


@contextmanager
def running_floor(workers: int, app: str = "floor_app:app") -> Iterator[str]:
    """The bare FastAPI app (floor_app.py, or ``app`` of this folder) under uvicorn with ``workers`` workers, on
    loopback: its /ping URL."""
    from tests.support.processes import free_port, stop, wait_until_http_ok

    port = free_port()
    url = f"http://127.0.0.1:{port}/ping"
    floor = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "uvicorn", app, "--port", str(port),
         "--workers", str(workers), "--log-level", "warning", "--app-dir", str(Path(__file__).parent)],
        stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_until_http_ok(url, floor)
        yield url
    finally:
        stop(floor)


def _lua_text(value: str) -> str:
    return f"[==[{value}]==]"


def wrk_cycling(url: str, requests: list[WrkRequest] | None, *, seconds: float, connections: int) -> float:
    """wrk's requests/s on ``url`` (1 thread), or, with ``requests``, cycling through those (each with its own
    method, path, headers and body: many families, not one) by a Lua script. An error if any answer was a 4xx or
    5xx (a write's requests must outnumber what wrk sends in ``seconds``: each is sent once before any again)."""
    args = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s"]
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        if requests:
            rows = []
            for method, full, headers, body in requests:
                path = httpx.URL(full).raw_path.decode("ascii")
                fields = ", ".join(f"[ {_lua_text(k)} ] = {_lua_text(v)}" for k, v in headers.items())
                payload = "nil" if body is None else _lua_text(json.dumps(body, ensure_ascii=False))
                rows.append(f"{{{_lua_text(method)}, {_lua_text(path)}, {{{fields}}}, {payload}}}")
            script.write("local reqs = {\n" + ",\n".join(rows) + "}\nlocal i = 0\n"
                         "request = function()\n  i = i + 1\n  local r = reqs[((i - 1) % #reqs) + 1]\n"
                         # a table of one's own replaces wrk's headers, Host included
                         '  r[3]["Host"] = wrk.headers["Host"]\n'
                         "  return wrk.format(r[1], r[2], r[3], r[4])\nend\n"
                         # the first refusal, for the error message
                         "local told = false\nresponse = function(status, headers, body)\n"
                         "  if status > 399 and not told then told = true; print(status, body) end\nend\n")
            args += ["-s", script.name]
    try:
        return wrk_rate(args, url)
    finally:
        os.unlink(script.name)


def wrk_rate(args: list[str], url: str) -> float:
    """Run wrk (``args``: its options) on ``url``: its requests/s; an error if any answer was a 4xx or 5xx."""
    out = subprocess.run([*args, url], capture_output=True, text=True, check=True).stdout
    if "Non-2xx or 3xx responses" in out:
        raise RuntimeError(f"wrk: {url} answered errors:\n{out}")
    found = WRK_RPS.search(out)
    if found is None:
        raise RuntimeError(f"wrk printed no rate:\n{out}")
    return float(found.group(1))


def summary(elapsed: float, latencies: list[float]) -> dict[str, float]:
    ordered = sorted(latencies)
    return {
        "rps": len(ordered) / elapsed,
        "p50_ms": 1000 * statistics.median(ordered),
        "p99_ms": 1000 * ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))],
    }


def measure(targets: Targets, *, rounds: int, requests: int, concurrency: int) -> dict[str, dict[str, float]]:
    """Alternating rounds of load on each target (GET, or POST with bodies), from one separate process. POST bodies
    enough for every round's requests and its warm-up (``rounds * (requests + 1)``) are each sent once: round r
    sends its own slice (bookings of places that a round takes and the next must not ask for again)."""
    runs: dict[str, list[tuple[float, list[float]]]] = {name: [] for name in targets}
    chunk = requests + 1
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        for r in range(rounds):
            for name, (url, headers, expect, *rest) in targets.items():
                bodies = rest[0] if rest else None
                if bodies is not None and len(bodies) >= rounds * chunk:
                    bodies = bodies[r * chunk:(r + 1) * chunk]
                runs[name].append(pool.apply(_run_load, ((url, headers, expect, requests, concurrency, bodies),)))
    return {
        name: summary(sum(e for e, _ in rs), [lat for _, lats in rs for lat in lats])
        for name, rs in runs.items()
    }


def login(base: str, username: str, password: str = "carnet-demo") -> dict[str, str]:
    response = httpx.post(f"{base}/api/v1/auth/login", json={"username": username, "password": password},
                          timeout=120)
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def scale_login(base: str, username: str) -> dict[str, str]:
    """A generated account's headers (``carnet-server generate``: every account has one password)."""
    from carnet_server.scale import SCALE_PASSWORD

    return login(base, username, SCALE_PASSWORD)


def scale_families(base: str, guardians: int, wanted: int, seed: int) -> list[tuple[dict[str, str], str]]:
    """``wanted`` generated guardians of different families, logged in: (auth headers, one child id)."""
    from carnet_server.scale import guardian_username

    candidates = random.Random(seed).sample(range(1, guardians + 1), min(guardians, wanted * 2))
    out: list[tuple[dict[str, str], str]] = []
    seen: set[str] = set()
    with httpx.Client(timeout=60) as client, ThreadPoolExecutor(4) as pool:
        while candidates and len(out) < wanted:
            chunk, candidates = candidates[:wanted - len(out)], candidates[wanted - len(out):]
            for auth in pool.map(lambda n: scale_login(base, guardian_username(n)), chunk):
                children = {p["id"] for p in client.get(f"{base}/api/v1/me", headers=auth).json()["patients"]}
                if children & seen:
                    continue  # the other guardian of a family already picked
                seen |= children
                out.append((auth, sorted(children)[0]))
    return out


def free_places(client: httpx.Client, base: str, auth: dict[str, str], banks: list[str], day: date) -> list[str]:
    """Every free place of the banks' slots on ``day``: each slot's id once per place left."""
    return [slot["id"] for bank in banks
            for slot in client.get(f"{base}/api/v1/blood-banks/{bank}/slots", params={"date": day.isoformat()},
                                   headers=auth).raise_for_status().json()
            for _ in range(slot["available"])]


def sync_to_end(base: str, headers: dict[str, str], cursor: str = "") -> str:
    """Sync from ``cursor`` to the end: the last cursor."""
    while True:
        page = httpx.get(f"{base}/api/v1/sync", params={"cursor": cursor, "limit": 1000}, headers=headers, timeout=30)
        page.raise_for_status()
        cursor = page.json()["cursor"]
        if not page.json()["has_more"]:
            return str(cursor)


def add_appointment(base: str, headers: dict[str, str], patient: str) -> None:
    """One change in the child's sync feed: a consultation nine days ahead."""
    start = datetime.now(timezone.utc).replace(hour=17, minute=0, second=0, microsecond=0) + timedelta(days=9)
    httpx.post(f"{base}/api/v1/patients/{patient}/appointments", headers=headers, timeout=30, json={
        "kind": "consulta", "title": "Dentista: revisión", "place": "Consultorio particular",
        "starts_at": start.isoformat(), "ends_at": (start + timedelta(hours=1)).isoformat(),
    }).raise_for_status()



def family_reads(base: str) -> tuple[dict[str, str], str, str, str, str]:
    """madre.demo's headers, her first child's id, the cursor before one change (an appointment added now, so the
    page from it is a delta), the cursor after it, and the ETag of the unchanged (empty) page at that one."""
    madre = login(base, "madre.demo")
    patient = httpx.get(f"{base}/api/v1/me", headers=madre).json()["patients"][0]["id"]
    before = sync_to_end(base, madre)
    add_appointment(base, madre, patient)
    after = sync_to_end(base, madre, before)
    etag = httpx.get(f"{base}/api/v1/sync", params={"cursor": after}, headers=madre).headers["ETag"]
    return madre, patient, before, after, etag

def load_table(title: str, command: str, results: Mapping[str, Mapping[str, float]], *,
               rounds: int, requests: int, concurrency: int, data: str = "demo data") -> list[str]:
    """The section's title, command, run line and throughput table."""
    return [
        f"## {title}",
        "",
        f"Command: `{command}`  ",
        f"Run: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, one server process (SQLite, {data}), "
        f"load from a separate process, {concurrency} keep-alive connections, "
        f"{rounds} alternating rounds of {requests} requests each.",
        "",
        "| endpoint | requests/s | p50 ms | p99 ms |",
        "|---|---:|---:|---:|",
        *(f"| {name} | {r['rps']:.0f} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} |" for name, r in results.items()),
        "",
    ]


def cpu_table(rows: Mapping[str, float], floor: float) -> list[str]:
    """The lines of a table of CPU per request with each row's ratio to the floor (cpu_per_request.py,
    cpu_per_booking.py)."""
    return ["| endpoint | CPU ms per request | floor ratio |", "|---|---:|---:|",
            *(f"| {name} | {ms:.3f} | {floor / ms:.2f} |" for name, ms in rows.items())]


def write_section(path: Path, section: str) -> None:
    """Replace the ``## …`` section with the same title in ``path`` (or append it); keep the header and the rest."""
    title = section.splitlines()[0]
    old = path.read_text(encoding="utf-8") if path.exists() else HEADER
    head, sep, rest = old.partition("\n## ")
    sections = [f"## {part}" for part in rest.split("\n## ")] if sep else []
    body = section.rstrip("\n") + "\n"
    replaced = [body if s.splitlines()[0] == title else s.rstrip("\n") + "\n" for s in sections]
    if body not in replaced:
        replaced.append(body)
    path.write_text(head.rstrip("\n") + "\n\n" + "\n".join(replaced), encoding="utf-8")


@contextmanager
def database_env(pg: str | None, name: str) -> Iterator[dict[str, str]]:
    """The server's database settings for a run: none (SQLite in its data dir), or with ``pg`` a PostgreSQL schema
    made for this run and dropped after it."""
    if not pg:
        yield {}
        return
    from sqlalchemy import create_engine, text

    schema = f"{name}_{os.getpid()}"
    engine = create_engine(pg, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield {"CARNET_DATABASE_URL": pg, "CARNET_DATABASE_SCHEMA": schema}
    finally:
        with engine.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()
