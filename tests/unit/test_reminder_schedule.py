"""The phone's own reminders (carnet/reminders/schedule.py) at fixed moments, and the notifier's reconciling
(carnet/reminders/notifier.py) against a recording plugin. Times are Mexico City's (the unit's clock)."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from carnet.core.i18n import Translator
from carnet.reminders.notifier import MemoryHanded, Notifier
from carnet.reminders.schedule import LocalNotification, notification_id, wanted
from carnet_contract import models as contract
from carnet_contract.models import ReminderKind

MX = ZoneInfo("America/Mexico_City")
ALL = frozenset(ReminderKind)
DAY = date(2026, 12, 10)  # a Thursday; "tomorrow" below is Friday 11
UNIT = {"id": "u1", "name": "UMAE Hospital de Pediatría CMN Siglo XXI", "level": "umae", "state": "Ciudad de México"}


def mx(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=MX)


TOMORROW = DAY + timedelta(days=1)


def appointment(record_id: str = "a1", *, kind: str = "quimioterapia", status: str = "programada",
                starts_at: datetime | None = None, place: str = "Hospital de Día, piso 2", unit: bool = True,
                patient_id: str = "p1") -> contract.Appointment:
    start = starts_at or mx(TOMORROW, 9, 30)
    return contract.Appointment.model_validate({
        "id": record_id, "patient_id": patient_id, "kind": kind, "title": "Prueba", "starts_at": start.astimezone(UTC),
        "ends_at": (start + timedelta(hours=1)).astimezone(UTC), "unit": UNIT if unit else None, "place": place,
        "status": status, "source": "hospital", "updated_at": mx(DAY, 8)})


def carnet(*cycles: dict[str, Any], patient_id: str = "p1", name: str = "Mateo Hernández") -> contract.Carnet:
    return contract.Carnet.model_validate({
        "patient": {"id": patient_id, "full_name": name + " López", "display_name": name, "nss": "39191945210",
                    "curp": "HELM190314HDFRPTA0", "birth_date": "2019-03-14", "unit": UNIT},
        "cycles": list(cycles), "qr": {"token": "t", "url": "https://x/v/t", "expires_at": mx(DAY, 23)},
        "generated_at": mx(DAY, 7)})


def cycle(record_id: str = "c1", *, number: int = 4, scheduled_for: date = TOMORROW, status: str = "confirmado",
          mixing: str = "lista", updated_at: datetime | None = None) -> dict[str, Any]:
    return {"id": record_id, "number": number, "scheduled_for": scheduled_for.isoformat(), "status": status,
            "mixing": {"status": mixing, "updated_at": updated_at}}


def booking(record_id: str = "b1", *, starts_at: datetime | None = None,
            status: str = "confirmada") -> contract.Booking:
    start = starts_at or mx(TOMORROW, 8, 30)
    bank = {"id": "bk1", "name": "Banco Central de Sangre, CMN Siglo XXI", "unit": UNIT, "address": "Av. Cuauhtémoc"}
    return contract.Booking.model_validate({
        "id": record_id, "folio": "BS-2026-000001", "patient_id": "p1", "bank": bank, "status": status,
        "slot": {"id": "s1", "bank_id": "bk1", "starts_at": start, "ends_at": start + timedelta(minutes=30),
                 "capacity": 4, "available": 3},
        "donor": {"full_name": "Héctor Domínguez Ruiz", "phone": "5512345678", "birth_date": "1990-04-15",
                  "weight_kg": 72.5, "sex": "hombre", "reminder_consent": False},
        "created_at": mx(DAY, 8), "updated_at": mx(DAY, 8)})


def incident(record_id: str = "i1", *, replies: list[tuple[str, datetime]], channel: str = "app") -> contract.Incident:
    return contract.Incident.model_validate({
        "id": record_id, "folio": "CE-2026-000123", "patient_id": "p1", "category": "medicamento", "unit": UNIT,
        "description": "Falta vincristina.", "status": "en_atencion", "created_at": mx(DAY, 7),
        "updated_at": mx(DAY, 7), "first_response_due_at": mx(DAY, 23), "channel": channel,
        "responses": [{"author_role": role, "author_label": "x", "message": "Respuesta concreta.", "created_at": at}
                      for role, at in replies]})


def run(now: datetime, kinds: frozenset[ReminderKind] = ALL, **records: Any) -> list[LocalNotification]:
    found = wanted(kinds=kinds, now=now, carnets=records.pop("carnets", [carnet()]), **records)
    assert all(n.at > now for n in found), "nothing in the past"
    return found


# ---- appointment tomorrow ---------------------------------------------------------------------------------------


def test_an_appointment_tomorrow_rings_at_18_00_the_day_before_in_spanish() -> None:
    [note] = run(mx(DAY, 9), appointments=[appointment()])
    assert note.at == mx(DAY, 18, 0)
    assert note.title == "Cita mañana"
    assert note.body == ("Mateo Hernández tiene sesión de quimioterapia mañana a las 09:30 en Hospital de Día, "
                         "piso 2, UMAE Hospital de Pediatría CMN Siglo XXI.")
    assert note.key == f"cita_manana:a1@{mx(TOMORROW, 9, 30).isoformat(timespec='minutes')}"
    assert note.id == notification_id(note.key) and 0 <= note.id < 2**31


def test_the_phones_own_zone_does_not_matter() -> None:
    """The unit's clock decides: the same instant given in UTC or in Tijuana gives the same notifications."""
    records = {"appointments": [appointment()], "carnets": [carnet(cycle(updated_at=mx(DAY, 9)))]}
    here = run(mx(DAY, 9), **records)
    assert run(mx(DAY, 9).astimezone(UTC), **records) == here
    assert run(mx(DAY, 9).astimezone(ZoneInfo("America/Tijuana")), **records) == here
    assert [n.at for n in here] == [mx(DAY, 9, 1), mx(DAY, 18)]


