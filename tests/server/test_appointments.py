"""Appointments: every role, no cross-family access, bad input 422 with nothing changed, .ics, demo data."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from carnet_contract.models import Appointment as AppointmentOut
from carnet_server.agenda.tables import Appointment
from carnet_server.audit import AuditEntry
from carnet_server.context import Context
from carnet_server.db import utcnow
from carnet_server.patients.tables import Cycle
from tests.server.conftest import assert_error

Auth = Callable[[str], dict[str, str]]
MX = ZoneInfo("America/Mexico_City")
FAMILY = {"kind": "consulta", "title": "Consulta de Nutrición", "starts_at": "2027-03-01T10:00:00-06:00",
          "ends_at": "2027-03-01T10:30:00-06:00", "place": "Consulta externa"}


def rows(ctx: Context) -> list[tuple[Any, ...]]:
    """Every appointment's content, to show that a refused request changed nothing."""
    with ctx.sessions() as session:
        return [tuple(r) for r in session.execute(select(
            Appointment.id, Appointment.title, Appointment.starts_at, Appointment.ends_at, Appointment.status,
            Appointment.revision, Appointment.notes).order_by(Appointment.id))]


def listed(client: TestClient, headers: dict[str, str], patient_id: str, **params: str) -> list[dict[str, Any]]:
    response = client.get(f"/api/v1/patients/{patient_id}/appointments", headers=headers, params=params)
    assert response.status_code == 200, response.text
    return list(response.json())


def first_of(client: TestClient, headers: dict[str, str], patient_id: str, source: str) -> dict[str, Any]:
    return next(a for a in listed(client, headers, patient_id) if a["source"] == source)


# ---- guardians ----------------------------------------------------------------------


def test_guardian_lists_own_child_in_time_order(client: TestClient, auth: Auth, patient_ids: dict[str, str]) -> None:
    mateo = patient_ids["Mateo Hernández"]
    items = listed(client, auth("madre.demo"), mateo)
    assert len(items) >= 25
    for item in items:
        AppointmentOut.model_validate(item)
        assert item["patient_id"] == mateo
        assert item["starts_at"].endswith("Z") or item["starts_at"].endswith("+00:00")
    starts = [datetime.fromisoformat(i["starts_at"]) for i in items]
    assert starts == sorted(starts)
    assert {i["kind"] for i in items} >= {"quimioterapia", "consulta", "laboratorio", "estudio", "otro"}


def test_from_to_filter(client: TestClient, auth: Auth, patient_ids: dict[str, str]) -> None:
    headers, mateo = auth("madre.demo"), patient_ids["Mateo Hernández"]
    everything = listed(client, headers, mateo)
    day = datetime.fromisoformat(everything[5]["starts_at"]).astimezone(MX).date().isoformat()
    one_day = listed(client, headers, mateo, **{"from": day, "to": day})
    assert one_day and all(datetime.fromisoformat(i["starts_at"]).astimezone(MX).date().isoformat() == day
                           for i in one_day)
    start = everything[5]["starts_at"]
    after = listed(client, headers, mateo, **{"from": start.replace("Z", "+00:00")})
    assert after[0]["id"] == everything[5]["id"]


@pytest.mark.parametrize("params, code", [
    ({"from": "mañana"}, "invalid_range"),
    ({"from": "2026-13-01"}, "invalid_range"),
    ({"from": "2026-01-01T10:00:00"}, "invalid_range"),  # naive
    ({"from": "2026-02-01", "to": "2026-01-01"}, "invalid_range"),
    ({"from": "2026-01-01", "to": "2027-06-01"}, "range_too_long"),
    ({"from": "0001-01-01T00:00:00+05:00"}, "date_out_of_range"),  # test_date_bounds.py
    ({"from": "x" * 41}, "validation_error"),
])
def test_bad_ranges_are_422(client: TestClient, auth: Auth, patient_ids: dict[str, str], params: dict[str, str],
                            code: str) -> None:
    url = f"/api/v1/patients/{patient_ids['Mateo Hernández']}/appointments"
    assert_error(client.get(url, params=params, headers=auth("madre.demo")), 422, code)
    assert_error(client.get(url + ".ics", params=params, headers=auth("madre.demo")), 422, code)


