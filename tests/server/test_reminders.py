"""Reminders: the preferences route, the donor's consent at booking, and the pass (reminders/due.py) at fixed
local times against the demo data, with a recording outbox and a fake table of linked numbers.

The demo (dates relative to the day the test database was seeded, in Mexico City time): madre.demo is the
guardian of Mateo (Siglo XXI) and Valentina (La Raza), padre.demo of Santiago (León), whose cycle 5 two days
ahead has its mixture ``lista``; rosa.soto and luis.torres have no linked number here. Every child has a
consultation tomorrow at 10:00; Santiago also has his laboratory tomorrow at 07:00.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

import pytest
from sqlalchemy import delete, select
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from carnet_contract.models import ReminderKind
from carnet_server.agenda.tables import Appointment
from carnet_server.audit import AuditEntry
from carnet_server.auth.tables import User
from carnet_server.blood_bank.tables import BloodBank, Booking, Slot
from carnet_server.context import Context
from carnet_server.db import utcnow
from carnet_server.incidents.tables import Incident, IncidentReply
from carnet_server.patients.tables import Cycle
from carnet_server.reminders import due, service
from carnet_server.reminders.tables import ReminderPreference, ReminderSent
from carnet_server.whatsapp.templates import Template
from tests.server.blood_bank_support import SXXI as SXXI_BANK
from tests.server.blood_bank_support import bank_id, body, open_day
from tests.server.conftest import assert_error
from tests.server.incident_support import principal, reopen_at, reply_at, report_at

Auth = Callable[[str], dict[str, str]]
URL = "/api/v1/me/reminders"
ALL_KINDS = ["quimioterapia_manana", "consulta_manana", "laboratorio_manana", "mezcla_lista", "reporte_respondido",
             "donacion_manana"]
#: The key prefix of every appointment reminder (the kind before the split into three: kept, so nothing goes twice).
APPOINTMENTS = "cita_manana"
MADRE_PHONE, PADRE_PHONE = "5215511110000", "5215522220000"


# ---- preferences over HTTP -------------------------------------------------------------------------------------


def test_an_account_that_never_chose_gets_every_kind(client: TestClient, auth: Auth) -> None:
    response = client.get(URL, headers=auth("madre.demo"))
    assert response.status_code == 200, response.text
    assert response.json() == {"kinds": ALL_KINDS}


def test_choosing_replaces_the_set_deduplicated_and_is_audited(client: TestClient, ctx: Context, auth: Auth) -> None:
    headers = auth("madre.demo")
    response = client.put(URL, json={"kinds": ["mezcla_lista", "consulta_manana", "mezcla_lista"]}, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json() == {"kinds": ["consulta_manana", "mezcla_lista"]}
    assert client.get(URL, headers=headers).json() == {"kinds": ["consulta_manana", "mezcla_lista"]}
    assert client.get(URL, headers=auth("padre.demo")).json() == {"kinds": ALL_KINDS}  # only her own account
    assert client.put(URL, json={"kinds": []}, headers=headers).json() == {"kinds": []}
    assert client.get(URL, headers=headers).json() == {"kinds": []}  # none is a choice, not the default
    with ctx.sessions() as session:
        entries = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "reminders.preferences.set").order_by(AuditEntry.id)
        ).all()
        madre = principal(ctx, "madre.demo").id
        assert [(e.actor_id, e.object_id, e.detail) for e in entries] == [
            (madre, madre, {"kinds": ["consulta_manana", "mezcla_lista"]}),
            (madre, madre, {"kinds": []}),
        ]


@pytest.mark.parametrize(("payload", "named"), [
    ({"kinds": ["consulta_manana", "horoscopo"]}, "kinds.1"),
    ({"kinds": ["cita_manana", "horoscopo"]}, "kinds.3"),  # the old kind reads as three
    ({"kinds": "cita_manana"}, "kinds"),
    ({"kinds": [None]}, "kinds.0"),
    ({}, "kinds"),
    ({"kinds": ["cita_manana"], "whatsapp": True}, "whatsapp"),
])
def test_bad_input_is_422_in_spanish_first_and_changes_nothing(client: TestClient, ctx: Context, auth: Auth,
                                                               payload: dict[str, Any], named: str) -> None:
    headers = auth("madre.demo")
    error = assert_error(client.put(URL, json=payload, headers=headers), 422, "validation_error")
    assert error["message"].startswith("Revisa estos datos:") and named in error["message"]
    english = assert_error(client.put(URL, json=payload, headers={**headers, "Accept-Language": "en"}), 422)
    assert english["message"].startswith("Please check these fields:")
    assert client.get(URL, headers=headers).json() == {"kinds": ALL_KINDS}
    with ctx.sessions() as session:
        assert session.scalar(select(ReminderPreference)) is None


def test_an_old_app_sending_cita_manana_chooses_the_three_appointment_kinds(client: TestClient, ctx: Context,
                                                                            auth: Auth) -> None:
    """An app from before the split queued {"kinds": ["cita_manana", …]} offline: it means all three."""
    headers = auth("madre.demo")
    response = client.put(URL, json={"kinds": ["reporte_respondido", "cita_manana"]}, headers=headers)
    assert response.status_code == 200, response.text
    three = ["quimioterapia_manana", "consulta_manana", "laboratorio_manana"]
    assert response.json() == {"kinds": [*three, "reporte_respondido"]}
    assert client.get(URL, headers=headers).json() == {"kinds": [*three, "reporte_respondido"]}
    # together with a new kind already in the list: each once
    again = client.put(URL, json={"kinds": ["consulta_manana", "cita_manana"]}, headers=headers)
    assert again.json() == {"kinds": three}
    with ctx.sessions() as session:
        stored = session.get_one(ReminderPreference, principal(ctx, "madre.demo").id).kinds
    assert stored == three and "cita_manana" not in client.get(URL, headers=headers).text
    # a value stored before the migration (or by an old server) reads the same way
    assert service.normalize(["cita_manana", "mezcla_lista"]) == [
        ReminderKind.CHEMOTHERAPY_TOMORROW, ReminderKind.CONSULTATION_TOMORROW, ReminderKind.LABORATORY_TOMORROW,
        ReminderKind.MIXTURE_READY]


def test_only_guardians(client: TestClient, auth: Auth) -> None:
    for user in ("casos.demo", "farmacia.demo", "admin.demo"):
        assert_error(client.get(URL, headers=auth(user)), 403, "forbidden")
        assert_error(client.put(URL, json={"kinds": []}, headers=auth(user)), 403, "forbidden")
    assert_error(client.get(URL), 401)
    assert_error(client.put(URL, json={"kinds": []}), 401)


def test_the_service_refuses_staff(ctx: Context) -> None:
    from carnet_server.domain_errors import NotAllowed

    with ctx.sessions() as session, pytest.raises(NotAllowed):
        service.set_preferences(session, principal(ctx, "casos.demo"), [ReminderKind.MIXTURE_READY], None)


# ---- the donor's consent at booking ----------------------------------------------------------------------------


def test_the_donor_consent_is_stored_and_returned(client: TestClient, ctx: Context, auth: Auth,
                                                  patient_ids: dict[str, str]) -> None:
    headers = auth("madre.demo")
    bank = bank_id(client, headers, SXXI_BANK)
    _day, slots = open_day(client, ctx, headers, bank)
    mateo = patient_ids["Mateo Hernández"]
    made = client.post("/api/v1/blood-bank/bookings", json=body(slots[0]["id"], mateo, reminder_consent=True),
                       headers=headers)
    assert made.status_code == 201, made.text
    assert made.json()["donor"]["reminder_consent"] is True
    plain = client.post("/api/v1/blood-bank/bookings", json=body(slots[1]["id"], mateo, full_name="Rosa Díaz Luna"),
                        headers=headers)
    assert plain.status_code == 201, plain.text
    assert plain.json()["donor"]["reminder_consent"] is False
    assert client.get(f"/api/v1/blood-bank/bookings/{made.json()['id']}",
                      headers=headers).json()["donor"]["reminder_consent"] is True
    with ctx.sessions() as session:
        assert session.get_one(Booking, made.json()["id"]).donor_reminder_consent is True
        assert session.get_one(Booking, plain.json()["id"]).donor_reminder_consent is False


# ---- the pass --------------------------------------------------------------------------------------------------


@dataclass
class Outbox:
    """Records what the pass queues, with the real outbox's answer to a used ``dedupe_key``."""

    calls: list[dict[str, Any]] = field(default_factory=list)

    def __call__(self, session: Session, *, phone: str, purpose: str, text: str | None = None,
                 body: dict[str, Any] | None = None, template: Template | None = None, user_id: str | None = None,
                 dedupe_key: str | None = None, now: datetime | None = None) -> bool:
        assert text is None and body is None and template is not None  # reminders are templates
        if any(c["dedupe_key"] == dedupe_key for c in self.calls):
            return False
        self.calls.append({"phone": phone, "purpose": purpose, "template": template, "user_id": user_id,
                           "dedupe_key": dedupe_key, "now": now})
        return True

    def of(self, kind: ReminderKind | str) -> list[dict[str, Any]]:
        """The calls whose key starts with ``kind`` (appointments: ``APPOINTMENTS``)."""
        prefix = kind.value if isinstance(kind, ReminderKind) else kind
        return [c for c in self.calls if c["dedupe_key"].startswith(f"{prefix}:")]