def test_english_is_available() -> None:
    [note] = run(mx(DAY, 9), appointments=[appointment(kind="consulta", unit=False, place="")],
                 translator=Translator("en"))
    assert note.title == "Appointment tomorrow"
    assert note.body == "Mateo Hernández has a consultation tomorrow at 09:30."


def test_the_same_records_give_the_same_ids_and_a_moved_appointment_a_new_one() -> None:
    first = run(mx(DAY, 9), appointments=[appointment()])
    again = run(mx(DAY, 12), appointments=[appointment()])
    moved = run(mx(DAY, 12), appointments=[appointment(starts_at=mx(TOMORROW, 11, 0))])
    assert [n.id for n in first] == [n.id for n in again]
    assert moved[0].id != first[0].id and moved[0].at == mx(DAY, 18)


@pytest.mark.parametrize(("kind", "status"), [
    ("estudio", "programada"), ("banco_de_sangre", "confirmada"), ("otro", "programada"),
    ("consulta", "cancelada"), ("laboratorio", "realizada"),
])
def test_only_chemotherapy_consultations_and_laboratory_still_on(kind: str, status: str) -> None:
    assert run(mx(DAY, 9), appointments=[appointment(kind=kind, status=status)]) == []


def test_after_18_00_it_is_caught_up_in_a_minute_until_21_00_then_dropped() -> None:
    [late] = run(mx(DAY, 19, 15), appointments=[appointment()])
    assert late.at == mx(DAY, 19, 16)
    assert run(mx(DAY, 20, 59), appointments=[appointment()]) == []  # a minute later is 21:00: the night
    assert run(mx(DAY, 22, 0), appointments=[appointment()]) == []
    assert run(mx(TOMORROW, 7, 0), appointments=[appointment()]) == []  # the day itself: no "mañana" any more


def test_an_appointment_far_ahead_is_scheduled_for_its_own_eve() -> None:
    [note] = run(mx(DAY, 9), appointments=[appointment(starts_at=mx(DAY + timedelta(days=20), 10))])
    assert note.at == mx(DAY + timedelta(days=19), 18)


def test_a_kind_not_chosen_gives_nothing() -> None:
    chosen = frozenset(ALL - set(contract.APPOINTMENT_REMINDERS.values()))
    assert run(mx(DAY, 9), chosen, appointments=[appointment()]) == []
    assert run(mx(DAY, 9), frozenset(), appointments=[appointment()], bookings=[booking()],
               carnets=[carnet(cycle())]) == []


