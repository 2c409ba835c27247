"""Blood-bank API: banks and slots, bookings, visibility (404), roles (403), staff, sync and agenda."""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from sqlalchemy import event, func, select, update
from starlette.testclient import TestClient

from carnet_server.agenda.tables import Appointment
from carnet_server.audit import AuditEntry
from carnet_server.auth.service import create_user
from carnet_server.blood_bank.tables import Booking, CheckInNote, Slot
from carnet_server.context import Context
from carnet_server.demo import DEMO_PASSWORD
from carnet_server.patients.tables import MedicalUnit, UserUnit
from carnet_server.sync.tables import SyncState
from tests.server.blood_bank_support import RAZA, bank_id, body, due_today, eligible_answers, open_day, today
from tests.server.conftest import assert_error

Auth = Callable[[str], dict[str, str]]
BOOKINGS = "/api/v1/blood-bank/bookings"


def state(ctx: Context) -> tuple[int, int, int]:
    """(bookings, places held in all slots, banco_de_sangre appointments): what a refused write must not change."""
    with ctx.sessions() as session:
        return (int(session.scalar(select(func.count()).select_from(Booking)) or 0),
                int(session.scalar(select(func.coalesce(func.sum(Slot.booked), 0))) or 0),
                int(session.scalar(select(func.count()).select_from(Appointment)
                                   .where(Appointment.kind == "banco_de_sangre")) or 0))


@pytest.fixture
def setup(client: TestClient, ctx: Context, auth: Auth, patient_ids: dict[str, str]) -> dict[str, Any]:
    madre = auth("madre.demo")
    bank = bank_id(client, madre)
    day, slots = open_day(client, ctx, madre, bank)
    return {"madre": madre, "bank": bank, "day": day, "slots": slots, "mateo": patient_ids["Mateo Hernández"],
            "camila": patient_ids["Camila Torres"]}


def book(client: TestClient, s: dict[str, Any], slot: int = 0, **changes: Any) -> dict[str, Any]:
    response = client.post(BOOKINGS, json=body(s["slots"][slot]["id"], s["mateo"], **changes), headers=s["madre"])
    assert response.status_code == 201, response.text
    return dict(response.json())


def slot_available(client: TestClient, s: dict[str, Any], index: int = 0) -> int:
    slots = client.get(f"/api/v1/blood-banks/{s['bank']}/slots", params={"date": s["day"].isoformat()},
                       headers=s["madre"]).json()
    return int(slots[index]["available"])


def staff_of(ctx: Context, unit_name: str, username: str = "banco.raza") -> None:
    with ctx.sessions() as session:
        user = create_user(session, ctx=ctx, username=username, password=DEMO_PASSWORD, role="blood_bank",
                           display_name="Q.F.B. Otra Unidad")
        session.flush()
        unit = session.scalar(select(MedicalUnit).where(MedicalUnit.name == unit_name))
        assert unit is not None
        session.add(UserUnit(user_id=user.id, unit_id=unit.id))
        session.commit()


# ---- banks, slots, questionnaire -----------------------------------------------------------


def test_every_user_lists_the_banks(client: TestClient, auth: Auth) -> None:
    for user in ("madre.demo", "banco.demo", "farmacia.demo"):
        banks = client.get("/api/v1/blood-banks", headers=auth(user)).json()
        assert len(banks) == 4 and all(b["address"] and b["instructions"] and b["unit"]["id"] for b in banks)
        # The demo's templates open Monday to Saturday: the phone offers only those days.
        assert all(b["open_weekdays"] == [0, 1, 2, 3, 4, 5] for b in banks)
    assert_error(client.get("/api/v1/blood-banks"), 401)


def test_slots_come_from_the_weekly_templates(client: TestClient, ctx: Context, setup: dict[str, Any]) -> None:
    url = f"/api/v1/blood-banks/{setup['bank']}/slots"
    for offset in range(1, 8):
        day = today(ctx) + timedelta(days=offset)
        slots = client.get(url, params={"date": day.isoformat()}, headers=setup["madre"]).json()
        assert len(slots) == {5: 4, 6: 0}.get(day.weekday(), 8), day
        if slots:
            assert slots[0]["starts_at"].endswith("13:00:00Z")  # 07:00 in Mexico City (UTC-6, no DST)
            assert all(s["capacity"] == 4 and not s["closed"] for s in slots)
    again = client.get(url, params={"date": setup["day"].isoformat()}, headers=setup["madre"]).json()
    assert [s["id"] for s in again] == [s["id"] for s in setup["slots"]]


@pytest.mark.parametrize(("date", "code"), [
    (None, "validation_error"), ("", "invalid_date"), ("2027-02-30", "invalid_date"), ("mañana", "invalid_date"),
    ("2027-1-5", "invalid_date"), ("yesterday", "invalid_date"), ("61", "date_too_far"),
])
def test_slot_dates_outside_today_to_60_days_are_422(client: TestClient, ctx: Context, setup: dict[str, Any],
                                                     date: str | None, code: str) -> None:
    if date == "yesterday":
        date = (today(ctx) - timedelta(days=1)).isoformat()
    elif date == "61":
        date = (today(ctx) + timedelta(days=61)).isoformat()
    params = {} if date is None else {"date": date}
    assert_error(client.get(f"/api/v1/blood-banks/{setup['bank']}/slots", params=params,
                            headers=setup["madre"]), 422, code)
    if code == "date_too_far":
        ok = client.get(f"/api/v1/blood-banks/{setup['bank']}/slots",
                        params={"date": (today(ctx) + timedelta(days=60)).isoformat()}, headers=setup["madre"])
        assert ok.status_code == 200