def test_guardian_creates_family_appointment(client: TestClient, ctx: Context, auth: Auth,
                                             patient_ids: dict[str, str]) -> None:
    response = client.post(f"/api/v1/patients/{patient_ids['Mateo Hernández']}/appointments", json=FAMILY,
                           headers=auth("madre.demo"))
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["source"] == "familia" and body["status"] == "programada" and body["revision"] == 0
    assert body["starts_at"] == "2027-03-01T16:00:00Z" and body["ends_at"] == "2027-03-01T16:30:00Z"
    fetched = client.get(f"/api/v1/appointments/{body['id']}", headers=auth("madre.demo"))
    assert fetched.json() == body
    with ctx.sessions() as session:
        assert session.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "appointment.create", AuditEntry.object_id == body["id"])) == 1


@pytest.mark.parametrize("change, code", [
    ({"kind": "quimioterapia"}, "kind_not_allowed"),
    ({"kind": "banco_de_sangre"}, "kind_not_allowed"),
    ({"cycle_id": "abc"}, "cycle_not_allowed"),
    ({"unit_id": "no-such-unit"}, "unknown_unit"),
    ({"starts_at": "1999-03-01T10:00:00-06:00", "ends_at": "1999-03-01T10:30:00-06:00"}, "invalid_times"),
])
def test_guardian_create_refusals(client: TestClient, ctx: Context, auth: Auth, patient_ids: dict[str, str],
                                  change: dict[str, str], code: str) -> None:
    before = rows(ctx)
    response = client.post(f"/api/v1/patients/{patient_ids['Mateo Hernández']}/appointments",
                           json={**FAMILY, **change}, headers=auth("madre.demo"))
    assert_error(response, 422, code)
    assert rows(ctx) == before


@pytest.mark.parametrize("body", [
    {**FAMILY, "ends_at": "2027-03-01T09:00:00-06:00"},  # end before start
    {**FAMILY, "ends_at": "2027-03-01T10:00:00-06:00"},  # zero length
    {**FAMILY, "ends_at": "2027-03-03T10:00:00-06:00"},  # longer than 24 h
    {**FAMILY, "starts_at": "2027-03-01T10:00:00"},  # naive
    {**FAMILY, "colour": "red"},  # unknown field
    {**FAMILY, "title": "x" * 121},
    {**FAMILY, "title": "   "},
    {**FAMILY, "kind": "cirugia"},
    {**FAMILY, "notes": "n" * 1001},
    {**FAMILY, "starts_at": "mañana"},
    {k: v for k, v in FAMILY.items() if k != "title"},
    [],
])
def test_bad_bodies_are_422_and_change_nothing(client: TestClient, ctx: Context, auth: Auth,
                                               patient_ids: dict[str, str], body: object) -> None:
    before = rows(ctx)
    response = client.post(f"/api/v1/patients/{patient_ids['Mateo Hernández']}/appointments", json=body,
                           headers=auth("madre.demo"))
    assert_error(response, 422, "validation_error")
    assert rows(ctx) == before
    english = client.post(f"/api/v1/patients/{patient_ids['Mateo Hernández']}/appointments", json=body,
                          headers={**auth("madre.demo"), "Accept-Language": "en"})
    assert assert_error(english, 422)["message"].startswith("Please check")


