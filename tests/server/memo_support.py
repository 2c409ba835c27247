"""What the tests of kept answers share: waiting for this worker's commit watch (memo.py) to catch up."""

from __future__ import annotations

import secrets
import threading
import time
from typing import Any

from carnet_server.context import Context
from carnet_server.memo import PostgresCommitWatch


def hears_each_table(ctx: Context) -> bool:
    """Whether this worker hears which table another worker committed to (PostgreSQL's notifications: memo.py),
    once its listener listens; SQLite's watch only tells that something was committed."""
    if not isinstance(ctx.commits, PostgresCommitWatch):
        return False
    deadline = time.monotonic() + 10
    while ctx.commits.mark() is None:
        assert time.monotonic() < deadline, "the commit watch never listened"
        time.sleep(0.01)
    return True


def caught_up(ctx: Context) -> None:
    """Returns once this worker has dealt with every commit made so far, its own included (PostgreSQL hears its own
    writes back too, and one heard late ends an answer kept after it). Notifications come in commit order: a probe
    sent now is heard after all of them. SQLite's watch has nothing in flight."""
    if not hears_each_table(ctx):
        return
    watch = ctx.commits
    assert isinstance(watch, PostgresCommitWatch)
    probe = f"probe-{secrets.token_hex(4)}"
    heard = threading.Event()
    on_commit = watch._on_commit

    def hear(tables: Any) -> None:
        if probe in tables:
            heard.set()
        else:
            on_commit(tables)

    watch._on_commit = hear
    try:
        raw = ctx.engine.raw_connection()
        try:
            raw.cursor().execute("SELECT pg_notify('carnet_commits', current_schema() || '.' || %s)", (probe,))
            raw.commit()
        finally:
            raw.close()
        assert heard.wait(10), "this worker never heard its probe"
    finally:
        watch._on_commit = on_commit
