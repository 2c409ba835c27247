"""Answers a worker keeps in memory for a few seconds, ended by any write to the tables they were read from.

Issue #20: an authenticated read cost milliseconds of CPU before it did its own work (the caller's session and
user row on every request), and the family's carnet several more (eight queries, 17 kB of JSON). Three caches
use what is here: the signed-in caller (auth/deps.py), the family's carnet (patients/router.py) and an empty sync
page (sync/router.py). What keeps them honest:

- **Keys hold who asks.** The caller's entry is keyed by the whole access token; a carnet by the guardian's
  id, the child's id and the day; an empty sync page by the guardian's id and her cursor. Nothing one caller gets
  can be found by another key.
- **A write made by this worker ends the entries at once.** Any INSERT, UPDATE or DELETE through this engine on
  a table a cache reads (``tables``) empties that cache when the statement runs and again once its transaction
  has committed; a lookup that began before either stores nothing (``generation``).
- **Another worker's writes** (``--workers 2``, or the command line) reach this one within
  ``CARNET_CACHE_SECONDS`` (5 s; 0 turns both caches off): for that long a session revoked there may still read
  here, and a carnet changed there may be read here as it was. A stateless access token would be good for its
  whole life; a carnet the app keeps offline is older than that by design. One worker (the default): no lag.
- **Nothing committed anywhere since** (``CommitWatch``): on SQLite a worker can tell, in microseconds and without
  a query, whether any connection of any process committed to the database since a given moment. A kept answer
  read after that moment is then exactly what a new read would give, and is sent without the lookup its kind
  otherwise needs (a carnet's "still linked, QR still good"; a sync page with changes is kept only on those terms).
  PostgreSQL gives no such signal without a query: there every kept carnet is looked up, and pages with changes
  are not kept.
- **Bounded**: at most ``max_entries`` each, the oldest go first.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Callable, Collection, Hashable, Sequence
from typing import Any, Generic, TypeVar
from urllib.parse import quote

from sqlalchemy import Engine, event
from sqlalchemy.orm import Session, sessionmaker

__all__ = ["CommitWatch", "MemoCache", "SQLiteCommitWatch", "commit_watch", "watch_writes", "written_table"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

_WRITES = ("INSERT", "UPDATE", "DELETE")


class MemoCache(Generic[K, V]):
    """Key → (value, good until); emptied by writes to ``tables`` (see :func:`watch_writes`)."""

    def __init__(
        self,
        seconds: float,
        tables: Collection[str],
        *,
        max_entries: int = 20_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.seconds = seconds
        self.tables = frozenset(tables)
        self.max_entries = max_entries
        self.clock = clock
        self._entries: dict[K, tuple[V, float]] = {}
        self._lock = threading.Lock()
        #: Moves on with every write to ``tables``; a lookup stores its answer only if it did not move.
        self.generation = 0

    def get(self, key: K) -> V | None:
        if not self.seconds:
            return None
        entry = self._entries.get(key)
        if entry is None:
            return None
        value, until = entry
        if self.clock() < until:
            return value
        self.forget(key)
        return None

    def put(self, key: K, value: V, *, generation: int, good_for: float | None = None) -> None:
        """Keep ``value`` — unless ``tables`` were written since ``generation`` was read (the lookup may have read
        what was there before the write). ``good_for``: at most this many seconds (a token's life left)."""
        seconds = self.seconds if good_for is None else min(self.seconds, good_for)
        if seconds <= 0:
            return
        until = self.clock() + seconds
        with self._lock:
            if generation != self.generation:
                return
            if len(self._entries) >= self.max_entries:
                self._entries.pop(next(iter(self._entries)))
            self._entries[key] = (value, until)

    def forget(self, key: K) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def clear(self) -> None:
        """Every entry ends, and lookups under way store nothing."""
        with self._lock:
            self.generation += 1
            self._entries.clear()


def written_table(statement: str) -> str | None:
    """The table an INSERT, UPDATE or DELETE statement writes (None for anything else)."""
    head = statement.lstrip()[:6].upper()
    if not head.startswith(_WRITES):
        return None
    words = statement.split(None, 3)  # INSERT INTO t / DELETE FROM t / UPDATE t
    at = 2 if head.startswith(("INSERT", "DELETE")) else 1
    return words[at].strip('"').split("(")[0] if len(words) > at else None


def watch_writes(engine: Engine, sessions: sessionmaker[Session], caches: Sequence[MemoCache[Any, Any]]) -> None:
    """Empty each cache whenever a statement on ``engine`` writes one of its tables, and again once that
    transaction has committed: a lookup in between may have read what was there before the commit."""

    def _clear(tables: Collection[str]) -> None:
        for cache in caches:
            if cache.tables.intersection(tables):
                cache.clear()

    @event.listens_for(engine, "before_cursor_execute")
    def _written(conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        table = written_table(statement)
        if table is not None:
            conn.info.setdefault("tables_written", set()).add(table)
            _clear((table,))

    @event.listens_for(engine, "rollback")
    def _rolled_back(conn: Any) -> None:
        if not conn.invalidated:  # (an invalidated connection's ``info`` raises; its record is replaced anyway)
            conn.info.pop("tables_written", None)

    # The engine's "commit" event comes before the database commits; a Session's "after_commit" after it.
    @event.listens_for(sessions, "after_begin")
    def _began(session: Session, _transaction: Any, connection: Any) -> None:
        session.info["connection_info"] = connection.info

    @event.listens_for(sessions, "after_commit")
    def _committed(session: Session) -> None:
        info = session.info.pop("connection_info", None)
        written = info.pop("tables_written", None) if info is not None else None
        if written:
            _clear(written)


#: What ``CommitWatch.mark`` returns: an opaque stamp, or None when the watch cannot tell.
Mark = tuple[int, int] | None


class CommitWatch:
    """Whether anything was committed to the database — by any connection of any process — since a ``mark``.
    This base cannot tell: nothing is ever quiet (PostgreSQL)."""

    def mark(self) -> Mark:
        return None

    def quiet_since(self, mark: Mark) -> bool:
        return False

    def close(self) -> None:
        pass


class SQLiteCommitWatch(CommitWatch):
    """SQLite's ``PRAGMA data_version`` on a read-only connection of its own, which never writes: it moves on
    whenever another connection — this worker's pool, another worker, the command line — commits. A few
    microseconds, no disk read in WAL mode (the WAL index is shared memory), so it runs on the event loop."""

    def __init__(self, path: str) -> None:
        self._uri = f"file:{quote(os.path.abspath(path))}?mode=ro"
        self._conn: sqlite3.Connection | None = None
        self._opened = 0  # a stamp holds the connection's number: a reopened one counts anew
        self._lock = threading.Lock()

    def mark(self) -> Mark:
        with self._lock:
            try:
                if self._conn is None:
                    self._conn = sqlite3.connect(self._uri, uri=True, isolation_level=None, check_same_thread=False)
                    self._opened += 1
                row = self._conn.execute("PRAGMA data_version").fetchone()
            except sqlite3.Error:
                self._close()
                return None
            return (self._opened, int(row[0]))

    def quiet_since(self, mark: Mark) -> bool:
        return mark is not None and self.mark() == mark

    def close(self) -> None:
        with self._lock:
            self._close()

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def commit_watch(engine: Engine) -> CommitWatch:
    """The watch for ``engine``'s database: SQLite's in a file, else one that cannot tell."""
    database = engine.url.database
    if engine.dialect.name == "sqlite" and database and database != ":memory:" and not database.startswith("file:"):
        return SQLiteCommitWatch(database)
    return CommitWatch()
