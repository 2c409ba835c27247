"""The registry of children: register, read, correct (with its history), refer, search (no HTTP here).

    PatientInvalid(Invalid)       422: every problem of the data, each a reason naming its field; the code
                                  is the first problem's (``curp_check_digit``, ``agregado_format``, …)
    PatientExists(Conflict)       409 ``patient_exists``: the same CURP, or the same NSS + agregado médico;
                                  ``patient_id`` of the existing record when the caller may see it
    PatientSimilar(Conflict)      409 ``patient_similar``: a similar name with the same birth date (ids the
                                  caller may see in ``similar``); the same request with ``confirm_similar``
                                  goes through
    NotAllowed("unit_not_yours")  oncology registers and refers only from its own units
    PatientNotFound               unknown, or not the caller's to see

Who: oncology of the child's unit and admin write; case desk reads too. Every write and every staff read
is audited with ids only (never a name, CURP or NSS). Writes flush; the caller commits (the route,
through its Idempotency-Key store, or the import, once for the whole file).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import exists, or_, select
from sqlalchemy.orm import Session

from carnet_contract import enrolment as wire
from carnet_contract.models import Role
from carnet_server import audit
from carnet_server.auth.service import Principal
from carnet_server.db import utcnow
from carnet_server.domain_errors import Conflict, Invalid, NotAllowed, Reason
from carnet_server.enrolment import catalogue
from carnet_server.enrolment.identity import (
    Problem,
    agregado_problems,
    clean_name,
    curp_problems,
    name_key,
    name_problem,
    nss_problems,
    similar,
)
from carnet_server.enrolment.tables import PatientCorrection
from carnet_server.i18n import t
from carnet_server.patients.service import PatientNotFound, unit_out, visible_patient
from carnet_server.patients.tables import Diagnosis, MedicalUnit, Patient, UserUnit

__all__ = [
    "EDITABLE",
    "READERS",
    "WRITERS",
    "Fields",
    "PatientExists",
    "PatientInvalid",
    "PatientNotFound",
    "PatientSimilar",
    "check_duplicates",
    "check_unit",
    "corrections",
    "find_duplicate",
    "read",
    "record_fields",
    "record_out",
    "refer",
    "register",
    "search",
    "update",
]

WRITERS = frozenset({Role.ONCOLOGY, Role.ADMIN})
READERS = frozenset({Role.ONCOLOGY, Role.CASE_DESK, Role.ADMIN})
SEARCH_LIMIT = 50
#: The fields a correction may change, in the record's order.
EDITABLE = (
    "given_names",
    "paternal_surname",
    "maternal_surname",
    "birth_date",
    "sex",
    "curp",
    "nss",
    "agregado",
    "diagnosis_code",
    "diagnosed_on",
    "treating_oncologist",
    "blood_group",
    "allergies",
    "central_venous_catheter",
)


class PatientInvalid(Invalid):
    """Every problem found, as reasons; the code is the first one's."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        super().__init__(problems[0].code)
        self.reasons = [
            Reason(p.code, {lang: t(f"reason.{p.code}", lang, field=p.field) for lang in ("es", "en")})
            for p in problems
        ]
        self.details = {"field": problems[0].field, "fields": list(dict.fromkeys(p.field for p in problems))}

    @property
    def message_key(self) -> str:
        return "patient_invalid"


class PatientExists(Conflict):
    code = "patient_exists"

    def __init__(self, patient_id: str | None) -> None:
        super().__init__()
        self.details = {"patient_id": patient_id} if patient_id else None


class PatientSimilar(Conflict):
    code = "patient_similar"

    def __init__(self, patient_ids: Sequence[str]) -> None:
        super().__init__()
        self.details = {"similar": list(patient_ids)}


