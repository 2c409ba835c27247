"""Bulk writing of generated rows: COPY on PostgreSQL, executemany elsewhere; sync sequence and folio counters."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Table, insert, text, update

from carnet_server.db import dialect_insert
from carnet_server.sync.service import COUNTER_ID
from carnet_server.sync.tables import SyncCounter, SyncState

__all__ = ["Writer", "analyze", "set_counters", "write_changes"]

_INSERT_CHUNK = 5000


# ---- writing -------------------------------------------------------------------------------------------


class Writer:
    """Bulk inserts: COPY on PostgreSQL, executemany in chunks elsewhere."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.copy = conn.dialect.name == "postgresql"

    def write(self, table: Table, rows: Sequence[dict[str, Any]]) -> None:
        if not rows:
            return
        if not self.copy:
            for start in range(0, len(rows), _INSERT_CHUNK):
                self.conn.execute(insert(table), list(rows[start : start + _INSERT_CHUNK]))
            return
        from psycopg.types.json import Json

        columns = list(rows[0])
        json_columns = {c for c in columns if table.c[c].type.__class__.__name__ == "JSON"}
        names = ", ".join(f'"{c}"' for c in columns)
        driver = self.conn.connection.driver_connection
        assert driver is not None  # None only once the connection is closed
        cursor = driver.cursor()
        with cursor.copy(f'COPY "{table.name}" ({names}) FROM STDIN') as copy:
            for row in rows:
                copy.write_row([Json(row[c]) if c in json_columns else row[c] for c in columns])
        cursor.close()


def _take_seq(conn: Connection, count: int) -> int:
    """Reserve ``count`` sync sequence numbers as ``sync.service`` does; returns the last one."""
    statement = (
        update(SyncCounter)
        .where(SyncCounter.id == COUNTER_ID)
        .values(value=SyncCounter.value + count)
        .returning(SyncCounter.value)
    )
    value = conn.execute(statement).scalar_one_or_none()
    if value is None:
        conn.execute(insert(SyncCounter).values(id=COUNTER_ID, value=0))
        value = conn.execute(statement).scalar_one()
    return int(value)


def set_counters(conn: Connection, table: Table, values: dict[int, int]) -> None:
    for year, value in sorted(values.items()):
        statement = dialect_insert(conn)(table).values(year=year, value=value)
        conn.execute(statement.on_conflict_do_update(index_elements=["year"], set_={"value": value}))


def write_changes(conn: Connection, writer: Writer, changes: Sequence[tuple[str, str, str]]) -> int:
    if not changes:
        return 0
    last = _take_seq(conn, len(changes))
    first = last - len(changes) + 1
    writer.write(
        SyncState.__table__,
        [
            {"type": t, "record_id": r, "patient_id": p, "seq": first + i, "deleted": False}
            for i, (t, r, p) in enumerate(changes)
        ],
    )
    return len(changes)


def analyze(engine: Any) -> None:
    """Refresh the planner's statistics after a bulk load (autovacuum would get there, later)."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("ANALYZE"))
