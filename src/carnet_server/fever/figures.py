"""Hora Dorada weekly figures per unit (oncology and case desk: their units; admin: all).

The week is the one of incidents/figures.py (Monday 00:00 to Monday 00:00, Mexico City). An episode counts
in the week its family alert was created, at the unit it went to; steps count when recorded before the
cut-off (the week's end, or now for the current week), so a past week's report never changes:

* ``episodes``: fever episodes created in the week: the family's alerts and those the unit's staff opened for a
  child who came without one (``opened_at_unit``);
* ``arrived``: of those, with an arrival recorded;
* ``within_60``: with the first antibiotic at most 60 minutes after arrival;
* ``share_within_60``: ``within_60 / arrived`` (None when none arrived);
* ``median_minutes_to_antibiotic``: arrival → first antibiotic, over those with both;
* ``without_antibiotic``: episodes of the week without a recorded antibiotic at the cut-off.
"""

from __future__ import annotations

import csv
import io
import statistics
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from carnet_contract import models as contract
from carnet_contract.models import GOLDEN_HOUR_MINUTES, FeverOrigin, Role
from carnet_server.auth.service import Principal
from carnet_server.domain_errors import NotAllowed
from carnet_server.fever.service import STAFF, audit_action
from carnet_server.fever.tables import FeverEpisode
from carnet_server.incidents.figures import week_bounds
from carnet_server.patients.service import units_of
from carnet_server.patients.tables import MedicalUnit

__all__ = ["to_csv", "to_markdown", "weekly"]

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


class _Tally:
    def __init__(self) -> None:
        self.episodes = 0
        self.arrived = 0
        self.within = 0
        self.minutes: list[float] = []
        self.with_antibiotic = 0
        self.at_unit = 0

    def add(self, row: FeverEpisode, cut: datetime) -> None:
        self.episodes += 1
        if row.origin == FeverOrigin.UNIDAD.value:
            self.at_unit += 1
        arrived = row.arrived_at if row.arrived_at is not None and row.arrived_at < cut else None
        antibiotic = row.antibiotic_at if row.antibiotic_at is not None and row.antibiotic_at < cut else None
        if arrived is not None:
            self.arrived += 1
        if antibiotic is not None:
            self.with_antibiotic += 1
        if arrived is not None and antibiotic is not None:
            minutes = (antibiotic - arrived).total_seconds() / 60
            self.minutes.append(minutes)
            if minutes <= GOLDEN_HOUR_MINUTES:
                self.within += 1

    @property
    def share(self) -> float | None:
        return round(self.within / self.arrived, 3) if self.arrived else None

    @property
    def median(self) -> float | None:
        return round(statistics.median(self.minutes), 1) if self.minutes else None


def weekly(
    session: Session, *, principal: Principal, monday: date, tz: ZoneInfo, now: datetime, ip: str | None
) -> contract.FeverWeeklyFigures:
    """The week's figures; audited (the caller commits)."""
    if principal.role not in STAFF:
        raise NotAllowed()
    lo, hi = week_bounds(monday, tz)
    cut = min(hi, now.astimezone(UTC))
    units = (
        list(session.scalars(select(MedicalUnit).order_by(MedicalUnit.name)))
        if principal.role == Role.ADMIN
        else units_of(session, principal=principal)
    )
    ids = [u.id for u in units]
    rows = session.scalars(
        select(FeverEpisode)
        .where(FeverEpisode.unit_id.in_(ids), FeverEpisode.created_at >= lo, FeverEpisode.created_at < cut)
        .order_by(FeverEpisode.created_at, FeverEpisode.id)
    ).all()
    total = _Tally()
    by_unit = {u.id: _Tally() for u in units}
    for row in rows:
        total.add(row, cut)
        by_unit[row.unit_id].add(row, cut)
    audit_action(
        session,
        principal,
        "fever.weekly.read",
        monday.isoformat(),
        ip,
        {"week": monday.isoformat(), "units": "all" if principal.role == Role.ADMIN else sorted(ids)},
        object_type="fever_week",
    )
    return contract.FeverWeeklyFigures(
        week_start=monday,
        week_end=monday + timedelta(days=6),
        episodes=total.episodes,
        arrived=total.arrived,
        within_60=total.within,
        share_within_60=total.share,
        median_minutes_to_antibiotic=total.median,
        without_antibiotic=total.episodes - total.with_antibiotic,
        opened_at_unit=total.at_unit,
        by_unit=[
            contract.FeverUnitFigures(
                unit_id=u.id,
                unit_name=u.name,
                episodes=by_unit[u.id].episodes,
                with_antibiotic=by_unit[u.id].with_antibiotic,
                within_60=by_unit[u.id].within,
                share_within_60=by_unit[u.id].share,
                median_minutes_to_antibiotic=by_unit[u.id].median,
                without_antibiotic=by_unit[u.id].episodes - by_unit[u.id].with_antibiotic,
                opened_at_unit=by_unit[u.id].at_unit,
            )
            for u in units
        ],
    )


