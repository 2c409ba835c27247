"""The real app over an in-process client, on SQLite and (when configured) PostgreSQL.

Each test gets a fresh data dir and a fresh database — a temporary SQLite
file, or on PostgreSQL a database of its own (``search_path`` set on every
connection to the schema in it) dropped afterwards — migrated and seeded with
the demo data. The migrated and seeded database is made once per session (and
xdist worker) and copied for each test that asks for ``ctx`` or ``limited``
(tests/support/databases.py; on PostgreSQL when the role may create
databases). A test that only asks for ``settings`` gets an empty data dir
and, on PostgreSQL, an empty schema with a random name.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy import create_engine, select, text

with warnings.catch_warnings():  # Starlette 1.x nudges towards httpx2; httpx 0.28 is pinned here
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from carnet_contract.models import SyncPage
from carnet_server.app import create_app
from carnet_server.context import Context, build_context
from carnet_server.demo import DEMO_PASSWORD, seed
from carnet_server.patients.tables import Patient
from carnet_server.settings import Settings
from tests.support.databases import DemoTemplates, SCHEMA_PREFIX, scratch_name

PG_ENV = "CARNET_TEST_DATABASE_URL"
# argon2id at its cheapest: the cost is the library's default outside tests.
FAST_ARGON2 = {"argon2_time_cost": 1, "argon2_memory_cost": 8, "argon2_parallelism": 1}


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    if request.param == "postgresql" and not os.environ.get(PG_ENV):
        pytest.skip(f"postgres: set {PG_ENV} to run the PostgreSQL variant")
    return str(request.param)


#: Fixtures that seed the demo data into the test's database: with one of them, ``settings`` hands out a copy
#: of an already seeded database and they do not seed again.
SEEDED_BY = ("ctx", "limited")
_FROM_TEMPLATE = pytest.StashKey[Settings]()
#: A test module's ``TEMPLATE_THEN(ctx) -> object``, if it has one, gives its copies more than the demo data: it
#: runs once on the module's template after the seeding, and what it answered is :func:`template_then`'s.
_THEN_ANSWER = pytest.StashKey[object]()


@pytest.fixture(scope="session")
def demo_templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoTemplates]:
    templates = DemoTemplates(tmp_path_factory.mktemp("demo-templates"), os.environ.get(PG_ENV))
    yield templates
    templates.close()


def _settings(data_dir: Path, **location: str) -> Settings:
    return Settings(data_dir=data_dir, public_url="https://carnet.example.mx", **location, **FAST_ARGON2)


@pytest.fixture
def settings(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Settings]:
    data_dir = tmp_path / "data"
    if any(name in request.fixturenames for name in SEEDED_BY):
        templates: DemoTemplates = request.getfixturevalue("demo_templates")
        if templates.usable(backend):
            then = getattr(request.module, "TEMPLATE_THEN", None)
            with templates.copy(backend, _settings(data_dir), then) as seeded:
                request.node.stash[_FROM_TEMPLATE] = seeded
                request.node.stash[_THEN_ANSWER] = templates.then_answer
                yield seeded
            return
    if backend == "sqlite":
        yield _settings(data_dir)
        return
    url = os.environ[PG_ENV]
    schema = scratch_name(SCHEMA_PREFIX)
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield _settings(data_dir, database_url=url, database_schema=schema)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def template_then(request: pytest.FixtureRequest) -> object:
    """What the module's ``TEMPLATE_THEN`` answered on the template this test's database was copied from; None
    when it was not copied from one (PostgreSQL without CREATEDB): the test makes the same itself."""
    return request.node.stash.get(_THEN_ANSWER, None)


def _seeded(request: pytest.FixtureRequest, settings: Settings) -> bool:
    """Whether ``settings`` came from a seeded template (else the caller seeds, as a module's own
    ``settings`` fixture leaves it to)."""
    return request.node.stash.get(_FROM_TEMPLATE, None) is settings


@pytest.fixture
def ctx(settings: Settings, request: pytest.FixtureRequest) -> Iterator[Context]:
    context = build_context(settings)  # the copy is at the newest migration already: this checks it
    if not _seeded(request, settings):
        with context.sessions() as session:
            seed(session, ctx=context)
    yield context
    context.engine.dispose()
    context.commits.close()


@pytest.fixture
def limited(settings: Settings, request: pytest.FixtureRequest) -> Iterator[tuple[TestClient, Context]]:
    """The demo app with at most two writes per bucket and minute."""
    context = build_context(settings.model_copy(update={"write_rate_limit": 2, "write_rate_window_seconds": 60}))
    if not _seeded(request, settings):
        with context.sessions() as session:
            seed(session, ctx=context)
    yield TestClient(create_app(context=context)), context
    context.engine.dispose()


class _TestsContext:
    """The context of the test running now, for an app the tests of a worker share (``app``): each attribute read
    (or set) is the current test's context's."""

    def __init__(self, ctx: Context) -> None:
        self.use(ctx)

    def use(self, ctx: Context) -> None:
        object.__setattr__(self, "target", ctx)

    def __getattr__(self, name: str) -> object:
        return getattr(object.__getattribute__(self, "target"), name)

    def __setattr__(self, name: str, value: object) -> None:
        setattr(object.__getattribute__(self, "target"), name, value)


#: Apps shared by the tests of this worker, by what ``create_app`` reads of the settings when it builds one.
_SHARED_APPS: dict[tuple[object, ...], tuple[FastAPI, _TestsContext]] = {}


def _shape(settings: Settings) -> tuple[object, ...]:
    return (settings.docs, settings.max_body_bytes, settings.incident_photo_max_bytes, settings.body_timeout_seconds,
            settings.trusted_proxies)


@pytest.fixture
def app(ctx: Context) -> Iterator[FastAPI]:
    """The API app over the test's own context and database — one app object per worker, reused: FastAPI resolves an
    app's routes on their first requests (~2 ms each, ~150 routes), and a new app per test spent about a third of the
    server tests' time there. What a test changes on it is undone after (dependency overrides, the idempotency
    releaser made on first use); a test that adds routes leaves it to the next test to build a new one."""
    shape = _shape(ctx.settings)
    if shape not in _SHARED_APPS:
        current = _TestsContext(ctx)
        _SHARED_APPS[shape] = (create_app(context=current), current)  # type: ignore[arg-type]
    shared, current = _SHARED_APPS[shape]
    current.use(ctx)
    routes = len(shared.router.routes)
    try:
        yield shared
    finally:
        shared.dependency_overrides.clear()
        if hasattr(shared.state, "idempotency_pending"):
            del shared.state.idempotency_pending
        if len(shared.router.routes) != routes:
            del _SHARED_APPS[shape]


@pytest.fixture
def client(app: FastAPI) -> TestClient:
    return TestClient(app)


@pytest.fixture
def patient_ids(ctx: Context) -> dict[str, str]:
    """Demo patient ids by display name (the two columns: the whole entity, with what it loads joined, took ~7 ms
    to compile on each test's new engine)."""
    with ctx.sessions() as session:
        return dict(session.execute(select(Patient.display_name, Patient.id)).all())


def login(client: TestClient, username: str, password: str = DEMO_PASSWORD) -> dict[str, object]:
    response = client.post("/api/v1/auth/login", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def access_tokens(ctx: Context, *usernames: str) -> dict[str, str]:
    """Access tokens for demo users, issued as a login issues them (a session of their own, audited) without the
    password's round trip: for tests of what a role may do, not of logging in (tests/server/test_auth.py)."""
    from carnet_server.auth.service import start_session
    from carnet_server.auth.tables import User
    from carnet_server.db import utcnow

    now = utcnow()
    with ctx.sessions() as session:
        users = {u.username: u for u in session.scalars(select(User).where(User.username.in_(usernames)))}
        tokens = {
            name: start_session(session, ctx=ctx, user=users[name], address=None, now=now).access_token
            for name in usernames
        }
        session.commit()
    return tokens


def bearer(token: object) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def auth(ctx: Context) -> Callable[[str], dict[str, str]]:
    """``auth("madre.demo")`` → headers with a fresh access token for that demo user (``access_tokens``: a session
    of their own, as a login makes it, without the login's request; tests/server/test_auth.py logs in)."""

    def make(username: str) -> dict[str, str]:
        return bearer(access_tokens(ctx, username)[username])

    return make


def sync_all(client: TestClient, headers: dict[str, str], cursor: str = "", limit: int = 1000
             ) -> tuple[list[dict[str, object]], str, list[SyncPage]]:
    """Sync to the end: every change, the last cursor, and the pages (at most 100 of them)."""
    changes: list[dict[str, object]] = []
    pages: list[SyncPage] = []
    for _ in range(100):
        response = client.get("/api/v1/sync", params={"cursor": cursor, "limit": limit}, headers=headers)
        assert response.status_code == 200, response.text
        page = SyncPage.model_validate_json(response.content)
        pages.append(page)
        changes += [c.model_dump() for c in page.changes]
        cursor = page.cursor
        if not page.has_more:
            return changes, cursor, pages
    raise AssertionError("sync did not end")


def assert_error(response: object, status: int, code: str | None = None) -> dict[str, str]:
    """The response has ``status`` and the error shape; returns the error object."""
    from httpx import Response

    assert isinstance(response, Response)
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message"}, body
    assert body["error"]["message"]
    if code is not None:
        assert body["error"]["code"] == code, body
    return dict(body["error"])
