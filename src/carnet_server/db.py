"""Database plumbing: declarative base, column types, engine, migrations.

SQLite (the default, a file in the data dir) runs with WAL and foreign keys
on; PostgreSQL goes through psycopg 3. Migrations are Alembic's, configured in
code (no ``alembic.ini``) and run on every start.

When PostgreSQL restarts, the pool heals by itself: every checkout pings its
connection first (``pool_pre_ping``) and replaces a dead one, and an error
that shows a disconnect makes SQLAlchemy invalidate that connection and every
older one in the pool. While the database is unreachable,
:func:`is_database_unavailable` tells the errors worth a retry apart; the API
answers them with 503 ``database_unavailable`` (errors.py).
"""

from __future__ import annotations

import functools
import secrets
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, DateTime, Engine, MetaData, Table, create_engine, event
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import CursorResult, Result
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from carnet_server.settings import Settings

__all__ = [
    "Base",
    "UTCDateTime",
    "is_database_unavailable",
    "make_engine",
    "make_sessionmaker",
    "new_id",
    "rowcount",
    "run_migrations",
    "session_scope",
    "utcnow",
]

MIGRATIONS_DIR = Path(__file__).parent / "migrations"

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    if TYPE_CHECKING:
        # Every model here maps one Table (DeclarativeBase allows any FromClause).
        __table__: ClassVar[Table]


def new_id() -> str:
    """An opaque 12-character id: short on purpose, ids go into the QR token."""
    return secrets.token_urlsafe(9)


def dialect_insert(bind: Session | Connection) -> Any:
    """``insert`` of the database's own dialect, for ``ON CONFLICT`` (PostgreSQL and SQLite both have it)."""
    dialect = (bind.get_bind() if isinstance(bind, Session) else bind).dialect.name
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


def utcnow() -> datetime:
    return datetime.now(UTC)


def rowcount(result: Result[*tuple[Any, ...]]) -> int:
    """Rows an UPDATE or DELETE matched. ``Session.execute`` returns a ``CursorResult`` for them but is
    typed to return a plain ``Result``, which has no ``rowcount``."""
    if not isinstance(result, CursorResult):
        raise TypeError(f"no row count on {type(result).__name__}: not an UPDATE or DELETE result")
    return result.rowcount


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite keeps no offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


#: psycopg's ``connect_timeout`` (whole seconds).
CONNECT_TIMEOUT_SECONDS = 5


def is_database_unavailable(error: BaseException) -> bool:
    """Whether ``error`` means the database could not be used just now, so the same request may succeed
    on a retry: no connection could be made or the pool had none to give in time (restarting, shutting
    down, starting up, unreachable, overloaded), the connection dropped mid-request, or the database
    refused the work for the moment (a lock or deadlock timeout, SQLite busy). Not for a bad statement or a
    constraint violation: those are bugs or conflicts, and a retry would fail the same way."""
    if isinstance(error, sa_exc.TimeoutError):  # pool checkout timed out
        return True
    if isinstance(error, sa_exc.DBAPIError):
        return bool(error.connection_invalidated) or isinstance(error, sa_exc.OperationalError | sa_exc.InterfaceError)
    return False


#: How long a SQLite writer waits for the other writers of its process (as SQLite's ``busy_timeout``).
SQLITE_WRITE_WAIT_SECONDS = 30
#: Connections the background workers of a process may hold besides the request threads (mixing delivery,
#: WhatsApp, reminders) — a margin.
SQLITE_BACKGROUND_CONNECTIONS = 4
#: The statements before which Python's sqlite3 opens a transaction, and SQLite takes its write lock.
_SQLITE_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")


class _GatedConnection(sqlite3.Connection):
    """A SQLite connection that takes its engine's write gate (one lock per engine) before its first write and
    gives it back when its transaction ends (commit, rollback — also the pool's on check-in — or close).

    SQLite lets one writer in at a time; the others wait in its busy handler, which sleeps and tries again, the
    sleeps growing to 100 ms: under a burst of writes (200 bookings of one slot at once) most of the time went
    into those sleeps (a median of 1.2 s). Writers of one process now queue on a lock instead and the next one
    goes the moment the last one ends. The gate only orders the writers: what is exact stays SQLite's doing (its
    write lock is still taken, and other processes still meet it), so a mistake here could make a writer
    wait, never write wrongly."""

    gate: threading.Lock
    #: The thread holding the gate (a class attribute: one per engine, like the gate).
    gate_thread: int | None = None
    holds_gate = False

    def take_gate(self) -> None:
        if self.holds_gate:
            return
        if type(self).gate_thread == threading.get_ident():
            # This thread writes through another connection already: it would wait for itself (SQLite's own
            # lock would too, for its whole busy timeout). A mistake in the code, said at once.
            raise RuntimeError("a second connection of this thread writes while the first one has not ended")
        if not self.gate.acquire(timeout=SQLITE_WRITE_WAIT_SECONDS):
            # What SQLite itself says after its busy timeout: an error worth a retry (is_database_unavailable).
            raise sqlite3.OperationalError("database is locked")
        type(self).gate_thread = threading.get_ident()
        self.holds_gate = True

    def _give_gate(self) -> None:
        if self.holds_gate:
            self.holds_gate = False
            type(self).gate_thread = None
            self.gate.release()

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self._give_gate()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self._give_gate()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._give_gate()


def make_engine(settings: Settings) -> Engine:
    url = settings.resolved_database_url
    if url.startswith("sqlite"):
        settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        gated = type("GatedConnection", (_GatedConnection,), {"gate": threading.Lock()})
        # As many connections kept open as can be busy at once (every request thread and the background workers):
        # past the pool's size each one would be opened, set up (four PRAGMAs) and closed again per request.
        engine = create_engine(
            url,
            connect_args={"timeout": SQLITE_WRITE_WAIT_SECONDS, "factory": gated},
            pool_size=settings.request_threads + SQLITE_BACKGROUND_CONNECTIONS,
        )

        @event.listens_for(engine, "before_cursor_execute")
        def _take_write_gate(conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
            if statement.lstrip()[:7].upper().startswith(_SQLITE_WRITES):
                conn.connection.dbapi_connection.take_gate()

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    # A connection attempt to an unreachable host fails after this long instead of the OS's minutes.
    connect_args: dict[str, Any] = {"connect_timeout": CONNECT_TIMEOUT_SECONDS}
    if settings.database_schema:
        connect_args["options"] = f"-csearch_path={settings.database_schema}"
    return create_engine(
        url,
        connect_args=connect_args,
        pool_pre_ping=True,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout_seconds,
    )


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session that commits on success and rolls back on error."""
    with factory() as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


@functools.cache
def _heads() -> frozenset[str]:
    """The newest revisions, read once per process (the migration scripts do not change while it runs)."""
    return frozenset(ScriptDirectory.from_config(alembic_config()).get_heads())


def run_migrations(engine: Engine) -> None:
    """Bring the database to the newest schema (idempotent). A database already there costs one read of its
    version (no loading of Alembic's environment and every migration script: ~60 ms, once per test)."""
    with engine.begin() as connection:
        if frozenset(MigrationContext.configure(connection).get_current_heads()) == _heads():
            return
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
