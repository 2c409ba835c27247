"""The seeded databases that ``ctx`` copies from a template (tests/support/databases.py): each copy is the
test's own, and holds what migrating and seeding would have made."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, delete, func, select, text

from carnet_server.auth.tables import User
from carnet_server.context import Context, build_context
from carnet_server.db import Base
from carnet_server.demo import seed
from carnet_server.settings import Settings
from tests.support.databases import (
    PG_PREFIX,
    SCHEMA_PREFIX,
    SPARES,
    DemoTemplates,
    scratch_name,
    sweep_leftovers,
)

from .conftest import FAST_ARGON2, PG_ENV


def _settings(data_dir: Path, **location: str) -> Settings:
    return Settings(data_dir=data_dir, public_url="https://carnet.example.mx", **location, **FAST_ARGON2)


def _counts(ctx: Context) -> dict[str, int]:
    with ctx.sessions() as session:
        return {table.name: int(session.scalar(select(func.count()).select_from(table)) or 0)
                for table in Base.metadata.sorted_tables}


def test_copies_are_separate(backend: str, tmp_path: Path, demo_templates: DemoTemplates) -> None:
    if not demo_templates.usable(backend):
        pytest.skip("postgres: the role may not create databases, so no templates are made")
    with demo_templates.copy(backend, _settings(tmp_path / "a")) as a, \
            demo_templates.copy(backend, _settings(tmp_path / "b")) as b:
        assert (a.data_dir, a.resolved_database_url) != (b.data_dir, b.resolved_database_url)
        first, second = build_context(a), build_context(b)
        try:
            users = _counts(second)["users"]
            assert users > 0
            with first.sessions() as session:
                session.execute(delete(User).where(User.username == "madre.demo"))
                session.commit()
            assert _counts(first)["users"] == users - 1
            assert _counts(second)["users"] == users
        finally:
            first.engine.dispose()
            second.engine.dispose()
    with demo_templates.copy(backend, _settings(tmp_path / "c")) as c:  # the template is untouched
        third = build_context(c)
        try:
            assert _counts(third)["users"] == users
        finally:
            third.engine.dispose()


_THEN_RUNS: list[str] = []


def _then(ctx: Context) -> str:
    """More for a template: one account fewer; answers which."""
    _THEN_RUNS.append(ctx.settings.data_dir.name)
    with ctx.sessions() as session:
        session.execute(delete(User).where(User.username == "padre.demo"))
        session.commit()
    return "padre.demo"


def test_then_is_made_once_on_a_template_of_its_own(backend: str, tmp_path: Path,
                                                    demo_templates: DemoTemplates) -> None:
    if not demo_templates.usable(backend):
        pytest.skip("postgres: the role may not create databases, so no templates are made")
    _THEN_RUNS.clear()
    with demo_templates.copy(backend, _settings(tmp_path / "plain")) as plain:
        context = build_context(plain)
        try:
            users = _counts(context)["users"]
        finally:
            context.engine.dispose()
    for name in ("a", "b"):
        with demo_templates.copy(backend, _settings(tmp_path / name), _then) as copied:
            assert demo_templates.then_answer == "padre.demo"
            context = build_context(copied)
            try:
                assert _counts(context)["users"] == users - 1
                with context.sessions() as session:
                    assert session.scalar(select(User.id).where(User.username == "padre.demo")) is None
            finally:
                context.engine.dispose()
    assert len(_THEN_RUNS) == 1  # once, on the template: not on each copy
    with demo_templates.copy(backend, _settings(tmp_path / "again")) as again:  # the plain template is untouched
        assert demo_templates.then_answer is None
        context = build_context(again)
        try:
            assert _counts(context)["users"] == users
        finally:
            context.engine.dispose()


def test_a_copy_holds_what_migrating_and_seeding_makes(backend: str, ctx: Context, tmp_path: Path) -> None:
    location: dict[str, str] = {}
    admin = None
    if backend == "postgresql":  # a schema of its own in the shared test database, migrated and seeded here
        admin = create_engine(os.environ[PG_ENV], isolation_level="AUTOCOMMIT")
        schema = scratch_name(SCHEMA_PREFIX)
        location = {"database_url": os.environ[PG_ENV], "database_schema": schema}
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    fresh = build_context(_settings(tmp_path / "fresh", **location))
    try:
        with fresh.sessions() as session:
            seed(session, ctx=fresh)
        assert _counts(ctx) == _counts(fresh)
        assert sorted(p.name for p in ctx.settings.data_dir.iterdir()) == \
            sorted(p.name for p in fresh.settings.data_dir.iterdir())
    finally:
        fresh.engine.dispose()
        if admin is not None:
            with admin.connect() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()


@pytest.mark.postgres
def test_copies_in_a_row_are_new_databases_and_close_leaves_none(tmp_path: Path) -> None:
    """Copies made ahead (SPARES) are each one test's; what a worker's templates made, spares too, is gone after
    ``close()``."""
    url = os.environ.get(PG_ENV)
    if not url:
        pytest.skip(f"postgres: set {PG_ENV} to check the copies")

    made: list[str] = []

    class Recording(DemoTemplates):
        def _new_name(self) -> str:
            made.append(super()._new_name())
            return made[-1]

    admin = create_engine(url, isolation_level="AUTOCOMMIT")

    def existing() -> set[str]:
        with admin.connect() as conn:
            return set(conn.execute(text("SELECT datname FROM pg_database")).scalars())

    templates = Recording(tmp_path / "templates", url)
    try:
        used = []
        for name in "abcd":
            with templates.copy("postgresql", _settings(tmp_path / name)) as copied:
                used.append(copied.resolved_database_url)
        assert len(set(used)) == 4
        assert templates.made == 1
    finally:
        templates.close()
    try:
        assert len(made) == 1 + 4 + SPARES  # the template, the copies used, those made ahead
        assert not set(made) & existing()
    finally:
        admin.dispose()


@pytest.mark.postgres
def test_what_a_killed_run_left_is_dropped_and_a_running_one_is_kept() -> None:
    url = os.environ.get(PG_ENV)
    if not url:
        pytest.skip(f"postgres: set {PG_ENV} to check the sweep")
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],  # a process id that has ended
                          check=True, capture_output=True, text=True).stdout.strip()
    left = {"DATABASE": f"{PG_PREFIX}{dead}_{secrets.token_hex(6)}",
            "SCHEMA": f"{SCHEMA_PREFIX}{dead}_{secrets.token_hex(6)}"}
    kept = {"DATABASE": scratch_name(PG_PREFIX), "SCHEMA": scratch_name(SCHEMA_PREFIX)}
    other = "carnet_testing_notes"  # not a name tests make: never touched
    admin = create_engine(url, isolation_level="AUTOCOMMIT")

    def names() -> set[str]:
        with admin.connect() as conn:
            return set(conn.execute(text("SELECT datname FROM pg_database UNION ALL "
                                         "SELECT nspname FROM pg_namespace")).scalars())

    try:
        with admin.connect() as conn:
            for kind, name in [*left.items(), *kept.items(), ("SCHEMA", other)]:
                conn.execute(text(f'CREATE {kind} "{name}"'))
        dropped = sweep_leftovers(url)
        assert set(left.values()) <= set(dropped)
        assert not set(left.values()) & names()
        assert {*kept.values(), other} <= names()
    finally:
        with admin.connect() as conn:
            for kind, name in [*left.items(), *kept.items(), ("SCHEMA", other)]:
                suffix = " WITH (FORCE)" if kind == "DATABASE" else " CASCADE"
                conn.execute(text(f'DROP {kind} IF EXISTS "{name}"{suffix}'))
        admin.dispose()
