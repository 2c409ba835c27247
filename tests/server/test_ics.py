"""carnet_contract.ics: the .ics export parses back with the right times, UIDs and statuses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import icalendar
import pytest

from carnet_contract import models as contract
from carnet_contract.ics import build_calendar, event_uid

MX = ZoneInfo("America/Mexico_City")
NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
UNIT = contract.Unit(id="u1", name="UMAE Hospital de Pediatría CMN Siglo XXI", level="umae", state="Ciudad de México")


def make(appointment_id: str = "ap-1", *, start: datetime, hours: float = 1, **fields: object) -> contract.Appointment:
    values: dict[str, object] = {
        "id": appointment_id, "patient_id": "p1", "kind": contract.AppointmentKind.CONSULTA,
        "title": "Consulta de Oncología pediátrica", "starts_at": start,
        "ends_at": start + timedelta(hours=hours), "status": contract.AppointmentStatus.PROGRAMADA,
        "source": contract.AppointmentSource.HOSPITAL, "revision": 0, "updated_at": NOW,
    }
    values.update(fields)
    return contract.Appointment.model_validate(values)


def events(data: bytes) -> list[icalendar.Event]:
    calendar = icalendar.Calendar.from_ical(data)
    return list(calendar.walk("VEVENT"))


@pytest.mark.parametrize("start_utc, local", [
    # Mexico City dropped DST in October 2022: UTC-6 all year, summer and winter.
    (datetime(2023, 1, 15, 14, 0, tzinfo=UTC), datetime(2023, 1, 15, 8, 0)),
    (datetime(2023, 7, 15, 14, 0, tzinfo=UTC), datetime(2023, 7, 15, 8, 0)),
    (datetime(2025, 4, 6, 14, 0, tzinfo=UTC), datetime(2025, 4, 6, 8, 0)),  # was a DST day before 2023
    (datetime(2026, 10, 25, 5, 30, tzinfo=UTC), datetime(2026, 10, 24, 23, 30)),  # previous local day
])
def test_times_are_local_mexico_city_and_convert_back_to_utc(start_utc: datetime, local: datetime) -> None:
    data = build_calendar([make(start=start_utc, hours=5)], name="Agenda", now=NOW)
    assert b"BEGIN:VTIMEZONE" in data and b"TZID:America/Mexico_City" in data
    (event,) = events(data)
    start, end = event.decoded("dtstart"), event.decoded("dtend")
    assert start.replace(tzinfo=None) == local
    assert str(start.tzinfo) == "America/Mexico_City"
    assert start.utcoffset() == timedelta(hours=-6)
    assert start.astimezone(UTC) == start_utc
    assert end.astimezone(UTC) == start_utc + timedelta(hours=5)
    assert event["DTSTART"].params["TZID"] == "America/Mexico_City"


def test_offset_input_is_converted() -> None:
    start = datetime(2024, 2, 1, 9, 0, tzinfo=timezone(timedelta(hours=-6)))
    (event,) = events(build_calendar([make(start=start)], name="Agenda", now=NOW))
    assert event.decoded("dtstart").replace(tzinfo=None) == datetime(2024, 2, 1, 9, 0)


def test_fields_uid_sequence_and_names() -> None:
    appointment = make("ap-42", start=datetime(2025, 3, 10, 14, tzinfo=UTC), unit=UNIT,
                       place="Hospital de Día, piso 2", notes="Llevar biometría; en ayuno",
                       kind=contract.AppointmentKind.LABORATORIO, revision=3,
                       status=contract.AppointmentStatus.CONFIRMADA)
    data = build_calendar([appointment], name="Agenda de Mateo", now=NOW)
    calendar = icalendar.Calendar.from_ical(data)
    assert str(calendar["X-WR-CALNAME"]) == "Agenda de Mateo"
    (event,) = calendar.walk("VEVENT")
    assert str(event["UID"]) == "ap-42@carnet.imss" == event_uid("ap-42")
    assert int(event["SEQUENCE"]) == 3
    assert event.decoded("dtstamp") == NOW
    assert str(event["SUMMARY"]) == "Consulta de Oncología pediátrica"
    assert str(event["LOCATION"]) == "Hospital de Día, piso 2, UMAE Hospital de Pediatría CMN Siglo XXI"
    description = str(event["DESCRIPTION"])
    assert "Laboratorio" in description and "Llevar biometría; en ayuno" in description
    assert str(event["STATUS"]) == "CONFIRMED"


def test_uid_is_stable_across_revisions_and_exports() -> None:
    start = datetime(2025, 3, 10, 14, tzinfo=UTC)
    first = events(build_calendar([make(start=start)], name="A", now=NOW))[0]
    moved = make(start=start + timedelta(days=2), revision=1, status=contract.AppointmentStatus.REPROGRAMADA)
    second = events(build_calendar([moved], name="A", now=NOW + timedelta(days=1)))[0]
    assert str(first["UID"]) == str(second["UID"])
    assert int(second["SEQUENCE"]) > int(first["SEQUENCE"])
    assert str(second["STATUS"]) == "TENTATIVE"


@pytest.mark.parametrize("status, expected", [
    (contract.AppointmentStatus.PROGRAMADA, "TENTATIVE"),
    (contract.AppointmentStatus.CONFIRMADA, "CONFIRMED"),
    (contract.AppointmentStatus.REPROGRAMADA, "TENTATIVE"),
    (contract.AppointmentStatus.REALIZADA, "CONFIRMED"),
    (contract.AppointmentStatus.CANCELADA, "CANCELLED"),
])
def test_status_mapping(status: contract.AppointmentStatus, expected: str) -> None:
    data = build_calendar([make(start=NOW, status=status)], name="A", now=NOW)
    assert str(events(data)[0]["STATUS"]) == expected


def test_one_event_per_appointment_and_empty_calendar() -> None:
    many = [make(f"ap-{i}", start=NOW + timedelta(days=i)) for i in range(5)]
    uids = {str(e["UID"]) for e in events(build_calendar(many, name="A", now=NOW))}
    assert uids == {f"ap-{i}@carnet.imss" for i in range(5)}
    empty = icalendar.Calendar.from_ical(build_calendar([], name="Vacía", now=NOW))
    assert list(empty.walk("VEVENT")) == [] and str(empty["X-WR-CALNAME"]) == "Vacía"