def test_each_appointment_kind_is_chosen_apart() -> None:
    """Chemotherapy, consultation and laboratory are three switches; the key stays ``cita_manana:…`` for all
    three (the kind before the split), so an updated phone schedules nothing twice."""
    appointments = [
        appointment("a1", kind="quimioterapia", starts_at=mx(TOMORROW, 9)),
        appointment("a2", kind="consulta", starts_at=mx(TOMORROW, 10)),
        appointment("a3", kind="laboratorio", starts_at=mx(TOMORROW, 11)),
        appointment("a4", kind="estudio", starts_at=mx(TOMORROW, 12)),
    ]
    for kind, record in (
        (ReminderKind.CHEMOTHERAPY_TOMORROW, "a1"),
        (ReminderKind.CONSULTATION_TOMORROW, "a2"),
        (ReminderKind.LABORATORY_TOMORROW, "a3"),
    ):
        [note] = run(mx(DAY, 9), frozenset({kind}), appointments=appointments)
        assert note.key.startswith(f"cita_manana:{record}@"), kind
    both = run(mx(DAY, 9), frozenset({ReminderKind.CHEMOTHERAPY_TOMORROW, ReminderKind.LABORATORY_TOMORROW}),
               appointments=appointments)
    assert [n.key.split("@")[0] for n in both] == ["cita_manana:a1", "cita_manana:a3"]


def test_a_child_without_a_carnet_on_the_phone_is_named_plainly() -> None:
    [note] = run(mx(DAY, 9), appointments=[appointment(patient_id="other")])
    assert note.body.startswith("Tu hija o hijo tiene sesión de quimioterapia mañana")


# ---- donor tomorrow ----------------------------------------------------------------------------------------------


def test_a_confirmed_donor_booking_tomorrow_rings_at_18_00() -> None:
    [note] = run(mx(DAY, 9), bookings=[booking()])
    assert note.at == mx(DAY, 18) and note.title == "Donación de sangre mañana"
    assert note.body == "Héctor dona sangre para Mateo Hernández mañana a las 08:30 en Banco Central de Sangre, " \
                        "CMN Siglo XXI."
    assert run(mx(DAY, 9), bookings=[booking(status="cancelada")]) == []
    assert run(mx(DAY, 9), bookings=[booking(status="asistio")]) == []


# ---- mixture ready -----------------------------------------------------------------------------------------------


def test_a_ready_mixture_rings_at_once_in_the_day_and_at_08_00_after_a_night() -> None:
    [note] = run(mx(DAY, 10), carnets=[carnet(cycle(updated_at=mx(DAY, 9, 58)))])
    assert note.at == mx(DAY, 10, 1) and note.title == "Mezcla lista"
    assert note.body == "La mezcla del ciclo 4 de Mateo Hernández ya está lista en la farmacia."
    [night] = run(mx(DAY, 22, 30), carnets=[carnet(cycle(updated_at=mx(DAY, 22, 0)))])
    assert night.at == mx(TOMORROW, 8, 0)
    [early] = run(mx(DAY, 6, 0), carnets=[carnet(cycle(updated_at=mx(DAY, 5, 0)))])
    assert early.at == mx(DAY, 8, 0)


def test_a_ready_mixture_stops_mattering_once_its_day_is_over() -> None:
    ready = carnet(cycle(scheduled_for=DAY, updated_at=mx(DAY - timedelta(days=2), 10)))
    assert [n.at for n in run(mx(DAY, 12), carnets=[ready])] == [mx(DAY, 12, 1)]
    assert run(mx(DAY, 21, 30), carnets=[ready]) == []
    assert run(mx(TOMORROW, 9), carnets=[ready]) == []


@pytest.mark.parametrize(("status", "mixing"), [("confirmado", "en_preparacion"), ("confirmado", "entregada"),
                                                ("aplicado", "lista"), ("diferido", "lista")])
def test_no_mixture_reminder_otherwise(status: str, mixing: str) -> None:
    assert run(mx(DAY, 10), carnets=[carnet(cycle(status=status, mixing=mixing, updated_at=mx(DAY, 9)))]) == []


