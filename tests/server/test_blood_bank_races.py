"""No overbooking under real concurrency: 200 simultaneous requests against one 5-place slot.

The app runs under uvicorn on a loopback port (its worker threads, the real
database: a SQLite file, or a PostgreSQL schema), and 200 requests go out at
once over 200 connections.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import timedelta

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select, update
from starlette.testclient import TestClient

from carnet_contract.models import AppointmentKind, AppointmentStatus
from carnet_server.agenda.tables import Appointment
from carnet_server.auth.tables import User
from carnet_server.blood_bank.bookings import next_folio
from carnet_server.blood_bank.tables import Booking, Slot
from carnet_server.context import Context
from carnet_server.db import utcnow
from tests.server.blood_bank_support import bank_id, body, eligible_answers, live_server, open_day

N = 200
PLACES = 5


def fire(url: str, make: Callable[[httpx.AsyncClient, int], Awaitable[httpx.Response]]) -> list[httpx.Response]:
    async def main() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=N, max_keepalive_connections=N)
        async with httpx.AsyncClient(base_url=url, limits=limits, timeout=120) as client:
            return list(await asyncio.gather(*(make(client, i) for i in range(N))))

    return asyncio.run(main())


def slot_row(ctx: Context, slot_id: str) -> tuple[int, int, int]:
    """(booked, capacity, bookings holding a place) of a slot, read from the database."""
    with ctx.sessions() as session:
        slot = session.get_one(Slot, slot_id)
        held = session.scalar(select(func.count()).select_from(Booking).where(
            Booking.slot_id == slot_id, Booking.status == "confirmada"))
        return slot.booked, slot.capacity, int(held or 0)


def test_200_concurrent_bookings_fill_five_places_exactly(app: FastAPI, client: TestClient, ctx: Context,
                                                          auth: Callable[[str], dict[str, str]],
                                                          patient_ids: dict[str, str]) -> None:
    madre, staff = auth("madre.demo"), auth("banco.demo")
    bank = bank_id(client, madre)
    _day, slots = open_day(client, ctx, madre, bank)
    slot = slots[0]["id"]
    assert client.patch(f"/api/v1/blood-banks/{bank}/slots/{slot}", json={"capacity": PLACES},
                        headers=staff).status_code == 200
    payload = body(slot, patient_ids["Mateo Hernández"])

    with live_server(app) as url:
        responses = fire(url, lambda c, _i: c.post("/api/v1/blood-bank/bookings", json=payload, headers=madre))

    assert Counter(r.status_code for r in responses) == {201: PLACES, 409: N - PLACES}, \
        Counter((r.status_code, r.text[:80]) for r in responses)
    assert {r.json()["error"]["code"] for r in responses if r.status_code == 409} == {"slot_full"}
    assert all(r.json()["error"]["message"] for r in responses if r.status_code == 409)
    folios = {r.json()["folio"] for r in responses if r.status_code == 201}
    assert len(folios) == PLACES
    assert slot_row(ctx, slot) == (PLACES, PLACES, PLACES)
    starts = client.get(f"/api/v1/blood-banks/{bank}/slots", params={"date": _day.isoformat()},
                        headers=madre).json()[0]
    assert starts["available"] == 0
    with ctx.sessions() as session:
        mirrored = session.scalar(select(func.count()).select_from(Appointment).where(
            Appointment.kind == AppointmentKind.BANCO_DE_SANGRE.value,
            Appointment.id.in_(select(Booking.appointment_id).where(Booking.slot_id == slot))))
        assert mirrored == PLACES


def _bookings_in(ctx: Context, *, slot_id: str, patient_id: str, count: int) -> list[str]:
    """``count`` confirmed bookings (each with its appointment) straight into a slot made big enough."""
    now = utcnow()
    with ctx.sessions() as session:
        slot = session.get_one(Slot, slot_id)
        guardian = session.scalar(select(User.id).where(User.username == "madre.demo"))
        ids = []
        for i in range(count):
            appointment = Appointment(patient_id=patient_id, kind="banco_de_sangre", title=f"Donación {i}",
                                      starts_at=slot.starts_at, ends_at=slot.ends_at, place="", status="confirmada",
                                      notes="", source="hospital", revision=0, created_at=now, updated_at=now)
            session.add(appointment)
            session.flush()
            row = Booking(folio=next_folio(session, now.year), slot_id=slot_id, patient_id=patient_id,
                          guardian_id=guardian, donor_full_name=f"Donante {i}", donor_phone="5512345678",
                          donor_birth_date=now.date() - timedelta(days=30 * 365), donor_weight_kg=70.0,
                          donor_sex="mujer", answers=eligible_answers(), status="confirmada",
                          appointment_id=appointment.id, created_at=now, updated_at=now)
            session.add(row)
            session.flush()
            ids.append(row.id)
        session.execute(update(Slot).where(Slot.id == slot_id).values(capacity=count, booked=count))
        session.commit()
        return ids


def test_200_concurrent_reschedules_move_five_and_change_nothing_else(
        app: FastAPI, client: TestClient, ctx: Context, auth: Callable[[str], dict[str, str]],
        patient_ids: dict[str, str]) -> None:
    madre, staff = auth("madre.demo"), auth("banco.demo")
    bank = bank_id(client, madre)
    _a, source_slots = open_day(client, ctx, madre, bank)
    _b, target_slots = open_day(client, ctx, madre, bank, skip=1)
    source, target = source_slots[0], target_slots[0]
    ids = _bookings_in(ctx, slot_id=source["id"], patient_id=patient_ids["Mateo Hernández"], count=N)
    assert client.patch(f"/api/v1/blood-banks/{bank}/slots/{target['id']}", json={"capacity": PLACES},
                        headers=staff).status_code == 200

    with live_server(app) as url:
        responses = fire(url, lambda c, i: c.post(f"/api/v1/blood-bank/bookings/{ids[i]}/reschedule",
                                                   json={"slot_id": target["id"]}, headers=madre))

    assert Counter(r.status_code for r in responses) == {200: PLACES, 409: N - PLACES}, \
        Counter((r.status_code, r.text[:80]) for r in responses)
    assert {r.json()["error"]["code"] for r in responses if r.status_code == 409} == {"slot_full"}
    moved = {ids[i] for i, r in enumerate(responses) if r.status_code == 200}
    assert slot_row(ctx, target["id"]) == (PLACES, PLACES, PLACES)
    assert slot_row(ctx, source["id"]) == (N - PLACES, N, N - PLACES)
    with ctx.sessions() as session:
        rows = {b.id: b for b in session.scalars(select(Booking).where(Booking.id.in_(ids)))}
        assert {i for i, b in rows.items() if b.slot_id == target["id"]} == moved
        appointments = {a.id: a for a in session.scalars(select(Appointment).where(
            Appointment.id.in_([b.appointment_id for b in rows.values()])))}
        for booking in rows.values():
            appointment = appointments[booking.appointment_id]
            if booking.id in moved:
                assert appointment.status == AppointmentStatus.REPROGRAMADA.value
                assert appointment.starts_at.isoformat().startswith(target["starts_at"][:16])
            else:
                assert appointment.status == "confirmada" and appointment.revision == 0