@dataclass
class Links:
    """The fake ``linked_phone``: user id → number."""

    phones: dict[str, str]

    def __call__(self, session: Session, user_id: str, /) -> str | None:
        return self.phones.get(user_id)


@dataclass
class World:
    ctx: Context
    today: date
    users: dict[str, str]
    outbox: Outbox
    links: Links

    def at(self, hour: int, minute: int = 0, *, days: int = 0) -> datetime:
        return datetime.combine(self.today + timedelta(days=days), time(hour, minute), tzinfo=self.ctx.tz)

    def run(self, now: datetime) -> int:
        with self.ctx.sessions() as session:
            return due.run_pass(session, now=now, tz=self.ctx.tz, enqueue=self.outbox, linked_phone=self.links)

    def choose(self, username: str, *kinds: ReminderKind) -> None:
        with self.ctx.sessions() as session:
            service.set_preferences(session, principal(self.ctx, username), kinds, None)


@pytest.fixture
def world(ctx: Context) -> World:
    with ctx.sessions() as session:
        users = {u.username: u.id for u in session.scalars(select(User))}
    links = Links({users["madre.demo"]: MADRE_PHONE, users["padre.demo"]: PADRE_PHONE})
    return World(ctx, ctx.today(utcnow()), users, Outbox(), links)