@dataclass
class Fields:
    """A child's registry fields, as checked and written (from a request, a CSV row or a record)."""

    given_names: str | None
    paternal_surname: str | None
    maternal_surname: str | None
    birth_date: date
    sex: str | None
    curp: str
    nss: str
    agregado: str | None
    diagnosis_code: str | None
    diagnosed_on: date | None
    treating_oncologist: str | None
    blood_group: str | None
    allergies: str | None
    central_venous_catheter: bool | None

    @classmethod
    def of(cls, body: wire.PatientCreate) -> Fields:
        return cls(**{name: _plain(getattr(body, name)) for name in EDITABLE})

    def problems(self, *, today: date) -> list[Problem]:
        found: list[Problem] = []
        for field in ("given_names", "paternal_surname", "maternal_surname"):
            value = getattr(self, field)
            if value is not None and (problem := name_problem(field, value)):
                found.append(problem)
        if self.birth_date > today:
            found.append(Problem("birth_date", "birth_date_in_future"))
        found += curp_problems(self.curp, birth_date=self.birth_date, sex=self.sex)
        found += nss_problems(self.nss)
        if self.agregado is not None:
            found += agregado_problems(self.agregado, birth_date=self.birth_date, sex=self.sex)
        if self.diagnosis_code is not None and catalogue.lookup(self.diagnosis_code) is None:
            found.append(Problem("diagnosis_code", "unknown_diagnosis"))
        if self.diagnosed_on is not None:
            if self.diagnosed_on > today:
                found.append(Problem("diagnosed_on", "diagnosed_in_future"))
            elif self.diagnosed_on < self.birth_date:
                found.append(Problem("diagnosed_on", "diagnosed_before_birth"))
        return found

    @property
    def name_key(self) -> str:
        return name_key(self.paternal_surname, self.maternal_surname, self.given_names)


def _plain(value: Any) -> Any:
    if isinstance(value, str):
        value = clean_name(value) if value else value
        return value or None
    return value.value if hasattr(value, "value") else value


def _fields_of(patient: Patient, diagnosis: Diagnosis | None) -> Fields:
    return Fields(
        given_names=patient.given_names,
        paternal_surname=patient.paternal_surname,
        maternal_surname=patient.maternal_surname,
        birth_date=patient.birth_date,
        sex=patient.sex,
        curp=patient.curp,
        nss=patient.nss,
        agregado=patient.agregado,
        diagnosis_code=diagnosis.cie10 if diagnosis else None,
        diagnosed_on=diagnosis.diagnosed_on if diagnosis else None,
        treating_oncologist=patient.treating_oncologist,
        blood_group=patient.blood_group,
        allergies=patient.allergies,
        central_venous_catheter=patient.central_venous_catheter,
    )


def record_fields(session: Session, patient: Patient) -> Fields:
    """The record's fields as registered (its latest diagnosis)."""
    return _fields_of(patient, _latest_diagnosis(session, patient.id))


def _audit(session: Session, principal: Principal, action: str, object_id: str, ip: str | None, **detail: Any) -> None:
    audit.record(
        session,
        action=action,
        actor_id=principal.id,
        actor_role=principal.role,
        object_type="patient",
        object_id=object_id,
        ip=ip,
        detail=dict(detail) or None,
    )


def _latest_diagnosis(session: Session, patient_id: str) -> Diagnosis | None:
    return session.scalar(
        select(Diagnosis)
        .where(Diagnosis.patient_id == patient_id)
        .order_by(Diagnosis.diagnosed_on.desc(), Diagnosis.id)
        .limit(1)
    )


def _may_see(session: Session, principal: Principal, patient: Patient) -> bool:
    if principal.role == Role.ADMIN:
        return True
    return session.get(UserUnit, (principal.id, patient.unit_id)) is not None


# ---- checks -------------------------------------------------------------------------------------------


def check_unit(session: Session, *, principal: Principal, unit_id: str) -> MedicalUnit:
    """The unit, if it exists (422 ``unknown_unit``) and the caller works there (403 ``unit_not_yours``)."""
    unit = session.get(MedicalUnit, unit_id)
    if unit is None:
        raise Invalid("unknown_unit")
    if principal.role != Role.ADMIN and session.get(UserUnit, (principal.id, unit.id)) is None:
        raise NotAllowed("unit_not_yours")
    return unit