def test_unknown_bank_is_404(client: TestClient, auth: Auth) -> None:
    assert_error(client.get("/api/v1/blood-banks/nope/slots", params={"date": "2030-01-01"},
                            headers=auth("madre.demo")), 404, "blood_bank_not_found")


def test_questionnaire_in_spanish_and_english(client: TestClient, auth: Auth) -> None:
    es = client.get("/api/v1/blood-bank/questionnaire", headers=auth("madre.demo")).json()
    en = client.get("/api/v1/blood-bank/questionnaire", headers={**auth("madre.demo"), "Accept-Language": "en"}).json()
    assert [q["id"] for q in es] == [q["id"] for q in en] == list(eligible_answers())
    assert all(a["text"] != b["text"] for a, b in zip(es, en, strict=True))
    assert {q["id"]: q["eligible_answer"] for q in es} == eligible_answers()


# ---- booking ----------------------------------------------------------------------------------


def test_a_booking_takes_a_place_and_reaches_agenda_and_sync(client: TestClient, ctx: Context,
                                                             setup: dict[str, Any]) -> None:
    before = slot_available(client, setup)
    booking = book(client, setup)
    assert re.fullmatch(r"BS-20\d\d-\d{6}", booking["folio"])
    assert booking["status"] == "confirmada" and booking["patient_id"] == setup["mateo"]
    assert booking["slot"]["available"] == before - 1 == slot_available(client, setup)
    assert booking["donor"]["full_name"] == "Héctor Domínguez Ruiz" and booking["bank"]["id"] == setup["bank"]
    appointment = client.get(f"/api/v1/appointments/{booking['appointment_id']}", headers=setup["madre"]).json()
    assert appointment["kind"] == "banco_de_sangre" and appointment["status"] == "confirmada"
    assert appointment["starts_at"] == booking["slot"]["starts_at"] and appointment["title"].endswith("Héctor")
    assert booking["folio"] in appointment["notes"] and appointment["source"] == "hospital"
    changes = client.get("/api/v1/sync", params={"limit": 1000}, headers=setup["madre"]).json()["changes"]
    synced = {(c["type"], c["id"]): c["data"] for c in changes}
    assert synced[("blood_bank_booking", booking["id"])]["folio"] == booking["folio"]
    assert synced[("appointment", booking["appointment_id"])]["kind"] == "banco_de_sangre"
    assert client.get(f"{BOOKINGS}/{booking['id']}", headers=setup["madre"]).json()["folio"] == booking["folio"]
    listed = client.get(BOOKINGS, params={"patient_id": setup["mateo"]}, headers=setup["madre"]).json()
    assert booking["id"] in [b["id"] for b in listed] and len(listed) == 3  # and the two demo bookings


def test_a_booking_is_written_in_one_pass(client: TestClient, ctx: Context, setup: dict[str, Any]) -> None:
    """#20: the booking names its appointment from the start (no UPDATE after), both synced records are numbered by
    one counter update, appointment first, and the slot is read once, with its bank, in one statement (the places
    held come back from the UPDATE)."""
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(" ".join(statement.split()))

    event.listen(ctx.engine, "before_cursor_execute", seen)
    try:
        booking = book(client, setup)
    finally:
        event.remove(ctx.engine, "before_cursor_execute", seen)
    assert sum(s.startswith("UPDATE sync_counter") for s in statements) == 1
    assert not [s for s in statements if s.startswith("UPDATE blood_bank_bookings")]
    assert sum(s.startswith("SELECT slots.id") for s in statements) == 1
    assert not [s for s in statements if s.startswith(("SELECT blood_banks", "SELECT medical_units"))]
    with ctx.sessions() as session:
        row = session.get(Booking, booking["id"])
        assert row is not None and row.appointment_id == booking["appointment_id"]
        seqs = {type_: seq for type_, seq in session.execute(select(SyncState.type, SyncState.seq).where(
            SyncState.record_id.in_([booking["id"], booking["appointment_id"]])))}
    assert seqs["blood_bank_booking"] == seqs["appointment"] + 1
    assert booking["slot"]["available"] == slot_available(client, setup)
    # The answer's bank (its unit and that unit's emergency service) and slot, made from one narrow read, are the
    # booking as it is read back.
    assert booking["bank"]["unit"]["emergency"] is not None
    assert booking == client.get(f"{BOOKINGS}/{booking['id']}", headers=setup["madre"]).json()


