"""The console script, and logs without personal data."""

from __future__ import annotations

import logging
import subprocess
from pathlib import Path

import httpx
import pytest

from carnet_server.cli import main
from carnet_server.logs import RedactFilter, redact_path
from tests.support.processes import BIN, running_server

FAST = {"CARNET_ARGON2_TIME_COST": "1", "CARNET_ARGON2_MEMORY_COST": "8", "CARNET_ARGON2_PARALLELISM": "1"}


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    data_dir = tmp_path / "data"
    monkeypatch.setenv("CARNET_DATA_DIR", str(data_dir))
    monkeypatch.delenv("CARNET_DATABASE_URL", raising=False)
    for name, value in FAST.items():
        monkeypatch.setenv(name, value)
    return data_dir


def test_demo_twice_refuses_the_second_time(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--demo", "--no-serve"]) == 0
    assert (env / "carnet.db").exists()
    assert main(["--demo", "--no-serve"]) == 2
    err = capsys.readouterr().err
    assert "ya tiene usuarios" in err and "already has users" in err
    assert main(["--no-serve"]) == 0  # without --demo a used database is fine


def test_rotate_key(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--no-serve"]) == 0
    assert main(["rotate-key"]) == 0
    assert len(list((env / "keys").glob("*.pem"))) == 2
    assert "clave" in capsys.readouterr().out


def test_real_server_starts_and_a_second_demo_is_refused(tmp_path: Path) -> None:
    data_dir = tmp_path / "srv"
    with running_server(data_dir, env=FAST) as server:
        assert httpx.get(f"{server.url}/healthz").json() == {"status": "ok"}
        login = httpx.post(f"{server.url}/api/v1/auth/login",
                           json={"username": "madre.demo", "password": "carnet-demo"})
        assert login.status_code == 200
        token = login.json()["access_token"]
        me = httpx.get(f"{server.url}/api/v1/me", headers={"Authorization": f"Bearer {token}"}).json()
        carnet = httpx.get(f"{server.url}/api/v1/patients/{me['patients'][0]['id']}/carnet",
                           headers={"Authorization": f"Bearer {token}"}).json()
        assert httpx.get(carnet["qr"]["url"]).status_code == 200
        again = subprocess.run([str(BIN / "carnet-server"), "--demo"], capture_output=True, text=True,
                               env={"CARNET_DATA_DIR": str(data_dir), "PATH": "/usr/bin:/bin", **FAST},
                               timeout=120)
        assert again.returncode == 2, again.stderr
    log = server.log_path.read_text()
    assert "madre.demo" in log  # the banner lists the demo logins…
    assert carnet["qr"]["token"] not in log  # …but no token, name or CURP reaches the log
    assert "/v/…" in log
    for personal in ("Mateo", carnet["patient"]["curp"], carnet["patient"]["nss"], token):
        assert personal not in log


def test_redact_path() -> None:
    assert redact_path("/v/abc.def.ghi") == "/v/…"
    assert redact_path("/v/abc.def.ghi?x=1") == "/v/…"
    assert redact_path("/api/v1/sync?cursor=secret") == "/api/v1/sync"
    assert redact_path("/healthz") == "/healthz"


def test_access_log_filter_rewrites_the_path() -> None:
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
                               ("127.0.0.1:5000", "GET", "/v/eyJ.eyJ.sig?q=1", "1.1", 200), None)
    assert RedactFilter().filter(record)
    assert record.getMessage() == '127.0.0.1:5000 - "GET /v/… HTTP/1.1" 200'