def _appointment(ctx: Context, patient_id: str, starts_at: datetime, *, kind: str = "quimioterapia",
                 status: str = "programada", place: str = "Hospital de Día, piso 2") -> str:
    with ctx.sessions() as session:
        row = Appointment(patient_id=patient_id, kind=kind, title="Prueba", starts_at=starts_at,
                          ends_at=starts_at + timedelta(hours=1), unit_id=None, place=place, status=status,
                          source="familia")
        session.add(row)
        session.commit()
        return row.id


def _tomorrows_keys(world: World, patient_ids: dict[str, str]) -> set[str]:
    """The appointment reminders due for the linked guardians' children tomorrow, read from the data."""
    lo, hi = world.at(0, days=1), world.at(0, days=2)
    guardians = {"Mateo Hernández": "madre.demo", "Valentina Hernández": "madre.demo",
                 "Santiago Ramírez": "padre.demo"}
    keys = set()
    with world.ctx.sessions() as session:
        for name, guardian in guardians.items():
            for row in session.scalars(select(Appointment).where(
                    Appointment.patient_id == patient_ids[name], Appointment.starts_at >= lo,
                    Appointment.starts_at < hi, Appointment.kind.in_(("quimioterapia", "consulta", "laboratorio")),
                    Appointment.status.not_in(("cancelada", "realizada")))):
                keys.add(f"cita_manana:{row.id}@{(world.today + timedelta(days=1)).isoformat()}:"
                         f"{world.users[guardian]}")
    return keys


