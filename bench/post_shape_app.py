"""What FastAPI itself costs for a POST shaped like a booking, with no work at all: the booking's body validated
(``BookingCreate``), a booking's answer (~1 kB, canned) sent back — from an ``async`` route, from a plain ``def``
route (run in the thread pool, as the booking's is), and from a plain route with as many dependencies as a booking
solves, each doing nothing (bench_booking.py sets it beside the floor). Only the API's shared models are imported."""

from __future__ import annotations

import json

from fastapi import Depends, FastAPI, Response

from carnet_contract import models as contract

#: The dependencies a booking solves (tests/server/test_blood_bank.py pins the number).
BOOKING_DEPENDENCIES = 14

app = FastAPI()

ANSWER = json.dumps({
    "id": "b" * 22, "folio": "BS-2026-000123", "patient_id": "p" * 22,
    "bank": {"id": "k" * 22, "name": "Banco de Sangre UMAE Hospital de Especialidades CMN Siglo XXI",
             "address": "Av. Cuauhtémoc 330, Doctores, Cuauhtémoc, 06720 Ciudad de México, CDMX",
             "phone": "55 5627 6900", "instructions": "Acuda en ayunas de 4 horas; traiga identificación oficial.",
             "unit": {"id": "u" * 22, "name": "UMAE Hospital de Pediatría CMN Siglo XXI", "emergency": None}},
    "slot": {"id": "s" * 22, "starts_at": "2026-12-10T07:00:00Z", "ends_at": "2026-12-10T07:30:00Z",
             "capacity": 8, "available": 3},
    "status": "confirmada", "donor": {"full_name": "Donante de Prueba", "phone": "5500000001", "sex": "mujer"},
    "created_at": "2026-12-05T10:00:00Z", "updated_at": "2026-12-05T10:00:00Z", "checked_in_at": None,
    "appointment_id": "a" * 22,
}).encode()


def _nothing(number: int):  # type: ignore[no-untyped-def]
    async def dependency() -> int:
        return number

    return Depends(dependency)


@app.get("/ping")
async def ping() -> dict[str, bool]:  # (to know it is up)
    return {"pong": True}


@app.post("/async", status_code=201, response_model=contract.Booking)
async def in_the_loop(body: contract.BookingCreate) -> Response:
    return Response(ANSWER, status_code=201, media_type="application/json")


@app.post("/thread", status_code=201, response_model=contract.Booking)
def in_a_thread(body: contract.BookingCreate) -> Response:
    return Response(ANSWER, status_code=201, media_type="application/json")


@app.post("/thread-dependencies", status_code=201, response_model=contract.Booking,
          dependencies=[_nothing(n) for n in range(BOOKING_DEPENDENCIES)])
def in_a_thread_with_dependencies(body: contract.BookingCreate) -> Response:
    return Response(ANSWER, status_code=201, media_type="application/json")
