"""POST /api/v1/pharmacy/dispensations: once per cycle, every refusal next to the good request."""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from fastapi import FastAPI
from joserfc.jwk import OKPKey
from sqlalchemy import func, select, update
from starlette.testclient import TestClient

from carnet_contract import models as contract
from carnet_server.audit import AuditEntry
from carnet_server.context import Context
from carnet_server.db import utcnow
from carnet_server.patients.service import current_qr
from carnet_server.patients.tables import Cycle, Patient
from carnet_server.pharmacy import service as pharmacy
from carnet_server.pharmacy.tables import Dispensation
from carnet_server.signing import sign_claims
from tests.server.blood_bank_support import live_server
from tests.server.conftest import assert_error, sync_all
from tests.server.test_verification import qr_of, tamper

Auth = Callable[[str], dict[str, str]]
DISPENSE = "/api/v1/pharmacy/dispensations"
VERIFY = "/api/v1/pharmacy/verify"
MATEO, VALENTINA, SANTIAGO, CAMILA = "Mateo Hernández", "Valentina Hernández", "Santiago Ramírez", "Camila Torres"
STAFF = "Q.F.B. Laura Méndez"


def due_of(client: TestClient, auth: Auth, patient_id: str, username: str = "madre.demo") -> list[dict[str, Any]]:
    """The carnet's due cycles, those in its QR (status programado, the next two)."""
    carnet = client.get(f"/api/v1/patients/{patient_id}/carnet", headers=auth(username)).json()
    return [c for c in carnet["cycles"] if c["status"] == "programado"][:2]


def rows(ctx: Context) -> list[Dispensation]:
    with ctx.sessions() as session:
        return list(session.scalars(select(Dispensation)))


def audits(ctx: Context, action: str = "pharmacy.dispense") -> list[AuditEntry]:
    with ctx.sessions() as session:
        return list(session.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)))


def one_char_changed(token: str) -> str:
    """The token with one character of its signature changed (in the middle: no padding bits there)."""
    header, payload, signature = token.split(".")
    i = len(signature) // 2
    swapped = "A" if signature[i] != "A" else "B"
    return f"{header}.{payload}.{signature[:i]}{swapped}{signature[i + 1:]}"


@pytest.fixture
def mateo(client: TestClient, auth: Auth, patient_ids: dict[str, str]) -> dict[str, Any]:
    patient_id = patient_ids[MATEO]
    return {"id": patient_id, "qr": qr_of(client, auth, patient_id), "due": due_of(client, auth, patient_id)}


# ---- the good path --------------------------------------------------------------------------------------------


def test_dispense_all_drugs_by_default(client: TestClient, auth: Auth, ctx: Context, mateo: dict[str, Any]) -> None:
    cycle = mateo["due"][0]
    response = client.post(DISPENSE, json={"token": mateo["qr"]["url"], "cycle_id": cycle["id"]},
                           headers=auth("farmacia.demo"))
    assert response.status_code == 201, response.text
    out = contract.Dispensation.model_validate(response.json())
    assert (out.patient_id, out.cycle_id, out.cycle_number) == (mateo["id"], cycle["id"], cycle["number"])
    assert [d.model_dump() for d in out.items] == cycle["drugs"]
    assert out.dispensed_by == STAFF
    assert abs(out.dispensed_at - utcnow()) < timedelta(minutes=5)
    (row,) = rows(ctx)
    assert (row.id, row.cycle_id, row.dispensed_by_label) == (out.id, cycle["id"], STAFF)

    # the carnet (the family's phone) and the counter both see it now
    carnet = client.get(f"/api/v1/patients/{mateo['id']}/carnet", headers=auth("madre.demo")).json()
    dispensed = {c["id"]: c["dispensed_at"] for c in carnet["cycles"]}
    assert dispensed.pop(cycle["id"]) is not None and set(dispensed.values()) == {None}
    verified = contract.VerifyResponse.model_validate(
        client.post(VERIFY, json={"token": mateo["qr"]["token"]}, headers=auth("farmacia.demo")).json())
    assert [d.id for d in verified.dispensations] == [out.id]
    assert [c.dispensed_at is not None for c in verified.due] == [True, False]