def test_a_booking_solves_few_dependencies(app: FastAPI) -> None:
    """#20: FastAPI solves a dependency's whole tree wherever it is named, even when its value is already known (about
    10 µs a node). The write limit takes its caller from the Idempotency-Key claim and the session its context from
    the request, so a booking solves 14 (it was 22); a dependency added here should be worth its cost."""

    def nodes(dependant: Any) -> int:
        return sum(1 + nodes(sub) for sub in dependant.dependencies)

    route = next(c for c in iter_route_contexts(app.routes)
                 if c.path == BOOKINGS and "POST" in (c.methods or ()) and isinstance(c.original_route, APIRoute))
    assert nodes(route.dependant) == 14
    limit = next(d for d in route.dependant.dependencies if d.call.__name__ == "write_limit_bookings")
    assert [d.call.__name__ for d in limit.dependencies] == ["idempotency"]


def test_a_booking_at_a_bank_whose_unit_has_no_emergency_service_yet(client: TestClient, ctx: Context,
                                                                      setup: dict[str, Any]) -> None:
    """The narrow read's other case: the unit's emergency service not written yet (null in the answer)."""
    with ctx.sessions() as session:
        slot = session.get(Slot, setup["slots"][0]["id"])
        assert slot is not None and slot.bank.unit.emergency is not None
        slot.bank.unit.emergency = None
        session.commit()
    booking = book(client, setup)
    assert booking["bank"]["unit"]["emergency"] is None
    assert booking == client.get(f"{BOOKINGS}/{booking['id']}", headers=setup["madre"]).json()


def test_a_retry_with_the_same_key_books_once(client: TestClient, ctx: Context, setup: dict[str, Any]) -> None:
    headers = {**setup["madre"], "Idempotency-Key": str(uuid.uuid4())}
    payload = body(setup["slots"][0]["id"], setup["mateo"])
    first = client.post(BOOKINGS, json=payload, headers=headers)
    again = client.post(BOOKINGS, json=payload, headers=headers)
    assert first.status_code == again.status_code == 201 and first.content == again.content
    assert again.headers["Idempotent-Replayed"] == "true"
    assert slot_available(client, setup) == 3


def test_an_ineligible_donor_gets_every_reason_and_nothing_changes(client: TestClient, ctx: Context,
                                                                   setup: dict[str, Any]) -> None:
    before = state(ctx)
    answers = {**eligible_answers(), "tattoo_piercing": True, "stem_cell_relative": True}
    payload = body(setup["slots"][0]["id"], setup["mateo"], answers=answers, weight_kg=49.9,
                   birth_date=(setup["day"].replace(year=setup["day"].year - 18) + timedelta(days=1)).isoformat())
    for lang, word in (("es-MX", "trasplante"), ("en", "transplant")):
        response = client.post(BOOKINGS, json=payload, headers={**setup["madre"], "Accept-Language": lang})
        assert response.status_code == 422, response.text
        error = response.json()["error"]
        assert error["code"] == "donor_not_eligible"
        assert [r["code"] for r in error["reasons"]] == ["age", "weight", "tattoo_piercing", "stem_cell_relative"]
        assert word in error["reasons"][-1]["message"]
        assert all(r["message"] in error["message"] for r in error["reasons"])
    assert state(ctx) == before


@pytest.mark.parametrize("change", [
    {"donor": None}, {"extra": 1}, {"slot_id": None}, {"answers": "sí"}, {"donor.phone": "55-abc"},
    {"donor.weight_kg": 0}, {"donor.weight_kg": "setenta"}, {"donor.sex": "otro"}, {"donor.birth_date": "1990-13-01"},
    {"donor.full_name": "  "}, {"donor.nss": "123"}, {"answers.alcohol": "quizás"}, {"answers.alcohol": None},
    {"answers.hobby": False}, {"answers.-alcohol": None}, {"donor.last_donation_on": "future"},
])
def test_invalid_bodies_are_422_and_change_nothing(client: TestClient, ctx: Context, setup: dict[str, Any],
                                                    change: dict[str, Any]) -> None:
    payload = body(setup["slots"][0]["id"], setup["mateo"])
    ((key, value),) = change.items()
    if key.startswith("answers.-"):
        del payload["answers"][key.removeprefix("answers.-")]
    elif "." in key:
        outer, inner = key.split(".")
        if value == "future":
            value = (today(ctx) + timedelta(days=1)).isoformat()
        payload[outer][inner] = value
    elif value is None:
        del payload[key]
    else:
        payload[key] = value
    before = state(ctx)
    response = client.post(BOOKINGS, json=payload, headers=setup["madre"])
    error = assert_error(response, 422)
    assert error["code"] in ("validation_error", "answers_invalid", "last_donation_in_future")
    assert state(ctx) == before


def test_unparseable_body_is_400(client: TestClient, ctx: Context, setup: dict[str, Any]) -> None:
    response = client.post(BOOKINGS, content=b"{no json", headers={**setup["madre"], "Content-Type": "application/json"})
    assert_error(response, 400, "invalid_json")


def test_unknown_questions_or_missing_answers_are_named(client: TestClient, setup: dict[str, Any]) -> None:
    answers = {**eligible_answers(), "hobby": True}
    del answers["vaccine"]
    payload = body(setup["slots"][0]["id"], setup["mateo"], answers=answers)
    error = assert_error(client.post(BOOKINGS, json=payload, headers=setup["madre"]), 422, "answers_invalid")
    assert "vaccine" in error["message"] and "hobby" in error["message"]


