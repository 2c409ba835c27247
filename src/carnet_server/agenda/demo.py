"""Demo appointments: about six months back and six ahead for each demo child.

Chemotherapy sessions on the cycle dates, a blood count and chemistry panel the
day before each cycle, monthly oncology or haematology consultations, the
studies each diagnosis needs, social-work errands and a few family reminders.
Times are local (America/Mexico_City) and stored as UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from carnet_contract.models import AppointmentKind, AppointmentSource, AppointmentStatus, CycleStatus, SyncType
from carnet_server.agenda.tables import Appointment
from carnet_server.patients.tables import Cycle
from carnet_server.sync import service as sync

__all__ = ["seed_appointments"]

K, S = AppointmentKind, AppointmentStatus
DAY_HOSPITAL = "Hospital de Día de Oncología Pediátrica, piso 2"
LAB = "Laboratorio clínico, planta baja, ventanilla 3"
OUTPATIENT = "Consulta externa, piso 1, consultorio {room}"
IMAGING = "Imagenología, planta baja"


@dataclass(frozen=True)
class ChildPlan:
    specialty: str
    room: int
    #: (day offset, kind, title, start hour, minutes, place, notes)
    extras: tuple[tuple[int, AppointmentKind, str, int, int, str, str], ...]


_PLANS: dict[str, ChildPlan] = {
    "Mateo Hernández": ChildPlan(
        "Hematología pediátrica",
        12,
        (
            (
                -150,
                K.ESTUDIO,
                "Aspirado de médula ósea (día 29 de inducción)",
                8,
                120,
                "Quirófano de procedimientos, piso 3",
                "Ayuno de 8 horas. Sedación: llegar 30 minutos antes.",
            ),
            (
                -44,
                K.ESTUDIO,
                "Punción lumbar con quimioterapia intratecal",
                8,
                90,
                "Quirófano de procedimientos, piso 3",
                "Ayuno de 6 horas.",
            ),
            (
                -60,
                K.OTRO,
                "Trabajo social: trámite de Licencia 140-Bis",
                11,
                45,
                "Trabajo social, piso 1",
                "Llevar constancia médica, identificación oficial y NSS de la madre.",
            ),
            (
                60,
                K.ESTUDIO,
                "Aspirado de médula ósea (fin de consolidación)",
                8,
                120,
                "Quirófano de procedimientos, piso 3",
                "Ayuno de 8 horas.",
            ),
            (
                120,
                K.OTRO,
                "Trabajo social: renovación de Licencia 140-Bis",
                11,
                45,
                "Trabajo social, piso 1",
                "Llevar el formato anterior sellado.",
            ),
        ),
    ),
    "Valentina Hernández": ChildPlan(
        "Oncología pediátrica",
        7,
        (
            (
                -120,
                K.ESTUDIO,
                "TAC de abdomen contrastada (control posquirúrgico)",
                9,
                60,
                IMAGING,
                "Ayuno de 6 horas; sedación.",
            ),
            (-30, K.ESTUDIO, "Ultrasonido renal", 9, 30, IMAGING, "Vejiga llena."),
            (90, K.ESTUDIO, "TAC de abdomen y tórax (fin de tratamiento)", 9, 60, IMAGING, "Ayuno de 6 horas."),
        ),
    ),
    "Santiago Ramírez": ChildPlan(
        "Oncología pediátrica",
        9,
        (
            (-100, K.ESTUDIO, "Ecocardiograma basal (antes de doxorrubicina)", 10, 45, "Cardiología, piso 4", ""),
            (-40, K.ESTUDIO, "Espirometría (control por bleomicina)", 12, 30, "Neumología, piso 4", ""),
            (
                45,
                K.ESTUDIO,
                "TAC de cuello, tórax y abdomen (evaluación intermedia)",
                9,
                60,
                IMAGING,
                "Ayuno de 6 horas.",
            ),
            (80, K.ESTUDIO, "Ecocardiograma de control", 10, 45, "Cardiología, piso 4", ""),
        ),
    ),
    "Emiliano Valenzuela": ChildPlan(
        "Oncología pediátrica",
        3,
        (
            (-110, K.ESTUDIO, "TAC de abdomen contrastada", 9, 60, IMAGING, "Ayuno de 6 horas; sedación."),
            (-35, K.ESTUDIO, "Audiometría (control por carboplatino)", 12, 30, "Audiología, piso 2", ""),
            (
                -15,
                K.OTRO,
                "Trabajo social: apoyo de traslado a la UMAE",
                12,
                30,
                "Trabajo social",
                "Traer comprobante de domicilio.",
            ),
            (70, K.ESTUDIO, "Ecocardiograma de control", 10, 45, "Cardiología", ""),
        ),
    ),
    "Camila Torres": ChildPlan(
        "Oncología pediátrica",
        14,
        (
            (-95, K.ESTUDIO, "TAC de tórax (búsqueda de metástasis)", 9, 45, IMAGING, ""),
            (-50, K.ESTUDIO, "Ecocardiograma basal", 10, 45, "Cardiología, piso 4", ""),
            (-20, K.ESTUDIO, "Audiometría (control por cisplatino)", 12, 30, "Audiología, piso 2", ""),
            (55, K.CONSULTA, "Valoración por Ortopedia oncológica (cirugía)", 11, 30, OUTPATIENT.format(room=20), ""),
            (75, K.ESTUDIO, "Resonancia magnética de fémur", 8, 60, IMAGING, "Sedación; ayuno de 6 horas."),
        ),
    ),
}
# (child, day offset, kind, title, hour, minutes, place, notes): the family's own reminders.
_FAMILY = (
    (
        "Mateo Hernández",
        10,
        K.CONSULTA,
        "Dentista: revisión antes de la consolidación",
        17,
        30,
        "Consultorio dental particular",
        "Avisar que está en quimioterapia.",
    ),
    (
        "Valentina Hernández",
        -12,
        K.OTRO,
        "Vacuna de influenza en la UMF 28",
        9,
        30,
        "UMF 28, módulo de vacunación",
        "Solo si la oncóloga lo autoriza.",
    ),
    (
        "Santiago Ramírez",
        20,
        K.LABORATORIO,
        "Biometría hemática en laboratorio cercano",
        7,
        20,
        "Laboratorio particular",
        "Resultado para la consulta.",
    ),
)


def _at(day: date, hour: int, minute: int, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=tz).astimezone(ZoneInfo("UTC"))


def _status(day: date, today: date) -> AppointmentStatus:
    if day < today:
        return S.REALIZADA
    return S.CONFIRMADA if (day - today).days <= 7 else S.PROGRAMADA


def seed_appointments(
    session: Session,
    *,
    patients: dict[str, tuple[str, str, str]],
    staff_id: str,
    today: date,
    tz: ZoneInfo,
    now: datetime,
) -> int:
    """Add the demo appointments; ``patients``: display name → (patient, unit, guardian ids). Returns the count."""
    rows: list[Appointment] = []

    def add(
        patient: str,
        day: date,
        kind: AppointmentKind,
        title: str,
        hour: int,
        minutes: int,
        place: str,
        notes: str = "",
        status: AppointmentStatus | None = None,
        cycle_id: str | None = None,
        source: AppointmentSource = AppointmentSource.HOSPITAL,
    ) -> None:
        patient_id, unit_id, guardian_id = patients[patient]
        hospital = source == AppointmentSource.HOSPITAL
        start = _at(day, hour, 0, tz)
        rows.append(
            Appointment(
                patient_id=patient_id,
                kind=kind.value,
                title=title,
                starts_at=start,
                ends_at=start + timedelta(minutes=minutes),
                unit_id=unit_id if hospital else None,
                place=place,
                status=(status or _status(day, today)).value,
                notes=notes,
                cycle_id=cycle_id,
                source=source.value,
                created_by=staff_id if hospital else guardian_id,
                revision=0,
                created_at=now,
                updated_at=now,
            )
        )

    for name, plan in _PLANS.items():
        cycles = session.scalars(select(Cycle).where(Cycle.patient_id == patients[name][0]).order_by(Cycle.number))
        for cycle in cycles:
            day = cycle.scheduled_for
            deferred = cycle.status == CycleStatus.DIFERIDO.value
            add(
                name,
                day,
                K.QUIMIOTERAPIA,
                f"Quimioterapia, ciclo {cycle.number}",
                8,
                300,
                DAY_HOSPITAL,
                "Cifras bajas en la biometría: el ciclo se difirió una semana."
                if deferred
                else "Llegar con los resultados de laboratorio y el carnet.",
                status=S.CANCELADA if deferred else None,
                cycle_id=cycle.id,
            )
            add(
                name,
                day - timedelta(days=1),
                K.LABORATORIO,
                "Biometría hemática y química sanguínea",
                7,
                30,
                LAB,
                "Ayuno de 8 horas.",
            )
        for offset in range(-182, 183, 28):
            day = today + timedelta(days=offset + 1)
            status = None
            if offset == -98:
                status = S.CANCELADA
            add(
                name,
                day,
                K.CONSULTA,
                f"Consulta de {plan.specialty}",
                10,
                30,
                OUTPATIENT.format(room=plan.room),
                "Cancelada por el servicio: se reagenda en la siguiente consulta." if status else "",
                status=status,
            )
        for offset, kind, title, hour, minutes, place, notes in plan.extras:
            add(name, today + timedelta(days=offset), kind, title, hour, minutes, place, notes)
    for name, offset, kind, title, hour, minutes, place, notes in _FAMILY:
        add(
            name,
            today + timedelta(days=offset),
            kind,
            title,
            hour,
            minutes,
            place,
            notes,
            source=AppointmentSource.FAMILIA,
        )
    # One consultation moved by the hospital: rescheduled, second revision.
    moved = next(r for r in rows if r.kind == K.CONSULTA.value and r.starts_at > now + timedelta(days=30))
    moved.starts_at += timedelta(days=2, hours=1)
    moved.ends_at += timedelta(days=2, hours=1)
    moved.status, moved.revision = S.REPROGRAMADA.value, 1
    moved.notes = "Reprogramada por el servicio de Oncología."
    session.add_all(rows)
    session.flush()
    rows.sort(key=lambda r: r.starts_at)
    sync.touch_many(session, type=SyncType.APPOINTMENT, changes=[(r.id, r.patient_id, False) for r in rows])
    return len(rows)
