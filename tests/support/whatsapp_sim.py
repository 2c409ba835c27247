"""The WhatsApp Cloud API simulator (``carnet_whatsapp_sim``) for tests: in a thread, or as a child process.

:func:`running_whatsapp_sim_thread` serves a :class:`~carnet_whatsapp_sim.simulator.Simulator` on a free
loopback port in this process (fast; the test can reach into its state); :func:`running_whatsapp_simulator`
runs ``python -m carnet_whatsapp_sim serve`` (secrets in files, mode 0600) the way the demo does.
Both give a :class:`WhatsAppSim` client of the control API.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.support.processes import free_port, stop, wait_until_http_ok


@dataclass
class WhatsAppSim:
    """A client of a running simulator: the control API, and the Cloud API as the bot would call it."""

    url: str
    phone_number_id: str
    access_token: str
    client: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        self.client = httpx.Client(base_url=self.url, timeout=15.0, trust_env=False)

    def inbound(self, **request: Any) -> dict[str, Any]:
        """``POST /_sim/inbound`` (``from_`` for ``from``); raises on a non-2xx answer."""
        if "from_" in request:
            request["from"] = request.pop("from_")
        response = self.client.post("/_sim/inbound", json=request)
        response.raise_for_status()
        answer: dict[str, Any] = response.json()
        return answer

    def messages(self, to: str | None = None, after: int = 0) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"after": after} | ({"to": to} if to else {})
        response = self.client.get("/_sim/messages", params=params)
        response.raise_for_status()
        found: list[dict[str, Any]] = response.json()["messages"]
        return found

    def fail(self, count: int, status: int = 503) -> None:
        self.client.post("/_sim/fail", json={"count": count, "status": status}).raise_for_status()

    def clock(self, number: str, age_hours: float | None) -> None:
        self.client.post("/_sim/clock", json={"number": number, "age_hours": age_hours}).raise_for_status()

    def send(self, body: dict[str, Any], *, token: str | None = None) -> httpx.Response:
        """What the bot does: ``POST /{phone_number_id}/messages`` with the bearer token."""
        headers = {"Authorization": f"Bearer {self.access_token if token is None else token}"}
        return self.client.post(f"/{self.phone_number_id}/messages", json=body, headers=headers)

    def close(self) -> None:
        self.client.close()


@contextmanager
def running_whatsapp_sim_thread(
    *,
    webhook_url: str,
    app_secret: bytes,
    access_token: str,
    phone_number_id: str = "carnet-test",
    record: Path | None = None,
) -> Iterator[tuple[WhatsAppSim, Any]]:
    """(client, the Simulator object) of a simulator served from a thread of this process."""
    from carnet_whatsapp_sim.server import Simulator, make_server

    sim = Simulator(
        app_secret=app_secret,
        access_token=access_token,
        webhook_url=webhook_url,
        phone_number_id=phone_number_id,
        record=record,
    )
    server = make_server(sim, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    client = WhatsAppSim(f"http://127.0.0.1:{server.server_address[1]}", phone_number_id, access_token)
    try:
        yield client, sim
    finally:
        client.close()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@dataclass
class RunningWhatsAppSimulator:
    sim: WhatsAppSim
    proc: subprocess.Popen[bytes]
    log_path: Path

    def stop(self) -> None:
        self.sim.close()
        stop(self.proc)


def start_whatsapp_simulator(
    work_dir: Path,
    *,
    webhook_url: str,
    app_secret: str,
    access_token: str,
    phone_number_id: str = "carnet-test",
    port: int | None = None,
) -> RunningWhatsAppSimulator:
    """``python -m carnet_whatsapp_sim serve`` with its record in ``work_dir``; waits for ``/healthz``."""
    port = port or free_port()
    work_dir.mkdir(parents=True, exist_ok=True)
    secret_file, token_file = work_dir / "app-secret", work_dir / "access-token"
    for path, value in ((secret_file, app_secret), (token_file, access_token)):
        path.touch(mode=0o600)
        path.write_text(value, encoding="utf-8")
    log_path = work_dir / "whatsapp-sim.log"
    args = [sys.executable, "-m", "carnet_whatsapp_sim", "serve", "--port", str(port), "--webhook-url", webhook_url,
            "--phone-number-id", phone_number_id, "--record", str(work_dir / "whatsapp-record.sqlite"),
            "--app-secret-file", str(secret_file), "--access-token-file", str(token_file)]  # fmt: skip
    with log_path.open("ab") as log:
        proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,  # noqa: S603
                                start_new_session=True)  # fmt: skip
    running = RunningWhatsAppSimulator(
        WhatsAppSim(f"http://127.0.0.1:{port}", phone_number_id, access_token), proc, log_path
    )
    try:
        wait_until_http_ok(f"{running.sim.url}/healthz", proc, seconds=30.0)
    except BaseException:
        running.stop()
        raise
    return running


@contextmanager
def running_whatsapp_simulator(work_dir: Path, **kwargs: Any) -> Iterator[RunningWhatsAppSimulator]:
    running = start_whatsapp_simulator(work_dir, **kwargs)
    try:
        yield running
    finally:
        running.stop()
