"""GET /api/v1/patients/{id}/carnet: who sees what, the audit trail, the QR."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

import pytest
import segno
from sqlalchemy import func, select
from starlette.testclient import TestClient

from carnet_contract import models as contract
from carnet_server.audit import AuditEntry
from carnet_server.context import Context
from carnet_server.patients.service import revoke_qr_tokens
from carnet_server.patients.tables import Cycle
from carnet_server.signing import rotate_signing_key
from tests.server.conftest import assert_error

Auth = Callable[[str], dict[str, str]]
MATEO, VALENTINA, SANTIAGO = "Mateo Hernández", "Valentina Hernández", "Santiago Ramírez"
EMILIANO, CAMILA = "Emiliano Valenzuela", "Camila Torres"


def carnet_url(patient_id: str) -> str:
    return f"/api/v1/patients/{patient_id}/carnet"


def audit_reads(ctx: Context, patient_id: str) -> list[AuditEntry]:
    with ctx.sessions() as session:
        return list(session.scalars(
            select(AuditEntry).where(AuditEntry.action == "carnet.read", AuditEntry.object_id == patient_id)))


def test_guardian_reads_linked_child(client: TestClient, auth: Auth, patient_ids: dict[str, str]) -> None:
    response = client.get(carnet_url(patient_ids[MATEO]), headers=auth("madre.demo"))
    assert response.status_code == 200
    carnet = contract.Carnet.model_validate(response.json())
    assert carnet.patient.full_name == "Mateo Hernández López"
    assert carnet.patient.unit.name == "UMAE Hospital de Pediatría CMN Siglo XXI"
    assert carnet.diagnosis is not None and carnet.diagnosis.cie10 == "C91.0"
    assert carnet.protocol is not None and "LLA" in carnet.protocol.name
    numbers = [c.number for c in carnet.cycles]
    assert numbers == sorted(numbers) and len(numbers) >= 4
    assert any(c.status == "aplicado" and c.mixing.status == "entregada" for c in carnet.cycles)
    upcoming = [c for c in carnet.cycles if c.status == "programado"]
    assert upcoming and all(c.scheduled_for > date.today() - timedelta(days=1) for c in upcoming)
    assert {d.route for c in carnet.cycles for d in c.drugs} >= {"IV", "IT", "VO"}
    assert carnet.qr.url == f"https://carnet.example.mx/v/{carnet.qr.token}"
    # guardians' own reads are not staff reads
    assert audit_reads(client.app.state.ctx, patient_ids[MATEO]) == []  # type: ignore[attr-defined]


def test_guardian_of_another_family_gets_404(client: TestClient, auth: Auth, patient_ids: dict[str, str]) -> None:
    for name in (SANTIAGO, EMILIANO, CAMILA):
        error = assert_error(client.get(carnet_url(patient_ids[name]), headers=auth("madre.demo")), 404,
                             "patient_not_found")
        assert error["message"] == "No se encontró el paciente."
    assert_error(client.get(carnet_url(patient_ids[MATEO]), headers=auth("padre.demo")), 404, "patient_not_found")


def test_unknown_id_is_404_like_a_foreign_one(client: TestClient, auth: Auth, patient_ids: dict[str, str]) -> None:
    headers = auth("madre.demo")
    unknown = assert_error(client.get(carnet_url("AAAAAAAAAAAA"), headers=headers), 404, "patient_not_found")
    foreign = assert_error(client.get(carnet_url(patient_ids[SANTIAGO]), headers=headers), 404)
    assert unknown == foreign
    assert_error(client.get(carnet_url("x" * 300), headers=auth("admin.demo")), 404, "patient_not_found")


def test_carnet_needs_auth(client: TestClient, patient_ids: dict[str, str]) -> None:
    assert_error(client.get(carnet_url(patient_ids[MATEO])), 401)


@pytest.mark.parametrize("username", ["farmacia.demo", "casos.demo", "banco.demo"])
def test_staff_reads_own_unit_once_audited(client: TestClient, auth: Auth, ctx: Context,
                                           patient_ids: dict[str, str], username: str) -> None:
    patient_id = patient_ids[MATEO]  # Siglo XXI: every demo staff member works there
    response = client.get(carnet_url(patient_id), headers=auth(username))
    assert response.status_code == 200
    rows = audit_reads(ctx, patient_id)
    assert len(rows) == 1
    assert rows[0].actor_role == username.split(".")[0].replace("farmacia", "pharmacy").replace(
        "casos", "case_desk").replace("banco", "blood_bank")
    assert rows[0].object_type == "patient" and rows[0].ip
    assert "Mateo" not in str(rows[0].detail)


@pytest.mark.parametrize(("username", "child"), [
    ("farmacia.demo", SANTIAGO), ("farmacia.demo", EMILIANO), ("casos.demo", SANTIAGO),
    ("banco.demo", VALENTINA), ("banco.demo", EMILIANO),
])
def test_staff_other_unit_404(client: TestClient, auth: Auth, ctx: Context, patient_ids: dict[str, str],
                              username: str, child: str) -> None:
    assert_error(client.get(carnet_url(patient_ids[child]), headers=auth(username)), 404, "patient_not_found")
    assert audit_reads(ctx, patient_ids[child]) == []


def test_admin_reads_all(client: TestClient, auth: Auth, patient_ids: dict[str, str]) -> None:
    headers = auth("admin.demo")
    for patient_id in patient_ids.values():
        assert client.get(carnet_url(patient_id), headers=headers).status_code == 200


def test_qr_is_stable_and_small(client: TestClient, auth: Auth, patient_ids: dict[str, str]) -> None:
    headers = auth("madre.demo")
    first = client.get(carnet_url(patient_ids[MATEO]), headers=headers).json()["qr"]
    second = client.get(carnet_url(patient_ids[MATEO]), headers=headers).json()["qr"]
    assert first == second
    qr = segno.make(first["url"], error="m", micro=False)
    assert qr.version <= 14
    assert len(first["url"].encode()) <= 458


def test_qr_fits_with_a_long_public_url(client: TestClient, auth: Auth, patient_ids: dict[str, str]) -> None:
    ctx: Context = client.app.state.ctx  # type: ignore[attr-defined]
    ctx.settings = ctx.settings.model_copy(update={"public_url": "https://carnet.imss.gob.mx"})
    url = client.get(carnet_url(patient_ids[MATEO]), headers=auth("madre.demo")).json()["qr"]["url"]
    assert url.startswith("https://carnet.imss.gob.mx/v/")
    assert segno.make(url, error="m", micro=False).version <= 14


def test_qr_claims_hold_no_personal_data(client: TestClient, auth: Auth, patient_ids: dict[str, str]) -> None:
    import base64
    import json

    carnet = client.get(carnet_url(patient_ids[MATEO]), headers=auth("madre.demo")).json()
    header_b64, payload_b64, _sig = carnet["qr"]["token"].split(".")
    header = json.loads(base64.urlsafe_b64decode(header_b64 + "=="))
    claims = json.loads(base64.urlsafe_b64decode(payload_b64 + "=" * (-len(payload_b64) % 4)))
    assert set(header) == {"alg", "kid"} and header["alg"] == "EdDSA"
    assert set(claims) == {"iss", "sub", "cyc", "iat", "exp", "jti"}  # nbf = iat, left out for size
    assert claims["sub"] == patient_ids[MATEO]
    assert claims["iss"] == "https://carnet.example.mx"
    due = [c for c in carnet["cycles"] if c["status"] == "programado"][:2]
    assert claims["cyc"] == [c["id"] for c in due]
    assert claims["exp"] - claims["iat"] == 30 * 86400
    text = json.dumps(claims)
    for personal in ("Mateo", "Hernández", carnet["patient"]["curp"], carnet["patient"]["nss"], "C91"):
        assert personal not in text


def test_qr_reissued_on_rotation_revocation_and_cycle_change(
    client: TestClient, auth: Auth, ctx: Context, patient_ids: dict[str, str]
) -> None:
    headers = auth("madre.demo")
    patient_id = patient_ids[MATEO]

    def token() -> str:
        return str(client.get(carnet_url(patient_id), headers=headers).json()["qr"]["token"])

    first = token()
    rotate_signing_key(ctx.settings)
    rotated = token()
    assert rotated != first
    with ctx.sessions() as session:
        revoke_qr_tokens(session, patient_id=patient_id)
        session.commit()
    after_revoke = token()
    assert after_revoke != rotated
    with ctx.sessions() as session:
        next_cycle = session.scalars(select(Cycle).where(Cycle.patient_id == patient_id,
                                                         Cycle.status == "programado").order_by(Cycle.number)).first()
        assert next_cycle is not None
        next_cycle.status = "aplicado"
        session.commit()
    assert token() != after_revoke
    with ctx.sessions() as session:
        assert session.scalar(select(func.count()).select_from(AuditEntry)) is not None


def test_due_cycles_picked_from_the_loaded_cycles_match_the_query(ctx: Context) -> None:
    """The carnet read picks the QR's due cycles from the cycles it loaded; the same as the query would."""
    from datetime import timedelta

    from sqlalchemy import select as _select

    from carnet_server.db import utcnow
    from carnet_server.patients.service import due_cycle_ids, due_cycles
    from carnet_server.patients.tables import Cycle, Patient

    with ctx.sessions() as session:
        for patient in session.scalars(_select(Patient)):
            cycles = list(session.scalars(_select(Cycle).where(Cycle.patient_id == patient.id)))
            for days in (-30, 0, 10, 40):
                today = ctx.today(utcnow()) + timedelta(days=days)
                expected = [c.id for c in due_cycles(session, patient_id=patient.id, today=today)]
                assert due_cycle_ids(cycles, today=today) == expected
