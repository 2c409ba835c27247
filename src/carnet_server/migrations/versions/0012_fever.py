"""Fever episodes (Hora Dorada), the emergency card's QR tokens, and each unit's emergency service (issue #19).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "unit_emergency",
        sa.Column("unit_id", sa.String(length=32), nullable=False),
        sa.Column("phone", sa.String(length=40), nullable=False),
        sa.Column("address", sa.String(length=300), nullable=False),
        sa.Column("map_url", sa.String(length=500), nullable=True),
        sa.Column("bring", sa.JSON(), nullable=False),
        sa.Column("avoid", sa.JSON(), nullable=False),
        sa.Column("oncology_phone", sa.String(length=40), nullable=True),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["medical_units.id"], name=op.f("fk_unit_emergency_unit_id_medical_units"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("unit_id", name=op.f("pk_unit_emergency")),
    )
    op.create_table(
        "emergency_tokens",
        sa.Column("jti", sa.String(length=32), nullable=False),
        sa.Column("patient_id", sa.String(length=32), nullable=False),
        sa.Column("kid", sa.String(length=64), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("token", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_emergency_tokens_patient_id_patients"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("jti", name=op.f("pk_emergency_tokens")),
    )
    with op.batch_alter_table("emergency_tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_emergency_tokens_patient_id"), ["patient_id"], unique=False)

    op.create_table(
        "fever_episodes",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("patient_id", sa.String(length=32), nullable=False),
        sa.Column("unit_id", sa.String(length=32), nullable=False),
        sa.Column("reporter_id", sa.String(length=32), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("temperature_c", sa.Float(), nullable=False),
        sa.Column("measured_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("arrived_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("triage_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("antibiotic_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_fever_episodes_patient_id_patients"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["reporter_id"], ["users.id"], name=op.f("fk_fever_episodes_reporter_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["medical_units.id"], name=op.f("fk_fever_episodes_unit_id_medical_units")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fever_episodes")),
    )
    with op.batch_alter_table("fever_episodes", schema=None) as batch_op:
        batch_op.create_index("ix_fever_episodes_patient_id_created_at", ["patient_id", "created_at"], unique=False)
        batch_op.create_index("ix_fever_episodes_unit_id_created_at", ["unit_id", "created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("fever_episodes", schema=None) as batch_op:
        batch_op.drop_index("ix_fever_episodes_unit_id_created_at")
        batch_op.drop_index("ix_fever_episodes_patient_id_created_at")

    op.drop_table("fever_episodes")
    with op.batch_alter_table("emergency_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_emergency_tokens_patient_id"))

    op.drop_table("emergency_tokens")
    op.drop_table("unit_emergency")
