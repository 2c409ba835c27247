"""On PostgreSQL every write statement notifies ``carnet_commits`` with its table (``schema.table``), delivered to
the listening workers when its transaction commits: each worker ends what it keeps in memory from that table
(memo.PostgresCommitWatch). SQLite needs nothing: its ``data_version`` tells the same without a trigger.

Every table of the schema gets the statement trigger; a later migration that adds a table adds its trigger
(``notify_commits``; tests/server/test_memo.py checks every table has it).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

FUNCTION = """
CREATE FUNCTION carnet_commit_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('carnet_commits', TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME);
    RETURN NULL;
END
$$
"""


def notify_commits(table: str) -> None:
    """The statement trigger that notifies the workers of a commit to ``table`` (PostgreSQL only)."""
    op.execute(
        f'CREATE TRIGGER carnet_commit_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON "{table}" '
        "FOR EACH STATEMENT EXECUTE FUNCTION carnet_commit_notify()"
    )


def _tables() -> list[str]:
    found = op.get_bind().execute(
        sa.text(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() AND tablename <> 'alembic_version' "
            "ORDER BY tablename"
        )
    )
    return list(found.scalars())


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(FUNCTION)
    for table in _tables():
        notify_commits(table)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in _tables():
        op.execute(f'DROP TRIGGER IF EXISTS carnet_commit_notify ON "{table}"')
    op.execute("DROP FUNCTION IF EXISTS carnet_commit_notify()")
