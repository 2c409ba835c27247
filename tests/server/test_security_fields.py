"""Request bodies refuse unknown fields: every body model a route takes forbids extras, and a
guardian (or a pharmacist) slipping ``role`` / ``patient_id`` / ``is_admin`` in gets 422 and
changes nothing."""

from __future__ import annotations

import types
import typing
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import BaseModel
from sqlalchemy import func, select
from starlette.testclient import TestClient

from carnet_contract import models as contract
from carnet_server.agenda.tables import Appointment
from carnet_server.blood_bank.tables import Booking
from carnet_server.context import Context
from carnet_server.db import utcnow
from carnet_server.incidents.tables import Incident
from carnet_server.pharmacy.tables import Dispensation
from tests.server.blood_bank_support import body as booking_body
from tests.server.blood_bank_support import open_day
from tests.server.conftest import assert_error, bearer, login

# Routes whose body is not a JSON model, with the reason.
NOT_JSON = {
    "POST /api/v1/incidents/{incident_id}/photos": "multipart upload: only the part named `file` is read",
    "POST /api/v1/registry/import": "multipart upload: only the part named `file` (a CSV) is read",
}
# Routes that read the raw body themselves (to check a signature first), with the model they parse it into.
RAW_BODY = {"POST /api/v1/mixing/callbacks": contract.MixingCallback}