# ---- report answered ---------------------------------------------------------------------------------------------


def test_an_answer_that_is_the_last_word_rings_within_24_hours() -> None:
    answered = incident(replies=[("case_desk", mx(DAY, 9, 30))])
    [note] = run(mx(DAY, 10), incidents=[answered])
    assert note.at == mx(DAY, 10, 1) and note.title == "Tu reporte tiene respuesta"
    assert note.body == "El reporte CE-2026-000123 tiene una respuesta nueva. Ábrelo en Mis reportes."
    assert note.key == "reporte_respondido:i1#1"
    assert run(mx(TOMORROW, 9, 28), incidents=[answered])  # still within 24 hours (rings 09:29)
    assert run(mx(TOMORROW, 9, 30), incidents=[answered]) == []
    # the family answered after it, a WhatsApp report (its chat has the answer), no answer at all
    spoke_last = incident(replies=[("case_desk", mx(DAY, 9)), ("guardian", mx(DAY, 9, 45))])
    assert run(mx(DAY, 10), incidents=[spoke_last]) == []
    assert run(mx(DAY, 10), incidents=[incident(replies=[("case_desk", mx(DAY, 9, 30))], channel="whatsapp")]) == []
    assert run(mx(DAY, 10), incidents=[incident(replies=[])]) == []


def test_a_second_answer_is_a_new_notification() -> None:
    one = run(mx(DAY, 10), incidents=[incident(replies=[("case_desk", mx(DAY, 9, 30))])])
    two = run(mx(DAY, 12), incidents=[incident(replies=[("case_desk", mx(DAY, 9, 30)), ("guardian", mx(DAY, 10)),
                                                        ("case_desk", mx(DAY, 11, 50))])])
    assert one[0].id != two[0].id and two[0].key == "reporte_respondido:i1#3"


def test_soonest_first_and_each_record_once() -> None:
    found = run(mx(DAY, 10), appointments=[appointment(), appointment()], bookings=[booking()],
                carnets=[carnet(cycle(updated_at=mx(DAY, 9)))],
                incidents=[incident(replies=[("case_desk", mx(DAY, 9, 30))])])
    assert [n.key.split(":")[0] for n in found] == ["mezcla_lista", "reporte_respondido", "cita_manana",
                                                     "donacion_manana"]
    assert [n.at for n in found] == sorted(n.at for n in found)


# ---- the notifier ------------------------------------------------------------------------------------------------


class Pending:
    def __init__(self, ident: int) -> None:
        self.id = ident


class FakePlugin:
    """Like flet-notifications: schedules, cancels, lists what is pending; a notification "rings" when told."""

    def __init__(self) -> None:
        self.pending: dict[int, tuple[datetime, str, str, str]] = {}
        self.calls: list[tuple[str, int]] = []
        self.fail_schedule = False

    async def schedule(self, id: int, when: datetime, title: str | None = None,  # noqa: A002 - its keywords
                       body: str | None = None, payload: str = "") -> None:
        if self.fail_schedule:
            raise RuntimeError("schedule_failed")
        self.calls.append(("schedule", id))
        self.pending[id] = (when, title or "", body or "", payload)

    async def cancel(self, id: int) -> None:  # noqa: A002
        self.calls.append(("cancel", id))
        self.pending.pop(id, None)

    async def get_pending_notifications(self) -> list[Pending]:
        return [Pending(i) for i in self.pending]

    def ring_until(self, now: datetime) -> None:
        self.pending = {i: p for i, p in self.pending.items() if p[0] > now}


