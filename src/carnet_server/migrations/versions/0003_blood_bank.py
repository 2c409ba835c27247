"""Blood bank: banks, weekly slot templates, slots, donor bookings, the folio counter.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "blood_bank_folio_counters",
        sa.Column("year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("year", name=op.f("pk_blood_bank_folio_counters")),
    )
    op.create_table(
        "blood_banks",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("unit_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("address", sa.String(length=300), nullable=False),
        sa.Column("phone", sa.String(length=40), nullable=False),
        sa.Column("instructions", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["unit_id"], ["medical_units.id"], name=op.f("fk_blood_banks_unit_id_medical_units")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_blood_banks")),
    )
    with op.batch_alter_table("blood_banks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_blood_banks_unit_id"), ["unit_id"], unique=False)

    op.create_table(
        "slot_templates",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("bank_id", sa.String(length=32), nullable=False),
        sa.Column("weekday", sa.Integer(), nullable=False),
        sa.Column("start", sa.Time(), nullable=False),
        sa.Column("end", sa.Time(), nullable=False),
        sa.Column("slot_minutes", sa.Integer(), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["bank_id"], ["blood_banks.id"], name=op.f("fk_slot_templates_bank_id_blood_banks"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_slot_templates")),
    )
    with op.batch_alter_table("slot_templates", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_slot_templates_bank_id"), ["bank_id"], unique=False)

    op.create_table(
        "slots",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("bank_id", sa.String(length=32), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("booked", sa.Integer(), nullable=False),
        sa.Column("closed", sa.Boolean(), nullable=False),
        sa.CheckConstraint("booked >= 0 AND booked <= capacity", name=op.f("ck_slots_booked_within_capacity")),
        sa.ForeignKeyConstraint(
            ["bank_id"], ["blood_banks.id"], name=op.f("fk_slots_bank_id_blood_banks"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_slots")),
        sa.UniqueConstraint("bank_id", "starts_at", name="uq_slots_bank_id_starts_at"),
    )
    op.create_table(
        "blood_bank_bookings",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("folio", sa.String(length=20), nullable=False),
        sa.Column("slot_id", sa.String(length=32), nullable=False),
        sa.Column("patient_id", sa.String(length=32), nullable=False),
        sa.Column("guardian_id", sa.String(length=32), nullable=True),
        sa.Column("donor_full_name", sa.String(length=120), nullable=False),
        sa.Column("donor_phone", sa.String(length=20), nullable=False),
        sa.Column("donor_birth_date", sa.Date(), nullable=False),
        sa.Column("donor_weight_kg", sa.Float(), nullable=False),
        sa.Column("donor_sex", sa.String(length=8), nullable=False),
        sa.Column("donor_last_donation_on", sa.Date(), nullable=True),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("checked_in_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("appointment_id", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["appointment_id"],
            ["appointments.id"],
            name=op.f("fk_blood_bank_bookings_appointment_id_appointments"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["guardian_id"], ["users.id"], name=op.f("fk_blood_bank_bookings_guardian_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_blood_bank_bookings_patient_id_patients"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["slot_id"], ["slots.id"], name=op.f("fk_blood_bank_bookings_slot_id_slots")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_blood_bank_bookings")),
        sa.UniqueConstraint("folio", name=op.f("uq_blood_bank_bookings_folio")),
    )
    with op.batch_alter_table("blood_bank_bookings", schema=None) as batch_op:
        batch_op.create_index("ix_blood_bank_bookings_patient_id_status", ["patient_id", "status"], unique=False)
        batch_op.create_index(batch_op.f("ix_blood_bank_bookings_slot_id"), ["slot_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("blood_bank_bookings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_blood_bank_bookings_slot_id"))
        batch_op.drop_index("ix_blood_bank_bookings_patient_id_status")

    op.drop_table("blood_bank_bookings")
    op.drop_table("slots")
    with op.batch_alter_table("slot_templates", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_slot_templates_bank_id"))

    op.drop_table("slot_templates")
    with op.batch_alter_table("blood_banks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_blood_banks_unit_id"))

    op.drop_table("blood_banks")
    op.drop_table("blood_bank_folio_counters")
