"""``carnet --web`` stops when told to, even with a browser's connection open and the signal sent twice (a
script's clean-up and a ``pkill`` together): it waits for the connections ``GRACE_SECONDS`` at most, then closes
them. (Flet's WebSocket handler does not end when uvicorn asks the connection to shut down.)"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import websockets

from carnet.shell.cli import GRACE_SECONDS
from tests.support.processes import start_app, stop


def test_a_stopped_web_app_ends_with_a_browser_still_connected(tmp_path: Path) -> None:
    app = start_app("http://127.0.0.1:9", tmp_path)  # no API behind it: only the page and its WebSocket matter
    proc = app.proc
    try:

        async def signalled_while_connected() -> float:
            async with websockets.connect(app.url.replace("http://", "ws://") + "/ws"):  # what a page holds open
                os.killpg(proc.pid, signal.SIGTERM)
                os.killpg(proc.pid, signal.SIGTERM)
                start = time.monotonic()
                deadline = start + GRACE_SECONDS + 10
                while proc.poll() is None and time.monotonic() < deadline:
                    await asyncio.sleep(0.1)  # poll interval, not a wait for state
                return time.monotonic() - start

        took = asyncio.run(signalled_while_connected())
        assert proc.poll() is not None, f"the web app still runs {took:.0f} s after two SIGTERMs"
        assert proc.returncode in (0, -signal.SIGTERM), proc.returncode
    finally:
        stop(proc)
