"""The families generator: units, guardians, children and everything a child has."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Table

from carnet_contract.models import (
    AppointmentKind,
    AppointmentSource,
    AppointmentStatus,
    BookingStatus,
    CycleStatus,
    IncidentStatus,
    MixingStatus,
    Role,
    SyncType,
    UnitLevel,
)
from carnet_server.agenda.tables import Appointment
from carnet_server.auth.tables import User
from carnet_server.blood_bank.tables import BloodBank, SlotTemplate
from carnet_server.chemotherapy.demo import demo_cycle_drugs
from carnet_server.context import Context
from carnet_server.incidents import deadlines
from carnet_server.incidents.tables import Incident, IncidentReply
from carnet_server.patients.tables import (
    Cycle,
    CycleDrug,
    Diagnosis,
    GuardianPatient,
    MedicalUnit,
    Patient,
    Protocol,
    UserUnit,
    nss_check_digit,
)
from carnet_server.privacy.notices import current_version
from carnet_server.privacy.tables import PrivacyAcceptance
from carnet_server.scale.catalogue import (
    ADULT_MEN,
    ADULT_WOMEN,
    ANSWERS,
    BANK_INSTRUCTIONS,
    BOYS,
    DAY_HOSPITAL,
    DISEASE_WEIGHTS,
    DISEASES,
    FAMILY_ERRANDS,
    GIRLS,
    IMAGING,
    INCIDENT_WEIGHTS,
    INCIDENTS,
    LAB,
    STATES,
    SURNAMES,
    Disease,
    local_time,
    make_curp,
    seeded_id,
)
from carnet_server.scale.writer import Writer

__all__ = [
    "BATCH_PATIENTS",
    "SCALE_PASSWORD",
    "Batch",
    "DatabaseNotEmpty",
    "GenerationReport",
    "Generator",
    "guardian_username",
]


SCALE_PASSWORD = "carnet-escala"
BATCH_PATIENTS = 2000


#: The structured dose's columns of a cycle drug (``patients.tables.CycleDrug``), as the demo computes them.
_DRUG_COLUMNS = (
    "name",
    "route",
    "position",
    "code",
    "amount",
    "dose_unit",
    "basis",
    "per_basis",
    "computed",
    "capped",
    "cap",
    "changed_reason",
    "family",
    "days",
    "home_schedule",
)


class DatabaseNotEmpty(Exception):
    """The database already has patients: generated data only goes into an empty one."""


def guardian_username(number: int) -> str:
    return f"tutor{number:06d}"


@dataclass
class GenerationReport:
    patients: int = 0
    guardians: int = 0
    units: int = 0
    cycles: int = 0
    cycle_drugs: int = 0
    appointments: int = 0
    bookings: int = 0
    incidents: int = 0
    replies: int = 0
    sync_rows: int = 0
    seconds: float = 0.0

    def lines(self) -> list[str]:
        return [
            f"{name}: {value:.1f}" if isinstance(value, float) else f"{name}: {value}"
            for name, value in vars(self).items()
        ]


# ---- the generator ---------------------------------------------------------------------------------------


@dataclass
class _Unit:
    id: str
    name: str
    state_code: str
    weight: float
    bank_id: str
    bank_name: str
    bank_address: str
    case_desk_id: str


@dataclass
class Batch:
    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    changes: list[tuple[str, str, str]] = field(default_factory=list)  # (type, record id, patient id)

    def add(self, table: Table, row: dict[str, Any]) -> None:
        self.tables.setdefault(table.name, []).append(row)

    def touch(self, sync_type: SyncType, record_id: str, patient_id: str) -> None:
        self.changes.append((sync_type.value, record_id, patient_id))


class Generator:
    def __init__(self, ctx: Context, *, patients: int, seed: int, today: date) -> None:
        self.rng = random.Random(seed)  # noqa: S311 — made-up test data, reproducible from the seed
        self.ctx = ctx
        self.tz = ctx.tz
        self.total = patients
        self.today = today
        self.now = local_time(today, 12, 0, self.tz)
        self.hours = deadlines.deadline_hours(ctx.settings.incident_deadline_hours)
        self.report = GenerationReport()
        self.curps: set[str] = set()
        self.guardian_number = 0
        self.slots: dict[tuple[str, datetime], dict[str, Any]] = {}
        self.bookings: list[dict[str, Any]] = []
        self.booking_changes: list[tuple[str, str, str]] = []
        self.booking_folios: dict[int, int] = {}
        self.incident_folios: dict[int, int] = {}
        from carnet_contract.eligibility import questions

        self.answers = {q.id: q.eligible_answer for q in questions()}
        # One argon2 hash for every generated account (argon2 is slow on purpose); its salt is seeded too.
        self.password_hash = ctx.hasher.hash(SCALE_PASSWORD, salt=self.rng.getrandbits(128).to_bytes(16, "big"))
        self.units: list[_Unit] = []
        # Generated guardians have accepted the privacy notice in force (else the API would serve them nothing).
        self.privacy_version = current_version(ctx.settings)

    # -- setup: units, their blood bank and case desk -------------------------------------------------

    def setup(self, writer: Writer) -> None:
        rng = self.rng
        count = max(4, min(80, self.total // 1500 + 4))
        unit_rows, bank_rows, template_rows, staff_rows, links = [], [], [], [], []
        for number in range(1, count + 1):
            state, code, cities = STATES[(number - 1) % len(STATES)]
            city = rng.choice(cities)
            umae = number <= len(STATES) or rng.random() < 0.2
            name = (
                f"UMAE Hospital de Pediatría No. {number} {city}"
                if umae
                else f"Hospital General de Zona No. {number} {city}"
            )
            unit = _Unit(
                id=seeded_id(rng),
                name=name,
                state_code=code,
                weight=5.0 if umae else 1.0,
                bank_id=seeded_id(rng),
                bank_name=f"Banco de Sangre, {name}",
                bank_address=f"Av. Principal {number * 10} s/n, {city}",
                case_desk_id=seeded_id(rng),
            )
            self.units.append(unit)
            unit_rows.append(
                {
                    "id": unit.id,
                    "name": name,
                    "level": (UnitLevel.UMAE if umae else UnitLevel.SEGUNDO_NIVEL).value,
                    "state": state,
                }
            )
            bank_rows.append(
                {
                    "id": unit.bank_id,
                    "unit_id": unit.id,
                    "name": unit.bank_name,
                    "address": unit.bank_address,
                    "phone": "800 623 2323",
                    "instructions": BANK_INSTRUCTIONS,
                }
            )
            for weekday in range(6):
                template_rows.append(
                    {
                        "id": seeded_id(rng),
                        "bank_id": unit.bank_id,
                        "weekday": weekday,
                        "start": time(7),
                        "end": time(9) if weekday == 5 else time(11),
                        "slot_minutes": 30,
                        "capacity": 4,
                        "active": True,
                    }
                )
            staff_rows.append(
                self._user(unit.case_desk_id, f"casos{number:03d}", Role.CASE_DESK, f"Módulo de atención {number}")
            )
            links.append({"user_id": unit.case_desk_id, "unit_id": unit.id})
        writer.write(MedicalUnit.__table__, unit_rows)
        writer.write(BloodBank.__table__, bank_rows)
        writer.write(SlotTemplate.__table__, template_rows)
        writer.write(User.__table__, staff_rows)
        writer.write(UserUnit.__table__, links)
        self.report.units = count
        self.unit_weights = [u.weight for u in self.units]

    def _user(self, user_id: str, username: str, role: Role, display_name: str) -> dict[str, Any]:
        guardian = role == Role.GUARDIAN
        return {
            "id": user_id,
            "username": username,
            "password_hash": self.password_hash,
            "role": role.value,
            "display_name": display_name,
            "active": True,
            "created_at": self.now - timedelta(days=200),
            "privacy_version": self.privacy_version if guardian else None,
            "privacy_accepted_at": self.now - timedelta(days=199) if guardian else None,
        }

    # -- families -----------------------------------------------------------------------------------------

    def family(self, batch: Batch, remaining: int) -> int:
        """One family: 1–2 guardians, 1–2 children (of the same unit). Returns the number of children."""
        rng = self.rng
        surname1, surname2 = rng.choice(SURNAMES), rng.choice(SURNAMES)
        unit = rng.choices(self.units, weights=self.unit_weights)[0]
        guardians = []
        for i in range(2 if rng.random() < 0.3 else 1):
            self.guardian_number += 1
            woman = i == 0 and rng.random() < 0.8
            first = rng.choice(ADULT_WOMEN if woman else ADULT_MEN)
            user_id = seeded_id(rng)
            batch.add(
                User.__table__,
                self._user(
                    user_id,
                    guardian_username(self.guardian_number),
                    Role.GUARDIAN,
                    f"{first} {surname2 if woman else surname1}",
                ),
            )
            batch.add(
                PrivacyAcceptance.__table__,
                {"user_id": user_id, "version": self.privacy_version, "accepted_at": self.now - timedelta(days=199)},
            )
            guardians.append(user_id)
        children = min(remaining, 2 if rng.random() < 0.12 else 1)
        for _ in range(children):
            patient_id = self.child(batch, unit, surname1, surname2, guardians)
            for guardian in guardians:
                batch.add(GuardianPatient.__table__, {"user_id": guardian, "patient_id": patient_id})
        self.report.guardians += len(guardians)
        return children

    def child(self, batch: Batch, unit: _Unit, surname1: str, surname2: str, guardians: list[str]) -> str:
        rng = self.rng
        girl = rng.random() < 0.47
        first = rng.choice(GIRLS if girl else BOYS)
        birth = self.today - timedelta(days=rng.randint(365, 17 * 365))
        state_code = unit.state_code if rng.random() < 0.85 else rng.choice(STATES)[1]
        while True:
            homoclave = rng.choice("ABCDEFGHIJKLMNPQRSTUVWXYZ") if birth.year >= 2000 else str(rng.randint(0, 9))
            curp = make_curp(first, surname1, surname2, birth, "M" if girl else "H", state_code, homoclave)
            if curp not in self.curps:
                self.curps.add(curp)
                break
            birth -= timedelta(days=1)
        nss10 = f"{rng.randint(1, 99):02d}{rng.randint(0, 99):02d}{birth:%y}{rng.randint(0, 9999):04d}"
        disease = rng.choices(DISEASES, weights=DISEASE_WEIGHTS)[0]
        diagnosed = self.today - timedelta(days=rng.randint(30, 330))
        patient_id = seeded_id(rng)
        batch.add(
            Patient.__table__,
            {
                "id": patient_id,
                "full_name": f"{first} {surname1} {surname2}",
                "display_name": f"{first} {surname1}",
                "nss": nss10 + nss_check_digit(nss10),
                "curp": curp,
                "birth_date": birth,
                "unit_id": unit.id,
                "created_at": local_time(diagnosed + timedelta(days=rng.randint(1, 10)), 9, 0, self.tz),
            },
        )
        batch.add(
            Diagnosis.__table__,
            {
                "id": seeded_id(rng),
                "patient_id": patient_id,
                "name": disease.name,
                "cie10": disease.cie10,
                "diagnosed_on": diagnosed,
            },
        )
        protocol_id = seeded_id(rng)
        batch.add(
            Protocol.__table__,
            {"id": protocol_id, "patient_id": patient_id, "name": disease.protocol, "description": disease.description},
        )
        self.report.patients += 1
        cycles = self.cycles(batch, patient_id, protocol_id, disease)
        self.appointments(batch, patient_id, unit, disease, cycles, guardians)
        if rng.random() < 0.12:
            for _ in range(rng.randint(1, 2)):
                self.booking(batch, patient_id, unit, guardians[0], surname1)
        if rng.random() < 0.08:
            for _ in range(1 if rng.random() < 0.8 else 2):
                self.incident(batch, patient_id, unit, guardians[0])
        return patient_id

    def cycles(self, batch: Batch, patient_id: str, protocol_id: str, disease: Disease) -> list[tuple[str, date, str]]:
        rng = self.rng
        count = rng.randint(4, 12)
        interval = rng.randint(*disease.interval_days)
        day = self.today - timedelta(days=rng.randint(0, (count - 1) * interval))
        age = rng.randint(1, 17)
        weight, height = float(2 * age + 8), float(6 * age + 77)  # the usual estimates for the age
        out = []
        for number in range(1, count + 1):
            offset = (day - self.today).days
            if offset < 0:
                deferred = rng.random() < 0.05
                status = CycleStatus.DIFERIDO if deferred else CycleStatus.APLICADO
                mixing = MixingStatus.NO_REQUERIDA if deferred else MixingStatus.ENTREGADA
            else:
                status = CycleStatus.PROGRAMADO
                mixing = MixingStatus.PENDIENTE
            cycle_id = seeded_id(rng)
            regimen = disease.regimens[(number - 1) % len(disease.regimens)]
            bsa, rows = demo_cycle_drugs(regimen, weight_kg=weight, height_cm=height)
            batch.add(
                Cycle.__table__,
                {
                    "id": cycle_id,
                    "patient_id": patient_id,
                    "protocol_id": protocol_id,
                    "number": number,
                    "scheduled_for": day,
                    "status": status.value,
                    "mixing_status": mixing.value,
                    "mixing_updated_at": local_time(day - timedelta(days=1), 18, 0, self.tz) if offset < 0 else None,
                    "confirmed_at": None,
                    "phase_number": number,
                    "phase_cycles": count,
                    "bsa_m2": float(bsa),
                    "weight_kg": weight,
                    "height_cm": height,
                    "sessions": day.isoformat(),
                    "version": 1,
                },
            )
            for row in rows:
                batch.add(
                    CycleDrug.__table__,
                    {"id": seeded_id(rng), "cycle_id": cycle_id, **{c: getattr(row, c) for c in _DRUG_COLUMNS}},
                )
                self.report.cycle_drugs += 1
            batch.touch(SyncType.CYCLE, cycle_id, patient_id)
            out.append((cycle_id, day, status.value))
            day += timedelta(days=interval + (7 if status == CycleStatus.DIFERIDO else 0))
        self.report.cycles += count
        return out

    def _status(self, day: date) -> AppointmentStatus:
        if day < self.today:
            return AppointmentStatus.CANCELADA if self.rng.random() < 0.04 else AppointmentStatus.REALIZADA
        return AppointmentStatus.CONFIRMADA if (day - self.today).days <= 7 else AppointmentStatus.PROGRAMADA

    def _appointment(
        self,
        batch: Batch,
        patient_id: str,
        *,
        kind: AppointmentKind,
        title: str,
        day: date,
        hour: int,
        minutes: int,
        place: str,
        unit_id: str | None,
        created_by: str | None,
        notes: str = "",
        status: AppointmentStatus | None = None,
        cycle_id: str | None = None,
        source: AppointmentSource = AppointmentSource.HOSPITAL,
        minute: int = 0,
    ) -> str:
        start = local_time(day, hour, minute, self.tz)
        created = min(self.now, start) - timedelta(days=self.rng.randint(1, 30))
        appointment_id = seeded_id(self.rng)
        batch.add(
            Appointment.__table__,
            {
                "id": appointment_id,
                "patient_id": patient_id,
                "kind": kind.value,
                "title": title[:120],
                "starts_at": start,
                "ends_at": start + timedelta(minutes=minutes),
                "unit_id": unit_id,
                "place": place[:200],
                "status": (status or self._status(day)).value,
                "notes": notes,
                "cycle_id": cycle_id,
                "source": source.value,
                "created_by": created_by,
                "revision": 0,
                "created_at": created,
                "updated_at": created,
            },
        )
        batch.touch(SyncType.APPOINTMENT, appointment_id, patient_id)
        self.report.appointments += 1
        return appointment_id

    def appointments(
        self,
        batch: Batch,
        patient_id: str,
        unit: _Unit,
        disease: Disease,
        cycles: list[tuple[str, date, str]],
        guardians: list[str],
    ) -> None:
        """A year around today: chemotherapy and the lab before it, monthly consultations, studies, errands."""
        rng = self.rng
        first, last = self.today - timedelta(days=182), self.today + timedelta(days=182)
        staff = unit.case_desk_id
        for cycle_id, day, status in cycles:
            if not first <= day <= last:
                continue
            deferred = status == CycleStatus.DIFERIDO.value
            number = cycles.index((cycle_id, day, status)) + 1
            self._appointment(
                batch,
                patient_id,
                kind=AppointmentKind.QUIMIOTERAPIA,
                title=f"Quimioterapia, ciclo {number}",
                day=day,
                hour=8,
                minutes=300,
                place=DAY_HOSPITAL,
                unit_id=unit.id,
                created_by=staff,
                cycle_id=cycle_id,
                status=AppointmentStatus.CANCELADA if deferred else None,
                notes="Llegar con los resultados de laboratorio y el carnet.",
            )
            self._appointment(
                batch,
                patient_id,
                kind=AppointmentKind.LABORATORIO,
                title="Biometría hemática y química sanguínea",
                day=day - timedelta(days=1),
                hour=7,
                minutes=30,
                place=LAB,
                unit_id=unit.id,
                created_by=staff,
                notes="Ayuno de 8 horas.",
            )
        day = first + timedelta(days=rng.randint(0, 27))
        room = rng.randint(1, 20)
        while day <= last:
            self._appointment(
                batch,
                patient_id,
                kind=AppointmentKind.CONSULTA,
                title="Consulta de Oncología pediátrica",
                day=day,
                hour=rng.randint(8, 13),
                minutes=30,
                place=f"Consulta externa, consultorio {room}",
                unit_id=unit.id,
                created_by=staff,
            )
            day += timedelta(days=28)
        for _ in range(rng.randint(1, 5)):
            study = rng.choice(disease.studies or ("Radiografía de tórax",))
            self._appointment(
                batch,
                patient_id,
                kind=AppointmentKind.ESTUDIO,
                title=study,
                day=first + timedelta(days=rng.randint(0, 364)),
                hour=rng.randint(8, 12),
                minutes=60,
                place=IMAGING,
                unit_id=unit.id,
                created_by=staff,
                notes="Ayuno de 6 horas.",
            )
        if rng.random() < 0.35:
            for _ in range(rng.randint(1, 3)):
                kind, title, place = rng.choice(FAMILY_ERRANDS)
                self._appointment(
                    batch,
                    patient_id,
                    kind=kind,
                    title=title,
                    day=first + timedelta(days=rng.randint(0, 364)),
                    hour=rng.randint(9, 18),
                    minutes=30,
                    place=place,
                    unit_id=None,
                    created_by=rng.choice(guardians),
                    source=AppointmentSource.FAMILIA,
                )

    def booking(self, batch: Batch, patient_id: str, unit: _Unit, guardian_id: str, surname: str) -> None:
        """A donor booking at the child's unit bank with its agenda appointment (the slot held if not cancelled)."""
        rng = self.rng
        while True:
            day = self.today + timedelta(days=rng.randint(-120, 45))
            if day.weekday() == 6 or day == self.today:
                continue
            minute = 30 * rng.randrange(4 if day.weekday() == 5 else 8)
            starts = local_time(day, 7 + minute // 60, minute % 60, self.tz)
            slot = self.slots.get((unit.bank_id, starts))
            if slot is None:
                slot = {
                    "id": seeded_id(rng),
                    "bank_id": unit.bank_id,
                    "starts_at": starts,
                    "ends_at": starts + timedelta(minutes=30),
                    "capacity": 4,
                    "booked": 0,
                    "closed": False,
                }
                self.slots[(unit.bank_id, starts)] = slot
            if slot["booked"] < slot["capacity"]:
                break
        past = day < self.today
        if past:
            status = BookingStatus.ASISTIO if rng.random() < 0.8 else BookingStatus.NO_ASISTIO
        else:
            status = BookingStatus.CONFIRMADA if rng.random() < 0.85 else BookingStatus.CANCELADA
        if status != BookingStatus.CANCELADA:
            slot["booked"] += 1
        created = min(self.now, starts) - timedelta(days=rng.randint(1, 20), hours=rng.randint(0, 10))
        year = created.astimezone(self.tz).year
        self.booking_folios[year] = self.booking_folios.get(year, 0) + 1
        folio = f"BS-{year}-{self.booking_folios[year]:06d}"
        donor_first = rng.choice(ADULT_WOMEN + ADULT_MEN)
        appointment_status = {
            BookingStatus.ASISTIO: AppointmentStatus.REALIZADA,
            BookingStatus.NO_ASISTIO: AppointmentStatus.REALIZADA,
            BookingStatus.CANCELADA: AppointmentStatus.CANCELADA,
        }.get(status, AppointmentStatus.CONFIRMADA)
        appointment_id = self._appointment(
            batch,
            patient_id,
            kind=AppointmentKind.BANCO_DE_SANGRE,
            title=f"Donación de sangre: {donor_first}",
            day=day,
            hour=7 + minute // 60,
            minute=minute % 60,
            minutes=30,
            place=f"{unit.bank_name}, {unit.bank_address}",
            unit_id=unit.id,
            created_by=guardian_id,
            notes=f"Folio {folio}. {BANK_INSTRUCTIONS}",
            status=appointment_status,
        )
        came = status == BookingStatus.ASISTIO
        booking_id = seeded_id(rng)
        self.bookings.append(
            {
                "id": booking_id,
                "folio": folio,
                "slot_id": slot["id"],
                "patient_id": patient_id,
                "guardian_id": guardian_id,
                "donor_full_name": f"{donor_first} {rng.choice(SURNAMES)} {surname}",
                "donor_phone": f"55 {rng.randint(1000, 9999)} {rng.randint(1000, 9999)}",
                "donor_birth_date": self.today - timedelta(days=rng.randint(19 * 365, 60 * 365)),
                "donor_weight_kg": float(rng.randint(55, 100)),
                "donor_sex": rng.choice(("mujer", "hombre")),
                "donor_last_donation_on": None,
                "answers": self.answers,
                "status": status.value,
                "checked_in_at": starts + timedelta(minutes=10) if came else None,
                "appointment_id": appointment_id,
                "created_at": created,
                "updated_at": starts + timedelta(minutes=10) if came else created,
            }
        )
        self.booking_changes.append((SyncType.BLOOD_BANK_BOOKING.value, booking_id, patient_id))
        self.report.bookings += 1

    def incident(self, batch: Batch, patient_id: str, unit: _Unit, guardian_id: str) -> None:
        rng = self.rng
        category, _w, items, template = rng.choices(INCIDENTS, weights=INCIDENT_WEIGHTS)[0]
        item = rng.choice(items) if items else None
        created = self.now - timedelta(hours=rng.randint(1, 24 * 150))
        year = created.astimezone(self.tz).year
        self.incident_folios[year] = self.incident_folios.get(year, 0) + 1
        incident_id = seeded_id(rng)
        row: dict[str, Any] = {
            "id": incident_id,
            "folio": f"CE-{year}-{self.incident_folios[year]:06d}",
            "patient_id": patient_id,
            "unit_id": unit.id,
            "reporter_id": guardian_id,
            "category": category,
            "description": template.format(item=(item or "").lower()),
            "item_name": item,
            "status": IncidentStatus.RECIBIDA.value,
            "created_at": created,
            "updated_at": created,
            "first_response_due_at": deadlines.due_at(created, category, self.hours),
            "first_response_at": None,
            "resolved_at": None,
        }
        age_hours = (self.now - created).total_seconds() / 3600
        replies: list[tuple[float, bool, int]] = []  # (hours after, staff, answer index)
        if age_hours > 6 and rng.random() < 0.85:
            first = rng.uniform(0.5, min(age_hours - 1, self.hours[category] * 1.5))
            replies.append((first, True, 0))
            if age_hours > first + 2 and rng.random() < 0.7:
                resolved = rng.uniform(first + 1, age_hours)
                replies.append((resolved, True, 1))
                if age_hours > resolved + 1 and rng.random() < 0.07:
                    replies.append((rng.uniform(resolved + 0.5, age_hours), False, 2))
        for position, (after, staff, answer) in enumerate(replies):
            at = created + timedelta(hours=after)
            resolves, reopens = answer == 1, answer == 2
            batch.add(
                IncidentReply.__table__,
                {
                    "id": seeded_id(rng),
                    "incident_id": incident_id,
                    "position": position,
                    "author_id": unit.case_desk_id if staff else guardian_id,
                    "author_role": (Role.CASE_DESK if staff else Role.GUARDIAN).value,
                    "message": ANSWERS[answer],
                    "resolves": resolves,
                    "reopens": reopens,
                    "created_at": at,
                },
            )
            if staff and row["first_response_at"] is None:
                row["first_response_at"] = at
            if reopens:
                row["status"], row["resolved_at"] = IncidentStatus.REABIERTA.value, None
            elif resolves:
                row["status"], row["resolved_at"] = IncidentStatus.ATENDIDA.value, at
            else:
                row["status"] = IncidentStatus.EN_ATENCION.value
            row["updated_at"] = at
            self.report.replies += 1
        batch.add(Incident.__table__, row)
        batch.touch(SyncType.INCIDENT, incident_id, patient_id)
        self.report.incidents += 1