def test_dispense_named_items_in_the_cycles_order(client: TestClient, auth: Auth, ctx: Context,
                                                  mateo: dict[str, Any]) -> None:
    cycle = mateo["due"][1]
    names = [d["name"] for d in cycle["drugs"]]
    wanted = [names[3], names[0]]
    response = client.post(DISPENSE, json={"token": mateo["qr"]["token"], "cycle_id": cycle["id"], "items": wanted},
                           headers=auth("admin.demo"))
    assert response.status_code == 201, response.text
    assert [d["name"] for d in response.json()["items"]] == [names[0], names[3]]
    assert response.json()["dispensed_by"] == "Administración Carnet"
    assert [d["name"] for d in rows(ctx)[0].items] == [names[0], names[3]]


def test_the_familys_sync_carries_the_dispensed_cycle(client: TestClient, auth: Auth, mateo: dict[str, Any]) -> None:
    madre = auth("madre.demo")
    _, cursor, _ = sync_all(client, madre)
    cycle = mateo["due"][0]
    assert client.post(DISPENSE, json={"token": mateo["qr"]["token"], "cycle_id": cycle["id"]},
                       headers=auth("farmacia.demo")).status_code == 201
    page = client.get("/api/v1/sync", params={"cursor": cursor}, headers=madre).json()
    (change,) = [c for c in page["changes"] if c["type"] == "cycle"]
    assert change["id"] == cycle["id"] and change["op"] == "upsert"
    assert contract.Cycle.model_validate(change["data"]).dispensed_at is not None


# ---- once per cycle ---------------------------------------------------------------------------------------------


def test_second_dispensation_is_409_with_who_and_when(client: TestClient, auth: Auth, ctx: Context,
                                                      mateo: dict[str, Any]) -> None:
    cycle = mateo["due"][0]
    body = {"token": mateo["qr"]["token"], "cycle_id": cycle["id"]}
    first = client.post(DISPENSE, json=body, headers=auth("farmacia.demo")).json()
    when = contract.Dispensation.model_validate(first).dispensed_at.astimezone(ZoneInfo("America/Mexico_City"))

    for headers in (auth("farmacia.demo"), auth("admin.demo")):
        response = client.post(DISPENSE, json={**body, "items": [cycle["drugs"][0]["name"]]}, headers=headers)
        assert response.status_code == 409, response.text
        error = response.json()["error"]
        assert error["code"] == "already_dispensed"
        assert error["dispensation"] == first
        assert error["message"] == (f"El ciclo {cycle['number']} ya fue surtido el "
                                    f"{when:%d/%m/%Y} a las {when:%H:%M} por {STAFF}.")
    english = client.post(DISPENSE, json=body, headers={**auth("farmacia.demo"), "Accept-Language": "en"})
    assert english.json()["error"]["message"] == (f"Cycle {cycle['number']} was already dispensed on "
                                                  f"{when:%Y-%m-%d} at {when:%H:%M} by {STAFF}.")
    assert len(rows(ctx)) == 1
    # the client's parser reads the first dispensation from the error
    parsed = contract.ErrorBody.model_validate(english.json())
    assert parsed.error.dispensation is not None and parsed.error.dispensation.id == first["id"]


def test_idempotent_retry_replays_the_201(client: TestClient, auth: Auth, ctx: Context,
                                          mateo: dict[str, Any]) -> None:
    headers = {**auth("farmacia.demo"), "Idempotency-Key": str(uuid.uuid4())}
    body = {"token": mateo["qr"]["token"], "cycle_id": mateo["due"][0]["id"]}
    first = client.post(DISPENSE, json=body, headers=headers)
    again = client.post(DISPENSE, json=body, headers=headers)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.content == first.content and again.headers.get("Idempotent-Replayed") == "true"
    assert len(rows(ctx)) == 1 and len(audits(ctx)) == 1
    other = client.post(DISPENSE, json={**body, "cycle_id": mateo["due"][1]["id"]}, headers=headers)
    assert_error(other, 422, "idempotency_key_reused")
    assert len(rows(ctx)) == 1


