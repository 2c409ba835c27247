"""The API server every browser test drives (a real ``carnet-server --demo`` on loopback)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.processes import start_server

#: How much of each log a failed browser test shows (the app's and the server's; neither logs personal data).
LOG_LINES = 40


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> pytest.TestReport:
    """A failed browser test's report ends with the last lines of the web app's and the API server's logs: a
    screen that went blank says little without what the processes behind it said."""
    report: pytest.TestReport = yield
    tmp_path = getattr(item, "funcargs", {}).get("tmp_path")
    if report.failed and call.when == "call" and isinstance(tmp_path, Path):
        for log in sorted(tmp_path.rglob("*.log")):
            lines = log.read_text(errors="replace").splitlines()[-LOG_LINES:]
            report.sections.append((f"{log.relative_to(tmp_path)} (last {len(lines)} lines)", "\n".join(lines)))
    return report


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
