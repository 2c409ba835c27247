"""The API server every browser test drives (a real ``carnet-server --demo`` on loopback)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.processes import start_server


@pytest.fixture
def api(tmp_path: Path) -> Iterator[tuple[str, Callable[[], None]]]:
    """(API base URL, stop function)."""
    external = os.environ.get("CARNET_TEST_API_URL")
    if external:
        yield external.rstrip("/"), lambda: None
        return
    server = start_server(tmp_path / "server")
    try:
        yield server.url, server.stop
    finally:
        server.stop()
