"""The reminders pass: what is due now, to whom, sent once through the WhatsApp outbox as approved templates.

The WhatsApp worker calls :func:`run_pass` every minute; tests call it with a fixed ``now``. Each reminder
goes to the linked number of every guardian of the child who chose its kind (reminders/service.py; all
kinds by default) — a guardian without a linked number gets nothing here (the phone's own notifications
are the app's, src/carnet/reminders/). Times are local (``CARNET_TIMEZONE``):

    kind                 what                                                when it goes
    quimioterapia_manana a quimioterapia, consulta or laboratorio           18:00–21:00 the day before
    consulta_manana      appointment tomorrow, not cancelada / realizada
    laboratorio_manana   (the kind matching the appointment; chosen apart)
    donacion_manana      a confirmed blood-bank booking tomorrow, to the     18:00–21:00 the day before
                         donor's own phone (52 + the 10 digits), only with
                         the donor's consent given at booking — and not when
                         the guardian who booked turned the kind off
    mezcla_lista         a cycle (programado / confirmado, today or later)   08:00–21:00; outside, at 08:00
                         whose mixture is ``lista``
    reporte_respondido   a case-desk answer to an app-channel report, when   08:00–21:00; outside, at 08:00
                         it is still the report's last word and at most
                         ``ANSWER_LOOKBACK`` old (WhatsApp-channel reports
                         get the answer itself in their chat: whatsapp/)

Nothing goes between 21:00 and 08:00. A day-before reminder whose evening passed unsent (the server was
down) is not sent later: after 21:00 it would wake the family, and the next morning it is no longer
"mañana". Appointments and bookings are keyed with their local date, so one moved to another day is
reminded again for the new day.

Each reminder goes once: its key ``{kind}:{object id}:{recipient}`` (recipient: the guardian's user id, or
``donor``; every appointment reminder keys as ``cita_manana``, the one kind before the split, so none goes
twice across the upgrade) is inserted into ``reminders_sent`` in a savepoint first; a second pass — or one
running at the same moment elsewhere — finds it (or hits the primary key) and skips. The outbox row is
queued in the same transaction with the same key as ``dedupe_key``, and each reminder commits on its own, so
the two are written together or not at all and no lock outlives one reminder. Nothing is logged here but counts.

The outbox and the links are injected (``enqueue``, ``linked_phone``: whatsapp/outbox.py ``enqueue`` and
whatsapp/links.py ``linked_phone``), so the pass is tested with recording fakes.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Protocol

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from carnet_contract.models import (
    APPOINTMENT_REMINDERS,
    LEGACY_APPOINTMENT_TOMORROW,
    AppointmentKind,
    AppointmentStatus,
    BookingStatus,
    CycleStatus,
    IncidentChannel,
    MixingStatus,
    ReminderKind,
    Role,
)
from carnet_server.agenda.tables import Appointment
from carnet_server.auth.tables import User
from carnet_server.blood_bank.tables import Booking, Slot
from carnet_server.incidents.tables import Incident, IncidentReply
from carnet_server.patients.tables import Cycle, GuardianPatient, MedicalUnit, Patient
from carnet_server.reminders.service import chosen_kinds
from carnet_server.reminders.tables import ReminderSent
from carnet_server.whatsapp.templates import Template

__all__ = [
    "ANSWER_LOOKBACK",
    "DAY_BEFORE_FROM",
    "KIND_LABELS",
    "PURPOSE",
    "WAKING_FROM",
    "WAKING_UNTIL",
    "Enqueue",
    "LinkedPhone",
    "donor_wa_id",
    "run_pass",
]

log = logging.getLogger("carnet_server.reminders")

#: Day-before reminders (appointment, donation) go from this local time …
DAY_BEFORE_FROM = time(18, 0)
#: … and nothing goes outside these local hours (from inclusive, until exclusive).
WAKING_FROM = time(8, 0)
WAKING_UNTIL = time(21, 0)
#: A desk answer older than this is not reminded (bounds the first pass after a deployment, and a night).
ANSWER_LOOKBACK = timedelta(hours=24)
#: The outbox's ``purpose`` of every reminder.
PURPOSE = "reminder"

#: The appointment kinds reminded, as the template's ``{{2}}`` reads ("Mateo tiene … mañana").
KIND_LABELS: dict[str, str] = {
    AppointmentKind.QUIMIOTERAPIA.value: "sesión de quimioterapia",
    AppointmentKind.CONSULTA.value: "consulta",
    AppointmentKind.LABORATORIO.value: "cita de laboratorio",
}
_SKIPPED_STATUSES = (AppointmentStatus.CANCELADA.value, AppointmentStatus.REALIZADA.value)
_ACTIVE_CYCLES = (CycleStatus.PROGRAMADO.value, CycleStatus.CONFIRMADO.value)
_DONOR = "donor"


class Enqueue(Protocol):
    """whatsapp/outbox.py ``enqueue``: queue a message (no commit); False when ``dedupe_key`` was used."""

    def __call__(
        self,
        session: Session,
        *,
        phone: str,
        purpose: str,
        template: Template | None = ...,
        user_id: str | None = ...,
        dedupe_key: str | None = ...,
        now: datetime | None = ...,
    ) -> bool: ...


class LinkedPhone(Protocol):
    """whatsapp/links.py ``linked_phone``: the account's linked WhatsApp number, or None."""

    def __call__(self, session: Session, user_id: str, /) -> str | None: ...