def test_unknown_slot_or_child_is_404(client: TestClient, setup: dict[str, Any]) -> None:
    assert_error(client.post(BOOKINGS, json=body("nope", setup["mateo"]), headers=setup["madre"]), 404,
                 "slot_not_found")
    assert_error(client.post(BOOKINGS, json=body(setup["slots"][0]["id"], "nope"), headers=setup["madre"]), 404,
                 "patient_not_found")


def test_a_child_has_at_most_six_bookings_a_day(client: TestClient, ctx: Context, setup: dict[str, Any]) -> None:
    for i in range(6):
        book(client, setup, slot=i)
    before = state(ctx)
    response = client.post(BOOKINGS, json=body(setup["slots"][6]["id"], setup["mateo"]), headers=setup["madre"])
    assert "6" in assert_error(response, 409, "daily_limit_reached")["message"]
    assert state(ctx) == before
    other_day, slots = open_day(client, ctx, setup["madre"], setup["bank"], skip=1)
    assert client.post(BOOKINGS, json=body(slots[0]["id"], setup["mateo"]), headers=setup["madre"]).status_code == 201
    # a cancelled booking frees the day's quota
    first = client.get(BOOKINGS, params={"patient_id": setup["mateo"]}, headers=setup["madre"]).json()
    mine = next(b for b in first if b["slot"]["id"] == setup["slots"][0]["id"])
    assert client.post(f"{BOOKINGS}/{mine['id']}/cancel", headers=setup["madre"]).status_code == 200
    assert client.post(BOOKINGS, json=body(setup["slots"][6]["id"], setup["mateo"]),
                       headers=setup["madre"]).status_code == 201


def test_full_closed_and_past_slots_are_409(client: TestClient, ctx: Context, auth: Auth,
                                            setup: dict[str, Any]) -> None:
    staff = auth("banco.demo")
    slot = setup["slots"][0]["id"]
    url = f"/api/v1/blood-banks/{setup['bank']}/slots/{slot}"
    assert client.patch(url, json={"capacity": 1}, headers=staff).json()["available"] == 1
    book(client, setup)
    before = state(ctx)
    assert_error(client.post(BOOKINGS, json=body(slot, setup["mateo"]), headers=setup["madre"]), 409, "slot_full")
    assert client.patch(url, json={"capacity": 2, "closed": True}, headers=staff).json() == {
        **client.patch(url, json={}, headers=staff).json(), "available": 0, "closed": True}
    assert_error(client.post(BOOKINGS, json=body(slot, setup["mateo"]), headers=setup["madre"]), 409, "slot_closed")
    assert state(ctx) == before
    with ctx.sessions() as session:  # a slot that already started
        row = session.get_one(Slot, setup["slots"][1]["id"])
        row.starts_at -= timedelta(days=365)
        session.commit()
    assert_error(client.post(BOOKINGS, json=body(setup["slots"][1]["id"], setup["mateo"]), headers=setup["madre"]),
                 409, "slot_closed")


def test_capacity_never_drops_below_the_bookings_and_closing_keeps_them(client: TestClient, ctx: Context,
                                                                        auth: Auth, setup: dict[str, Any]) -> None:
    staff = auth("banco.demo")
    url = f"/api/v1/blood-banks/{setup['bank']}/slots/{setup['slots'][0]['id']}"
    first, second = book(client, setup), book(client, setup)
    error = assert_error(client.patch(url, json={"capacity": 1, "closed": True}, headers=staff), 409,
                         "capacity_below_bookings")
    assert "2" in error["message"]
    assert client.patch(url, json={}, headers=staff).json()["capacity"] == 4  # nothing changed, not even closed
    assert client.patch(url, json={"capacity": 2}, headers=staff).json()["available"] == 0
    closed = client.patch(url, json={"closed": True}, headers=staff).json()
    assert closed["closed"] and closed["capacity"] == 2
    for booking in (first, second):
        assert client.get(f"{BOOKINGS}/{booking['id']}", headers=setup["madre"]).json()["status"] == "confirmada"
    assert_error(client.patch(url, json={"capacity": -1}, headers=staff), 422, "validation_error")
    assert_error(client.patch(url, json={"capacity": 3, "colour": "red"}, headers=staff), 422, "validation_error")


# ---- cancel and reschedule ------------------------------------------------------------------------


def test_cancel_returns_the_place_once(client: TestClient, ctx: Context, setup: dict[str, Any]) -> None:
    booking = book(client, setup)
    assert slot_available(client, setup) == 3
    cancelled = client.post(f"{BOOKINGS}/{booking['id']}/cancel", headers=setup["madre"])
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelada"
    assert slot_available(client, setup) == 4
    assert_error(client.post(f"{BOOKINGS}/{booking['id']}/cancel", headers=setup["madre"]), 409, "booking_not_active")
    assert slot_available(client, setup) == 4
    appointment = client.get(f"/api/v1/appointments/{booking['appointment_id']}", headers=setup["madre"]).json()
    assert appointment["status"] == "cancelada" and appointment["revision"] == 1