def test_the_notifier_schedules_new_cancels_stale_and_never_twice() -> None:
    plugin, handed = FakePlugin(), MemoryHanded()
    notifier = Notifier(plugin, handed)
    chemo, consult = appointment("a1"), appointment("a2", kind="consulta", starts_at=mx(TOMORROW, 10))
    chemo_id = notification_id(f"cita_manana:a1@{mx(TOMORROW, 9, 30).isoformat(timespec='minutes')}")
    consult_id = notification_id(f"cita_manana:a2@{mx(TOMORROW, 10).isoformat(timespec='minutes')}")
    first = run(mx(DAY, 9), appointments=[chemo, consult])
    done = asyncio.run(notifier.reconcile(first))
    assert set(done.scheduled) == {chemo_id, consult_id} and done.cancelled == ()
    when, title, body, payload = plugin.pending[chemo_id]
    assert when == mx(DAY, 18) and title == "Cita mañana" and payload.startswith("cita_manana:a1@") and "Mateo" in body
    assert handed.ids == {chemo_id, consult_id}

    # the same wish again: nothing to do
    again = asyncio.run(notifier.reconcile(run(mx(DAY, 10), appointments=[chemo, consult])))
    assert again.scheduled == () and again.cancelled == ()

    # the consultation is cancelled: its notification goes; the other stays
    consult_off = appointment("a2", kind="consulta", status="cancelada", starts_at=mx(TOMORROW, 10))
    done = asyncio.run(notifier.reconcile(run(mx(DAY, 11), appointments=[chemo, consult_off])))
    assert done.cancelled == (consult_id,) and set(plugin.pending) == {chemo_id}

    # it rings at 18:00; a sync at 18:30 still wants it ("in a minute"), but it is not scheduled again
    plugin.ring_until(mx(DAY, 18, 0))
    late = run(mx(DAY, 18, 30), appointments=[chemo])
    assert [n.id for n in late] == [chemo_id] and late[0].at == mx(DAY, 18, 31)
    assert asyncio.run(notifier.reconcile(late)).scheduled == ()
    assert plugin.pending == {}
    # once it no longer matters it is forgotten, so the set of handed ids stays small
    asyncio.run(notifier.reconcile(run(mx(DAY, 21, 30), appointments=[chemo])))
    assert handed.ids == set()


def test_a_missed_moment_is_handed_once_and_then_kept() -> None:
    plugin = FakePlugin()
    notifier = Notifier(plugin)
    [late] = run(mx(DAY, 19), appointments=[appointment()])
    assert asyncio.run(notifier.reconcile([late])).scheduled == (late.id,)
    # a minute later the wish moves ("in a minute" from the new now): the pending one is neither moved nor cancelled
    [later] = run(mx(DAY, 19) + timedelta(seconds=30), appointments=[appointment()])
    done = asyncio.run(notifier.reconcile([later]))
    assert done.scheduled == () and done.cancelled == () and plugin.pending[late.id][0] == mx(DAY, 19, 1)


def test_signing_out_cancels_what_has_not_rung_and_leaves_the_rest_alone() -> None:
    plugin = FakePlugin()
    plugin.pending[12345] = (mx(DAY, 23), "ajena", "", "")  # not ours
    notifier = Notifier(plugin)
    asyncio.run(notifier.reconcile(run(mx(DAY, 9), appointments=[appointment()])))
    done = asyncio.run(notifier.clear())
    assert len(done.cancelled) == 1 and set(plugin.pending) == {12345}


def test_without_a_plugin_nothing_happens_and_errors_do_not_escape() -> None:
    assert not Notifier(None).available
    assert asyncio.run(Notifier(None).reconcile(run(mx(DAY, 9), appointments=[appointment()]))).scheduled == ()
    plugin = FakePlugin()
    plugin.fail_schedule = True
    notifier = Notifier(plugin)
    done = asyncio.run(notifier.reconcile(run(mx(DAY, 9), appointments=[appointment()])))
    assert done.failed == 1 and done.scheduled == () and plugin.pending == {}
    plugin.fail_schedule = False  # the next sync tries again (nothing was handed)
    assert len(asyncio.run(notifier.reconcile(run(mx(DAY, 9), appointments=[appointment()]))).scheduled) == 1


def test_no_plugin_on_the_web_on_a_desktop_or_without_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    from types import SimpleNamespace

    from carnet.shell import notifications

    def page(web: bool, platform: str | None) -> Any:
        return SimpleNamespace(web=web, platform=SimpleNamespace(value=platform) if platform else None)

    assert notifications.notification_plugin(page(True, None)) is None
    assert notifications.notification_plugin(page(False, "linux")) is None

    def missing(name: str) -> Any:
        raise ImportError(name)

    monkeypatch.setattr(notifications.importlib, "import_module", missing)
    assert notifications.notification_plugin(page(False, "android")) is None
