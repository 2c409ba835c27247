"""Suite-wide rules.

In CI (CARNET_REQUIRE_BROWSER / CARNET_REQUIRE_POSTGRES set by .ci/run) a test
that skips for want of Chromium or PostgreSQL fails instead: nothing is
silently left out there.

Under pytest-xdist (scripts/test runs ``-n auto --dist loadgroup``) the tests of a module that share a
module- or class-scoped fixture run on one worker, so that fixture is made once.

A run starts by dropping the PostgreSQL databases and schemas that killed runs left behind
(tests/support/databases.py, :func:`sweep_leftovers`).
"""

from __future__ import annotations

import os

import pytest

_REQUIRED = {
    "browser": "CARNET_REQUIRE_BROWSER",
    "postgres": "CARNET_REQUIRE_POSTGRES",
}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    outcome = yield
    report = outcome.get_result()
    if not report.skipped:
        return
    reason = str(report.longrepr[-1]) if isinstance(report.longrepr, tuple) else str(report.longrepr)
    for marker, env in _REQUIRED.items():
        if os.environ.get(env) and (item.get_closest_marker(marker) or marker in reason.lower()):
            report.outcome = "failed"
            report.longrepr = f"{env} is set, but the test was skipped: {reason}"


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector):  # type: ignore[no-untyped-def]
    """The same for a whole module skipped while it is collected (tests/browser/support.py does that)."""
    outcome = yield
    report = outcome.get_result()
    if not report.skipped:
        return
    reason = str(report.longrepr[-1]) if isinstance(report.longrepr, tuple) else str(report.longrepr)
    for marker, env in _REQUIRED.items():
        if os.environ.get(env) and (marker in reason.lower() or f"tests/{marker}" in str(collector.path)):
            report.outcome = "failed"
            report.longrepr = f"{env} is set, but the module was skipped: {reason}"


def pytest_sessionstart(session: pytest.Session) -> None:
    url = os.environ.get("CARNET_TEST_DATABASE_URL")
    if url and not hasattr(session.config, "workerinput"):  # once per run: in xdist's controller, not per worker
        from tests.support.databases import sweep_leftovers  # only when PostgreSQL is there

        sweep_leftovers(url)


_SHARED_SCOPES = {"package", "module", "class"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        info = getattr(item, "_fixtureinfo", None)
        if info is None:
            continue
        for name in info.names_closure:
            definitions = info.name2fixturedefs.get(name)
            if definitions and definitions[-1].scope in _SHARED_SCOPES:
                item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::", 1)[0]))
                break