def test_reschedule_moves_or_changes_nothing(client: TestClient, ctx: Context, auth: Auth,
                                             setup: dict[str, Any]) -> None:
    booking = book(client, setup)
    target = setup["slots"][3]
    moved = client.post(f"{BOOKINGS}/{booking['id']}/reschedule", json={"slot_id": target["id"]},
                        headers=setup["madre"])
    assert moved.status_code == 200, moved.text
    assert moved.json()["slot"]["id"] == target["id"] and moved.json()["folio"] == booking["folio"]
    assert slot_available(client, setup, 0) == 4 and slot_available(client, setup, 3) == 3
    appointment = client.get(f"/api/v1/appointments/{booking['appointment_id']}", headers=setup["madre"]).json()
    assert appointment["status"] == "reprogramada" and appointment["starts_at"] == target["starts_at"]
    # into a full slot: 409, and the booking stays where it was
    full = setup["slots"][5]["id"]
    client.patch(f"/api/v1/blood-banks/{setup['bank']}/slots/{full}", json={"capacity": 0}, headers=auth("banco.demo"))
    before = state(ctx)
    assert_error(client.post(f"{BOOKINGS}/{booking['id']}/reschedule", json={"slot_id": full},
                             headers=setup["madre"]), 409, "slot_full")
    assert state(ctx) == before and slot_available(client, setup, 3) == 3
    assert client.get(f"{BOOKINGS}/{booking['id']}", headers=setup["madre"]).json()["slot"]["id"] == target["id"]
    assert_error(client.post(f"{BOOKINGS}/{booking['id']}/reschedule", json={"slot_id": target["id"]},
                             headers=setup["madre"]), 422, "same_slot")
    assert_error(client.post(f"{BOOKINGS}/{booking['id']}/reschedule", json={"slot_id": "nope"},
                             headers=setup["madre"]), 404, "slot_not_found")
    assert_error(client.post(f"{BOOKINGS}/{booking['id']}/reschedule", json={}, headers=setup["madre"]), 422,
                 "validation_error")
    client.post(f"{BOOKINGS}/{booking['id']}/cancel", headers=setup["madre"])
    assert_error(client.post(f"{BOOKINGS}/{booking['id']}/reschedule", json={"slot_id": setup["slots"][1]["id"]},
                             headers=setup["madre"]), 409, "booking_not_active")


# ---- who may see what ---------------------------------------------------------------------------------


def test_another_family_gets_404_everywhere(client: TestClient, ctx: Context, auth: Auth,
                                            setup: dict[str, Any]) -> None:
    booking = book(client, setup)
    padre = auth("padre.demo")
    before = state(ctx)
    slot = setup["slots"][1]["id"]
    assert_error(client.post(BOOKINGS, json=body(slot, setup["mateo"]), headers=padre), 404, "patient_not_found")
    assert_error(client.get(BOOKINGS, params={"patient_id": setup["mateo"]}, headers=padre), 404,
                 "patient_not_found")
    assert client.get(BOOKINGS, headers=padre).json() == []
    assert_error(client.get(f"{BOOKINGS}/{booking['id']}", headers=padre), 404, "booking_not_found")
    assert_error(client.post(f"{BOOKINGS}/{booking['id']}/cancel", headers=padre), 404, "booking_not_found")
    assert_error(client.post(f"{BOOKINGS}/{booking['id']}/reschedule", json={"slot_id": slot}, headers=padre), 404,
                 "booking_not_found")
    changes = client.get("/api/v1/sync", params={"limit": 1000}, headers=padre).json()["changes"]
    assert booking["id"] not in {c["id"] for c in changes}
    assert booking["appointment_id"] not in {c["id"] for c in changes}
    assert state(ctx) == before


def test_staff_of_another_unit_get_404(client: TestClient, ctx: Context, auth: Auth, setup: dict[str, Any]) -> None:
    booking = book(client, setup)
    staff_of(ctx, "Hospital General CMN La Raza")
    other = auth("banco.raza")
    before = state(ctx)
    bank, slot, day = setup["bank"], setup["slots"][0]["id"], setup["day"].isoformat()
    assert_error(client.get(f"{BOOKINGS}/{booking['id']}", headers=other), 404, "booking_not_found")
    for action in ("check-in", "no-show", "cancel"):
        assert_error(client.post(f"{BOOKINGS}/{booking['id']}/{action}", headers=other), 404, "booking_not_found")
    assert_error(client.get(f"/api/v1/blood-banks/{bank}/bookings", params={"date": day}, headers=other), 404,
                 "blood_bank_not_found")
    assert_error(client.get(f"/api/v1/blood-banks/{bank}/donor-counts", headers=other), 404, "blood_bank_not_found")
    assert_error(client.patch(f"/api/v1/blood-banks/{bank}/slots/{slot}", json={"closed": True}, headers=other), 404,
                 "blood_bank_not_found")
    assert state(ctx) == before
    # their own bank works, and a slot of another bank through it is 404
    raza = bank_id(client, other, RAZA)
    assert client.get(f"/api/v1/blood-banks/{raza}/bookings", params={"date": day}, headers=other).json() == []
    assert_error(client.patch(f"/api/v1/blood-banks/{raza}/slots/{slot}", json={"closed": True}, headers=other), 404,
                 "slot_not_found")


