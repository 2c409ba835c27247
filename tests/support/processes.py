"""Start the real server and app as child processes on loopback, and stop them.

Every wait is bounded by a deadline and polls; nothing sleeps for state.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parents[2]
STARTUP_SECONDS = 90.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_http_ok(url: str, proc: subprocess.Popen[bytes], *, seconds: float = STARTUP_SECONDS) -> None:
    """Poll ``url`` until it answers 2xx; fail early if the process died."""
    deadline = time.monotonic() + seconds
    last_error: object = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before {url} answered")
        try:
            response = httpx.get(url, timeout=2.0)
            if response.is_success:
                return
            last_error = response.status_code
        except httpx.HTTPError as exc:
            last_error = exc
        time.sleep(0.1)  # poll interval, not a wait for state
    raise TimeoutError(f"{url} did not answer within {seconds:.0f} s (last: {last_error!r})")


@dataclass
class WebApp:
    url: str
    proc: subprocess.Popen[bytes]
    log_path: Path


def start_app(api_url: str, home: Path, *, env: dict[str, str] | None = None, device: bool = False) -> WebApp:
    """``carnet --web`` on a free port, with its own data dir and a test-only keyring file.

    ``device``: ``carnet --web --device``, one phone's app whose data outlive a restart (offline tests).
    """
    port = free_port()
    home.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "CARNET_API_URL": api_url,
        "CARNET_APP_DATA": str(home / "app-data"),
        "FLET_APP_STORAGE_DATA": str(home / "app-data"),
        "XDG_DATA_HOME": str(home / "xdg"),
        "PYTHON_KEYRING_BACKEND": "keyrings.alt.file.PlaintextKeyring",
        "CARNET_ALLOW_INSECURE_KEYRING": "1",
        **(env or {}),
    }
    env.pop("DISPLAY", None)
    log_path = home / "app.log"
    with log_path.open("ab") as log:
        proc = subprocess.Popen([str(BIN / "carnet"), "--web", "--port", str(port),
                                 *(["--device"] if device else [])], env=env, cwd=ROOT,
                                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
    app = WebApp(f"http://127.0.0.1:{port}", proc, log_path)
    try:
        wait_until_http_ok(app.url, proc)
    except BaseException:
        stop(proc)
        raise
    return app


def worker_pids(pid: int) -> set[int]:
    """Child processes of ``pid`` started by multiprocessing's spawn (uvicorn's ``--workers``)."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            command = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if parent == pid and b"spawn_main" in command:
            found.add(int(stat.parent.name))
    return found


def stop(proc: subprocess.Popen[bytes], *, seconds: float = 15.0) -> None:
    """SIGTERM the process group, then SIGKILL it after a bounded wait."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=seconds)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=seconds)


@dataclass
class RunningServer:
    url: str
    data_dir: Path
    proc: subprocess.Popen[bytes]
    log_path: Path

    def stop(self) -> None:
        stop(self.proc)


#: argon2id at its cheapest, as in the in-process server tests (the library's default cost outside tests: it
#: makes every demo seed and login take a fifth of a second of CPU). The environment or ``env`` may set others.
FAST_ARGON2_ENV = {"CARNET_ARGON2_TIME_COST": "1", "CARNET_ARGON2_MEMORY_COST": "8", "CARNET_ARGON2_PARALLELISM": "1"}


def start_server(data_dir: Path, *, demo: bool = True, port: int | None = None,
                 env: Mapping[str, str] | None = None) -> RunningServer:
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir / "server.log"
    full_env = {
        **FAST_ARGON2_ENV,
        **os.environ,
        "CARNET_DATA_DIR": str(data_dir),
        "CARNET_HOST": "127.0.0.1",
        "CARNET_PORT": str(port),
        "CARNET_PUBLIC_URL": url,
        **(env or {}),
    }
    args = [str(BIN / "carnet-server")] + (["--demo"] if demo else [])
    with log_path.open("ab") as log:
        proc = subprocess.Popen(args, env=full_env, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    server = RunningServer(url, data_dir, proc, log_path)
    try:
        wait_until_http_ok(f"{url}/healthz", proc)
    except BaseException:
        server.stop()
        raise
    return server


@contextmanager
def running_server(data_dir: Path, **kwargs: object) -> Iterator[RunningServer]:
    server = start_server(data_dir, **kwargs)  # type: ignore[arg-type]
    try:
        yield server
    finally:
        server.stop()


@dataclass
class RunningSimulator:
    """The mixing provider simulator (``carnet_mixing_sim``) as a child process."""

    url: str
    proc: subprocess.Popen[bytes]
    log_path: Path
    record: Path

    def stop(self) -> None:
        stop(self.proc)

    def outage(self, seconds: float) -> None:
        response = httpx.post(f"{self.url}/_control/outage", json={"seconds": seconds}, timeout=5.0)
        response.raise_for_status()

    def orders(self) -> dict[str, dict[str, object]]:
        """The simulator's own record, by order id."""
        response = httpx.get(f"{self.url}/_control/orders", timeout=5.0)
        response.raise_for_status()
        return {o["order_id"]: o for o in response.json()["orders"]}


def start_simulator(work_dir: Path, *, secret_file: Path, callback_url: str, step_seconds: float = 1.0,
                    port: int | None = None) -> RunningSimulator:
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    work_dir.mkdir(parents=True, exist_ok=True)
    log_path, record = work_dir / "simulator.log", work_dir / "provider-record.sqlite"
    args = [sys.executable, "-m", "carnet_mixing_sim", "--port", str(port), "--secret-file", str(secret_file),
            "--callback-url", callback_url, "--record", str(record), "--step-seconds", str(step_seconds),
            "--retry-seconds", "0.5"]
    with log_path.open("ab") as log:
        proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
    simulator = RunningSimulator(url, proc, log_path, record)
    try:
        wait_until_http_ok(f"{url}/healthz", proc, seconds=30.0)
    except BaseException:
        simulator.stop()
        raise
    return simulator


@contextmanager
def running_simulator(work_dir: Path, **kwargs: object) -> Iterator[RunningSimulator]:
    simulator = start_simulator(work_dir, **kwargs)  # type: ignore[arg-type]
    try:
        yield simulator
    finally:
        simulator.stop()
