"""Emergency card QR tokens can be revoked, like the carnet's (``revoked_at``; the trust bundle lists them), and a
fever episode says who opened it (``origin``: the family's button, or the unit's staff).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("emergency_tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index(
        "ix_emergency_tokens_revoked_expires_at",
        "emergency_tokens",
        ["expires_at"],
        unique=False,
        postgresql_where=sa.text("revoked_at IS NOT NULL"),
        sqlite_where=sa.text("revoked_at IS NOT NULL"),
    )
    with op.batch_alter_table("fever_episodes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("origin", sa.String(length=8), server_default="familia", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("fever_episodes", schema=None) as batch_op:
        batch_op.drop_column("origin")
    op.drop_index("ix_emergency_tokens_revoked_expires_at", table_name="emergency_tokens")
    with op.batch_alter_table("emergency_tokens", schema=None) as batch_op:
        batch_op.drop_column("revoked_at")