def test_appointments_tomorrow_from_18_00_once_to_linked_guardians(world: World,
                                                                    patient_ids: dict[str, str]) -> None:
    mateo = patient_ids["Mateo Hernández"]
    session_id = _appointment(world.ctx, mateo, world.at(9, 30, days=1))
    cancelled = _appointment(world.ctx, mateo, world.at(11, 0, days=1), status="cancelada")
    study = _appointment(world.ctx, mateo, world.at(12, 0, days=1), kind="estudio")
    later = _appointment(world.ctx, mateo, world.at(9, 30, days=2))

    world.run(world.at(17, 0))
    world.run(world.at(17, 59))
    assert world.outbox.of(APPOINTMENTS) == []

    queued = world.run(world.at(18, 0))
    sent = world.outbox.of(APPOINTMENTS)
    assert queued >= len(sent) > 0
    keys = {c["dedupe_key"] for c in sent}
    assert keys == _tomorrows_keys(world, patient_ids)
    tomorrow = (world.today + timedelta(days=1)).isoformat()
    madre = world.users["madre.demo"]
    mine = next(c for c in sent if c["dedupe_key"] == f"cita_manana:{session_id}@{tomorrow}:{madre}")
    assert mine["phone"] == MADRE_PHONE and mine["user_id"] == madre and mine["purpose"] == "reminder"
    assert mine["template"] == Template("carnet_cita_manana",
                                        ["Mateo", "sesión de quimioterapia", "09:30", "Hospital de Día, piso 2"])
    assert mine["now"] == world.at(18, 0)
    assert not any(other in key for key in keys for other in (cancelled, study, later))
    # Santiago's laboratory tomorrow 07:00 (demo) goes to his father, with the unit in the place
    santiago = [c for c in sent if c["user_id"] == world.users["padre.demo"]]
    assert Template("carnet_cita_manana", ["Santiago", "cita de laboratorio", "07:00",
                                           "Laboratorio clínico, planta baja, ventanilla 3, "
                                           "UMAE Hospital de Gineco-Pediatría No. 48 León"]) in [
        c["template"] for c in santiago]
    # nobody without a linked number (Emiliano's and Camila's guardians)
    assert {c["phone"] for c in world.outbox.calls} <= {MADRE_PHONE, PADRE_PHONE}
    with world.ctx.sessions() as session:
        assert keys <= set(session.scalars(select(ReminderSent.key)))

    # once: the next passes that evening queue none of them again
    before = len(world.outbox.calls)
    assert world.run(world.at(18, 1)) == 0
    assert world.run(world.at(20, 59)) == 0
    assert len(world.outbox.calls) == before


def test_no_appointment_reminder_in_the_night(world: World, patient_ids: dict[str, str]) -> None:
    _appointment(world.ctx, patient_ids["Mateo Hernández"], world.at(9, 30, days=1))
    for hour in (21, 23):
        world.run(world.at(hour, 0))
    world.run(world.at(7, 0, days=1))  # the next morning it is "today", not "mañana"
    assert world.outbox.calls == []


def test_not_without_the_kind_chosen_nor_without_a_linked_number(world: World, patient_ids: dict[str, str]) -> None:
    world.choose("madre.demo", ReminderKind.MIXTURE_READY, ReminderKind.REPORT_ANSWERED)
    del world.links.phones[world.users["padre.demo"]]
    _appointment(world.ctx, patient_ids["Mateo Hernández"], world.at(9, 30, days=1))
    world.run(world.at(18, 30))
    assert world.outbox.of(APPOINTMENTS) == []
    # choosing it again later that evening: the reminder still goes, once
    world.choose("madre.demo", ReminderKind.CHEMOTHERAPY_TOMORROW)
    world.run(world.at(19, 0))
    sent = world.outbox.of(APPOINTMENTS)
    assert sent and {c["user_id"] for c in sent} == {world.users["madre.demo"]}


