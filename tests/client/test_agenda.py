"""Agenda logic (no UI): month marks, day lists, filters, next appointment, pending overlay, form checks."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from carnet.agenda.repository import AgendaItem, add_months, days_with_appointments, filter_items, merge, month_weeks, next_appointment, on_day, upcoming
from carnet.data.records import Mark
from carnet.agenda.form import AppointmentForm, check_form, form_for, parse_date
from carnet.core.i18n import CATALOG, Translator
from carnet.data.outbox import OutboxItem, OutboxState, WriteOp
from carnet_contract import models as contract

NOW = datetime(2026, 12, 10, 18, 0, tzinfo=UTC)  # 12:00 in Mexico City


def appt(aid: str, starts: datetime, *, patient: str = "p-mateo", kind: str = "consulta",
         status: str = "programada", source: str = "hospital", title: str | None = None) -> contract.Appointment:
    return contract.Appointment(id=aid, patient_id=patient, kind=kind, title=title or aid, starts_at=starts,
                                ends_at=starts + timedelta(hours=1), status=status, source=source,
                                updated_at=NOW)


def items(*appointments: contract.Appointment) -> list[AgendaItem]:
    return [AgendaItem(a) for a in appointments]


def test_month_marks_use_mexico_city_days() -> None:
    # 03:00 UTC on 1 Jan is still 31 Dec (21:00) in Mexico City.
    late = appt("late", datetime(2027, 1, 1, 3, 0, tzinfo=UTC))
    mid = appt("mid", datetime(2026, 12, 15, 16, 0, tzinfo=UTC))
    other_month = appt("nov", datetime(2026, 11, 30, 16, 0, tzinfo=UTC))
    found = items(late, mid, other_month)
    assert days_with_appointments(found, 2026, 12) == {15, 31}
    assert days_with_appointments(found, 2027, 1) == set()
    assert [i.id for i in on_day(found, date(2026, 12, 31))] == ["late"]


def test_month_grid_and_month_moves() -> None:
    weeks = month_weeks(2026, 12)
    assert weeks[0][:2] == [None, date(2026, 12, 1)]  # 1 Dec 2026 is a Tuesday; weeks start on Monday
    assert sum(1 for week in weeks for d in week if d) == 31
    assert add_months(date(2026, 12, 10), 1) == date(2027, 1, 1)
    assert add_months(date(2026, 1, 31), -1) == date(2025, 12, 1)


def test_day_list_filters_and_upcoming() -> None:
    a = appt("a", datetime(2026, 12, 11, 15, 0, tzinfo=UTC), kind="quimioterapia")
    b = appt("b", datetime(2026, 12, 11, 14, 0, tzinfo=UTC), patient="p-valentina")
    c = appt("c", datetime(2026, 12, 12, 15, 0, tzinfo=UTC), status="cancelada")
    d = appt("d", datetime(2026, 12, 1, 15, 0, tzinfo=UTC))  # past
    e = appt("e", datetime(2026, 12, 20, 15, 0, tzinfo=UTC), patient="p-valentina", kind="laboratorio")
    found = items(a, b, c, d, e)
    assert [i.id for i in on_day(found, date(2026, 12, 11))] == ["b", "a"]  # by time
    assert [i.id for i in filter_items(found, patient_id="p-valentina")] == ["b", "e"]
    assert [i.id for i in filter_items(found, kind=contract.AppointmentKind.QUIMIOTERAPIA)] == ["a"]
    assert [i.id for i in filter_items(found, patient_id="p-valentina",
                                       kind=contract.AppointmentKind.LABORATORIO)] == ["e"]
    assert [i.id for i in upcoming(found, NOW)] == ["b", "a", "e"]  # not past, not cancelled
    assert next_appointment(found, "p-mateo", NOW).id == "a"  # type: ignore[union-attr]
    assert next_appointment(found, "p-santiago", NOW) is None


def _outbox_item(seq: int, op: WriteOp, record_id: str, body: dict | None, *,
                 state: OutboxState = OutboxState.PENDING) -> OutboxItem:
    return OutboxItem(id=f"i{seq}", seq=seq, created_at=NOW, state=state, attempts=0, next_attempt_at=None,
                      type="appointment", op=op, method="X", path="/", body=body, record_id=record_id,
                      patient_id="p-mateo", label="", error=None, error_kind=None)


def test_pending_writes_show_at_once_over_the_synced_records() -> None:
    synced = {"h": appt("h", datetime(2026, 12, 11, 15, 0, tzinfo=UTC)),
              "f": appt("f", datetime(2026, 12, 12, 15, 0, tzinfo=UTC), source="familia"),
              "g": appt("g", datetime(2026, 12, 13, 15, 0, tzinfo=UTC), source="familia")}
    start = datetime(2026, 12, 14, 15, 0, tzinfo=UTC)
    create = {"kind": "estudio", "title": "Rayos X", "starts_at": start.isoformat(),
              "ends_at": (start + timedelta(hours=1)).isoformat(), "place": "", "notes": ""}
    outbox = [
        _outbox_item(1, WriteOp.CREATE, "local-1", create),
        _outbox_item(2, WriteOp.UPDATE, "f", {"title": "Consulta cambiada"}),
        _outbox_item(3, WriteOp.DELETE, "g", None),
        _outbox_item(4, WriteOp.UPDATE, "local-1", {"notes": "Llevar estudios previos"},
                     state=OutboxState.FAILED),
    ]
    merged = {i.id: i for i in merge(synced, outbox)}
    assert set(merged) == {"h", "f", "local-1"}  # the pending deletion hides "g"
    assert merged["h"].mark is Mark.SYNCED
    assert merged["f"].mark is Mark.PENDING and merged["f"].appointment.title == "Consulta cambiada"
    assert merged["local-1"].appointment.title == "Rayos X"
    assert merged["local-1"].appointment.notes == "Llevar estudios previos"
    assert merged["local-1"].mark is Mark.FAILED and merged["local-1"].editable
    # Once created, the local id maps to the server's and later edits land on that record.
    merged = {i.id: i for i in merge({"srv": appt("srv", start, source="familia")},
                                     [_outbox_item(5, WriteOp.UPDATE, "local-1", {"title": "Rayos X (2)"})],
                                     lambda rid: "srv" if rid == "local-1" else rid)}
    assert merged["srv"].appointment.title == "Rayos X (2)" and merged["srv"].mark is Mark.PENDING


def _form(**changes: str) -> AppointmentForm:
    values = {"record_id": None, "patient_id": "p-mateo", "kind": "laboratorio", "title": "Biometría",
              "date_text": "15/12/2026", "start_text": "08:30", "end_text": "09:15", "place": "Lab 2",
              "notes": ""}
    values.update(changes)
    return AppointmentForm(**values)  # type: ignore[arg-type]


def test_form_gives_a_body_in_utc_aware_times() -> None:
    result = check_form(_form(), Translator("es-MX"), children={"p-mateo"})
    assert result.errors == {} and result.body is not None
    created = contract.AppointmentCreate.model_validate(result.body)
    assert created.starts_at == datetime(2026, 12, 15, 14, 30, tzinfo=UTC)  # 08:30 in Mexico City (UTC-6)
    assert created.kind == contract.AppointmentKind.LABORATORIO and created.place == "Lab 2"
    edit = check_form(_form(record_id="a1"), Translator("es-MX"), children={"p-mateo"})
    assert edit.body is not None and "kind" not in edit.body  # PATCH can't change the kind
    contract.AppointmentUpdate.model_validate(edit.body)


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"title": "   "}, "title", "Escribe un título."),
    ({"date_text": "2026-12-15"}, "date", "Escribe DD/MM/AAAA, p. ej. 05/12/2026."),
    ({"date_text": "31/02/2026"}, "date", "Ese día no existe."),
    ({"date_text": "29/02/2027"}, "date", "Ese día no existe."),
    ({"start_text": "25:00"}, "start", "Escribe la hora como HH:MM, por ejemplo 09:30."),
    ({"end_text": "08:00"}, "end", "La hora de fin debe ser después de la hora de inicio."),
    ({"kind": "quimioterapia"}, "kind", "Elige consulta, laboratorio, estudio u otro."),
    ({"patient_id": "p-otro"}, "patient", "Elige a la o el paciente."),
    ({"title": "x" * 121}, "title", "Máximo 120 caracteres."),
])
def test_bad_input_gets_a_clear_spanish_message(changes: dict[str, str], field: str, message: str) -> None:
    result = check_form(_form(**changes), Translator("es-MX"), children={"p-mateo"})
    assert result.body is None and result.errors[field] == message


@pytest.mark.parametrize(("text", "parsed", "message"), [
    ("31/02/2026", None, "That day does not exist."),
    ("29/02/2027", None, "That day does not exist."),  # 2027 is not a leap year
    ("29/02/2028", date(2028, 2, 29), None),  # 2028 is
    ("2026-02-28", None, "Use DD/MM/YYYY, e.g. 05/12/2026."),
    ("28 feb", None, "Use DD/MM/YYYY, e.g. 05/12/2026."),
])
def test_a_day_that_does_not_exist_is_told_apart_from_a_bad_format(text: str, parsed: date | None,
                                                                   message: str | None) -> None:
    assert parse_date(text) == parsed
    errors = check_form(_form(date_text=text), Translator("en"), children={"p-mateo"}).errors
    assert errors.get("date") == message


def test_date_messages_fit_a_360_px_field() -> None:
    """The field's error line holds about 40 characters at 360 px (it may wrap too, but should not need to)."""
    for locale in ("es-MX", "en"):
        tr = Translator(locale)
        assert all(len(tr.t(key)) <= 40 for key in ("form_err_date", "form_err_no_such_day")), locale


def test_bad_input_in_english() -> None:
    result = check_form(_form(end_text="07:00"), Translator("en"), children={"p-mateo"})
    assert result.errors == {"end": "The end time must be after the start time."}


def test_edit_form_shows_mexico_city_time() -> None:
    form = form_for(appt("a", datetime(2026, 12, 15, 14, 30, tzinfo=UTC), source="familia"))
    assert (form.date_text, form.start_text, form.end_text) == ("15/12/2026", "08:30", "09:30")


def test_every_enumeration_has_words_in_both_languages() -> None:
    keys = ([f"kind.{k.value}" for k in contract.AppointmentKind]
            + [f"appt_status.{s.value}" for s in contract.AppointmentStatus]
            + [f"source.{s.value}" for s in contract.AppointmentSource]
            + [f"op.{o.value}" for o in WriteOp])
    for locale in ("es-MX", "en"):
        missing = [k for k in keys if k not in CATALOG[locale]]
        assert missing == [], (locale, missing)
    assert Translator("es-MX").month_year(date(2026, 12, 1)) == "diciembre 2026"
    assert Translator("en").long_date(date(2026, 12, 1)) == "Tuesday 1 Dec 2026"
