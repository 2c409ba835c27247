"""Who may see which patient, the carnet, and its QR token (no HTTP here).

PatientNotFound(NotFound)    unknown id, or a patient the caller may not see (same thing to them)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, bindparam, exists, select
from sqlalchemy.orm import Session

from carnet_contract import models as contract
from carnet_contract.models import CycleStatus, Role, SyncType
from carnet_server import audit
from carnet_server.auth.service import Principal
from carnet_server.context import Context
from carnet_server.db import UTCDateTime, utcnow
from carnet_server.domain_errors import NotFound
from carnet_server.fever.tables import EmergencyToken
from carnet_server.memo import Mark
from carnet_server.patients.tables import (
    Cycle,
    CycleDrug,
    Diagnosis,
    GuardianPatient,
    MedicalUnit,
    Patient,
    Protocol,
    QrToken,
    UserUnit,
)
from carnet_server.pharmacy.ledger import dispensed_at_of
from carnet_server.signing import new_jti
from carnet_server.sync import service as sync

__all__ = [
    "MAX_DUE_CYCLES",
    "CycleNotFound",
    "PatientNotFound",
    "current_qr",
    "cycle_out",
    "drug_out",
    "due_cycles",
    "guardian_sees",
    "CarnetAnswer",
    "carnet_answer",
    "carnet_still_good",
    "load_cycles_for_sync",
    "children_of_guardian",
    "patients_of_guardian",
    "revoke_qr_tokens",
    "touch_cycle",
    "unit_emergency_out",
    "unit_out",
    "units_of",
    "visible_cycle",
    "visible_patient",
]

MAX_DUE_CYCLES = 2
STAFF_ROLES = frozenset({Role.PHARMACY, Role.BLOOD_BANK, Role.CASE_DESK, Role.ONCOLOGY})


class PatientNotFound(NotFound):
    code = "patient_not_found"


class CycleNotFound(NotFound):
    code = "cycle_not_found"


def unit_emergency_out(unit: MedicalUnit) -> contract.UnitEmergency | None:
    """The unit's emergency service as the family's app gets it (None until the hospital writes phone and address)."""
    row = unit.emergency
    if row is None:
        return None
    return contract.UnitEmergency(
        phone=row.phone,
        address=row.address,
        map_url=row.map_url,
        bring=list(row.bring or []),
        avoid=list(row.avoid or []),
        oncology_phone=row.oncology_phone,
    )


def unit_out(unit: MedicalUnit) -> contract.Unit:
    return contract.Unit(
        id=unit.id,
        name=unit.name,
        level=contract.UnitLevel(unit.level),
        state=unit.state,
        emergency=unit_emergency_out(unit),
    )


def drug_out(drug: CycleDrug) -> contract.Drug:
    """A cycle's drug with its structured dose."""
    return contract.Drug(
        name=drug.name,
        route=drug.route,
        dose=contract.Dose(
            amount=drug.amount,
            unit=drug.dose_unit,
            basis=contract.DoseBasis(drug.basis),
            per_basis=drug.per_basis,
            computed=drug.computed,
            capped=drug.capped,
            cap=drug.cap,
            changed_reason=drug.changed_reason,
        ),
        days=[int(day) for day in drug.days.split(",") if day],
        home_schedule=drug.home_schedule,
    )


def cycle_out(cycle: Cycle, *, dispensed_at: datetime | None = None) -> contract.Cycle:
    """The cycle as the carnet shows it; ``dispensed_at`` comes from the pharmacy ledger (``dispensed_at_of``)."""
    deferral = None
    if cycle.deferred_reason and cycle.previous_date:
        deferral = contract.Deferral(reason=cycle.deferred_reason, previous_date=cycle.previous_date)
    return contract.Cycle(
        id=cycle.id,
        number=cycle.number,
        scheduled_for=cycle.scheduled_for,
        status=CycleStatus(cycle.status),
        drugs=[drug_out(d) for d in cycle.drugs],
        mixing=contract.Mixing(status=contract.MixingStatus(cycle.mixing_status), updated_at=cycle.mixing_updated_at),
        confirmed_at=cycle.confirmed_at,
        dispensed_at=dispensed_at,
        protocol=cycle.protocol.name if cycle.protocol is not None else None,
        phase=cycle.phase,
        phase_number=cycle.phase_number,
        phase_cycles=cycle.phase_cycles,
        bsa_m2=cycle.bsa_m2,
        weight_kg=cycle.weight_kg,
        height_cm=cycle.height_cm,
        sessions=[date.fromisoformat(day) for day in cycle.sessions.split(",") if day] or [cycle.scheduled_for],
        deferral=deferral,
        suspended_reason=cycle.suspended_reason,
        version=cycle.version,
    )


