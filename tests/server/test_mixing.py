"""Mixing orders over the API: confirming a cycle, the provider's signed callbacks, the staff's queue view.

Demo facts used: farmacia.demo works for Siglo XXI (Mateo, Camila) and La Raza
(Valentina), not León (Santiago). Mateo's cycle 6 is ``programado`` with
mixing ``pendiente``; his cycle 1 is ``aplicado``; Valentina's cycle 4 is
confirmed at seeding with its order queued.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select
from starlette.testclient import TestClient

from carnet_contract import models as contract
from carnet_contract.models import SyncPage
from carnet_server.audit import AuditEntry
from carnet_server.context import Context
from carnet_server.mixing.tables import MixingCallbackEvent, MixingOrder
from carnet_server.patients.service import drug_out
from carnet_server.patients.tables import Cycle, CycleDrug
from tests.server.blood_bank_support import live_server
from tests.server.conftest import assert_error
from tests.server.mixing_support import (
    confirm_url, cycle_id, cycle_row, event, orders_of, signed_post,
)

Auth = Callable[[str], dict[str, str]]
MATEO, VALENTINA, SANTIAGO = "Mateo Hernández", "Valentina Hernández", "Santiago Ramírez"
CAMILA_NAME = "Camila Torres"
EN = {"Accept-Language": "en"}


def confirmed_order(client: TestClient, ctx: Context, auth: Auth, patient_ids: dict[str, str],
                    child: str = MATEO, number: int = 6) -> tuple[str, str]:
    """Confirm a demo cycle as pharmacy/admin; returns (cycle id, order id)."""
    cid = cycle_id(ctx, patient_ids[child], number)
    response = client.post(confirm_url(cid), headers=auth("admin.demo"))
    assert response.status_code == 200, response.text
    (order,) = orders_of(ctx, cid)
    return cid, order.id


# ---- confirming -------------------------------------------------------------------------


def test_pharmacy_confirms_a_cycle_and_one_order_is_made(client: TestClient, ctx: Context, auth: Auth,
                                                         patient_ids: dict[str, str]) -> None:
    cid = cycle_id(ctx, patient_ids[MATEO], 6)
    assert cycle_row(ctx, cid).confirmed_at is None and orders_of(ctx, cid) == []
    farmacia = auth("farmacia.demo")

    response = client.post(confirm_url(cid), headers=farmacia)

    assert response.status_code == 200, response.text
    cycle = contract.Cycle.model_validate(response.json())
    assert cycle.id == cid and cycle.confirmed_at is not None
    assert cycle.mixing.status == "pendiente"
    (order,) = orders_of(ctx, cid)
    assert order.status == "pendiente" and order.delivered_at is None and order.attempts == 0
    assert order.provider == "SAFE"
    payload = contract.MixingOrder.model_validate(order.payload)
    row = cycle_row(ctx, cid)
    assert payload.order_id == order.id and payload.cycle_id == cid and payload.patient_id == patient_ids[MATEO]
    assert payload.patient_name == "Mateo Hernández López"
    assert payload.needed_by == row.scheduled_for and payload.cycle_number == 6
    assert payload.unit.name == "UMAE Hospital de Pediatría CMN Siglo XXI"
    assert payload.drugs == [drug_out(d) for d in row.drugs]  # the structured doses
    assert payload.drugs[0].dose.amount is not None and payload.drugs[0].dose.unit == "mg"
    assert payload.bsa_m2 == row.bsa_m2 and payload.weight_kg == row.weight_kg and payload.bsa_m2
    assert row.status == "confirmado" and cycle.status == "confirmado" and cycle.version == row.version == 2
    with ctx.sessions() as session:
        audit = session.scalars(select(AuditEntry).where(AuditEntry.action == "cycle.confirm",
                                                         AuditEntry.object_id == cid)).all()
    assert len(audit) == 1 and audit[0].detail == {"patient_id": patient_ids[MATEO], "order_id": order.id,
                                                   "mixing": "pendiente"}
    assert "Mateo" not in json.dumps(audit[0].detail)

    again = client.post(confirm_url(cid), headers=farmacia)
    assert again.status_code == 200
    assert again.json()["confirmed_at"] == response.json()["confirmed_at"]
    assert [o.id for o in orders_of(ctx, cid)] == [order.id]


def test_who_may_confirm(client: TestClient, ctx: Context, auth: Auth, patient_ids: dict[str, str]) -> None:
    mateo6 = cycle_id(ctx, patient_ids[MATEO], 6)
    santiago6 = cycle_id(ctx, patient_ids[SANTIAGO], 6)
    for username in ("madre.demo", "padre.demo", "banco.demo", "casos.demo"):
        assert_error(client.post(confirm_url(mateo6), headers=auth(username)), 403, "forbidden")
    assert_error(client.post(confirm_url(mateo6)), 401)
    # Pharmacy staff of other units: as if the cycle did not exist.
    assert_error(client.post(confirm_url(santiago6), headers=auth("farmacia.demo")), 404, "cycle_not_found")
    assert_error(client.post(confirm_url("no-such-cycle"), headers=auth("farmacia.demo")), 404, "cycle_not_found")
    assert orders_of(ctx, mateo6) == [] and orders_of(ctx, santiago6) == []
    assert cycle_row(ctx, mateo6).confirmed_at is None and cycle_row(ctx, santiago6).confirmed_at is None
    # The admin may confirm any unit's cycle.
    assert client.post(confirm_url(santiago6), headers=auth("admin.demo")).status_code == 200
    assert len(orders_of(ctx, santiago6)) == 1


def test_a_cycle_not_scheduled_is_not_confirmable(client: TestClient, ctx: Context, auth: Auth,
                                                  patient_ids: dict[str, str]) -> None:
    applied = cycle_id(ctx, patient_ids[MATEO], 1)
    before = cycle_row(ctx, applied)
    error = assert_error(client.post(confirm_url(applied), headers=auth("farmacia.demo")), 409,
                         "cycle_not_confirmable")
    assert "programado" in error["message"]
    english = assert_error(client.post(confirm_url(applied), headers={**auth("farmacia.demo"), **EN}), 409)
    assert english["message"] == "Only a scheduled cycle can be confirmed."
    after = cycle_row(ctx, applied)
    assert after.confirmed_at is None and after.mixing_status == before.mixing_status == "entregada"
    assert orders_of(ctx, applied) == []


def test_a_cycle_without_drugs_needs_no_mixture(client: TestClient, ctx: Context, auth: Auth,
                                                patient_ids: dict[str, str]) -> None:
    cid = cycle_id(ctx, patient_ids[MATEO], 6)
    with ctx.sessions() as session:
        for drug in session.scalars(select(CycleDrug).where(CycleDrug.cycle_id == cid)):
            session.delete(drug)
        session.commit()
    response = client.post(confirm_url(cid), headers=auth("farmacia.demo"))
    assert response.status_code == 200, response.text
    assert response.json()["mixing"]["status"] == "no_requerida" and response.json()["confirmed_at"]
    assert orders_of(ctx, cid) == []


def test_a_mixture_requested_before_keeps_its_status(client: TestClient, ctx: Context, auth: Auth,
                                                     patient_ids: dict[str, str]) -> None:
    """Mateo's cycle 4 was requested outside Carnet (en_preparacion): confirmed, no new order."""
    cid = cycle_id(ctx, patient_ids[MATEO], 4)
    response = client.post(confirm_url(cid), headers=auth("farmacia.demo"))
    assert response.status_code == 200, response.text
    assert response.json()["mixing"]["status"] == "en_preparacion" and response.json()["confirmed_at"]
    assert orders_of(ctx, cid) == []


