"""Appointments: who may see and change which, and the changes themselves (no HTTP here).

    AppointmentNotFound(NotFound)    unknown id, or one the caller may not see
    NotAllowed(code)                 the caller's role may not do this (domain_errors)
    Invalid(code)                    the request makes no sense (domain_errors)

Writes do not commit: the route commits (with the idempotency record, if any).
Every write touches the sync state and the audit log in the same transaction.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from carnet_contract import models as contract
from carnet_contract.models import AppointmentSource, AppointmentStatus, Role, SyncType
from carnet_server import audit
from carnet_server.agenda.tables import Appointment
from carnet_server.auth.service import Principal
from carnet_server.dates import check_day
from carnet_server.db import new_id, utcnow
from carnet_server.domain_errors import Invalid, NotAllowed, NotFound
from carnet_server.patients.service import PatientNotFound, unit_out, visible_patient
from carnet_server.patients.tables import Cycle, MedicalUnit, Patient
from carnet_server.sync import service as sync

__all__ = [
    "MAX_RANGE",
    "AppointmentNotFound",
    "add_linked",
    "appointment_out",
    "change_linked",
    "create",
    "delete",
    "get",
    "list_for_patient",
    "load_for_sync",
    "resolve_range",
    "update",
]

MAX_RANGE = timedelta(days=400)
DEFAULT_PAST = timedelta(days=200)
EARLIEST = datetime(2000, 1, 1, tzinfo=ZoneInfo("UTC"))
LATEST = datetime(2100, 1, 1, tzinfo=ZoneInfo("UTC"))
_ID_RE = re.compile(r"[A-Za-z0-9_-]{1,32}")
_WRITERS = frozenset({Role.GUARDIAN, Role.CASE_DESK, Role.ONCOLOGY, Role.ADMIN})
_RESCHEDULABLE = frozenset({AppointmentStatus.PROGRAMADA, AppointmentStatus.CONFIRMADA})


class AppointmentNotFound(NotFound):
    code = "appointment_not_found"


def appointment_out(row: Appointment) -> contract.Appointment:
    return contract.Appointment(
        id=row.id,
        patient_id=row.patient_id,
        kind=contract.AppointmentKind(row.kind),
        title=row.title,
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        unit=unit_out(row.unit) if row.unit else None,
        place=row.place,
        status=AppointmentStatus(row.status),
        notes=row.notes,
        cycle_id=row.cycle_id,
        source=AppointmentSource(row.source),
        revision=row.revision,
        updated_at=row.updated_at,
    )


def load_for_sync(session: Session, ids: Sequence[str]) -> Mapping[str, dict[str, Any]]:
    """Sync loader: the appointments with these ids, as ``Appointment`` JSON."""
    out: dict[str, dict[str, Any]] = {}
    for start in range(0, len(ids), 500):
        for row in session.scalars(select(Appointment).where(Appointment.id.in_(ids[start : start + 500]))):
            out[row.id] = appointment_out(row).model_dump(mode="json")
    return out


# ---- visibility -------------------------------------------------------------------


def _patient(session: Session, principal: Principal, patient_id: str) -> Patient:
    if not _ID_RE.fullmatch(patient_id):
        raise PatientNotFound()
    return visible_patient(session, principal=principal, patient_id=patient_id)


def get(session: Session, *, principal: Principal, appointment_id: str) -> tuple[Appointment, Patient]:
    """The appointment and its patient, if the caller may see the patient."""
    row = session.get(Appointment, appointment_id) if _ID_RE.fullmatch(appointment_id) else None
    if row is None:
        raise AppointmentNotFound()
    try:
        patient = visible_patient(session, principal=principal, patient_id=row.patient_id)
    except PatientNotFound as exc:
        raise AppointmentNotFound() from exc
    return row, patient


def _audit(
    session: Session,
    principal: Principal,
    action: str,
    object_type: str,
    object_id: str,
    ip: str | None,
    detail: dict[str, Any] | None = None,
) -> None:
    audit.record(
        session,
        action=action,
        actor_id=principal.id,
        actor_role=principal.role,
        object_type=object_type,
        object_id=object_id,
        ip=ip,
        detail=detail,
    )


def audit_read(session: Session, *, principal: Principal, object_type: str, object_id: str, ip: str | None) -> None:
    """Staff reads are audited (the caller commits)."""
    if principal.role != Role.GUARDIAN:
        _audit(session, principal, "appointments.read", object_type, object_id, ip)


# ---- reading ------------------------------------------------------------------------


def _bound(text: str, *, tz: ZoneInfo, end: bool) -> datetime:
    try:
        if len(text) == 10:
            day = check_day(date.fromisoformat(text))
            value = datetime.combine(day + timedelta(days=1) if end else day, time(), tzinfo=tz)
        else:
            value = datetime.fromisoformat(text)
            check_day(value.date())  # in its own offset: 2099-12-31T23:00-06:00 is still 2099
        if value.tzinfo is None:
            raise Invalid("invalid_range")
        return value.astimezone(ZoneInfo("UTC"))
    except (ValueError, OverflowError) as exc:
        raise Invalid("invalid_range") from exc


def resolve_range(start: str | None, end: str | None, *, tz: ZoneInfo, now: datetime) -> tuple[datetime, datetime]:
    """``from``/``to`` as UTC datetimes: ISO dates (local days, ``to`` inclusive) or datetimes with offset,
    in the years 2000–2099 (dates.py; else 422 ``date_out_of_range``)."""
    lo = _bound(start, tz=tz, end=False) if start else None
    hi = _bound(end, tz=tz, end=True) if end else None
    if lo is None and hi is None:
        today = now.astimezone(tz).date()
        lo = datetime.combine(today, time(), tzinfo=tz).astimezone(ZoneInfo("UTC")) - DEFAULT_PAST
    if lo is None:
        assert hi is not None
        lo = hi - MAX_RANGE
    if hi is None:
        hi = lo + MAX_RANGE
    if hi <= lo:
        raise Invalid("invalid_range")
    if hi - lo > MAX_RANGE:
        raise Invalid("range_too_long")
    return lo, hi


def list_for_patient(
    session: Session, *, principal: Principal, patient_id: str, start: datetime, end: datetime
) -> tuple[Patient, list[Appointment]]:
    patient = _patient(session, principal, patient_id)
    rows = list(
        session.scalars(
            select(Appointment)
            .where(Appointment.patient_id == patient.id, Appointment.starts_at >= start, Appointment.starts_at < end)
            .order_by(Appointment.starts_at, Appointment.id)
        )
    )
    return patient, rows


# ---- writing ------------------------------------------------------------------------


def _check_times(starts_at: datetime, ends_at: datetime) -> None:
    if not (EARLIEST <= starts_at < LATEST and EARLIEST <= ends_at < LATEST):
        raise Invalid("invalid_times")
    if ends_at <= starts_at or ends_at - starts_at > contract.MAX_APPOINTMENT_LENGTH:
        raise Invalid("invalid_times")


def _check_unit(session: Session, unit_id: str | None) -> None:
    if unit_id is not None and (not _ID_RE.fullmatch(unit_id) or session.get(MedicalUnit, unit_id) is None):
        raise Invalid("unknown_unit")


def _may_write(principal: Principal, row_source: AppointmentSource) -> None:
    if principal.role not in _WRITERS:
        raise NotAllowed()
    if principal.role == Role.GUARDIAN and row_source != AppointmentSource.FAMILIA:
        raise NotAllowed("hospital_appointment")
    if principal.role != Role.GUARDIAN and row_source != AppointmentSource.HOSPITAL:
        raise NotAllowed("family_appointment")


def create(
    session: Session,
    *,
    principal: Principal,
    patient_id: str,
    data: contract.AppointmentCreate,
    ip: str | None,
    now: datetime | None = None,
) -> Appointment:
    """A new appointment: the family's own (guardian) or the hospital's (case desk, admin)."""
    if principal.role not in _WRITERS:
        raise NotAllowed()
    patient = _patient(session, principal, patient_id)
    guardian = principal.role == Role.GUARDIAN
    if guardian and data.kind not in contract.GUARDIAN_APPOINTMENT_KINDS:
        raise Invalid("kind_not_allowed")
    if guardian and data.cycle_id is not None:
        raise Invalid("cycle_not_allowed")
    if data.cycle_id is not None:
        cycle = session.get(Cycle, data.cycle_id) if _ID_RE.fullmatch(data.cycle_id) else None
        if cycle is None or cycle.patient_id != patient.id:
            raise Invalid("unknown_cycle")
    _check_unit(session, data.unit_id)
    _check_times(data.starts_at, data.ends_at)
    now = now or utcnow()
    row = Appointment(
        patient_id=patient.id,
        kind=data.kind.value,
        title=data.title,
        starts_at=data.starts_at,
        ends_at=data.ends_at,
        unit_id=data.unit_id,
        place=data.place,
        status=AppointmentStatus.PROGRAMADA.value,
        notes=data.notes,
        cycle_id=data.cycle_id,
        source=(AppointmentSource.FAMILIA if guardian else AppointmentSource.HOSPITAL).value,
        created_by=principal.id,
        revision=0,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    session.flush()
    _audit(session, principal, "appointment.create", "appointment", row.id, ip, {"patient_id": patient.id})
    sync.touch(session, type=SyncType.APPOINTMENT, record_id=row.id, patient_id=patient.id)
    session.refresh(row)  # loads the unit
    return row


_NOT_NULL = ("title", "starts_at", "ends_at", "status")


def update(
    session: Session,
    *,
    principal: Principal,
    appointment_id: str,
    data: contract.AppointmentUpdate,
    ip: str | None,
    now: datetime | None = None,
) -> Appointment:
    """Change the fields sent; a new time on a pending appointment makes it ``reprogramada``."""
    row, _patient_row = get(session, principal=principal, appointment_id=appointment_id)
    _may_write(principal, AppointmentSource(row.source))
    sent = data.model_fields_set
    if any(name in sent and getattr(data, name) is None for name in _NOT_NULL):
        raise Invalid("null_field")
    changes: dict[str, Any] = {}
    for name in ("title", "starts_at", "ends_at", "unit_id", "place", "notes", "status"):
        if name not in sent:
            continue
        value = getattr(data, name)
        if name in ("place", "notes") and value is None:
            value = ""
        if isinstance(value, AppointmentStatus):
            value = value.value
        if value != getattr(row, name):
            changes[name] = value
    starts_at = changes.get("starts_at", row.starts_at)
    ends_at = changes.get("ends_at", row.ends_at)
    _check_times(starts_at, ends_at)
    if "unit_id" in changes:
        _check_unit(session, changes["unit_id"])
    if not changes:
        return row
    moved = "starts_at" in changes or "ends_at" in changes
    if moved and "status" not in sent and AppointmentStatus(row.status) in _RESCHEDULABLE:
        changes["status"] = AppointmentStatus.REPROGRAMADA.value
    for name, value in changes.items():
        setattr(row, name, value)
    row.revision += 1
    row.updated_at = now or utcnow()
    _audit(session, principal, "appointment.update", "appointment", row.id, ip, {"fields": sorted(changes)})
    sync.touch(session, type=SyncType.APPOINTMENT, record_id=row.id, patient_id=row.patient_id)
    session.flush()
    session.refresh(row)
    return row


def delete(session: Session, *, principal: Principal, appointment_id: str, ip: str | None) -> None:
    """Remove the appointment, leaving a sync tombstone."""
    row, _patient_row = get(session, principal=principal, appointment_id=appointment_id)
    _may_write(principal, AppointmentSource(row.source))
    record_id, patient_id = row.id, row.patient_id
    session.delete(row)
    _audit(session, principal, "appointment.delete", "appointment", record_id, ip, {"patient_id": patient_id})
    sync.touch(session, type=SyncType.APPOINTMENT, record_id=record_id, patient_id=patient_id, deleted=True)


# ---- appointments that mirror another domain's record (blood-bank bookings) ----------


def add_linked(
    session: Session,
    *,
    patient_id: str,
    kind: contract.AppointmentKind,
    title: str,
    starts_at: datetime,
    ends_at: datetime,
    unit_id: str | None,
    place: str,
    notes: str,
    status: AppointmentStatus,
    created_by: str | None,
    now: datetime,
    cycle_id: str | None = None,
    appointment_id: str | None = None,
    synced_with: Sequence[tuple[SyncType, str, str, bool]] = (),
) -> str:
    """A hospital appointment made on behalf of another domain (the caller checked access); synced. Returns its id.

    Written at once with one INSERT (no ORM unit of work: a flush cost several times the statement; #20).
    ``appointment_id``: the id the caller's own record will name; ``synced_with``: the caller's changes ``(type,
    record_id, patient_id, deleted)`` in this transaction, numbered with the appointment's in one counter update."""
    row_id = appointment_id or new_id()
    values = {
        "id": row_id,
        "patient_id": patient_id,
        "kind": kind.value,
        "title": title[:120],
        "starts_at": starts_at,
        "ends_at": ends_at,
        "unit_id": unit_id,
        "place": place[:200],
        "status": status.value,
        "notes": notes,
        "cycle_id": cycle_id,
        "source": AppointmentSource.HOSPITAL.value,
        "created_by": created_by,
        "revision": 0,
        "created_at": now,
        "updated_at": now,
    }
    session.execute(_INSERT, values)
    sync.touch_records(session, [(SyncType.APPOINTMENT, row_id, patient_id, False), *synced_with])
    return row_id


_INSERT = insert(Appointment.__table__)


def change_linked(session: Session, *, appointment_id: str | None, now: datetime, **changes: Any) -> Appointment | None:
    """Change a linked appointment (revision + 1, synced); None when it was deleted meanwhile."""
    row = session.get(Appointment, appointment_id) if appointment_id else None
    if row is None:
        return None
    for name, value in changes.items():
        setattr(row, name, value.value if isinstance(value, AppointmentStatus) else value)
    row.revision += 1
    row.updated_at = now
    session.flush()
    sync.touch(session, type=SyncType.APPOINTMENT, record_id=row.id, patient_id=row.patient_id)
    return row