def test_wrong_roles_get_403(client: TestClient, auth: Auth, setup: dict[str, Any]) -> None:
    booking = book(client, setup)
    madre, farmacia, banco = setup["madre"], auth("farmacia.demo"), auth("banco.demo")
    slot, bank = setup["slots"][1]["id"], setup["bank"]
    assert_error(client.post(BOOKINGS, json=body(slot, setup["mateo"]), headers=banco), 403, "forbidden")
    assert_error(client.post(BOOKINGS, json=body(slot, setup["mateo"]), headers=farmacia), 403, "forbidden")
    assert_error(client.get(BOOKINGS, headers=banco), 403, "forbidden")
    assert_error(client.get(f"{BOOKINGS}/{booking['id']}", headers=farmacia), 403, "forbidden")
    assert_error(client.post(f"{BOOKINGS}/{booking['id']}/reschedule", json={"slot_id": slot}, headers=banco), 403)
    for action in ("check-in", "no-show"):
        assert_error(client.post(f"{BOOKINGS}/{booking['id']}/{action}", headers=madre), 403, "forbidden")
    assert_error(client.patch(f"/api/v1/blood-banks/{bank}/slots/{slot}", json={"closed": True}, headers=madre), 403)
    assert_error(client.get(f"/api/v1/blood-banks/{bank}/bookings", params={"date": "2030-01-01"},
                            headers=madre), 403)
    assert_error(client.get(f"/api/v1/blood-banks/{bank}/donor-counts", headers=farmacia), 403)


# ---- staff ------------------------------------------------------------------------------------------------


def test_day_list_check_in_no_show_and_counts(client: TestClient, ctx: Context, auth: Auth,
                                              setup: dict[str, Any]) -> None:
    staff = auth("banco.demo")
    late = book(client, setup, slot=2, full_name="Zoe Ibarra Luna")
    early = book(client, setup, slot=0)
    gone = book(client, setup, slot=1)
    client.post(f"{BOOKINGS}/{gone['id']}/cancel", headers=setup["madre"])
    url = f"/api/v1/blood-banks/{setup['bank']}/bookings"
    listed = client.get(url, params={"date": setup["day"].isoformat()}, headers=staff).json()
    assert [b["id"] for b in listed] == [early["id"], gone["id"], late["id"]]
    assert {b["patient_display_name"] for b in listed} == {"Mateo Hernández"}
    due_today(ctx, early["id"])
    came = client.post(f"{BOOKINGS}/{early['id']}/check-in", headers=staff)
    assert came.status_code == 200 and came.json()["status"] == "asistio" and came.json()["checked_in_at"]
    appointment = client.get(f"/api/v1/appointments/{early['appointment_id']}", headers=setup["madre"]).json()
    assert appointment["status"] == "realizada"
    assert_error(client.post(f"{BOOKINGS}/{early['id']}/check-in", headers=staff), 409, "booking_not_active")
    assert_error(client.post(f"{BOOKINGS}/{early['id']}/no-show", headers=staff), 409, "booking_not_active")
    assert_error(client.post(f"{BOOKINGS}/{early['id']}/cancel", headers=setup["madre"]), 409, "booking_not_active")
    due_today(ctx, gone["id"])
    assert_error(client.post(f"{BOOKINGS}/{gone['id']}/check-in", headers=staff), 409, "booking_not_active")
    absent = client.post(f"{BOOKINGS}/{late['id']}/no-show", headers=staff).json()
    assert absent["status"] == "no_asistio" and absent["checked_in_at"] is None
    day = setup["day"].isoformat()
    counts = client.get(f"/api/v1/blood-banks/{setup['bank']}/donor-counts",
                        params={"from": (today(ctx) - timedelta(days=30)).isoformat(), "to": day}, headers=staff)
    # the demo's past donor came too; the demo's future booking is in range; the cancelled one is not counted
    assert counts.json() == [{"patient_id": setup["mateo"], "patient_display_name": "Mateo Hernández",
                              "booked": 4, "came": 2}]
    assert_error(client.get(f"/api/v1/blood-banks/{setup['bank']}/donor-counts", params={"from": day, "to": "2000-01-01"},
                            headers=staff), 422, "invalid_range")
    assert_error(client.get(url, params={"date": "ayer"}, headers=staff), 422, "invalid_date")
    with ctx.sessions() as session:
        actions = [a.action for a in session.scalars(select(AuditEntry).where(AuditEntry.actor_role == "blood_bank"))]
        details = " ".join(str(a.detail) for a in session.scalars(select(AuditEntry)))
    assert {"blood_bank.day_list.read", "blood_bank.booking.check_in", "blood_bank.booking.no_show",
            "blood_bank.donor_counts.read"} <= set(actions)
    assert "Zoe" not in details and "55 1234 5678" not in details


def counts_of(client: TestClient, ctx: Context, s: dict[str, Any], staff: dict[str, str]) -> list[Any]:
    params = {"from": (today(ctx) - timedelta(days=30)).isoformat(), "to": s["day"].isoformat()}
    response = client.get(f"/api/v1/blood-banks/{s['bank']}/donor-counts", params=params, headers=staff)
    assert response.status_code == 200, response.text
    return [(c["booked"], c["came"]) for c in response.json()]


