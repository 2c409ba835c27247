"""Emergency card QR tokens can be revoked, like the carnet's (``revoked_at``; the trust bundle lists them), and a
fever episode says who opened it (``origin``: the family's button, or the unit's staff), and a child has at most one
open episode (a partial unique index: two desks, or the family and a desk, opening one at the same moment).

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

#: As fever/tables.py's OPEN_WHERE when this was written (a migration does not follow later code).
OPEN_WHERE = "status IN ('avisada', 'en_urgencias', 'triage')"


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
    op.create_index(
        "uq_fever_episodes_open_patient",
        "fever_episodes",
        ["patient_id"],
        unique=True,
        postgresql_where=sa.text(OPEN_WHERE),
        sqlite_where=sa.text(OPEN_WHERE),
    )


def downgrade() -> None:
    op.drop_index("uq_fever_episodes_open_patient", table_name="fever_episodes")
    with op.batch_alter_table("fever_episodes", schema=None) as batch_op:
        batch_op.drop_column("origin")
    op.drop_index("ix_emergency_tokens_revoked_expires_at", table_name="emergency_tokens")
    with op.batch_alter_table("emergency_tokens", schema=None) as batch_op:
        batch_op.drop_column("revoked_at")
