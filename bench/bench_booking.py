"""Blood-bank booking: POST throughput against the framework's floor and our ping; latency in a 200-request race.

Every write limit as in production (6 bookings per child and day, 30 writes per
user and minute): a benchmark that lifted them would let one family book
thousands of times and measure how long its own audit trail and day count grow.

(a) Throughput, on a server over generated data (``carnet-server generate``,
    SQLite, ``--patients`` children): alternating rounds of the floor (a bare
    FastAPI app, ``floor_app.py``, one uvicorn worker like the server), our
    ``GET /api/v1/ping`` and ``POST /api/v1/blood-bank/bookings`` — first from a
    separate Python load process with keep-alive connections, then with wrk
    (its bookings cycling through bodies of their own by a Lua script) — as
    ``--families`` guardians of different families in turn, each booking the
    free places of every bank's slots from tomorrow on, at most one per family
    and day, each place once: every booking a real write (eligibility, the
    conditional UPDATE, folio, appointment, sync, audit, one commit); with wrk
    also a bare FastAPI app's POSTs of a booking's shape doing nothing
    (``post_shape_app.py``): what the framework alone costs such a write;
(b) first, on a demo server (SQLite), ``--races`` times, 200 identical bookings
    by madre.demo at once over 200 connections against a fresh 5-place slot
    (each on its own day): exactly 5 must be 201 and 195 409 ``slot_full``; the
    median and p99 latency of those 200 requests.

Writes its own section of bench/RESULTS.md. Needs wrk (Debian's package).

    .venv/bin/python bench/bench_booking.py [--requests 1000] [--concurrency 8] [--rounds 3] [--races 3]
        [--patients 2000] [--families 300] [--seconds 2] [--connections 32]
"""

from __future__ import annotations

import argparse
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections import Counter
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
from common import (  # also puts the repo on sys.path
    RESULTS,
    burst,
    free_places,
    load_table,
    login,
    measure,
    running_floor,
    scale_families,
    write_section,
    wrk_cycling,
)
from post_shape_app import BOOKING_DEPENDENCIES
from tests.support.processes import BIN, running_server

RACE = 200
RACE_PLACES = 5
FLOOR, PING = "bare FastAPI /ping (the floor)", "our GET /api/v1/ping"
BOOKING = "POST /api/v1/blood-bank/bookings (201)"
#: A bare FastAPI app's POSTs shaped like a booking, doing nothing (post_shape_app.py): what the framework costs.
SHAPES = {
    "bare FastAPI POST, a booking's body and answer, async route": "/async",
    "the same, plain route (the thread pool)": "/thread",
    f"the same, plain route, {BOOKING_DEPENDENCIES} dependencies doing nothing": "/thread-dependencies",
}
#: Places set aside for a wrk round, as a multiple of the booking rate the Python generator saw: none sent twice.
WRK_HEADROOM = 1.6


def _donor(i: int = 0) -> dict[str, Any]:
    return {"full_name": "Donante de Prueba", "phone": f"55{i:08d}", "birth_date": "1990-01-01", "weight_kg": 70,
            "sex": "mujer"}


def _open_slots(base: str, auth: dict[str, str], bank: str, *, days: int, start: int) -> list[dict[str, Any]]:
    """The slots of the next ``days`` weekdays from ``start`` days ahead, one day's after another (8 a day)."""
    slots: list[dict[str, Any]] = []
    offset = start
    while days:
        day = date.today() + timedelta(days=offset)
        found = httpx.get(f"{base}/api/v1/blood-banks/{bank}/slots", params={"date": day.isoformat()},
                          headers=auth).json()
        if len(found) == 8 and all(s["available"] == s["capacity"] for s in found):
            slots += found
            days -= 1
        offset += 1
    return slots