def find_duplicate(session: Session, fields: Fields, *, excluding: str | None = None) -> Patient | None:
    """A registered child with the same CURP, or the same NSS + agregado médico."""
    same = [Patient.curp == fields.curp]
    if fields.agregado is not None:
        same.append((Patient.nss == fields.nss) & (Patient.agregado == fields.agregado))
    query = select(Patient).where(or_(*same))
    if excluding is not None:
        query = query.where(Patient.id != excluding)
    return session.scalars(query.limit(1)).first()


def _similar_to(session: Session, fields: Fields, *, excluding: str | None = None) -> list[Patient]:
    key = fields.name_key
    rows = session.scalars(select(Patient).where(Patient.birth_date == fields.birth_date))
    return [p for p in rows if p.id != excluding and similar(key, p.name_key or name_key(p.full_name))]


def check_duplicates(
    session: Session, *, principal: Principal, fields: Fields, confirm_similar: bool, excluding: str | None = None
) -> None:
    duplicate = find_duplicate(session, fields, excluding=excluding)
    if duplicate is not None:
        raise PatientExists(duplicate.id if _may_see(session, principal, duplicate) else None)
    if not confirm_similar:
        alike = _similar_to(session, fields, excluding=excluding)
        if alike:
            raise PatientSimilar([p.id for p in alike if _may_see(session, principal, p)])


# ---- writing ------------------------------------------------------------------------------------------


def _apply_names(patient: Patient, fields: Fields) -> None:
    patient.given_names = fields.given_names
    patient.paternal_surname = fields.paternal_surname
    patient.maternal_surname = fields.maternal_surname
    if fields.given_names and fields.paternal_surname:
        patient.full_name = " ".join(
            p for p in (fields.given_names, fields.paternal_surname, fields.maternal_surname) if p
        )
        patient.display_name = f"{fields.given_names.split()[0]} {fields.paternal_surname}"[:120]
    patient.name_key = fields.name_key or name_key(patient.full_name)


def register(
    session: Session,
    *,
    principal: Principal,
    body: wire.PatientCreate,
    ip: str | None,
    today: date,
    now: datetime | None = None,
    action: str = "patient.create",
) -> Patient:
    """Register a child (flushes; the caller commits)."""
    unit = check_unit(session, principal=principal, unit_id=body.unit_id)
    fields = Fields.of(body)
    problems = fields.problems(today=today)
    if problems:
        raise PatientInvalid(problems)
    check_duplicates(session, principal=principal, fields=fields, confirm_similar=body.confirm_similar)
    patient = Patient(
        nss=fields.nss,
        curp=fields.curp,
        birth_date=fields.birth_date,
        unit_id=unit.id,
        sex=fields.sex,
        agregado=fields.agregado,
        treating_oncologist=fields.treating_oncologist,
        blood_group=fields.blood_group,
        allergies=fields.allergies,
        central_venous_catheter=fields.central_venous_catheter,
        created_at=now or utcnow(),
    )
    _apply_names(patient, fields)
    session.add(patient)
    session.flush()
    entry = catalogue.lookup(body.diagnosis_code)
    assert entry is not None  # checked above
    session.add(Diagnosis(patient_id=patient.id, name=entry.name, cie10=entry.code, diagnosed_on=fields.diagnosed_on))
    _audit(session, principal, action, patient.id, ip, unit_id=unit.id)
    session.flush()
    return patient


