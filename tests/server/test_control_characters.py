"""NUL and other control characters in any text a client sends (issue #16, item 14).

PostgreSQL refuses a NUL in text (a 500 before this was checked), SQLite stores it: on both databases a body
field, a path id, a query parameter or an Idempotency-Key with a control character is a 4xx in the error
shape, never a 500, and nothing is written — also when the same request is retried with the same key (the
key keeps the 422 to replay, as it keeps every 4xx: idempotency/deps.py).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from carnet_server.agenda.tables import Appointment
from carnet_server.auth.tables import AuthSession, LoginAttempt
from carnet_server.context import Context
from carnet_server.demo import DEMO_PASSWORD
from carnet_server.idempotency.tables import IdempotencyKey
from carnet_server.incidents.tables import Incident
from tests.server.conftest import assert_error
from tests.server.incident_support import INCIDENTS, body

Auth = Callable[[str], dict[str, str]]
CONTROL = ["\u0000", "\u0007"]
APPOINTMENT = {"kind": "consulta", "title": "Consulta de Nutrición", "starts_at": "2027-03-01T10:00:00-06:00",
               "ends_at": "2027-03-01T10:30:00-06:00", "place": "Consulta externa"}


def counts(ctx: Context) -> tuple[int, ...]:
    """Appointments, incidents, login sessions and attempts: what a refused request must not change."""
    with ctx.sessions() as session:
        return tuple(int(session.scalar(select(func.count()).select_from(t)) or 0)
                     for t in (Appointment, Incident, AuthSession, LoginAttempt))


def stored_keys(ctx: Context) -> int:
    with ctx.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(IdempotencyKey)) or 0)


def refused(response: Any, *statuses: int) -> None:
    assert response.status_code in statuses, response.text
    assert_error(response, response.status_code)


@pytest.mark.parametrize("char", CONTROL, ids=["nul", "bel"])
def test_login_refuses_control_characters(client: TestClient, ctx: Context, char: str) -> None:
    before = counts(ctx)
    for credentials in ({"username": f"madre{char}.demo", "password": DEMO_PASSWORD},
                        {"username": "madre.demo", "password": f"{DEMO_PASSWORD}{char}"}):
        refused(client.post("/api/v1/auth/login", json=credentials), 422)
    assert counts(ctx) == before


@pytest.mark.parametrize("char", CONTROL, ids=["nul", "bel"])
@pytest.mark.parametrize("field", ["title", "notes"])
def test_appointment_refuses_control_characters(client: TestClient, ctx: Context, auth: Auth,
                                                patient_ids: dict[str, str], char: str, field: str) -> None:
    url = f"/api/v1/patients/{patient_ids['Mateo Hernández']}/appointments"
    headers = {**auth("casos.demo"), "Idempotency-Key": str(uuid.uuid4())}
    before = counts(ctx)
    sent = {**APPOINTMENT, field: f"Consulta{char} de control"}
    answers = [assert_error(client.post(url, json=sent, headers=headers), 422, "validation_error")
               for _ in range(2)]  # the same key retried: the same refusal, not a 500
    assert answers[0] == answers[1]
    assert field in answers[0]["message"]
    assert counts(ctx) == before
    good = client.post(url, json=APPOINTMENT, headers={**headers, "Idempotency-Key": str(uuid.uuid4())})
    assert good.status_code == 201, good.text


@pytest.mark.parametrize("char", CONTROL, ids=["nul", "bel"])
def test_incident_refuses_control_characters(client: TestClient, ctx: Context, auth: Auth,
                                             patient_ids: dict[str, str], char: str) -> None:
    headers = {**auth("madre.demo"), "Idempotency-Key": str(uuid.uuid4())}
    mateo = patient_ids["Mateo Hernández"]
    before = counts(ctx)
    sent = body(mateo, description=f"La farmacia no tiene{char} vincristina para el ciclo del jueves.")
    answers = [assert_error(client.post(INCIDENTS, json=sent, headers=headers), 422, "validation_error")
               for _ in range(2)]
    assert answers[0] == answers[1]
    assert_error(client.post(INCIDENTS, json=body(mateo, item_name=f"Vincri{char}stina"), headers=headers), 422)
    assert counts(ctx) == before


@pytest.mark.parametrize("char", ["%00", "%07"], ids=["nul", "bel"])
def test_path_ids_with_control_characters(client: TestClient, ctx: Context, auth: Auth,
                                          patient_ids: dict[str, str], char: str) -> None:
    mateo = patient_ids["Mateo Hernández"]
    casos, madre = auth("casos.demo"), auth("madre.demo")
    before = counts(ctx)
    refused(client.get(f"/api/v1/appointments/ap{char}x", headers=casos), 404, 422)
    refused(client.get(f"/api/v1/patients/{mateo}{char}/carnet", headers=madre), 404, 422)
    refused(client.get(f"/api/v1/patients/{mateo}{char}/appointments", headers=madre), 404, 422)
    refused(client.post(f"/api/v1/patients/{mateo}{char}/appointments", json=APPOINTMENT, headers=casos), 404, 422)
    refused(client.get(f"/api/v1/incidents/in{char}x", headers=madre), 404, 422)
    assert counts(ctx) == before


@pytest.mark.parametrize("char", CONTROL, ids=["nul", "bel"])
def test_query_parameter_with_control_characters(client: TestClient, auth: Auth, char: str) -> None:
    headers = auth("oncologia.demo")
    refused(client.get("/api/v1/patients", params={"q": f"Mateo{char}"}, headers=headers), 422)
    assert_error(client.get("/api/v1/sync", params={"cursor": f"x{char}"}, headers=auth("madre.demo")), 422,
                 "invalid_cursor")
    assert client.get("/api/v1/patients", params={"q": "Mateo"}, headers=headers).status_code == 200


@pytest.mark.parametrize("char", CONTROL, ids=["nul", "bel"])
def test_idempotency_key_with_control_characters(client: TestClient, ctx: Context, auth: Auth,
                                                 patient_ids: dict[str, str], char: str) -> None:
    url = f"/api/v1/patients/{patient_ids['Mateo Hernández']}/appointments"
    headers = {**auth("casos.demo"), "Idempotency-Key": f"clave{char}1"}
    before, keys = counts(ctx), stored_keys(ctx)
    for _ in range(2):
        refused(client.post(url, json=APPOINTMENT, headers=headers), 400, 422)
    assert (counts(ctx), stored_keys(ctx)) == (before, keys)
