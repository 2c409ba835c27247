"""A throw-away PostgreSQL cluster of a test's own, to restart or crash without touching the shared one.

    with private_cluster(seconds=30) as cluster:
        cluster.url          # postgresql+psycopg://postgres@127.0.0.1:<port>/postgres
        cluster.restart("fast")       # or "immediate": a crash, recovered from the WAL at start
        cluster.stop("immediate"); ...; cluster.start()   # a longer outage

Made with the server package's ``initdb`` / ``pg_ctl`` (Debian: ``postgresql-15``) in a temporary
directory, listening on a free loopback port, with fsync off and small buffers. As root the tools run
as the ``postgres`` OS user (PostgreSQL refuses to run as root). Every ``pg_ctl`` call waits with a
bounded timeout; the cluster is stopped and its directory removed on the way out, whatever happened.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.support.processes import free_port

__all__ = ["PgCluster", "find_pg_bin", "private_cluster"]

PG_BIN_GLOB = "/usr/lib/postgresql/*/bin"


def find_pg_bin() -> Path | None:
    """The newest installed server's bin directory with ``initdb`` and ``pg_ctl`` (None: not installed)."""
    candidates = sorted(Path("/").glob(PG_BIN_GLOB.lstrip("/")),
                        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0, reverse=True)
    for path in candidates:
        if (path / "initdb").is_file() and (path / "pg_ctl").is_file():
            return path
    return None


@dataclass
class PgCluster:
    bin_dir: Path
    root: Path
    port: int
    seconds: int

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def log_path(self) -> Path:
        return self.root / "postgres.log"

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, tool: str, *args: str, timeout: float | None = None) -> subprocess.CompletedProcess[str]:
        command = [str(self.bin_dir / tool), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, capture_output=True, text=True, check=True, cwd=self.root,
                              timeout=timeout or self.seconds + 10)

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data_dir), "-U", "postgres", "-A", "trust", "-E", "UTF8",
                  "--locale=C", "--no-sync")
        options = {
            "listen_addresses": "'127.0.0.1'", "port": str(self.port), "unix_socket_directories": f"'{self.root}'",
            # fsync off: only an OS crash could lose data then, and tests crash PostgreSQL, not the OS.
            # (synchronous_commit stays on: with it off a crash may lose commits already answered.)
            "fsync": "off", "full_page_writes": "off", "shared_buffers": "16MB",
            "max_connections": "60", "logging_collector": "off",
        }
        with (self.data_dir / "postgresql.conf").open("a") as conf:
            conf.write("".join(f"{name} = {value}\n" for name, value in options.items()))

    def start(self) -> None:
        self._run("pg_ctl", "start", "-D", str(self.data_dir), "-l", str(self.log_path), "-w",
                  "-t", str(self.seconds))

    def restart(self, mode: str = "fast") -> None:
        """Stop (``fast``: end sessions, checkpoint; ``immediate``: a crash) and start again; waits until it
        accepts connections."""
        self._run("pg_ctl", "restart", "-D", str(self.data_dir), "-m", mode, "-l", str(self.log_path), "-w",
                  "-t", str(self.seconds))

    def stop(self, mode: str = "immediate") -> None:
        """Stop and wait until it is down (``immediate``: a crash, the next start recovers from the WAL)."""
        self._run("pg_ctl", "stop", "-D", str(self.data_dir), "-m", mode, "-w", "-t", str(self.seconds))

    def kill(self) -> None:
        """SIGKILL the postmaster this cluster started (its pid file's first line), if one still runs."""
        try:
            pid = int((self.data_dir / "postmaster.pid").read_text().split()[0])
            os.kill(pid, signal.SIGKILL)
        except (OSError, ValueError, IndexError):
            pass


@contextmanager
def private_cluster(*, seconds: int = 30) -> Iterator[PgCluster]:
    """A running private cluster; stopped and removed afterwards. Raises FileNotFoundError without initdb."""
    bin_dir = find_pg_bin()
    if bin_dir is None:
        raise FileNotFoundError(f"no initdb/pg_ctl in {PG_BIN_GLOB}")
    root = Path(tempfile.mkdtemp(prefix="carnet-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, user="postgres", group="postgres")
    cluster = PgCluster(bin_dir=bin_dir, root=root, port=free_port(), seconds=seconds)
    started = False
    try:
        cluster.init()
        cluster.start()
        started = True
        yield cluster
    finally:
        try:
            if started or (cluster.data_dir / "postmaster.pid").exists():
                cluster.stop()
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
            cluster.kill()  # would not stop in time: no postmaster may outlive its directory
        finally:
            shutil.rmtree(root, ignore_errors=True)
