"""``carnet --web`` stops when told to, even with a browser's connection open and the signal sent twice (a
script's clean-up and a ``pkill`` together): it waits for the connections ``GRACE_SECONDS`` at most, then closes
them. (Flet's WebSocket handler does not end when uvicorn asks the connection to shut down.)"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import websockets

from carnet.shell.cli import GRACE_SECONDS
from tests.support.processes import free_port, stop, wait_until_http_ok

BIN = Path(sys.executable).parent


def test_a_stopped_web_app_ends_with_a_browser_still_connected(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "CARNET_API_URL": "http://127.0.0.1:9", "CARNET_APP_DATA": str(tmp_path / "app")}
    with (tmp_path / "app.log").open("wb") as log:
        proc = subprocess.Popen([str(BIN / "carnet"), "--web", "--port", str(port)], env=env, stdout=log,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_until_http_ok(f"http://127.0.0.1:{port}", proc)

        async def signalled_while_connected() -> float:
            async with websockets.connect(f"ws://127.0.0.1:{port}/ws"):  # what a browser's page holds open
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