def test_guardian_patch_and_delete_own(client: TestClient, ctx: Context, auth: Auth,
                                       patient_ids: dict[str, str]) -> None:
    headers = auth("madre.demo")
    created = client.post(f"/api/v1/patients/{patient_ids['Mateo Hernández']}/appointments", json=FAMILY,
                          headers=headers).json()
    url = f"/api/v1/appointments/{created['id']}"
    moved = client.patch(url, json={"starts_at": "2027-03-02T11:00:00-06:00", "ends_at": "2027-03-02T11:30:00-06:00"},
                         headers=headers)
    assert moved.status_code == 200, moved.text
    assert moved.json()["status"] == "reprogramada" and moved.json()["revision"] == 1
    assert moved.json()["starts_at"] == "2027-03-02T17:00:00Z"
    explicit = client.patch(url, json={"starts_at": "2027-03-02T10:00:00-06:00", "status": "confirmada"},
                            headers=headers).json()
    assert explicit["status"] == "confirmada" and explicit["revision"] == 2
    assert explicit["ends_at"] == "2027-03-02T17:30:00Z"
    same = client.patch(url, json={"title": FAMILY["title"]}, headers=headers).json()
    assert same["revision"] == 2  # nothing changed, nothing bumped
    before = rows(ctx)
    assert_error(client.patch(url, json={"ends_at": "2027-03-02T09:00:00-06:00"}, headers=headers), 422,
                 "invalid_times")
    assert_error(client.patch(url, json={"title": None}, headers=headers), 422, "null_field")
    assert_error(client.patch(url, json={"status": "perdida"}, headers=headers), 422, "validation_error")
    assert_error(client.patch(url, json={"starts_at": "2027-03-02T09:00:00"}, headers=headers), 422)
    assert rows(ctx) == before
    assert client.delete(url, headers=headers).status_code == 204
    assert_error(client.get(url, headers=headers), 404, "appointment_not_found")
    assert_error(client.delete(url, headers=headers), 404, "appointment_not_found")


def test_guardian_may_not_change_hospital_appointments(client: TestClient, ctx: Context, auth: Auth,
                                                       patient_ids: dict[str, str]) -> None:
    headers = auth("madre.demo")
    hospital = first_of(client, headers, patient_ids["Mateo Hernández"], "hospital")
    before = rows(ctx)
    error = assert_error(client.patch(f"/api/v1/appointments/{hospital['id']}", json={"notes": "x"},
                                      headers=headers), 403, "hospital_appointment")
    assert "hospital" in error["message"]
    assert_error(client.delete(f"/api/v1/appointments/{hospital['id']}", headers=headers), 403,
                 "hospital_appointment")
    assert rows(ctx) == before


def test_guardian_never_reaches_another_family(client: TestClient, ctx: Context, auth: Auth,
                                               patient_ids: dict[str, str]) -> None:
    madre = auth("madre.demo")
    for other, owner in (("Santiago Ramírez", "padre.demo"), ("Camila Torres", "luis.torres")):
        patient = patient_ids[other]
        theirs = listed(client, auth(owner), patient)
        ids = [theirs[0]["id"]] + [a["id"] for a in theirs if a["source"] == "familia"][:1]
        before = rows(ctx)
        assert_error(client.get(f"/api/v1/patients/{patient}/appointments", headers=madre), 404, "patient_not_found")
        assert_error(client.get(f"/api/v1/patients/{patient}/appointments.ics", headers=madre), 404,
                     "patient_not_found")
        assert_error(client.post(f"/api/v1/patients/{patient}/appointments", json=FAMILY, headers=madre), 404,
                     "patient_not_found")
        assert_error(client.post(f"/api/v1/patients/{patient}/appointments", json=FAMILY,
                                 headers={**madre, "Idempotency-Key": f"k-{owner}"}), 404, "patient_not_found")
        for appointment_id in ids:
            url = f"/api/v1/appointments/{appointment_id}"
            assert_error(client.get(url, headers=madre), 404, "appointment_not_found")
            assert_error(client.get(url + ".ics", headers=madre), 404, "appointment_not_found")
            assert_error(client.patch(url, json={"notes": "x"}, headers=madre), 404, "appointment_not_found")
            assert_error(client.delete(url, headers=madre), 404, "appointment_not_found")
        assert rows(ctx) == before


@pytest.mark.parametrize("bad_id", ["nope", "x" * 300, "%00", "..%2F..", "a b"])
def test_unknown_ids_are_404(client: TestClient, auth: Auth, bad_id: str) -> None:
    headers = auth("admin.demo")
    assert_error(client.get(f"/api/v1/appointments/{bad_id}", headers=headers), 404)
    assert_error(client.get(f"/api/v1/patients/{bad_id}/appointments", headers=headers), 404)
    assert_error(client.post(f"/api/v1/patients/{bad_id}/appointments", json=FAMILY, headers=headers), 404)


