"""The weekly figures for the working-group session (case desk of their units, or admin).

A week is Monday 00:00 to the next Monday 00:00 in Mexico City (the configured
zone), as instants — 167 or 169 hours across a DST change. Figures are as of
the week's end (or now, for the current week), so a past week's report never
changes:

* ``new_patients``: children registered in the week (``patients.created_at``) in the units;
* ``incidents_new``, ``by_category``, ``by_status``, ``by_channel``: incidents created in the week in the
  units, by category, by their status at the cut-off (replayed from the replies) and by where they were
  reported (the app or WhatsApp); every key present;
* ``median_hours_to_first_answer`` / ``median_hours_to_atendida``: over those incidents first
  answered / first made ``atendida`` by the cut-off (None when there are none), from creation;
* ``overdue``: incidents of the units (created any time before the cut-off) still without any
  staff answer at the cut-off and past their first-response deadline;
* ``shortages``: ``medicamento`` and ``insumo`` incidents created in the week, by unit and item
  (items compared without case or surrounding spaces), most reported first.
"""

from __future__ import annotations

import csv
import io
import re
import statistics
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from carnet_contract import models as contract
from carnet_contract.models import IncidentCategory, IncidentChannel, IncidentStatus, Role
from carnet_server.auth.service import Principal
from carnet_server.dates import check_day
from carnet_server.domain_errors import Invalid, NotAllowed
from carnet_server.incidents.service import NEEDS_ITEM, audit_write
from carnet_server.incidents.tables import Incident, IncidentReply
from carnet_server.patients.service import units_of
from carnet_server.patients.tables import Patient

__all__ = [
    "CATEGORY_LABELS",
    "CHANNEL_LABELS",
    "STATUS_LABELS",
    "parse_week",
    "to_csv",
    "to_markdown",
    "week_bounds",
    "weekly",
]

DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
CATEGORY_LABELS = {
    "medicamento": "Medicamento",
    "insumo": "Insumo",
    "atencion_medica": "Atención médica",
    "licencia_140_bis": "Licencia 140-Bis",
    "carnet_digital": "Carnet digital",
    "banco_de_sangre": "Banco de sangre",
    "otro": "Otro",
}
CHANNEL_LABELS = {"app": "App", "whatsapp": "WhatsApp"}
STATUS_LABELS = {"recibida": "Recibida", "en_atencion": "En atención", "atendida": "Atendida", "reabierta": "Reabierta"}
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


def parse_week(text: str | None) -> date:
    """A Monday as ``YYYY-MM-DD``; else 422 ``invalid_week`` (outside 2000–2099: ``date_out_of_range``)."""
    if text is None or not DATE_RE.fullmatch(text):
        raise Invalid("invalid_week")
    try:
        day = date.fromisoformat(text)
    except ValueError as exc:
        raise Invalid("invalid_week") from exc
    if day.weekday() != 0:
        raise Invalid("invalid_week")
    return check_day(day)


def week_bounds(monday: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """Local Monday 00:00 to the next local Monday 00:00, as UTC instants (so differences are real hours)."""
    return (
        datetime.combine(monday, time(), tzinfo=tz).astimezone(UTC),
        datetime.combine(monday + timedelta(days=7), time(), tzinfo=tz).astimezone(UTC),
    )


def _status_at(replies: list[IncidentReply], cut: datetime) -> str:
    status = IncidentStatus.RECIBIDA.value
    for r in replies:
        if r.created_at >= cut:
            break
        if r.reopens:
            status = IncidentStatus.REABIERTA.value
        elif r.resolves:
            status = IncidentStatus.ATENDIDA.value
        else:
            status = IncidentStatus.EN_ATENCION.value
    return status


def _hours(a: datetime, b: datetime) -> float:
    return (b.astimezone(UTC) - a.astimezone(UTC)).total_seconds() / 3600


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 2) if values else None


def weekly(
    session: Session, *, principal: Principal, monday: date, tz: ZoneInfo, now: datetime, ip: str | None
) -> contract.WeeklyFigures:
    if principal.role not in (Role.CASE_DESK, Role.ADMIN):
        raise NotAllowed()
    lo, hi = week_bounds(monday, tz)
    cut = min(hi, now.astimezone(UTC))
    unit_filter = None if principal.role == Role.ADMIN else [u.id for u in units_of(session, principal=principal)]

    patients = select(Patient.id).where(Patient.created_at >= lo, Patient.created_at < hi)
    incidents = select(Incident).where(Incident.created_at < cut)
    if unit_filter is not None:
        patients = patients.where(Patient.unit_id.in_(unit_filter))
        incidents = incidents.where(Incident.unit_id.in_(unit_filter))
    new_patients = len(session.scalars(patients).all())
    rows = list(session.scalars(incidents.order_by(Incident.created_at, Incident.folio)))

    by_category = {c.value: 0 for c in IncidentCategory}
    by_status = {s.value: 0 for s in IncidentStatus}
    by_channel = {c.value: 0 for c in IncidentChannel}
    to_first: list[float] = []
    to_resolved: list[float] = []
    overdue = 0
    shortages: Counter[tuple[str, str]] = Counter()
    shown: dict[tuple[str, str], str] = {}
    for row in rows:
        replies = [r for r in row.replies if r.created_at < cut]
        staff = [r for r in replies if r.author_role != Role.GUARDIAN]
        if not staff and row.first_response_due_at < cut:
            overdue += 1
        if row.created_at < lo:
            continue
        by_category[row.category] += 1
        by_status[_status_at(replies, cut)] += 1
        by_channel[row.channel] = by_channel.get(row.channel, 0) + 1
        if staff:
            to_first.append(_hours(row.created_at, staff[0].created_at))
        resolving = next((r for r in staff if r.resolves), None)
        if resolving is not None:
            to_resolved.append(_hours(row.created_at, resolving.created_at))
        if row.category in NEEDS_ITEM and row.item_name:
            key = (row.unit.name, row.item_name.strip().casefold())
            shortages[key] += 1
            shown.setdefault(key, row.item_name.strip())
    audit_write(
        session,
        principal,
        "case_desk.weekly.read",
        monday.isoformat(),
        ip,
        {"week": monday.isoformat(), "units": sorted(unit_filter) if unit_filter is not None else "all"},
        object_type="case_desk_week",
    )
    return contract.WeeklyFigures(
        week_start=monday,
        week_end=monday + timedelta(days=6),
        new_patients=new_patients,
        incidents_new=sum(by_category.values()),
        by_category=by_category,
        by_status=by_status,
        by_channel=by_channel,
        median_hours_to_first_answer=_median(to_first),
        median_hours_to_atendida=_median(to_resolved),
        overdue=overdue,
        shortages=[
            contract.ShortageCount(unit_name=unit, item_name=shown[(unit, item)], count=n)
            for (unit, item), n in sorted(shortages.items(), key=lambda kv: (-kv[1], kv[0]))
        ],
    )