def _num(value: float | None) -> str:
    return "" if value is None else f"{value}"


def to_csv(figures: contract.FeverWeeklyFigures) -> str:
    """One table: ``unidad,episodios,con_antibiotico,antibiotico_en_60_min,proporcion_60_min,
    mediana_minutos_llegada_antibiotico,sin_antibiotico,abiertos_en_la_unidad`` — a row per unit, then ``Total``."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(
        [
            "semana_inicio",
            "unidad",
            "episodios",
            "con_antibiotico",
            "antibiotico_en_60_min",
            "proporcion_60_min",
            "mediana_minutos_llegada_antibiotico",
            "sin_antibiotico",
            "abiertos_en_la_unidad",
        ]
    )
    week = figures.week_start.isoformat()
    for u in figures.by_unit:
        writer.writerow(
            [
                week,
                u.unit_name,
                u.episodes,
                u.with_antibiotic,
                u.within_60,
                _num(u.share_within_60),
                _num(u.median_minutes_to_antibiotic),
                u.without_antibiotic,
                u.opened_at_unit,
            ]
        )
    writer.writerow(
        [
            week,
            "Total",
            figures.episodes,
            figures.episodes - figures.without_antibiotic,
            figures.within_60,
            _num(figures.share_within_60),
            _num(figures.median_minutes_to_antibiotic),
            figures.without_antibiotic,
            figures.opened_at_unit,
        ]
    )
    return out.getvalue()


def _long_date(day: date) -> str:
    return f"{day.day} de {_MONTHS[day.month - 1]} de {day.year}"


def _share(value: float | None) -> str:
    return "sin datos" if value is None else f"{round(value * 100)} %"


def _minutes(value: float | None) -> str:
    return "sin datos" if value is None else f"{value:.0f} min"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def to_markdown(figures: contract.FeverWeeklyFigures) -> str:
    """A Spanish summary for the weekly working-group session."""
    lines = [
        f"# Hora Dorada — semana del {_long_date(figures.week_start)} al {_long_date(figures.week_end)}",
        "",
        f"- Episodios de fiebre: **{figures.episodes}** (abiertos en la unidad, sin aviso de la familia: "
        f"**{figures.opened_at_unit}**)",
        f"- Con llegada a urgencias registrada: **{figures.arrived}**",
        f"- Antibiótico dentro de los primeros 60 minutos de la llegada: **{figures.within_60}** "
        f"({_share(figures.share_within_60)})",
        f"- Mediana de la llegada al antibiótico: **{_minutes(figures.median_minutes_to_antibiotic)}**",
        f"- Episodios sin antibiótico registrado: **{figures.without_antibiotic}**",
        "",
        "## Por unidad médica",
        "",
        "| Unidad médica | Episodios | En 60 min | Proporción | Mediana | Sin antibiótico | Abiertos en la unidad |",
        "|---|---:|---:|---:|---:|---:|---:|",
        *[
            f"| {_cell(u.unit_name)} | {u.episodes} | {u.within_60} | {_share(u.share_within_60)} | "
            f"{_minutes(u.median_minutes_to_antibiotic)} | {u.without_antibiotic} | {u.opened_at_unit} |"
            for u in figures.by_unit
        ],
        "",
        "_La meta del programa Hora Dorada: el primer antibiótico dentro de la primera hora de la llegada._",
        "",
    ]
    return "\n".join(lines)
