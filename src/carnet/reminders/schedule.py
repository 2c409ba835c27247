"""The phone's own reminders: from the synced records, which local notifications should be scheduled now.

Pure (no Flet, no store, no network): the shell calls :func:`wanted` after each sync with what the phone
holds — appointments, blood-bank bookings, the carnets (cycles and their mixing status), incidents — the
kinds the family chose (Ajustes → Recordatorios, the same choice the WhatsApp reminders follow), ``now``
and :mod:`carnet.reminders.notifier` makes the phone's scheduled set match the answer.

The same rules as the server's WhatsApp pass (carnet_server/reminders/due.py), on the unit's clock
(carnet.core.clock, the server's ``CARNET_TIMEZONE``; not the phone's own zone):

    kind                 what                                              when
    quimioterapia_manana an appointment tomorrow, not cancelada /          18:00 the day before
    consulta_manana      realizada: a chemotherapy session, a consultation
    laboratorio_manana   or a laboratory appointment (each chosen apart)
    donacion_manana      a confirmed donor booking of the family tomorrow  18:00 the day before
                         (a notification on the family's phone: the donor's
                         consent is for WhatsApp messages to the donor)
    mezcla_lista         a cycle (programado / confirmado) whose mixture   when it became ready, until the
                         is ``lista``                                      cycle's day is over
    reporte_respondido   the case desk's answer is the last word of an     when answered, for 24 hours
                         app report (a WhatsApp report gets it in its chat)

Nothing is scheduled in the past nor between 21:00 and 08:00: a moment in the night moves to 08:00.
When the moment passed while the phone was off or offline, the notification is scheduled a minute from
now — as long as it is still useful (a day-before reminder until 21:00 that evening; a ready mixture
until its day ends; an answer within 24 hours); later it is dropped.

Each notification has a stable ``id`` (31 bits of a SHA-256 of its ``key``; Android takes 32-bit ids)
made from what it is about and its time — ``cita_manana:{appointment id}@{start}`` (every appointment kind
keys as ``cita_manana``, the kind before the split, so an upgrade schedules nothing twice) — so it is scheduled
once: recomputed after every sync it has the same id; a moved appointment gets a new id (the old one is
cancelled, the new one scheduled). The caught-up moment ("in a minute") changes with ``now``; the notifier
never reschedules an id it has handed to the system already, so that does not postpone it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from carnet.core.clock import UNIT_ZONE, hhmm, unit_time
from carnet.core.i18n import Translator
from carnet_contract import models as contract
from carnet_contract.models import ReminderKind

__all__ = [
    "ANSWER_WINDOW",
    "CATCH_UP",
    "DAY_BEFORE_AT",
    "WAKING_FROM",
    "WAKING_UNTIL",
    "LocalNotification",
    "notification_id",
    "wanted",
]

#: Day-before reminders are for this local time …
DAY_BEFORE_AT = time(18, 0)
#: … and nothing rings outside these local hours (from inclusive, until exclusive).
WAKING_FROM = time(8, 0)
WAKING_UNTIL = time(21, 0)
#: A moment that passed unnoticed is caught up this long after ``now``.
CATCH_UP = timedelta(minutes=1)
#: An answer is worth a notification this long after it was given.
ANSWER_WINDOW = timedelta(hours=24)

_DONE = (contract.AppointmentStatus.CANCELADA, contract.AppointmentStatus.REALIZADA)
_ACTIVE_CYCLES = (contract.CycleStatus.PROGRAMADO, contract.CycleStatus.CONFIRMADO)


@dataclass(frozen=True)
class LocalNotification:
    """One notification to have scheduled: ``at`` is aware (the unit's zone), always after ``now``."""

    id: int
    #: What it is about (ids only, no names): also the notification's payload.
    key: str
    at: datetime
    title: str
    body: str


def notification_id(key: str) -> int:
    """A stable 31-bit id for ``key`` (positive, fits Android's 32-bit notification ids)."""
    return int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:4], "big") & 0x7FFF_FFFF


def _on_clock(day: date, clock: time) -> datetime:
    return datetime.combine(day, clock, tzinfo=UNIT_ZONE)


def _waking(at: datetime) -> datetime:
    """``at``, or the next 08:00 when it falls in the night (on the unit's clock)."""
    local = unit_time(at)
    if local.time() < WAKING_FROM:
        return _on_clock(local.date(), WAKING_FROM)
    if local.time() >= WAKING_UNTIL:
        return _on_clock(local.date() + timedelta(days=1), WAKING_FROM)
    return local


def _moment(planned: datetime, until: datetime, now: datetime) -> datetime | None:
    """When to ring: ``planned`` (moved out of the night), or in a minute when that passed; None once
    ``until`` is reached."""
    at = _waking(max(planned, now + CATCH_UP))
    return at if at < until else None


@dataclass(frozen=True)
class _Context:
    now: datetime
    tr: Translator
    names: dict[str, str]

    def child(self, patient_id: str) -> str:
        return self.names.get(patient_id) or self.tr.t("notif_child_fallback")


