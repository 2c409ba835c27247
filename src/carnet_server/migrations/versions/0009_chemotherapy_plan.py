"""The chemotherapy plan: the regimen catalogue (regimens, every version kept), children's measurements
(body_measurements), what a cycle was written from (regimen, phase, cycle n of N, BSA, measurements, sessions,
deferral, suspension, an optimistic-lock version, who prescribed it) and structured doses on cycle_drugs.

Doses were free text ("2000" + "mg/m²"); they become amount / unit / basis / per-basis. A migrated dose per m²
or per kg has no amount (no BSA or weight was recorded): the carnet shows its per-m²/kg figure as before. A
"× N días" suffix becomes the drug's days.

Columns are added and dropped with plain ALTER TABLE, as in 0007 and 0008.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04
"""

import re
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_CYCLE_COLUMNS: tuple[tuple[str, sa.types.TypeEngine[Any], dict[str, Any]], ...] = (
    ("phase", sa.String(length=120), {}),
    ("phase_code", sa.String(length=40), {}),
    ("phase_number", sa.Integer(), {}),
    ("phase_cycles", sa.Integer(), {}),
    ("bsa_m2", sa.Float(), {}),
    ("weight_kg", sa.Float(), {}),
    ("height_cm", sa.Float(), {}),
    ("sessions", sa.Text(), {"server_default": "", "nullable": False}),
    ("deferred_reason", sa.Text(), {}),
    ("previous_date", sa.Date(), {}),
    ("suspended_reason", sa.Text(), {}),
    ("version", sa.Integer(), {"server_default": "1", "nullable": False}),
)
_DRUG_COLUMNS: tuple[tuple[str, sa.types.TypeEngine[Any], dict[str, Any]], ...] = (
    ("code", sa.String(length=40), {}),
    ("amount", sa.Float(), {}),
    ("dose_unit", sa.String(length=8), {"server_default": "mg", "nullable": False}),
    ("basis", sa.String(length=8), {"server_default": "fixed", "nullable": False}),
    ("per_basis", sa.Float(), {"server_default": "0", "nullable": False}),
    ("computed", sa.Float(), {}),
    ("capped", sa.Boolean(), {"server_default": sa.false(), "nullable": False}),
    ("cap", sa.Float(), {}),
    ("changed_reason", sa.Text(), {}),
    ("family", sa.String(length=40), {}),
    ("days", sa.String(length=1200), {"server_default": "", "nullable": False}),
    ("home_schedule", sa.String(length=16), {}),
)
# "mg/m²", "U/m²", "mg/kg", "mg", "mg/m²/día", "mg/m²/día × 3 días"
_LEGACY_UNIT = re.compile(r"^(mg|g|mcg|U)(?:/(m²|m2|kg))?(/día)?(?:\s*×\s*(\d+)\s*días)?$")


def _structured(dose: str, unit: str) -> dict[str, Any]:
    """A free-text dose as the structured columns (unknown shapes keep their figure, as a fixed dose)."""
    try:
        figure = float(dose.replace(",", "."))
    except ValueError:
        figure = 0.0
    match = _LEGACY_UNIT.match(unit.strip())
    if match is None:
        return {
            "dose_unit": unit.strip()[:8] or "mg",
            "basis": "fixed",
            "per_basis": figure,
            "amount": None,
            "computed": None,
            "days": "1",
        }
    base, per, _daily, days = match.groups()
    basis = {"m²": "m2", "m2": "m2", "kg": "kg"}.get(per or "", "fixed")
    count = int(days) if days else 1
    return {
        "dose_unit": base,
        "basis": basis,
        "per_basis": figure,
        "amount": figure if basis == "fixed" else None,
        "computed": figure if basis == "fixed" else None,
        "days": ",".join(str(day) for day in range(1, count + 1)),
    }


def _item(old: dict[str, Any]) -> dict[str, Any]:
    """A dispensation's item (a drug as handed over) with the structured dose."""
    if not isinstance(old.get("dose"), str):
        return old
    new = _structured(old["dose"], old.get("unit", ""))
    dose = {key: new[key] for key in ("amount", "basis", "per_basis", "computed")}
    return {
        "name": old.get("name", ""),
        "route": old.get("route", ""),
        "dose": {**dose, "unit": new["dose_unit"]},
        "days": [int(day) for day in new["days"].split(",")],
    }


def _legacy_item(new: dict[str, Any]) -> dict[str, Any]:
    dose = new.get("dose")
    if not isinstance(dose, dict):
        return new
    days = ",".join(str(day) for day in new.get("days") or [])
    return {
        "name": new.get("name", ""),
        "dose": f"{dose.get('per_basis', 0):g}",
        "unit": _legacy_unit(dose.get("unit", ""), dose.get("basis", ""), days, new.get("home_schedule")),
        "route": new.get("route", ""),
    }


