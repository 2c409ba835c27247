"""``carnet-server --workers N``: several worker processes serve one database."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import httpx

from carnet_server.demo import DEMO_PASSWORD
from tests.support.processes import running_server, worker_pids


def test_two_workers_serve_the_same_data(tmp_path: Path) -> None:
    with running_server(tmp_path / "server", env={"CARNET_WORKERS": "2", "CARNET_HEAD_TIMEOUT_SECONDS": "2"}) as server:
        deadline = time.monotonic() + 60
        while len(workers := worker_pids(server.proc.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)  # poll interval
        assert len(workers) == 2
        with httpx.Client(base_url=server.url, timeout=30) as client:
            login = client.post("/api/v1/auth/login", json={"username": "madre.demo", "password": DEMO_PASSWORD})
            assert login.status_code == 200, login.text
            auth = {"Authorization": f"Bearer {login.json()['access_token']}"}
            child = client.get("/api/v1/me", headers=auth).json()["patients"][0]["id"]
            # New connections land on either worker: every one sees the token, the data and the same QR.
            tokens = set()
            for _ in range(8):
                with httpx.Client(base_url=server.url, timeout=30) as fresh:
                    carnet = fresh.get(f"/api/v1/patients/{child}/carnet", headers=auth)
                    assert carnet.status_code == 200, carnet.text
                    tokens.add(carnet.json()["qr"]["token"])
                    assert fresh.get("/api/v1/patients/nope/carnet", headers=auth).status_code == 404
            assert len(tokens) == 1
            # Each worker has the head deadline of the settings: a silent connection gets 408 and the close.
            host, port = server.url.removeprefix("http://").split(":")
            with socket.create_connection((host, int(port)), timeout=30) as silent:
                received = b""
                while chunk := silent.recv(65536):
                    received += chunk
            assert received.startswith(b"HTTP/1.1 408")
