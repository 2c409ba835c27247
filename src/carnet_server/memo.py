"""Answers a worker keeps in memory for a few seconds, ended by any write to the tables they were read from.

Issue #20: an authenticated read cost milliseconds of CPU before it did its own work (the caller's session and
user row on every request), and the family's carnet several more (eight queries, 17 kB of JSON). Four caches
use what is here: the signed-in caller (auth/deps.py), who-am-I (auth/router.py), the family's carnet
(patients/router.py) and sync pages (sync/router.py). What keeps them honest:

- **Keys hold who asks.** The caller's entry is keyed by the whole access token; a carnet by the guardian's
  id, the child's id and the day; a sync page by the guardian's id, the page size and her cursor; who-am-I by
  the caller's id and the privacy notice in force. Nothing one caller gets can be found by another key.
- **A write made by this worker ends the entries at once.** Any INSERT, UPDATE or DELETE through this engine on
  a table a cache reads (``tables``) empties that cache when the statement runs and again once its transaction
  has committed; a lookup that began before either stores nothing (``generation``).
- **Another worker's commits** (``--workers 2``, the command line, psql) are seen through a ``CommitWatch``:
  - PostgreSQL: a trigger on every table notifies ``carnet_commits`` with the table's name when the transaction
    commits (migration 0016); each worker listens on a connection of its own and ends what it keeps from that table,
    as for its own writes — a few milliseconds after the commit, the notification's trip.
  - SQLite: ``PRAGMA data_version`` on a read-only connection tells, in microseconds and without a query, whether
    anyone committed anything since a moment — not what.
  A kept answer is sent as it is while the watch says every commit since it was read has been dealt with
  (``quiet_since``); otherwise a carnet only after one indexed lookup (still linked, QR neither revoked nor
  expired), a sync page with changes and who-am-I not at all (read anew). What the watch does not cover — on
  SQLite another process's commit, or a PostgreSQL worker not listening (the database restarting) — reaches a
  kept caller and an empty sync page ("nothing new": no data) within ``CARNET_CACHE_SECONDS`` (5 s; 0 turns the
  caches off): for that long a session revoked there may still read here. Never a revoked or expired QR, never a
  kept page, carnet or who-am-I to a guardian no longer linked.
- **Bounded**: at most ``max_entries`` each, the oldest go first.
"""

from __future__ import annotations

import logging
import os
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Collection, Hashable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar
from urllib.parse import quote

from sqlalchemy import Engine, event
from sqlalchemy.orm import Session, sessionmaker

_log = logging.getLogger(__name__)

__all__ = [
    "CommitWatch",
    "MemoCache",
    "PostgresCommitWatch",
    "SQLiteCommitWatch",
    "commit_watch",
    "watch_writes",
    "written_table",
]

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


def watch_writes(
    engine: Engine, sessions: sessionmaker[Session], caches: Sequence[MemoCache[Any, Any]]
) -> Callable[[Collection[str]], None]:
    """Empty each cache whenever a statement on ``engine`` writes one of its tables, and again once that
    transaction has committed: a lookup in between may have read what was there before the commit. Returns what
    empties the caches of given tables (for the commits another worker makes: ``PostgresCommitWatch``)."""

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

    return _clear


#: What ``CommitWatch.mark`` returns: an opaque stamp, or None when the watch cannot tell.
Mark = tuple[int, int] | None


@dataclass(frozen=True)
class Kept:
    """An answer's JSON as sent, and the watch's mark taken before it was read: sent again only while quiet since."""

    body: bytes
    mark: Mark


class CommitWatch:
    """Whether every commit to the database since a ``mark`` — by any connection of any process — has been dealt
    with: none happened (what SQLite's watch tells), or each one ended the kept answers read from its table
    (PostgreSQL's). This base cannot tell (an in-memory database): nothing is ever quiet."""

    def start(self) -> None:
        """Begin watching now rather than at the first ``mark`` (the app's start)."""

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


