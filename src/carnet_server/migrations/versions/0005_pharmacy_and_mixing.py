"""Pharmacy and mixing: dispensations, mixing orders (the delivery queue), provider callback events;
cycles.confirmed_at; a partial index of revoked QR tokens (the pharmacy trust bundle).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("cycles", sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "dispensations",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("cycle_id", sa.String(length=32), nullable=False),
        sa.Column("patient_id", sa.String(length=32), nullable=False),
        sa.Column("items", sa.JSON(), nullable=False),
        sa.Column("jti", sa.String(length=32), nullable=False),
        sa.Column("dispensed_by_id", sa.String(length=32), nullable=True),
        sa.Column("dispensed_by_label", sa.String(length=120), nullable=False),
        sa.Column("dispensed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["cycle_id"], ["cycles.id"], name=op.f("fk_dispensations_cycle_id_cycles"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["dispensed_by_id"], ["users.id"], name=op.f("fk_dispensations_dispensed_by_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_dispensations_patient_id_patients"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dispensations")),
        sa.UniqueConstraint("cycle_id", name=op.f("uq_dispensations_cycle_id")),
    )
    op.create_index(op.f("ix_dispensations_patient_id"), "dispensations", ["patient_id"], unique=False)
    op.create_index(
        "ix_qr_tokens_revoked_expires_at",
        "qr_tokens",
        ["expires_at"],
        unique=False,
        postgresql_where=sa.text("revoked_at IS NOT NULL"),
        sqlite_where=sa.text("revoked_at IS NOT NULL"),
    )
    op.create_table(
        "mixing_orders",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("cycle_id", sa.String(length=32), nullable=False),
        sa.Column("patient_id", sa.String(length=32), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("status_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["cycle_id"], ["cycles.id"], name=op.f("fk_mixing_orders_cycle_id_cycles"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_mixing_orders_patient_id_patients"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mixing_orders")),
        sa.UniqueConstraint("cycle_id", name=op.f("uq_mixing_orders_cycle_id")),
    )
    op.create_index("ix_mixing_orders_delivery", "mixing_orders", ["delivered_at", "next_attempt_at"], unique=False)
    op.create_index(op.f("ix_mixing_orders_patient_id"), "mixing_orders", ["patient_id"], unique=False)
    op.create_table(
        "mixing_callback_events",
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("order_id", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["mixing_orders.id"],
            name=op.f("fk_mixing_callback_events_order_id_mixing_orders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_mixing_callback_events")),
    )
    op.create_index(op.f("ix_mixing_callback_events_order_id"), "mixing_callback_events", ["order_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_mixing_callback_events_order_id"), table_name="mixing_callback_events")
    op.drop_table("mixing_callback_events")
    op.drop_index(op.f("ix_mixing_orders_patient_id"), table_name="mixing_orders")
    op.drop_index("ix_mixing_orders_delivery", table_name="mixing_orders")
    op.drop_table("mixing_orders")
    op.drop_index("ix_qr_tokens_revoked_expires_at", table_name="qr_tokens")
    op.drop_index(op.f("ix_dispensations_patient_id"), table_name="dispensations")
    op.drop_table("dispensations")
    # A plain ALTER TABLE … DROP COLUMN (SQLite ≥ 3.35 too): no table copy.
    op.drop_column("cycles", "confirmed_at")