def _legacy_unit(unit: str, basis: str, days: str, home_schedule: str | None) -> str:
    """The free-text unit again: "mg/m²", "mg/kg", "mg"; daily at home "mg/m²/día"; days 1..N "… × N días"."""
    per = {"m2": "/m²", "kg": "/kg"}.get(basis, "")
    count = len([day for day in days.split(",") if day])
    if home_schedule == "diario":
        return f"{unit}{per}/día"
    if count > 1 and days == ",".join(str(day) for day in range(1, count + 1)):
        return f"{unit}{per}/día × {count} días"
    return f"{unit}{per}"


def _rewrite_items(convert: Any) -> None:
    connection = op.get_bind()
    dispensations = sa.table("dispensations", sa.column("id"), sa.column("items", sa.JSON()))
    for row in connection.execute(sa.select(dispensations.c.id, dispensations.c["items"])).all():
        items = [convert(item) for item in row[1] or []]
        connection.execute(dispensations.update().where(dispensations.c.id == row.id).values(items=items))


def upgrade() -> None:
    op.create_table(
        "regimens",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("example", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("phases", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_regimens_created_by_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_regimens")),
        sa.UniqueConstraint("code", "version", name="uq_regimens_code_version"),
    )
    op.create_index(op.f("ix_regimens_code"), "regimens", ["code"], unique=False)
    op.create_table(
        "body_measurements",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("patient_id", sa.String(length=32), nullable=False),
        sa.Column("measured_on", sa.Date(), nullable=False),
        sa.Column("weight_kg", sa.Float(), nullable=False),
        sa.Column("height_cm", sa.Float(), nullable=False),
        sa.Column("recorded_by", sa.String(length=32), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_body_measurements_patient_id_patients"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by"], ["users.id"], name=op.f("fk_body_measurements_recorded_by_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_body_measurements")),
    )
    op.create_index(op.f("ix_body_measurements_patient_id"), "body_measurements", ["patient_id"], unique=False)

    for name, type_, options in _CYCLE_COLUMNS:
        op.add_column(
            "cycles",
            sa.Column(
                name, type_, nullable=options.get("nullable", True), server_default=options.get("server_default")
            ),
        )
    op.add_column("cycles", sa.Column("regimen_id", sa.String(length=32), nullable=True))
    op.create_index(op.f("ix_cycles_regimen_id"), "cycles", ["regimen_id"], unique=False)
    op.add_column("cycles", sa.Column("prescribed_by", sa.String(length=32), nullable=True))
    for name, type_, options in _DRUG_COLUMNS:
        op.add_column(
            "cycle_drugs",
            sa.Column(
                name, type_, nullable=options.get("nullable", True), server_default=options.get("server_default")
            ),
        )

    connection = op.get_bind()
    drugs = sa.table(
        "cycle_drugs", *(sa.column(name) for name in ("id", "dose", "unit", *(c[0] for c in _DRUG_COLUMNS)))
    )
    for row in connection.execute(sa.select(drugs.c.id, drugs.c.dose, drugs.c.unit)).all():
        connection.execute(drugs.update().where(drugs.c.id == row.id).values(**_structured(row.dose, row.unit)))
    op.drop_column("cycle_drugs", "dose")
    op.drop_column("cycle_drugs", "unit")
    _rewrite_items(_item)


def downgrade() -> None:
    _rewrite_items(_legacy_item)
    op.add_column("cycle_drugs", sa.Column("dose", sa.String(length=32), server_default="", nullable=False))
    op.add_column("cycle_drugs", sa.Column("unit", sa.String(length=32), server_default="", nullable=False))
    connection = op.get_bind()
    drugs = sa.table(
        "cycle_drugs",
        *(
            sa.column(name)
            for name in ("id", "dose", "unit", "amount", "dose_unit", "basis", "per_basis", "days", "home_schedule")
        ),
    )
    for row in connection.execute(sa.select(drugs)).all():
        figure = f"{row.per_basis:g}"
        unit = _legacy_unit(row.dose_unit, row.basis, row.days, row.home_schedule)
        connection.execute(drugs.update().where(drugs.c.id == row.id).values(dose=figure, unit=unit))
    for name, _type, _options in reversed(_DRUG_COLUMNS):
        op.drop_column("cycle_drugs", name)
    op.drop_column("cycles", "prescribed_by")
    op.drop_index(op.f("ix_cycles_regimen_id"), table_name="cycles")
    op.drop_column("cycles", "regimen_id")
    for name, _type, _options in reversed(_CYCLE_COLUMNS):
        op.drop_column("cycles", name)
    op.drop_index(op.f("ix_body_measurements_patient_id"), table_name="body_measurements")
    op.drop_table("body_measurements")
    op.drop_index(op.f("ix_regimens_code"), table_name="regimens")
    op.drop_table("regimens")
