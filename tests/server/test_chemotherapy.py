"""The chemotherapy plan over HTTP: the catalogue and its versions, writing a cycle (computed, rounded and capped
doses, changes by hand, measurements to confirm, dry runs, lifetime anthracyclines), a cycle's life with its
optimistic version, the family's carnet and agenda, the pharmacy's mixing order, and who may do what.

Each bad input sits beside the good one, and each refusal is checked to have written nothing."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from starlette.testclient import TestClient

from carnet_server.agenda.tables import Appointment
from carnet_server.audit import AuditEntry
from carnet_server.chemotherapy.tables import BodyMeasurement, Regimen
from carnet_server.context import Context
from carnet_server.db import utcnow
from carnet_server.demo import CHILDREN
from carnet_server.mixing.tables import MixingOrder
from carnet_server.patients.tables import Cycle, CycleDrug
from tests.server.conftest import assert_error

API = "/api/v1"
TZ = ZoneInfo("America/Mexico_City")
MATEO = next(c for c in CHILDREN if c.display_name == "Mateo Hernández")


# ---- helpers -----------------------------------------------------------------------------------


def today(ctx: Context) -> date:
    return ctx.today(utcnow())


def counts(ctx: Context) -> dict[str, int]:
    """Rows of everything the chemotherapy plan writes (audit: its own actions; reads are audited too)."""
    with ctx.sessions() as session:
        def n(table: Any, *where: Any) -> int:
            return int(session.scalar(select(func.count()).select_from(table).where(*where)) or 0)

        return {
            "cycles": n(Cycle),
            "cycle_drugs": n(CycleDrug),
            "body_measurements": n(BodyMeasurement),
            "appointments": n(Appointment),
            "regimens": n(Regimen),
            "mixing_orders": n(MixingOrder),
            "audit": n(AuditEntry, AuditEntry.action.like("cycle.%") | AuditEntry.action.like("regimen.%")),
        }


def regimen_id(client: TestClient, headers: dict[str, str], code: str, version: int | None = None) -> str:
    catalogue = client.get(f"{API}/protocols", params={"all_versions": True}, headers=headers).json()
    found = [r for r in catalogue["regimens"] if r["code"] == code and (version is None or r["version"] == version)]
    found.sort(key=lambda r: r["version"])
    return str(found[-1]["id"])


def body(ctx: Context, protocol_id: str, **changes: Any) -> dict[str, Any]:
    return {
        "protocol_id": protocol_id,
        "phase": "induccion",
        "scheduled_for": (today(ctx) + timedelta(days=3)).isoformat(),
        "weight_kg": 20,
        "height_cm": 110,
        **changes,
    }


def prescribe(client: TestClient, headers: dict[str, str], patient_id: str, data: dict[str, Any]) -> Any:
    return client.post(f"{API}/patients/{patient_id}/cycles", headers=headers, json=data)


def refused(response: Any, status: int, code: str) -> dict[str, Any]:
    """An error with reasons/details beside code and message (``assert_error`` wants exactly those two)."""
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] == code and error["message"], error
    return error


def drugs_by_code(cycle: dict[str, Any], names: dict[str, str]) -> dict[str, dict[str, Any]]:
    return {names[d["name"]]: d for d in cycle["drugs"]}


LLA_NAMES = {
    "Vincristina": "vincristina",
    "Daunorrubicina": "daunorrubicina",
    "Pegaspargasa": "pegaspargasa",
    "Metotrexato intratecal": "metotrexato-it",
}


def action(client: TestClient, headers: dict[str, str], cycle_id: str, **data: Any) -> Any:
    return client.post(f"{API}/cycles/{cycle_id}/actions", headers=headers, json=data)


# ---- 1. the catalogue --------------------------------------------------------------------------


def test_catalogue_lists_the_examples_and_loading_a_code_again_makes_a_version(
        client: TestClient, ctx: Context, auth: Any) -> None:
    onco = auth("oncologia.demo")
    catalogue = client.get(f"{API}/protocols", headers=onco)
    assert catalogue.status_code == 200, catalogue.text
    data = catalogue.json()
    assert sorted(r["code"] for r in data["regimens"]) == ["hodgkin-abvd", "lla-induccion", "wilms-ee4a"]
    assert all(r["example"] and r["version"] == 1 and r["current"] for r in data["regimens"])
    assert data["anthracycline_factors"]["daunorrubicina"] == 0.6
    assert data["anthracycline_factors"]["doxorrubicina"] == 1
    assert data["anthracycline_warning_mg_m2"] == 300

    admin = auth("admin.demo")
    abvd = next(r for r in data["regimens"] if r["code"] == "hodgkin-abvd")
    new = {"code": "hodgkin-abvd", "name": "ABVD v2", "example": True, "phases": abvd["phases"]}
    # an anthracycline without a doxorubicin-equivalent factor, beside the good one
    bad_phase = {**abvd["phases"][0], "drugs": [{**abvd["phases"][0]["drugs"][0], "code": "pixantrona"}]}
    before = counts(ctx)
    error = refused(client.post(f"{API}/protocols", headers=admin, json={**new, "phases": [bad_phase]}), 422,
                    "prescription_invalid")
    assert "pixantrona" in error["message"] and error["fields"] == ["phases"]
    assert counts(ctx) == before
    assert_error(client.post(f"{API}/protocols", headers=onco, json=new), 403, "forbidden")
    assert counts(ctx) == before

    loaded = client.post(f"{API}/protocols", headers=admin, json=new)
    assert loaded.status_code == 201, loaded.text
    assert loaded.json()["version"] == 2 and loaded.json()["current"] is True
    assert counts(ctx) == {**before, "regimens": before["regimens"] + 1, "audit": before["audit"] + 1}

    newest = client.get(f"{API}/protocols", headers=onco).json()["regimens"]
    assert [(r["version"], r["name"]) for r in newest if r["code"] == "hodgkin-abvd"] == [(2, "ABVD v2")]
    every = client.get(f"{API}/protocols", params={"all_versions": True}, headers=onco).json()["regimens"]
    versions = {r["version"]: r["current"] for r in every if r["code"] == "hodgkin-abvd"}
    assert versions == {1: False, 2: True}


# ---- 2. writing a cycle ------------------------------------------------------------------------


def test_a_cycle_is_computed_saved_shown_to_the_family_and_audited(
        client: TestClient, ctx: Context, auth: Any, patient_ids: dict[str, str]) -> None:
    onco, madre = auth("oncologia.demo"), auth("madre.demo")
    mateo = patient_ids["Mateo Hernández"]
    lla = regimen_id(client, onco, "lla-induccion")
    before = counts(ctx)
    made = prescribe(client, onco, mateo, body(ctx, lla))
    assert made.status_code == 201, made.text
    cycle = made.json()
    assert cycle["saved"] is True and cycle["bsa_m2"] == 0.78 and cycle["status"] == "programado"
    assert cycle["weight_kg"] == 20 and cycle["height_cm"] == 110 and cycle["version"] == 1
    assert (cycle["phase"], cycle["phase_number"], cycle["phase_cycles"]) == ("Inducción", 1, 1)
    assert cycle["protocol_id"] == lla and cycle["protocol_version"] == 1 and cycle["example"] is True
    assert cycle["number"] == len(MATEO.cycles) + 1 and cycle["previous"] is None
    doses = {code: d["dose"] for code, d in drugs_by_code(cycle, LLA_NAMES).items()}
    assert doses["vincristina"]["amount"] == 1.2 and doses["vincristina"]["capped"] is False
    assert doses["vincristina"]["cap"] == 2
    assert doses["daunorrubicina"] == {"amount": 20, "unit": "mg", "basis": "m2", "per_basis": 25, "computed": 20,
                                       "capped": False, "cap": None, "changed_reason": None}
    assert doses["pegaspargasa"]["amount"] == 1950 and doses["pegaspargasa"]["unit"] == "U"
    assert doses["metotrexato-it"]["amount"] == 12 and doses["metotrexato-it"]["basis"] == "fixed"
    first = today(ctx) + timedelta(days=3)
    sessions = [first + timedelta(days=d - 1) for d in (1, 4, 8, 15, 22)]
    assert cycle["sessions"] == [d.isoformat() for d in sessions] and cycle["scheduled_for"] == first.isoformat()
    # 4 doses × round2(20 / 0.78 × 0.6) = 4 × 15.38
    assert cycle["cumulative"] == [{"family": "antraciclina", "before": 0, "this_cycle": 61.52, "after": 61.52,
                                    "warning_at": 300, "over": False}]
    assert counts(ctx) == {**before, "cycles": before["cycles"] + 1, "cycle_drugs": before["cycle_drugs"] + 4,
                           "body_measurements": before["body_measurements"] + 1,
                           "appointments": before["appointments"] + 5, "audit": before["audit"] + 1}

    carnet = client.get(f"{API}/patients/{mateo}/carnet", headers=madre)
    assert carnet.status_code == 200, carnet.text
    shown = next(c for c in carnet.json()["cycles"] if c["id"] == cycle["id"])
    assert shown["bsa_m2"] == 0.78 and shown["sessions"] == cycle["sessions"]
    assert {code: d["dose"] for code, d in drugs_by_code(shown, LLA_NAMES).items()} == doses

    agenda = client.get(f"{API}/patients/{mateo}/appointments", headers=madre)
    assert agenda.status_code == 200, agenda.text
    mine = [a for a in agenda.json() if a["cycle_id"] == cycle["id"]]
    assert len(mine) == 5
    assert all(a["kind"] == "quimioterapia" and a["source"] == "hospital" and a["status"] == "programada"
               for a in mine)
    assert [datetime.fromisoformat(a["starts_at"]).astimezone(TZ).date() for a in mine] == sessions

    plan = client.get(f"{API}/patients/{mateo}/chemotherapy", headers=onco).json()
    assert plan["measurements"][0] == {"measured_on": today(ctx).isoformat(), "weight_kg": 20, "height_cm": 110}
    assert plan["cumulative"][0]["before"] == 61.52

    with ctx.sessions() as session:
        rows = list(session.scalars(select(AuditEntry).where(AuditEntry.action == "cycle.prescribe")))
    assert len(rows) == 1 and rows[0].object_id == cycle["id"]
    detail = rows[0].detail
    assert detail is not None and detail["before"] is None and detail["patient_id"] == mateo
    assert detail["regimen"] == "lla-induccion@1" and detail["after"]["bsa_m2"] == 0.78
    assert {"drug": "daunorrubicina", "amount": 20, "unit": "mg", "computed": 20, "changed": False} in (
        detail["after"]["doses"])
    text = json.dumps(detail, ensure_ascii=False)
    for personal in (MATEO.curp, MATEO.nss, "Mateo", "Hernández", "López"):
        assert personal not in text


def test_a_big_child_gets_vincristine_capped(
        client: TestClient, ctx: Context, auth: Any, patient_ids: dict[str, str]) -> None:
    onco = auth("oncologia.demo")
    camila = patient_ids["Camila Torres"]  # Siglo XXI, like oncologia.demo (Valentina is in La Raza)
    made = prescribe(client, onco, camila, body(ctx, regimen_id(client, onco, "lla-induccion"),
                                                weight_kg=60, height_cm=170))
    assert made.status_code == 201, made.text
    assert made.json()["bsa_m2"] == 1.68  # sqrt(60 × 170 / 3600)
    vincristine = drugs_by_code(made.json(), LLA_NAMES)["vincristina"]["dose"]
    assert (vincristine["amount"], vincristine["computed"], vincristine["capped"], vincristine["cap"]) == (
        2, 2, True, 2)
    # the child's second cycle, of another phase, keeps the cap (1.5 × 1.68 = 2.52)
    later = prescribe(client, onco, camila, body(ctx, regimen_id(client, onco, "lla-induccion"), phase="mantenimiento",
                                                 weight_kg=60, height_cm=170))
    assert later.status_code == 201, later.text
    drugs = {d["name"]: d["dose"] for d in later.json()["drugs"]}
    assert drugs["Vincristina"]["amount"] == 2 and drugs["Vincristina"]["capped"] is True
    assert later.json()["sessions"] == [body(ctx, "")["scheduled_for"]]  # the rest is taken at home
    assert drugs["Mercaptopurina"]["amount"] == 85  # 50 × 1.68 = 84 → step 5 → 85


def test_overrides_need_a_reason_a_plausible_amount_and_a_drug_of_the_phase(
        client: TestClient, ctx: Context, auth: Any, patient_ids: dict[str, str]) -> None:
    onco = auth("oncologia.demo")
    mateo = patient_ids["Mateo Hernández"]
    lla = regimen_id(client, onco, "lla-induccion")
    reason = "Neuropatía periférica grado 2"
    before = counts(ctx)
    no_reason = prescribe(client, onco, mateo, body(ctx, lla, overrides=[{"drug": "vincristina", "amount": 1}]))
    assert_error(no_reason, 422, "validation_error")
    too_much = prescribe(client, onco, mateo, body(ctx, lla, overrides=[
        {"drug": "vincristina", "amount": 4.9, "reason": reason}]))  # > 4 × 1.2
    error = refused(too_much, 422, "prescription_invalid")
    assert error["fields"] == ["overrides"] and "inverosímil" in error["message"]
    unknown = prescribe(client, onco, mateo, body(ctx, lla, overrides=[
        {"drug": "aspirina", "amount": 100, "reason": reason}]))
    assert "aspirina" in refused(unknown, 422, "prescription_invalid")["message"]
    twice = prescribe(client, onco, mateo, body(ctx, lla, overrides=[
        {"drug": "vincristina", "amount": 1, "reason": reason}, {"drug": "vincristina", "amount": 1.1,
                                                                 "reason": reason}]))
    refused(twice, 422, "prescription_invalid")
    assert counts(ctx) == before

    at_limit = prescribe(client, onco, mateo, body(ctx, lla, dry_run=True, overrides=[
        {"drug": "vincristina", "amount": 4.8, "reason": reason}]))
    assert at_limit.status_code == 200, at_limit.text  # exactly 4 × the computed dose is still accepted
    made = prescribe(client, onco, mateo, body(ctx, lla, overrides=[
        {"drug": "vincristina", "amount": 1, "reason": reason}]))
    assert made.status_code == 201, made.text
    doses = {code: d["dose"] for code, d in drugs_by_code(made.json(), LLA_NAMES).items()}
    assert doses["vincristina"]["amount"] == 1 and doses["vincristina"]["computed"] == 1.2
    assert doses["vincristina"]["changed_reason"] == reason
    assert doses["daunorrubicina"]["changed_reason"] is None
    with ctx.sessions() as session:
        detail = session.scalar(select(AuditEntry.detail).where(AuditEntry.action == "cycle.prescribe"))
    assert detail is not None
    assert {"drug": "vincristina", "amount": 1, "unit": "mg", "computed": 1.2, "changed": True} in (
        detail["after"]["doses"])


def test_bad_measurements_and_dates_are_refused_and_write_nothing(
        client: TestClient, ctx: Context, auth: Any, patient_ids: dict[str, str]) -> None:
    onco = auth("oncologia.demo")
    mateo = patient_ids["Mateo Hernández"]
    lla = regimen_id(client, onco, "lla-induccion")
    before = counts(ctx)
    assert_error(prescribe(client, onco, mateo, body(ctx, lla, weight_kg=0)), 422, "validation_error")
    metres = refused(prescribe(client, onco, mateo, body(ctx, lla, height_cm=1.1)), 422, "prescription_invalid")
    assert "metros" in metres["message"] and metres["fields"] == ["height_cm"]
    english = client.post(f"{API}/patients/{mateo}/cycles", headers={**onco, "Accept-Language": "en"},
                          json=body(ctx, lla, height_cm=1.1))
    assert "metres" in refused(english, 422, "prescription_invalid")["message"]
    heavy = refused(prescribe(client, onco, mateo, body(ctx, lla, weight_kg=250)), 422, "prescription_invalid")
    assert heavy["fields"] == ["weight_kg"]
    past = (today(ctx) - timedelta(days=1)).isoformat()
    late = refused(prescribe(client, onco, mateo, body(ctx, lla, scheduled_for=past)), 422, "prescription_invalid")
    assert late["fields"] == ["scheduled_for"]
    ahead = (today(ctx) + timedelta(days=1)).isoformat()
    future = refused(prescribe(client, onco, mateo, body(ctx, lla, measured_on=ahead)), 422, "prescription_invalid")
    assert future["fields"] == ["measured_on"]
    unknown_phase = refused(prescribe(client, onco, mateo, body(ctx, lla, phase="ee4a")), 422, "prescription_invalid")
    assert unknown_phase["fields"] == ["phase"]
    assert_error(prescribe(client, onco, mateo, body(ctx, "nope")), 404, "protocol_not_found")
    assert counts(ctx) == before
    # the good one, beside them: today is not the past, and a weight of 200 kg is the limit
    good = prescribe(client, onco, mateo, body(ctx, lla, scheduled_for=today(ctx).isoformat()))
    assert good.status_code == 201, good.text
    # the phase has one cycle: a second is refused, and nothing is written
    again = counts(ctx)
    assert refused(prescribe(client, onco, mateo, body(ctx, lla)), 422, "prescription_invalid")["fields"] == ["phase"]
    assert counts(ctx) == again


def test_measurements_that_changed_a_lot_or_are_old_need_confirming(
        client: TestClient, ctx: Context, auth: Any, patient_ids: dict[str, str]) -> None:
    onco = auth("oncologia.demo")
    mateo = patient_ids["Mateo Hernández"]
    lla = regimen_id(client, onco, "lla-induccion")
    assert prescribe(client, onco, mateo, body(ctx, lla)).status_code == 201
    later = body(ctx, lla, phase="mantenimiento", weight_kg=25)  # +25 % (the threshold is 10 %)
    before = counts(ctx)
    error = refused(prescribe(client, onco, mateo, later), 409, "measurements_unconfirmed")
    assert error["previous"] == {"measured_on": today(ctx).isoformat(), "weight_kg": 20, "height_cm": 110}
    assert [r["code"] for r in error["reasons"]] == ["weight_kg"] and "25" in error["message"]
    old = (today(ctx) - timedelta(days=30)).isoformat()
    stale = refused(prescribe(client, onco, mateo, body(ctx, lla, phase="mantenimiento", measured_on=old)), 409,
                    "measurements_unconfirmed")
    assert [r["code"] for r in stale["reasons"]] == ["measured_on"] and "30" in stale["message"]
    assert counts(ctx) == before
    small = prescribe(client, onco, mateo, body(ctx, lla, phase="mantenimiento", weight_kg=21, dry_run=True))
    assert small.status_code == 200, small.text  # +5 %: no confirmation needed
    assert small.json()["previous"] == error["previous"]
    confirmed = prescribe(client, onco, mateo, {**later, "confirm_measurements": True})
    assert confirmed.status_code == 201, confirmed.text
    assert confirmed.json()["weight_kg"] == 25 and confirmed.json()["previous"]["weight_kg"] == 20
    assert counts(ctx)["body_measurements"] == before["body_measurements"] + 1


def test_a_dry_run_answers_the_doses_and_writes_nothing(
        client: TestClient, ctx: Context, auth: Any, patient_ids: dict[str, str]) -> None:
    onco = auth("oncologia.demo")
    mateo = patient_ids["Mateo Hernández"]
    lla = regimen_id(client, onco, "lla-induccion")
    before = counts(ctx)
    dry = prescribe(client, onco, mateo, body(ctx, lla, dry_run=True))
    assert dry.status_code == 200, dry.text
    assert dry.json()["saved"] is False and dry.json()["bsa_m2"] == 0.78
    assert drugs_by_code(dry.json(), LLA_NAMES)["daunorrubicina"]["dose"]["amount"] == 20
    assert dry.json()["cumulative"][0]["this_cycle"] == 61.52
    assert counts(ctx) == before
    real = prescribe(client, onco, mateo, body(ctx, lla))
    assert real.status_code == 201 and real.json()["saved"] is True
    assert {k: v for k, v in real.json().items() if k not in ("id", "saved", "mixing")} == {
        k: v for k, v in dry.json().items() if k not in ("id", "saved", "mixing")}


# ---- a cycle's life ----------------------------------------------------------------------------


def test_two_people_changing_a_cycle_one_wins_the_other_gets_409_with_the_current_cycle(
        client: TestClient, ctx: Context, auth: Any, patient_ids: dict[str, str]) -> None:
    onco, madre = auth("oncologia.demo"), auth("madre.demo")
    mateo = patient_ids["Mateo Hernández"]
    cycle = prescribe(client, onco, mateo, body(ctx, regimen_id(client, onco, "lla-induccion"))).json()
    first = date.fromisoformat(cycle["scheduled_for"])
    new_date = (first + timedelta(days=7)).isoformat()
    before = counts(ctx)
    assert_error(action(client, onco, cycle["id"], action="defer", version=1, new_date=new_date), 422,
                 "validation_error")
    earlier = (first - timedelta(days=1)).isoformat()
    error = refused(action(client, onco, cycle["id"], action="defer", version=1, reason="Neutropenia",
                           new_date=earlier), 422, "prescription_invalid")
    assert error["fields"] == ["new_date"]
    same_day = action(client, onco, cycle["id"], action="defer", version=1, reason="Neutropenia",
                      new_date=first.isoformat())
    refused(same_day, 422, "prescription_invalid")
    assert_error(action(client, onco, "nope", action="defer", version=1, reason="Neutropenia", new_date=new_date),
                 404, "cycle_not_found")
    assert counts(ctx) == before

    deferred = action(client, onco, cycle["id"], action="defer", version=1, reason="Neutropenia", new_date=new_date)
    assert deferred.status_code == 200, deferred.text
    a = deferred.json()
    assert (a["version"], a["status"], a["scheduled_for"]) == (2, "diferido", new_date)
    assert a["deferral"] == {"reason": "Neutropenia", "previous_date": first.isoformat()}
    assert a["sessions"] == [(date.fromisoformat(d) + timedelta(days=7)).isoformat() for d in cycle["sessions"]]

    lost = action(client, onco, cycle["id"], action="suspend", version=1, reason="Progresión")
    error = refused(lost, 409, "cycle_changed")
    assert error["cycle"]["version"] == 2 and error["cycle"]["status"] == "diferido"
    assert error["cycle"]["scheduled_for"] == new_date
    with ctx.sessions() as session:
        row = session.get(Cycle, cycle["id"])
        assert row is not None and row.status == "diferido" and row.suspended_reason is None
        actions = list(session.scalars(select(AuditEntry.action).where(AuditEntry.object_id == cycle["id"])))
    assert sorted(actions) == ["cycle.defer", "cycle.prescribe"]

    mine = [x for x in client.get(f"{API}/patients/{mateo}/appointments", headers=madre).json()
            if x["cycle_id"] == cycle["id"]]
    assert len(mine) == 5 and all(x["status"] == "reprogramada" for x in mine)
    moved = [datetime.fromisoformat(x["starts_at"]).astimezone(TZ).date() for x in mine]
    assert [d.isoformat() for d in moved] == a["sessions"]
    assert first.strftime("%d/%m/%Y") in mine[0]["notes"]
    was = [date.fromisoformat(d).strftime("%d/%m/%Y") for d in cycle["sessions"]]
    assert all(old in x["notes"] for old, x in zip(was, mine, strict=True))

    suspended = action(client, onco, cycle["id"], action="suspend", version=2, reason="Progresión")
    assert suspended.status_code == 200 and suspended.json()["status"] == "suspendido"
    assert suspended.json()["suspended_reason"] == "Progresión" and suspended.json()["version"] == 3
    mine = [x for x in client.get(f"{API}/patients/{mateo}/appointments", headers=madre).json()
            if x["cycle_id"] == cycle["id"]]
    assert all(x["status"] == "cancelada" for x in mine)
    # a suspended cycle does not count towards the lifetime total
    plan = client.get(f"{API}/patients/{mateo}/chemotherapy", headers=onco).json()
    assert plan["cumulative"] == []


def test_pharmacy_confirms_oncology_applies_and_a_repeated_step_is_409(
        client: TestClient, ctx: Context, auth: Any, patient_ids: dict[str, str]) -> None:
    onco, pharmacy = auth("oncologia.demo"), auth("farmacia.demo")
    mateo = patient_ids["Mateo Hernández"]
    cycle = prescribe(client, onco, mateo, body(ctx, regimen_id(client, onco, "lla-induccion"))).json()
    assert cycle["mixing"]["status"] == "pendiente"
    before = counts(ctx)
    refused(action(client, pharmacy, cycle["id"], action="confirm", version=2), 409, "cycle_changed")
    assert counts(ctx) == before

    confirmed = action(client, pharmacy, cycle["id"], action="confirm", version=1)
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["status"] == "confirmado" and confirmed.json()["version"] == 2
    assert confirmed.json()["confirmed_at"] is not None
    with ctx.sessions() as session:
        order = session.scalar(select(MixingOrder).where(MixingOrder.cycle_id == cycle["id"]))
        assert order is not None
        payload = order.payload
    assert payload["bsa_m2"] == 0.78 and payload["weight_kg"] == 20 and payload["height_cm"] == 110
    doses = {d["name"]: d["dose"] for d in payload["drugs"]}
    assert doses["Daunorrubicina"]["amount"] == 20 and doses["Daunorrubicina"]["basis"] == "m2"
    assert doses["Vincristina"] == drugs_by_code(cycle, LLA_NAMES)["vincristina"]["dose"]
    assert counts(ctx)["mixing_orders"] == before["mixing_orders"] + 1

    assert_error(action(client, pharmacy, cycle["id"], action="apply", version=2), 403, "forbidden")
    assert_error(action(client, auth("madre.demo"), cycle["id"], action="apply", version=2), 403, "forbidden")
    refused(action(client, pharmacy, cycle["id"], action="confirm", version=2), 409, "cycle_transition_invalid")
    applied = action(client, onco, cycle["id"], action="apply", version=2)
    assert applied.status_code == 200, applied.text
    assert applied.json()["status"] == "aplicado" and applied.json()["version"] == 3
    again = refused(action(client, onco, cycle["id"], action="apply", version=3), 409, "cycle_transition_invalid")
    assert "aplicado" in again["message"]
    with ctx.sessions() as session:
        row = session.get(Cycle, cycle["id"])
        assert row is not None and (row.status, row.version) == ("aplicado", 3)


# ---- lifetime anthracyclines ---------------------------------------------------------------------


def test_the_lifetime_total_adds_cycles_of_every_protocol_version(
        client: TestClient, ctx: Context, auth: Any, patient_ids: dict[str, str]) -> None:
    onco, admin = auth("oncologia.demo"), auth("admin.demo")
    mateo = patient_ids["Mateo Hernández"]
    v1 = regimen_id(client, onco, "hodgkin-abvd")
    abvd = next(r for r in client.get(f"{API}/protocols", headers=onco).json()["regimens"]
                if r["code"] == "hodgkin-abvd")
    loaded = client.post(f"{API}/protocols", headers=admin,
                         json={"code": "hodgkin-abvd", "name": "ABVD v2", "phases": abvd["phases"]})
    assert loaded.status_code == 201, loaded.text
    v2 = loaded.json()["id"]
    assert v2 != v1 and regimen_id(client, onco, "hodgkin-abvd") == v2

    first = prescribe(client, onco, mateo, body(ctx, v1, phase="abvd"))
    assert first.status_code == 201, first.text
    one = first.json()["cumulative"][0]
    # doxorubicin 25 mg/m² × 0.78 = 19.5 → 20 mg; 20 / 0.78 × 1 = 25.64, on days 1 and 15
    assert (one["before"], one["this_cycle"], one["after"]) == (0, 51.28, 51.28)
    assert first.json()["protocol_version"] == 1 and first.json()["phase_number"] == 1

    second = prescribe(client, onco, mateo, body(ctx, v2, phase="abvd",
                                                 scheduled_for=(today(ctx) + timedelta(days=31)).isoformat()))
    assert second.status_code == 201, second.text
    two = second.json()["cumulative"][0]
    assert two["before"] == one["this_cycle"] and two["after"] == 102.56
    assert second.json()["protocol_version"] == 2 and second.json()["protocol_name"] == "ABVD v2"
    assert second.json()["phase_number"] == 2  # versions of one regimen share its phases' count


# ---- who may see and write -------------------------------------------------------------------------


def test_other_units_children_are_404_and_guardians_403(
        client: TestClient, ctx: Context, auth: Any, patient_ids: dict[str, str]) -> None:
    onco = auth("oncologia.demo")
    lla = regimen_id(client, onco, "lla-induccion")
    santiago = patient_ids["Santiago Ramírez"]  # León
    before = counts(ctx)
    hidden = prescribe(client, onco, santiago, body(ctx, lla))
    unknown = prescribe(client, onco, "0" * 32, body(ctx, lla))
    assert_error(hidden, 404)
    assert_error(unknown, 404)
    assert hidden.json() == unknown.json()
    assert client.get(f"{API}/patients/{santiago}/chemotherapy", headers=onco).json() == client.get(
        f"{API}/patients/{'0' * 32}/chemotherapy", headers=onco).json()
    with ctx.sessions() as session:
        his = session.scalar(select(Cycle.id).where(Cycle.patient_id == santiago, Cycle.status == "programado"))
    assert his is not None
    assert_error(action(client, onco, his, action="apply", version=1), 404, "cycle_not_found")
    for guardian in ("padre.demo", "madre.demo"):
        headers = auth(guardian)
        assert_error(prescribe(client, headers, santiago, body(ctx, lla)), 403, "forbidden")
        assert_error(prescribe(client, headers, patient_ids["Mateo Hernández"], body(ctx, lla)), 403, "forbidden")
        assert_error(client.get(f"{API}/protocols", headers=headers), 403, "forbidden")
    assert_error(prescribe(client, auth("farmacia.demo"), patient_ids["Mateo Hernández"], body(ctx, lla)), 403,
                 "forbidden")
    assert counts(ctx) == before
    assert prescribe(client, auth("admin.demo"), santiago, body(ctx, lla)).status_code == 201
