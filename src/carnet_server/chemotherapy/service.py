"""The chemotherapy plan (no HTTP here): the catalogue, writing a cycle from it, and a cycle's life.

    RegimenNotFound(NotFound)           404 protocol_not_found: no such regimen version
    CycleNotFound(NotFound)             404: unknown cycle, or one of a child the caller may not see
    PrescriptionInvalid(Invalid)        422: every problem of the prescription, each a reason naming its field
    MeasurementsUnconfirmed(Conflict)   409: the weight is old, or changed a lot since the last cycle: confirm
    CycleChanged(Conflict)              409: the cycle changed since the caller saw it (details: the current one)
    TransitionInvalid(Conflict)         409: that step does not follow from the cycle's status

Arithmetic is ``dosing``'s; this module keeps the records, the audit (before/after of every prescription
change) and the family's view in step: a cycle's sessions are hospital appointments on the agenda, and each
change reaches the phone at its next sync.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from carnet_contract import chemotherapy as chemo
from carnet_contract import models as contract
from carnet_contract.models import AppointmentStatus, CycleStatus, MixingStatus, Role
from carnet_server import audit
from carnet_server.agenda import service as agenda
from carnet_server.agenda.tables import Appointment
from carnet_server.auth.service import Principal
from carnet_server.chemotherapy import dosing
from carnet_server.chemotherapy.catalogue import ANTHRACYCLINE_FAMILY, load_example_catalogue
from carnet_server.chemotherapy.tables import BodyMeasurement, Regimen
from carnet_server.db import utcnow
from carnet_server.domain_errors import Conflict, Invalid, NotAllowed, NotFound, Reason
from carnet_server.patients.service import CycleNotFound, cycle_out, touch_cycle, visible_cycle, visible_patient
from carnet_server.patients.tables import Cycle, CycleDrug, Patient, Protocol

__all__ = [
    "CycleChanged",
    "CycleNotFound",
    "MeasurementsUnconfirmed",
    "Policy",
    "PrescriptionInvalid",
    "RegimenNotFound",
    "TransitionInvalid",
    "act_on_cycle",
    "catalogue",
    "load_regimen",
    "plan",
    "prescribe",
    "seed_example_catalogue",
]

#: The family's agenda shows sessions in the hospital's local time.
_TZ = ZoneInfo("America/Mexico_City")
_SESSION_START = time(8, 0)
_SESSION_HOURS = 6


class RegimenNotFound(NotFound):
    code = "protocol_not_found"


@dataclass(frozen=True)
class Problem:
    field: str
    message: str  # "Spanish / English"


def _reasons(problems: Sequence[Problem]) -> list[Reason]:
    out = []
    for p in problems:
        es, _, en = p.message.partition(" / ")
        out.append(Reason(p.field, {"es": es, "en": en or es}))
    return out


class PrescriptionInvalid(Invalid):
    code = "prescription_invalid"

    def __init__(self, problems: Sequence[Problem]) -> None:
        super().__init__()
        self.reasons = _reasons(problems)
        self.details = {"fields": list(dict.fromkeys(p.field for p in problems))}


class MeasurementsUnconfirmed(Conflict):
    code = "measurements_unconfirmed"

    def __init__(self, problems: Sequence[Problem], previous: chemo.Measurement | None) -> None:
        super().__init__()
        self.reasons = _reasons(problems)
        self.details = {"previous": previous.model_dump(mode="json") if previous else None}


class CycleChanged(Conflict):
    code = "cycle_changed"

    def __init__(self, current: contract.Cycle) -> None:
        super().__init__()
        self.details = {"cycle": current.model_dump(mode="json")}


class TransitionInvalid(Conflict):
    code = "cycle_transition_invalid"


@dataclass(frozen=True)
class Policy:
    """What the hospital set (server settings)."""

    anthracycline_warning_mg_m2: float
    measurement_max_age_days: int
    weight_change_percent: float


# ---- the catalogue ------------------------------------------------------------------------------


def _regimen_out(row: Regimen, *, current: bool) -> chemo.Regimen:
    phases = [chemo.RegimenPhase.model_validate(p) for p in json.loads(row.phases)]
    return chemo.Regimen(
        id=row.id,
        code=row.code,
        version=row.version,
        name=row.name,
        description=row.description,
        example=row.example,
        phases=phases,
        created_at=row.created_at,
        current=current,
    )


def _factors() -> dict[str, Decimal]:
    return load_example_catalogue()[1]


def catalogue(session: Session, *, policy: Policy, all_versions: bool = False) -> chemo.Catalogue:
    """The regimens (their newest versions; ``all_versions``: every one) and the anthracycline factors."""
    rows = list(session.scalars(select(Regimen).order_by(Regimen.code, Regimen.version.desc())))
    newest: dict[str, int] = {}
    for row in rows:
        newest.setdefault(row.code, row.version)
    regimens = [
        _regimen_out(row, current=newest[row.code] == row.version)
        for row in rows
        if all_versions or newest[row.code] == row.version
    ]
    return chemo.Catalogue(
        regimens=regimens,
        anthracycline_factors={code: float(f) for code, f in _factors().items()},
        anthracycline_warning_mg_m2=policy.anthracycline_warning_mg_m2,
    )


def load_regimen(
    session: Session, *, principal: Principal | None, data: chemo.RegimenIn, ip: str | None, commit: bool = True
) -> chemo.Regimen:
    """Add ``data`` as the next version of its code (cycles keep the version they were written from)."""
    factors = _factors()
    missing = [
        Problem("phases", f"{d.code} no tiene factor de equivalencia / {d.code} has no doxorubicin-equivalent factor")
        for p in data.phases
        for d in p.drugs
        if d.family == ANTHRACYCLINE_FAMILY and d.code not in factors
    ]
    if missing:
        raise PrescriptionInvalid(missing)
    last = session.scalar(select(func.max(Regimen.version)).where(Regimen.code == data.code)) or 0
    row = Regimen(
        code=data.code,
        version=last + 1,
        name=data.name,
        description=data.description,
        example=data.example,
        phases=json.dumps([p.model_dump(mode="json") for p in data.phases], ensure_ascii=False),
        created_by=principal.id if principal else None,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        action="regimen.load",
        actor_id=principal.id if principal else None,
        actor_role=principal.role if principal else None,
        object_type="regimen",
        object_id=row.id,
        ip=ip,
        detail={"code": row.code, "version": row.version},
    )
    if commit:
        session.commit()
    return _regimen_out(row, current=True)


def seed_example_catalogue(session: Session) -> None:
    """The example regimens, when the catalogue is empty (the demo; a new installation's first start)."""
    if session.scalar(select(func.count()).select_from(Regimen)):
        return
    for regimen in load_example_catalogue()[0]:
        load_regimen(session, principal=None, data=regimen, ip=None, commit=False)


# ---- the child's plan ---------------------------------------------------------------------------


def _measurement(row: BodyMeasurement) -> chemo.Measurement:
    return chemo.Measurement(measured_on=row.measured_on, weight_kg=row.weight_kg, height_cm=row.height_cm)


def _last_measurement(session: Session, patient_id: str) -> BodyMeasurement | None:
    return session.scalar(
        select(BodyMeasurement)
        .where(BodyMeasurement.patient_id == patient_id)
        .order_by(BodyMeasurement.measured_on.desc(), BodyMeasurement.recorded_at.desc())
        .limit(1)
    )


def _cycles(session: Session, patient_id: str) -> list[Cycle]:
    return list(session.scalars(select(Cycle).where(Cycle.patient_id == patient_id).order_by(Cycle.number)))


def _anthracycline_mg_m2(cycle: Cycle, drugs: Sequence[CycleDrug], factors: dict[str, Decimal]) -> Decimal:
    """A cycle's anthracyclines as mg/m² of doxorubicin equivalents (every day it is given counts)."""
    total = Decimal(0)
    for drug in drugs:
        factor = factors.get(drug.code or "")
        if drug.family != ANTHRACYCLINE_FAMILY or factor is None:
            continue
        times = max(1, len([d for d in drug.days.split(",") if d]))
        if drug.amount is not None and cycle.bsa_m2:
            per_dose = dosing.doxorubicin_equivalent_mg_m2(drug.amount, bsa_m2=cycle.bsa_m2, factor=factor)
        elif drug.basis == contract.DoseBasis.M2.value:  # migrated: only the per-m² figure is known
            per_dose = Decimal(str(drug.per_basis)) * factor
        else:
            continue
        total += per_dose * times
    return total


def _cumulative(
    cycles: Sequence[Cycle], factors: dict[str, Decimal], policy: Policy, new: Decimal | None = None
) -> list[chemo.CumulativeDose]:
    """The lifetime anthracycline total: every cycle not suspended, whatever protocol or version it came from."""
    before = sum(
        (_anthracycline_mg_m2(c, c.drugs, factors) for c in cycles if c.status != CycleStatus.SUSPENDIDO.value),
        Decimal(0),
    )
    this = new or Decimal(0)
    if not before and not this:
        return []
    after = before + this
    return [
        chemo.CumulativeDose(
            family=ANTHRACYCLINE_FAMILY,
            before=float(before),
            this_cycle=float(this),
            after=float(after),
            warning_at=policy.anthracycline_warning_mg_m2,
            over=after >= Decimal(str(policy.anthracycline_warning_mg_m2)),
        )
    ]


def plan(session: Session, *, principal: Principal, patient_id: str, policy: Policy) -> chemo.ChemotherapyPlan:
    patient = visible_patient(session, principal=principal, patient_id=patient_id)
    cycles = _cycles(session, patient.id)
    measurements = session.scalars(
        select(BodyMeasurement)
        .where(BodyMeasurement.patient_id == patient.id)
        .order_by(BodyMeasurement.measured_on.desc(), BodyMeasurement.recorded_at.desc())
    )
    return chemo.ChemotherapyPlan(
        patient_id=patient.id,
        cycles=[cycle_out(c) for c in cycles],
        measurements=[_measurement(m) for m in measurements],
        cumulative=_cumulative(cycles, _factors(), policy),
    )


# ---- writing a cycle ----------------------------------------------------------------------------


def _measurement_problems(
    data: chemo.CycleCreate, measured_on: date, previous: BodyMeasurement | None, today: date, policy: Policy
) -> list[Problem]:
    problems = []
    age = (today - measured_on).days
    if age > policy.measurement_max_age_days:
        problems.append(
            Problem(
                "measured_on",
                f"El peso es de hace {age} días (más de {policy.measurement_max_age_days}). / "
                f"The weight is {age} days old (more than {policy.measurement_max_age_days}).",
            )
        )
    if previous is not None and previous.weight_kg > 0:
        change = abs(data.weight_kg - previous.weight_kg) / previous.weight_kg * 100
        if change > policy.weight_change_percent:
            problems.append(
                Problem(
                    "weight_kg",
                    f"El peso cambió {change:.0f} % desde el último registro ({previous.weight_kg:g} kg). / "
                    f"The weight changed {change:.0f}% since the last record ({previous.weight_kg:g} kg).",
                )
            )
    return problems


def _phase(regimen: chemo.Regimen, code: str | None) -> chemo.RegimenPhase | None:
    if code is None:
        return regimen.phases[0]
    return next((p for p in regimen.phases if p.code == code), None)


def prescribe(
    session: Session,
    *,
    principal: Principal,
    patient_id: str,
    data: chemo.CycleCreate,
    policy: Policy,
    ip: str | None,
    today: date,
) -> chemo.PrescribedCycle:
    """Write the next cycle of ``data.phase`` for the child, doses computed from the regimen version. Commits
    (not on a dry run). Bad input changes nothing."""
    patient = visible_patient(session, principal=principal, patient_id=patient_id)
    row = session.get(Regimen, data.protocol_id)
    if row is None:
        raise RegimenNotFound()
    regimen = _regimen_out(row, current=True)
    problems: list[Problem] = []
    phase = _phase(regimen, data.phase)
    if phase is None:
        raise PrescriptionInvalid(
            [Problem("phase", "Esa fase no es del protocolo. / That phase is not in this protocol.")]
        )
    problems += [Problem(k, v) for k, v in dosing.measurement_errors(data.weight_kg, data.height_cm).items()]
    measured_on = data.measured_on or today
    if measured_on > today:
        problems.append(Problem("measured_on", "La fecha de medición es futura. / The measurement date is ahead."))
    if data.scheduled_for < today:
        problems.append(
            Problem("scheduled_for", "El ciclo no puede programarse en el pasado. / A cycle cannot be in the past.")
        )
    if problems:
        raise PrescriptionInvalid(problems)

    bsa = dosing.bsa_mosteller(data.weight_kg, data.height_cm)
    weight = Decimal(str(data.weight_kg))
    overrides = {o.drug: o for o in data.overrides}
    known = {d.code for d in phase.drugs}
    problems += [
        Problem("overrides", f"{code} no es de esta fase. / {code} is not in this phase.")
        for code in overrides
        if code not in known
    ]
    if len(overrides) != len(data.overrides):
        problems.append(Problem("overrides", "Un medicamento cambiado dos veces. / A drug changed twice."))
    doses: list[tuple[chemo.RegimenDrug, contract.Dose]] = []
    for drug in phase.drugs:
        computed = dosing.compute_dose(drug, bsa_m2=bsa, weight_kg=weight)
        if computed.computed <= 0:
            problems.append(
                Problem(
                    "overrides",
                    f"La dosis de {drug.name} se redondea a cero; escríbala a mano con el motivo. / "
                    f"The dose of {drug.name} rounds to zero; write it by hand with the reason.",
                )
            )
            continue
        override = overrides.get(drug.code)
        if override is not None:
            error = dosing.override_error(computed, override.amount)
            if error:
                problems.append(Problem("overrides", error))
                continue
        doses.append(
            (
                drug,
                dosing.dose_out(
                    drug,
                    computed,
                    amount=override.amount if override else None,
                    reason=override.reason if override else None,
                ),
            )
        )
    cycles = _cycles(session, patient.id)
    same_phase = [
        c
        for c in cycles
        if c.phase_code == phase.code
        and c.status != CycleStatus.SUSPENDIDO.value
        and c.regimen_id is not None
        and _regimen_code(session, c.regimen_id) == regimen.code
    ]
    if len(same_phase) >= phase.cycles:
        problems.append(
            Problem(
                "phase",
                f"La fase {phase.name} ya tiene sus {phase.cycles} ciclos. / "
                f"The phase {phase.name} already has its {phase.cycles} cycles.",
            )
        )
    if problems:
        raise PrescriptionInvalid(problems)

    previous = _last_measurement(session, patient.id)
    if not data.confirm_measurements and not data.dry_run:  # a dry run shows the doses; writing asks
        unconfirmed = _measurement_problems(data, measured_on, previous, today, policy)
        if unconfirmed:
            raise MeasurementsUnconfirmed(unconfirmed, _measurement(previous) if previous else None)

    factors = _factors()
    sessions = dosing.sessions(phase, data.scheduled_for) or [data.scheduled_for]
    drug_rows = [
        CycleDrug(
            name=drug.name,
            route=drug.route.value,
            position=i,
            code=drug.code,
            amount=dose.amount,
            dose_unit=dose.unit,
            basis=dose.basis.value,
            per_basis=dose.per_basis,
            computed=dose.computed,
            capped=dose.capped,
            cap=dose.cap,
            changed_reason=dose.changed_reason,
            family=drug.family,
            days=",".join(str(d) for d in drug.days),
            home_schedule=drug.home_schedule.value if drug.home_schedule else None,
        )
        for i, (drug, dose) in enumerate(doses)
    ]
    needs_mixture = any(d.home_schedule is None and d.route != chemo.Route.VO for d, _ in doses)
    cycle = Cycle(
        patient_id=patient.id,
        number=max((c.number for c in cycles), default=0) + 1,
        scheduled_for=data.scheduled_for,
        status=CycleStatus.PROGRAMADO.value,
        mixing_status=(MixingStatus.PENDIENTE if needs_mixture else MixingStatus.NO_REQUERIDA).value,
        regimen_id=row.id,
        phase=phase.name,
        phase_code=phase.code,
        phase_number=len(same_phase) + 1,
        phase_cycles=phase.cycles,
        bsa_m2=float(bsa),
        weight_kg=data.weight_kg,
        height_cm=data.height_cm,
        sessions=",".join(d.isoformat() for d in sessions),
        version=1,
        prescribed_by=principal.id,
    )
    cycle.drugs = drug_rows
    this_cycle = _anthracycline_mg_m2(cycle, drug_rows, factors)
    previous_out = _measurement(previous) if previous else None
    if data.dry_run:
        return _prescribed(cycle, patient, regimen, cycles, factors, policy, this_cycle, previous_out, saved=False)

    cycle.protocol_id = _protocol_row(session, patient, regimen).id
    session.add(cycle)
    session.add(
        BodyMeasurement(
            patient_id=patient.id,
            measured_on=measured_on,
            weight_kg=data.weight_kg,
            height_cm=data.height_cm,
            recorded_by=principal.id,
        )
    )
    session.flush()
    _schedule_sessions(session, cycle, patient, principal)
    audit.record(
        session,
        action="cycle.prescribe",
        actor_id=principal.id,
        actor_role=principal.role,
        object_type="cycle",
        object_id=cycle.id,
        ip=ip,
        detail={
            "patient_id": patient.id,
            "regimen": f"{regimen.code}@{regimen.version}",
            "phase": phase.code,
            "before": None,
            "after": _snapshot(cycle),
        },
    )
    touch_cycle(session, cycle)
    session.commit()
    session.refresh(cycle)
    return _prescribed(cycle, patient, regimen, cycles, factors, policy, this_cycle, previous_out, saved=True)


def _regimen_code(session: Session, regimen_id: str) -> str | None:
    row = session.get(Regimen, regimen_id)
    return row.code if row else None


def _prescribed(
    cycle: Cycle,
    patient: Patient,
    regimen: chemo.Regimen,
    cycles: Sequence[Cycle],
    factors: dict[str, Decimal],
    policy: Policy,
    this_cycle: Decimal,
    previous: chemo.Measurement | None,
    *,
    saved: bool,
) -> chemo.PrescribedCycle:
    if not saved:
        cycle.id = ""
        cycle.mixing_updated_at = None
        cycle.confirmed_at = None
    out = cycle_out(cycle)
    return chemo.PrescribedCycle(
        **{**out.model_dump(), "protocol": out.protocol or regimen.name},
        patient_id=patient.id,
        protocol_id=regimen.id,
        protocol_name=regimen.name,
        protocol_version=regimen.version,
        example=regimen.example,
        cumulative=_cumulative(cycles, factors, policy, this_cycle),
        previous=previous,
        saved=saved,
    )


def _protocol_row(session: Session, patient: Patient, regimen: chemo.Regimen) -> Protocol:
    """The child's protocol label on the carnet (one per regimen name)."""
    row = session.scalar(select(Protocol).where(Protocol.patient_id == patient.id, Protocol.name == regimen.name))
    if row is None:
        row = Protocol(patient_id=patient.id, name=regimen.name, description=regimen.description)
        session.add(row)
        session.flush()
    return row


def _snapshot(cycle: Cycle) -> dict[str, Any]:
    """What the audit keeps of a cycle (no personal data: ids, dates, doses)."""
    return {
        "status": cycle.status,
        "scheduled_for": cycle.scheduled_for.isoformat(),
        "version": cycle.version,
        "bsa_m2": cycle.bsa_m2,
        "doses": [
            {
                "drug": d.code or d.name,
                "amount": d.amount,
                "unit": d.dose_unit,
                "computed": d.computed,
                "changed": d.changed_reason is not None,
            }
            for d in cycle.drugs
        ],
    }


# ---- the agenda ----------------------------------------------------------------------------------


def _session_times(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, _SESSION_START, tzinfo=_TZ)
    return start, start + timedelta(hours=_SESSION_HOURS)


def _schedule_sessions(session: Session, cycle: Cycle, patient: Patient, principal: Principal) -> None:
    """The cycle's hospital sessions as appointments on the family's agenda (the hospital's, not editable)."""
    days = [date.fromisoformat(d) for d in cycle.sessions.split(",") if d]
    now = utcnow()
    for index, day in enumerate(days, start=1):
        starts, ends = _session_times(day)
        title = f"Quimioterapia, ciclo {cycle.number}" + (f" (sesión {index} de {len(days)})" if len(days) > 1 else "")
        agenda.add_linked(
            session,
            patient_id=patient.id,
            kind=contract.AppointmentKind.QUIMIOTERAPIA,
            title=title,
            starts_at=starts,
            ends_at=ends,
            unit_id=patient.unit_id,
            place="",
            notes="",
            status=AppointmentStatus.PROGRAMADA,
            created_by=principal.id,
            now=now,
            cycle_id=cycle.id,
        )


def _move_sessions(session: Session, cycle: Cycle, shift: timedelta, *, cancel: bool) -> None:
    """Deferral moves the cycle's sessions not yet held (programada, confirmada, reprogramada) by ``shift``,
    saying the old date; suspension cancels them."""
    now = utcnow()
    for row in session.execute(
        select(Appointment.id, Appointment.starts_at, Appointment.ends_at, Appointment.status).where(
            Appointment.cycle_id == cycle.id
        )
    ):
        if row.status not in (
            AppointmentStatus.PROGRAMADA.value,
            AppointmentStatus.REPROGRAMADA.value,
            AppointmentStatus.CONFIRMADA.value,
        ):
            continue
        if cancel:
            agenda.change_linked(session, appointment_id=row.id, now=now, status=AppointmentStatus.CANCELADA)
            continue
        was = row.starts_at.astimezone(_TZ).strftime("%d/%m/%Y")
        agenda.change_linked(
            session,
            appointment_id=row.id,
            now=now,
            starts_at=row.starts_at + shift,
            ends_at=row.ends_at + shift,
            status=AppointmentStatus.REPROGRAMADA,
            notes=f"Cambió de fecha: antes era el {was}. / Date changed: it was {was}.",
        )


# ---- a cycle's life ------------------------------------------------------------------------------

_ALLOWED: dict[chemo.CycleActionKind, frozenset[str]] = {
    chemo.CycleActionKind.CONFIRM: frozenset({CycleStatus.PROGRAMADO.value, CycleStatus.DIFERIDO.value}),
    chemo.CycleActionKind.APPLY: frozenset(
        {CycleStatus.PROGRAMADO.value, CycleStatus.CONFIRMADO.value, CycleStatus.DIFERIDO.value}
    ),
    chemo.CycleActionKind.DEFER: frozenset(
        {CycleStatus.PROGRAMADO.value, CycleStatus.CONFIRMADO.value, CycleStatus.DIFERIDO.value}
    ),
    chemo.CycleActionKind.SUSPEND: frozenset(
        {CycleStatus.PROGRAMADO.value, CycleStatus.CONFIRMADO.value, CycleStatus.DIFERIDO.value}
    ),
}
#: Who may take each step (pharmacy confirms, as it always has; the oncology team does all).
_ROLES: dict[chemo.CycleActionKind, frozenset[str]] = {
    chemo.CycleActionKind.CONFIRM: frozenset({Role.PHARMACY.value, Role.ONCOLOGY.value, Role.ADMIN.value}),
    chemo.CycleActionKind.APPLY: frozenset({Role.ONCOLOGY.value, Role.ADMIN.value}),
    chemo.CycleActionKind.DEFER: frozenset({Role.ONCOLOGY.value, Role.ADMIN.value}),
    chemo.CycleActionKind.SUSPEND: frozenset({Role.ONCOLOGY.value, Role.ADMIN.value}),
}


def check_step(cycle: Cycle, data: chemo.CycleAction, *, principal: Principal, today: date) -> None:
    """Refuse a step on a version the caller did not see, one the status does not allow, or a bad new date."""
    if principal.role not in _ROLES[data.action]:
        raise NotAllowed()
    if data.version != cycle.version:
        raise CycleChanged(cycle_out(cycle))
    if cycle.status not in _ALLOWED[data.action]:
        raise TransitionInvalid(status=cycle.status, action=data.action.value)
    late = data.new_date is not None and (data.new_date <= cycle.scheduled_for or data.new_date < today)
    if data.action is chemo.CycleActionKind.DEFER and late:
        raise PrescriptionInvalid(
            [Problem("new_date", "La nueva fecha debe ser posterior. / The new date must be later.")]
        )


def act_on_cycle(
    session: Session, *, principal: Principal, cycle_id: str, data: chemo.CycleAction, ip: str | None, today: date
) -> Cycle:
    """Apply, defer or suspend a cycle (confirming is ``mixing.service.confirm_cycle``'s, which orders the
    mixture). The version decides between two people: the conditional UPDATE lets one through, the other
    gets :class:`CycleChanged` with the cycle as it is now. Commits."""
    cycle, patient = visible_cycle(session, principal=principal, cycle_id=cycle_id)
    check_step(cycle, data, principal=principal, today=today)
    before = _snapshot(cycle)
    values: dict[str, Any] = {"version": cycle.version + 1}
    shift = timedelta(0)
    if data.action is chemo.CycleActionKind.APPLY:
        values["status"] = CycleStatus.APLICADO.value
    elif data.action is chemo.CycleActionKind.DEFER:
        assert data.new_date is not None and data.reason is not None
        shift = data.new_date - cycle.scheduled_for
        sessions = [date.fromisoformat(d) + shift for d in cycle.sessions.split(",") if d]
        values |= {
            "status": CycleStatus.DIFERIDO.value,
            "deferred_reason": data.reason,
            "previous_date": cycle.scheduled_for,
            "scheduled_for": data.new_date,
            "sessions": ",".join(d.isoformat() for d in sessions),
        }
    elif data.action is chemo.CycleActionKind.SUSPEND:
        values |= {"status": CycleStatus.SUSPENDIDO.value, "suspended_reason": data.reason}
    won = session.execute(
        update(Cycle)
        .where(Cycle.id == cycle.id, Cycle.version == data.version)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if getattr(won, "rowcount", 0) != 1:
        session.rollback()
        session.refresh(cycle)
        raise CycleChanged(cycle_out(cycle))
    session.refresh(cycle)
    if data.action is chemo.CycleActionKind.DEFER:
        _move_sessions(session, cycle, shift, cancel=False)
    elif data.action is chemo.CycleActionKind.SUSPEND:
        _move_sessions(session, cycle, shift, cancel=True)
    audit.record(
        session,
        action=f"cycle.{data.action.value}",
        actor_id=principal.id,
        actor_role=principal.role,
        object_type="cycle",
        object_id=cycle.id,
        ip=ip,
        detail={"patient_id": patient.id, "before": before, "after": _snapshot(cycle)},
    )
    touch_cycle(session, cycle)
    session.commit()
    session.refresh(cycle)
    return cycle