def test_needs_login(client: TestClient, patient_ids: dict[str, str]) -> None:
    assert_error(client.get(f"/api/v1/patients/{patient_ids['Mateo Hernández']}/appointments"), 401)
    assert_error(client.post(f"/api/v1/patients/{patient_ids['Mateo Hernández']}/appointments", json=FAMILY), 401)


# ---- staff ------------------------------------------------------------------------


def test_case_desk_manages_hospital_appointments_of_its_units(client: TestClient, ctx: Context, auth: Auth,
                                                             patient_ids: dict[str, str]) -> None:
    staff, mateo = auth("casos.demo"), patient_ids["Mateo Hernández"]
    with ctx.sessions() as session:
        cycle = session.scalar(select(Cycle).where(Cycle.patient_id == mateo, Cycle.status == "programado")
                               .order_by(Cycle.scheduled_for.desc()))
        other_cycle = session.scalar(select(Cycle.id).where(Cycle.patient_id != mateo))
    assert cycle is not None
    chemo = {**FAMILY, "kind": "quimioterapia", "title": "Quimioterapia extra", "cycle_id": cycle.id}
    created = client.post(f"/api/v1/patients/{mateo}/appointments", json=chemo, headers=staff)
    assert created.status_code == 201, created.text
    assert created.json()["source"] == "hospital" and created.json()["cycle_id"] == cycle.id
    before = rows(ctx)
    assert_error(client.post(f"/api/v1/patients/{mateo}/appointments", json={**chemo, "cycle_id": other_cycle},
                             headers=staff), 422, "unknown_cycle")
    assert rows(ctx) == before
    url = f"/api/v1/appointments/{created.json()['id']}"
    patched = client.patch(url, json={"status": "confirmada", "notes": "Traer carnet"}, headers=staff)
    assert patched.status_code == 200 and patched.json()["revision"] == 1
    family = client.post(f"/api/v1/patients/{mateo}/appointments", json=FAMILY, headers=auth("madre.demo")).json()
    assert_error(client.patch(f"/api/v1/appointments/{family['id']}", json={"notes": "x"}, headers=staff), 403,
                 "family_appointment")
    assert client.delete(url, headers=staff).status_code == 204
    # Santiago's unit (León) is not the case desk's: invisible.
    assert_error(client.get(f"/api/v1/patients/{patient_ids['Santiago Ramírez']}/appointments", headers=staff),
                 404, "patient_not_found")
    with ctx.sessions() as session:
        actions = set(session.scalars(select(AuditEntry.action).where(AuditEntry.actor_role == "case_desk")))
    assert {"appointment.create", "appointment.update", "appointment.delete"} <= actions


def test_staff_reads_are_audited(client: TestClient, ctx: Context, auth: Auth, patient_ids: dict[str, str]) -> None:
    staff, mateo = auth("casos.demo"), patient_ids["Mateo Hernández"]
    items = listed(client, staff, mateo)
    assert client.get(f"/api/v1/appointments/{items[0]['id']}", headers=staff).status_code == 200
    assert client.get(f"/api/v1/appointments/{items[0]['id']}.ics", headers=staff).status_code == 200
    with ctx.sessions() as session:
        reads = list(session.execute(select(AuditEntry.object_type, AuditEntry.object_id)
                                     .where(AuditEntry.action == "appointments.read")))
    assert ("patient", mateo) in reads and reads.count(("appointment", items[0]["id"])) == 2
    listed(client, auth("madre.demo"), mateo)
    with ctx.sessions() as session:
        assert session.scalar(select(func.count()).select_from(AuditEntry)
                              .where(AuditEntry.action == "appointments.read")) == 3


def test_admin_creates_for_any_unit(client: TestClient, auth: Auth, patient_ids: dict[str, str]) -> None:
    response = client.post(f"/api/v1/patients/{patient_ids['Santiago Ramírez']}/appointments",
                           json={**FAMILY, "kind": "banco_de_sangre"}, headers=auth("admin.demo"))
    assert response.status_code == 201 and response.json()["source"] == "hospital"


