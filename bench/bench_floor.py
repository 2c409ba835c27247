"""The family's reads against the framework's floor: a bare FastAPI app on the same uvicorn, in the same run.

Starts ``carnet-server --demo`` (SQLite, or PostgreSQL with ``--pg URL``; ``--workers N``) and the bare app of
bench/floor_app.py under uvicorn with the same worker count, both on loopback, then loads each endpoint in
alternating rounds with two generators: ``wrk`` (Debian's package; 1 thread, ``--connections`` connections) and
the Python generator of bench/common.py (a separate process, keep-alive connections). Every figure is a ratio
to the floor measured by the same generator in the same run. Writes its section of bench/RESULTS.md.

    .venv/bin/python bench/bench_floor.py [--workers 1] [--pg URL] [--seconds 5] [--rounds 2]
                                          [--connections 32] [--requests 2000] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import httpx
from common import (  # also puts the repo on sys.path
    RESULTS,
    database_env,
    family_reads,
    measure,
    running_floor,
    write_section,
    wrk_rate,
)

from tests.support.processes import running_server


def wrk(url: str, headers: dict[str, str], *, seconds: int, connections: int) -> float:
    args = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency"]
    for name, value in headers.items():
        args += ["-H", f"{name}: {value}"]
    return wrk_rate(args, url)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--pg", help="a PostgreSQL URL (a scratch schema is made and dropped); default SQLite")
    parser.add_argument("--seconds", type=int, default=5, help="wrk: seconds per round and endpoint")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--connections", type=int, default=32, help="wrk's connections")
    parser.add_argument("--requests", type=int, default=2000, help="the Python generator: requests per round")
    parser.add_argument("--concurrency", type=int, default=8, help="the Python generator: connections")
    parser.add_argument("--output", type=Path, default=RESULTS)
    opts = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (apt-get install wrk)")

    env = {"CARNET_WORKERS": str(opts.workers)}
    with database_env(opts.pg, "bench_floor") as db_env:
        env |= db_env
        with (running_floor(opts.workers) as floor_url, tempfile.TemporaryDirectory() as tmp,
              running_server(Path(tmp) / "server", env=env) as server):
            base = server.url
            # the delta: the page after one change (an appointment added), asked again and again from the cursor
            # before it; the unchanged sync: from the cursor after it, with its ETag
            madre, patient, before, after, etag = family_reads(base)
            delta_url = str(httpx.URL(f"{base}/api/v1/sync", params={"cursor": before}))
            sync_url = str(httpx.URL(f"{base}/api/v1/sync", params={"cursor": after}))
            targets: dict[str, tuple[str, dict[str, str], int]] = {
                "bare FastAPI /ping (the floor)": (floor_url, {}, 200),
                "our /api/v1/ping": (f"{base}/api/v1/ping", {}, 200),
                "GET /api/v1/me": (f"{base}/api/v1/me", madre, 200),
                "GET /api/v1/patients/{id}/carnet": (f"{base}/api/v1/patients/{patient}/carnet", madre, 200),
                "GET /api/v1/sync unchanged (304)": (sync_url, {**madre, "If-None-Match": etag}, 304),
                "GET /api/v1/sync delta (one change)": (delta_url, madre, 200),
            }
            by_wrk: dict[str, list[float]] = {name: [] for name in targets}
            for _ in range(opts.rounds):
                for name, (url, headers, _status) in targets.items():
                    by_wrk[name].append(wrk(url, headers, seconds=opts.seconds, connections=opts.connections))
            by_python = measure(targets, rounds=opts.rounds, requests=opts.requests,
                                concurrency=opts.concurrency)

    wrk_rps = {name: sum(runs) / len(runs) for name, runs in by_wrk.items()}
    floor_wrk = wrk_rps["bare FastAPI /ping (the floor)"]
    floor_py = by_python["bare FastAPI /ping (the floor)"]["rps"]
    database = "PostgreSQL" if opts.pg else "SQLite"
    command = (f".venv/bin/python bench/bench_floor.py --workers {opts.workers}{' --pg URL' if opts.pg else ''} "
               f"--seconds {opts.seconds} --rounds {opts.rounds} --connections {opts.connections} "
               f"--requests {opts.requests} --concurrency {opts.concurrency}")
    lines = [
        f"## Against the bare FastAPI floor ({database}, {opts.workers} worker{'s' if opts.workers > 1 else ''})",
        "",
        f"Command: `{command}`  ",
        f"Run: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {os.cpu_count()} cores (shared by both servers, the load "
        f"generators and any other work on the machine); {opts.rounds} alternating rounds per endpoint; wrk: 1 thread, {opts.connections} connections, "
        f"{opts.seconds} s; Python generator: a separate process, {opts.concurrency} keep-alive connections, "
        f"{opts.requests} requests. Ratios are to the floor measured by the same generator in the same run.",
        "",
        "| endpoint | wrk requests/s | ratio | Python requests/s | ratio | Python p50 ms |",
        "|---|---:|---:|---:|---:|---:|",
        *(
            f"| {name} | {wrk_rps[name]:.0f} | {wrk_rps[name] / floor_wrk:.2f} | {r['rps']:.0f} | "
            f"{r['rps'] / floor_py:.2f} | {r['p50_ms']:.1f} |"
            for name, r in by_python.items()
        ),
        "",
    ]
    text_out = "\n".join(lines)
    print(text_out)
    write_section(opts.output, text_out)


if __name__ == "__main__":
    main()