@pytest.mark.parametrize("keyed", [False, True], ids=["plain", "idempotency-keys"])
def test_concurrent_dispensations_record_exactly_one(app: FastAPI, client: TestClient, auth: Auth, ctx: Context,
                                                     mateo: dict[str, Any], monkeypatch: pytest.MonkeyPatch,
                                                     keyed: bool) -> None:
    """N counters at once (uvicorn worker threads, the real database), all past the ledger check before any
    writes: the unique cycle_id decides, the others get 409 already_dispensed, never a 500."""
    n = 8
    barrier = threading.Barrier(n, timeout=60)
    original = pharmacy._items

    def gated(*args: Any, **kwargs: Any) -> Any:
        barrier.wait()  # every request has verified the token and found no dispensation
        return original(*args, **kwargs)

    monkeypatch.setattr(pharmacy, "_items", gated)
    headers = auth("farmacia.demo")
    body = {"token": mateo["qr"]["token"], "cycle_id": mateo["due"][0]["id"]}

    async def main(url: str) -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=url, timeout=120) as http:
            return list(await asyncio.gather(*(
                http.post(DISPENSE, json=body,
                          headers={**headers, **({"Idempotency-Key": str(uuid.uuid4())} if keyed else {})})
                for _ in range(n))))

    with live_server(app) as url:
        responses = asyncio.run(main(url))
    assert Counter(r.status_code for r in responses) == {201: 1, 409: n - 1}, [r.text[:120] for r in responses]
    (winner,) = [r.json() for r in responses if r.status_code == 201]
    assert all(r.json()["error"]["code"] == "already_dispensed" and r.json()["error"]["dispensation"] == winner
               for r in responses if r.status_code == 409)
    assert [r.id for r in rows(ctx)] == [winner["id"]]
    outcomes = Counter(a.detail["outcome"] for a in audits(ctx) if a.detail)
    assert outcomes == {"dispensed": 1, "already_dispensed": n - 1}


# ---- refusals, each next to the good request ----------------------------------------------------------------


def test_bad_items_are_422_and_change_nothing(client: TestClient, auth: Auth, ctx: Context,
                                              mateo: dict[str, Any]) -> None:
    headers = auth("farmacia.demo")
    cycle = mateo["due"][0]
    names = [d["name"] for d in cycle["drugs"]]
    base = {"token": mateo["qr"]["token"], "cycle_id": cycle["id"]}
    unknown = assert_error(client.post(DISPENSE, json={**base, "items": [names[0], "Aspirina"]}, headers=headers),
                           422, "unknown_item")
    assert unknown["message"] == "Estos medicamentos no son del ciclo: Aspirina."
    repeated = assert_error(client.post(DISPENSE, json={**base, "items": [names[0], names[1], names[0]]},
                                        headers={**headers, "Accept-Language": "en"}), 422, "duplicate_item")
    assert repeated["message"] == f"List each drug once; repeated: {names[0]}."
    assert_error(client.post(DISPENSE, json={**base, "items": []}, headers=headers), 422, "validation_error")
    assert_error(client.post(DISPENSE, json={**base, "extra": 1}, headers=headers), 422, "validation_error")
    assert_error(client.post(DISPENSE, content=b"{", headers={**headers, "Content-Type": "application/json"}),
                 400, "invalid_json")
    assert rows(ctx) == []
    # the good request right after
    good = client.post(DISPENSE, json={**base, "items": names[:2]}, headers=headers)
    assert good.status_code == 201 and [d["name"] for d in good.json()["items"]] == names[:2]


def test_cycle_must_be_one_of_the_tokens_cycles(client: TestClient, auth: Auth, ctx: Context,
                                                mateo: dict[str, Any], patient_ids: dict[str, str]) -> None:
    headers = auth("farmacia.demo")
    with ctx.sessions() as session:
        mateo_cycles = {c.number: c.id for c in session.scalars(select(Cycle).where(Cycle.patient_id == mateo["id"]))}
        camila_cycle = session.scalars(select(Cycle.id).where(Cycle.patient_id == patient_ids[CAMILA])).first()
    due_ids = {c["id"] for c in mateo["due"]}
    later = next(cid for number, cid in sorted(mateo_cycles.items()) if number > 4 and cid not in due_ids)
    for cycle_id in (mateo_cycles[1], later, camila_cycle, "NoExiste"):
        error = assert_error(client.post(DISPENSE, json={"token": mateo["qr"]["token"], "cycle_id": cycle_id},
                                         headers=headers), 422, "cycle_not_in_token")
        assert error["message"] == "Ese ciclo no está entre los ciclos por aplicar de este código QR."
    assert rows(ctx) == []
    assert client.post(DISPENSE, json={"token": mateo["qr"]["token"], "cycle_id": mateo["due"][1]["id"]},
                       headers=headers).status_code == 201


