"""What a worker keeps in memory (memo.py): the signed-in caller, the family's carnet and an empty sync page.

Never another caller's or another family's answer; every write made on this worker applies to the very next
request; a carnet is sent again only while the guardian is still linked and its QR neither revoked nor expired,
whoever changed that. "Another worker" is played by writes that go round this app's engine (a raw DBAPI
connection: no SQLAlchemy events), as a second ``--workers`` process's would.
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import create_engine, event, func, select, text

from carnet_server.audit import AuditEntry
from carnet_server.auth.service import Principal
from carnet_server.context import CARNET_TABLES, ME_TABLES, SYNC_TABLES, Context
from carnet_server.memo import (
    CommitWatch,
    MemoCache,
    PostgresCommitWatch,
    SQLiteCommitWatch,
    commit_watch,
    written_table,
)
from carnet_server.patients.tables import Cycle
from carnet_server.privacy.notices import current_version
from carnet_server.tables import metadata
from tests.server.conftest import DEMO_PASSWORD, assert_error, bearer, login, sync_all
from tests.server.memo_support import caught_up, hears_each_table

ME = "/api/v1/me"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(ctx: Context) -> Iterator[Clock]:
    clock = Clock()
    ctx.auth_cache.clock = ctx.carnet_cache.clock = ctx.sync_cache.clock = ctx.me_cache.clock = clock
    yield clock


@pytest.fixture
def lookups(ctx: Context) -> Iterator[list[str]]:
    """The session lookups the requests make (the auth query), as they happen."""
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "FROM auth_sessions" in statement:
            seen.append(statement)

    event.listen(ctx.engine, "before_cursor_execute", count)
    yield seen
    event.remove(ctx.engine, "before_cursor_execute", count)


def _elsewhere(ctx: Context, sql: str, *params: object) -> None:
    """A write that this worker's engine does not see happen: another worker's. On PostgreSQL this returns once
    this worker has heard of it (the notification's trip, milliseconds), as it would before a next request."""
    table = written_table(sql)
    caches = [c for c in (ctx.auth_cache, ctx.carnet_cache, ctx.sync_cache, ctx.me_cache) if table in c.tables]
    waits = bool(caches) and hears_each_table(ctx)
    before = [c.generation for c in caches]
    raw = ctx.engine.raw_connection()
    try:
        cursor = raw.cursor()
        paramstyle = "?" if ctx.engine.dialect.name == "sqlite" else "%s"
        cursor.execute(sql.replace("?", paramstyle), params)
        raw.commit()
    finally:
        raw.close()
    deadline = time.monotonic() + 10
    while waits and [c.generation for c in caches] == before:
        assert time.monotonic() < deadline, f"this worker never heard of the commit to {table}"
        time.sleep(0.01)


def test_a_caller_is_looked_up_once_then_remembered(client: Any, ctx: Context, lookups: list[str],
                                                    clock: Clock) -> None:
    madre = bearer(login(client, "madre.demo")["access_token"])
    for _ in range(3):
        assert client.get(ME, headers=madre).status_code == 200
    assert len(lookups) == 1
    clock.now += ctx.settings.cache_seconds  # the entry's time is up: looked up again
    assert client.get(ME, headers=madre).status_code == 200
    assert len(lookups) == 2


def test_each_token_gets_its_own_caller_and_nothing_else(client: Any) -> None:
    tokens = {name: bearer(login(client, name)["access_token"]) for name in ("madre.demo", "padre.demo")}
    ids = {name: client.get(ME, headers=headers).json()["id"] for name, headers in tokens.items()}
    assert ids["madre.demo"] != ids["padre.demo"]
    for _ in range(2):  # now from the cache
        for name, headers in tokens.items():
            assert client.get(ME, headers=headers).json()["id"] == ids[name]
    madre = tokens["madre.demo"]["Authorization"]
    assert_error(client.get(ME, headers={"Authorization": madre[:-2] + ("AA" if madre[-2:] != "AA" else "BB")}),
                 401, "invalid_token")


def test_logout_and_password_change_on_this_worker_end_cached_tokens_at_once(client: Any) -> None:
    first = bearer(login(client, "madre.demo")["access_token"])
    second = bearer(login(client, "madre.demo")["access_token"])
    for headers in (first, second):
        assert client.get(ME, headers=headers).status_code == 200
    assert client.post("/api/v1/auth/logout", headers=first).status_code == 204
    assert_error(client.get(ME, headers=first), 401)
    assert client.get(ME, headers=second).status_code == 200  # another session of hers goes on

    new_password = "otra-clave-larga-2026"
    answer = client.post("/api/v1/auth/password", headers=second,
                         json={"current_password": DEMO_PASSWORD, "new_password": new_password})
    assert answer.status_code == 204, answer.text
    assert_error(client.get(ME, headers=second), 401)


def test_another_workers_revocation_applies_here_within_the_cache_time(client: Any, ctx: Context,
                                                                      clock: Clock) -> None:
    tokens = login(client, "madre.demo")
    madre = bearer(tokens["access_token"])
    assert client.get(ME, headers=madre).status_code == 200
    _elsewhere(ctx, "UPDATE auth_sessions SET revoked_at = CURRENT_TIMESTAMP WHERE revoked_at IS NULL")
    if not hears_each_table(ctx):  # SQLite: what the design accepts, at most the cache's time
        assert client.get(ME, headers=madre).status_code == 200
        clock.now += ctx.settings.cache_seconds
    assert_error(client.get(ME, headers=madre), 401)  # PostgreSQL: as soon as the worker heard of it


def test_a_cached_refusal_is_checked_again_before_it_refuses(client: Any, ctx: Context) -> None:
    """She accepted the notice on another worker: the stale entry here would say she had not."""
    madre = bearer(login(client, "madre.demo")["access_token"])
    path = f"/api/v1/patients/{client.get(ME, headers=madre).json()['patients'][0]['id']}/carnet"
    _elsewhere(ctx, "UPDATE users SET privacy_version = NULL WHERE username = ?", "madre.demo")
    ctx.auth_cache.clear()  # (her entry from /me above said she had accepted)
    assert_error(client.get(path, headers=madre), 403, "privacy_notice_required")  # now cached, refusing
    _elsewhere(ctx, "UPDATE users SET privacy_version = ? WHERE username = ?", current_version(ctx.settings),
               "madre.demo")
    assert client.get(path, headers=madre).status_code == 200


# ---- the carnet ------------------------------------------------------------------------------------------------


def _carnet_path(client: Any, headers: dict[str, str]) -> str:
    return f"/api/v1/patients/{client.get(ME, headers=headers).json()['patients'][0]['id']}/carnet"


def _kept(client: Any, ctx: Context, path: str, headers: dict[str, str]) -> dict[str, Any]:
    """The carnet, read until this worker keeps it (the first read may issue the QR: a write, nothing kept)."""
    for _ in range(3):
        answer = client.get(path, headers=headers)
        assert answer.status_code == 200
        if ctx.carnet_cache._entries:  # noqa: SLF001 — the test looks inside
            return dict(answer.json())
    raise AssertionError("the carnet was never kept")


@pytest.fixture
def statements(ctx: Context) -> Iterator[list[str]]:
    seen: list[str] = []

    def keep(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    event.listen(ctx.engine, "before_cursor_execute", keep)
    yield seen
    event.remove(ctx.engine, "before_cursor_execute", keep)


def test_a_kept_carnet_costs_no_query_while_nothing_is_committed_else_one_lookup(
    client: Any, ctx: Context, statements: list[str]
) -> None:
    madre = bearer(login(client, "madre.demo")["access_token"])
    path = _carnet_path(client, madre)
    hears = hears_each_table(ctx)
    client.get(path, headers=madre)  # issues the QR: a write while it read, so this answer is not kept
    caught_up(ctx)
    first = client.get(path, headers=madre)
    assert first.status_code == 200 and first.headers["content-type"] == "application/json"
    statements.clear()
    again = client.get(path, headers=madre)
    assert again.status_code == 200 and again.json() == first.json()
    assert statements == []
    # anyone's commit, of anything: SQLite cannot tell what, so the kept carnet is looked up; PostgreSQL names the
    # table, none that a carnet reads
    _elsewhere(ctx, "UPDATE sync_counter SET value = value + 1")
    again = client.get(path, headers=madre)
    assert again.status_code == 200 and again.json() == first.json()
    if hears:
        assert statements == []
        _elsewhere(ctx, "UPDATE medical_units SET name = name")  # a table a carnet reads: read anew
        anew = client.get(path, headers=madre).json()
        assert anew["generated_at"] > first.json()["generated_at"] and len(statements) > 1
    else:
        assert len(statements) == 1 and "qr_tokens" in statements[0] and "guardian_patients" in statements[0]


def test_what_a_carnet_read_reads_is_what_ends_a_kept_carnet(client: Any, ctx: Context, statements: list[str]) -> None:
    """Every table the read touches is in CARNET_TABLES: a write to any of them on this worker ends the entry."""
    madre = bearer(login(client, "madre.demo")["access_token"])
    path = _carnet_path(client, madre)
    ctx.carnet_cache.clear()
    statements.clear()
    assert client.get(path, headers=madre).status_code == 200
    read = {name.strip('"') for s in statements for name in re.findall(r'(?:FROM|JOIN)\s+("?\w+"?)', s)}
    read -= {"users", "auth_sessions"}  # the caller's lookup: the auth cache's tables
    assert read and read <= set(CARNET_TABLES), read - set(CARNET_TABLES)


def test_no_family_gets_another_familys_kept_carnet(client: Any, ctx: Context) -> None:
    madre = bearer(login(client, "madre.demo")["access_token"])
    padre = bearer(login(client, "padre.demo")["access_token"])
    path = _carnet_path(client, madre)
    _kept(client, ctx, path, madre)
    assert_error(client.get(path, headers=padre), 404)
    assert client.get(_carnet_path(client, padre), headers=padre).json()["patient"]["id"] not in path


def test_unlinked_elsewhere_the_kept_carnet_is_refused_at_once(client: Any, ctx: Context) -> None:
    madre = bearer(login(client, "madre.demo")["access_token"])
    path = _carnet_path(client, madre)
    _kept(client, ctx, path, madre)
    child = path.split("/")[-2]
    _elsewhere(ctx, "DELETE FROM guardian_patients WHERE patient_id = ?", child)
    assert_error(client.get(path, headers=madre), 404)


@pytest.mark.parametrize("change", ["revoked", "expired"])
def test_a_kept_carnet_never_carries_a_revoked_or_expired_qr(client: Any, ctx: Context, change: str) -> None:
    madre = bearer(login(client, "madre.demo")["access_token"])
    path = _carnet_path(client, madre)
    token = _kept(client, ctx, path, madre)["qr"]["token"]
    if change == "revoked":
        _elsewhere(ctx, "UPDATE qr_tokens SET revoked_at = CURRENT_TIMESTAMP")
    else:
        _elsewhere(ctx, "UPDATE qr_tokens SET expires_at = ?", "2000-01-01 00:00:00")
    fresh = client.get(path, headers=madre).json()["qr"]
    assert fresh["token"] != token and fresh["expires_at"] > "2026"


def test_a_change_made_on_this_worker_is_read_at_once(client: Any, ctx: Context) -> None:
    madre = bearer(login(client, "madre.demo")["access_token"])
    path = _carnet_path(client, madre)
    before = _kept(client, ctx, path, madre)["cycles"][-1]
    with ctx.sessions() as session:  # as the mixing worker or the oncology desk would, through the ORM
        cycle = session.get(Cycle, before["id"])
        assert cycle is not None
        cycle.mixing_status = "lista" if before["mixing"]["status"] != "lista" else "pendiente"
        session.commit()
    after = client.get(path, headers=madre).json()["cycles"][-1]
    assert after["mixing"]["status"] != before["mixing"]["status"]


def test_staff_reads_are_never_kept_each_is_audited(client: Any, ctx: Context) -> None:
    madre = bearer(login(client, "madre.demo")["access_token"])
    path = _carnet_path(client, madre)
    farmacia = bearer(login(client, "farmacia.demo")["access_token"])

    def audited() -> int:
        with ctx.sessions() as session:
            return int(session.scalar(select(func.count()).where(AuditEntry.action == "carnet.read")) or 0)

    before = audited()
    for _ in range(2):
        assert client.get(path, headers=farmacia).status_code == 200
    assert audited() == before + 2


# ---- an empty sync page -----------------------------------------------------------------------------------------

SYNC = "/api/v1/sync"


def _synced(client: Any, headers: dict[str, str]) -> tuple[str, str]:
    """The cursor at the end of the family's changes and the ETag of the (empty) page after it."""
    _changes, cursor, _pages = sync_all(client, headers)
    page = client.get(SYNC, params={"cursor": cursor}, headers=headers)
    assert page.status_code == 200 and page.json()["changes"] == []
    return cursor, page.headers["ETag"]


def test_an_unchanged_sync_is_answered_from_memory(client: Any, ctx: Context, statements: list[str]) -> None:
    madre = bearer(login(client, "madre.demo")["access_token"])
    caught_up(ctx)
    cursor, etag = _synced(client, madre)
    statements.clear()
    for _ in range(3):
        again = client.get(SYNC, params={"cursor": cursor}, headers={**madre, "If-None-Match": etag})
        assert again.status_code == 304 and again.headers["ETag"] == etag
    whole = client.get(SYNC, params={"cursor": cursor}, headers=madre)  # no If-None-Match: the same page, whole
    assert whole.status_code == 200 and whole.headers["ETag"] == etag and whole.json()["cursor"] == cursor
    assert statements == []


def test_what_a_sync_page_reads_is_what_ends_a_kept_one(client: Any, ctx: Context, statements: list[str]) -> None:
    madre = bearer(login(client, "madre.demo")["access_token"])
    cursor, _etag = _synced(client, madre)
    ctx.sync_cache.clear()
    statements.clear()
    assert client.get(SYNC, params={"cursor": cursor}, headers=madre).status_code == 200
    read = {name.strip('"') for s in statements for name in re.findall(r'(?:FROM|JOIN)\s+("?\w+"?)', s)}
    read -= {"users", "auth_sessions"}
    assert read and read <= set(SYNC_TABLES), read - set(SYNC_TABLES)


def test_a_kept_empty_page_is_its_owners_alone(client: Any, ctx: Context) -> None:
    madre = bearer(login(client, "madre.demo")["access_token"])
    padre = bearer(login(client, "padre.demo")["access_token"])
    cursor, etag = _synced(client, madre)
    assert ctx.sync_cache._entries  # noqa: SLF001 — the test looks inside
    for headers in (padre, {**padre, "If-None-Match": etag}):
        assert_error(client.get(SYNC, params={"cursor": cursor}, headers=headers), 422, "invalid_cursor")
    assert_error(client.get(SYNC, params={"cursor": cursor}), 401)


def _delta(client: Any, headers: dict[str, str]) -> tuple[str, str]:
    """A cursor whose page has one change (an appointment just made), and that appointment's id."""
    cursor, _etag = _synced(client, headers)
    child = client.get(ME, headers=headers).json()["patients"][0]["id"]
    start = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(days=9)
    made = client.post(f"/api/v1/patients/{child}/appointments", headers=headers, json={
        "kind": "consulta", "title": "Dentista", "place": "Consultorio", "starts_at": start.isoformat(),
        "ends_at": (start + timedelta(hours=1)).isoformat()})
    assert made.status_code == 201, made.text
    return cursor, made.json()["id"]


def test_a_change_on_this_worker_ends_the_kept_page_at_once(client: Any, ctx: Context) -> None:
    madre = bearer(login(client, "madre.demo")["access_token"])
    cursor, made = _delta(client, madre)  # the appointment made after the empty page at this cursor was kept
    changed = client.get(SYNC, params={"cursor": cursor}, headers=madre)
    assert changed.status_code == 200 and [c["id"] for c in changed.json()["changes"]] == [made]


def test_another_workers_change_shows_within_the_cache_time(client: Any, ctx: Context, clock: Clock) -> None:
    madre = bearer(login(client, "madre.demo")["access_token"])
    cursor, etag = _synced(client, madre)
    child = client.get(ME, headers=madre).json()["patients"][0]["id"]
    _elsewhere(ctx, "UPDATE sync_state SET seq = seq + 1000000 WHERE patient_id = ?", child)
    if not hears_each_table(ctx):
        # SQLite: for the cache time, "nothing new" (a 304 carries no data: never anyone else's)
        assert client.get(SYNC, params={"cursor": cursor}, headers={**madre, "If-None-Match": etag}).status_code == 304
        clock.now += ctx.settings.cache_seconds
    changed = client.get(SYNC, params={"cursor": cursor}, headers={**madre, "If-None-Match": etag})
    assert changed.status_code == 200 and changed.json()["changes"]


def test_a_page_with_changes_asked_again_is_sent_from_memory_while_nothing_is_committed(
    client: Any, ctx: Context, statements: list[str]
) -> None:
    """The app on bad mobile data asks again for a page whose answer it lost."""
    madre = bearer(login(client, "madre.demo")["access_token"])
    hears = hears_each_table(ctx)
    cursor, made = _delta(client, madre)
    caught_up(ctx)
    first = client.get(SYNC, params={"cursor": cursor}, headers=madre)
    assert first.status_code == 200 and [c["id"] for c in first.json()["changes"]] == [made]
    statements.clear()
    again = client.get(SYNC, params={"cursor": cursor}, headers=madre)
    assert again.status_code == 200 and again.content == first.content
    assert again.headers["ETag"] == first.headers["ETag"]
    assert statements == []
    _elsewhere(ctx, "UPDATE sync_counter SET value = value + 1")  # anyone's commit: SQLite cannot tell what
    assert client.get(SYNC, params={"cursor": cursor}, headers=madre).content == first.content
    assert (statements == []) == hears
    if hears:  # PostgreSQL: a table the page reads, and it is read anew
        _elsewhere(ctx, "UPDATE sync_state SET seq = seq WHERE patient_id = ?", "nobody")
        assert client.get(SYNC, params={"cursor": cursor}, headers=madre).content == first.content
        assert statements


def test_a_kept_page_with_changes_never_reaches_a_guardian_unlinked_elsewhere(client: Any, ctx: Context) -> None:
    madre = bearer(login(client, "madre.demo")["access_token"])
    cursor, made = _delta(client, madre)
    assert made in client.get(SYNC, params={"cursor": cursor}, headers=madre).text
    child = client.get(ME, headers=madre).json()["patients"][0]["id"]
    _elsewhere(ctx, "DELETE FROM guardian_patients WHERE patient_id = ?", child)
    after = client.get(SYNC, params={"cursor": cursor}, headers=madre)
    assert after.status_code in (200, 422) and made not in after.text and child not in after.text


def test_a_kept_page_with_changes_is_its_owners_alone(client: Any, ctx: Context) -> None:
    madre = bearer(login(client, "madre.demo")["access_token"])
    padre = bearer(login(client, "padre.demo")["access_token"])
    cursor, made = _delta(client, madre)
    for _ in range(2):
        assert made in client.get(SYNC, params={"cursor": cursor}, headers=madre).text
    assert_error(client.get(SYNC, params={"cursor": cursor}, headers=padre), 422, "invalid_cursor")


# ---- who am I ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("username", ["madre.demo", "oncologia.demo"])
def test_me_is_kept_and_costs_no_query_while_quiet(client: Any, ctx: Context, statements: list[str],
                                                     username: str) -> None:
    headers = bearer(login(client, username)["access_token"])
    caught_up(ctx)  # (PostgreSQL: its listener listens, and has heard the login)
    first = client.get(ME, headers=headers)
    statements.clear()
    again = client.get(ME, headers=headers)
    assert again.status_code == 200 and again.content == first.content and statements == []
    _elsewhere(ctx, "UPDATE users SET display_name = ? WHERE username = ?", "Otro Nombre", username)
    assert client.get(ME, headers=headers).json()["id"] == first.json()["id"] and statements  # read anew


@pytest.mark.parametrize("username", ["madre.demo", "oncologia.demo"])
def test_what_me_reads_is_what_ends_a_kept_one(client: Any, ctx: Context, statements: list[str],
                                               username: str) -> None:
    headers = bearer(login(client, username)["access_token"])
    assert client.get(ME, headers=headers).status_code == 200  # the caller now in the auth cache
    ctx.me_cache.clear()
    statements.clear()
    assert client.get(ME, headers=headers).status_code == 200
    read = {name.strip('"') for s in statements for name in re.findall(r'(?:FROM|JOIN)\s+("?\w+"?)', s)}
    assert read and read <= set(ME_TABLES), read - set(ME_TABLES)


def test_a_kept_me_never_lists_a_child_unlinked_elsewhere(client: Any, ctx: Context) -> None:
    madre = bearer(login(client, "madre.demo")["access_token"])
    hears_each_table(ctx)
    children = client.get(ME, headers=madre).json()["patients"]
    assert children and client.get(ME, headers=madre).json()["patients"] == children  # kept
    _elsewhere(ctx, "DELETE FROM guardian_patients WHERE patient_id = ?", children[0]["id"])
    assert children[0]["id"] not in client.get(ME, headers=madre).text


# ---- the commit watch -------------------------------------------------------------------------------------------


def test_the_commit_watch_sees_every_connections_commit_and_nothing_else(tmp_path: Any) -> None:
    path = tmp_path / "watched.db"
    writer = sqlite3.connect(path)
    writer.execute("PRAGMA journal_mode=WAL")
    writer.execute("CREATE TABLE t (x)")
    writer.commit()
    watch = SQLiteCommitWatch(str(path))
    try:
        mark = watch.mark()
        assert mark is not None and watch.quiet_since(mark) and watch.quiet_since(watch.mark())
        writer.execute("INSERT INTO t VALUES (1)")
        assert watch.quiet_since(mark)  # not committed yet
        writer.rollback()
        assert watch.quiet_since(mark)  # rolled back: nothing happened
        writer.execute("INSERT INTO t VALUES (2)")
        writer.commit()
        assert not watch.quiet_since(mark)
        assert watch.quiet_since(watch.mark())
        reopened = watch.mark()
        watch.close()  # a new connection counts anew: an older stamp is never taken for quiet
        assert not watch.quiet_since(mark) and not watch.quiet_since(reopened)
    finally:
        watch.close()
        writer.close()
    assert not watch.quiet_since(None)


def test_a_database_the_watch_cannot_see_is_never_quiet(ctx: Context) -> None:
    memory = create_engine("sqlite://")
    try:
        blind = commit_watch(memory, on_commit=lambda _tables: None)
        assert type(blind) is CommitWatch and blind.mark() is None and not blind.quiet_since(blind.mark())
    finally:
        memory.dispose()
    kind = PostgresCommitWatch if ctx.engine.dialect.name == "postgresql" else SQLiteCommitWatch
    assert type(ctx.commits) is kind


@pytest.mark.parametrize("backend", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True)
def test_not_listening_nothing_is_quiet(ctx: Context) -> None:
    """A PostgreSQL watch that cannot reach its database (restarting, unreachable) takes nothing as quiet."""
    unreachable = create_engine(ctx.engine.url.set(host="127.0.0.1", port=1), connect_args={"connect_timeout": 1})
    heard: list[object] = []
    watch = PostgresCommitWatch(unreachable, on_commit=heard.append)
    try:
        assert watch.mark() is None and not watch.quiet_since(watch.mark()) and not heard
    finally:
        watch.close()
        unreachable.dispose()


@pytest.mark.parametrize("backend", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True)
def test_on_postgresql_every_table_tells_its_commits(ctx: Context) -> None:
    """Each table has the trigger that notifies the workers (migration 0016); a table added later needs its own."""
    with ctx.engine.connect() as conn:
        found = set(conn.execute(text(
            "SELECT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
            "WHERE t.tgname = 'carnet_commit_notify' AND c.relnamespace = current_schema()::regnamespace"
        )).scalars())
    assert found == set(metadata.tables), set(metadata.tables) ^ found


# ---- the cache by itself ----------------------------------------------------------------------------------------


def _principal(name: str) -> Principal:
    return Principal(id=name, role="guardian", display_name=name, session_id=f"s-{name}")


def test_the_cache_by_itself() -> None:
    clock = Clock()
    cache: MemoCache[str, Principal] = MemoCache(5, ["users"], max_entries=100, clock=clock)
    cache.put("a", _principal("a"), generation=cache.generation)
    assert cache.get("a") == _principal("a") and cache.get("b") is None

    # never past what it is good for (a token's own expiry)
    cache.put("short", _principal("s"), generation=cache.generation, good_for=1)
    clock.now += 1
    assert cache.get("short") is None and cache.get("a") is not None

    # a lookup that began before a write stores nothing
    began = cache.generation
    cache.clear()
    cache.put("late", _principal("l"), generation=began)
    assert cache.get("late") is None and cache.get("a") is None

    # bounded: the oldest go first
    for n in range(101):
        cache.put(str(n), _principal("x"), generation=cache.generation)
    assert cache.get("0") is None and cache.get("100") is not None

    off: MemoCache[str, Principal] = MemoCache(0, ["users"])
    off.put("a", _principal("a"), generation=off.generation)
    assert off.get("a") is None


@pytest.mark.parametrize(
    ("statement", "table"),
    [
        ('INSERT INTO auth_sessions (id) VALUES (?)', "auth_sessions"),
        ('UPDATE "users" SET active = 0', "users"),
        ("  delete from qr_tokens where jti = ?", "qr_tokens"),
        ("INSERT INTO cycles(id) VALUES (?)", "cycles"),
        ("SELECT * FROM users", None),
        ("WITH x AS (SELECT 1) SELECT * FROM x", None),
    ],
)
def test_the_table_a_statement_writes(statement: str, table: str | None) -> None:
    assert written_table(statement) == table


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_disposed_engine_takes_the_watch_s_connection_with_it(ctx: Context) -> None:
    """A file replaced after ``dispose()`` (a restore) is watched anew: no mark of the old one is quiet."""
    mark = ctx.commits.mark()
    assert ctx.commits.quiet_since(mark)
    ctx.engine.dispose()
    assert not ctx.commits.quiet_since(mark) and ctx.commits.quiet_since(ctx.commits.mark())
