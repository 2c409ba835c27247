"""Blood bank: why a donor was checked in on a day other than the booking's, or why a check-in was undone
(blood_bank_check_in_notes; issue #16 item 11).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "blood_bank_check_in_notes",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("booking_id", sa.String(length=32), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("actor_id", sa.String(length=32), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["booking_id"],
            ["blood_bank_bookings.id"],
            name=op.f("fk_blood_bank_check_in_notes_booking_id_blood_bank_bookings"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["users.id"], name=op.f("fk_blood_bank_check_in_notes_actor_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_blood_bank_check_in_notes")),
    )
    op.create_index(
        op.f("ix_blood_bank_check_in_notes_booking_id"), "blood_bank_check_in_notes", ["booking_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_blood_bank_check_in_notes_booking_id"), table_name="blood_bank_check_in_notes")
    op.drop_table("blood_bank_check_in_notes")
