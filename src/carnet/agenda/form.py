"""The "Agregar cita" / "Editar cita" form: what was typed, checked into a wire body or clear messages.

Dates are typed as DD/MM/AAAA and times as HH:MM (24 h), in Mexico City time;
the body sent holds UTC-aware datetimes. Nothing here touches the store.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any, TypedDict

from pydantic import ValidationError

from carnet.core.clock import MX, hhmm, unit_time
from carnet.core.i18n import Translator
from carnet_contract import models as contract

__all__ = ["AppointmentForm", "FormResult", "check_form", "date_error", "form_for", "parse_date"]

_DATE = re.compile(r"^\s*(\d{1,2})[/\-.](\d{1,2})[/\-.](\d{4})\s*$")
_TIME = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*$")
TITLE_MAX, PLACE_MAX, NOTES_MAX = 120, 200, 1000


@dataclass
class AppointmentForm:
    #: None for a new appointment; the record id when editing.
    record_id: str | None
    patient_id: str
    kind: str
    title: str = ""
    date_text: str = ""
    start_text: str = "09:00"
    end_text: str = "10:00"
    place: str = ""
    notes: str = ""
    errors: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class FormResult:
    body: dict[str, Any] | None
    errors: dict[str, str]


def form_for(appointment: contract.Appointment) -> AppointmentForm:
    """The edit form, filled with the appointment as the person sees it."""
    start, end = unit_time(appointment.starts_at), unit_time(appointment.ends_at)
    return AppointmentForm(
        record_id=appointment.id,
        patient_id=appointment.patient_id,
        kind=appointment.kind.value,
        title=appointment.title,
        date_text=f"{start:%d/%m/%Y}",
        start_text=hhmm(start),
        end_text=hhmm(end),
        place=appointment.place,
        notes=appointment.notes,
    )


def blank_form(patient_id: str, day: date) -> AppointmentForm:
    return AppointmentForm(
        record_id=None, patient_id=patient_id, kind=contract.AppointmentKind.CONSULTA.value, date_text=f"{day:%d/%m/%Y}"
    )


def parse_date(text: str) -> date | None:
    """A date typed as DD/MM/AAAA (also with - or .); None when it is not one."""
    match = _DATE.match(text or "")
    if not match:
        return None
    try:
        return date(int(match[3]), int(match[2]), int(match[1]))
    except ValueError:
        return None


def date_error(text: str) -> str:
    """The message key for a typed date :func:`parse_date` refused: a day that does not exist (31/02/2026,
    29/02/2027) is told apart from text that is not DD/MM/AAAA at all."""
    return "form_err_no_such_day" if _DATE.match(text or "") else "form_err_date"


def _parse_time(text: str) -> time | None:
    match = _TIME.match(text or "")
    if not match or int(match[1]) > 23 or int(match[2]) > 59:
        return None
    return time(int(match[1]), int(match[2]))


class _Fields(TypedDict):
    """What the form sets on a new appointment and on an edited one."""

    title: str
    starts_at: datetime
    ends_at: datetime
    place: str
    notes: str


def check_form(form: AppointmentForm, tr: Translator, *, children: set[str]) -> FormResult:
    """A create body (new) or an update body (editing), or the messages per field."""
    t = tr.t
    errors: dict[str, str] = {}
    if form.patient_id not in children:
        errors["patient"] = t("form_err_patient")
    try:
        kind = contract.AppointmentKind(form.kind)
    except ValueError:
        kind = None
    if kind not in contract.GUARDIAN_APPOINTMENT_KINDS:
        errors["kind"] = t("form_err_kind")
    title = (form.title or "").strip()
    if not title:
        errors["title"] = t("form_err_title")
    elif len(title) > TITLE_MAX:
        errors["title"] = t("form_err_too_long", max=TITLE_MAX)
    day = parse_date(form.date_text)
    if day is None:
        errors["date"] = t(date_error(form.date_text))
    start, end = _parse_time(form.start_text), _parse_time(form.end_text)
    if start is None:
        errors["start"] = t("form_err_time")
    if end is None:
        errors["end"] = t("form_err_time")
    elif start is not None and end <= start:
        errors["end"] = t("form_err_end_before_start")
    place, notes = (form.place or "").strip(), (form.notes or "").strip()
    if len(place) > PLACE_MAX:
        errors["place"] = t("form_err_too_long", max=PLACE_MAX)
    if len(notes) > NOTES_MAX:
        errors["notes"] = t("form_err_too_long", max=NOTES_MAX)
    if errors:
        return FormResult(None, errors)
    assert day is not None and start is not None and end is not None and kind is not None
    starts_at = datetime.combine(day, start, tzinfo=MX)
    ends_at = datetime.combine(day, end, tzinfo=MX)
    fields: _Fields = {"title": title, "starts_at": starts_at, "ends_at": ends_at, "place": place, "notes": notes}
    try:
        if form.record_id is None:
            model: contract.AppointmentCreate | contract.AppointmentUpdate = contract.AppointmentCreate(
                kind=kind, **fields
            )
        else:
            model = contract.AppointmentUpdate(**fields)
    except ValidationError:
        return FormResult(None, {"end": t("form_err_end_before_start")})
    return FormResult(model.model_dump(mode="json", exclude_unset=True, exclude_none=True), {})
