"""iCalendar (.ics) export of appointments, shared by the API server and the phone app.

One VEVENT per appointment. The UID is stable (``<id>@carnet.imss``) and
SEQUENCE is the appointment's revision, so importing the file again updates the
events a calendar app already holds instead of duplicating them. Times are
written in ``tz`` (America/Mexico_City by default) with its VTIMEZONE.

Only the standard library, icalendar and carnet_contract.models are imported here:
this module ships in the phone bundle.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar

from carnet_contract import models as contract

__all__ = ["UID_DOMAIN", "build_calendar", "event_uid"]

UID_DOMAIN = "carnet.imss"
PRODID = "-//IMSS Carnet//Agenda//ES"

KIND_LABELS: dict[contract.AppointmentKind, str] = {
    contract.AppointmentKind.QUIMIOTERAPIA: "Quimioterapia",
    contract.AppointmentKind.CONSULTA: "Consulta",
    contract.AppointmentKind.LABORATORIO: "Laboratorio",
    contract.AppointmentKind.ESTUDIO: "Estudio",
    contract.AppointmentKind.BANCO_DE_SANGRE: "Banco de sangre",
    contract.AppointmentKind.OTRO: "Otro",
}
STATUS_LABELS: dict[contract.AppointmentStatus, str] = {
    contract.AppointmentStatus.PROGRAMADA: "Programada",
    contract.AppointmentStatus.CONFIRMADA: "Confirmada",
    contract.AppointmentStatus.REPROGRAMADA: "Reprogramada",
    contract.AppointmentStatus.CANCELADA: "Cancelada",
    contract.AppointmentStatus.REALIZADA: "Realizada",
}
_ICS_STATUS: dict[contract.AppointmentStatus, str] = {
    contract.AppointmentStatus.PROGRAMADA: "TENTATIVE",
    contract.AppointmentStatus.CONFIRMADA: "CONFIRMED",
    contract.AppointmentStatus.REPROGRAMADA: "TENTATIVE",
    contract.AppointmentStatus.CANCELADA: "CANCELLED",
    contract.AppointmentStatus.REALIZADA: "CONFIRMED",
}
_SOURCE_LABELS: dict[contract.AppointmentSource, str] = {
    contract.AppointmentSource.HOSPITAL: "Registrada por el hospital",
    contract.AppointmentSource.FAMILIA: "Registrada por la familia",
}


def event_uid(appointment_id: str) -> str:
    """The VEVENT UID of an appointment: constant across exports and revisions."""
    return f"{appointment_id}@{UID_DOMAIN}"


def _aware(value: datetime) -> datetime:
    # The contract carries UTC with an offset; a naive value is taken as UTC.
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _location(appointment: contract.Appointment) -> str:
    parts = [appointment.place.strip()]
    if appointment.unit is not None:
        parts.append(appointment.unit.name)
    return ", ".join(p for p in parts if p)


def _description(appointment: contract.Appointment) -> str:
    lines = [
        f"Tipo: {KIND_LABELS.get(appointment.kind, str(appointment.kind))}",
        f"Estado: {STATUS_LABELS.get(appointment.status, str(appointment.status))}",
        _SOURCE_LABELS.get(appointment.source, ""),
    ]
    notes = appointment.notes.strip()
    if notes:
        lines += ["", notes]
    return "\n".join(lines)


def _event(appointment: contract.Appointment, zone: ZoneInfo, stamp: datetime) -> icalendar.Event:
    event = icalendar.Event()
    event.add("uid", event_uid(appointment.id))
    event.add("dtstamp", stamp)
    event.add("sequence", max(0, appointment.revision))
    event.add("dtstart", _aware(appointment.starts_at).astimezone(zone))
    event.add("dtend", _aware(appointment.ends_at).astimezone(zone))
    event.add("last-modified", _aware(appointment.updated_at).astimezone(UTC))
    event.add("summary", appointment.title)
    location = _location(appointment)
    if location:
        event.add("location", location)
    event.add("description", _description(appointment))
    event.add("status", _ICS_STATUS.get(appointment.status, "TENTATIVE"))
    event.add("categories", [KIND_LABELS.get(appointment.kind, str(appointment.kind))])
    if appointment.status is contract.AppointmentStatus.CANCELADA:
        event.add("transp", "TRANSPARENT")
    return event


def build_calendar(
    appointments: Iterable[contract.Appointment],
    *,
    name: str,
    tz: str = "America/Mexico_City",
    now: datetime | None = None,
) -> bytes:
    """The appointments as an RFC 5545 calendar (UTF-8 bytes, CRLF line ends)."""
    zone = ZoneInfo(tz)
    stamp = _aware(now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    calendar = icalendar.Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", name)
    calendar.add("x-wr-timezone", tz)
    first: date | None = None
    last: date | None = None
    for appointment in appointments:
        event = _event(appointment, zone, stamp)
        calendar.add_component(event)
        start = _aware(appointment.starts_at).astimezone(zone).date()
        first = start if first is None else min(first, start)
        last = start if last is None else max(last, start)
    if first is not None and last is not None:
        # Only the transitions around the exported range keep the VTIMEZONE small.
        calendar.add_missing_timezones(first_date=first - timedelta(days=366), last_date=last + timedelta(days=366))
    ical: bytes = calendar.to_ical()  # (icalendar leaves to_ical unannotated)
    return ical
