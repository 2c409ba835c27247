"""No IDOR: every route taking an object id, tried with another family's and another unit's ids.

Generated from the app's routes: a path parameter, a required query parameter, a request body or an
``*_id`` field that this file does not know how to fill fails the test, so a new endpoint cannot be
forgotten. For every caller and route, the answer to a foreign id must be the answer to an id that does
not exist (same status, code and message: 404, or 403 when the role may not use the route at all) — it
never reveals that the object exists. And every route must accept the caller's own ids for someone
(the ids below are live, not random).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.testclient import TestClient

from carnet_server.context import Context
from carnet_server.db import utcnow
from tests.server.blood_bank_support import body as booking_body
from tests.server.blood_bank_support import open_day
from tests.support.photos import png

MATEO, SANTIAGO = "Mateo Hernández", "Santiago Ramírez"

#: Routes with an id that is not an object of a family or unit, and why.
NOT_SCOPED = {
    ("GET", "/v/{token}"): "public verification page: the signed QR token is the credential (verification tests)",
    ("GET", "/e/{token}"): "the emergency card's public page: likewise (test_fever.py)",
    ("GET", "/api/v1/blood-banks/{bank_id}/slots"): "every signed-in user may see any bank's open slots "
                                                    "(families choose where to donate)",
}

#: Routes only an administrator may use: every caller below gets 403 whatever the id, and admin.demo (who
#: sees every account) shows the ids are live — last, as closing an account ends its sessions.
ADMIN_ONLY = {
    ("POST", "/api/v1/privacy/closure-requests/{closure_id}/close"): "closing an account is an administrator's "
                                                                      "decision",
    ("PATCH", "/api/v1/admin/units/{unit_id}"): "units are managed by administrators",
    ("PATCH", "/api/v1/admin/users/{staff_id}"): "staff accounts are managed by administrators",
    ("POST", "/api/v1/admin/users/{staff_id}/password-reset"): "likewise",
}

#: path parameter → the key of the object it takes.
PARAMS = {
    "patient_id": "patient", "appointment_id": "appointment", "booking_id": "booking", "incident_id": "incident",
    "photo_id": "photo", "cycle_id": "cycle", "bank_id": "bank", "slot_id": "slot", "closure_id": "closure",
    "unit_id": "unit", "staff_id": "staff", "invitation_id": "invitation", "user_id": "guardian",
    "episode_id": "episode",
}


@dataclass
class Family:
    """One child's objects, with the unit's bank and a free slot there."""

    patient: str
    appointment: str
    booking: str
    incident: str
    photo: str
    cycle: str
    bank: str
    slot: str
    day: date
    unit: str
    closure: str  # the guardian's open request to close the account
    staff: str  # a staff account (administrators manage it)
    invitation: str  # a pending activation code for a new guardian of the child
    guardian: str  # the guardian's account id
    regimen: str  # a catalogue regimen (not a family's object: the same for both)
    episode: str  # a fever episode of the child (avisada)


def _body(method: str, path: str, objects: Family) -> dict[str, Any] | None:
    """A valid body for the route (the ownership check is in the route, after validation)."""
    start = utcnow().replace(microsecond=0) + timedelta(days=5)
    bodies: dict[tuple[str, str], dict[str, Any]] = {
        ("POST", "/api/v1/patients/{patient_id}/appointments"): {
            "json": {"kind": "consulta", "title": "Consulta", "starts_at": start.isoformat(),
                     "ends_at": (start + timedelta(minutes=30)).isoformat()}},
        ("PATCH", "/api/v1/appointments/{appointment_id}"): {"json": {"notes": "Llevar estudios."}},
        ("PATCH", "/api/v1/blood-banks/{bank_id}/slots/{slot_id}"): {"json": {"closed": False}},
        ("POST", "/api/v1/blood-bank/bookings/{booking_id}/reschedule"): {"json": {"slot_id": objects.slot}},
        # not the booking's day, no reason: 422 check_in_wrong_day once past the lookup (nothing written)
        ("POST", "/api/v1/blood-bank/bookings/{booking_id}/check-in"): {"json": {}},
        # not checked in: 409 booking_not_checked_in once past the lookup (nothing written)
        ("POST", "/api/v1/blood-bank/bookings/{booking_id}/undo-check-in"): {"json": {"reason": "Por error."}},
        ("POST", "/api/v1/incidents/{incident_id}/responses"): {"json": {"message": "Respuesta de prueba."}},
        ("POST", "/api/v1/incidents/{incident_id}/reopen"): {"json": {"reason": "No se resolvió."}},
        ("POST", "/api/v1/incidents/{incident_id}/photos"): {"files": {"file": ("f.png", png(), "image/png")}},
        ("PATCH", "/api/v1/admin/units/{unit_id}"): {"json": {"state": "Ciudad de México"}},
        ("PATCH", "/api/v1/patients/{patient_id}"): {"json": {"allergies": "Ninguna conocida"}},
        # to its own unit: 409 same_unit once past the lookup (nothing moves during the walk)
        ("POST", "/api/v1/patients/{patient_id}/referral"): {"json": {"unit_id": objects.unit}},
        ("POST", "/api/v1/patients/{patient_id}/guardian-invitations"): {
            "json": {"full_name": "Ana Méndez", "relationship": "tía", "phone": "5512345678"}},
        ("PATCH", "/api/v1/admin/users/{staff_id}"): {"json": {"display_name": "Personal"}},
        # a dry run: the doses as they would be, nothing written during the walk
        ("POST", "/api/v1/patients/{patient_id}/cycles"): {
            "json": {"protocol_id": objects.regimen, "scheduled_for": (start + timedelta(days=5)).date().isoformat(),
                     "weight_kg": 20, "height_cm": 110, "dry_run": True}},
        # a version nobody saw: 409 cycle_changed once past the lookup (nothing moves during the walk)
        ("POST", "/api/v1/cycles/{cycle_id}/actions"): {"json": {"action": "apply", "version": 999}},
        # a reading two days old: 422 fever_measured_at_out_of_range once past the lookup (nothing written)
        ("POST", "/api/v1/patients/{patient_id}/fever-episodes"): {
            "json": {"temperature_c": 38.5, "measured_at": (utcnow() - timedelta(days=2)).isoformat()}},
        # the same old reading, by the unit's staff: 422 once past the lookup (nothing written)
        ("POST", "/api/v1/patients/{patient_id}/fever-episodes/at-unit"): {
            "json": {"temperature_c": 38.5, "measured_at": (utcnow() - timedelta(days=2)).isoformat()}},
        # the antibiotic before arrival: 409 fever_step_out_of_order once past the lookup (nothing written)
        ("POST", "/api/v1/fever-episodes/{episode_id}/steps"): {"json": {"step": "antibiotic"}},
    }
    return bodies.get((method, path))


def _setup(client: TestClient, ctx: Context, auth: Any, patient_ids: dict[str, str]) -> dict[str, Family]:
    families = {}
    admin = auth("admin.demo")
    regimen = client.get("/api/v1/protocols", headers=admin).json()["regimens"][0]["id"]
    accounts = {a["username"]: a["id"] for a in client.get("/api/v1/admin/users", headers=admin).json()}
    staff = {MATEO: accounts["casos.demo"], SANTIAGO: accounts["banco.demo"]}
    for name, guardian in ((MATEO, "madre.demo"), (SANTIAGO, "padre.demo")):
        headers = auth(guardian)
        patient = patient_ids[name]
        carnet = client.get(f"/api/v1/patients/{patient}/carnet", headers=headers).json()
        unit = carnet["patient"]["unit"]["id"]
        bank = next(b["id"] for b in client.get("/api/v1/blood-banks", headers=headers).json()
                    if b["unit"]["id"] == unit)
        day, slots = open_day(client, ctx, headers, bank)
        booking = client.post("/api/v1/blood-bank/bookings", json=booking_body(slots[0]["id"], patient),
                              headers=headers)
        assert booking.status_code == 201, booking.text
        incident = client.post("/api/v1/incidents", headers=headers, json={
            "patient_id": patient, "category": "otro", "description": "Prueba de acceso ajeno."})
        assert incident.status_code == 201, incident.text
        photo = client.post(f"/api/v1/incidents/{incident.json()['id']}/photos",
                            files={"file": ("f.png", png(), "image/png")}, headers=headers)
        assert photo.status_code == 201, photo.text
        appointments = client.get(f"/api/v1/patients/{patient}/appointments", headers=headers).json()
        invitation = client.post(f"/api/v1/patients/{patient}/guardian-invitations", headers=admin,
                                 json={"full_name": "Ana Méndez", "relationship": "tía", "phone": "5512345678"})
        assert invitation.status_code == 201, invitation.text
        episode = client.post(f"/api/v1/patients/{patient}/fever-episodes", headers=headers, json={
            "temperature_c": 38.5, "measured_at": utcnow().isoformat()})
        assert episode.status_code == 201, episode.text
        closure = client.post("/api/v1/privacy/closure-request", json={}, headers=headers)
        assert closure.status_code == 201, closure.text
        families[name] = Family(
            patient=patient, appointment=appointments[0]["id"], booking=booking.json()["id"],
            incident=incident.json()["id"], photo=photo.json()["photos"][0]["id"],
            cycle=next(c["id"] for c in carnet["cycles"] if c["status"] == "programado"),
            bank=bank, slot=slots[1]["id"], day=day, unit=unit, closure=closure.json()["id"],
            staff=staff[name], invitation=invitation.json()["id"],
            guardian=client.get("/api/v1/me", headers=headers).json()["id"], regimen=regimen,
            episode=episode.json()["id"])
    return families


def _routes(app: FastAPI) -> list[tuple[str, str, APIRoute]]:
    found = []
    for route_ctx in iter_route_contexts(app.routes):
        route = route_ctx.original_route
        if isinstance(route, APIRoute):
            for method in sorted(route.methods):
                found.append((method, route_ctx.path, route))
    return found


def _call(client: TestClient, method: str, path: str, route: APIRoute, ids: Family | dict[str, str],
          headers: dict[str, str], body_objects: Family) -> Any:
    values = {name: getattr(ids, PARAMS[name]) if isinstance(ids, Family) else ids[name]
              for name in route.param_convertors}
    query = {}
    for param in route.dependant.query_params:
        if param.field_info.is_required():
            assert param.alias == "date", f"{method} {path}: fill the required query parameter {param.alias}"
            query["date"] = body_objects.day.isoformat()
    kwargs = _body(method, path, body_objects) or {}
    return client.request(method, path.format(**values), params=query, headers=headers, **kwargs)


def _same(a: Any, b: Any) -> bool:
    if a.status_code != b.status_code:
        return False
    return a.status_code < 400 or a.json() == b.json()


def test_every_id_route_hides_other_families_and_units(app: FastAPI, client: TestClient, ctx: Context, auth: Any,
                                                       patient_ids: dict[str, str]) -> None:
    families = _setup(client, ctx, auth, patient_ids)
    mateo, santiago = families[MATEO], families[SANTIAGO]
    # caller → (own family, foreign family); the staff work at Siglo XXI (and La Raza), Santiago is in León
    callers = {"madre.demo": (mateo, santiago), "padre.demo": (santiago, mateo), "farmacia.demo": (mateo, santiago),
               "banco.demo": (mateo, santiago), "casos.demo": (mateo, santiago),
               "oncologia.demo": (mateo, santiago)}
    headers = {u: {**auth(u), "Accept-Language": "en"} for u in callers}

    routes = [r for r in _routes(app) if r[2].param_convertors and (r[0], r[1]) not in NOT_SCOPED]
    unknown = sorted({(m, p, n) for m, p, r in routes for n in r.param_convertors if n not in PARAMS})
    assert not unknown, f"path parameters this test cannot fill (add them to PARAMS): {unknown}"
    missing_bodies = [(m, p) for m, p, r in routes if r.body_field is not None and _body(m, p, mateo) is None]
    assert not missing_bodies, f"routes with a body this test cannot fill (add them to _body): {missing_bodies}"
    assert len(routes) >= 20  # the walker found the routes (23 today)

    leaks = []
    for method, path, route in routes:
        names = list(route.param_convertors)
        for user, (own, foreign) in callers.items():
            random_ids = {n: uuid.uuid4().hex for n in names}
            nowhere = _call(client, method, path, route, random_ids, headers[user], own)
            assert nowhere.status_code in (403, 404), (method, path, user, nowhere.text)
            variants = {"all foreign": foreign}
            if len(names) > 1:  # own parent, foreign child: the child must be checked against its parent
                variants["foreign " + names[-1]] = {**{n: getattr(own, PARAMS[n]) for n in names[:-1]},
                                                    names[-1]: getattr(foreign, PARAMS[names[-1]])}
                variants["random " + names[-1]] = {**{n: getattr(own, PARAMS[n]) for n in names[:-1]},
                                                   names[-1]: uuid.uuid4().hex}
            for label, ids in variants.items():
                answer = _call(client, method, path, route, ids, headers[user], own)
                expected = nowhere
                if label.startswith("random") or label.startswith("foreign "):
                    # compared with the same own parent and a random child
                    expected = _call(client, method, path, route, variants["random " + names[-1]],
                                     headers[user], own)
                if not _same(answer, expected) or answer.status_code not in (403, 404):
                    leaks.append((method, path, user, label, answer.status_code, answer.text[:120],
                                  expected.status_code))
    assert not leaks, "foreign ids answered differently from ids that do not exist:\n" + "\n".join(map(str, leaks))

    # the ids are live: for every route some caller gets past the lookup with their own ids (DELETE last,
    # so the other routes still find the appointment; the administrator's routes after that)
    dead = []
    admin = {"admin.demo": (mateo, santiago)}
    headers["admin.demo"] = {**auth("admin.demo"), "Accept-Language": "en"}
    for method, path, route in sorted(routes, key=lambda r: ((r[0], r[1]) in ADMIN_ONLY, r[0] == "DELETE")):
        names = list(route.param_convertors)
        accepted = False
        for user, (own, _foreign) in (admin if (method, path) in ADMIN_ONLY else callers).items():
            random_ids = {n: uuid.uuid4().hex for n in names}
            nowhere = _call(client, method, path, route, random_ids, headers[user], own)
            mine = _call(client, method, path, route, own, headers[user], own)
            assert mine.status_code < 500, (method, path, user, mine.text)
            if not _same(mine, nowhere):
                accepted = True
                break
        if not accepted:
            dead.append((method, path))
    assert not dead, f"no caller got past the lookup with their own ids: {dead}"


def test_body_and_query_ids_are_checked_too(app: FastAPI, client: TestClient, ctx: Context, auth: Any,
                                            patient_ids: dict[str, str]) -> None:
    """``*_id`` fields in bodies and query strings: another family's child is 404 like an unknown one."""
    families = _setup(client, ctx, auth, patient_ids)
    mateo, santiago = families[MATEO], families[SANTIAGO]
    madre = {**auth("madre.demo"), "Accept-Language": "en"}
    farmacia = {**auth("farmacia.demo"), "Accept-Language": "en"}
    casos = {**auth("casos.demo"), "Accept-Language": "en"}
    qr = client.get(f"/api/v1/patients/{mateo.patient}/carnet", headers=madre).json()["qr"]["token"]

    cases: dict[tuple[str, str, str], Any] = {
        ("POST", "/api/v1/incidents", "patient_id"): lambda pid: client.post(
            "/api/v1/incidents", headers=madre,
            json={"patient_id": pid, "category": "otro", "description": "Prueba de acceso ajeno."}),
        # units are public; a unit other than the child's is 422 unit_not_treating (test_incidents.py)
        ("POST", "/api/v1/incidents", "unit_id"): None,
        ("GET", "/api/v1/incidents", "patient_id"): lambda pid: client.get(
            "/api/v1/incidents", params={"patient_id": pid}, headers=madre),
        ("GET", "/api/v1/incidents", "unit_id"): lambda uid: client.get(
            "/api/v1/incidents", params={"unit_id": uid}, headers=casos),
        ("POST", "/api/v1/blood-bank/bookings", "patient_id"): lambda pid: client.post(
            "/api/v1/blood-bank/bookings", json=booking_body(mateo.slot, pid), headers=madre),
        ("POST", "/api/v1/blood-bank/bookings", "slot_id"): None,  # slots of every bank are open to families
        ("GET", "/api/v1/blood-bank/bookings", "patient_id"): lambda pid: client.get(
            "/api/v1/blood-bank/bookings", params={"patient_id": pid}, headers=madre),
        ("POST", "/api/v1/pharmacy/dispensations", "cycle_id"): lambda cid: client.post(
            "/api/v1/pharmacy/dispensations", json={"token": qr, "cycle_id": cid}, headers=farmacia),
        ("POST", "/api/v1/blood-bank/bookings/{booking_id}/reschedule", "slot_id"): None,  # as above
        ("POST", "/api/v1/patients/{patient_id}/appointments", "unit_id"): None,  # units are public
        ("POST", "/api/v1/patients/{patient_id}/appointments", "cycle_id"): lambda cid: client.post(
            f"/api/v1/patients/{mateo.patient}/appointments", headers=auth("casos.demo"),
            json={**_body("POST", "/api/v1/patients/{patient_id}/appointments", mateo)["json"],  # type: ignore
                  "kind": "quimioterapia", "cycle_id": cid}),
        ("PATCH", "/api/v1/appointments/{appointment_id}", "unit_id"): None,  # units are public
        # units are public; registering at a unit not the caller's is 403 unit_not_yours (test_registry.py)
        ("POST", "/api/v1/patients", "unit_id"): None,
        ("POST", "/api/v1/patients/{patient_id}/referral", "unit_id"): None,  # any unit may receive a child
        # the regimen catalogue is the same for every unit (GET /api/v1/protocols to any staff)
        ("POST", "/api/v1/patients/{patient_id}/cycles", "protocol_id"): None,
        ("GET", "/api/v1/fever-episodes", "unit_id"): lambda uid: client.get(
            "/api/v1/fever-episodes", params={"unit_id": uid}, headers=casos),
    }
    # generated: every *_id in a query string or a JSON body of the schema is listed above
    schema = app.openapi()
    components = schema["components"]["schemas"]
    seen = set()
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            for param in operation.get("parameters", []):
                if param["in"] == "query" and param["name"].endswith("_id"):
                    seen.add((method.upper(), path, param["name"]))
            ref = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get(
                "schema", {}).get("$ref")
            if ref:
                for field in components[ref.rsplit("/", 1)[1]].get("properties", {}):
                    if field.endswith("_id"):
                        seen.add((method.upper(), path, field))
    assert not seen - set(cases), f"id fields this test does not try: {sorted(seen - set(cases))}"

    wrong_patient = {("POST", "/api/v1/patients/{patient_id}/appointments", "cycle_id"): santiago.cycle,
                     ("POST", "/api/v1/pharmacy/dispensations", "cycle_id"): santiago.cycle,
                     ("GET", "/api/v1/incidents", "unit_id"): santiago.unit,
                     ("GET", "/api/v1/fever-episodes", "unit_id"): santiago.unit}
    for key, call in cases.items():
        if call is None:
            continue
        foreign = wrong_patient.get(key, santiago.patient)
        answer, nowhere = call(foreign), call(uuid.uuid4().hex)
        # refused like an unknown id, or (a list filter) the same empty list
        hidden = answer.status_code in (404, 422) or (answer.status_code == 200 and answer.json() == [])
        assert hidden and answer.status_code == nowhere.status_code and answer.json() == nowhere.json(), \
            (key, answer.text, nowhere.text)
