"""The WhatsApp channel (links, codes, durable inbound/outbound queues, conversations), reminders
(preferences, sent), the incidents' channel and the donor's reminder consent (issue #18).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reminders_sent",
        sa.Column("key", sa.String(length=160), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_reminders_sent")),
    )
    op.create_table(
        "whatsapp_conversations",
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("last_inbound_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("throttled_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("phone", name=op.f("pk_whatsapp_conversations")),
    )
    op.create_table(
        "whatsapp_inbound",
        sa.Column("message_id", sa.String(length=128), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("message_id", name=op.f("pk_whatsapp_inbound")),
    )
    with op.batch_alter_table("whatsapp_inbound", schema=None) as batch_op:
        batch_op.create_index("ix_whatsapp_inbound_phone_received", ["phone", "received_at"], unique=False)
        batch_op.create_index("ix_whatsapp_inbound_queue", ["processed_at", "next_attempt_at"], unique=False)

    op.create_table(
        "whatsapp_outbound",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=True),
        sa.Column("session_body", sa.JSON(), nullable=True),
        sa.Column("template", sa.JSON(), nullable=True),
        sa.Column("purpose", sa.String(length=32), nullable=False),
        sa.Column("dedupe_key", sa.String(length=160), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("provider_message_id", sa.String(length=128), nullable=True),
        sa.Column("last_error", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_whatsapp_outbound")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_whatsapp_outbound_dedupe_key")),
    )
    with op.batch_alter_table("whatsapp_outbound", schema=None) as batch_op:
        batch_op.create_index("ix_whatsapp_outbound_queue", ["done_at", "next_attempt_at"], unique=False)

    op.create_table(
        "reminder_preferences",
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("kinds", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_reminder_preferences_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_reminder_preferences")),
    )
    op.create_table(
        "whatsapp_link_codes",
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_whatsapp_link_codes_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("code_hash", name=op.f("pk_whatsapp_link_codes")),
    )
    with op.batch_alter_table("whatsapp_link_codes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_whatsapp_link_codes_user_id"), ["user_id"], unique=False)

    op.create_table(
        "whatsapp_links",
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("linked_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_whatsapp_links_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_whatsapp_links")),
        sa.UniqueConstraint("phone", name=op.f("uq_whatsapp_links_phone")),
    )
    with op.batch_alter_table("blood_bank_bookings", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("donor_reminder_consent", sa.Boolean(), server_default=sa.false(), nullable=False)
        )

    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("channel", sa.String(length=16), server_default="app", nullable=False))

    with op.batch_alter_table("guardian_invitations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("whatsapp_verified", sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("guardian_invitations", schema=None) as batch_op:
        batch_op.drop_column("whatsapp_verified")

    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.drop_column("channel")

    with op.batch_alter_table("blood_bank_bookings", schema=None) as batch_op:
        batch_op.drop_column("donor_reminder_consent")

    op.drop_table("whatsapp_links")
    with op.batch_alter_table("whatsapp_link_codes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_whatsapp_link_codes_user_id"))

    op.drop_table("whatsapp_link_codes")
    op.drop_table("reminder_preferences")
    with op.batch_alter_table("whatsapp_outbound", schema=None) as batch_op:
        batch_op.drop_index("ix_whatsapp_outbound_queue")

    op.drop_table("whatsapp_outbound")
    with op.batch_alter_table("whatsapp_inbound", schema=None) as batch_op:
        batch_op.drop_index("ix_whatsapp_inbound_queue")
        batch_op.drop_index("ix_whatsapp_inbound_phone_received")

    op.drop_table("whatsapp_inbound")
    op.drop_table("whatsapp_conversations")
    op.drop_table("reminders_sent")
