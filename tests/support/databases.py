"""Seeded demo databases, made once and copied for every test that wants one.

Migrating and seeding the demo data costs about a second per test; copying the result costs a few
milliseconds (SQLite: the data dir, with the database file and the secrets) or one ``CREATE DATABASE …
TEMPLATE`` (PostgreSQL: a database per test, holding the schema the template was seeded in, with the
template's data dir copied next to it). Each test still gets a database and a data dir of its own, as if
they had been migrated and seeded for it, and nothing of one test is seen by another.

A template is made per backend and per settings (the settings a test's database is seeded with, other
than where it lives), and made again when it is older than :data:`MAX_AGE` or its day is over: the demo
data are relative to now and today, as they would be if seeded by the test itself.

On PostgreSQL a ``CREATE DATABASE`` waits on the disk (about as long as a test runs), so the next tests'
copies (:data:`SPARES` of them) are made in background threads while the current test runs, and a finished
test's database is dropped there too, beside them (each copy is still used by exactly one test). Under
pytest-xdist every worker has its own templates and copies.

Every database and schema a test makes on the shared server is named by :func:`scratch_name`, with the id of
the process that made it, so that what a killed run could not drop is found and dropped by the next run
(:func:`sweep_leftovers`), and nothing of a run still going is touched.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, create_engine, make_url, text
from sqlalchemy.exc import OperationalError

from carnet_server.context import Context, build_context
from carnet_server.db import utcnow
from carnet_server.demo import seed
from carnet_server.settings import Settings

#: A template older than this (seconds) is made again (the demo's times are relative to its seeding).
MAX_AGE = 300.0
#: The schema the PostgreSQL template is seeded in; every copy has it.
PG_SCHEMA = "carnet_test"
#: How many copies of a PostgreSQL template are made ahead, in as many background threads (one more drops).
SPARES = 2
#: Prefix of every database made here, followed by the owning process id.
PG_PREFIX = "carnet_t"
#: Prefix of the schemas tests make in the shared database (tests/server), likewise followed by a process id.
SCHEMA_PREFIX = "carnet_test_"
#: What :func:`scratch_name` makes, with any of the prefixes above (or test_query_plans.py's "carnet_plans_").
_SCRATCH = re.compile(r"carnet_(?:t|test_|plans_)(?P<pid>[0-9]+)_[0-9a-f]{12}")
_LOCATION = {"data_dir", "database_url", "database_schema"}


def database_url(base: str, name: str) -> str:
    """``base`` (a PostgreSQL URL) pointing at the database ``name`` instead."""
    return make_url(base).set(database=name).render_as_string(hide_password=False)


def _days(settings: Settings) -> tuple[date, date]:
    """Today in UTC and in the server's time zone."""
    now = utcnow()
    return now.date(), now.astimezone(ZoneInfo(settings.timezone)).date()


def scratch_name(prefix: str) -> str:
    """A name for a database or schema that this process makes and drops: ``prefix``, the process id, random."""
    return f"{prefix}{os.getpid()}_{secrets.token_hex(6)}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def sweep_leftovers(url: str) -> list[str]:
    """Drop the databases and the schemas (in ``url``'s database) that test processes no longer running left
    behind, and return their names. A process killed before its cleanup leaves them; with the test process
    gone nothing uses them. A name whose process runs (this one, another worker, another run) is kept."""
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    dropped: list[str] = []
    try:
        with admin.connect() as conn:
            databases = conn.execute(text("SELECT datname FROM pg_database")).scalars().all()
            schemas = conn.execute(text("SELECT nspname FROM pg_namespace")).scalars().all()
            for kind, names in (("DATABASE", databases), ("SCHEMA", schemas)):
                for name in names:
                    match = _SCRATCH.fullmatch(name)
                    if match is None or _alive(int(match["pid"])):
                        continue
                    tail = " WITH (FORCE)" if kind == "DATABASE" else " CASCADE"
                    try:
                        conn.execute(text(f'DROP {kind} IF EXISTS "{name}"{tail}'))
                    except OperationalError:  # another run's sweep got there first, or it is busy: next time
                        continue
                    dropped.append(name)
    finally:
        admin.dispose()
    return dropped


#: More for a template to hold, made on it (its context) after the demo seeding; what it answers is kept.
Then = Callable[[Context], object]


@dataclass
class _Template:
    data_dir: Path
    database: str | None  # PostgreSQL: the template database
    made_at: float
    days: tuple[date, date]  # when it was seeded
    then: object = None  # what ``then`` answered on it, if anything
    spares: list[Future[str]] = field(default_factory=list)  # PostgreSQL: the next tests' copies, being made