def test_cycle_no_longer_scheduled_is_409(client: TestClient, auth: Auth, ctx: Context,
                                          mateo: dict[str, Any]) -> None:
    headers = auth("farmacia.demo")
    suspended, good = mateo["due"]
    with ctx.sessions() as session:
        session.execute(update(Cycle).where(Cycle.id == suspended["id"]).values(status="suspendido"))
        session.commit()
    error = assert_error(client.post(DISPENSE, json={"token": mateo["qr"]["token"], "cycle_id": suspended["id"]},
                                     headers=headers), 409, "cycle_not_dispensable")
    assert error["message"].startswith("Solo se puede surtir un ciclo programado")
    assert rows(ctx) == []
    assert client.post(DISPENSE, json={"token": mateo["qr"]["token"], "cycle_id": good["id"]},
                       headers=headers).status_code == 201


def _token_error(response: httpx.Response, code: str) -> dict[str, Any]:
    assert response.status_code == 422, response.text
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] == code and error["message"]
    return error


def test_bad_tokens_are_refused(client: TestClient, auth: Auth, ctx: Context, mateo: dict[str, Any]) -> None:
    headers = auth("farmacia.demo")
    cycle_id = mateo["due"][0]["id"]
    token = mateo["qr"]["token"]
    now = int(utcnow().timestamp())
    stranger = sign_claims(OKPKey.generate_key("Ed25519"), "zzzzzzzz",
                           {"iss": ctx.settings.base_url, "sub": mateo["id"], "cyc": [cycle_id], "iat": now,
                            "exp": now + 3600, "jti": "ajeno"})
    cases = {
        "malformed": "hola",
        "bad_signature": one_char_changed(token),
        "unknown_key": stranger,
    }
    for reason, bad in cases.items():
        error = _token_error(client.post(DISPENSE, json={"token": bad, "cycle_id": cycle_id}, headers=headers),
                             "token_invalid")
        assert [r["code"] for r in error["reasons"]] == [reason]
        assert error["message"].startswith("El código QR no es válido.")
    forged = _token_error(client.post(DISPENSE, json={"token": tamper(token), "cycle_id": cycle_id},
                                      headers={**headers, "Accept-Language": "en"}), "token_invalid")
    assert forged["reasons"][0]["code"] == "bad_signature"
    assert forged["message"] == ("The QR code is not valid. "
                                 "The signature does not match: the code was altered or is not genuine.")
    assert rows(ctx) == []
    assert client.post(DISPENSE, json={"token": token, "cycle_id": cycle_id}, headers=headers).status_code == 201


def test_expired_token_is_refused(client: TestClient, auth: Auth, ctx: Context,
                                  patient_ids: dict[str, str]) -> None:
    headers = auth("farmacia.demo")
    with ctx.sessions() as session:
        patient = session.get_one(Patient, patient_ids[CAMILA])
        old = current_qr(session, ctx=ctx, patient=patient, now=utcnow() - timedelta(days=31))
        session.commit()
        old_token, cycle_id = old.token, old.cycle_ids.split(",")[0]
    error = assert_error(client.post(DISPENSE, json={"token": old_token, "cycle_id": cycle_id}, headers=headers),
                         422, "token_expired")
    assert error["message"].startswith("El código QR expiró")
    assert rows(ctx) == []
    fresh = qr_of(client, auth, patient_ids[CAMILA], "luis.torres")
    assert client.post(DISPENSE, json={"token": fresh["token"], "cycle_id": cycle_id},
                       headers=headers).status_code == 201


def test_revoked_token_is_refused(client: TestClient, auth: Auth, ctx: Context,
                                  patient_ids: dict[str, str]) -> None:
    headers, madre = auth("farmacia.demo"), auth("madre.demo")
    patient_id = patient_ids[VALENTINA]
    qr = qr_of(client, auth, patient_id)
    cycle_id = due_of(client, auth, patient_id)[0]["id"]
    assert client.post(f"/api/v1/patients/{patient_id}/qr/revoke", headers=madre).json() == {"revoked": 1}
    error = assert_error(client.post(DISPENSE, json={"token": qr["token"], "cycle_id": cycle_id}, headers=headers),
                         422, "token_revoked")
    assert "revocado" in error["message"]
    assert rows(ctx) == []
    fresh = qr_of(client, auth, patient_id)
    assert fresh["token"] != qr["token"]
    assert client.post(DISPENSE, json={"token": fresh["token"], "cycle_id": cycle_id},
                       headers=headers).status_code == 201


