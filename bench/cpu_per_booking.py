"""CPU per booking, in-process: a blood-bank booking against bare FastAPI apps, without sockets or load.

Like cpu_per_request.py: requests one after another through httpx's ASGI transport to apps in this very process,
the process's CPU time divided by the requests (the client's own CPU is in every figure), alternating rounds, the
smallest kept. The bookings are bench_booking.py's: over generated data (``carnet-server generate``, ``--patients``
children), as ``--families`` guardians of different families in turn, each place once, at most one per family and
day, every write limit as in production — each a real write. Beside them, in the same rounds: the bare floor
(floor_app.py's ``GET /ping``) and post_shape_app.py's POSTs of a booking's body and answer doing nothing (an
``async`` route; a plain route, in the thread pool as the booking's is; the same with a booking's dependencies):
what the framework alone costs a write of this shape. Issue #20.

    .venv/bin/python bench/cpu_per_booking.py [--requests 600] [--rounds 2] [--patients 2000] [--families 300]
        [--pg URL] [--write]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import subprocess
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from common import RESULTS, cpu_table, database_env, write_section  # also puts the repo on sys.path
from tests.support.processes import BIN

FLOOR = "bare FastAPI GET /ping (the floor)"
SHAPES = {
    "bare FastAPI POST of a booking's shape, async route": "/async",
    "the same, plain route (the thread pool)": "/thread",
    "the same, plain route, a booking's dependencies doing nothing": "/thread-dependencies",
}
BOOKING = "POST /api/v1/blood-bank/bookings (201, a real write)"
Request = tuple[dict[str, str], dict[str, Any]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=600, help="per endpoint and round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--patients", type=int, default=2000)
    parser.add_argument("--families", type=int, default=300)
    parser.add_argument("--pg", help="a PostgreSQL URL (a scratch schema is made and dropped); default SQLite")
    parser.add_argument("--write", action="store_true", help="write the section of bench/RESULTS.md")
    opts = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp, database_env(opts.pg, "bench_booking_cpu") as db_env:
        os.environ |= {"CARNET_DATA_DIR": str(Path(tmp) / "server"), "CARNET_PUBLIC_URL": "http://127.0.0.1",
                       **db_env}
        generated = subprocess.run([str(BIN / "carnet-server"), "generate", "--patients", str(opts.patients),
                                    "--seed", "2026"], env=os.environ, capture_output=True, text=True, check=True)
        guardians = int(re.search(r"^guardians: (\d+)$", generated.stdout, re.M).group(1))  # type: ignore[union-attr]
        rows = asyncio.run(_measure(opts, guardians))

    floor = rows[FLOOR]
    for name, ms in rows.items():
        print(f"{name:<64} {ms:7.3f} ms CPU/request   floor ratio {floor / ms:.2f}")
    if opts.write:
        database = "PostgreSQL" if opts.pg else "SQLite"
        command = (f".venv/bin/python bench/cpu_per_booking.py --requests {opts.requests} --rounds {opts.rounds} "
                   f"--patients {opts.patients} --families {opts.families}{' --pg URL' if opts.pg else ''} --write")
        lines = [
            f"## CPU per booking, in-process ({database})",
            "",
            f"Command: `{command}`  ",
            f"Run: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; requests one after another through httpx's ASGI transport "
            f"to apps in the same process (no sockets, no concurrency), {opts.requests} per endpoint and round, "
            f"{opts.rounds} alternating rounds, the smallest CPU time kept; bookings by {opts.families} guardians of "
            f"different families over {opts.patients} generated children, each place once, every write limit as in "
            "production. The ratio floor / endpoint is the throughput one core could reach relative to the bare "
            "FastAPI app.",
            "",
            *cpu_table(rows, floor),
        ]
        write_section(RESULTS, "\n".join(lines))


async def _cpu_ms(client: httpx.AsyncClient, requests: list[tuple[str, str, dict[str, str], Any]]) -> float:
    started = time.process_time()
    for method, path, headers, body in requests:
        answer = await client.request(method, path, headers=headers, json=body)
        if answer.status_code not in (200, 201):
            raise RuntimeError(f"{method} {path} answered {answer.status_code}: {answer.text[:200]}")
    return (time.process_time() - started) * 1000 / len(requests)


async def _measure(opts: argparse.Namespace, guardians: int) -> dict[str, float]:
    import floor_app
    import post_shape_app

    from carnet_server.app import create_app
    from carnet_server.context import build_context
    from carnet_server.scale import SCALE_PASSWORD, guardian_username
    from carnet_server.settings import Settings

    app = create_app(context=build_context(Settings()))
    clients = {name: httpx.AsyncClient(transport=httpx.ASGITransport(app=target), base_url="http://127.0.0.1")
               for name, target in (("floor", floor_app.app), ("shape", post_shape_app.app), ("carnet", app))}
    try:
        bookings = await _bookings(clients["carnet"], opts, guardians, SCALE_PASSWORD, guardian_username)
        body = bookings[0][1]
        floor_requests = [("GET", "/ping", {}, None)] * opts.requests
        targets = {FLOOR: ("floor", lambda _round: floor_requests)}
        for name, path in SHAPES.items():
            shaped = [("POST", path, {}, body)] * opts.requests
            targets[name] = ("shape", lambda _round, shaped=shaped: shaped)
        warm = max(opts.requests // 10, 20)

        def booked(round_: int) -> list[tuple[str, str, dict[str, str], Any]]:
            start = warm + round_ * opts.requests
            return [("POST", "/api/v1/blood-bank/bookings", headers, b)
                    for headers, b in bookings[start:start + opts.requests]]

        targets[BOOKING] = ("carnet", booked)
        # Warm: caches, pools, first-use imports (the booking's warm-up books the first places).
        await _cpu_ms(clients["carnet"], [("POST", "/api/v1/blood-bank/bookings", h, b) for h, b in bookings[:warm]])
        for name, (client, requests) in targets.items():
            if name != BOOKING:
                await _cpu_ms(clients[client], requests(0)[:warm])
        best: dict[str, float] = {}
        for round_ in range(opts.rounds):
            for name, (client, requests) in targets.items():
                ms = await _cpu_ms(clients[client], requests(round_))
                best[name] = min(ms, best.get(name, ms))
        return best
    finally:
        for client in clients.values():
            await client.aclose()


async def _bookings(client: httpx.AsyncClient, opts: argparse.Namespace, guardians: int, password: str,
                    username: Any) -> list[Request]:
    """The bookings to make: the free places of every bank from tomorrow on, day by day, the families in turn."""
    families: list[tuple[dict[str, str], str]] = []
    seen: set[str] = set()
    for number in random.Random(2026).sample(range(1, guardians + 1), min(guardians, opts.families * 2)):
        login = await client.post("/api/v1/auth/login", json={"username": username(number), "password": password})
        login.raise_for_status()
        auth = {"Authorization": f"Bearer {login.json()['access_token']}"}
        children = {p["id"] for p in (await client.get("/api/v1/me", headers=auth)).json()["patients"]}
        if children & seen:
            continue  # the other guardian of a family already picked
        seen |= children
        families.append((auth, sorted(children)[0]))
        if len(families) == opts.families:
            break
    auth = families[0][0]
    answers = {q["id"]: q["eligible_answer"]
               for q in (await client.get("/api/v1/blood-bank/questionnaire", headers=auth)).json()}
    banks = [b["id"] for b in (await client.get("/api/v1/blood-banks", headers=auth)).json()]
    wanted = max(opts.requests // 10, 20) + opts.rounds * opts.requests
    out: list[Request] = []
    for offset in range(1, 61):  # the server books 60 days ahead at most
        day = date.today() + timedelta(days=offset)
        places = [slot["id"] for bank in banks
                  for slot in (await client.get(f"/api/v1/blood-banks/{bank}/slots",
                                                params={"date": day.isoformat()}, headers=auth)).json()
                  for _ in range(slot["available"])]
        if len(places) > len(families):
            raise RuntimeError(f"{len(places)} places on {day}: more than one per family of {len(families)}")
        for slot in places:
            family_auth, child = families[len(out) % len(families)]
            out.append((family_auth, {"slot_id": slot, "patient_id": child, "answers": answers,
                                      "donor": {"full_name": "Donante de Prueba", "phone": f"55{len(out):08d}",
                                                "birth_date": "1990-01-01", "weight_kg": 70, "sex": "mujer"}}))
        if len(out) >= wanted:
            return out
    raise RuntimeError("every free place of the next 60 days is taken: fewer --requests or --rounds")


if __name__ == "__main__":
    main()