class DemoTemplates:
    """The templates of one pytest process (one xdist worker); ``close()`` drops what is left."""

    def __init__(self, root: Path, pg_url: str | None) -> None:
        self.root = root
        self.pg_url = pg_url
        self.made = 0  # templates migrated and seeded so far
        self._templates: dict[tuple[str, str], _Template] = {}
        self._admin: Engine | None = None
        self._background: ThreadPoolExecutor | None = None
        self._may_create_databases: bool | None = None
        self.then_answer: object = None  # what the last copy's template answered to ``then`` (copy())

    # ---- PostgreSQL ----------------------------------------------------------------------------------

    @property
    def admin(self) -> Engine:
        if self._admin is None:
            assert self.pg_url, "no PostgreSQL URL"
            self._admin = create_engine(self.pg_url, isolation_level="AUTOCOMMIT")
        return self._admin

    @property
    def background(self) -> ThreadPoolExecutor:
        if self._background is None:
            self._background = ThreadPoolExecutor(max_workers=SPARES + 1, thread_name_prefix="demo-databases")
        return self._background

    def usable(self, backend: str) -> bool:
        """Whether templates can be made for ``backend``: on PostgreSQL the role needs CREATEDB (else the
        tests seed their own database, as they did before templates)."""
        if backend != "postgresql":
            return True
        if self._may_create_databases is None:
            with self.admin.connect() as conn:
                self._may_create_databases = bool(conn.execute(text(
                    "SELECT rolcreatedb OR rolsuper FROM pg_roles WHERE rolname = current_user")).scalar())
        return self._may_create_databases

    def _execute(self, sql: str) -> None:
        with self.admin.connect() as conn:
            conn.execute(text(sql))

    def _new_name(self) -> str:
        return scratch_name(PG_PREFIX)

    def _copy_database(self, template: str) -> str:
        name = self._new_name()
        # Nothing may be connected to a template while it is copied; should anything be, wait for it, boundedly.
        deadline = time.monotonic() + 30.0
        while True:
            try:
                self._execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
                return name
            except OperationalError as error:
                if "is being accessed by other users" not in str(error) or time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def _drop_database(self, name: str) -> None:
        self._execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    # ---- templates -----------------------------------------------------------------------------------

    def _make(self, backend: str, settings: Settings, then: Then | None) -> _Template:
        data_dir = self.root / f"template-{secrets.token_hex(4)}"
        database = None
        update: dict[str, object] = {"data_dir": data_dir}
        if backend == "postgresql":
            assert self.pg_url
            database = self._new_name()
            self._execute(f'CREATE DATABASE "{database}" TEMPLATE template0')
            engine = create_engine(database_url(self.pg_url, database))
            try:
                with engine.begin() as conn:
                    conn.execute(text(f'CREATE SCHEMA "{PG_SCHEMA}"'))
            finally:
                engine.dispose()
            update |= {"database_url": database_url(self.pg_url, database), "database_schema": PG_SCHEMA}
        made_at, days = time.monotonic(), _days(settings)
        context = build_context(settings.model_copy(update=update))
        made = None
        try:
            with context.sessions() as session:
                seed(session, ctx=context)
            if then is not None:
                made = then(context)
        finally:  # no connection may be left on a template (and SQLite folds its WAL in)
            context.commits.close()  # PostgreSQL: the listening one, if ``then`` started the app's watch
            context.engine.dispose()
        if database:
            # Nobody connects to it any more (autovacuum neither); copies can still be made.
            self._execute(f'ALTER DATABASE "{database}" WITH ALLOW_CONNECTIONS false')
        self.made += 1
        return _Template(data_dir, database, made_at, days, made)

    def _drop(self, template: _Template) -> None:
        for spare in template.spares:
            with contextlib.suppress(Exception):  # a spare that failed to be made leaves nothing to drop
                self._drop_database(spare.result())
        template.spares.clear()
        shutil.rmtree(template.data_dir, ignore_errors=True)
        if template.database:
            self._drop_database(template.database)

    def _get(self, backend: str, settings: Settings, then: Then | None) -> _Template:
        made_by = then and f"{then.__module__}.{then.__qualname__}"
        key = (backend, settings.model_dump_json(exclude=_LOCATION), made_by)
        template = self._templates.get(key)
        if template is not None and (time.monotonic() - template.made_at > MAX_AGE
                                     or template.days != _days(settings)):
            del self._templates[key]
            self._drop(template)
            template = None
        if template is None:
            template = self._templates[key] = self._make(backend, settings, then)
        return template

    @contextmanager
    def copy(self, backend: str, settings: Settings, then: Then | None = None) -> Iterator[Settings]:
        """``settings`` (a test's, with a data dir of its own) with a migrated and seeded database of its
        own; on PostgreSQL a database made for it, dropped afterwards.

        ``then``: what more the template holds, made on it after the seeding (a template of its own); what it
        answered is ``then_answer`` while the copy is in use."""
        template = self._get(backend, settings, then)
        self.then_answer = template.then
        shutil.copytree(template.data_dir, settings.data_dir)
        if template.database is None:
            yield settings
            return
        assert self.pg_url
        spares = template.spares
        name = spares.pop(0).result() if spares else self._copy_database(template.database)
        while len(spares) < SPARES:  # the next tests'
            spares.append(self.background.submit(self._copy_database, template.database))
        try:
            yield settings.model_copy(update={"database_url": database_url(self.pg_url, name),
                                              "database_schema": PG_SCHEMA})
        finally:
            self.background.submit(self._drop_database, name)

    def close(self) -> None:
        for template in self._templates.values():
            self._drop(template)
        self._templates.clear()
        if self._background is not None:
            self._background.shutdown(wait=True)  # the last drops
        if self._admin is not None:
            self._admin.dispose()
