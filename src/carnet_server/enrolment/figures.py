"""The registry's weekly figures for the working group (oncology and case desk: their units; admin: all).

The week is the one of incidents/figures.py (Monday 00:00 to Monday 00:00, Mexico City), and the figures
are as of its end (or now, for the current week):

* ``total``: children registered before the cut-off (``patients.created_at``; children registered before
  migration 0004 have none and count as registered all along);
* ``new_this_week``: registered within the week; ``previous_total`` = ``total`` − ``new_this_week``
  ("157 más que la semana anterior");
* ``by_unit``: every unit in scope with its total and new children — by the unit the child is at *now*
  (a referral moves the child's count with it, past weeks included);
* ``units_by_level``: units with at least one registered child, UMAE and segundo nivel
  ("en 32 unidades: 14 UMAE y 18 de segundo nivel").
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from carnet_contract import enrolment as wire
from carnet_contract.models import Role, UnitLevel
from carnet_server import audit
from carnet_server.auth.service import Principal
from carnet_server.incidents.figures import week_bounds
from carnet_server.patients.service import units_of
from carnet_server.patients.tables import MedicalUnit, Patient

__all__ = ["LEVEL_LABELS", "summary", "to_csv", "to_markdown", "weekly"]

LEVEL_LABELS = {UnitLevel.UMAE.value: "UMAE", UnitLevel.SEGUNDO_NIVEL.value: "Segundo nivel"}
_MONTHS = (
    "enero",
    "febrero",
    "marzo",
    "abril",
    "mayo",
    "junio",
    "julio",
    "agosto",
    "septiembre",
    "octubre",
    "noviembre",
    "diciembre",
)


def _counts(session: Session, query: Select[str, int]) -> dict[str, int]:
    found: dict[str, int] = {}
    for unit_id, n in session.execute(query).all():
        found[unit_id] = int(n)
    return found


def weekly(
    session: Session, *, principal: Principal, monday: date, tz: ZoneInfo, now: datetime, ip: str | None
) -> wire.RegistryFigures:
    """The figures of the week starting ``monday``; audited (the caller commits)."""
    lo, hi = week_bounds(monday, tz)
    cut = min(hi, now.astimezone(UTC))
    units = (
        list(session.scalars(select(MedicalUnit).order_by(MedicalUnit.name)))
        if principal.role == Role.ADMIN
        else units_of(session, principal=principal)
    )
    ids = [u.id for u in units]
    registered = or_(Patient.created_at.is_(None), Patient.created_at < cut)
    totals = _counts(
        session,
        select(Patient.unit_id, func.count()).where(Patient.unit_id.in_(ids), registered).group_by(Patient.unit_id),
    )
    new = _counts(
        session,
        select(Patient.unit_id, func.count())
        .where(Patient.unit_id.in_(ids), Patient.created_at >= lo, Patient.created_at < cut)
        .group_by(Patient.unit_id),
    )
    by_unit = [
        wire.UnitFigures(
            unit_id=u.id,
            name=u.name,
            level=UnitLevel(u.level),
            state=u.state,
            total=totals.get(u.id, 0),
            new_this_week=new.get(u.id, 0),
        )
        for u in units
    ]
    levels = Counter(f.level.value for f in by_unit if f.total > 0)
    total, fresh = sum(f.total for f in by_unit), sum(f.new_this_week for f in by_unit)
    audit.record(
        session,
        action="registry.figures.read",
        actor_id=principal.id,
        actor_role=principal.role,
        object_type="registry_week",
        object_id=monday.isoformat(),
        ip=ip,
        detail={"week": monday.isoformat(), "units": sorted(ids) if principal.role != Role.ADMIN else "all"},
    )
    return wire.RegistryFigures(
        week_start=monday,
        week_end=monday + timedelta(days=6),
        total=total,
        new_this_week=fresh,
        previous_total=total - fresh,
        by_unit=by_unit,
        units_by_level=wire.UnitsByLevel(
            umae=levels[UnitLevel.UMAE.value], segundo_nivel=levels[UnitLevel.SEGUNDO_NIVEL.value]
        ),
    )


def to_csv(figures: wire.RegistryFigures) -> str:
    """One table: ``indicador,unidad,nivel,entidad,valor`` (UTF-8, header first)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["indicador", "unidad", "nivel", "entidad", "valor"])
    writer.writerow(["semana_inicio", "", "", "", figures.week_start.isoformat()])
    writer.writerow(["semana_fin", "", "", "", figures.week_end.isoformat()])
    writer.writerow(["pacientes_registrados", "", "", "", figures.total])
    writer.writerow(["pacientes_nuevos", "", "", "", figures.new_this_week])
    writer.writerow(["pacientes_semana_anterior", "", "", "", figures.previous_total])
    writer.writerow(["unidades_con_pacientes", "", "umae", "", figures.units_by_level.umae])
    writer.writerow(["unidades_con_pacientes", "", "segundo_nivel", "", figures.units_by_level.segundo_nivel])
    for unit in figures.by_unit:
        writer.writerow(["registrados_por_unidad", unit.name, unit.level.value, unit.state, unit.total])
        writer.writerow(["nuevos_por_unidad", unit.name, unit.level.value, unit.state, unit.new_this_week])
    return out.getvalue()


def _long_date(day: date) -> str:
    return f"{day.day} de {_MONTHS[day.month - 1]} de {day.year}"


def _count(n: int, one: str, many: str) -> str:
    return f"{n:,} {one if n == 1 else many}"


def summary(figures: wire.RegistryFigures) -> str:
    """``2,881 pacientes registrados, 157 más que la semana anterior, en 32 unidades: 14 UMAE y 18 de segundo
    nivel`` (thousands with a comma, as in Mexico)."""
    levels = figures.units_by_level
    units = levels.umae + levels.segundo_nivel
    return (
        f"{_count(figures.total, 'paciente registrado', 'pacientes registrados')}, "
        f"{figures.new_this_week:,} más que la semana anterior, "
        f"en {_count(units, 'unidad', 'unidades')}: {levels.umae:,} UMAE y {levels.segundo_nivel:,} de segundo nivel"
    )


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _row(unit: wire.UnitFigures) -> str:
    level = LEVEL_LABELS[unit.level.value]
    return f"| {_cell(unit.name)} | {level} | {_cell(unit.state)} | {unit.total:,} | {unit.new_this_week:,} |"


def to_markdown(figures: wire.RegistryFigures) -> str:
    """A Spanish summary for the weekly working-group session."""
    lines = [
        f"# Registro de pacientes — semana del {_long_date(figures.week_start)} al {_long_date(figures.week_end)}",
        "",
        summary(figures) + ".",
        "",
        "| Unidad médica | Nivel | Entidad | Registrados | Nuevos esta semana |",
        "|---|---|---|---:|---:|",
        *[_row(u) for u in figures.by_unit],
        "",
        "_Cada niño cuenta en la unidad donde se atiende hoy (una referencia lo cambia de unidad)._",
        "",
    ]
    return "\n".join(lines)