def test_each_appointment_kind_is_chosen_apart(world: World, patient_ids: dict[str, str]) -> None:
    mateo, madre = patient_ids["Mateo Hernández"], world.users["madre.demo"]
    made = {kind: _appointment(world.ctx, mateo, world.at(9 + n, 0, days=1), kind=kind)
            for n, kind in enumerate(("quimioterapia", "consulta", "laboratorio"))}
    for chosen, kind in ((ReminderKind.CONSULTATION_TOMORROW, "consulta"),
                         (ReminderKind.LABORATORY_TOMORROW, "laboratorio"),
                         (ReminderKind.CHEMOTHERAPY_TOMORROW, "quimioterapia")):
        world.choose("madre.demo", chosen)
        world.outbox.calls.clear()
        with world.ctx.sessions() as session:  # each round starts from nothing sent
            session.execute(delete(ReminderSent))
            session.commit()
        world.run(world.at(18, 0))
        mine = {c["dedupe_key"] for c in world.outbox.of(APPOINTMENTS) if c["user_id"] == madre}
        assert {key.split(":")[1].split("@")[0] for key in mine} & set(made.values()) == {made[kind]}, chosen


def _booking_tomorrow(ctx: Context, patient_id: str, guardian_id: str, *, consent: bool, phone: str,
                      at: datetime, folio: str, status: str = "confirmada") -> str:
    with ctx.sessions() as session:
        bank = session.scalars(select(BloodBank).where(BloodBank.name == SXXI_BANK)).one()
        slot = Slot(bank_id=bank.id, starts_at=at, ends_at=at + timedelta(minutes=30), capacity=4, booked=1)
        session.add(slot)
        session.flush()
        row = Booking(folio=folio, slot_id=slot.id, patient_id=patient_id, guardian_id=guardian_id,
                      donor_full_name="Héctor Domínguez Ruiz", donor_phone=phone, donor_birth_date=date(1990, 4, 15),
                      donor_weight_kg=72.5, donor_sex="hombre", donor_reminder_consent=consent, answers={},
                      status=status)
        session.add(row)
        session.commit()
        return row.id


def test_donor_reminder_only_with_consent_to_the_donors_phone(world: World, patient_ids: dict[str, str]) -> None:
    mateo, madre = patient_ids["Mateo Hernández"], world.users["madre.demo"]
    agreed = _booking_tomorrow(world.ctx, mateo, madre, consent=True, phone="55 1234-5678", at=world.at(8, 30, days=1),
                               folio="BS-T-1")
    refused = _booking_tomorrow(world.ctx, mateo, madre, consent=False, phone="5587654321",
                                at=world.at(9, 0, days=1), folio="BS-T-2")
    cancelled = _booking_tomorrow(world.ctx, mateo, madre, consent=True, phone="5587654322",
                                  at=world.at(9, 30, days=1), folio="BS-T-3", status="cancelada")
    bad_phone = _booking_tomorrow(world.ctx, mateo, madre, consent=True, phone="12345 67", at=world.at(10, 0, days=1),
                                  folio="BS-T-4")
    world.run(world.at(17, 30))
    assert world.outbox.of(ReminderKind.DONOR_TOMORROW) == []
    world.run(world.at(18, 0))
    world.run(world.at(18, 5))
    sent = world.outbox.of(ReminderKind.DONOR_TOMORROW)
    tomorrow = (world.today + timedelta(days=1)).isoformat()
    assert [c["dedupe_key"] for c in sent] == [f"donacion_manana:{agreed}@{tomorrow}:donor"]
    assert sent[0]["phone"] == "525512345678" and sent[0]["user_id"] is None
    assert sent[0]["template"] == Template("carnet_donacion_manana", ["Héctor", SXXI_BANK, "08:30"])
    assert not any(b in c["dedupe_key"] for c in world.outbox.calls for b in (refused, cancelled, bad_phone))