def test_concurrent_confirms_make_one_order(app: FastAPI, client: TestClient, ctx: Context, auth: Auth,
                                            patient_ids: dict[str, str]) -> None:
    cid = cycle_id(ctx, patient_ids[CAMILA_NAME], 4)
    headers = auth("farmacia.demo")
    n = 12

    async def fire(url: str) -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=url, timeout=60) as http:
            return list(await asyncio.gather(*(http.post(confirm_url(cid), headers=headers) for _ in range(n))))

    with live_server(app) as url:
        responses = asyncio.run(fire(url))

    assert Counter(r.status_code for r in responses) == {200: n}, [r.text[:120] for r in responses]
    assert len({r.json()["confirmed_at"] for r in responses}) == 1
    assert len(orders_of(ctx, cid)) == 1
    with ctx.sessions() as session:
        confirms = session.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "cycle.confirm", AuditEntry.object_id == cid))
    assert confirms == 1


# ---- callbacks ------------------------------------------------------------------------------


def test_signed_callbacks_move_the_order_and_the_carnet(client: TestClient, ctx: Context, auth: Auth,
                                                        patient_ids: dict[str, str]) -> None:
    cid, order_id = confirmed_order(client, ctx, auth, patient_ids)
    madre = auth("madre.demo")
    cursor = client.get("/api/v1/sync", headers=madre).json()["cursor"]
    now = datetime.now(UTC)

    response = signed_post(client, ctx, event(order_id, "en_preparacion", now))

    assert response.status_code == 200, response.text
    assert response.json() == {"applied": True, "status": "en_preparacion"}
    carnet = client.get(f"/api/v1/patients/{patient_ids[MATEO]}/carnet", headers=madre).json()
    (shown,) = [c for c in carnet["cycles"] if c["id"] == cid]
    assert shown["mixing"]["status"] == "en_preparacion"
    assert datetime.fromisoformat(shown["mixing"]["updated_at"]) == now
    # The family's sync carries the changed cycle.
    page = SyncPage.model_validate(client.get("/api/v1/sync", params={"cursor": cursor}, headers=madre).json())
    cycles = [c for c in page.changes if c.type == "cycle"]
    assert [c.id for c in cycles] == [cid]
    assert cycles[0].data is not None and cycles[0].data["mixing"]["status"] == "en_preparacion"
    # Another family's sync does not.
    padre_changes = client.get("/api/v1/sync", headers=auth("padre.demo")).json()["changes"]
    assert cid not in {c["id"] for c in padre_changes}
    with ctx.sessions() as session:
        order = session.get_one(MixingOrder, order_id)
        assert order.status == "en_preparacion" and order.status_at == now
        audit = session.scalars(select(AuditEntry).where(AuditEntry.action == "mixing.callback")).all()
    assert [(a.actor_role, a.object_id, a.detail["applied"]) for a in audit] == [("provider", order_id, True)]

    for status in ("lista", "entregada"):
        now += timedelta(minutes=5)
        assert signed_post(client, ctx, event(order_id, status, now)).json() == {"applied": True, "status": status}
    assert cycle_row(ctx, cid).mixing_status == "entregada"


