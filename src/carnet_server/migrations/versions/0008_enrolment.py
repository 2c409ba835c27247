"""Enrolment: users.must_change_password (temporary passwords), the registry's fields on patients (name
parts, sex, agregado médico, oncologist, blood group, allergies, catheter, a search key) with a unique
NSS + agregado, the relationship and phone on guardian links, guardian_invitations (activation codes,
hashed) and patient_corrections (the record's history).

Columns are added and dropped with plain ALTER TABLE, as in 0007 (a batch rebuild of ``users`` or
``patients`` on SQLite would cascade deletes into the tables pointing at them); indexes on a column are
dropped before the column. Existing children keep their rows and get no name parts: the registry fills
them on their first correction.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-14
"""

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_PATIENT_COLUMNS: tuple[tuple[str, sa.types.TypeEngine[Any]], ...] = (
    ("given_names", sa.String(length=60)),
    ("paternal_surname", sa.String(length=60)),
    ("maternal_surname", sa.String(length=60)),
    ("sex", sa.String(length=8)),
    ("agregado", sa.String(length=8)),
    ("treating_oncologist", sa.String(length=120)),
    ("blood_group", sa.String(length=3)),
    ("allergies", sa.Text()),
    ("central_venous_catheter", sa.Boolean()),
    ("name_key", sa.String(length=200)),
)
_LINK_COLUMNS: tuple[tuple[str, sa.types.TypeEngine[Any]], ...] = (
    ("relationship", sa.String(length=40)),
    ("phone", sa.String(length=20)),
    ("linked_at", sa.DateTime(timezone=True)),
)


def upgrade() -> None:
    op.add_column("users", sa.Column("must_change_password", sa.Boolean(), server_default=sa.false(), nullable=False))
    for name, type_ in _PATIENT_COLUMNS:
        op.add_column("patients", sa.Column(name, type_, nullable=True))
    op.create_index(
        "uq_patients_nss_agregado",
        "patients",
        ["nss", "agregado"],
        unique=True,
        postgresql_where=sa.text("agregado IS NOT NULL"),
        sqlite_where=sa.text("agregado IS NOT NULL"),
    )
    op.create_index("ix_patients_name_key", "patients", ["name_key"], unique=False)
    for name, type_ in _LINK_COLUMNS:
        op.add_column("guardian_patients", sa.Column(name, type_, nullable=True))
    op.create_table(
        "guardian_invitations",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("patient_id", sa.String(length=32), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("full_name", sa.String(length=120), nullable=False),
        sa.Column("relationship", sa.String(length=40), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("created_by_id", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("used_by_id", sa.String(length=32), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_guardian_invitations_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patients.id"],
            name=op.f("fk_guardian_invitations_patient_id_patients"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["used_by_id"], ["users.id"], name=op.f("fk_guardian_invitations_used_by_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_guardian_invitations")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_guardian_invitations_code_hash")),
    )
    op.create_index(op.f("ix_guardian_invitations_patient_id"), "guardian_invitations", ["patient_id"], unique=False)
    op.create_table(
        "patient_corrections",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("patient_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("field", sa.String(length=32), nullable=False),
        sa.Column("old_value", sa.Text(), nullable=True),
        sa.Column("new_value", sa.Text(), nullable=True),
        sa.Column("changed_by_id", sa.String(length=32), nullable=True),
        sa.Column("changed_by_name", sa.String(length=120), nullable=False),
        sa.Column("changed_by_role", sa.String(length=16), nullable=True),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["changed_by_id"],
            ["users.id"],
            name=op.f("fk_patient_corrections_changed_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patients.id"],
            name=op.f("fk_patient_corrections_patient_id_patients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patient_corrections")),
    )
    op.create_index(op.f("ix_patient_corrections_patient_id"), "patient_corrections", ["patient_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_patient_corrections_patient_id"), table_name="patient_corrections")
    op.drop_table("patient_corrections")
    op.drop_index(op.f("ix_guardian_invitations_patient_id"), table_name="guardian_invitations")
    op.drop_table("guardian_invitations")
    for name, _type in reversed(_LINK_COLUMNS):
        op.drop_column("guardian_patients", name)
    op.drop_index("ix_patients_name_key", table_name="patients")
    op.drop_index("uq_patients_nss_agregado", table_name="patients")
    for name, _type in reversed(_PATIENT_COLUMNS):
        op.drop_column("patients", name)
    op.drop_column("users", "must_change_password")
