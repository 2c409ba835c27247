"""CPU per request, in-process: the family's reads against the bare FastAPI floor, without sockets or load.

The throughput benches (bench_floor.py) need a quiet machine; this one does not: it sends requests one after
another through httpx's ASGI transport to the app in this very process and divides the process's CPU time by
the number of requests, for the bare app of bench/floor_app.py and for Carnet's endpoints (demo data, SQLite or
PostgreSQL). The ratio floor CPU / endpoint CPU is the best throughput ratio the endpoint can reach on one core.
The client's own CPU (httpx building and reading requests) is in every figure, the floor's too.

Profile a path with py-spy (``pip install py-spy``; not a dependency)::

    py-spy record --gil -f raw -o /tmp/me.txt -- .venv/bin/python bench/cpu_per_request.py --only me --requests 5000

    .venv/bin/python bench/cpu_per_request.py [--requests 2000] [--pg URL] [--only NAME ...] [--write]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from common import RESULTS, cpu_table, database_env, write_section  # also puts the repo on sys.path

sys.path.insert(0, str(Path(__file__).parent))


async def _cpu_ms(app: object, path: str, headers: dict[str, str], expect: int, requests: int) -> float:
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        for _ in range(max(requests // 10, 20)):  # warm: caches, pools, first-use imports
            answer = await client.get(path, headers=headers)
            if answer.status_code != expect:
                raise RuntimeError(f"{path} answered {answer.status_code}, expected {expect}: {answer.text[:200]}")
        started = time.process_time()
        for _ in range(requests):
            await client.get(path, headers=headers)
        return (time.process_time() - started) * 1000 / requests


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--pg", help="a PostgreSQL URL (a scratch schema is made and dropped); default SQLite")
    parser.add_argument("--only", nargs="*",
                        help="endpoint names to measure (floor, ping, me, carnet, sync304, delta, carnet-anew, delta-anew)")
    parser.add_argument("--write", action="store_true", help="write the section of bench/RESULTS.md")
    opts = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["CARNET_DATA_DIR"] = str(Path(tmp) / "server")
        os.environ.setdefault("CARNET_PUBLIC_URL", "http://127.0.0.1")
        with database_env(opts.pg, "bench_cpu") as db_env:
            os.environ |= db_env
            rows = asyncio.run(_measure(opts))

    floor = rows.get("bare FastAPI /ping (the floor)")
    for name, ms in rows.items():
        ratio = f"{floor / ms:.2f}" if floor else "—"
        print(f"{name:<40} {ms:7.3f} ms CPU/request   floor ratio {ratio}")
    if opts.write and floor:
        database = "PostgreSQL" if opts.pg else "SQLite"
        command = (f".venv/bin/python bench/cpu_per_request.py --requests {opts.requests} --rounds {opts.rounds}"
                   f"{' --pg URL' if opts.pg else ''} --write")
        lines = [
            f"## CPU per request, in-process ({database})",
            "",
            f"Command: `{command}`  ",
            f"Run: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; requests one after another through httpx's ASGI transport "
            f"to the app in the same process (no sockets, no concurrency), {opts.requests} per endpoint and round, "
            f"{opts.rounds} alternating rounds, the smallest CPU time kept. The ratio floor / endpoint is the "
            "throughput one core could reach relative to the bare FastAPI app; unlike the load benches it hardly "
            "moves with other work on the machine.",
            "",
            *cpu_table(rows, floor),
        ]
        write_section(RESULTS, "\n".join(lines))


async def _measure(opts: argparse.Namespace) -> dict[str, float]:
    import floor_app

    from carnet_server.app import create_app
    from carnet_server.context import build_context
    from carnet_server.demo import seed
    from carnet_server.settings import Settings

    ctx = build_context(Settings())
    with ctx.sessions() as session:
        seed(session, ctx=ctx)
    app = create_app(context=ctx)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        answer = await client.post("/api/v1/auth/login", json={"username": "madre.demo", "password": "carnet-demo"})
        answer.raise_for_status()
        madre = {"Authorization": f"Bearer {answer.json()['access_token']}"}
        patient = (await client.get("/api/v1/me", headers=madre)).json()["patients"][0]["id"]

        async def to_end(cursor: str = "") -> str:
            while True:
                page = await client.get("/api/v1/sync", params={"cursor": cursor, "limit": 1000}, headers=madre)
                page.raise_for_status()
                cursor = page.json()["cursor"]
                if not page.json()["has_more"]:
                    return cursor

        # the delta: the page after one change (an appointment), asked from the cursor before it; the unchanged
        # sync: from the cursor after it, with its ETag
        before = await to_end()
        start = datetime.now(UTC).replace(hour=17, minute=0, second=0, microsecond=0) + timedelta(days=9)
        added = await client.post(f"/api/v1/patients/{patient}/appointments", headers=madre, json={
            "kind": "consulta", "title": "Dentista: revisión", "place": "Consultorio particular",
            "starts_at": start.isoformat(), "ends_at": (start + timedelta(hours=1)).isoformat()})
        added.raise_for_status()
        delta_path = str(httpx.URL("/api/v1/sync", params={"cursor": before}))
        sync_path = str(httpx.URL("/api/v1/sync", params={"cursor": await to_end(before)}))
        etag = (await client.get(sync_path, headers=madre)).headers["ETag"]

    # What a first read costs: the same app on the same database with the carnet and sync pages not kept (memo.py)
    anew_ctx = build_context(Settings())
    anew_ctx.carnet_cache.seconds = anew_ctx.sync_cache.seconds = 0
    anew = create_app(context=anew_ctx)
    carnet_path = f"/api/v1/patients/{patient}/carnet"
    targets: dict[str, tuple[str, Callable[[], object], str, dict[str, str], int]] = {
        "bare FastAPI /ping (the floor)": ("floor", lambda: floor_app.app, "/ping", {}, 200),
        "our /api/v1/ping": ("ping", lambda: app, "/api/v1/ping", {}, 200),
        "GET /api/v1/me": ("me", lambda: app, "/api/v1/me", madre, 200),
        "GET /api/v1/patients/{id}/carnet": ("carnet", lambda: app, carnet_path, madre, 200),
        "GET /api/v1/sync unchanged (304)": ("sync304", lambda: app, sync_path, {**madre, "If-None-Match": etag}, 304),
        "GET /api/v1/sync delta (one change)": ("delta", lambda: app, delta_path, madre, 200),
        "GET /api/v1/patients/{id}/carnet, read anew": ("carnet-anew", lambda: anew, carnet_path, madre, 200),
        "GET /api/v1/sync delta, read anew": ("delta-anew", lambda: anew, delta_path, madre, 200),
    }
    chosen = {n: t for n, t in targets.items() if not opts.only or t[0] in opts.only}
    best: dict[str, float] = {}
    for _ in range(opts.rounds):
        for name, (_key, which, path, headers, expect) in chosen.items():
            ms = await _cpu_ms(which(), path, headers, expect, opts.requests)
            best[name] = min(ms, best.get(name, ms))
    for each in (ctx, anew_ctx):
        each.engine.dispose()
        each.commits.close()
    return best


if __name__ == "__main__":
    main()