def _races(opts: argparse.Namespace) -> list[tuple[Counter[int], list[float]]]:
    """(b): on the demo server, each race on a fresh 5-place slot of a day of its own."""
    races: list[tuple[Counter[int], list[float]]] = []
    with tempfile.TemporaryDirectory() as tmp, running_server(Path(tmp) / "server") as server:
        base = server.url
        madre, staff = login(base, "madre.demo"), login(base, "banco.demo")
        child = httpx.get(f"{base}/api/v1/me", headers=madre).json()["patients"][0]["id"]
        bank = next(b["id"] for b in httpx.get(f"{base}/api/v1/blood-banks", headers=madre).json()
                    if b["name"].endswith("Siglo XXI"))
        answers = _answers(base, madre)
        for slot in _open_slots(base, madre, bank, days=opts.races, start=20)[::8]:
            httpx.patch(f"{base}/api/v1/blood-banks/{bank}/slots/{slot['id']}", json={"capacity": RACE_PLACES},
                        headers=staff).raise_for_status()
            body = {"slot_id": slot["id"], "patient_id": child, "donor": _donor(), "answers": answers}
            outcome = burst(f"{base}/api/v1/blood-bank/bookings", madre, body, count=RACE)
            codes = Counter(status for status, _ in outcome)
            if codes != {201: RACE_PLACES, 409: RACE - RACE_PLACES}:
                raise RuntimeError(f"race broke the invariant: {dict(codes)}")
            races.append((codes, sorted(seconds for _, seconds in outcome)))
    return races


def _answers(base: str, auth: dict[str, str]) -> dict[str, bool]:
    return {q["id"]: q["eligible_answer"]
            for q in httpx.get(f"{base}/api/v1/blood-bank/questionnaire", headers=auth).json()}