def to_csv(figures: contract.WeeklyFigures) -> str:
    """One table: ``indicador,categoria,unidad,insumo,valor`` (UTF-8, header first)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["indicador", "categoria", "unidad", "insumo", "valor"])
    writer.writerow(["semana_inicio", "", "", "", figures.week_start.isoformat()])
    writer.writerow(["semana_fin", "", "", "", figures.week_end.isoformat()])
    writer.writerow(["pacientes_nuevos", "", "", "", figures.new_patients])
    writer.writerow(["incidencias_nuevas", "", "", "", figures.incidents_new])
    for key, n in figures.by_category.items():
        writer.writerow(["incidencias_por_categoria", key, "", "", n])
    for key, n in figures.by_status.items():
        writer.writerow(["incidencias_por_estado", key, "", "", n])
    for key, n in figures.by_channel.items():
        writer.writerow(["incidencias_por_canal", key, "", "", n])
    for name, value in (
        ("mediana_horas_primera_respuesta", figures.median_hours_to_first_answer),
        ("mediana_horas_a_atendida", figures.median_hours_to_atendida),
    ):
        writer.writerow([name, "", "", "", "" if value is None else f"{value:.2f}"])
    writer.writerow(["vencidas_sin_respuesta", "", "", "", figures.overdue])
    for s in figures.shortages:
        writer.writerow(["desabasto", "", s.unit_name, s.item_name, s.count])
    return out.getvalue()


def _long_date(day: date) -> str:
    return f"{day.day} de {_MONTHS[day.month - 1]} de {day.year}"


def _hours_text(value: float | None) -> str:
    return "sin datos" if value is None else f"{value:.1f} h".replace(".", ",")


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def to_markdown(figures: contract.WeeklyFigures) -> str:
    """A readable Spanish summary for the weekly working-group session."""
    lines = [
        f"# Sesión de trabajo — semana del {_long_date(figures.week_start)} al {_long_date(figures.week_end)}",
        "",
        "## Registro en la plataforma",
        "",
        f"- Pacientes nuevos registrados: **{figures.new_patients}**",
        "",
        "## Revisión de casos específicos",
        "",
        f"- Casos nuevos recibidos: **{figures.incidents_new}**",
        f"- Mediana de tiempo a la primera respuesta: **{_hours_text(figures.median_hours_to_first_answer)}**",
        f"- Mediana de tiempo hasta «Atendida» (respuesta concreta): "
        f"**{_hours_text(figures.median_hours_to_atendida)}**",
        f"- Casos sin respuesta con plazo vencido al cierre de la semana: **{figures.overdue}**",
        "",
        "### Por categoría",
        "",
        "| Categoría | Casos |",
        "|---|---:|",
        *[f"| {CATEGORY_LABELS.get(k, k)} | {n} |" for k, n in figures.by_category.items()],
        "",
        "### Por estado al cierre",
        "",
        "| Estado | Casos |",
        "|---|---:|",
        *[f"| {STATUS_LABELS.get(k, k)} | {n} |" for k, n in figures.by_status.items()],
        "",
        "### Por canal",
        "",
        "| Canal | Casos |",
        "|---|---:|",
        *[f"| {CHANNEL_LABELS.get(k, k)} | {n} |" for k, n in figures.by_channel.items()],
        "",
        "## Desabasto reportado (medicamentos e insumos)",
        "",
    ]
    if figures.shortages:
        lines += ["| Unidad médica | Medicamento o insumo | Reportes |", "|---|---|---:|"]
        lines += [f"| {_md_cell(s.unit_name)} | {_md_cell(s.item_name)} | {s.count} |" for s in figures.shortages]
    else:
        lines.append("Sin reportes de desabasto esta semana.")
    lines += ["", "_Un caso se da por «Atendido» sólo cuando hay una respuesta contundente o solución concreta._", ""]
    return "\n".join(lines)
