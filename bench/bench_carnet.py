"""Authenticated carnet GET against the trivial JSON endpoint, on one server, in one run.

Starts the real server (demo data, temp data dir, loopback), then drives it
from a separate load process with keep-alive connections, alternating rounds
of the baseline (`GET /api/v1/ping`) and the carnet so that machine noise
hits both alike. Prints and writes the figures to bench/RESULTS.md.

    .venv/bin/python bench/bench_carnet.py [--requests 2000] [--concurrency 8] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.processes import running_server  # noqa: E402


async def _load(url: str, headers: dict[str, str], requests: int, concurrency: int) -> list[float]:
    latencies: list[float] = []
    remaining = requests

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            started = time.perf_counter()
            response = await client.get(url, headers=headers)
            latencies.append(time.perf_counter() - started)
            if response.status_code != 200:
                raise RuntimeError(f"{url} answered {response.status_code}")

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30.0) as client:
        await client.get(url, headers=headers)  # warm the connection and caches
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
    return latencies


def _run_load(args: tuple[str, dict[str, str], int, int]) -> tuple[float, list[float]]:
    url, headers, requests, concurrency = args
    started = time.perf_counter()
    latencies = asyncio.run(_load(url, headers, requests, concurrency))
    return time.perf_counter() - started, latencies


def _summary(elapsed: float, latencies: list[float]) -> dict[str, float]:
    ordered = sorted(latencies)
    return {
        "rps": len(ordered) / elapsed,
        "p50_ms": 1000 * statistics.median(ordered),
        "p99_ms": 1000 * ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--output", type=Path, default=ROOT / "bench" / "RESULTS.md")
    opts = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp, running_server(Path(tmp) / "server") as server:
        login = httpx.post(f"{server.url}/api/v1/auth/login",
                           json={"username": "madre.demo", "password": "carnet-demo"}, timeout=30)
        login.raise_for_status()
        auth = {"Authorization": f"Bearer {login.json()['access_token']}"}
        patient_id = httpx.get(f"{server.url}/api/v1/me", headers=auth).json()["patients"][0]["id"]
        targets = {
            "baseline GET /api/v1/ping": (f"{server.url}/api/v1/ping", {}),
            "GET /api/v1/patients/{id}/carnet": (f"{server.url}/api/v1/patients/{patient_id}/carnet", auth),
        }
        runs: dict[str, list[tuple[float, list[float]]]] = {name: [] for name in targets}
        ctx = multiprocessing.get_context("spawn")
        with ctx.Pool(1) as pool:  # the load runs in its own process
            for _ in range(opts.rounds):
                for name, (url, headers) in targets.items():
                    runs[name].append(pool.apply(_run_load, ((url, headers, opts.requests, opts.concurrency),)))

    results = {
        name: _summary(sum(e for e, _ in rs), [lat for _, lats in rs for lat in lats])
        for name, rs in runs.items()
    }
    base, carnet = results.values()
    ratio = carnet["rps"] / base["rps"]
    command = (f".venv/bin/python bench/bench_carnet.py --requests {opts.requests} "
               f"--concurrency {opts.concurrency} --rounds {opts.rounds}")
    lines = [
        "## Carnet GET vs trivial endpoint",
        "",
        f"Command: `{command}`  ",
        f"Run: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, one server process (SQLite, demo data), "
        f"load from a separate process, {opts.concurrency} keep-alive connections, "
        f"{opts.rounds} alternating rounds of {opts.requests} requests each.",
        "",
        "| endpoint | requests/s | p50 ms | p99 ms |",
        "|---|---:|---:|---:|",
        *(f"| {name} | {r['rps']:.0f} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} |" for name, r in results.items()),
        "",
        f"**Ratio carnet / baseline throughput: {ratio:.2f}**",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    header = "# Benchmarks\n\nFigures are ratios against a baseline measured in the same run; absolute numbers depend on the machine.\n\n"
    opts.output.write_text(header + text)


if __name__ == "__main__":
    main()