def _shown(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def update(
    session: Session,
    *,
    principal: Principal,
    patient_id: str,
    body: wire.PatientUpdate,
    ip: str | None,
    today: date,
    now: datetime | None = None,
) -> Patient:
    """Correct the fields given; each change is kept in the history (flushes; the caller commits)."""
    patient = visible_patient(session, principal=principal, patient_id=patient_id)
    if principal.role not in WRITERS:
        raise NotAllowed()
    now = now or utcnow()
    diagnosis = _latest_diagnosis(session, patient.id)
    before = _fields_of(patient, diagnosis)
    after = _fields_of(patient, diagnosis)
    given = body.model_fields_set - {"confirm_similar"}
    for name in given:
        value = _plain(getattr(body, name))
        if value is None and name in (
            "given_names",
            "paternal_surname",
            "birth_date",
            "sex",
            "curp",
            "nss",
            "diagnosis_code",
            "diagnosed_on",
            "central_venous_catheter",
        ):
            raise PatientInvalid([Problem(name, "required_field")])
        setattr(after, name, value)
    changed = [name for name in EDITABLE if getattr(after, name) != getattr(before, name)]
    if not changed:
        return patient
    # the changed fields, and the identifiers that must agree with a changed birth date or sex
    relevant = set(changed) | ({"curp", "agregado"} if {"birth_date", "sex"} & set(changed) else set())
    problems = [p for p in after.problems(today=today) if p.field in relevant]
    if problems:
        raise PatientInvalid(problems)
    identity_changed = {"curp", "nss", "agregado"} & set(changed)
    name_changed = {"given_names", "paternal_surname", "maternal_surname", "birth_date"} & set(changed)
    if identity_changed or name_changed:
        check_duplicates(
            session,
            principal=principal,
            fields=after,
            confirm_similar=body.confirm_similar or not name_changed,
            excluding=patient.id,
        )
    for name in changed:
        if name in ("diagnosis_code", "diagnosed_on"):
            continue
        setattr(patient, name, getattr(after, name))
    _apply_names(patient, after)
    if {"diagnosis_code", "diagnosed_on"} & set(changed):
        entry = catalogue.lookup(after.diagnosis_code or "")
        assert entry is not None
        if diagnosis is None:
            session.add(
                Diagnosis(patient_id=patient.id, name=entry.name, cie10=entry.code, diagnosed_on=after.diagnosed_on)
            )
        else:
            diagnosis.cie10, diagnosis.name, diagnosis.diagnosed_on = entry.code, entry.name, after.diagnosed_on
    for name in changed:
        session.add(
            PatientCorrection(
                patient_id=patient.id,
                kind=wire.CorrectionKind.CORRECCION.value,
                field=name,
                old_value=_shown(getattr(before, name)),
                new_value=_shown(getattr(after, name)),
                changed_by_id=principal.id,
                changed_by_name=principal.display_name,
                changed_by_role=principal.role,
                changed_at=now,
            )
        )
    _audit(session, principal, "patient.correct", patient.id, ip, fields=changed)
    session.flush()
    return patient


def refer(
    session: Session,
    *,
    principal: Principal,
    patient_id: str,
    unit_id: str,
    ip: str | None,
    now: datetime | None = None,
) -> Patient:
    """Move the child to another unit (any: a second-level hospital sends to an UMAE, or back). The record keeps
    its history, cycles, appointments and guardians; visibility follows ``patients.unit_id`` on every request,
    so staff of the old unit lose access at once. Flushes; the caller commits."""
    patient = visible_patient(session, principal=principal, patient_id=patient_id)
    if principal.role not in WRITERS:
        raise NotAllowed()
    target = session.get(MedicalUnit, unit_id)
    if target is None:
        raise Invalid("unknown_unit")
    if target.id == patient.unit_id:
        raise Conflict("same_unit")
    source = patient.unit
    session.add(
        PatientCorrection(
            patient_id=patient.id,
            kind=wire.CorrectionKind.REFERENCIA.value,
            field="unit_id",
            old_value=source.name,
            new_value=target.name,
            changed_by_id=principal.id,
            changed_by_name=principal.display_name,
            changed_by_role=principal.role,
            changed_at=now or utcnow(),
        )
    )
    patient.unit_id = target.id
    _audit(session, principal, "patient.refer", patient.id, ip, from_unit=source.id, to_unit=target.id)
    session.flush()
    session.refresh(patient)
    return patient


# ---- reading ------------------------------------------------------------------------------------------


def record_out(session: Session, patient: Patient) -> wire.PatientRecord:
    diagnosis = _latest_diagnosis(session, patient.id)
    entry = catalogue.lookup(diagnosis.cie10) if diagnosis and diagnosis.cie10 else None
    return wire.PatientRecord(
        id=patient.id,
        given_names=patient.given_names,
        paternal_surname=patient.paternal_surname,
        maternal_surname=patient.maternal_surname,
        full_name=patient.full_name,
        display_name=patient.display_name,
        birth_date=patient.birth_date,
        sex=wire.Sex(patient.sex) if patient.sex else None,
        curp=patient.curp,
        nss=patient.nss,
        agregado=patient.agregado,
        unit=unit_out(patient.unit),
        diagnosis=wire.PatientDiagnosis(
            code=diagnosis.cie10 or "",
            name=diagnosis.name,
            group=entry.group if entry else "",
            group_name=entry.group_name if entry else "",
            diagnosed_on=diagnosis.diagnosed_on,
        )
        if diagnosis
        else None,
        treating_oncologist=patient.treating_oncologist,
        blood_group=patient.blood_group,
        allergies=patient.allergies,
        central_venous_catheter=patient.central_venous_catheter,
        created_at=patient.created_at,
    )


def read(session: Session, *, principal: Principal, patient_id: str, ip: str | None) -> wire.PatientRecord:
    """The registry record (staff of the unit, admin); audited. Commits."""
    patient = visible_patient(session, principal=principal, patient_id=patient_id)
    if principal.role not in READERS:
        raise NotAllowed()
    out = record_out(session, patient)
    _audit(session, principal, "patient.record.read", patient.id, ip)
    session.commit()
    return out


def corrections(session: Session, *, principal: Principal, patient_id: str, ip: str | None) -> list[wire.Correction]:
    """The record's history, oldest first (staff of the unit, admin); audited. Commits."""
    patient = visible_patient(session, principal=principal, patient_id=patient_id)
    if principal.role not in READERS:
        raise NotAllowed()
    rows = session.scalars(
        select(PatientCorrection)
        .where(PatientCorrection.patient_id == patient.id)
        .order_by(PatientCorrection.changed_at, PatientCorrection.id)
    )
    out = [
        wire.Correction(
            id=r.id,
            kind=wire.CorrectionKind(r.kind),
            field=r.field,
            old_value=r.old_value,
            new_value=r.new_value,
            changed_by=r.changed_by_name,
            changed_by_role=r.changed_by_role,
            changed_at=r.changed_at,
        )
        for r in rows
    ]
    _audit(session, principal, "patient.corrections.read", patient.id, ip)
    session.commit()
    return out


def search(session: Session, *, principal: Principal, q: str, ip: str | None) -> list[wire.PatientRecord]:
    """Children of the caller's units (admin: all) by CURP (18 characters), NSS (11 digits) or name (every
    word, without accents or case); at most 50, by name. Audited without the query. Commits."""
    if principal.role not in READERS:
        raise NotAllowed()
    if wire.has_control_characters(q):
        raise Invalid("search_query_too_short")
    text = " ".join(q.split())
    compact = text.replace(" ", "").upper()
    query = select(Patient)
    if len(compact) == 18 and compact.isalnum() and not compact.isdigit():
        by = "curp"
        query = query.where(Patient.curp == compact)
    elif len(compact) == 11 and compact.isdigit():
        by = "nss"
        query = query.where(Patient.nss == compact)
    else:
        words = name_key(text).split()
        if not words or sum(len(w) for w in words) < 3:
            raise Invalid("search_query_too_short")
        by = "name"
        for word in words[:6]:
            pattern = f"%{word}%"
            query = query.where(or_(Patient.name_key.like(pattern), Patient.full_name.ilike(pattern)))
    if principal.role != Role.ADMIN:
        query = query.where(exists().where(UserUnit.unit_id == Patient.unit_id, UserUnit.user_id == principal.id))
    rows = list(session.scalars(query.order_by(Patient.full_name, Patient.id).limit(SEARCH_LIMIT)))
    out = [record_out(session, p) for p in rows]
    _audit(session, principal, "patient.search", "-", ip, by=by, results=len(out))
    session.commit()
    return out