class PostgresCommitWatch(CommitWatch):
    """PostgreSQL: every write statement notifies ``carnet_commits`` with its table when its transaction commits
    (a trigger, migration 0016), whichever worker or program wrote. A thread of this worker listens on a connection
    of its own and ends what this worker keeps from that table (``on_commit``, as for its own writes). While it
    listens — and it has heard from the database in the last ``FRESH_SECONDS`` — every commit since a mark has
    ended the kept answers it concerns, a few milliseconds after the commit (the notification's trip). When it
    cannot listen (the database restarting, or not reached yet), the marks are None: nothing is taken as quiet."""

    #: Without word from the database for this long (a connection silently gone), nothing is quiet.
    FRESH_SECONDS = 3.0
    #: How often the thread makes sure its connection still answers.
    PING_SECONDS = 1.0
    #: How long its own first notification may take to come back.
    PROBE_SECONDS = 5.0

    def __init__(self, engine: Engine, on_commit: Callable[[Collection[str]], None]) -> None:
        self._engine = engine
        self._on_commit = on_commit
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._epoch = 0  # moves on each time the thread (re)starts listening: a stamp of before is never quiet
        self._live = False
        self._heard = 0.0  # monotonic time of the last word from the database

    def mark(self) -> Mark:
        if self._thread is None:
            self.start()
        with self._lock:
            if self._live and time.monotonic() - self._heard < self.FRESH_SECONDS:
                return (self._epoch, 0)
            return None

    def quiet_since(self, mark: Mark) -> bool:
        return mark is not None and self.mark() == mark

    def close(self) -> None:
        """Stop listening: the thread closes its connection and ends within ``PING_SECONDS``."""
        self._stop.set()
        with self._lock:
            self._live = False

    def start(self) -> None:
        with self._lock:
            if self._thread is not None or self._stop.is_set():
                return
            self._thread = threading.Thread(target=self._listen, name="carnet-commit-watch", daemon=True)
            self._thread.start()

    def _listen(self) -> None:
        while not self._stop.is_set():
            try:
                self._listen_once()
            except Exception as exc:  # noqa: BLE001 — any failure: not listening; try again in a moment
                if not self._stop.is_set():  # (closed: its database may be going too, which is no news)
                    _log.warning("commit watch: not listening (%s); trying again", type(exc).__name__)
            with self._lock:
                self._live = False
            self._stop.wait(self.PING_SECONDS)

    def _listen_once(self) -> None:
        raw = self._engine.raw_connection()  # the engine's own connection settings (schema, timeouts)
        conn: Any = raw.driver_connection
        raw.detach()  # this thread's for good: never back in the pool
        try:
            conn.autocommit = True
            schema = conn.execute("SELECT current_schema()").fetchone()[0]

            def heard(payload: str) -> None:
                written_schema, _, table = payload.partition(".")
                if written_schema == schema:
                    self._on_commit((table,))

            conn.execute("LISTEN carnet_commits")
            # Live only once a notification of its own came back: through a pooler that hands the session to
            # others (PgBouncer's transaction pooling) none would, and nothing may be taken as quiet.
            probe = f"{schema}.probe-{secrets.token_hex(8)}"
            conn.execute("SELECT pg_notify('carnet_commits', %s)", (probe,))
            for notice in conn.notifies(timeout=self.PROBE_SECONDS):
                if notice.payload == probe:
                    break
                heard(notice.payload)
            else:
                raise TimeoutError("its own notification never came back")
            with self._lock:
                self._epoch += 1
                self._live = True
                self._heard = time.monotonic()
            while not self._stop.is_set():
                for notice in conn.notifies(timeout=self.PING_SECONDS):
                    heard(notice.payload)
                conn.execute("SELECT 1")  # still answering
                with self._lock:
                    self._heard = time.monotonic()
        finally:
            conn.close()  # itself: the pool's close of a detached connection would log a dead one's reset failing


def commit_watch(engine: Engine, on_commit: Callable[[Collection[str]], None]) -> CommitWatch:
    """The watch for ``engine``'s database: SQLite's in a file, PostgreSQL's notifications (``on_commit`` gets
    the tables another connection committed to), else one that cannot tell."""
    database = engine.url.database
    if engine.dialect.name == "postgresql":
        return PostgresCommitWatch(engine, on_commit)
    if engine.dialect.name == "sqlite" and database and database != ":memory:" and not database.startswith("file:"):
        watch = SQLiteCommitWatch(database)
        # Like the pool's, its connection does not outlive ``dispose()`` (the file may be replaced: a restore);
        # the next mark opens a new one, and no older mark is taken for quiet.
        event.listen(engine, "engine_disposed", lambda _engine: watch.close())
        return watch
    return CommitWatch()