def touch_cycle(session: Session, cycle: Cycle) -> None:
    """Record a change of a carnet cycle (mixing, confirmation, dispensation) for the family's sync."""
    sync.touch(session, type=SyncType.CYCLE, record_id=cycle.id, patient_id=cycle.patient_id)


def load_cycles_for_sync(session: Session, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Sync loader: the cycles with these ids, as the carnet's ``Cycle`` JSON."""
    rows = list(session.scalars(select(Cycle).where(Cycle.id.in_(ids))))
    dispensed = dispensed_at_of(session, [c.id for c in rows])
    return {c.id: cycle_out(c, dispensed_at=dispensed.get(c.id)).model_dump(mode="json") for c in rows}


def patients_of_guardian(session: Session, *, user_id: str) -> list[Patient]:
    return list(
        session.scalars(
            select(Patient)
            .join(GuardianPatient, GuardianPatient.patient_id == Patient.id)
            .where(GuardianPatient.user_id == user_id)
            .order_by(Patient.display_name)
        )
    )


def children_of_guardian(session: Session, *, user_id: str) -> list[contract.PatientRef]:
    """A guardian's children (id and display name), by name: one Core statement built once, columns only."""
    rows = session.connection().execute(_CHILDREN, {"user_id": user_id})
    return [contract.PatientRef(id=row.id, display_name=row.display_name) for row in rows]


_CHILDREN = (
    select(Patient.id, Patient.display_name)
    .join(GuardianPatient, GuardianPatient.patient_id == Patient.id)
    .where(GuardianPatient.user_id == bindparam("user_id"))
    .order_by(Patient.display_name)
)


def units_of(session: Session, *, principal: Principal) -> list[MedicalUnit]:
    """The units a staff member works for (admin: all)."""
    query = select(MedicalUnit).order_by(MedicalUnit.name)
    if principal.role != Role.ADMIN:
        query = query.join(UserUnit, UserUnit.unit_id == MedicalUnit.id).where(UserUnit.user_id == principal.id)
    return list(session.scalars(query))


def visible_patient(session: Session, *, principal: Principal, patient_id: str) -> Patient:
    """The patient, if the caller may see it; else :class:`PatientNotFound`."""
    if principal.role == Role.GUARDIAN:
        statement = _VISIBLE_TO_GUARDIAN
    elif principal.role in STAFF_ROLES:
        statement = _VISIBLE_TO_STAFF
    elif principal.role == Role.ADMIN:
        statement = _VISIBLE_TO_ADMIN
    else:
        raise PatientNotFound()
    patient = session.scalar(statement, {"patient_id": patient_id, "user_id": principal.id})
    if patient is None:
        raise PatientNotFound()
    return patient


# The patient by id as each role may see it (visible_patient): built once, as nearly every route asks (#20).
_VISIBLE_TO_ADMIN = select(Patient).where(Patient.id == bindparam("patient_id"))
_VISIBLE_TO_GUARDIAN = _VISIBLE_TO_ADMIN.where(
    exists().where(GuardianPatient.patient_id == Patient.id, GuardianPatient.user_id == bindparam("user_id"))
)
_VISIBLE_TO_STAFF = _VISIBLE_TO_ADMIN.where(
    exists().where(UserUnit.unit_id == Patient.unit_id, UserUnit.user_id == bindparam("user_id"))
)


def guardian_sees(session: Session, *, user_id: str, patient_id: str) -> bool:
    """Whether this guardian is linked to the child: what :func:`visible_patient` checks for a guardian (the link
    exists only for an existing child), for a write that needs the id alone — one primary-key read, no row
    built (#20)."""
    return session.execute(_LINKED, {"user_id": user_id, "patient_id": patient_id}).first() is not None


_LINK = GuardianPatient.__table__
_LINKED = select(_LINK.c.patient_id).where(
    _LINK.c.user_id == bindparam("user_id"), _LINK.c.patient_id == bindparam("patient_id")
)


def visible_cycle(session: Session, *, principal: Principal, cycle_id: str) -> tuple[Cycle, Patient]:
    """The cycle and its patient, if the caller may see the patient; else :class:`CycleNotFound` (the same
    answer for an unknown cycle)."""
    cycle = session.get(Cycle, cycle_id)
    if cycle is None:
        raise CycleNotFound()
    try:
        patient = visible_patient(session, principal=principal, patient_id=cycle.patient_id)
    except PatientNotFound as exc:
        raise CycleNotFound() from exc
    return cycle, patient


_DUE_STATUSES = (CycleStatus.PROGRAMADO.value, CycleStatus.CONFIRMADO.value)


def _due_query(columns: Any, *, patient_id: str, today: date) -> Any:
    return (
        select(columns)
        .where(Cycle.patient_id == patient_id, Cycle.status.in_(_DUE_STATUSES), Cycle.scheduled_for >= today)
        .order_by(Cycle.scheduled_for, Cycle.number)
        .limit(MAX_DUE_CYCLES)
    )


def due_cycles(session: Session, *, patient_id: str, today: date) -> list[Cycle]:
    """The next scheduled cycles (at most two), from today on."""
    return list(session.scalars(_due_query(Cycle, patient_id=patient_id, today=today)))


def due_cycle_ids(cycles: Sequence[Cycle], *, today: date) -> list[str]:
    """What :func:`due_cycles` selects, picked from the patient's cycles already loaded (no query)."""
    due = sorted(
        (c for c in cycles if c.status in _DUE_STATUSES and c.scheduled_for >= today),
        key=lambda c: (c.scheduled_for, c.number),
    )
    return [c.id for c in due[:MAX_DUE_CYCLES]]


def current_qr(
    session: Session, *, ctx: Context, patient: Patient, now: datetime, due_ids: Sequence[str] | None = None
) -> QrToken:
    """The patient's QR token: the stored one while still good, else a new one (flushed).

    Reissued when it expires within ``qr_reissue_days``, the due cycles
    changed, the signing key rotated, or it was revoked. ``due_ids``: the due cycles when the caller has them
    (the carnet read has every cycle loaded already); else their ids are read (ids only, no cycle objects).
    """
    settings = ctx.settings
    if due_ids is None:
        due_ids = list(session.scalars(_due_query(Cycle.id, patient_id=patient.id, today=ctx.today(now))))
    cycle_ids = ",".join(due_ids)
    active_kid = ctx.keys.active_kid
    latest = session.scalar(
        select(QrToken).where(QrToken.patient_id == patient.id).order_by(QrToken.issued_at.desc()).limit(1)
    )
    if (
        latest is not None
        and latest.revoked_at is None
        and latest.kid == active_kid
        and latest.cycle_ids == cycle_ids
        and latest.expires_at - now > timedelta(days=settings.qr_reissue_days)
    ):
        return latest
    issued = now.replace(microsecond=0)
    expires = issued + timedelta(days=settings.qr_ttl_days)
    jti = new_jti()
    claims = {
        "iss": settings.base_url,
        "sub": patient.id,
        "cyc": [c for c in cycle_ids.split(",") if c],
        "iat": int(issued.timestamp()),  # also the not-before time (no "nbf": see signing.py)
        "exp": int(expires.timestamp()),
        "jti": jti,
    }
    token, kid = ctx.keys.sign(claims)
    row = QrToken(
        jti=jti, patient_id=patient.id, kid=kid, cycle_ids=cycle_ids, issued_at=issued, expires_at=expires, token=token
    )
    session.add(row)
    session.flush()
    return row


def revoke_qr_tokens(session: Session, *, patient_id: str, now: datetime | None = None) -> int:
    """Revoke every live QR token of a patient, the carnet's and the emergency card's (fever/card.py), and return
    how many (the caller commits). The next carnet or card read reissues. Both lists go out in the pharmacy
    trust bundle, so the offline checks refuse them from the counter's next refresh."""
    now = now or utcnow()
    rows = list(session.scalars(select(QrToken).where(QrToken.patient_id == patient_id, QrToken.revoked_at.is_(None))))
    for row in rows:
        row.revoked_at = now
    cards = list(
        session.scalars(
            select(EmergencyToken).where(
                EmergencyToken.patient_id == patient_id,
                EmergencyToken.revoked_at.is_(None),
                EmergencyToken.expires_at > now,
            )
        )
    )
    for card in cards:
        card.revoked_at = now
    return len(rows) + len(cards)


@dataclass(frozen=True)
class CarnetAnswer:
    """A carnet as sent (its JSON), the id and expiry of the QR token in it: what a worker keeps in memory
    (patients/router.py), to check on each reuse that the token is still good (``carnet_still_good``) — unless
    nothing was committed since ``mark``, taken before it was read (memo.py)."""

    body: bytes
    qr_jti: str
    qr_expires_at: datetime
    mark: Mark = None


def carnet_answer(
    session: Session, *, ctx: Context, principal: Principal, patient_id: str, ip: str | None
) -> CarnetAnswer:
    """The carnet of a patient the caller may see, as the JSON the route sends; staff reads are audited. Commits."""
    carnet, jti = _carnet(session, ctx=ctx, principal=principal, patient_id=patient_id, ip=ip, now=utcnow())
    body = carnet.model_dump_json(by_alias=True).encode()
    return CarnetAnswer(body=body, qr_jti=jti, qr_expires_at=carnet.qr.expires_at)


def carnet_still_good(conn: Connection, *, user_id: str, patient_id: str, qr_jti: str, now: datetime) -> bool:
    """Whether a carnet kept in memory may be sent again to this guardian: still linked to the child, its QR
    token neither revoked nor expired. One indexed lookup, built once, on a connection (no ORM session)."""
    found = conn.execute(_STILL_GOOD, {"user_id": user_id, "patient_id": patient_id, "jti": qr_jti, "now": now})
    return found.first() is not None


#: A guardian's link to the child and the child's QR token by id, if not revoked nor expired (carnet_still_good).
_STILL_GOOD = (
    select(QrToken.jti)
    .join_from(QrToken, GuardianPatient, GuardianPatient.patient_id == QrToken.patient_id)
    .where(
        QrToken.jti == bindparam("jti"),
        QrToken.patient_id == bindparam("patient_id"),
        QrToken.revoked_at.is_(None),
        QrToken.expires_at > bindparam("now", type_=UTCDateTime),
        GuardianPatient.user_id == bindparam("user_id"),
    )
)


def _carnet(
    session: Session, *, ctx: Context, principal: Principal, patient_id: str, ip: str | None, now: datetime
) -> tuple[contract.Carnet, str]:
    patient = visible_patient(session, principal=principal, patient_id=patient_id)
    diagnosis = session.scalar(
        select(Diagnosis)
        .where(Diagnosis.patient_id == patient.id)
        .order_by(Diagnosis.diagnosed_on.desc(), Diagnosis.id)
        .limit(1)
    )
    cycles = list(session.scalars(select(Cycle).where(Cycle.patient_id == patient.id).order_by(Cycle.number)))
    dispensed = dispensed_at_of(session, [c.id for c in cycles])  # one query for the whole carnet
    qr = current_qr(session, ctx=ctx, patient=patient, now=now, due_ids=due_cycle_ids(cycles, today=ctx.today(now)))
    due = sorted((c for c in cycles if c.id in qr.cycle_ids.split(",")), key=lambda c: (c.scheduled_for, c.number))
    # The protocol in course: that of the next due cycle, else of the latest cycle.
    anchor = due[0] if due else (cycles[-1] if cycles else None)
    protocol = session.get(Protocol, anchor.protocol_id) if anchor else None
    if protocol is None:
        protocol = session.scalar(select(Protocol).where(Protocol.patient_id == patient.id).limit(1))
    if principal.role != Role.GUARDIAN:
        audit.record(
            session,
            action="carnet.read",
            actor_id=principal.id,
            actor_role=principal.role,
            object_type="patient",
            object_id=patient.id,
            ip=ip,
        )
    session.commit()
    carnet = contract.Carnet(
        patient=contract.CarnetPatient(
            id=patient.id,
            full_name=patient.full_name,
            display_name=patient.display_name,
            nss=patient.nss,
            curp=patient.curp,
            birth_date=patient.birth_date,
            unit=unit_out(patient.unit),
        ),
        diagnosis=contract.Diagnosis(name=diagnosis.name, cie10=diagnosis.cie10, diagnosed_on=diagnosis.diagnosed_on)
        if diagnosis
        else None,
        protocol=contract.Protocol(name=protocol.name, description=protocol.description) if protocol else None,
        cycles=[cycle_out(c, dispensed_at=dispensed.get(c.id)) for c in cycles],
        qr=contract.QrCode(token=qr.token, url=f"{ctx.settings.base_url}/v/{qr.token}", expires_at=qr.expires_at),
        generated_at=now,
    )
    return carnet, qr.jti
