"""Memory per worker under a long load: each worker's RSS while wrk loads the family's reads for ten minutes.

Starts ``carnet-server --demo`` (SQLite, or PostgreSQL with ``--pg URL``; ``--workers N``) on loopback, logs
madre.demo in ``--tokens`` times (as many sessions, so the auth cache holds many callers), and runs one wrk for
``--minutes`` whose script turns through those tokens and through the family's reads (the carnet, /me, the
unchanged sync with its ETag, the delta sync). Every ``--every`` seconds it reads each worker's VmRSS from /proc.
Writes its section of bench/RESULTS.md: RSS after the first minute, at the middle and at the end, and the growth
over the second half (flat: the caches are bounded, nothing else should grow).

    .venv/bin/python bench/bench_memory.py [--minutes 10] [--every 30] [--tokens 200] [--workers 1] [--pg URL]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
from common import (  # also puts the repo on sys.path
    RESULTS,
    database_env,
    family_reads,
    login,
    write_section,
)

from tests.support.processes import running_server, worker_pids

LUA = """
local tokens = {%(tokens)s}
local paths = {%(paths)s}
local etag = "%(etag)s"
local i = 0
request = function()
  i = i + 1
  local path = paths[(i %% #paths) + 1]
  local headers = {["Authorization"] = "Bearer " .. tokens[(math.floor(i / #paths) %% #tokens) + 1]}
  if path == "%(unchanged)s" then headers["If-None-Match"] = etag end
  return wrk.format("GET", path, headers)
end
"""


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--every", type=float, default=30, help="seconds between RSS readings")
    parser.add_argument("--tokens", type=int, default=200, help="sessions of madre.demo the load turns through")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--pg", help="a PostgreSQL URL (a scratch schema is made and dropped); default SQLite")
    parser.add_argument("--output", type=Path, default=RESULTS)
    opts = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (apt-get install wrk)")

    env = {"CARNET_WORKERS": str(opts.workers), "CARNET_LOGIN_MAX_PER_ADDRESS": "100000"}
    with database_env(opts.pg, "bench_memory") as db_env:
        env |= db_env
        readings: list[tuple[float, list[float]]] = []
        with tempfile.TemporaryDirectory() as tmp, running_server(Path(tmp) / "server", env=env) as server:
            base = server.url
            _madre, patient, before, after, etag = family_reads(base)
            unchanged = str(httpx.URL("/api/v1/sync", params={"cursor": after}))
            tokens = [login(base, "madre.demo")["Authorization"].removeprefix("Bearer ") for _ in range(opts.tokens)]
            paths = [f"/api/v1/patients/{patient}/carnet", "/api/v1/me", unchanged,
                     str(httpx.URL("/api/v1/sync", params={"cursor": before}))]
            script = Path(tmp) / "turn.lua"
            script.write_text(LUA % {
                "tokens": ", ".join(f'"{t}"' for t in tokens), "paths": ", ".join(f'"{p}"' for p in paths),
                "etag": etag.replace('"', '\\"'), "unchanged": unchanged})
            pids = sorted(worker_pids(server.proc.pid)) or [server.proc.pid]
            seconds = int(opts.minutes * 60)
            load = subprocess.Popen(  # noqa: S603 - wrk from PATH, our own arguments
                ["wrk", "-t1", f"-c{opts.connections}", f"-d{seconds}s", "-s", str(script), base],
                stdout=subprocess.PIPE, text=True)
            started = time.monotonic()
            while load.poll() is None:
                readings.append((time.monotonic() - started, [rss_mb(pid) for pid in pids]))
                try:
                    load.wait(timeout=opts.every)
                except subprocess.TimeoutExpired:
                    pass
            out = load.communicate()[0]
            if "Non-2xx or 3xx responses" in out:
                raise RuntimeError(f"wrk: errors under load:\n{out}")
            total = next((line.split()[0] for line in out.splitlines() if "requests in" in line), "?")

    def at(fraction: float) -> tuple[float, list[float]]:
        wanted = fraction * opts.minutes * 60
        return min(readings, key=lambda r: abs(r[0] - wanted))

    first, middle, last = at(min(1.0, opts.minutes / 2) / opts.minutes), at(0.5), readings[-1]
    database = "PostgreSQL" if opts.pg else "SQLite"
    command = (f".venv/bin/python bench/bench_memory.py --minutes {opts.minutes:g} --every {opts.every:g} "
               f"--tokens {opts.tokens} --workers {opts.workers}{' --pg URL' if opts.pg else ''}")
    lines = [
        f"## Memory per worker under load ({database}, {opts.workers} worker{'s' if opts.workers > 1 else ''})",
        "",
        f"Command: `{command}`  ",
        f"Run: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; wrk (1 thread, {opts.connections} connections) for "
        f"{opts.minutes:g} minutes turning through {opts.tokens} sessions and the family's reads (carnet, /me, "
        f"unchanged sync, delta sync): {total} requests, none refused. Each worker's RSS read from /proc.",
        "",
        "| worker | after ~1 min MB | middle MB | end MB | second half growth |",
        "|---|---:|---:|---:|---:|",
        *(f"| {n} | {first[1][n]:.1f} | {middle[1][n]:.1f} | {last[1][n]:.1f} | "
          f"{100 * (last[1][n] - middle[1][n]) / middle[1][n]:+.1f} % |" for n in range(len(last[1]))),
        "",
    ]
    text = "\n".join(lines)
    print(text)
    write_section(opts.output, text)


if __name__ == "__main__":
    main()