def test_forged_missing_and_stale_signatures_are_refused(client: TestClient, ctx: Context, auth: Auth,
                                                         patient_ids: dict[str, str]) -> None:
    cid, order_id = confirmed_order(client, ctx, auth, patient_ids)
    body = event(order_id, "lista", datetime.now(UTC))
    raw = json.dumps(body).encode()
    now = int(time.time())

    assert_error(signed_post(client, ctx, body, signature=""), 401, "invalid_signature")
    assert_error(signed_post(client, ctx, body, secret=b"not-the-shared-secret"), 401, "invalid_signature")
    assert_error(signed_post(client, ctx, body, signature=f"t={now},v1={'0' * 64}"), 401, "invalid_signature")
    assert_error(signed_post(client, ctx, body, signature="v1=abc"), 401, "invalid_signature")
    assert_error(signed_post(client, ctx, body, signature=f"t=soon,v1={'0' * 64}"), 401, "invalid_signature")
    # Signed for one body, sent with another.
    from carnet_server.mixing import service

    good_for_other = service.sign(service.mixing_secret(ctx.settings), raw, timestamp=now)
    tampered = {**body, "status": "entregada"}
    assert_error(signed_post(client, ctx, tampered, signature=good_for_other), 401, "invalid_signature")
    # Genuine but too old, or too far ahead.
    assert_error(signed_post(client, ctx, body, timestamp=now - 301), 401, "stale_signature")
    error = assert_error(signed_post(client, ctx, body, timestamp=now + 3600, headers=EN), 401, "stale_signature")
    assert "too old" in error["message"]

    assert cycle_row(ctx, cid).mixing_status == "pendiente"
    with ctx.sessions() as session:
        assert session.scalar(select(func.count()).select_from(MixingCallbackEvent)) == 0
    # The same body, properly signed, goes through.
    assert signed_post(client, ctx, body).json() == {"applied": True, "status": "lista"}