def _throughput(opts: argparse.Namespace, load: dict[str, int]) -> tuple[dict[str, dict[str, float]],
                                                                       dict[str, float]]:
    """(a): on generated data, the free places of every bank from tomorrow on, booked by many families; with the
    Python generator, then with wrk — each against the bare FastAPI floor and our own ping, in the same run."""
    wanted = opts.rounds * (opts.requests + 1)
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "server"
        generated = subprocess.run(
            [str(BIN / "carnet-server"), "generate", "--patients", str(opts.patients), "--seed", "2026"],
            env={**os.environ, "CARNET_DATA_DIR": str(data_dir)}, capture_output=True, text=True, check=True)
        guardians = int(re.search(r"^guardians: (\d+)$", generated.stdout, re.M).group(1))  # type: ignore[union-attr]
        with (
            running_floor(1) as floor,
            running_floor(1, "post_shape_app:app") as shape,
            running_server(data_dir, demo=False) as server,
            httpx.Client() as client,
        ):
            base = server.url
            families = scale_families(base, guardians, opts.families, seed=2026)
            auth = families[0][0]
            answers = _answers(base, auth)
            banks = [b["id"] for b in httpx.get(f"{base}/api/v1/blood-banks", headers=auth).json()]
            bodies: list[tuple[dict[str, str], dict[str, Any]]] = []
            days = iter(range(1, 61))

            def more(count: int) -> list[tuple[dict[str, str], dict[str, Any]]]:
                """The next ``count`` bookings: the free places of the days after the last ones, day by day."""
                start = len(bodies)
                while len(bodies) < start + count:
                    offset = next(days, None)
                    if offset is None:  # the server books 60 days ahead at most
                        raise RuntimeError("every free place of the next 60 days is taken: fewer --requests, "
                                           "--rounds or --seconds")
                    day = date.today() + timedelta(days=offset)
                    places = free_places(client, base, auth, banks, day)
                    if len(places) > len(families):
                        raise RuntimeError(f"{len(places)} places on {day}: more than one per family of "
                                           f"{len(families)}")
                    for slot in places:  # families in turn: each at most once a day, and as seldom as can be
                        family_auth, child = families[len(bodies) % len(families)]
                        bodies.append((family_auth, {"slot_id": slot, "patient_id": child, "answers": answers,
                                                     "donor": _donor(len(bodies))}))
                return bodies[start:start + count]

            url = f"{base}/api/v1/blood-bank/bookings"
            by_python = measure({
                FLOOR: (floor, {}, 200),
                PING: (f"{base}/api/v1/ping", {}, 200),
                BOOKING: (url, {}, 201, more(wanted)),
            }, **load)
            # Each wrk round books places of its own: more than wrk can send in its seconds at the rate just seen.
            per_round = math.ceil(opts.seconds * WRK_HEADROOM * by_python[BOOKING]["rps"])
            by_wrk: dict[str, list[float]] = {FLOOR: [], PING: [], **{name: [] for name in SHAPES}, BOOKING: []}
            for _ in range(opts.rounds):
                mine = [("POST", url, {**h, "Content-Type": "application/json"}, b) for h, b in more(per_round)]
                shaped = [(name, shape.removesuffix("/ping") + path,
                           [("POST", shape.removesuffix("/ping") + path, {"Content-Type": "application/json"},
                             mine[0][3])]) for name, path in SHAPES.items()]
                for name, target, requests in ((FLOOR, floor, None), (PING, f"{base}/api/v1/ping", None), *shaped,
                                               (BOOKING, url, mine)):
                    by_wrk[name].append(wrk_cycling(target, requests, seconds=opts.seconds,
                                                    connections=opts.connections))
    return by_python, {name: sum(v) / len(v) for name, v in by_wrk.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--races", type=int, default=3, choices=range(1, 7),
                        help="at most 6: madre.demo's 5 bookings a race stay within 30 writes a minute")
    parser.add_argument("--patients", type=int, default=2000)
    parser.add_argument("--families", type=int, default=300)
    parser.add_argument("--seconds", type=int, default=2, help="wrk: seconds per round and endpoint")
    parser.add_argument("--connections", type=int, default=32, help="wrk's connections")
    parser.add_argument("--output", type=Path, default=RESULTS)
    opts = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (apt-get install wrk)")
    load = {"rounds": opts.rounds, "requests": opts.requests, "concurrency": opts.concurrency}
    races = _races(opts)
    results, by_wrk = _throughput(opts, load)

    def p99(values: list[float]) -> float:
        return values[min(len(values) - 1, int(len(values) * 0.99))]

    pooled = sorted(v for _, vs in races for v in vs)
    command = (f".venv/bin/python bench/bench_booking.py --requests {opts.requests} --concurrency "
               f"{opts.concurrency} --rounds {opts.rounds} --races {opts.races} --patients {opts.patients} "
               f"--families {opts.families} --seconds {opts.seconds} --connections {opts.connections}")
    lines = [
        *load_table("Blood-bank booking: POST throughput against the floor and our ping, 200-request race", command,
                    results, **load, data=f"{opts.patients} generated children"),
        f"Bookings by {opts.families} guardians of different families in turn, each place once, at most one per "
        "family and day; every write limit as in production. The floor: `bench/floor_app.py` (a bare FastAPI app), "
        "one uvicorn worker like the server.",
        "",
        f"**Python generator: booking POST / floor {results[BOOKING]['rps'] / results[FLOOR]['rps']:.2f}, "
        f"/ our ping {results[BOOKING]['rps'] / results[PING]['rps']:.2f}**",
        "",
        f"With wrk (1 thread, {opts.connections} connections, {opts.rounds} alternating rounds of {opts.seconds} s; "
        "the bookings cycle through bodies of their own by a Lua script, each sent once):",
        "",
        "| endpoint | requests/s | ratio to the floor |",
        "|---|---:|---:|",
        *(f"| {name} | {rps:.0f} | {rps / by_wrk[FLOOR]:.2f} |" for name, rps in by_wrk.items()),
        "",
        "The three rows between our ping and the booking: `bench/post_shape_app.py`, a bare FastAPI app (one uvicorn "
        "worker) whose POST routes validate a booking's body and send a booking's answer back, doing nothing else "
        "(one body sent over and over): what the framework costs a write of this shape before any work of ours.",
        "",
        f"Race (on a demo server): {RACE} identical booking requests at once (one connection each, from a separate "
        f"process) on a {RACE_PLACES}-place slot; each run gave exactly {RACE_PLACES} × 201 and "
        f"{RACE - RACE_PLACES} × 409 `slot_full`.",
        "",
        "| race run | 201 | 409 | median ms | p99 ms | slowest ms |",
        "|---|---:|---:|---:|---:|---:|",
        *(f"| {i} | {codes[201]} | {codes[409]} | {1000 * statistics.median(vs):.0f} | {1000 * p99(vs):.0f} | "
          f"{1000 * vs[-1]:.0f} |" for i, (codes, vs) in enumerate(races, start=1)),
        f"| all {len(races)} pooled | {sum(c[201] for c, _ in races)} | {sum(c[409] for c, _ in races)} | "
        f"{1000 * statistics.median(pooled):.0f} | {1000 * p99(pooled):.0f} | {1000 * pooled[-1]:.0f} |",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    write_section(opts.output, text)


if __name__ == "__main__":
    main()