def test_the_guardian_who_booked_may_turn_the_donor_reminder_off(world: World, patient_ids: dict[str, str]) -> None:
    world.choose("madre.demo", ReminderKind.CHEMOTHERAPY_TOMORROW)
    _booking_tomorrow(world.ctx, patient_ids["Mateo Hernández"], world.users["madre.demo"], consent=True,
                      phone="5512345678", at=world.at(8, 30, days=1), folio="BS-T-5")
    world.run(world.at(18, 0))
    assert world.outbox.of(ReminderKind.DONOR_TOMORROW) == []


def _santiagos_ready_cycle(ctx: Context, patient_ids: dict[str, str]) -> Cycle:
    with ctx.sessions() as session:
        cycle = session.scalars(select(Cycle).where(Cycle.patient_id == patient_ids["Santiago Ramírez"],
                                                    Cycle.mixing_status == "lista")).one()
        session.expunge(cycle)
        return cycle


def test_mixture_ready_between_08_and_21_once(world: World, patient_ids: dict[str, str]) -> None:
    cycle = _santiagos_ready_cycle(world.ctx, patient_ids)
    world.run(world.at(7, 59))
    world.run(world.at(21, 0, days=-1))
    assert world.outbox.of(ReminderKind.MIXTURE_READY) == []
    world.run(world.at(8, 0))
    world.run(world.at(12, 0))
    sent = world.outbox.of(ReminderKind.MIXTURE_READY)
    assert [c["dedupe_key"] for c in sent] == [f"mezcla_lista:{cycle.id}:{world.users['padre.demo']}"]
    assert sent[0]["phone"] == PADRE_PHONE
    assert sent[0]["template"] == Template("carnet_mezcla_lista", ["Santiago", str(cycle.number)])


def test_mixture_ready_at_night_waits_for_the_morning(world: World, patient_ids: dict[str, str]) -> None:
    cycle = _santiagos_ready_cycle(world.ctx, patient_ids)
    for hour in (21, 22, 23):
        world.run(world.at(hour, 30, days=-1))
    for hour in (0, 5, 7):
        world.run(world.at(hour, 59))
    assert world.outbox.of(ReminderKind.MIXTURE_READY) == []
    world.run(world.at(8, 0))
    assert [c["dedupe_key"] for c in world.outbox.of(ReminderKind.MIXTURE_READY)] == [
        f"mezcla_lista:{cycle.id}:{world.users['padre.demo']}"]


def test_no_mixture_reminder_for_a_past_or_applied_cycle(world: World, patient_ids: dict[str, str]) -> None:
    cycle = _santiagos_ready_cycle(world.ctx, patient_ids)
    with world.ctx.sessions() as session:
        session.get_one(Cycle, cycle.id).status = "aplicado"
        session.commit()
    world.run(world.at(9, 0))
    world.run(world.at(9, 0, days=10))
    assert world.outbox.of(ReminderKind.MIXTURE_READY) == []