# ---- who may dispense ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("username", ["madre.demo", "banco.demo", "casos.demo"])
def test_other_roles_get_403(client: TestClient, auth: Auth, ctx: Context, mateo: dict[str, Any],
                             username: str) -> None:
    body = {"token": mateo["qr"]["token"], "cycle_id": mateo["due"][0]["id"]}
    assert_error(client.post(DISPENSE, json=body, headers=auth(username)), 403, "forbidden")
    assert_error(client.post(DISPENSE, json=body), 401, "not_authenticated")
    assert rows(ctx) == [] and audits(ctx) == []


def test_pharmacy_of_another_unit_gets_404(client: TestClient, auth: Auth, ctx: Context,
                                           patient_ids: dict[str, str]) -> None:
    """Santiago is at León; farmacia.demo works at Siglo XXI and La Raza: it may verify, not dispense."""
    patient_id = patient_ids[SANTIAGO]
    qr = qr_of(client, auth, patient_id, "padre.demo")
    body = {"token": qr["token"], "cycle_id": due_of(client, auth, patient_id, "padre.demo")[0]["id"]}
    assert client.post(VERIFY, json={"token": qr["token"]}, headers=auth("farmacia.demo")).json()["valid"]
    error = assert_error(client.post(DISPENSE, json=body, headers=auth("farmacia.demo")), 404, "patient_not_found")
    assert error["message"] == "No se encontró el paciente."
    assert rows(ctx) == []
    assert client.post(DISPENSE, json=body, headers=auth("admin.demo")).status_code == 201


# ---- the audit trail ----------------------------------------------------------------------------------------


def test_every_dispensation_is_audited_once_with_ids_only(client: TestClient, auth: Auth, ctx: Context,
                                                          mateo: dict[str, Any]) -> None:
    headers = auth("farmacia.demo")
    cycle = mateo["due"][0]
    body = {"token": mateo["qr"]["token"], "cycle_id": cycle["id"]}
    out = client.post(DISPENSE, json=body, headers=headers).json()
    assert len(audits(ctx)) == 1
    client.post(DISPENSE, json=body, headers=headers)  # 409
    assert len(audits(ctx)) == 2
    client.post(DISPENSE, json={**body, "token": "basura"}, headers=headers)  # 422
    done, again, garbage = audits(ctx)
    assert (done.actor_role, done.object_type, done.object_id) == ("pharmacy", "patient", mateo["id"])
    assert done.detail == {"outcome": "dispensed", "cycle_id": cycle["id"], "dispensation_id": out["id"],
                           "jti": done.detail["jti"], "items": len(cycle["drugs"])} and done.detail["jti"]
    assert again.detail and again.detail["outcome"] == "already_dispensed" and again.object_id == mateo["id"]
    assert garbage.detail and garbage.detail["outcome"] == "token_invalid" and garbage.object_id is None
    for row in (done, again, garbage):
        text = json.dumps(row.detail, ensure_ascii=False)
        assert mateo["qr"]["token"] not in text and "basura" not in text
        assert "Mateo" not in text and STAFF not in text and "Vincristina" not in text
    client.post(VERIFY, json={"token": mateo["qr"]["token"]}, headers=headers)
    assert len(audits(ctx, "pharmacy.verify")) == 1


def test_dispensations_count_in_the_database(ctx: Context, client: TestClient, auth: Auth,
                                             mateo: dict[str, Any]) -> None:
    """Both due cycles, one each: two rows, with the cycle's own drugs."""
    headers = auth("farmacia.demo")
    for cycle in mateo["due"]:
        assert client.post(DISPENSE, json={"token": mateo["qr"]["token"], "cycle_id": cycle["id"]},
                           headers=headers).status_code == 201
    with ctx.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Dispensation)) == 2
        assert {r.cycle_id for r in session.scalars(select(Dispensation))} == {c["id"] for c in mateo["due"]}
