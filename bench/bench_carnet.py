"""Authenticated carnet GET against the trivial JSON endpoint, on one server, in one run.

Starts the real server (demo data, temp data dir, loopback), then drives it
from a separate load process with keep-alive connections, alternating rounds
of the baseline (`GET /api/v1/ping`) and the carnet so that machine noise
hits both alike. Writes its own section of bench/RESULTS.md.

    .venv/bin/python bench/bench_carnet.py [--requests 2000] [--concurrency 8] [--rounds 3]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import httpx
from common import RESULTS, load_table, login, measure, write_section  # also puts the repo on sys.path

from tests.support.processes import running_server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--output", type=Path, default=RESULTS)
    opts = parser.parse_args()
    load = {"rounds": opts.rounds, "requests": opts.requests, "concurrency": opts.concurrency}

    with tempfile.TemporaryDirectory() as tmp, running_server(Path(tmp) / "server") as server:
        auth = login(server.url, "madre.demo")
        patient_id = httpx.get(f"{server.url}/api/v1/me", headers=auth).json()["patients"][0]["id"]
        results = measure({
            "baseline GET /api/v1/ping": (f"{server.url}/api/v1/ping", {}, 200),
            "GET /api/v1/patients/{id}/carnet": (f"{server.url}/api/v1/patients/{patient_id}/carnet", auth, 200),
        }, **load)

    base, carnet = results.values()
    command = (f".venv/bin/python bench/bench_carnet.py --requests {opts.requests} "
               f"--concurrency {opts.concurrency} --rounds {opts.rounds}")
    lines = [
        *load_table("Carnet GET vs trivial endpoint", command, results, **load),
        f"**Ratio carnet / baseline throughput: {carnet['rps'] / base['rps']:.2f}**",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    write_section(opts.output, text)


if __name__ == "__main__":
    main()