@dataclass(frozen=True)
class _Due:
    """One reminder before its recipients: for the guardians of ``patient_id`` or, with ``phone``, a donor."""

    kind: ReminderKind
    object_id: str
    template: Template
    patient_id: str | None = None
    #: A donor's WhatsApp id; ``booked_by``: the guardian whose choice may turn the donor's reminder off.
    phone: str | None = None
    booked_by: str | None = None
    #: The kind in the reminder's key, when not ``kind`` (appointments: ``cita_manana``).
    key_kind: str | None = None

    @property
    def key_prefix(self) -> str:
        return self.key_kind or self.kind.value


def donor_wa_id(phone: str) -> str | None:
    """The WhatsApp id of a Mexican donor phone as typed at booking: ``52`` and its 10 digits, else None."""
    digits = "".join(ch for ch in phone if ch.isdigit())
    return "52" + digits if len(digits) == 10 else None


def _first_name(patient: Patient) -> str:
    return (patient.given_names or patient.display_name or "").strip() or patient.display_name


def _day_bounds(day: date, tz: tzinfo) -> tuple[datetime, datetime]:
    return (
        datetime.combine(day, time(), tzinfo=tz).astimezone(UTC),
        datetime.combine(day + timedelta(days=1), time(), tzinfo=tz).astimezone(UTC),
    )


def _hhmm(at: datetime, tz: tzinfo) -> str:
    return at.astimezone(tz).strftime("%H:%M")


def _place(place: str, unit: MedicalUnit | None) -> str:
    parts = [p for p in (place.strip(), unit.name if unit is not None else "") if p]
    return ", ".join(parts) or "la unidad médica"


# ---- what is due ---------------------------------------------------------------------------------------------


def _appointments(session: Session, tomorrow: date, tz: tzinfo) -> Iterator[_Due]:
    lo, hi = _day_bounds(tomorrow, tz)
    rows = session.execute(
        select(Appointment, Patient)
        .join(Patient, Patient.id == Appointment.patient_id)
        .where(
            Appointment.starts_at >= lo,
            Appointment.starts_at < hi,
            Appointment.kind.in_(tuple(KIND_LABELS)),
            Appointment.status.not_in(_SKIPPED_STATUSES),
        )
        .order_by(Appointment.starts_at, Appointment.id)
    )
    for appointment, patient in rows:
        params = [
            _first_name(patient),
            KIND_LABELS[appointment.kind],
            _hhmm(appointment.starts_at, tz),
            _place(appointment.place, appointment.unit),
        ]
        yield _Due(
            APPOINTMENT_REMINDERS[AppointmentKind(appointment.kind)],
            f"{appointment.id}@{tomorrow.isoformat()}",
            Template("carnet_cita_manana", params),
            patient_id=appointment.patient_id,
            key_kind=LEGACY_APPOINTMENT_TOMORROW,
        )


def _donations(session: Session, tomorrow: date, tz: tzinfo) -> Iterator[_Due]:
    lo, hi = _day_bounds(tomorrow, tz)
    rows = session.scalars(
        select(Booking)
        .join(Slot, Slot.id == Booking.slot_id)
        .where(
            Slot.starts_at >= lo,
            Slot.starts_at < hi,
            Booking.status == BookingStatus.CONFIRMADA.value,
            Booking.donor_reminder_consent.is_(True),
        )
        .order_by(Slot.starts_at, Booking.id)
    )
    for booking in rows:
        phone = donor_wa_id(booking.donor_phone)
        if phone is None:
            continue
        params = [booking.donor_full_name.split()[0], booking.slot.bank.name, _hhmm(booking.slot.starts_at, tz)]
        yield _Due(
            ReminderKind.DONOR_TOMORROW,
            f"{booking.id}@{tomorrow.isoformat()}",
            Template("carnet_donacion_manana", params),
            phone=phone,
            booked_by=booking.guardian_id,
        )


def _mixtures(session: Session, today: date) -> Iterator[_Due]:
    rows = session.execute(
        select(Cycle, Patient)
        .join(Patient, Patient.id == Cycle.patient_id)
        .where(
            Cycle.mixing_status == MixingStatus.LISTA.value,
            Cycle.status.in_(_ACTIVE_CYCLES),
            Cycle.scheduled_for >= today,
        )
        .order_by(Cycle.scheduled_for, Cycle.id)
    )
    for cycle, patient in rows:
        yield _Due(
            ReminderKind.MIXTURE_READY,
            cycle.id,
            Template("carnet_mezcla_lista", [_first_name(patient), str(cycle.number)]),
            patient_id=cycle.patient_id,
        )