def test_a_replayed_callback_is_refused(client: TestClient, ctx: Context, auth: Auth,
                                        patient_ids: dict[str, str]) -> None:
    cid, order_id = confirmed_order(client, ctx, auth, patient_ids)
    body = event(order_id, "en_preparacion", datetime.now(UTC))
    assert signed_post(client, ctx, body).status_code == 200
    # The same event again, even freshly signed, and even after later progress.
    assert_error(signed_post(client, ctx, body), 401, "replayed_callback")
    later = event(order_id, "lista", datetime.now(UTC) + timedelta(seconds=1))
    assert signed_post(client, ctx, later).json()["applied"] is True
    assert_error(signed_post(client, ctx, body, timestamp=int(time.time()) + 5), 401, "replayed_callback")
    assert cycle_row(ctx, cid).mixing_status == "lista"


def test_out_of_order_updates_never_move_backwards(client: TestClient, ctx: Context, auth: Auth,
                                                   patient_ids: dict[str, str]) -> None:
    cid, order_id = confirmed_order(client, ctx, auth, patient_ids)
    t0 = datetime.now(UTC) - timedelta(minutes=30)
    # "lista" arrives before the older "en_preparacion".
    assert signed_post(client, ctx, event(order_id, "lista", t0 + timedelta(minutes=10))).json() == \
        {"applied": True, "status": "lista"}
    late = event(order_id, "en_preparacion", t0)
    assert signed_post(client, ctx, late).json() == {"applied": False, "status": "lista"}
    assert cycle_row(ctx, cid).mixing_status == "lista"
    # Recorded anyway: it can't be replayed.
    assert_error(signed_post(client, ctx, late), 401, "replayed_callback")
    # Forward in status but older than the latest update applied: not applied.
    assert signed_post(client, ctx, event(order_id, "entregada", t0 + timedelta(minutes=5))).json() == \
        {"applied": False, "status": "lista"}
    # Rejected, then a late "entregada": ignored, rechazada is final.
    assert signed_post(client, ctx, event(order_id, "rechazada", t0 + timedelta(minutes=20))).json() == \
        {"applied": True, "status": "rechazada"}
    assert signed_post(client, ctx, event(order_id, "entregada", t0 + timedelta(minutes=25))).json() == \
        {"applied": False, "status": "rechazada"}
    assert cycle_row(ctx, cid).mixing_status == "rechazada"
    carnet = client.get(f"/api/v1/patients/{patient_ids[MATEO]}/carnet", headers=auth("madre.demo")).json()
    assert [c["mixing"]["status"] for c in carnet["cycles"] if c["id"] == cid] == ["rechazada"]
    with ctx.sessions() as session:
        assert session.scalar(select(func.count()).select_from(MixingCallbackEvent)) == 5


