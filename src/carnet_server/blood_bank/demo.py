"""Demo blood banks: one per demo unit, weekly openings, and two bookings for madre.demo's Mateo.

Monday to Friday 07:00–11:00 and Saturday 07:00–09:00 (local), 30-minute slots
of four donors. One donor came ten-odd days ago (``asistio``); another is
booked a few days ahead (``confirmada``), each with its agenda appointment.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from carnet_contract.eligibility import questions
from carnet_contract.models import AppointmentKind, AppointmentStatus, BookingStatus, SyncType
from carnet_server.agenda import service as agenda
from carnet_server.blood_bank.bookings import next_folio
from carnet_server.blood_bank.tables import BloodBank, Booking, Slot, SlotTemplate
from carnet_server.patients.tables import MedicalUnit
from carnet_server.sync import service as sync

__all__ = ["BANKS", "seed_blood_banks"]

PHONE = "800 623 2323 (IMSS, donación de sangre)"
INSTRUCTIONS = (
    "Traiga identificación oficial vigente con fotografía (INE, pasaporte o cédula profesional) y el folio de "
    "su cita. Ayuno de 4 a 8 horas: puede tomar jugo, té o café sin leche y comer fruta (no plátano, mamey ni "
    "aguacate); no coma grasas las 24 horas previas. No tome bebidas alcohólicas en las 72 horas previas. "
    "Duerma al menos 6 horas. Llegue 15 minutos antes; el proceso dura unas 2 horas. Diga en ventanilla el "
    "nombre y el NSS del niño o niña para quien dona."
)
#: unit key → (name, address)
BANKS = {
    "sxxi": (
        "Banco Central de Sangre, CMN Siglo XXI",
        "Av. Cuauhtémoc 330, Col. Doctores, Alcaldía Cuauhtémoc, 06720 Ciudad de México",
    ),
    "raza": (
        "Banco Central de Sangre, CMN La Raza",
        "Calz. Vallejo s/n esq. Av. Jacarandas, Col. La Raza, Alcaldía Azcapotzalco, 02990 Ciudad de México",
    ),
    "leon": (
        "Banco de Sangre, UMAE HGP No. 48 León",
        "Blvd. Adolfo López Mateos esq. Paseo de los Insurgentes s/n, Col. Los Paraísos, 37320 León, Gto.",
    ),
    "obregon": (
        "Banco de Sangre, HGR No. 1 Cd. Obregón",
        "Calle Sufragio Efectivo esq. Hidalgo s/n, Col. Centro, 85000 Cd. Obregón, Son.",
    ),
}
WEEKDAY_HOURS = (time(7), time(11))
SATURDAY_HOURS = (time(7), time(9))
SLOT_MINUTES = 30
CAPACITY = 4


def _weekday_on_or_after(day: date) -> date:
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def _weekday_on_or_before(day: date) -> date:
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    return day


def seed_blood_banks(
    session: Session,
    *,
    units: dict[str, MedicalUnit],
    patients: dict[str, tuple[str, str, str]],
    today: date,
    tz: ZoneInfo,
    now: datetime,
) -> dict[str, BloodBank]:
    """Add the demo banks, templates and bookings; ``patients``: display name → (patient, unit, guardian ids)."""
    banks: dict[str, BloodBank] = {}
    for key, (name, address) in BANKS.items():
        bank = BloodBank(unit_id=units[key].id, name=name, address=address, phone=PHONE, instructions=INSTRUCTIONS)
        session.add(bank)
        session.flush()
        banks[key] = bank
        for weekday in range(6):
            start, end = SATURDAY_HOURS if weekday == 5 else WEEKDAY_HOURS
            session.add(
                SlotTemplate(
                    bank_id=bank.id,
                    weekday=weekday,
                    start=start,
                    end=end,
                    slot_minutes=SLOT_MINUTES,
                    capacity=CAPACITY,
                    active=True,
                )
            )
    session.flush()
    patient_id, _unit, guardian_id = patients["Mateo Hernández"]
    bank = banks["sxxi"]
    answers = {q.id: q.eligible_answer for q in questions()}
    plans = (
        (
            _weekday_on_or_before(today - timedelta(days=12)),
            time(8),
            BookingStatus.ASISTIO,
            ("Ricardo López Ortiz", "55 4321 8765", date(1988, 6, 2), 78.0, "hombre"),
        ),
        (
            _weekday_on_or_after(today + timedelta(days=3)),
            time(7, 30),
            BookingStatus.CONFIRMADA,
            ("Ana Sofía Ramírez Peña", "55 8765 4321", date(1995, 11, 20), 61.5, "mujer"),
        ),
    )
    for day, at, status, (full_name, phone, birth, weight, sex) in plans:
        starts = datetime.combine(day, at, tzinfo=tz).astimezone(ZoneInfo("UTC"))
        slot = Slot(
            bank_id=bank.id,
            starts_at=starts,
            ends_at=starts + timedelta(minutes=SLOT_MINUTES),
            capacity=CAPACITY,
            booked=1,
            closed=False,
        )
        session.add(slot)
        session.flush()
        created = min(now, starts) - timedelta(days=5)
        came = status == BookingStatus.ASISTIO
        booking = Booking(
            folio=next_folio(session, created.astimezone(tz).year),
            slot_id=slot.id,
            patient_id=patient_id,
            guardian_id=guardian_id,
            donor_full_name=full_name,
            donor_phone=phone,
            donor_birth_date=birth,
            donor_weight_kg=weight,
            donor_sex=sex,
            donor_last_donation_on=None,
            answers=answers,
            status=status.value,
            checked_in_at=starts + timedelta(minutes=10) if came else None,
            created_at=created,
            updated_at=starts + timedelta(minutes=10) if came else created,
        )
        session.add(booking)
        session.flush()
        booking.appointment_id = agenda.add_linked(
            session,
            patient_id=patient_id,
            kind=AppointmentKind.BANCO_DE_SANGRE,
            title=f"Donación de sangre: {full_name.split()[0]}",
            starts_at=slot.starts_at,
            ends_at=slot.ends_at,
            unit_id=bank.unit_id,
            place=f"{bank.name}, {bank.address}",
            notes=f"Folio {booking.folio}. {bank.instructions}",
            status=AppointmentStatus.REALIZADA if came else AppointmentStatus.CONFIRMADA,
            created_by=guardian_id,
            now=created,
        )
        session.flush()
        sync.touch(session, type=SyncType.BLOOD_BANK_BOOKING, record_id=booking.id, patient_id=patient_id)
    return banks