def _answers(session: Session, now: datetime) -> Iterator[_Due]:
    recent = session.execute(
        select(IncidentReply.id, IncidentReply.position, Incident.id, Incident.folio, Incident.patient_id)
        .join(Incident, Incident.id == IncidentReply.incident_id)
        .where(
            Incident.channel == IncidentChannel.APP.value,
            IncidentReply.author_role != Role.GUARDIAN.value,
            IncidentReply.created_at > now - ANSWER_LOOKBACK,
            IncidentReply.created_at <= now,
        )
        .order_by(IncidentReply.created_at, IncidentReply.id)
    ).all()
    if not recent:
        return
    latest = session.execute(
        select(IncidentReply.incident_id, func.max(IncidentReply.position))
        .where(IncidentReply.incident_id.in_({row[2] for row in recent}), IncidentReply.created_at <= now)
        .group_by(IncidentReply.incident_id)
    )
    last: dict[str, int] = {}
    for incident_id, position in latest:  # (a Result has keys(): dict(latest) would read it as a mapping)
        last[incident_id] = position
    for reply_id, position, incident_id, folio, patient_id in recent:
        if last.get(incident_id) == position:  # still the report's last word: the family has not answered
            yield _Due(
                ReminderKind.REPORT_ANSWERED,
                reply_id,
                Template("carnet_reporte_respondido", [folio]),
                patient_id=patient_id,
            )


def _due(session: Session, local: datetime, tz: tzinfo) -> list[_Due]:
    clock = local.time()
    found: list[_Due] = []
    if WAKING_FROM <= clock < WAKING_UNTIL:
        found += _mixtures(session, local.date())
        found += _answers(session, local.astimezone(UTC))
        if clock >= DAY_BEFORE_FROM:
            tomorrow = local.date() + timedelta(days=1)
            found += _appointments(session, tomorrow, tz)
            found += _donations(session, tomorrow, tz)
    return found


# ---- to whom, once -------------------------------------------------------------------------------------------


def _guardians(session: Session, patient_ids: Iterable[str]) -> dict[str, list[str]]:
    """patient id → the user ids of its guardians whose accounts are active."""
    ids = sorted(set(patient_ids))
    found: dict[str, list[str]] = defaultdict(list)
    if ids:
        rows = session.execute(
            select(GuardianPatient.patient_id, GuardianPatient.user_id)
            .join(User, User.id == GuardianPatient.user_id)
            .where(GuardianPatient.patient_id.in_(ids), User.active.is_(True), User.role == Role.GUARDIAN.value)
            .order_by(GuardianPatient.patient_id, GuardianPatient.user_id)
        )
        for patient_id, user_id in rows:
            found[patient_id].append(user_id)
    return found


def _claim(session: Session, key: str, now: datetime) -> bool:
    """Insert the reminder's key; False when a pass (this one earlier, or another) already did."""
    try:
        with session.begin_nested():
            session.add(ReminderSent(key=key, sent_at=now))
    except IntegrityError:
        return False
    return True


def run_pass(
    session: Session,
    *,
    now: datetime,
    tz: tzinfo,
    enqueue: Enqueue,
    linked_phone: LinkedPhone,
) -> int:
    """Queue every reminder due at ``now`` (aware) not sent before; returns how many were queued. Commits."""
    local = now.astimezone(tz)
    due = _due(session, local, tz)
    if not due:
        session.commit()  # end the reads' transaction: the worker's session stays clean
        return 0
    guardians = _guardians(session, [d.patient_id for d in due if d.patient_id is not None])
    kinds = chosen_kinds(
        session,
        [u for d in due if d.patient_id is not None for u in guardians.get(d.patient_id, ())]
        + [d.booked_by for d in due if d.booked_by is not None],
    )
    # (key, phone, user id, template): every recipient of every reminder, before any write
    sends: list[tuple[str, str, str | None, Template]] = []
    phones: dict[str, str | None] = {}
    for item in due:
        if item.phone is not None:
            if item.booked_by is None or item.kind in kinds.get(item.booked_by, ()):
                sends.append((f"{item.key_prefix}:{item.object_id}:{_DONOR}", item.phone, None, item.template))
            continue
        for user_id in guardians.get(item.patient_id or "", ()):
            if item.kind not in kinds.get(user_id, ()):
                continue
            if user_id not in phones:
                phones[user_id] = linked_phone(session, user_id)
            linked = phones[user_id]
            if linked:
                sends.append((f"{item.key_prefix}:{item.object_id}:{user_id}", linked, user_id, item.template))
    done = set(_sent_keys(session, [s[0] for s in sends]))
    queued = 0
    for key, to, recipient, template in sends:
        if key in done or not _claim(session, key, now):
            continue
        if enqueue(session, phone=to, purpose=PURPOSE, template=template, user_id=recipient, dedupe_key=key, now=now):
            queued += 1
        session.commit()
    session.commit()  # the reads' transaction, when nothing was written
    if queued:
        log.info("reminders queued: %d", queued)
    return queued


def _sent_keys(session: Session, keys: list[str]) -> list[str]:
    found: list[str] = []
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        found += session.scalars(select(ReminderSent.key).where(ReminderSent.key.in_(chunk)))
    return found