@pytest.mark.parametrize("username", ["farmacia.demo", "banco.demo"])
def test_pharmacy_and_blood_bank_cannot_write(client: TestClient, ctx: Context, auth: Auth,
                                              patient_ids: dict[str, str], username: str) -> None:
    headers, mateo = auth(username), patient_ids["Mateo Hernández"]
    before = rows(ctx)
    assert_error(client.post(f"/api/v1/patients/{mateo}/appointments", json=FAMILY, headers=headers), 403,
                 "forbidden")
    hospital = first_of(client, headers, mateo, "hospital")  # reading their units' patients is allowed
    assert_error(client.patch(f"/api/v1/appointments/{hospital['id']}", json={"notes": "x"}, headers=headers), 403)
    assert_error(client.delete(f"/api/v1/appointments/{hospital['id']}", headers=headers), 403)
    assert rows(ctx) == before


# ---- .ics -------------------------------------------------------------------------


def test_ics_of_the_list_has_the_right_times(client: TestClient, auth: Auth, patient_ids: dict[str, str]) -> None:
    headers, mateo = auth("madre.demo"), patient_ids["Mateo Hernández"]
    items = {i["id"]: i for i in listed(client, headers, mateo)}
    response = client.get(f"/api/v1/patients/{mateo}/appointments.ics", headers=headers)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/calendar")
    calendar = icalendar.Calendar.from_ical(response.content)
    assert str(calendar["X-WR-CALNAME"]) == "Citas de Mateo Hernández"
    events = list(calendar.walk("VEVENT"))
    assert {str(e["UID"]).split("@")[0] for e in events} == set(items)
    for event in events:
        item = items[str(event["UID"]).split("@")[0]]
        start = event.decoded("dtstart")
        assert str(start.tzinfo) == "America/Mexico_City"
        assert start.astimezone(UTC) == datetime.fromisoformat(item["starts_at"])
        assert event.decoded("dtend").astimezone(UTC) == datetime.fromisoformat(item["ends_at"])
        assert str(event["SUMMARY"]) == item["title"]
        assert (str(event["STATUS"]) == "CANCELLED") == (item["status"] == "cancelada")
    chemo = next(e for e in events if str(e["SUMMARY"]).startswith("Quimioterapia"))
    assert chemo.decoded("dtstart").hour == 8 and chemo.decoded("dtend").hour == 13
    one = client.get(f"/api/v1/appointments/{chemo['UID'].split('@')[0]}.ics", headers=headers)
    assert [str(e["UID"]) for e in icalendar.Calendar.from_ical(one.content).walk("VEVENT")] == [str(chemo["UID"])]


# ---- demo data --------------------------------------------------------------------


def test_demo_appointments_are_realistic(ctx: Context) -> None:
    today = ctx.today(utcnow())
    with ctx.sessions() as session:
        appointments = list(session.scalars(select(Appointment)))
        cycles = {c.id: c for c in session.scalars(select(Cycle))}
    patients = {a.patient_id for a in appointments}
    assert len(patients) == 5
    for patient_id in patients:
        mine = [a for a in appointments if a.patient_id == patient_id]
        days = [(a.starts_at.astimezone(MX).date() - today).days for a in mine]
        assert min(days) <= -150 and max(days) >= 150
        assert {a.kind for a in mine} >= {"quimioterapia", "consulta", "laboratorio", "estudio"}
    chemo = [a for a in appointments if a.kind == "quimioterapia"]
    assert {a.cycle_id for a in chemo} == set(cycles)
    for a in chemo:
        local = a.starts_at.astimezone(MX)
        assert local.date() == cycles[a.cycle_id].scheduled_for and local.hour == 8  # type: ignore[index]
        assert a.ends_at - a.starts_at == timedelta(hours=5)
    now = utcnow()
    for a in appointments:
        assert a.status in (("realizada", "cancelada") if a.ends_at < now - timedelta(days=1)
                            else ("programada", "confirmada", "reprogramada", "cancelada"))
    statuses = {a.status for a in appointments}
    assert {"realizada", "cancelada", "reprogramada", "programada", "confirmada"} <= statuses
    assert sum(a.source == "familia" for a in appointments) >= 2
    assert any("140-Bis" in a.title for a in appointments)
    assert any("médula ósea" in a.title for a in appointments)
    labs = [a for a in appointments if a.kind == "laboratorio" and a.source == "hospital"]
    assert labs and all(a.starts_at.astimezone(MX).hour == 7 for a in labs)