def _models(annotation: Any) -> Iterator[type[BaseModel]]:
    """The pydantic models inside a type (``X | None``, ``list[X]``, ``dict[str, X]``, ``Annotated``)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
        for info in annotation.model_fields.values():
            yield from _models(info.annotation)
        return
    origin = typing.get_origin(annotation)
    if origin is not None or isinstance(annotation, types.UnionType):
        for arg in typing.get_args(annotation):
            yield from _models(arg)


def _body_models(app: FastAPI) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for context in iter_route_contexts(app.routes):
        if isinstance(context.original_route, APIRoute) and context.body_field is not None:
            for method in context.methods or ():
                out[f"{method} {context.path}"] = context.body_field.field_info.annotation
    return out


def test_every_request_body_model_forbids_unknown_fields(app: FastAPI) -> None:
    bodies = _body_models(app)
    assert set(NOT_JSON) <= set(bodies), "stale NOT_JSON entries"
    checked: set[type[BaseModel]] = set(RAW_BODY.values())
    for key, annotation in bodies.items():
        if key in NOT_JSON:
            continue
        models = list(_models(annotation))
        assert models, f"{key}: body is not a pydantic model ({annotation!r})"
        checked.update(models)
    lax = sorted(m.__name__ for m in checked if m.model_config.get("extra") != "forbid")
    assert lax == [], f"request models that accept unknown fields: {lax}"
    # the walk reached the nested ones too (BookingCreate → DonorIn)
    assert {contract.BookingCreate, contract.DonorIn, contract.PasswordChange, contract.LoginRequest} <= checked


# ---- end to end -------------------------------------------------------------------------


def _count(ctx: Context, table: Any) -> int:
    with ctx.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(table)) or 0)


def _ids(ctx: Context) -> dict[str, str]:
    from carnet_server.patients.tables import Cycle, Patient

    with ctx.sessions() as session:
        patients = {p.display_name: p.id for p in session.scalars(select(Patient))}
        mateo = patients["Mateo Hernández"]
        cycle = session.scalars(select(Cycle).where(Cycle.patient_id == mateo, Cycle.status == "programado")
                                .order_by(Cycle.number)).first()
        family = session.scalars(select(Appointment).where(Appointment.patient_id == mateo,
                                                           Appointment.source == "familia")).first()
    assert cycle is not None and family is not None
    return {"mateo": mateo, "santiago": patients["Santiago Ramírez"], "cycle": cycle.id, "family": family.id}


def _refused(response: Any, field: str) -> None:
    error = assert_error(response, 422, "validation_error")
    assert field in error["message"] and "no permitido" in error["message"], error


@pytest.mark.parametrize("extra", [{"role": "admin"}, {"patient_id": "AAAAAAAAAAAA"}, {"is_admin": True}])
def test_guardian_appointment_with_extra_fields(client: TestClient, ctx: Context, extra: dict[str, Any]) -> None:
    ids = _ids(ctx)
    headers = bearer(login(client, "madre.demo")["access_token"])
    start = utcnow().replace(microsecond=0) + timedelta(days=9)
    good = {"kind": "consulta", "title": "Consulta", "starts_at": start.isoformat(),
            "ends_at": (start + timedelta(hours=1)).isoformat()}
    before = _count(ctx, Appointment)
    url = f"/api/v1/patients/{ids['mateo']}/appointments"
    _refused(client.post(url, headers=headers, json={**good, **extra}), next(iter(extra)))
    assert _count(ctx, Appointment) == before
    # the same body without the extra field goes through: the refusal was the extra field
    assert client.post(url, headers=headers, json=good).status_code == 201
    assert _count(ctx, Appointment) == before + 1


def test_guardian_appointment_update_cannot_move_it_to_another_child(client: TestClient, ctx: Context) -> None:
    ids = _ids(ctx)
    headers = bearer(login(client, "madre.demo")["access_token"])
    url = f"/api/v1/appointments/{ids['family']}"
    before = client.get(url, headers=headers).json()
    _refused(client.patch(url, headers=headers, json={"notes": "cambio", "patient_id": ids["santiago"]}),
             "patient_id")
    assert client.get(url, headers=headers).json() == before
    assert client.patch(url, headers=headers, json={"notes": "cambio"}).status_code == 200


def test_guardian_booking_with_extra_fields(client: TestClient, ctx: Context) -> None:
    ids = _ids(ctx)
    headers = bearer(login(client, "madre.demo")["access_token"])
    bank = client.get("/api/v1/blood-banks", headers=headers).json()
    bank_id = next(b["id"] for b in bank if "Siglo XXI" in b["name"])
    _day, slots = open_day(client, ctx, headers, bank_id)
    good = booking_body(slots[0]["id"], ids["mateo"])
    before = _count(ctx, Booking)
    _refused(client.post("/api/v1/blood-bank/bookings", headers=headers, json={**good, "role": "blood_bank"}),
             "role")
    _refused(client.post("/api/v1/blood-bank/bookings", headers=headers,
                         json={**good, "donor": {**good["donor"], "patient_id": ids["santiago"]}}),
             "donor.patient_id")
    assert _count(ctx, Booking) == before
    assert client.post("/api/v1/blood-bank/bookings", headers=headers, json=good).status_code == 201


def test_guardian_incident_with_extra_fields(client: TestClient, ctx: Context) -> None:
    ids = _ids(ctx)
    headers = bearer(login(client, "madre.demo")["access_token"])
    good = {"patient_id": ids["mateo"], "category": "otro", "description": "No llegó la cita"}
    before = _count(ctx, Incident)
    for extra in ({"role": "case_desk"}, {"status": "atendida"}, {"is_admin": True}):
        _refused(client.post("/api/v1/incidents", headers=headers, json={**good, **extra}), next(iter(extra)))
    assert _count(ctx, Incident) == before
    assert client.post("/api/v1/incidents", headers=headers, json=good).status_code == 201


def test_dispensation_with_a_patient_id_is_refused(client: TestClient, ctx: Context) -> None:
    ids = _ids(ctx)
    guardian = bearer(login(client, "madre.demo")["access_token"])
    token = client.get(f"/api/v1/patients/{ids['mateo']}/carnet", headers=guardian).json()["qr"]["token"]
    pharmacy = bearer(login(client, "farmacia.demo")["access_token"])
    good = {"token": token, "cycle_id": ids["cycle"]}
    _refused(client.post("/api/v1/pharmacy/dispensations", headers=pharmacy,
                         json={**good, "patient_id": ids["santiago"]}), "patient_id")
    _refused(client.post("/api/v1/pharmacy/dispensations", headers=pharmacy, json={**good, "role": "admin"}),
             "role")
    assert _count(ctx, Dispensation) == 0
    # a guardian does not get that far: the role is checked before the body
    assert_error(client.post("/api/v1/pharmacy/dispensations", headers=guardian,
                             json={**good, "role": "pharmacy"}), 403, "forbidden")
    assert client.post("/api/v1/pharmacy/dispensations", headers=pharmacy, json=good).status_code == 201
    assert _count(ctx, Dispensation) == 1


def test_login_with_a_role_is_refused(client: TestClient) -> None:
    _refused(client.post("/api/v1/auth/login",
                         json={"username": "madre.demo", "password": "carnet-demo", "role": "admin"}), "role")


# ---- responses carry only what the role may see ------------------------------------------


def test_responses_do_not_leak_across_roles(client: TestClient, ctx: Context) -> None:
    ids = _ids(ctx)
    guardian = bearer(login(client, "madre.demo")["access_token"])
    desk = bearer(login(client, "casos.demo")["access_token"])
    pharmacy = bearer(login(client, "farmacia.demo")["access_token"])
    carnet = client.get(f"/api/v1/patients/{ids['mateo']}/carnet", headers=guardian).json()
    personal = (carnet["patient"]["full_name"], carnet["patient"]["nss"], carnet["patient"]["curp"],
                carnet["diagnosis"]["name"])

    # the counter sees who the child is and what is due: no NSS, CURP, full name or diagnosis
    verified = client.post("/api/v1/pharmacy/verify", headers=pharmacy, json={"token": carnet["qr"]["token"]})
    assert verified.status_code == 200 and verified.json()["valid"] is True
    assert not [p for p in personal if p in verified.text]

    # the family never learns who at the hospital answered or dispensed; the desk never sees the family's name
    made = client.post("/api/v1/incidents", headers=guardian,
                       json={"patient_id": ids["mateo"], "category": "otro", "description": "Falta una cita"}).json()
    assert client.post(f"/api/v1/incidents/{made['id']}/responses", headers=desk,
                       json={"message": "Su cita quedó el lunes a las 9.", "resolves": True}).status_code == 200
    assert client.post("/api/v1/pharmacy/dispensations", headers=pharmacy,
                       json={"token": carnet["qr"]["token"], "cycle_id": ids["cycle"]}).status_code == 201
    staff_ids = {login(client, u)["user"]["id"] for u in ("casos.demo", "farmacia.demo")}  # type: ignore[index]
    family_view = " ".join(client.get(url, headers=guardian).text for url in (
        f"/api/v1/incidents/{made['id']}", f"/api/v1/patients/{ids['mateo']}/carnet", "/api/v1/sync"))
    for secret in ("Patricia Núñez", "Laura Méndez", *staff_ids):
        assert secret not in family_view
    desk_view = client.get(f"/api/v1/incidents/{made['id']}", headers=desk).text
    assert "Mariana" not in desk_view and login(client, "madre.demo")["user"]["id"] not in desk_view  # type: ignore[index]
