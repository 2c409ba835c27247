"""Blood-bank booking: POST throughput against the trivial endpoint, and latency under a 200-request race.

Starts the real server (demo data, SQLite, temp data dir, loopback; the per-child
daily limit lifted so one child can take thousands of places), then:

(a) alternating rounds of the baseline (`GET /api/v1/ping`) and of
    `POST /api/v1/blood-bank/bookings` spread over 16 slots of 500 places, from
    a separate load process with keep-alive connections — every booking a
    real write: eligibility, the conditional UPDATE, folio, appointment, sync,
    audit, one commit;
(b) first, `--races` times, 200 identical bookings at once over 200 connections
    against a fresh 5-place slot: exactly 5 must be 201 and 195 409
    `slot_full`; the median and p99 latency of those 200 requests.

Writes its own section of bench/RESULTS.md.

    .venv/bin/python bench/bench_booking.py [--requests 1000] [--concurrency 8] [--rounds 3] [--races 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from collections import Counter
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
from common import RESULTS, burst, load_table, login, measure, write_section  # also puts the repo on sys.path

from tests.support.processes import running_server

RACE = 200
RACE_PLACES = 5


def _donor() -> dict[str, Any]:
    return {"full_name": "Donante de Prueba", "phone": "5512345678", "birth_date": "1990-01-01", "weight_kg": 70,
            "sex": "mujer"}


def _open_slots(base: str, auth: dict[str, str], bank: str, *, days: int, start: int) -> list[dict[str, Any]]:
    """Every slot of the next ``days`` weekdays from ``start`` days ahead."""
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--races", type=int, default=3)
    parser.add_argument("--output", type=Path, default=RESULTS)
    opts = parser.parse_args()
    load = {"rounds": opts.rounds, "requests": opts.requests, "concurrency": opts.concurrency}

    # one family making thousands of bookings: lift the per-child daily limit and the per-user write rate
    env = {"CARNET_BLOOD_BANK_DAILY_LIMIT": "1000000", "CARNET_WRITE_RATE_LIMIT": "1000000"}
    with tempfile.TemporaryDirectory() as tmp, running_server(Path(tmp) / "server", env=env) as server:
        base = server.url
        madre, staff = login(base, "madre.demo"), login(base, "banco.demo")
        child = httpx.get(f"{base}/api/v1/me", headers=madre).json()["patients"][0]["id"]
        bank = next(b["id"] for b in httpx.get(f"{base}/api/v1/blood-banks", headers=madre).json()
                    if b["name"].endswith("Siglo XXI"))
        answers = {q["id"]: q["eligible_answer"]
                   for q in httpx.get(f"{base}/api/v1/blood-bank/questionnaire", headers=madre).json()}

        def patch(slot: str, capacity: int) -> None:
            httpx.patch(f"{base}/api/v1/blood-banks/{bank}/slots/{slot}", json={"capacity": capacity},
                        headers=staff).raise_for_status()

        def booking(slot: str) -> dict[str, Any]:
            return {"slot_id": slot, "patient_id": child, "donor": _donor(), "answers": answers}

        # (b) the race first, on fresh 5-place slots: before (a) gives the family thousands of bookings, whose
        # audit rows its write-rate check (lifted for this bench) would then read on every request.
        races: list[tuple[Counter[int], list[float]]] = []
        for slot in _open_slots(base, madre, bank, days=1, start=20)[:opts.races]:
            patch(slot["id"], RACE_PLACES)
            outcome = burst(f"{base}/api/v1/blood-bank/bookings", madre, booking(slot["id"]), count=RACE)
            codes = Counter(status for status, _ in outcome)
            if codes != {201: RACE_PLACES, 409: RACE - RACE_PLACES}:
                raise RuntimeError(f"race broke the invariant: {dict(codes)}")
            races.append((codes, sorted(seconds for _, seconds in outcome)))

        # (a) throughput: 16 slots of 500 places.
        wide = _open_slots(base, madre, bank, days=2, start=10)
        for slot in wide:
            patch(slot["id"], 500)
        results = measure({
            "baseline GET /api/v1/ping": (f"{base}/api/v1/ping", {}, 200),
            "POST /api/v1/blood-bank/bookings (201)": (f"{base}/api/v1/blood-bank/bookings", madre, 201,
                                                        [booking(s["id"]) for s in wide]),
        }, **load)

    base_r, booking_r = results.values()
    ratio = booking_r["rps"] / base_r["rps"]

    def p99(values: list[float]) -> float:
        return values[min(len(values) - 1, int(len(values) * 0.99))]

    pooled = sorted(v for _, vs in races for v in vs)
    command = (f".venv/bin/python bench/bench_booking.py --requests {opts.requests} --concurrency "
               f"{opts.concurrency} --rounds {opts.rounds} --races {opts.races}")
    lines = [
        *load_table("Blood-bank booking: POST throughput vs trivial endpoint, 200-request race", command,
                    results, **load),
        f"**Ratio booking POST / baseline throughput: {ratio:.2f}**",
        "",
        f"Race: {RACE} identical booking requests at once (one connection each, from a separate process) on a "
        f"{RACE_PLACES}-place slot; each run gave exactly {RACE_PLACES} × 201 and {RACE - RACE_PLACES} × 409 "
        "`slot_full`.",
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