def check_in_trail(ctx: Context, booking_id: str) -> tuple[str, list[tuple[str, str]], list[tuple[str, Any]]]:
    """(the booking's status, its notes (action, reason), its staff audit rows (action, detail))."""
    with ctx.sessions() as session:
        status = session.get_one(Booking, booking_id).status
        notes = [(n.action, n.reason) for n in session.scalars(
            select(CheckInNote).where(CheckInNote.booking_id == booking_id).order_by(CheckInNote.at))]
        audits = [(a.action, a.detail) for a in session.scalars(
            select(AuditEntry).where(AuditEntry.object_id == booking_id, AuditEntry.actor_role == "blood_bank")
            .order_by(AuditEntry.id))]
    return status, notes, audits


def staff_notes(client: TestClient, s: dict[str, Any], staff: dict[str, str], booking_id: str,
                day: Any = None) -> list[dict[str, Any]]:
    """A booking's check-in notes as the bank's day list shows them (the booking's day unless ``day``)."""
    listed = client.get(f"/api/v1/blood-banks/{s['bank']}/bookings", params={"date": (day or s["day"]).isoformat()},
                        headers=staff)
    assert listed.status_code == 200, listed.text
    return list(next(b for b in listed.json() if b["id"] == booking_id)["notes"])


def test_check_in_is_for_the_bookings_day_unless_staff_say_why(client: TestClient, ctx: Context, auth: Auth,
                                                                setup: dict[str, Any]) -> None:
    """Issue #16 item 11: a check-in on another day is refused, unless staff give a reason (kept and audited)."""
    staff = auth("banco.demo")
    booking = book(client, setup)
    url = f"{BOOKINGS}/{booking['id']}/check-in"
    before = check_in_trail(ctx, booking["id"])
    day = setup["day"].isoformat()
    refused = client.post(url, headers=staff)
    assert_error(refused, 422, "check_in_wrong_day")
    assert day in refused.json()["error"]["message"] and "motivo" in refused.json()["error"]["message"]
    english = client.post(url, headers={**staff, "Accept-Language": "en"})
    assert_error(english, 422, "check_in_wrong_day")
    assert english.json()["error"]["message"].startswith(f"This booking is for {day}, not today")
    for reason in ("", "    ", "ok"):
        assert_error(client.post(url, json={"override_reason": reason}, headers=staff), 422, "reason_required")
    assert_error(client.post(url, json={"override_reason": "x" * 501}, headers=staff), 422, "validation_error")
    assert check_in_trail(ctx, booking["id"]) == before == ("confirmada", [], [])
    reason = "Vino un día antes por indicación de su médico."
    key = {**staff, "Idempotency-Key": str(uuid.uuid4())}
    came = client.post(url, json={"override_reason": reason}, headers=key)
    assert came.status_code == 200, came.text
    assert came.json()["status"] == "asistio" and came.json()["checked_in_at"]
    again = client.post(url, json={"override_reason": reason}, headers=key)  # a retry: the stored answer
    assert again.status_code == 200 and again.json() == came.json()
    status, notes, audits = check_in_trail(ctx, booking["id"])
    assert status == "asistio" and notes == [("override", reason)]
    [(action, detail)] = audits
    assert action == "blood_bank.booking.check_in"
    assert detail["override"] is True and detail["booking_day"] == day and detail["note_id"]
    assert "médico" not in str(detail)  # the audit log names the note; the words stay in the note
    appointment = client.get(f"/api/v1/appointments/{booking['appointment_id']}", headers=setup["madre"]).json()
    assert appointment["status"] == "realizada"
    # The bank's staff read why on the day's list, with who and when; the family's answers never carry it.
    [note] = staff_notes(client, setup, staff, booking["id"])
    me = client.get("/api/v1/me", headers=staff).json()["display_name"]
    assert (note["action"], note["reason"], note["by"]) == ("override", reason, me) and note["at"]
    assert "notes" not in client.get(f"{BOOKINGS}/{booking['id']}", headers=setup["madre"]).json()
    assert all("notes" not in b for b in client.get(BOOKINGS, headers=setup["madre"]).json())