def test_report_answered_for_app_reports_while_the_answer_is_the_last_word(world: World,
                                                                         patient_ids: dict[str, str]) -> None:
    ctx, now = world.ctx, world.at(10, 0)
    mateo, valentina = patient_ids["Mateo Hernández"], patient_ids["Valentina Hernández"]
    answered = report_at(ctx, "madre.demo", mateo, now - timedelta(hours=3))
    reply_at(ctx, answered, now - timedelta(hours=1))
    reopened = report_at(ctx, "madre.demo", valentina, now - timedelta(hours=3))
    reply_at(ctx, reopened, now - timedelta(hours=2), "Se surtió en la farmacia de la UMAE.", resolves=True)
    reopen_at(ctx, reopened, now - timedelta(hours=1))
    by_whatsapp = report_at(ctx, "madre.demo", mateo, now - timedelta(hours=3), category="otro", item_name=None)
    with ctx.sessions() as session:
        session.get_one(Incident, by_whatsapp).channel = "whatsapp"
        session.commit()
    reply_at(ctx, by_whatsapp, now - timedelta(minutes=30))
    unanswered = report_at(ctx, "padre.demo", patient_ids["Santiago Ramírez"], now - timedelta(hours=3),
                           category="otro", item_name=None)

    world.run(now)
    world.run(now + timedelta(minutes=1))
    sent = world.outbox.of(ReminderKind.REPORT_ANSWERED)
    with ctx.sessions() as session:
        reply = session.scalars(select(IncidentReply).where(IncidentReply.incident_id == answered)).one()
        folio = session.get_one(Incident, answered).folio
    assert [c["dedupe_key"] for c in sent] == [f"reporte_respondido:{reply.id}:{world.users['madre.demo']}"]
    assert sent[0]["template"] == Template("carnet_reporte_respondido", [folio]) and sent[0]["phone"] == MADRE_PHONE
    assert not any(i in c["dedupe_key"] for c in sent for i in (reopened, by_whatsapp, unanswered))

    # a second answer to the same report is reminded too, once
    reply_at(ctx, answered, now + timedelta(minutes=5), "Le confirmamos la fecha de surtido: mañana.")
    world.run(now + timedelta(minutes=6))
    world.run(now + timedelta(minutes=7))
    assert len(world.outbox.of(ReminderKind.REPORT_ANSWERED)) == 2


def test_an_answer_in_the_night_is_reminded_in_the_morning_and_an_old_one_never(world: World,
                                                                                 patient_ids: dict[str, str]) -> None:
    ctx = world.ctx
    mateo = patient_ids["Mateo Hernández"]
    night = report_at(ctx, "madre.demo", mateo, world.at(20, 0, days=-1))
    reply_at(ctx, night, world.at(22, 0, days=-1))
    old = report_at(ctx, "madre.demo", mateo, world.at(9, 0, days=-3), category="otro", item_name=None)
    reply_at(ctx, old, world.at(10, 0, days=-3))
    world.run(world.at(23, 0, days=-1))
    assert world.outbox.of(ReminderKind.REPORT_ANSWERED) == []
    world.run(world.at(8, 0))
    sent = world.outbox.of(ReminderKind.REPORT_ANSWERED)
    assert len(sent) == 1 and old not in sent[0]["dedupe_key"]


def test_a_key_claimed_by_a_concurrent_pass_is_skipped(world: World, patient_ids: dict[str, str],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Another pass inserted a reminder's key after this one read the sent keys: the primary key refuses ours
    (in a savepoint), that reminder is skipped, and the others still go."""
    cycle = _santiagos_ready_cycle(world.ctx, patient_ids)
    mateo = patient_ids["Mateo Hernández"]
    first = _appointment(world.ctx, mateo, world.at(9, 30, days=1))
    tomorrow = (world.today + timedelta(days=1)).isoformat()
    taken = f"cita_manana:{first}@{tomorrow}:{world.users['madre.demo']}"
    with world.ctx.sessions() as session:
        session.add(ReminderSent(key=taken))
        session.commit()
    monkeypatch.setattr(due, "_sent_keys", lambda session, keys: [])  # as if read before the other pass wrote
    world.run(world.at(18, 0))
    keys = [c["dedupe_key"] for c in world.outbox.calls]
    assert taken not in keys
    assert f"mezcla_lista:{cycle.id}:{world.users['padre.demo']}" in keys
    assert set(keys) == _tomorrows_keys(world, patient_ids) - {taken} | {
        f"mezcla_lista:{cycle.id}:{world.users['padre.demo']}"} | {
        k for k in keys if k.startswith("reporte_respondido:")}


def test_donor_wa_id() -> None:
    assert due.donor_wa_id("55 1234-5678") == "525512345678"
    assert due.donor_wa_id("5512345678") == "525512345678"
    assert due.donor_wa_id("525512345678") is None  # the form takes 10 digits; anything else is not guessed
    assert due.donor_wa_id("123") is None

