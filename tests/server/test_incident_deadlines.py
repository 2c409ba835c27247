"""First-response deadlines: absolute (UTC) time, shown in Mexico City time across day and DST boundaries.

Mexico City kept DST until 2022: on Sunday 3 April 2022 at 02:00 clocks went to
03:00 (CST −6 → CDT −5); on Sunday 30 October 2022 at 02:00 back to 01:00.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from carnet_server.context import Context
from carnet_server.incidents import deadlines
from carnet_server.incidents.figures import week_bounds
from carnet_server.settings import Settings
from tests.server.incident_support import read_at, report_at, reply_at

MX = ZoneInfo("America/Mexico_City")


def mx(*args: int) -> datetime:
    return datetime(*args, tzinfo=MX)  # type: ignore[misc]


def test_defaults_and_overrides(tmp_path: object) -> None:
    hours = deadlines.deadline_hours()
    assert hours == {"medicamento": 4, "insumo": 8, "banco_de_sangre": 12, "carnet_digital": 24,
                     "atencion_medica": 24, "licencia_140_bis": 48, "otro": 48}
    assert min(hours, key=hours.__getitem__) == "medicamento"
    assert deadlines.deadline_hours({"medicamento": 2})["medicamento"] == 2
    assert Settings(incident_deadline_hours={"otro": 72}).incident_deadline_hours == {"otro": 72}
    for bad in ({"farmacia": 4}, {"medicamento": 0}, {"medicamento": -1}):
        with pytest.raises(ValidationError):
            Settings(incident_deadline_hours=bad)


def test_settings_read_the_json_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CARNET_INCIDENT_DEADLINE_HOURS", '{"medicamento": 2, "insumo": 6}')
    assert Settings().incident_deadline_hours == {"medicamento": 2, "insumo": 6}


def test_due_is_absolute_across_the_autumn_dst_change() -> None:
    hours = deadlines.deadline_hours()
    created = mx(2022, 10, 29, 22, 0)  # CDT, UTC−5: 03:00 UTC on the 30th
    assert created.utcoffset() == timedelta(hours=-5)
    due = deadlines.due_at(created, "medicamento", hours)
    assert due == datetime(2022, 10, 30, 7, 0, tzinfo=UTC) and due - created == timedelta(hours=4)
    shown = deadlines.local(due, MX)
    assert (shown.date(), shown.hour, shown.utcoffset()) == (date(2022, 10, 30), 1, timedelta(hours=-6))
    # 24 h after noon on the Saturday is 11:00 on the Sunday local time (the clock went back an hour).
    day = deadlines.local(deadlines.due_at(mx(2022, 10, 29, 12, 0), "carnet_digital", hours), MX)
    assert (day.date(), day.hour) == (date(2022, 10, 30), 11)


def test_due_is_absolute_across_the_spring_dst_change() -> None:
    hours = deadlines.deadline_hours()
    created = mx(2022, 4, 2, 23, 0)  # CST, UTC−6
    due = deadlines.due_at(created, "medicamento", hours)
    assert due == datetime(2022, 4, 3, 9, 0, tzinfo=UTC)
    shown = deadlines.local(due, MX)
    assert (shown.date(), shown.hour, shown.utcoffset()) == (date(2022, 4, 3), 4, timedelta(hours=-5))


def test_weeks_span_167_or_169_hours_across_dst() -> None:
    for monday, length in ((date(2022, 3, 28), 167), (date(2022, 10, 24), 169), (date(2026, 11, 23), 168)):
        lo, hi = week_bounds(monday, MX)
        assert (hi - lo) == timedelta(hours=length)
        assert lo.astimezone(MX).hour == 0 and hi.astimezone(MX).hour == 0


def test_seconds_left_and_overdue_across_local_midnight(ctx: Context, patient_ids: dict[str, str]) -> None:
    created = mx(2026, 11, 25, 22, 30)  # no DST any more: UTC−6
    incident = report_at(ctx, "madre.demo", patient_ids["Mateo Hernández"], created.astimezone(UTC))
    due = read_at(ctx, incident, created).first_response_due_at
    assert due == datetime(2026, 11, 26, 8, 30, tzinfo=UTC)
    assert deadlines.local(due, MX).date() == date(2026, 11, 26)  # due the next local day, 02:30
    at_midnight = read_at(ctx, incident, mx(2026, 11, 26, 0, 0))
    assert (at_midnight.seconds_left, at_midnight.overdue) == (2 * 3600 + 1800, False)
    on_time = read_at(ctx, incident, due)
    assert (on_time.seconds_left, on_time.overdue) == (0, False)
    late = read_at(ctx, incident, due + timedelta(seconds=1))
    assert (late.seconds_left, late.overdue) == (-1, True)
    reply_at(ctx, incident, due + timedelta(hours=1))  # answered late
    answered = read_at(ctx, incident, due + timedelta(days=3))
    assert (answered.seconds_left, answered.overdue, answered.status) == (None, False, "en_atencion")
    assert answered.first_response_at == due + timedelta(hours=1)


def test_overdue_across_the_2022_dst_change(ctx: Context, patient_ids: dict[str, str]) -> None:
    created = mx(2022, 10, 29, 23, 30)  # CDT
    incident = report_at(ctx, "madre.demo", patient_ids["Mateo Hernández"], created, category="insumo",
                         item_name="Catéter")
    out = read_at(ctx, incident, created)
    assert out.first_response_due_at == datetime(2022, 10, 30, 12, 30, tzinfo=UTC)
    assert out.first_response_due_at - out.created_at == timedelta(hours=8)
    assert out.created_at == created  # the same instant (stored in UTC)
    # 06:30 local on the Sunday is 12:30 UTC (CST): 8 h after 23:30 CDT, though the wall clock moved 7 h.
    assert read_at(ctx, incident, mx(2022, 10, 30, 6, 29)).overdue is False
    assert read_at(ctx, incident, mx(2022, 10, 30, 6, 29)).seconds_left == 60
    assert read_at(ctx, incident, mx(2022, 10, 30, 6, 31)).overdue is True


def test_configured_deadline_and_the_folio_year_is_local(ctx: Context, patient_ids: dict[str, str]) -> None:
    created = mx(2022, 12, 31, 23, 30)  # already 2023 in UTC
    incident = report_at(ctx, "madre.demo", patient_ids["Mateo Hernández"], created,
                         deadline_hours={"medicamento": 2})
    out = read_at(ctx, incident, created)
    assert out.folio.startswith("CE-2022-") and out.first_response_due_at - out.created_at == timedelta(hours=2)