def _appointments(
    appointments: Iterable[contract.Appointment], c: _Context, kinds: Collection[ReminderKind]
) -> Iterable[LocalNotification]:
    for appt in appointments:
        reminder = contract.APPOINTMENT_REMINDERS.get(appt.kind)
        if reminder is None or reminder not in kinds or appt.status in _DONE:
            continue
        start = unit_time(appt.starts_at)
        eve = start.date() - timedelta(days=1)
        at = _moment(_on_clock(eve, DAY_BEFORE_AT), _on_clock(eve, WAKING_UNTIL), c.now)
        if at is None:
            continue
        place = ", ".join(p for p in (appt.place.strip(), appt.unit.name if appt.unit else "") if p)
        words = {
            "child": c.child(appt.patient_id),
            "what": c.tr.t(f"notif_what_{appt.kind.value}"),
            "time": hhmm(start),
        }
        body = c.tr.t("notif_appt_body", place=place, **words) if place else c.tr.t("notif_appt_body_noplace", **words)
        key = f"{contract.LEGACY_APPOINTMENT_TOMORROW}:{appt.id}@{start.isoformat(timespec='minutes')}"
        yield LocalNotification(notification_id(key), key, at, c.tr.t("notif_appt_title"), body)


def _bookings(bookings: Iterable[contract.Booking], c: _Context) -> Iterable[LocalNotification]:
    for booking in bookings:
        if booking.status != contract.BookingStatus.CONFIRMADA:
            continue
        start = unit_time(booking.slot.starts_at)
        eve = start.date() - timedelta(days=1)
        at = _moment(_on_clock(eve, DAY_BEFORE_AT), _on_clock(eve, WAKING_UNTIL), c.now)
        if at is None:
            continue
        body = c.tr.t(
            "notif_donor_body",
            donor=booking.donor.full_name.split()[0],
            child=c.child(booking.patient_id),
            time=hhmm(start),
            bank=booking.bank.name,
        )
        key = f"{ReminderKind.DONOR_TOMORROW.value}:{booking.id}@{start.isoformat(timespec='minutes')}"
        yield LocalNotification(notification_id(key), key, at, c.tr.t("notif_donor_title"), body)


def _mixtures(carnets: Iterable[contract.Carnet], c: _Context) -> Iterable[LocalNotification]:
    for carnet in carnets:
        for cycle in carnet.cycles:
            if cycle.mixing.status != contract.MixingStatus.LISTA or cycle.status not in _ACTIVE_CYCLES:
                continue
            ready = cycle.mixing.updated_at or c.now
            at = _moment(ready, _on_clock(cycle.scheduled_for, WAKING_UNTIL), c.now)
            if at is None:
                continue
            body = c.tr.t("notif_mix_body", cycle=cycle.number, child=c.child(carnet.patient.id))
            key = f"{ReminderKind.MIXTURE_READY.value}:{cycle.id}"
            yield LocalNotification(notification_id(key), key, at, c.tr.t("notif_mix_title"), body)


def _answers(incidents: Iterable[contract.Incident], c: _Context) -> Iterable[LocalNotification]:
    for incident in incidents:
        if incident.channel != contract.IncidentChannel.APP or not incident.responses:
            continue
        last = incident.responses[-1]
        if last.author_role == contract.Role.GUARDIAN:
            continue  # the family spoke last: nothing new for them
        at = _moment(last.created_at, last.created_at + ANSWER_WINDOW, c.now)
        if at is None:
            continue
        key = f"{ReminderKind.REPORT_ANSWERED.value}:{incident.id}#{len(incident.responses)}"
        body = c.tr.t("notif_answer_body", folio=incident.folio)
        yield LocalNotification(notification_id(key), key, at, c.tr.t("notif_answer_title"), body)


def wanted(
    *,
    kinds: Collection[ReminderKind],
    now: datetime,
    appointments: Iterable[contract.Appointment] = (),
    bookings: Iterable[contract.Booking] = (),
    carnets: Iterable[contract.Carnet] = (),
    incidents: Iterable[contract.Incident] = (),
    translator: Translator | None = None,
) -> list[LocalNotification]:
    """The notifications to have scheduled at ``now`` (aware), soonest first, on the unit's clock
    (carnet.core.clock: Mexico City, whatever the phone's zone); texts in ``translator``'s language (Spanish
    by default). ``carnets`` also name the children."""
    carnets = list(carnets)
    c = _Context(now, translator or Translator(), {k.patient.id: k.patient.display_name for k in carnets})
    found: list[LocalNotification] = []
    if any(kind in kinds for kind in contract.APPOINTMENT_REMINDERS.values()):
        found += _appointments(appointments, c, kinds)
    if ReminderKind.DONOR_TOMORROW in kinds:
        found += _bookings(bookings, c)
    if ReminderKind.MIXTURE_READY in kinds:
        found += _mixtures(carnets, c)
    if ReminderKind.REPORT_ANSWERED in kinds:
        found += _answers(incidents, c)
    unique = {n.id: n for n in found}  # the same record twice (a pending copy and the synced one): once
    return sorted(unique.values(), key=lambda n: (n.at, n.key))
