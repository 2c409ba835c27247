"""Demo data: four IMSS units, five children with real paediatric protocols, a
year of appointments (agenda/demo.py), a blood bank per unit with weekly
openings and two donor bookings (blood_bank/demo.py), five case-desk incidents
(incidents/demo.py), one confirmed cycle with its mixing order queued
(mixing/demo.py), and guardian and staff accounts (password ``carnet-demo``;
banco.demo runs the Siglo XXI bank, oncologia.demo registers children there). The guardians have
accepted the privacy notice in force. One more guardian of Camila Torres has no account yet: her
activation code (``DEMO_ACTIVATION``) is printed at start, so a newcomer can try the family's way in.

Cycle dates are relative to today, so the next cycle is always ahead. Names,
NSS and CURP are invented; NSS and CURP carry valid check digits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from carnet_contract.models import CycleStatus, MixingStatus, Role, UnitLevel
from carnet_server.agenda.demo import seed_appointments
from carnet_server.auth.service import create_user
from carnet_server.auth.tables import User
from carnet_server.blood_bank.demo import seed_blood_banks
from carnet_server.chemotherapy.demo import demo_cycle_drugs, demo_measurements
from carnet_server.chemotherapy.service import seed_example_catalogue
from carnet_server.context import Context
from carnet_server.db import utcnow
from carnet_server.enrolment.identity import name_key
from carnet_server.enrolment.invitations import issue
from carnet_server.fever.demo import CLINICAL, seed_unit_emergency
from carnet_server.incidents.demo import seed_incidents
from carnet_server.mixing.demo import seed_confirmed_cycle
from carnet_server.patients.tables import (
    Cycle,
    Diagnosis,
    GuardianPatient,
    MedicalUnit,
    Patient,
    Protocol,
    UserUnit,
    curp_check_digit,
    nss_check_digit,
)
from carnet_server.privacy.notices import current_version
from carnet_server.privacy.service import record_acceptance

__all__ = [
    "DEMO_ACTIVATION",
    "DEMO_PASSWORD",
    "DEMO_USERS",
    "DatabaseNotEmpty",
    "curp_check_digit",
    "nss_check_digit",
    "seed",
]

DEMO_PASSWORD = "carnet-demo"


@dataclass(frozen=True)
class DemoActivation:
    """A guardian without an account yet, and the activation code the hospital gave her (printed by
    ``carnet-server --demo``; valid ``activation_code_hours`` from seeding, like any code)."""

    code: str
    child: str  # display name
    full_name: str
    relationship: str
    phone: str


DEMO_ACTIVATION = DemoActivation("FAM7Y-23HXQ", "Camila Torres", "Ana Méndez Ruiz", "madre", "5512345678")


class DatabaseNotEmpty(Exception):
    """The database already has users: demo data only goes into an empty one."""


def _nss(first10: str) -> str:
    return first10 + nss_check_digit(first10)


def _curp(first17: str) -> str:
    return first17 + curp_check_digit(first17)


@dataclass(frozen=True)
class DemoUser:
    username: str
    role: Role
    display_name: str


DEMO_USERS = (
    DemoUser("madre.demo", Role.GUARDIAN, "Mariana López"),
    DemoUser("padre.demo", Role.GUARDIAN, "Jorge Ramírez"),
    DemoUser("farmacia.demo", Role.PHARMACY, "Q.F.B. Laura Méndez"),
    DemoUser("banco.demo", Role.BLOOD_BANK, "Dr. Arturo Salinas"),
    DemoUser("casos.demo", Role.CASE_DESK, "Lic. Patricia Núñez"),
    DemoUser("oncologia.demo", Role.ONCOLOGY, "Dra. Elena Villaseñor"),
    DemoUser("admin.demo", Role.ADMIN, "Administración Carnet"),
)
# Guardians of the other two children: real accounts in the demo, not advertised.
_OTHER_GUARDIANS = (
    DemoUser("rosa.soto", Role.GUARDIAN, "Rosa Soto"),
    DemoUser("luis.torres", Role.GUARDIAN, "Luis Torres"),
)

_UNITS = {
    "sxxi": ("UMAE Hospital de Pediatría CMN Siglo XXI", UnitLevel.UMAE, "Ciudad de México"),
    "raza": ("Hospital General CMN La Raza", UnitLevel.UMAE, "Ciudad de México"),
    "leon": ("UMAE Hospital de Gineco-Pediatría No. 48 León", UnitLevel.UMAE, "Guanajuato"),
    "obregon": ("HGR No. 1 Cd. Obregón", UnitLevel.SEGUNDO_NIVEL, "Sonora"),
}
_STAFF_UNITS = {
    "farmacia.demo": ("sxxi", "raza"),
    "banco.demo": ("sxxi",),
    "casos.demo": ("sxxi", "raza"),
    "oncologia.demo": ("sxxi",),
}

# (name, dose, unit, route)
Drug = tuple[str, str, str, str]
# (day offset from today, status, mixing status, drugs)
CyclePlan = tuple[int, CycleStatus, MixingStatus, tuple[Drug, ...]]

_P, _A, _D = CycleStatus.PROGRAMADO, CycleStatus.APLICADO, CycleStatus.DIFERIDO
_M = MixingStatus

_LLA = (
    ("Vincristina", "1.5", "mg/m²", "IV"),
    ("Metotrexato (dosis altas, infusión 24 h)", "2000", "mg/m²", "IV"),
    ("Leucovorina (rescate)", "15", "mg/m²", "IV"),
    ("Metotrexato intratecal", "12", "mg", "IT"),
    ("Citarabina intratecal", "30", "mg", "IT"),
    ("Mercaptopurina", "50", "mg/m²/día", "VO"),
)
_WILMS_FULL = (("Vincristina", "0.05", "mg/kg", "IV"), ("Dactinomicina", "0.045", "mg/kg", "IV"))
_WILMS_VCR = (("Vincristina", "0.05", "mg/kg", "IV"),)
_ABVD = (
    ("Doxorrubicina", "25", "mg/m²", "IV"),
    ("Bleomicina", "10", "U/m²", "IV"),
    ("Vinblastina", "6", "mg/m²", "IV"),
    ("Dacarbazina", "375", "mg/m²", "IV"),
)
_NB_CE = (("Carboplatino", "560", "mg/m²", "IV"), ("Etopósido", "120", "mg/m²/día × 3 días", "IV"))
_NB_CD = (
    ("Ciclofosfamida", "1000", "mg/m²", "IV"),
    ("Doxorrubicina", "30", "mg/m²", "IV"),
    ("Mesna", "1000", "mg/m²", "IV"),
)
_MAP_AP = (("Cisplatino", "60", "mg/m²/día × 2 días", "IV"), ("Doxorrubicina", "37.5", "mg/m²/día × 2 días", "IV"))
_MAP_M = (("Metotrexato (dosis altas)", "12", "g/m²", "IV"), ("Leucovorina (rescate)", "15", "mg", "IV"))


@dataclass(frozen=True)
class DemoChild:
    full_name: str
    display_name: str
    nss: str
    curp: str
    birth_date: date
    unit: str
    guardian: str
    diagnosis: tuple[str, str, int]  # name, CIE-10, days ago
    protocol: tuple[str, str]
    cycles: tuple[CyclePlan, ...]


CHILDREN = (
    DemoChild(
        "Mateo Hernández López",
        "Mateo Hernández",
        _nss("3919194521"),
        _curp("HELM190314HDFRPTA"),
        date(2019, 3, 14),
        "sxxi",
        "madre.demo",
        ("Leucemia linfoblástica aguda de precursores B, riesgo estándar", "C91.0", 150),
        (
            "LLA riesgo estándar — consolidación",
            "Consolidación con metotrexato en dosis altas y rescate con leucovorina, vincristina, "
            "terapia intratecal y mercaptopurina oral diaria.",
        ),
        (
            (-42, _A, _M.ENTREGADA, _LLA),
            (-28, _A, _M.ENTREGADA, _LLA),
            (-14, _A, _M.ENTREGADA, _LLA),
            (3, _P, _M.EN_PREPARACION, _LLA),
            (17, _P, _M.SOLICITADA, _LLA),
            (31, _P, _M.PENDIENTE, _LLA),
        ),
    ),
    DemoChild(
        "Valentina Hernández López",
        "Valentina Hernández",
        _nss("3921210388"),
        _curp("HELV210822MDFRPLB"),
        date(2021, 8, 22),
        "raza",
        "madre.demo",
        ("Tumor de Wilms (nefroblastoma) del riñón izquierdo, estadio II", "C64", 60),
        (
            "Wilms estadio I–II — régimen EE-4A",
            "Vincristina semanal y dactinomicina cada 3 semanas tras la nefrectomía (18 semanas).",
        ),
        (
            (-21, _A, _M.ENTREGADA, _WILMS_FULL),
            (-14, _A, _M.ENTREGADA, _WILMS_VCR),
            (-7, _A, _M.ENTREGADA, _WILMS_VCR),
            (7, _P, _M.PENDIENTE, _WILMS_FULL),
            (14, _P, _M.PENDIENTE, _WILMS_VCR),
        ),
    ),
    DemoChild(
        "Santiago Ramírez Cruz",
        "Santiago Ramírez",
        _nss("1612120745"),
        _curp("RACS120509HGTMRNA"),
        date(2012, 5, 9),
        "leon",
        "padre.demo",
        ("Linfoma de Hodgkin clásico, esclerosis nodular, estadio IIA", "C81.1", 90),
        ("ABVD", "Doxorrubicina, bleomicina, vinblastina y dacarbazina los días 1 y 15 de cada ciclo de 28 días."),
        (
            (-56, _A, _M.ENTREGADA, _ABVD),
            (-42, _A, _M.ENTREGADA, _ABVD),
            (-28, _D, _M.NO_REQUERIDA, _ABVD),
            (-21, _A, _M.ENTREGADA, _ABVD),
            (2, _P, _M.LISTA, _ABVD),
            (16, _P, _M.PENDIENTE, _ABVD),
        ),
    ),
    DemoChild(
        "Emiliano Valenzuela Soto",
        "Emiliano Valenzuela",
        _nss("2622220913"),
        _curp("VASE221103HSRLTMA"),
        date(2022, 11, 3),
        "obregon",
        "rosa.soto",
        ("Neuroblastoma suprarrenal, riesgo intermedio", "C74.9", 70),
        (
            "Neuroblastoma riesgo intermedio",
            "Carboplatino/etopósido alternando con ciclofosfamida/doxorrubicina cada 21 días.",
        ),
        (
            (-42, _A, _M.ENTREGADA, _NB_CE),
            (-21, _A, _M.ENTREGADA, _NB_CD),
            (5, _P, _M.SOLICITADA, _NB_CE),
            (26, _P, _M.PENDIENTE, _NB_CD),
        ),
    ),
    DemoChild(
        "Camila Torres Méndez",
        "Camila Torres",
        _nss("3911110562"),
        _curp("TOMC110217MDFRNMA"),
        date(2011, 2, 17),
        "sxxi",
        "luis.torres",
        ("Osteosarcoma de fémur distal derecho", "C40.2", 80),
        ("MAP — neoadyuvancia", "Metotrexato en dosis altas, doxorrubicina y cisplatino antes de la cirugía."),
        (
            (-35, _A, _M.ENTREGADA, _MAP_AP),
            (-14, _A, _M.ENTREGADA, _MAP_M),
            (4, _P, _M.EN_PREPARACION, _MAP_M),
            (21, _P, _M.PENDIENTE, _MAP_AP),
        ),
    ),
)


# Cycles confirmed at seeding (display name, cycle number): their mixing order waits in the queue, so
# the demo's simulated provider receives it at start (mixing/demo.py).
CONFIRMED_CYCLES = frozenset({("Valentina Hernández", 4)})


def seed(session: Session, *, ctx: Context, today: date | None = None, now: datetime | None = None) -> None:
    """Fill an empty database with the demo data. Commits."""
    if session.scalar(select(func.count()).select_from(User)):
        raise DatabaseNotEmpty()
    now = now or utcnow()
    today = today or ctx.today(now)
    units = {}
    for key, (name, level, state) in _UNITS.items():
        units[key] = MedicalUnit(name=name, level=level.value, state=state)
        session.add(units[key])
    seed_unit_emergency(units)
    users = {
        u.username: create_user(
            session,
            ctx=ctx,
            username=u.username,
            password=DEMO_PASSWORD,
            role=u.role.value,
            display_name=u.display_name,
        )
        for u in DEMO_USERS + _OTHER_GUARDIANS
    }
    notice = current_version(ctx.settings)
    for user in users.values():
        if user.role == Role.GUARDIAN:
            record_acceptance(session, user=user, version=notice, now=now)
    session.flush()
    for username, unit_keys in _STAFF_UNITS.items():
        for key in unit_keys:
            session.add(UserUnit(user_id=users[username].id, unit_id=units[key].id))
    linked: dict[str, tuple[str, str, str]] = {}
    for child in CHILDREN:
        given, paternal, maternal = child.full_name.split(" ")
        patient = Patient(
            full_name=child.full_name,
            display_name=child.display_name,
            given_names=given,
            paternal_surname=paternal,
            maternal_surname=maternal,
            sex="mujer" if child.curp[10] == "M" else "hombre",
            name_key=name_key(paternal, maternal, given),
            nss=child.nss,
            curp=child.curp,
            birth_date=child.birth_date,
            unit_id=units[child.unit].id,
            created_at=now - timedelta(days=max(child.diagnosis[2] - 7, 1)),
        )
        if child.display_name in CLINICAL:
            blood, allergies, catheter, oncologist = CLINICAL[child.display_name]
            patient.blood_group, patient.allergies = blood, allergies
            patient.central_venous_catheter, patient.treating_oncologist = catheter, oncologist
        session.add(patient)
        session.flush()
        session.add(GuardianPatient(user_id=users[child.guardian].id, patient_id=patient.id))
        linked[child.display_name] = (patient.id, patient.unit_id, users[child.guardian].id)
        name, cie10, days_ago = child.diagnosis
        session.add(
            Diagnosis(patient_id=patient.id, name=name, cie10=cie10, diagnosed_on=today - timedelta(days=days_ago))
        )
        protocol = Protocol(patient_id=patient.id, name=child.protocol[0], description=child.protocol[1])
        session.add(protocol)
        session.flush()
        weight, height = demo_measurements(child.birth_date, today)
        for number, (offset, status, mixing, drugs) in enumerate(child.cycles, start=1):
            day = today + timedelta(days=offset)
            bsa, drug_rows = demo_cycle_drugs(drugs, weight_kg=weight, height_cm=height)
            cycle = Cycle(
                patient_id=patient.id,
                protocol_id=protocol.id,
                number=number,
                scheduled_for=day,
                status=status.value,
                mixing_status=mixing.value,
                mixing_updated_at=now - timedelta(days=max(0, -offset) + 2),
                phase_number=number,
                phase_cycles=len(child.cycles),
                bsa_m2=float(bsa),
                weight_kg=weight,
                height_cm=height,
                sessions=day.isoformat(),
            )
            cycle.drugs = drug_rows
            session.add(cycle)
            if (child.display_name, number) in CONFIRMED_CYCLES:
                seed_confirmed_cycle(
                    session, cycle=cycle, patient=patient, provider=ctx.settings.mixing_provider_name, now=now
                )
    session.flush()
    seed_example_catalogue(session)
    issue(
        session,
        ctx=ctx,
        patient_id=linked[DEMO_ACTIVATION.child][0],
        full_name=DEMO_ACTIVATION.full_name,
        relationship=DEMO_ACTIVATION.relationship,
        phone=DEMO_ACTIVATION.phone,
        created_by_id=users["oncologia.demo"].id,
        now=now,
        code=DEMO_ACTIVATION.code,
    )
    seed_appointments(session, patients=linked, staff_id=users["casos.demo"].id, today=today, tz=ctx.tz, now=now)
    seed_blood_banks(session, units=units, patients=linked, today=today, tz=ctx.tz, now=now)
    seed_incidents(session, patients=linked, staff_id=users["casos.demo"].id, tz=ctx.tz, now=now)
    session.commit()
