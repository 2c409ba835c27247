"""WhatsApp: a number's wrong link codes are counted (never stored) and, after too many, refused for a while.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("whatsapp_conversations") as batch_op:
        batch_op.add_column(sa.Column("link_failures", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("link_failures_since", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("link_locked_until", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("whatsapp_conversations") as batch_op:
        batch_op.drop_column("link_locked_until")
        batch_op.drop_column("link_failures_since")
        batch_op.drop_column("link_failures")
