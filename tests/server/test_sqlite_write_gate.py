"""SQLite's writers of one process queue on the engine's write gate (db.py), not in SQLite's sleeping busy handler.

The gate must be given back however a transaction ends (commit, rollback, the pool's reset on check-in, close),
never be taken by a read, and a writer that waits too long gets SQLite's own "database is locked" — an error worth
a retry (503), like SQLite's busy timeout.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy import exc as sa_exc

from carnet_server import db
from carnet_server.settings import Settings


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = db.make_engine(Settings(data_dir=tmp_path))
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (n INTEGER)"))
    yield engine
    engine.dispose()


def _gate(engine: Engine) -> threading.Lock:
    with engine.connect() as conn:
        gate: threading.Lock = conn.connection.dbapi_connection.gate  # type: ignore[union-attr]
    return gate


def test_a_write_holds_the_gate_until_its_transaction_ends_however_it_ends(engine: Engine) -> None:
    gate = _gate(engine)
    for end in ("commit", "rollback", "close"):
        conn = engine.connect()
        conn.execute(text("SELECT count(*) FROM t"))
        assert not gate.locked()  # a read takes nothing
        conn.execute(text("INSERT INTO t VALUES (1)"))
        assert gate.locked(), end
        if end == "close":
            conn.close()  # back to the pool, which rolls back
        else:
            getattr(conn, end)()
            conn.close()
        assert not gate.locked(), end


def test_a_writer_waits_for_the_gate_then_goes(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(db, "SQLITE_WRITE_WAIT_SECONDS", 0.2)
    holder = engine.connect()
    holder.execute(text("INSERT INTO t VALUES (1)"))

    errors: list[BaseException] = []

    def second_writer() -> None:
        try:
            with engine.begin() as conn:
                conn.execute(text("INSERT INTO t VALUES (2)"))
        except BaseException as exc:  # noqa: BLE001 — the test reads it
            errors.append(exc)

    thread = threading.Thread(target=second_writer)
    thread.start()
    thread.join(timeout=30)
    assert not thread.is_alive()
    assert len(errors) == 1 and isinstance(errors[0], sa_exc.OperationalError)
    assert isinstance(errors[0].orig, sqlite3.OperationalError) and "locked" in str(errors[0].orig)
    assert db.is_database_unavailable(errors[0])  # answered 503, worth a retry
    with engine.connect() as reader:  # reads go on meanwhile
        assert reader.execute(text("SELECT count(*) FROM t")).scalar_one() == 0

    holder.commit()
    holder.close()
    with engine.begin() as conn:  # the gate is free: at once
        conn.execute(text("INSERT INTO t VALUES (3)"))
    with engine.connect() as reader:
        assert reader.execute(text("SELECT n FROM t ORDER BY n")).scalars().all() == [1, 3]


def test_a_thread_writing_through_a_second_connection_is_told_at_once(engine: Engine) -> None:
    first = engine.connect()
    first.execute(text("INSERT INTO t VALUES (1)"))
    with engine.connect() as second, pytest.raises(RuntimeError, match="second connection"):
        second.execute(text("INSERT INTO t VALUES (2)"))
    first.rollback()
    first.close()
    with engine.begin() as conn:  # the gate is whole again
        conn.execute(text("INSERT INTO t VALUES (3)"))


def test_every_request_thread_keeps_its_connection_open(engine: Engine) -> None:
    """As many connections stay open as the request threads (and the background workers) can use at once: past
    the pool's size each would be opened, set up and closed again per request (a 200-booking race spent a sixth of
    its threads' time there, bench/RESULTS.md)."""
    threads = Settings().request_threads
    held = [engine.connect() for _ in range(threads + db.SQLITE_BACKGROUND_CONNECTIONS)]
    first = [c.connection.dbapi_connection for c in held]
    for conn in held:
        conn.close()
    again = [engine.connect() for _ in range(len(held))]
    try:
        assert {id(c.connection.dbapi_connection) for c in again} == {id(c) for c in first}
    finally:
        for conn in again:
            conn.close()
