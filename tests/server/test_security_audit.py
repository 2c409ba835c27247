"""The audit log is append-only in the database itself, and one staff read writes exactly one row."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from alembic import command
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError
from starlette.testclient import TestClient

from carnet_server import audit
from carnet_server.audit import AuditEntry
from carnet_server.context import Context
from carnet_server.db import alembic_config

Auth = Callable[[str], dict[str, str]]


@pytest.fixture(autouse=True)
def _some_rows(ctx: Context) -> None:
    """The demo seed audits nothing: append a few rows to guard."""
    with ctx.sessions() as session:
        for i in range(3):
            audit.record(session, action=f"test.row{i}", actor_role="admin", object_type="patient", object_id=str(i))
        session.commit()


def _count(ctx: Context) -> int:
    with ctx.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(AuditEntry)) or 0)


def _first_row(ctx: Context) -> tuple[int, str]:
    with ctx.engine.connect() as connection:
        row = connection.execute(text("SELECT id, action FROM audit_log ORDER BY id LIMIT 1")).one()
    return int(row[0]), str(row[1])


@pytest.mark.parametrize("statement", [
    "UPDATE audit_log SET action = 'tampered' WHERE id = :id",
    "UPDATE audit_log SET actor_id = NULL",
    "DELETE FROM audit_log WHERE id = :id",
    "DELETE FROM audit_log",
])
def test_the_database_refuses_updates_and_deletes(ctx: Context, statement: str) -> None:
    before = _count(ctx)
    row_id, action = _first_row(ctx)
    with pytest.raises(DBAPIError, match="append-only"):
        with ctx.engine.begin() as connection:
            connection.execute(text(statement), {"id": row_id})
    assert _count(ctx) == before
    assert _first_row(ctx) == (row_id, action)


def test_the_orm_cannot_change_a_row_either(ctx: Context) -> None:
    with ctx.sessions() as session:
        entry = session.scalars(select(AuditEntry).order_by(AuditEntry.id)).first()
        assert entry is not None
        entry.action = "tampered"
        with pytest.raises(DBAPIError, match="append-only"):
            session.commit()
        session.rollback()
    assert "tampered" not in {a for (a,) in _rows(ctx)}


def _rows(ctx: Context) -> list[tuple[str]]:
    with ctx.engine.connect() as connection:
        return [(str(r[0]),) for r in connection.execute(text("SELECT action FROM audit_log"))]


def test_truncate_is_refused_on_postgresql(ctx: Context, backend: str) -> None:
    if backend == "sqlite":  # no TRUNCATE there (a bare DELETE is refused, above): the triggers are in place
        with ctx.engine.connect() as connection:
            names = set(connection.execute(text(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit_log'")).scalars())
        assert names == {"audit_log_no_update", "audit_log_no_delete"}
        return
    before = _count(ctx)
    with pytest.raises(DBAPIError, match="append-only"):
        with ctx.engine.begin() as connection:
            connection.execute(text("TRUNCATE audit_log"))
    assert _count(ctx) == before


def test_appending_still_works(ctx: Context) -> None:
    before = _count(ctx)
    with ctx.sessions() as session:
        audit.record(session, action="test.append", actor_role="admin")
        session.commit()
    assert _count(ctx) == before + 1


def test_0006_downgrade_drops_the_guard_and_upgrade_restores_it(ctx: Context) -> None:
    def run(direction: str, target: str) -> None:
        config = alembic_config()
        with ctx.engine.begin() as connection:
            config.attributes["connection"] = connection
            getattr(command, direction)(config, target)

    row_id, _ = _first_row(ctx)
    run("downgrade", "0005")
    with ctx.engine.begin() as connection:  # no trigger now: the update goes through
        connection.execute(text("UPDATE audit_log SET ip = 'x' WHERE id = :id"), {"id": row_id})
    run("upgrade", "head")
    with pytest.raises(DBAPIError, match="append-only"):
        with ctx.engine.begin() as connection:
            connection.execute(text("UPDATE audit_log SET ip = 'y' WHERE id = :id"), {"id": row_id})


def test_one_staff_read_of_a_carnet_writes_exactly_one_audit_row(
        client: TestClient, auth: Auth, ctx: Context, patient_ids: dict[str, str]) -> None:
    url = f"/api/v1/patients/{patient_ids['Mateo Hernández']}/carnet"
    for username, expected in (("farmacia.demo", 1), ("casos.demo", 1), ("admin.demo", 1), ("madre.demo", 0)):
        headers = auth(username)  # the login writes its own row: count after it
        with ctx.sessions() as session:
            last = session.scalar(select(func.max(AuditEntry.id))) or 0
        assert client.get(url, headers=headers).status_code == 200
        with ctx.sessions() as session:
            rows = list(session.scalars(select(AuditEntry).where(AuditEntry.id > last)))
        assert len(rows) == expected, (username, [r.action for r in rows])
        if expected:
            assert rows[0].action == "carnet.read" and rows[0].object_id == patient_ids["Mateo Hernández"]
            assert rows[0].actor_role != "guardian" and rows[0].ip
