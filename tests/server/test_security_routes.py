"""Authorisation of every route: a walker over ``app.routes`` and a role × endpoint matrix.

``PUBLIC`` lists the routes that need no bearer token, each with its reason; every other
route must depend on ``get_signed_in_user`` (through ``get_current_user``, which adds the privacy
notice gate for guardians, or directly: tests/server/test_privacy.py checks which). ``MATRIX`` says, for every authenticated route,
which roles get past authorisation; the others must get 403 ``forbidden``, anonymous
callers 401. A route in neither table fails the tests until it is added here.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from sqlalchemy import select
from starlette.testclient import TestClient

from carnet_server.agenda.tables import Appointment
from carnet_server.app import create_app
from carnet_server.auth.deps import dependency_calls, get_signed_in_user
from carnet_server.auth.tables import User
from carnet_server.blood_bank.tables import Booking, BloodBank
from carnet_server.chemotherapy.tables import Regimen
from carnet_server.context import Context
from carnet_server.db import utcnow
from carnet_server.demo import DEMO_PASSWORD
from carnet_server.incidents.tables import Incident
from carnet_server.patients.tables import Cycle, Patient
from tests.server.blood_bank_support import body as booking_body
from tests.server.blood_bank_support import open_day
from tests.server.conftest import access_tokens, bearer, template_then
from tests.server.enrolment_support import child

# ---- the tables -------------------------------------------------------------------------

PUBLIC: dict[str, tuple[str, frozenset[int]]] = {
    # route → (why no bearer token, the statuses an anonymous caller may get)
    "GET /healthz": ("liveness probe, no data", frozenset({200})),
    "GET /api/v1/ping": ("benchmark baseline, no data", frozenset({200})),
    "POST /api/v1/auth/login": ("the way in: username and password", frozenset({422})),
    "POST /api/v1/auth/refresh": ("authenticated by the refresh token in the body", frozenset({422})),
    "GET /.well-known/jwks.json": ("public keys: anyone may verify a carnet QR", frozenset({200})),
    "GET /v/{token}": ("the QR's verification page: the signed token is the credential", frozenset({200})),
    "GET /e/{token}": ("the emergency card QR's page: the signed token is the credential", frozenset({200})),
    "POST /api/v1/mixing/callbacks": ("the mixing provider, authenticated by an HMAC signature",
                                      frozenset({401})),
    "GET /api/v1/privacy/notice": ("the privacy notice: read before signing in, no personal data",
                                   frozenset({200})),
    "POST /api/v1/auth/activate": ("the way in for a family: a one-time activation code from the hospital",
                                   frozenset({422})),
    "GET /api/v1/whatsapp/webhook": ("Meta's subscription handshake, authenticated by the verify token",
                                     frozenset({403, 404})),
    "POST /api/v1/whatsapp/webhook": ("WhatsApp Cloud API notifications, authenticated by an HMAC signature",
                                      frozenset({401, 404})),
}
DOCS = {"/openapi.json": "the API description", "/docs": "Swagger UI", "/docs/oauth2-redirect": "Swagger UI",
        "/redoc": "ReDoc"}

USERS = {"guardian": "madre.demo", "pharmacy": "farmacia.demo", "blood_bank": "banco.demo",
         "case_desk": "casos.demo", "oncology": "oncologia.demo", "admin": "admin.demo"}
ROLES = tuple(USERS)
ALL = frozenset(ROLES)


def _roles(*names: str) -> frozenset[str]:
    assert set(names) <= ALL, names
    return frozenset(names)


@dataclass(frozen=True)
class Call:
    """One route: the roles let through, and how to call it (path ids from :class:`World`)."""

    allowed: frozenset[str]
    path: str | None = None  # the route's path with World fields (default: the route's own template)
    body: Callable[[World], Any] | None = None
    files: bool = False
    params: Callable[[], dict[str, str]] | None = None
    by_role: dict[str, str] = field(default_factory=dict)  # role → path, where a role needs another object


GUARDIAN_STAFF_ADMIN = ALL
WRITERS = _roles("guardian", "case_desk", "oncology", "admin")  # agenda
INCIDENT_READERS = _roles("guardian", "case_desk", "admin")
BANK_STAFF = _roles("blood_bank", "admin")
PHARMACY = _roles("pharmacy", "admin")
DESK = _roles("case_desk", "admin")
GUARDIAN = _roles("guardian")
ADMIN = _roles("admin")
REGISTRY_WRITERS = _roles("oncology", "admin")
REGISTRY_READERS = _roles("oncology", "case_desk", "admin")
FEVER_STAFF = _roles("oncology", "case_desk", "admin")
FEVER_READERS = _roles("guardian", "oncology", "case_desk", "admin")


def _regimen() -> dict[str, Any]:
    drug = {"code": "vincristina", "name": "Vincristina", "route": "IV", "basis": "m2", "per_basis": 1.5,
            "unit": "mg", "round_to": 0.1, "cap": 2, "days": [1]}
    return {"code": "prueba", "name": "Prueba", "example": True,
            "phases": [{"code": "unica", "name": "Única", "cycles": 1, "interval_days": 21, "drugs": [drug]}]}


def _day() -> dict[str, str]:
    return {"date": (utcnow() + timedelta(days=10)).date().isoformat()}


def _week() -> dict[str, str]:
    today = utcnow().date()
    return {"week": (today - timedelta(days=today.weekday() + 7)).isoformat()}


def _appointment(w: World) -> dict[str, Any]:
    start = utcnow().replace(microsecond=0) + timedelta(days=20)
    return {"kind": "consulta", "title": "Consulta de control", "starts_at": start.isoformat(),
            "ends_at": (start + timedelta(hours=1)).isoformat()}


MATRIX: dict[str, Call] = {
    "POST /api/v1/auth/logout": Call(ALL),
    "POST /api/v1/auth/password": Call(ALL, body=lambda w: {"current_password": DEMO_PASSWORD,
                                                            "new_password": "otra-clave-segura"}),
    "GET /api/v1/me": Call(ALL),
    "GET /api/v1/patients/{patient_id}/carnet": Call(ALL),
    "POST /api/v1/patients/{patient_id}/qr/revoke": Call(_roles("guardian", "admin")),
    "POST /api/v1/pharmacy/verify": Call(PHARMACY, body=lambda w: {"token": w.qr_token}),
    "GET /api/v1/pharmacy/trust": Call(_roles("pharmacy", "oncology", "case_desk", "admin")),
    "POST /api/v1/pharmacy/dispensations": Call(PHARMACY, body=lambda w: {"token": w.qr_token,
                                                                        "cycle_id": w.cycle_id}),
    "POST /api/v1/cycles/{cycle_id}/confirm": Call(PHARMACY),
    "GET /api/v1/mixing/orders": Call(PHARMACY),
    "GET /api/v1/patients/{patient_id}/appointments": Call(ALL),
    "GET /api/v1/patients/{patient_id}/appointments.ics": Call(ALL),
    "POST /api/v1/patients/{patient_id}/appointments": Call(WRITERS, body=_appointment),
    "GET /api/v1/appointments/{appointment_id}": Call(ALL),
    "GET /api/v1/appointments/{appointment_id}.ics": Call(ALL),
    "PATCH /api/v1/appointments/{appointment_id}": Call(
        WRITERS, body=lambda w: {"notes": "Llevar los estudios"},
        by_role={"guardian": "/api/v1/appointments/{family_appointment_id}"}),
    "DELETE /api/v1/appointments/{appointment_id}": Call(
        WRITERS, by_role={"guardian": "/api/v1/appointments/{family_appointment_id}"}),
    "GET /api/v1/blood-banks": Call(ALL),
    "GET /api/v1/blood-banks/{bank_id}/slots": Call(ALL, params=_day),
    "PATCH /api/v1/blood-banks/{bank_id}/slots/{slot_id}": Call(BANK_STAFF, body=lambda w: {"closed": False}),
    "GET /api/v1/blood-bank/questionnaire": Call(ALL),
    "POST /api/v1/blood-bank/bookings": Call(GUARDIAN, body=lambda w: booking_body(w.slot_id, w.patient_id)),
    "GET /api/v1/blood-bank/bookings": Call(GUARDIAN),
    "GET /api/v1/blood-bank/bookings/{booking_id}": Call(_roles("guardian", "blood_bank", "admin")),
    "POST /api/v1/blood-bank/bookings/{booking_id}/cancel": Call(_roles("guardian", "blood_bank", "admin")),
    "POST /api/v1/blood-bank/bookings/{booking_id}/reschedule": Call(
        GUARDIAN, body=lambda w: {"slot_id": w.slot_id}),
    "POST /api/v1/blood-bank/bookings/{booking_id}/check-in": Call(BANK_STAFF),
    "POST /api/v1/blood-bank/bookings/{booking_id}/undo-check-in": Call(
        BANK_STAFF, body=lambda w: {"reason": "Registrada por error"}),
    "POST /api/v1/blood-bank/bookings/{booking_id}/no-show": Call(BANK_STAFF),
    "GET /api/v1/blood-banks/{bank_id}/bookings": Call(BANK_STAFF, params=_day),
    "GET /api/v1/blood-banks/{bank_id}/donor-counts": Call(BANK_STAFF),
    "POST /api/v1/incidents": Call(GUARDIAN, body=lambda w: {"patient_id": w.patient_id, "category": "otro",
                                                             "description": "Prueba de permisos"}),
    "GET /api/v1/incidents": Call(INCIDENT_READERS),
    "GET /api/v1/incidents/{incident_id}": Call(INCIDENT_READERS),
    "POST /api/v1/incidents/{incident_id}/responses": Call(
        DESK, body=lambda w: {"message": "Se surtió el medicamento en farmacia.", "resolves": False}),
    "POST /api/v1/incidents/{incident_id}/reopen": Call(
        GUARDIAN, body=lambda w: {"reason": "Sigue sin resolverse"}),
    "POST /api/v1/incidents/{incident_id}/photos": Call(GUARDIAN, files=True),
    "GET /api/v1/incidents/{incident_id}/photos/{photo_id}": Call(INCIDENT_READERS),
    "GET /api/v1/case-desk/weekly": Call(DESK, params=_week),
    "GET /api/v1/case-desk/weekly.csv": Call(DESK, params=_week),
    "GET /api/v1/case-desk/weekly.md": Call(DESK, params=_week),
    "GET /api/v1/sync": Call(GUARDIAN),
    "POST /api/v1/privacy/acceptance": Call(GUARDIAN, body=lambda w: {"version": w.notice_version}),
    "GET /api/v1/privacy/export": Call(GUARDIAN),
    "POST /api/v1/privacy/closure-request": Call(GUARDIAN, body=lambda w: {"reason": "Ya no usaremos la app"}),
    "POST /api/v1/privacy/closure-request/cancel": Call(GUARDIAN),
    "GET /api/v1/privacy/closure-requests": Call(_roles("admin")),
    "POST /api/v1/privacy/closure-requests/{closure_id}/close": Call(_roles("admin")),
    # reminders
    "GET /api/v1/me/reminders": Call(GUARDIAN),
    "PUT /api/v1/me/reminders": Call(GUARDIAN, body=lambda w: {"kinds": ["cita_manana"]}),
    # administration
    "GET /api/v1/units": Call(ALL),
    "POST /api/v1/admin/units": Call(ADMIN, body=lambda w: {"name": "HGZ No. 2", "level": "segundo_nivel",
                                                            "state": "Sonora"}),
    "PATCH /api/v1/admin/units/{unit_id}": Call(ADMIN, body=lambda w: {"state": "Ciudad de México"}),
    "GET /api/v1/admin/users": Call(ADMIN),
    "POST /api/v1/admin/users": Call(ADMIN, body=lambda w: {"username": "nuevo.personal", "display_name": "Nuevo",
                                                            "role": "oncology", "unit_ids": [w.unit_id]}),
    "PATCH /api/v1/admin/users/{staff_id}": Call(ADMIN, body=lambda w: {"display_name": "Lic. P. Núñez"}),
    "POST /api/v1/admin/users/{staff_id}/password-reset": Call(ADMIN),
    # the registry
    "GET /api/v1/registry/diagnoses": Call(ALL),
    "POST /api/v1/patients": Call(REGISTRY_WRITERS, body=lambda w: child(w.unit_id)),
    "GET /api/v1/patients": Call(REGISTRY_READERS, params=lambda: {"q": "mateo"}),
    "GET /api/v1/patients/{patient_id}": Call(REGISTRY_READERS),
    "PATCH /api/v1/patients/{patient_id}": Call(REGISTRY_WRITERS, body=lambda w: {"allergies": "Ninguna conocida"}),
    "GET /api/v1/patients/{patient_id}/corrections": Call(REGISTRY_READERS),
    "GET /api/v1/registry/figures": Call(REGISTRY_READERS, params=_week),
    "GET /api/v1/registry/figures.csv": Call(REGISTRY_READERS, params=_week),
    "GET /api/v1/registry/figures.md": Call(REGISTRY_READERS, params=_week),
    "POST /api/v1/registry/import": Call(REGISTRY_WRITERS, files=True),
    "POST /api/v1/patients/{patient_id}/referral": Call(REGISTRY_WRITERS, body=lambda w: {"unit_id": w.unit_id}),
    # guardians
    "POST /api/v1/patients/{patient_id}/guardian-invitations": Call(
        REGISTRY_WRITERS, body=lambda w: {"full_name": "Ana Méndez", "relationship": "tía", "phone": "5512345678"}),
    "GET /api/v1/patients/{patient_id}/guardian-invitations": Call(REGISTRY_READERS),
    "DELETE /api/v1/patients/{patient_id}/guardian-invitations/{invitation_id}": Call(REGISTRY_WRITERS),
    "POST /api/v1/patients/{patient_id}/guardian-invitations/{invitation_id}/reissue": Call(REGISTRY_WRITERS),
    "POST /api/v1/me/activation": Call(GUARDIAN, body=lambda w: {"code": "ABCDE-FGHJK"}),
    "GET /api/v1/patients/{patient_id}/guardians": Call(_roles("guardian", "oncology", "case_desk", "admin")),
    "DELETE /api/v1/patients/{patient_id}/guardians/{user_id}": Call(REGISTRY_WRITERS),
    # the WhatsApp channel
    "POST /api/v1/me/whatsapp/link-code": Call(GUARDIAN),
    "GET /api/v1/me/whatsapp": Call(GUARDIAN),
    "DELETE /api/v1/me/whatsapp": Call(GUARDIAN),
    "POST /api/v1/whatsapp/unlink": Call(_roles("case_desk", "admin"), body=lambda w: {"phone": "55 9999 8888"}),
    # the chemotherapy plan
    "GET /api/v1/protocols": Call(_roles("oncology", "pharmacy", "case_desk", "blood_bank", "admin")),
    "POST /api/v1/protocols": Call(ADMIN, body=lambda w: _regimen()),
    "GET /api/v1/patients/{patient_id}/chemotherapy": Call(REGISTRY_WRITERS),
    "POST /api/v1/patients/{patient_id}/cycles": Call(REGISTRY_WRITERS, body=lambda w: {
        "protocol_id": w.regimen_id, "scheduled_for": (utcnow() + timedelta(days=10)).date().isoformat(),
        "weight_kg": 20, "height_cm": 110, "dry_run": True}),
    # pharmacy may only confirm (a 403 from the service for other steps): confirm a version nobody saw → 409
    "POST /api/v1/cycles/{cycle_id}/actions": Call(_roles("oncology", "pharmacy", "admin"),
                                                   body=lambda w: {"action": "confirm", "version": 999}),
    # fever (Hora Dorada)
    "POST /api/v1/patients/{patient_id}/fever-episodes": Call(GUARDIAN, body=lambda w: {
        "temperature_c": 38.5, "measured_at": utcnow().isoformat()}),
    # Mateo has an open episode (the world's): the allowed roles get 409 fever_episode_already_open
    "POST /api/v1/patients/{patient_id}/fever-episodes/at-unit": Call(FEVER_STAFF, body=lambda w: {
        "temperature_c": 38.7, "measured_at": utcnow().isoformat()}),
    "GET /api/v1/patients/{patient_id}/fever-episodes": Call(FEVER_READERS),
    "GET /api/v1/fever-episodes": Call(FEVER_STAFF),
    "GET /api/v1/fever-episodes/{episode_id}": Call(FEVER_READERS),
    "POST /api/v1/fever-episodes/{episode_id}/steps": Call(FEVER_STAFF, body=lambda w: {"step": "antibiotic"}),
    "GET /api/v1/patients/{patient_id}/emergency-card": Call(FEVER_READERS),
    "GET /api/v1/patients/{patient_id}/ips": Call(FEVER_READERS),
    "POST /api/v1/emergency-cards/verify": Call(ALL - GUARDIAN, body=lambda w: {"token": w.qr_token}),
    "GET /api/v1/fever/weekly": Call(FEVER_STAFF, params=_week),
    "GET /api/v1/fever/weekly.csv": Call(FEVER_STAFF, params=_week),
    "GET /api/v1/fever/weekly.md": Call(FEVER_STAFF, params=_week),
}

# ---- walking the routes -----------------------------------------------------------------


def _api_routes(app: FastAPI) -> Iterator[tuple[str, Any]]:
    """``("METHOD /path", effective route)`` for every API route, prefixes of included routers applied."""
    for context in iter_route_contexts(app.routes):
        if isinstance(context.original_route, APIRoute):
            for method in sorted(context.methods or ()):
                yield f"{method} {context.path}", context


def test_every_route_needs_authorisation_or_is_listed_public(app: FastAPI) -> None:
    routes = dict(_api_routes(app))
    unguarded = sorted(key for key, route in routes.items()
                       if key not in PUBLIC and get_signed_in_user not in dependency_calls(route.dependant))
    assert unguarded == [], f"routes without an authorisation dependency: {unguarded}"
    assert set(PUBLIC) <= set(routes), f"stale PUBLIC entries: {set(PUBLIC) - set(routes)}"
    others = {context.path for context in iter_route_contexts(app.routes)
              if not isinstance(context.original_route, APIRoute)}
    assert others <= set(DOCS), f"non-API routes nobody reviewed: {others - set(DOCS)}"


def test_every_route_is_in_the_matrix(app: FastAPI) -> None:
    routes = {key for key, _ in _api_routes(app)}
    assert routes - set(PUBLIC) - set(MATRIX) == set(), "new routes: add them to MATRIX (or PUBLIC)"
    assert set(MATRIX) - routes == set(), "MATRIX lists routes that no longer exist"
    assert not set(MATRIX) & set(PUBLIC)


# ---- the matrix -------------------------------------------------------------------------


@dataclass
class World:
    """Ids of demo objects every allowed role may see (Mateo, Siglo XXI)."""

    patient_id: str
    cycle_id: str
    qr_token: str
    appointment_id: str  # the hospital's
    family_appointment_id: str
    bank_id: str
    slot_id: str
    booking_id: str
    incident_id: str
    notice_version: str
    closure_id: str  # padre.demo's open request to close his account
    unit_id: str  # Mateo's (Siglo XXI)
    staff_id: str  # casos.demo
    invitation_id: str  # a pending activation code for Mateo
    user_id: str  # madre.demo, Mateo's guardian
    regimen_id: str  # a catalogue regimen
    episode_id: str  # a fever episode of Mateo's (avisada)
    photo_id: str = "AAAAAAAAAAAA"  # none in the demo: allowed roles get 404


def _world(client: TestClient, ctx: Context) -> World:
    with ctx.sessions() as session:
        patient = session.scalars(select(Patient).where(Patient.display_name == "Mateo Hernández")).one()
        cycle = session.scalars(select(Cycle).where(Cycle.patient_id == patient.id, Cycle.status == "programado")
                                .order_by(Cycle.number)).first()
        appointments = {a.source: a.id for a in session.scalars(
            select(Appointment).where(Appointment.patient_id == patient.id).order_by(Appointment.starts_at))}
        bank = session.scalars(select(BloodBank).where(BloodBank.unit_id == patient.unit_id)).one()
        booking = session.scalars(select(Booking).where(Booking.patient_id == patient.id,
                                                        Booking.status == "confirmada")).first()
        incident = session.scalars(select(Incident).where(Incident.patient_id == patient.id)).first()
        staff_id = session.scalars(select(User.id).where(User.username == "casos.demo")).one()
        madre_id = session.scalars(select(User.id).where(User.username == "madre.demo")).one()
        regimen_id = session.scalars(select(Regimen.id)).first()
    assert regimen_id
    assert cycle and booking and incident and {"familia", "hospital"} <= set(appointments)
    tokens = access_tokens(ctx, "madre.demo", "oncologia.demo", "padre.demo")
    guardian = bearer(tokens["madre.demo"])
    qr = client.get(f"/api/v1/patients/{patient.id}/carnet", headers=guardian).json()["qr"]["token"]
    _day, slots = open_day(client, ctx, guardian, bank.id)
    invitation = client.post(f"/api/v1/patients/{patient.id}/guardian-invitations",
                             json={"full_name": "Ana Méndez", "relationship": "tía", "phone": "5512345678"},
                             headers=bearer(tokens["oncologia.demo"]))
    assert invitation.status_code == 201, invitation.text
    episode = client.post(f"/api/v1/patients/{patient.id}/fever-episodes", headers=guardian,
                          json={"temperature_c": 38.5, "measured_at": utcnow().isoformat()})
    assert episode.status_code == 201, episode.text
    closure = client.post("/api/v1/privacy/closure-request", json={},
                          headers=bearer(tokens["padre.demo"]))
    assert closure.status_code == 201, closure.text
    return World(patient_id=patient.id, cycle_id=cycle.id, qr_token=qr, appointment_id=appointments["hospital"],
                 family_appointment_id=appointments["familia"], bank_id=bank.id, slot_id=slots[0]["id"],
                 booking_id=booking.id, incident_id=incident.id,
                 notice_version=client.get("/api/v1/privacy/notice").json()["version"],
                 closure_id=closure.json()["id"], unit_id=patient.unit_id, staff_id=staff_id,
                 invitation_id=invitation.json()["id"], user_id=madre_id, regimen_id=regimen_id,
                 episode_id=episode.json()["id"])


def _world_on_template(ctx: Context) -> World:
    return _world(TestClient(create_app(context=ctx)), ctx)


#: The world is made once on the template the tests' databases are copied from (tests/server/conftest.py).
TEMPLATE_THEN = _world_on_template


@pytest.fixture
def world(request: pytest.FixtureRequest, client: TestClient, ctx: Context) -> World:
    made = template_then(request)
    assert made is None or isinstance(made, World)
    return made or _world(client, ctx)


def _request(client: TestClient, method: str, path: str, call: Call, world: World,
             headers: dict[str, str]) -> Any:
    kwargs: dict[str, Any] = {"headers": headers}
    if call.body is not None:
        kwargs["json"] = call.body(world)
    if call.files:
        kwargs["files"] = {"file": ("foto.png", _png(), "image/png")}
    if call.params is not None:
        kwargs["params"] = call.params()
    return client.request(method, path, **kwargs)


def _png() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()


@pytest.mark.parametrize("key", sorted(MATRIX))
def test_role_matrix(client: TestClient, ctx: Context, world: World, key: str) -> None:
    call = MATRIX[key]
    method, template = key.split(" ", 1)
    issued = access_tokens(ctx, *USERS.values())
    tokens = {role: issued[user] for role, user in USERS.items()}
    wrong: list[str] = []
    seen: list[str] = []

    def path_for(role: str | None) -> str:
        return (call.by_role.get(role or "", call.path or template)).format(**vars(world))

    anonymous = _request(client, method, path_for(None), call, world, {})
    if anonymous.status_code != 401:
        wrong.append(f"anonymous → {anonymous.status_code}")
    forged = _request(client, method, path_for(None), call, world, bearer("not.a.token"))
    if forged.status_code != 401:
        wrong.append(f"bad token → {forged.status_code}")
    # the refused roles first: a refusal must change nothing, so the allowed ones still find the objects
    for role in sorted(ALL - call.allowed) + sorted(call.allowed):
        response = _request(client, method, path_for(role), call, world, bearer(tokens[role]))
        status = response.status_code
        seen.append(f"{role}={status}")
        if role in call.allowed:
            if status in (401, 403, 500):
                wrong.append(f"{role} (allowed) → {status} {response.text[:120]}")
        elif status != 403 or response.json()["error"]["code"] != "forbidden":
            wrong.append(f"{role} (refused) → {status} {response.text[:120]}")
    assert wrong == [], f"{key}: {wrong} (all: {seen})"


@pytest.mark.parametrize("key", sorted(PUBLIC))
def test_public_routes_answer_anonymous_callers(client: TestClient, world: World, key: str) -> None:
    method, template = key.split(" ", 1)
    path = template.format(token=world.qr_token)
    response = client.request(method, path, json={} if method == "POST" else None)
    assert response.status_code in PUBLIC[key][1], (key, response.status_code, response.text[:200])
