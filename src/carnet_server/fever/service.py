"""Fever episodes (Hora Dorada): the family's alert, the unit's three steps, the episodes in sync (no HTTP here).

    FeverEpisodeNotFound(NotFound)   unknown episode, or one the caller may not see (same thing to them)
    and the kinds of domain_errors: NotAllowed (the caller's role), Invalid(code)
    (``fever_measured_at_out_of_range``, ``fever_step_time_invalid``), Conflict(code)
    (``fever_step_out_of_order``, ``fever_episode_closed``)

Who: the child's guardian creates an episode (and reads the child's); staff of the child's unit with the role
``oncology`` or ``case_desk`` (and admin, every unit) read and record the steps. Other roles get 403; a child
or an episode out of reach is 404.

States: ``avisada`` (the family pressed the button) → ``en_urgencias`` (arrival) → ``triage`` →
``antibiotico`` (the first antibiotic: the clock stops); ``close`` ends an episode without an antibiotic
(``cerrada``: seen and sent home, or the family never came). Each step once, in order, at a time not in the
future, not before the episode nor the previous step. The episode stays with the unit that treated the child
when it was created.

Writes do not commit (the route does); each touches the sync record last. Audit rows hold ids and codes only:
never a temperature, a name or any clinical text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import exists, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from carnet_contract import models as contract
from carnet_contract.models import FeverOrigin, FeverStatus, FeverStepKind, Role, SyncType
from carnet_server import audit
from carnet_server.auth.service import Principal
from carnet_server.db import utcnow
from carnet_server.domain_errors import Conflict, Invalid, NotAllowed, NotFound
from carnet_server.fever.tables import FeverEpisode
from carnet_server.patients.service import PatientNotFound, unit_out, visible_patient
from carnet_server.patients.tables import GuardianPatient, Patient, UserUnit
from carnet_server.sync import service as sync

__all__ = [
    "OPEN_STATUSES",
    "STAFF",
    "FeverEpisodeNotFound",
    "audit_action",
    "create",
    "episode_out",
    "get",
    "list_for_patient",
    "list_for_units",
    "load_for_sync",
    "open_at_unit",
    "record_step",
    "reader_patient",
]

ID_RE = re.compile(r"[A-Za-z0-9_-]{1,32}")
#: Staff who follow fever episodes (of their units); admin sees all.
STAFF = frozenset({Role.ONCOLOGY, Role.CASE_DESK, Role.ADMIN})
READERS = STAFF | {Role.GUARDIAN}
OPEN_STATUSES = (FeverStatus.AVISADA, FeverStatus.EN_URGENCIAS, FeverStatus.TRIAGE)
#: The status each step needs before it, and the one it leads to.
_STEPS: dict[FeverStepKind, tuple[FeverStatus, FeverStatus]] = {
    FeverStepKind.ARRIVAL: (FeverStatus.AVISADA, FeverStatus.EN_URGENCIAS),
    FeverStepKind.TRIAGE: (FeverStatus.EN_URGENCIAS, FeverStatus.TRIAGE),
    FeverStepKind.ANTIBIOTIC: (FeverStatus.TRIAGE, FeverStatus.ANTIBIOTICO),
}


class FeverEpisodeNotFound(NotFound):
    code = "fever_episode_not_found"


# ---- output ---------------------------------------------------------------------------------------------


def minutes_between(start: datetime | None, end: datetime | None) -> int | None:
    """Whole minutes from ``start`` to ``end`` (None unless both are known)."""
    if start is None or end is None:
        return None
    return int((end.astimezone(UTC) - start.astimezone(UTC)).total_seconds() // 60)


def episode_out(row: FeverEpisode, *, patient_name: str | None = None) -> contract.FeverEpisode:
    unit = unit_out(row.unit)
    emergency = (
        contract.FeverEpisodeEmergency(
            phone=unit.emergency.phone, address=unit.emergency.address, map_url=unit.emergency.map_url
        )
        if unit.emergency is not None
        else None
    )
    return contract.FeverEpisode(
        id=row.id,
        patient_id=row.patient_id,
        status=FeverStatus(row.status),
        temperature_c=row.temperature_c,
        measured_at=row.measured_at,
        created_at=row.created_at,
        arrived_at=row.arrived_at,
        triage_at=row.triage_at,
        antibiotic_at=row.antibiotic_at,
        minutes_to_antibiotic=minutes_between(row.arrived_at, row.antibiotic_at),
        unit=unit,
        emergency=emergency,
        patient_name=patient_name,
        origin=FeverOrigin(row.origin),
    )


def staff_out(session: Session, rows: Sequence[FeverEpisode]) -> list[contract.FeverEpisode]:
    """Episodes as the unit's staff get them: each with the child's name (one query)."""
    ids = sorted({r.patient_id for r in rows})
    names: dict[str, str] = {}
    for start in range(0, len(ids), 500):
        found = session.execute(
            select(Patient.id, Patient.display_name).where(Patient.id.in_(ids[start : start + 500]))
        )
        names.update((pid, name) for pid, name in found)
    return [episode_out(r, patient_name=names.get(r.patient_id, "")) for r in rows]


def out_for(session: Session, principal: Principal, rows: Sequence[FeverEpisode]) -> list[contract.FeverEpisode]:
    if principal.role == Role.GUARDIAN:
        return [episode_out(r) for r in rows]
    return staff_out(session, rows)


def load_for_sync(session: Session, ids: Sequence[str]) -> Mapping[str, dict[str, Any]]:
    """Sync loader: the episodes with these ids, as ``FeverEpisode`` JSON (the family's view)."""
    out: dict[str, dict[str, Any]] = {}
    for start in range(0, len(ids), 500):
        for row in session.scalars(select(FeverEpisode).where(FeverEpisode.id.in_(ids[start : start + 500]))):
            out[row.id] = episode_out(row).model_dump(mode="json")
    return out


# ---- access ---------------------------------------------------------------------------------------------


def audit_action(
    session: Session,
    principal: Principal,
    action: str,
    object_id: str,
    ip: str | None,
    detail: Mapping[str, Any] | None = None,
    object_type: str = "fever_episode",
) -> None:
    """Ids and codes only: never a temperature, a name or clinical text."""
    audit.record(
        session,
        action=action,
        actor_id=principal.id,
        actor_role=principal.role,
        object_type=object_type,
        object_id=object_id,
        ip=ip,
        detail=dict(detail) if detail else None,
    )


def reader_patient(session: Session, *, principal: Principal, patient_id: str) -> Patient:
    """The child, for a guardian of theirs or fever staff of their unit (admin: any); other roles 403."""
    if principal.role not in READERS:
        raise NotAllowed()
    if not ID_RE.fullmatch(patient_id):
        raise PatientNotFound()
    return visible_patient(session, principal=principal, patient_id=patient_id)


def get(session: Session, *, principal: Principal, episode_id: str, lock: bool = False) -> FeverEpisode:
    """The episode, if the caller may see it; else :class:`FeverEpisodeNotFound`."""
    if principal.role not in READERS:
        raise NotAllowed()
    if not ID_RE.fullmatch(episode_id):
        raise FeverEpisodeNotFound()
    if lock:  # a no-op UPDATE first: a row lock on PostgreSQL, the write lock on SQLite (see incidents)
        session.execute(
            update(FeverEpisode)
            .where(FeverEpisode.id == episode_id)
            .values(updated_at=FeverEpisode.updated_at)
            .execution_options(synchronize_session=False)
        )
    row = session.get(FeverEpisode, episode_id, populate_existing=lock)
    if row is None:
        raise FeverEpisodeNotFound()
    if principal.role == Role.GUARDIAN:
        if session.get(GuardianPatient, (principal.id, row.patient_id)) is None:
            raise FeverEpisodeNotFound()
    elif principal.role != Role.ADMIN and session.get(UserUnit, (principal.id, row.unit_id)) is None:
        raise FeverEpisodeNotFound()
    return row


def list_for_patient(session: Session, *, principal: Principal, patient_id: str) -> list[FeverEpisode]:
    """A child's episodes, newest first."""
    patient = reader_patient(session, principal=principal, patient_id=patient_id)
    query = select(FeverEpisode).where(FeverEpisode.patient_id == patient.id)
    return list(session.scalars(query.order_by(FeverEpisode.created_at.desc(), FeverEpisode.id)))


def list_for_units(
    session: Session,
    *,
    principal: Principal,
    unit_id: str | None = None,
    status: FeverStatus | None = None,
) -> list[FeverEpisode]:
    """Staff: the episodes of their units (admin: all), open ones by default, oldest first (who waits longest)."""
    if principal.role not in STAFF:
        raise NotAllowed()
    query = select(FeverEpisode)
    if principal.role != Role.ADMIN:
        query = query.where(exists().where(UserUnit.unit_id == FeverEpisode.unit_id, UserUnit.user_id == principal.id))
    if unit_id is not None:
        query = query.where(FeverEpisode.unit_id == unit_id)
    if status is not None:
        query = query.where(FeverEpisode.status == status.value)
    else:
        query = query.where(FeverEpisode.status.in_([s.value for s in OPEN_STATUSES]))
    return list(session.scalars(query.order_by(FeverEpisode.created_at, FeverEpisode.id)))


# ---- writes ---------------------------------------------------------------------------------------------


def _open_episode(session: Session, patient_id: str) -> FeverEpisode | None:
    return session.scalar(
        select(FeverEpisode)
        .where(FeverEpisode.patient_id == patient_id, FeverEpisode.status.in_([s.value for s in OPEN_STATUSES]))
        .limit(1)
    )


def _insert_if_none_open(session: Session, row: FeverEpisode) -> bool:
    """Add ``row`` unless the child has an open episode (the partial unique index decides, under any race)."""
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        return False
    return True


def create(
    session: Session,
    *,
    principal: Principal,
    patient_id: str,
    data: contract.FeverEpisodeCreate,
    ip: str | None,
    now: datetime | None = None,
) -> tuple[FeverEpisode, bool]:
    """The child's guardian says the child has fever: ``avisada``, at the child's unit. With an episode already
    open (the button pressed again, or the unit opened it), that one and False: the family is already expected."""
    if principal.role != Role.GUARDIAN:
        raise NotAllowed()
    now = (now or utcnow()).astimezone(UTC)
    if not ID_RE.fullmatch(patient_id):
        raise PatientNotFound()
    patient = visible_patient(session, principal=principal, patient_id=patient_id)
    measured = data.measured_at.astimezone(UTC)
    if measured > now + contract.FEVER_FUTURE_LEEWAY or measured < now - contract.FEVER_MAX_AGE:
        raise Invalid("fever_measured_at_out_of_range")
    row = FeverEpisode(
        patient_id=patient.id,
        unit_id=patient.unit_id,
        reporter_id=principal.id,
        status=FeverStatus.AVISADA.value,
        temperature_c=round(float(data.temperature_c), 1),
        measured_at=measured,
        created_at=now,
        updated_at=now,
    )
    if _open_episode(session, patient.id) is not None or not _insert_if_none_open(session, row):
        already = _open_episode(session, patient.id)
        if already is not None:
            return already, False
        raise Conflict("fever_episode_already_open")  # it closed in between: the family presses again
    audit_action(session, principal, "fever.create", row.id, ip, {"patient_id": patient.id, "unit_id": row.unit_id})
    sync.touch(session, type=SyncType.FEVER_EPISODE, record_id=row.id, patient_id=patient.id)
    return row, True


def open_at_unit(
    session: Session,
    *,
    principal: Principal,
    patient_id: str,
    data: contract.FeverEpisodeAtUnit,
    ip: str | None,
    now: datetime | None = None,
) -> FeverEpisode:
    """Staff of the child's unit (admin: any): the child came with fever without the family's alert. The episode
    starts ``en_urgencias`` at the arrival (``origin`` ``unidad``), so its clock runs and the figures count it.
    A child with an open episode: :class:`Conflict` ``fever_episode_already_open`` (record the arrival there)."""
    if principal.role not in STAFF:
        raise NotAllowed()
    now = (now or utcnow()).astimezone(UTC)
    if not ID_RE.fullmatch(patient_id):
        raise PatientNotFound()
    patient = visible_patient(session, principal=principal, patient_id=patient_id)
    measured = data.measured_at.astimezone(UTC)
    if measured > now + contract.FEVER_FUTURE_LEEWAY or measured < now - contract.FEVER_MAX_AGE:
        raise Invalid("fever_measured_at_out_of_range")
    arrived = (data.arrived_at or now).astimezone(UTC)
    if arrived > now + contract.FEVER_FUTURE_LEEWAY or arrived < now - contract.FEVER_MAX_AGE:
        raise Invalid("fever_arrival_time_invalid")
    row = FeverEpisode(
        patient_id=patient.id,
        unit_id=patient.unit_id,
        reporter_id=principal.id,
        status=FeverStatus.EN_URGENCIAS.value,
        temperature_c=round(float(data.temperature_c), 1),
        measured_at=measured,
        arrived_at=arrived,
        origin=FeverOrigin.UNIDAD.value,
        created_at=now,
        updated_at=now,
    )
    if _open_episode(session, patient.id) is not None or not _insert_if_none_open(session, row):
        already = _open_episode(session, patient.id)
        refusal = Conflict("fever_episode_already_open")
        if already is not None:
            refusal.details = {"episode_id": already.id}  # the desk records the arrival on that one
        raise refusal
    audit_action(
        session,
        principal,
        "fever.create",
        row.id,
        ip,
        {"patient_id": patient.id, "unit_id": row.unit_id, "origin": FeverOrigin.UNIDAD.value},
    )
    sync.touch(session, type=SyncType.FEVER_EPISODE, record_id=row.id, patient_id=patient.id)
    return row


def record_step(
    session: Session,
    *,
    principal: Principal,
    episode_id: str,
    data: contract.FeverStep,
    ip: str | None,
    now: datetime | None = None,
) -> FeverEpisode:
    """Staff of the episode's unit record arrival, triage or the first antibiotic (or close it)."""
    if principal.role not in STAFF:
        raise NotAllowed()
    now = (now or utcnow()).astimezone(UTC)
    row = get(session, principal=principal, episode_id=episode_id, lock=True)
    status = FeverStatus(row.status)
    if status in (FeverStatus.ANTIBIOTICO, FeverStatus.CERRADA):
        raise Conflict("fever_episode_closed")
    at = (data.at or now).astimezone(UTC)
    # The episode starts at the family's reading (the alert may reach the server only after the arrival: the
    # family was offline); a later step not before the previous one. A clock a little ahead: 5 minutes.
    previous = max(t for t in (row.measured_at, row.arrived_at, row.triage_at) if t is not None)
    if at > now + contract.FEVER_FUTURE_LEEWAY or at < previous:
        raise Invalid("fever_step_time_invalid")
    if data.step == FeverStepKind.CLOSE:
        row.status = FeverStatus.CERRADA.value
    else:
        before, after = _STEPS[data.step]
        if status != before:
            raise Conflict("fever_step_out_of_order")
        setattr(row, _COLUMN[data.step], at)
        row.status = after.value
    row.updated_at = now
    audit_action(
        session,
        principal,
        "fever.step",
        row.id,
        ip,
        {"patient_id": row.patient_id, "unit_id": row.unit_id, "step": data.step.value, "status": row.status},
    )
    sync.touch(session, type=SyncType.FEVER_EPISODE, record_id=row.id, patient_id=row.patient_id)
    session.flush()
    return row


_COLUMN = {
    FeverStepKind.ARRIVAL: "arrived_at",
    FeverStepKind.TRIAGE: "triage_at",
    FeverStepKind.ANTIBIOTIC: "antibiotic_at",
}
