"""Privacy: users.privacy_version / privacy_accepted_at, privacy_acceptances (the record of each
acceptance), account_closure_requests (at most one open per user); audit_log's actor index becomes
(actor_id, at) for the write rate limit.

Columns are added and dropped with plain ALTER TABLE (SQLite >= 3.35 drops columns itself): a
batch rebuild of ``users`` on SQLite would drop the table, and its ON DELETE CASCADE would empty
the tables that point at it. Existing users get no accepted version: guardians accept the notice at
their next login. The audit_log indexes are changed with plain CREATE/DROP INDEX (no batch mode: on SQLite a batch
would rebuild the table and lose its append-only triggers from 0006).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("users", sa.Column("privacy_version", sa.String(length=32), nullable=True))
    op.add_column("users", sa.Column("privacy_accepted_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "privacy_acceptances",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("version", sa.String(length=32), nullable=False),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_privacy_acceptances_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_privacy_acceptances")),
        sa.UniqueConstraint("user_id", "version", name=op.f("uq_privacy_acceptances_user_id")),
    )
    op.create_index(op.f("ix_privacy_acceptances_user_id"), "privacy_acceptances", ["user_id"], unique=False)
    op.create_table(
        "account_closure_requests",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by_id", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(
            ["decided_by_id"],
            ["users.id"],
            name=op.f("fk_account_closure_requests_decided_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_account_closure_requests_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_closure_requests")),
    )
    op.create_index(op.f("ix_account_closure_requests_user_id"), "account_closure_requests", ["user_id"], unique=False)
    op.create_index(
        "uq_account_closure_requests_open",
        "account_closure_requests",
        ["user_id"],
        unique=True,
        postgresql_where=sa.text("status = 'solicitada'"),
        sqlite_where=sa.text("status = 'solicitada'"),
    )
    op.create_index("ix_audit_log_actor_id_at", "audit_log", ["actor_id", "at"], unique=False)
    op.drop_index("ix_audit_log_actor_id", table_name="audit_log")


def downgrade() -> None:
    op.create_index("ix_audit_log_actor_id", "audit_log", ["actor_id"], unique=False)
    op.drop_index("ix_audit_log_actor_id_at", table_name="audit_log")
    op.drop_index("uq_account_closure_requests_open", table_name="account_closure_requests")
    op.drop_index(op.f("ix_account_closure_requests_user_id"), table_name="account_closure_requests")
    op.drop_table("account_closure_requests")
    op.drop_index(op.f("ix_privacy_acceptances_user_id"), table_name="privacy_acceptances")
    op.drop_table("privacy_acceptances")
    op.drop_column("users", "privacy_accepted_at")
    op.drop_column("users", "privacy_version")
