"""Sync: an unchanged account's 304 against the trivial endpoint, and delta vs full sync bytes.

Starts the real server (demo data, temp data dir, loopback), then drives it
from a separate load process with keep-alive connections, alternating rounds
of the baseline (`GET /api/v1/ping`) and an unchanged sync (`GET /api/v1/sync`
with the current cursor and `If-None-Match` → 304). Then measures the bytes of
a full sync of a child with a year of appointments against the bytes of the
delta after one change. Writes its own section of bench/RESULTS.md.

    .venv/bin/python bench/bench_sync.py [--requests 2000] [--concurrency 8] [--rounds 3]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import httpx
from common import RESULTS, load_table, login, measure, write_section  # also puts the repo on sys.path

from tests.support.processes import running_server


def _drain(base: str, auth: dict[str, str], cursor: str = "") -> tuple[str, int, int]:
    """Sync to the end; returns the cursor, the body bytes and the number of changes."""
    total = changes = 0
    while True:
        response = httpx.get(f"{base}/api/v1/sync", params={"cursor": cursor, "limit": 1000}, headers=auth)
        response.raise_for_status()
        total += len(response.content)
        page = response.json()
        changes += len(page["changes"])
        cursor = page["cursor"]
        if not page["has_more"]:
            return cursor, total, changes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--output", type=Path, default=RESULTS)
    opts = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp, running_server(Path(tmp) / "server") as server:
        base = server.url
        # (b) bytes: padre.demo has one child (Santiago) with a year of appointments.
        padre = login(base, "padre.demo")
        child = httpx.get(f"{base}/api/v1/me", headers=padre).json()["patients"][0]["id"]
        cursor, full_bytes, full_changes = _drain(base, padre)
        listed = httpx.get(f"{base}/api/v1/patients/{child}/appointments", headers=padre).json()
        family = next(a for a in listed if a["source"] == "familia")
        patched = httpx.patch(f"{base}/api/v1/appointments/{family['id']}", headers=padre,
                              json={"notes": "Llevar la libreta de vacunación."})
        patched.raise_for_status()
        _cursor, delta_bytes, delta_changes = _drain(base, padre, cursor)

        # (a) unchanged sync: madre.demo, current cursor, the ETag of its empty page.
        madre = login(base, "madre.demo")
        cursor, _b, _c = _drain(base, madre)
        sync_url = str(httpx.URL(f"{base}/api/v1/sync", params={"cursor": cursor}))
        etag = httpx.get(sync_url, headers=madre).headers["ETag"]
        load = {"rounds": opts.rounds, "requests": opts.requests, "concurrency": opts.concurrency}
        results = measure({
            "baseline GET /api/v1/ping": (f"{base}/api/v1/ping", {}, 200),
            "GET /api/v1/sync unchanged (If-None-Match → 304)": (sync_url, {**madre, "If-None-Match": etag}, 304),
        }, **load)

    base_r, sync_r = results.values()
    ratio = sync_r["rps"] / base_r["rps"]
    command = (f".venv/bin/python bench/bench_sync.py --requests {opts.requests} "
               f"--concurrency {opts.concurrency} --rounds {opts.rounds}")
    lines = [
        *load_table("Sync: unchanged 304 vs trivial endpoint, delta vs full bytes", command, results, **load),
        f"**Ratio unchanged sync (304) / baseline throughput: {ratio:.2f}**",
        "",
        "| sync of one child with a year of appointments | changes | body bytes |",
        "|---|---:|---:|",
        f"| full (empty cursor) | {full_changes} | {full_bytes} |",
        f"| delta after one change | {delta_changes} | {delta_bytes} |",
        "",
        f"**Ratio delta / full bytes: {delta_bytes / full_bytes:.3f}**",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    write_section(opts.output, text)


if __name__ == "__main__":
    main()