def test_callback_for_an_unknown_order_and_bad_bodies(client: TestClient, ctx: Context, auth: Auth,
                                                      patient_ids: dict[str, str]) -> None:
    cid, order_id = confirmed_order(client, ctx, auth, patient_ids)
    now = datetime.now(UTC)
    assert_error(signed_post(client, ctx, event("no-such-order", "lista", now)), 404, "mixing_order_not_found")
    # A status the provider may not report, a naive time, missing and extra fields.
    assert_error(signed_post(client, ctx, event(order_id, "solicitada", now)), 422, "validation_error")
    assert_error(signed_post(client, ctx, {**event(order_id, "lista", now), "occurred_at": "2026-01-01T10:00:00"}),
                 422, "validation_error")
    assert_error(signed_post(client, ctx, {"order_id": order_id, "status": "lista"}), 422, "validation_error")
    assert_error(signed_post(client, ctx, {**event(order_id, "lista", now), "extra": 1}), 422, "validation_error")
    assert_error(signed_post(client, ctx, b"{not json"), 400, "invalid_json")
    assert_error(signed_post(client, ctx, b"x" * (17 * 1024)), 413, "callback_too_large")
    assert cycle_row(ctx, cid).mixing_status == "pendiente"
    with ctx.sessions() as session:
        assert session.scalar(select(func.count()).select_from(MixingCallbackEvent)) == 0


# ---- the staff's queue view -------------------------------------------------------------------


def test_staff_list_the_orders_of_their_units(client: TestClient, ctx: Context, auth: Auth,
                                              patient_ids: dict[str, str]) -> None:
    mateo_cycle, mateo_order = confirmed_order(client, ctx, auth, patient_ids)
    _santiago_cycle, santiago_order = confirmed_order(client, ctx, auth, patient_ids, SANTIAGO, 6)
    valentina_cycle = cycle_id(ctx, patient_ids[VALENTINA], 4)  # confirmed at seeding
    farmacia = auth("farmacia.demo")

    listed = client.get("/api/v1/mixing/orders", headers=farmacia)
    assert listed.status_code == 200, listed.text
    orders = [contract.MixingOrderState.model_validate(o) for o in listed.json()]
    assert {o.cycle_id for o in orders} == {mateo_cycle, valentina_cycle}
    assert santiago_order not in {o.order_id for o in orders}
    mine = next(o for o in orders if o.order_id == mateo_order)
    assert mine.status == "pendiente" and mine.attempts == 0 and mine.delivered_at is None

    admin = client.get("/api/v1/mixing/orders", params={"pending": "true"}, headers=auth("admin.demo")).json()
    assert {mateo_order, santiago_order} <= {o["order_id"] for o in admin}
    assert client.get("/api/v1/mixing/orders", params={"pending": "false"}, headers=farmacia).json() == []
    signed_post(client, ctx, event(mateo_order, "lista", datetime.now(UTC)))
    by_status = client.get("/api/v1/mixing/orders", params={"status": "lista"}, headers=farmacia).json()
    assert [o["order_id"] for o in by_status] == [mateo_order]

    for username in ("madre.demo", "banco.demo", "casos.demo"):
        assert_error(client.get("/api/v1/mixing/orders", headers=auth(username)), 403, "forbidden")
    assert_error(client.get("/api/v1/mixing/orders", params={"status": "perdida"}, headers=farmacia), 422)
    assert_error(client.get("/api/v1/mixing/orders", params={"limit": 0}, headers=farmacia), 422)
    with ctx.sessions() as session:
        reads = session.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "mixing.orders.read"))
    assert reads == 4


def test_demo_queues_one_confirmed_cycle(ctx: Context, patient_ids: dict[str, str]) -> None:
    cid = cycle_id(ctx, patient_ids[VALENTINA], 4)
    row = cycle_row(ctx, cid)
    assert row.status == "confirmado" and row.confirmed_at is not None and row.mixing_status == "pendiente"
    (order,) = orders_of(ctx, cid)
    assert order.delivered_at is None and order.payload["patient_name"] == "Valentina Hernández López"
    with ctx.sessions() as session:
        assert session.scalar(select(func.count()).select_from(MixingOrder)) == 1
        assert session.scalar(select(func.count()).select_from(Cycle).where(Cycle.confirmed_at.is_not(None))) == 1
