"""Scale: PostgreSQL with 1 k, 10 k (and 100 k) generated children, several server workers, many guardians.

For each size: a fresh PostgreSQL schema, ``carnet-server generate --patients N``
(timed), the real server with ``--workers`` processes on loopback, then load
from a separate process, bounded in time, as many different guardians (never
one account): the trivial endpoint (``/healthz``), the carnet, an unchanged
sync (304 with ``If-None-Match``), a delta sync (one change since the cursor),
booking a blood donor and reporting an incident. Alternating rounds of
``--seconds`` each; throughput as a ratio to the trivial endpoint of the same
run, p50/p99, and how they move from the smallest to the largest size (goal:
flat, ≤ 1.5×). With ``--wrk``, also the reads with wrk (each cycling through
the same guardians' requests by a Lua script), as ratios to a bare FastAPI app
(``floor_app.py``) with the same workers in the same run: the Python generator
saturates long before the server does. Writes its section of bench/RESULTS.md.

    .venv/bin/python bench/bench_scale.py [--sizes 1000 10000 100000] [--workers 2] [--seconds 6]
        [--rounds 2] [--concurrency 16] [--guardians 150] [--wrk [--connections 32]]

Needs ``CARNET_BENCH_DATABASE_URL`` (default ``postgresql+psycopg://postgres@127.0.0.1:5432/test``); the
schema ``carnet_scale_bench`` in it is dropped and remade for every size.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import os
import platform
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
from common import (  # also puts the repo on sys.path
    RESULTS,
    free_places,
    running_floor,
    scale_families,
    summary,
    write_section,
    wrk_cycling,
)
from sqlalchemy import create_engine, text
from tests.support.processes import BIN, running_server

from carnet_server.settings import Settings

SCHEMA = "carnet_scale_bench"
DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
#: (method, url, headers, JSON body or None)
Request = tuple[str, str, dict[str, str], Any]


# ---- load, in a separate process -------------------------------------------------------------------


async def _load(requests: list[Request], expect: int, seconds: float, concurrency: int,
                cycle: bool) -> tuple[float, list[float], dict[int, int]]:
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    next_index = 0
    deadline = time.perf_counter() + seconds

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal next_index
        while time.perf_counter() < deadline and (cycle or next_index < len(requests)):
            method, url, headers, body = requests[next_index % len(requests)]
            next_index += 1
            if body is not None and "Idempotency-Key" in headers:
                headers = {**headers, "Idempotency-Key": str(uuid.uuid4())}
            started = time.perf_counter()
            response = await client.request(method, url, headers=headers, json=body)
            latencies.append(time.perf_counter() - started)
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=60.0) as client:
        started = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return elapsed, latencies, statuses


def _run_load(args: tuple[list[Request], int, float, int, bool]) -> tuple[float, list[float], dict[int, int]]:
    return asyncio.run(_load(*args))


# ---- preparing the guardians ------------------------------------------------------------------------


def _drain(client: httpx.Client, base: str, auth: dict[str, str], cursor: str = "") -> str:
    while True:
        page = client.get(f"{base}/api/v1/sync", params={"cursor": cursor, "limit": 1000}, headers=auth)
        page.raise_for_status()
        cursor = page.json()["cursor"]
        if not page.json()["has_more"]:
            return cursor


def _read_requests(base: str, family: list[tuple[dict[str, str], str]],
                   today: date) -> dict[str, list[Request]]:
    """Carnet, unchanged sync (304) and delta sync (one change) requests, one or more per guardian."""
    carnet, unchanged, delta = [], [], []
    with httpx.Client(timeout=60) as client:
        for auth, child in family:
            url = f"{base}/api/v1/patients/{child}/carnet"
            client.get(url, headers=auth).raise_for_status()  # the first read issues the QR token
            carnet.append(("GET", url, auth, None))
            before = _drain(client, base, auth)
            start = datetime.combine(today + timedelta(days=9), datetime.min.time(), tzinfo=timezone.utc)
            client.post(f"{base}/api/v1/patients/{child}/appointments", headers=auth, json={
                "kind": "consulta", "title": "Dentista: revisión", "place": "Consultorio particular",
                "starts_at": (start + timedelta(hours=17)).isoformat(),
                "ends_at": (start + timedelta(hours=18)).isoformat(),
            }).raise_for_status()
            delta.append(("GET", str(httpx.URL(f"{base}/api/v1/sync", params={"cursor": before})), auth, None))
            after = _drain(client, base, auth, before)
            url = str(httpx.URL(f"{base}/api/v1/sync", params={"cursor": after}))
            etag = client.get(url, headers=auth).headers["ETag"]
            unchanged.append(("GET", url, {**auth, "If-None-Match": etag}, None))
    return {"carnet": carnet, "unchanged": unchanged, "delta": delta}


def _write_requests(base: str, family: list[tuple[dict[str, str], str]], today: date,
                    seats: int) -> dict[str, list[Request]]:
    """Booking requests, one per free place (slots of every bank, from tomorrow on) — at most one a family and day,
    the families in turn, as the limits allow — and incident reports."""
    bookings: list[Request] = []
    incidents: list[Request] = []
    with httpx.Client(timeout=60) as client:
        auth0 = family[0][0]
        banks = client.get(f"{base}/api/v1/blood-banks", headers=auth0).json()
        answers = {q["id"]: q["eligible_answer"]
                   for q in client.get(f"{base}/api/v1/blood-bank/questionnaire", headers=auth0).json()}
        shuffle = random.Random(1).shuffle
        for offset in range(1, 61):  # the server books 60 days ahead at most
            day = today + timedelta(days=offset)
            places = free_places(client, base, auth0, [bank["id"] for bank in banks], day)
            shuffle(places)
            for slot_id in places[:min(len(family), seats - len(bookings))]:
                i = len(bookings)
                auth, child = family[i % len(family)]
                bookings.append(("POST", f"{base}/api/v1/blood-bank/bookings",
                                 {**auth, "Idempotency-Key": ""}, {
                                     "slot_id": slot_id, "patient_id": child, "answers": answers,
                                     "donor": {"full_name": f"Donante {i:06d}", "phone": f"55 {i:08d}",
                                               "birth_date": "1990-05-01", "weight_kg": 72, "sex": "hombre"}}))
            if len(bookings) >= seats:
                break
        for auth, child in family:
            incidents.append(("POST", f"{base}/api/v1/incidents", {**auth, "Idempotency-Key": ""}, {
                "patient_id": child, "category": "medicamento", "item_name": "Vincristina",
                "description": "En la farmacia de la unidad no hay vincristina para el ciclo programado."}))
    return {"booking": bookings, "incident": incidents}


# ---- one size -------------------------------------------------------------------------------------------


def _fresh_schema(url: str) -> None:
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{SCHEMA}" CASCADE'))
        conn.execute(text(f'CREATE SCHEMA "{SCHEMA}"'))
    admin.dispose()


def _schema_size(url: str) -> tuple[int, dict[str, int]]:
    admin = create_engine(url)
    with admin.connect() as conn:
        size = conn.execute(text(
            "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = :s AND c.relkind = 'r'"), {"s": SCHEMA}
        ).scalar_one()
        counts = {t: conn.execute(text(f'SELECT count(*) FROM "{SCHEMA}".{t}')).scalar_one()
                  for t in ("patients", "users", "cycles", "appointments", "sync_state", "blood_bank_bookings",
                            "incidents")}
    admin.dispose()
    return int(size), counts


TARGETS = (
    ("trivial", "GET /healthz (trivial)", 200),
    ("carnet", "GET carnet", 200),
    ("unchanged", "GET sync, unchanged (304)", 304),
    ("delta", "GET sync, delta (1 change)", 200),
    ("booking", "POST blood-bank booking", 201),
    ("incident", "POST incident", 201),
)


WRK_NAMES = (
    ("floor", "bare FastAPI /ping (the floor)"),
    ("ping", "our /api/v1/ping"),
    ("carnet", "GET carnet"),
    ("unchanged", "GET sync, unchanged (304)"),
    ("delta", "GET sync, delta (1 change)"),
)


def run_size(n: int, opts: argparse.Namespace) -> dict[str, Any]:
    url = opts.database_url
    _fresh_schema(url)
    env = {"CARNET_DATABASE_URL": url, "CARNET_DATABASE_SCHEMA": SCHEMA}
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "server"
        started = time.perf_counter()
        generated = subprocess.run(
            [str(BIN / "carnet-server"), "generate", "--patients", str(n), "--seed", "2026"],
            env={**os.environ, **env, "CARNET_DATA_DIR": str(data_dir)}, capture_output=True, text=True, check=True)
        generation_seconds = time.perf_counter() - started
        guardians = int(re.search(r"^guardians: (\d+)$", generated.stdout, re.M).group(1))  # type: ignore[union-attr]
        size_bytes, counts = _schema_size(url)
        # Every write limit as in production (30 writes a user and minute, 6 bookings a child and day): the writers
        # book in turn, each at most once a day (_write_requests).
        server_env = {**env, "CARNET_WORKERS": str(opts.workers), "CARNET_ACCESS_TOKEN_MINUTES": "240"}
        with running_server(data_dir, demo=False, env=server_env) as server:
            base = server.url
            today = datetime.now(timezone.utc).astimezone().date()
            readers = scale_families(base, guardians, opts.guardians, seed=n)
            writers = scale_families(base, guardians, opts.guardians, seed=n + 1)
            writers = [w for w in writers if w[1] not in {c for _a, c in readers}] or writers
            requests = {"trivial": [("GET", f"{base}/healthz", {}, None)]}
            requests |= _read_requests(base, readers, today)
            requests |= _write_requests(base, writers, today, seats=opts.seats)
            runs: dict[str, list[tuple[float, list[float], dict[int, int]]]] = {k: [] for k, _n, _e in TARGETS}
            with multiprocessing.get_context("spawn").Pool(1) as pool:
                for _ in range(opts.rounds):
                    for key, _name, expect in TARGETS:
                        writes = key in ("booking",)
                        runs[key].append(pool.apply(_run_load, (
                            (requests[key], expect, opts.seconds, opts.concurrency, not writes),)))
                        if writes:  # the places taken are gone: the next round books the rest
                            taken = sum(len(lat) for _e, lat, _s in runs[key][-1:])
                            requests[key] = requests[key][taken:] or requests[key]
            by_wrk: dict[str, list[float]] = {}
            if opts.wrk:
                wrk_targets: dict[str, tuple[str, list[Request] | None]] = {
                    "floor": (opts.floor_url, None),
                    "ping": (f"{base}/api/v1/ping", None),
                    **{key: (base, requests[key]) for key in ("carnet", "unchanged", "delta")},
                }
                by_wrk = {key: [] for key in wrk_targets}
                for _ in range(opts.rounds):
                    for key, (target, reqs) in wrk_targets.items():
                        by_wrk[key].append(wrk_cycling(target, reqs, seconds=opts.seconds, connections=opts.connections))
    results: dict[str, Any] = {}
    for key, name, expect in TARGETS:
        rs = runs[key]
        latencies = [lat for _e, lats, _s in rs for lat in lats]
        statuses: dict[int, int] = {}
        for _e, _l, st in rs:
            for code, count in st.items():
                statuses[code] = statuses.get(code, 0) + count
        results[key] = {**summary(sum(e for e, _l, _s in rs), latencies), "name": name,
                        "errors": sum(c for code, c in statuses.items() if code != expect), "statuses": statuses}
    return {"n": n, "generation_seconds": generation_seconds, "guardians": guardians, "size_bytes": size_bytes,
            "counts": counts, "results": results, "readers": len(readers), "writers": len(writers),
            "wrk": {key: sum(v) / len(v) for key, v in by_wrk.items()}}


# ---- report ---------------------------------------------------------------------------------------------


def _section(runs: list[dict[str, Any]], opts: argparse.Namespace, command: str) -> str:
    lines = [
        "## Scale: PostgreSQL, 1 k to 100 k children, several workers",
        "",
        f"Command: `{command}`  ",
        f"Run: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC on {os.cpu_count()} cores "
        f"({platform.machine()}, shared by the server, PostgreSQL, the load process and other work on the "
        f"machine), PostgreSQL on loopback, `carnet-server --workers {opts.workers}` (pool "
        f"{Settings().db_pool_size} + overflow {Settings().db_max_overflow} per worker), load from one separate process over {opts.concurrency} keep-alive connections, "
        f"{opts.rounds} alternating rounds of {opts.seconds:g} s per endpoint, as {opts.guardians} different "
        "guardians for reads and as many others for writes (one request in turn each; every write limit as in "
        "production: each writer books at most once a day).",
        "",
        "| children | guardians | appointments | sync rows | database | generation |",
        "|---:|---:|---:|---:|---:|---:|",
        *(f"| {r['n']:,} | {r['guardians']:,} | {r['counts']['appointments']:,} | {r['counts']['sync_state']:,} "
          f"| {r['size_bytes'] / 2**20:,.0f} MB | {r['generation_seconds']:.0f} s |" for r in runs),
        "",
        "| endpoint | children | requests/s | ratio to trivial | p50 ms | p99 ms | errors |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for key, name, _expect in TARGETS:
        for r in runs:
            res, base = r["results"][key], r["results"]["trivial"]
            lines.append(f"| {name} | {r['n']:,} | {res['rps']:.0f} | {res['rps'] / base['rps']:.2f} | "
                         f"{res['p50_ms']:.1f} | {res['p99_ms']:.1f} | {res['errors']} |")
    if any(r["wrk"] for r in runs):
        lines += [
            "",
            f"With wrk (`--wrk`: 1 thread, {opts.connections} connections, {opts.rounds} alternating rounds of "
            f"{opts.seconds:g} s per endpoint, after the rounds above, each read cycling through the same "
            f"{opts.guardians} guardians' requests by a Lua script), against the bare FastAPI floor "
            f"(`bench/floor_app.py`, uvicorn with the same {opts.workers} workers) measured in the same run:",
            "",
            "| endpoint | children | requests/s | ratio to the floor |",
            "|---|---:|---:|---:|",
        ]
        for key, name in WRK_NAMES:
            for r in runs:
                if r["wrk"]:
                    lines.append(f"| {name} | {r['n']:,} | {r['wrk'][key]:,.0f} | "
                                 f"{r['wrk'][key] / r['wrk']['floor']:.2f} |")
    first, last = runs[0], runs[-1]
    if len(runs) > 1:
        trivial = last["results"]["trivial"]["rps"] / first["results"]["trivial"]["rps"]
        lines += [
            "",
            f"How they move from {first['n']:,} to {last['n']:,} children (goal: flat, ≤ 1.5×; > 1 means slower "
            "at the large size): throughput as the ratio to trivial and in absolute requests/s, p50, p99. "
            f"The trivial endpoint itself went {trivial:.2f}× from the first size to the last: it is bound by "
            "the load process and free CPU, so when the rest of the machine's work changes between sizes the "
            "ratio to trivial moves with it while the database-bound endpoints do not.",
            "",
            "| endpoint | throughput, ratio to trivial | throughput, absolute | p50 | p99 |",
            "|---|---:|---:|---:|---:|",
        ]
        for key, name, _expect in TARGETS[1:]:
            a, b = first["results"][key], last["results"][key]
            ta = a["rps"] / first["results"]["trivial"]["rps"]
            tb = b["rps"] / last["results"]["trivial"]["rps"]
            lines.append(f"| {name} | {ta / tb:.2f}× | {a['rps'] / b['rps']:.2f}× | "
                         f"{b['p50_ms'] / a['p50_ms']:.2f}× | {b['p99_ms'] / a['p99_ms']:.2f}× |")
    lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--guardians", type=int, default=150)
    parser.add_argument("--seats", type=int, default=4000, help="booking places prepared per size")
    parser.add_argument("--database-url", default=os.environ.get("CARNET_BENCH_DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--keep-schema", action="store_true", help="leave the last size's schema in place")
    parser.add_argument("--wrk", action="store_true", help="also the reads with wrk, against a bare FastAPI floor")
    parser.add_argument("--connections", type=int, default=32, help="wrk's connections")
    opts = parser.parse_args()
    if opts.wrk and shutil.which("wrk") is None:
        sys.exit("wrk is not installed (apt-get install wrk)")
    command = (f".venv/bin/python bench/bench_scale.py --sizes {' '.join(map(str, opts.sizes))} "
               f"--workers {opts.workers} --seconds {opts.seconds:g} --rounds {opts.rounds} "
               f"--concurrency {opts.concurrency} --guardians {opts.guardians}")
    if opts.wrk:
        command += f" --wrk --connections {opts.connections}"
    runs: list[dict[str, Any]] = []
    try:
        with contextlib.ExitStack() as stack:
            if opts.wrk:
                opts.floor_url = stack.enter_context(running_floor(opts.workers))
            for n in opts.sizes:
                print(f"== {n} children", flush=True)
                runs.append(run_size(n, opts))
                r = runs[-1]
                print(f"generated in {r['generation_seconds']:.0f} s; " + ", ".join(
                    f"{v['name']}: {v['rps']:.0f}/s p50 {v['p50_ms']:.1f} p99 {v['p99_ms']:.1f} err {v['errors']}"
                    for v in r["results"].values()), flush=True)
                # Written after every size, so a long last size never loses the ones before it.
                write_section(opts.output, _section(runs, opts, command))
    finally:
        if not opts.keep_schema:
            admin = create_engine(opts.database_url, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{SCHEMA}" CASCADE'))
            admin.dispose()
    print(_section(runs, opts, command))


if __name__ == "__main__":
    main()