def test_a_mistaken_check_in_is_undone_by_staff(client: TestClient, ctx: Context, auth: Auth,
                                                setup: dict[str, Any]) -> None:
    """Issue #16 item 11: undo goes back to ``confirmada`` with a reason, audited; the counts follow."""
    staff, madre = auth("banco.demo"), setup["madre"]
    booking = book(client, setup)
    due_today(ctx, booking["id"])
    url = f"{BOOKINGS}/{booking['id']}/undo-check-in"
    reason = "Registré la llegada de otro donador por error."
    assert_error(client.post(url, json={"reason": reason}, headers=staff), 409, "booking_not_checked_in")
    counted = counts_of(client, ctx, setup, staff)
    assert client.post(f"{BOOKINGS}/{booking['id']}/check-in", headers=staff).json()["status"] == "asistio"
    came = counts_of(client, ctx, setup, staff)
    assert [(b, c - 1) for b, c in came] == counted
    with ctx.sessions() as session:
        held = session.get_one(Slot, session.get_one(Booking, booking["id"]).slot_id).booked
    trail = check_in_trail(ctx, booking["id"])
    # Who may not, and bad reasons: nothing changes.
    staff_of(ctx, "Hospital General CMN La Raza")
    assert_error(client.post(url, json={"reason": reason}, headers=madre), 403, "forbidden")
    assert_error(client.post(url, json={"reason": reason}, headers=auth("farmacia.demo")), 403, "forbidden")
    assert_error(client.post(url, json={"reason": reason}, headers=auth("banco.raza")), 404, "booking_not_found")
    assert_error(client.post(url, headers=staff), 422, "validation_error")
    for bad in ("", "   ", "uy"):
        assert_error(client.post(url, json={"reason": bad}, headers=staff), 422, "reason_required")
    assert check_in_trail(ctx, booking["id"]) == trail
    # The bank's staff undo it.
    key = {**staff, "Idempotency-Key": str(uuid.uuid4())}
    undone = client.post(url, json={"reason": reason}, headers=key)
    assert undone.status_code == 200, undone.text
    assert undone.json()["status"] == "confirmada" and undone.json()["checked_in_at"] is None
    assert client.post(url, json={"reason": reason}, headers=key).json() == undone.json()  # a retry, stored once
    assert counts_of(client, ctx, setup, staff) == counted
    with ctx.sessions() as session:
        assert session.get_one(Slot, session.get_one(Booking, booking["id"]).slot_id).booked == held
    appointment = client.get(f"/api/v1/appointments/{booking['appointment_id']}", headers=madre).json()
    assert appointment["status"] == "confirmada"
    assert client.get(f"{BOOKINGS}/{booking['id']}", headers=madre).json()["status"] == "confirmada"
    status, notes, audits = check_in_trail(ctx, booking["id"])
    assert status == "confirmada" and notes == [("undo", reason)]
    [note] = staff_notes(client, setup, staff, booking["id"], day=today(ctx))
    assert (note["action"], note["reason"]) == ("undo", reason)
    with ctx.sessions() as session:  # the staff member's account removed: the note stays, without a name
        session.execute(update(CheckInNote).values(actor_id=None))
        session.commit()
    [note] = staff_notes(client, setup, staff, booking["id"], day=today(ctx))
    assert (note["action"], note["reason"], note["by"]) == ("undo", reason, None)
    assert [a for a, _ in audits] == ["blood_bank.booking.check_in", "blood_bank.booking.check_in_undo"]
    assert audits[-1][1]["note_id"] and "error" not in str(audits[-1][1])
    assert_error(client.post(url, json={"reason": reason}, headers=staff), 409, "booking_not_checked_in")
    # The donor really arrives: checked in again, counted once.
    assert client.post(f"{BOOKINGS}/{booking['id']}/check-in", headers=staff).json()["status"] == "asistio"
    assert counts_of(client, ctx, setup, staff) == came


def test_admin_runs_every_bank(client: TestClient, ctx: Context, auth: Auth, setup: dict[str, Any]) -> None:
    booking = book(client, setup)
    due_today(ctx, booking["id"])
    admin = auth("admin.demo")
    assert client.get(f"{BOOKINGS}/{booking['id']}", headers=admin).status_code == 200
    assert client.post(f"{BOOKINGS}/{booking['id']}/check-in", headers=admin).json()["status"] == "asistio"


def test_no_donor_data_in_the_logs(client: TestClient, setup: dict[str, Any], caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    booking = book(client, setup, full_name="Filomena Quintanilla Ruiz", phone="55 9988 7766")
    client.post(f"{BOOKINGS}/{booking['id']}/cancel", headers=setup["madre"])
    client.post(BOOKINGS, json=body(setup["slots"][0]["id"], setup["mateo"], weight_kg=20,
                                    full_name="Filomena Quintanilla Ruiz"), headers=setup["madre"])
    assert "Filomena" not in caplog.text and "9988" not in caplog.text


def test_demo_has_a_bank_with_free_slots_in_the_coming_days_and_two_bookings(
        client: TestClient, ctx: Context, auth: Auth, patient_ids: dict[str, str]) -> None:
    madre = auth("madre.demo")
    listed = client.get(BOOKINGS, headers=madre).json()
    assert sorted(b["status"] for b in listed) == ["asistio", "confirmada"]
    assert all(b["bank"]["name"].endswith("Siglo XXI") for b in listed)
    for child in ("Mateo Hernández", "Valentina Hernández"):
        unit = client.get(f"/api/v1/patients/{patient_ids[child]}/carnet", headers=madre).json()["patient"]["unit"]
        banks = [b for b in client.get("/api/v1/blood-banks", headers=madre).json() if b["unit"]["id"] == unit["id"]]
        assert len(banks) == 1
        free = [s for offset in range(1, 4)
                for s in client.get(f"/api/v1/blood-banks/{banks[0]['id']}/slots",
                                    params={"date": (today(ctx) + timedelta(days=offset)).isoformat()},
                                    headers=madre).json() if s["available"] > 0]
        assert free, child
    day = min(b["slot"]["starts_at"] for b in listed if b["status"] == "confirmada")
    staff_day = client.get(f"/api/v1/blood-banks/{listed[0]['bank']['id']}/bookings", params={"date": day[:10]},
                           headers=auth("banco.demo"))
    assert staff_day.status_code == 200
