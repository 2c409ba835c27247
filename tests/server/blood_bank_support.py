"""Helpers shared by the blood-bank tests: eligible donors, open days, bookings, a live server."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from typing import Any

import uvicorn
from fastapi import FastAPI
from starlette.testclient import TestClient

from carnet_contract.eligibility import questions
from carnet_server.blood_bank.tables import Booking
from carnet_server.context import Context
from carnet_server.db import utcnow

SXXI = "Banco Central de Sangre, CMN Siglo XXI"
RAZA = "Banco Central de Sangre, CMN La Raza"


def eligible_answers() -> dict[str, bool]:
    return {q.id: q.eligible_answer for q in questions()}


def donor(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"full_name": "Héctor Domínguez Ruiz", "phone": "55 1234 5678", "birth_date": "1990-04-15",
                            "weight_kg": 72.5, "sex": "hombre"}
    return {**base, **changes}


def body(slot_id: str, patient_id: str, *, answers: dict[str, bool] | None = None, **donor_changes: Any
         ) -> dict[str, Any]:
    return {"slot_id": slot_id, "patient_id": patient_id, "donor": donor(**donor_changes),
            "answers": eligible_answers() if answers is None else answers}


def bank_id(client: TestClient, headers: dict[str, str], name: str = SXXI) -> str:
    response = client.get("/api/v1/blood-banks", headers=headers)
    assert response.status_code == 200, response.text
    return next(b["id"] for b in response.json() if b["name"] == name)


def today(ctx: Context) -> date:
    return ctx.today(utcnow())


def open_day(client: TestClient, ctx: Context, headers: dict[str, str], bank: str, *, after: int = 10,
             skip: int = 0) -> tuple[date, list[dict[str, Any]]]:
    """The first weekday ``after`` days ahead or later (skipping ``skip`` of them) whose slots are all free."""
    for offset in range(after, 61):
        day = today(ctx) + timedelta(days=offset)
        slots = client.get(f"/api/v1/blood-banks/{bank}/slots", params={"date": day.isoformat()},
                           headers=headers).json()
        if len(slots) == 8 and all(s["available"] == s["capacity"] for s in slots):
            if skip == 0:
                return day, slots
            skip -= 1
    raise AssertionError("no open day")


@contextmanager
def live_server(app: FastAPI, **options: Any) -> Iterator[str]:
    """The app under uvicorn in a thread on a loopback port (real sockets, real worker threads)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, lifespan="off", log_level="warning", backlog=1024, **options))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)  # poll interval, not a wait for state
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


def due_today(ctx: Context, booking_id: str) -> None:
    """The booking's day comes: its slot moves to today (local), at the same time of day plus 17 s, so that no
    slot of today's templates (on whole minutes) can collide with it. Bookings are made days ahead (a slot must
    be in the future), and check-in is only for the booking's own day."""
    with ctx.sessions() as session:
        slot = session.get_one(Booking, booking_id).slot
        local = slot.starts_at.astimezone(ctx.tz)
        start = datetime.combine(today(ctx), local.time(), tzinfo=ctx.tz) + timedelta(seconds=17)
        slot.starts_at, slot.ends_at = start, start + (slot.ends_at - slot.starts_at)
        session.commit()
