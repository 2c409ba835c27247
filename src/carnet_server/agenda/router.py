"""Routes of the agenda domain: appointments and their .ics export."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query, Response

from carnet_contract import models as contract
from carnet_contract.ics import build_calendar
from carnet_server.agenda import service
from carnet_server.auth.deps import ClientAddress, ContextDep, CurrentUser, SessionDep
from carnet_server.db import utcnow
from carnet_server.idempotency.deps import IdempotencyDep
from carnet_server.limits import write_limit
from carnet_server.routes import api_router

router = api_router(prefix="/api/v1", tags=["agenda"])

_ERRORS: dict[int | str, dict[str, Any]] = {code: {"model": contract.ErrorBody} for code in (401, 403, 404, 422)}
_ICS: dict[int | str, dict[str, Any]] = {200: {"content": {"text/calendar": {}}}, **_ERRORS}
ICS_TYPE = "text/calendar; charset=utf-8"


def _ics(data: bytes, filename: str) -> Response:
    return Response(
        content=data,
        media_type=ICS_TYPE,
        headers={"Content-Disposition": f'inline; filename="{filename}"'},  # no-store: headers.py
    )


@router.get("/patients/{patient_id}/appointments", response_model=list[contract.Appointment], responses=_ERRORS)
def list_appointments(
    patient_id: str,
    user: CurrentUser,
    session: SessionDep,
    ctx: ContextDep,
    address: ClientAddress,
    start: Annotated[str | None, Query(alias="from", max_length=40)] = None,
    end: Annotated[str | None, Query(alias="to", max_length=40)] = None,
) -> list[contract.Appointment]:
    """The child's appointments that start in [from, to], by start time (default: 200 days back, 400 days)."""
    lo, hi = service.resolve_range(start, end, tz=ctx.tz, now=utcnow())
    patient, rows = service.list_for_patient(session, principal=user, patient_id=patient_id, start=lo, end=hi)
    service.audit_read(session, principal=user, object_type="patient", object_id=patient.id, ip=address)
    session.commit()
    return [service.appointment_out(r) for r in rows]


@router.get("/patients/{patient_id}/appointments.ics", response_class=Response, responses=_ICS)
def list_appointments_ics(
    patient_id: str,
    user: CurrentUser,
    session: SessionDep,
    ctx: ContextDep,
    address: ClientAddress,
    start: Annotated[str | None, Query(alias="from", max_length=40)] = None,
    end: Annotated[str | None, Query(alias="to", max_length=40)] = None,
) -> Response:
    """The same appointments as an iCalendar file (text/calendar)."""
    lo, hi = service.resolve_range(start, end, tz=ctx.tz, now=utcnow())
    patient, rows = service.list_for_patient(session, principal=user, patient_id=patient_id, start=lo, end=hi)
    service.audit_read(session, principal=user, object_type="patient", object_id=patient.id, ip=address)
    session.commit()
    data = build_calendar(
        [service.appointment_out(r) for r in rows], name=f"Citas de {patient.display_name}", tz=ctx.settings.timezone
    )
    return _ics(data, "citas.ics")


@router.post(
    "/patients/{patient_id}/appointments",
    status_code=201,
    response_model=contract.Appointment,
    dependencies=[write_limit("appointments")],
    responses={**_ERRORS, 409: {"model": contract.ErrorBody}},
)
def create_appointment(
    patient_id: str,
    body: contract.AppointmentCreate,
    user: CurrentUser,
    session: SessionDep,
    address: ClientAddress,
    idem: IdempotencyDep,
) -> Response:
    """A new appointment (guardian: the family's own kinds; case desk/admin: the hospital's). Idempotency-Key."""
    row = service.create(session, principal=user, patient_id=patient_id, data=body, ip=address)
    return idem.respond(session, service.appointment_out(row), status=201)


@router.get("/appointments/{appointment_id}.ics", response_class=Response, responses=_ICS)
def read_appointment_ics(
    appointment_id: str, user: CurrentUser, session: SessionDep, ctx: ContextDep, address: ClientAddress
) -> Response:
    """One appointment as an iCalendar file."""
    row, patient = service.get(session, principal=user, appointment_id=appointment_id)
    out = service.appointment_out(row)
    service.audit_read(session, principal=user, object_type="appointment", object_id=row.id, ip=address)
    session.commit()
    return _ics(build_calendar([out], name=f"Citas de {patient.display_name}", tz=ctx.settings.timezone), "cita.ics")


@router.get("/appointments/{appointment_id}", response_model=contract.Appointment, responses=_ERRORS)
def read_appointment(
    appointment_id: str, user: CurrentUser, session: SessionDep, address: ClientAddress
) -> contract.Appointment:
    """One appointment."""
    row, _patient = service.get(session, principal=user, appointment_id=appointment_id)
    out = service.appointment_out(row)
    service.audit_read(session, principal=user, object_type="appointment", object_id=row.id, ip=address)
    session.commit()
    return out


@router.patch("/appointments/{appointment_id}", response_model=contract.Appointment, responses=_ERRORS)
def update_appointment(
    appointment_id: str,
    body: contract.AppointmentUpdate,
    user: CurrentUser,
    session: SessionDep,
    address: ClientAddress,
) -> contract.Appointment:
    """Change the fields sent (guardian: the family's own; staff: the hospital's); revision + 1."""
    row = service.update(session, principal=user, appointment_id=appointment_id, data=body, ip=address)
    out = service.appointment_out(row)
    session.commit()
    return out


@router.delete("/appointments/{appointment_id}", status_code=204, response_class=Response, responses=_ERRORS)
def delete_appointment(appointment_id: str, user: CurrentUser, session: SessionDep, address: ClientAddress) -> Response:
    """Remove an appointment (a tombstone stays for sync)."""
    service.delete(session, principal=user, appointment_id=appointment_id, ip=address)
    session.commit()
    return Response(status_code=204)
