"""Blood-bank bookings against the real server in process: donor form checks, the outbox (book, cancel, reschedule),
offline booking then sync, a lost answer, rejections with every reason, cached slots, and staff mode."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, time, timedelta

import httpx
import pytest
from sqlalchemy import select

from carnet.blood_bank.form import DonorForm, check_donor, not_eligible_on
from carnet.blood_bank.repository import bookable_days
from carnet.core.clock import MX
from carnet.core.i18n import Translator
from carnet.core.navigation import Phase, Screen
from carnet.data.outbox import OutboxState, WriteOp
from carnet.data.records import Mark
from carnet.shell.session import SESSION_SECRET, AppSession
from carnet_contract import models as contract
from carnet_server.blood_bank import bookings
from carnet_contract.eligibility import questions, rules
from carnet_server.blood_bank.tables import BloodBank, Booking
from carnet_server.i18n import t as server_text
from tests.support.inprocess_server import FaultTransport, InProcessServer

pytestmark = pytest.mark.anyio


def booking_day(today: date | None = None) -> date:
    """A Monday with slots (07:00–11:00, eight of them) in a week without any of the demo's bookings: the week
    after the one of its confirmed booking (on the first weekday from three days ahead)."""
    demo = (today or datetime.now(MX).date()) + timedelta(days=3)
    while demo.weekday() >= 5:
        demo += timedelta(days=1)
    return demo - timedelta(days=demo.weekday()) + timedelta(days=7)


DAY = booking_day()
#: 06:00 in Mexico City on a day with slots: every slot of that day is still ahead.
CLOCK = datetime.combine(DAY, time(6, 0), tzinfo=MX)
#: The server's questionnaire, and the answers that let a donor give blood.
QS = [contract.Question(id=q.id, text=q.text["es"], eligible_answer=q.eligible_answer) for q in questions()]
GOOD = {q.id: q.eligible_answer for q in QS}
DONOR = "Laura Hernández Ruiz"
SIGLO_XXI = "Banco Central de Sangre, CMN Siglo XXI"  # the bank of Mateo's unit, run by banco.demo


def good_form(patient: str = "p-mateo", slot: str = "s-1", **changes: object) -> DonorForm:
    form = DonorForm(patient_id=patient, slot_id=slot, full_name="Laura  Hernández Ruiz", phone="55 1234-5678",
                     birth_text="14/02/1990", weight_text="68,5", sex="mujer", answers=dict(GOOD))
    for name, value in changes.items():
        setattr(form, name, value)
    return form


# ---- the donor form (pure) --------------------------------------------------------------------


def test_good_form_gives_the_wire_body() -> None:
    result = check_donor(good_form(), QS, Translator(), today=date(2026, 5, 1), children={"p-mateo"})
    assert result.errors == {}
    body = contract.BookingCreate.model_validate(result.body)
    assert body.donor.full_name == "Laura Hernández Ruiz" and body.donor.phone == "5512345678"
    assert body.donor.weight_kg == 68.5 and body.donor.birth_date == date(1990, 2, 14)
    assert body.answers == GOOD and body.donor.last_donation_on is None


@pytest.mark.parametrize("locale, messages", [
    ("es-MX", {"full_name": "Escribe el nombre completo (al menos 3 letras).",
               "phone": "Escribe un teléfono de 10 dígitos, por ejemplo 55 1234 5678.",
               "birth": "La fecha de nacimiento debe ser una fecha pasada.",
               "weight": "Escribe el peso en kilos, por ejemplo 70 o 70.5.",
               "sex": "Elige mujer u hombre.",
               "last_donation": "Ese día no existe.",
               "answers": "Contesta todas las preguntas (faltan 1)."}),
    ("en", {"full_name": "Enter the full name (at least 3 letters).",
            "phone": "Enter a 10-digit phone number, for example 55 1234 5678.",
            "birth": "The date of birth must be in the past.",
            "weight": "Enter the weight in kilograms, for example 70 or 70.5.",
            "sex": "Choose woman or man.",
            "last_donation": "That day does not exist.",
            "answers": "Answer every question (1 left)."}),
])
def test_bad_form_says_what_is_wrong_per_field(locale: str, messages: dict[str, str]) -> None:
    form = good_form(full_name=" L ", phone="55 1234", birth_text="01/01/2030", weight_text="setenta", sex="",
                     last_donation_text="31/02/2024", answers=dict(list(GOOD.items())[1:]))
    result = check_donor(form, QS, Translator(locale), today=date(2026, 5, 1), children={"p-mateo"})
    assert result.body is None and result.errors == messages


def test_form_edge_cases() -> None:
    tr, today = Translator(), date(2026, 5, 1)
    check = lambda **kw: check_donor(good_form(**kw), QS, tr, today=today, children={"p-mateo"})  # noqa: E731
    assert check(birth_text="31/02/1990").errors == {"birth": "Ese día no existe."}
    assert check(birth_text="1990-02-14").errors == {"birth": "Escribe DD/MM/AAAA, p. ej. 05/12/2026."}
    assert check(weight_text="0").errors.keys() == {"weight"}
    assert check(weight_text="401").errors.keys() == {"weight"}
    assert check(weight_text="70 kg").errors == {}
    assert check(last_donation_text="02/05/2026").errors == {"last_donation": "Esa fecha todavía no llega."}
    assert check(last_donation_text="01/01/1980").errors.keys() == {"last_donation"}
    assert check(last_donation_text="01/11/2025").body["donor"]["last_donation_on"] == "2025-11-01"  # type: ignore[index]
    assert check(patient_id="p-santiago").errors.keys() == {"patient"}  # not a child of this account
    assert check_donor(good_form(), [], tr, today=today, children={"p-mateo"}).errors.keys() == {"answers"}


def test_the_phone_applies_the_servers_eligibility_rules_on_the_donation_day() -> None:
    """Age on the slot's day, weight, the 56 days since the last donation and the answers: the contract's rules,
    the same the server applies; a refusal is every reason, as the answer (no field error, no body)."""
    tr, today, on = Translator(), date(2026, 5, 1), date(2026, 5, 20)
    why = {r.id: r.message["es"] for r in rules()}

    def check(**kw: object) -> tuple[str, ...]:
        result = check_donor(good_form(**kw), QS, tr, today=today, children={"p-mateo"}, on=on)
        assert result.errors == {} and (result.body is None) == bool(result.refusal)
        return result.refusal

    assert check() == ()
    assert check(birth_text="21/05/2008") == (why["age"],)  # 17 on the day of the donation
    assert check(birth_text="20/05/2008") == ()  # 18 that very day
    assert check(birth_text="19/05/1960") == (why["age"],)  # 66
    assert check(weight_text="49.9") == (why["weight"],) and check(weight_text="50") == ()
    assert check(last_donation_text="26/03/2026") == (why["donation_interval"],)  # 55 days: too soon
    assert check(last_donation_text="25/03/2026") == ()  # 56 days
    assert check(weight_text="45", answers={**GOOD, "alcohol": True}) == (why["weight"], why["alcohol"])
    english = check_donor(good_form(weight_text="45"), QS, Translator("en"), today=today, children={"p-mateo"}, on=on)
    assert english.refusal == (next(r.message["en"] for r in rules() if r.id == "weight"),)
    # A question the phone's cached questionnaire does not have is left to the server.
    asked = [q for q in QS if q.id != "alcohol"]
    answers = {q.id: q.eligible_answer for q in asked}
    assert check_donor(good_form(answers=answers), asked, tr, today=today, children={"p-mateo"}, on=on).refusal == ()


def test_a_change_of_day_is_checked_on_the_phone_by_age_and_weight_only() -> None:
    donor = contract.DonorOut(full_name=DONOR, phone="5512345678", birth_date=date(2008, 5, 21), weight_kg=68,
                              sex=contract.DonorSex.MUJER)
    age = {lang: next(r.message[lang] for r in rules() if r.id == "age") for lang in ("es", "en")}
    assert not_eligible_on(donor, date(2026, 5, 21), Translator()) == ()  # 18 that day
    assert not_eligible_on(donor, date(2026, 5, 20), Translator()) == (age["es"],)
    assert not_eligible_on(donor, date(2026, 5, 20), Translator("en")) == (age["en"],)
    # The answers and the last donation are not on the phone: left to the server.
    assert not_eligible_on(donor.model_copy(update={"weight_kg": 49}), date(2026, 6, 1), Translator()) == (
        next(r.message["es"] for r in rules() if r.id == "weight"),)


def test_day_chips_are_only_days_the_bank_has_slots() -> None:
    saturday = date(2026, 12, 5)
    days = bookable_days(saturday, open_weekdays=[0, 1, 2, 3, 4, 5])
    assert date(2026, 12, 6) not in days and date(2026, 12, 13) not in days  # Sundays: no slots
    assert days[:2] == [saturday, date(2026, 12, 7)] and len(days) == 12
    assert date(2026, 12, 6) in bookable_days(saturday)  # the bank did not say: every day
    assert bookable_days(saturday, open_weekdays=[]) == []


async def test_on_a_sunday_the_first_day_offered_is_monday(make_session, secrets, server: InProcessServer) -> None:
    sunday = DAY - timedelta(days=1)
    assert sunday.weekday() == 6
    session = make_session(secrets, clock=lambda: datetime.combine(sunday, time(9, 0), tzinfo=MX))
    await session.start()
    await session.login("madre.demo", "carnet-demo")
    await session.blood_bank.open()
    session.blood_bank.pick_child(server.patient_id("Mateo Hernández"))
    await session.blood_bank.pick_bank(bank_id(server))
    ui = session.state.blood_bank
    days = session.blood_bank.days()
    assert days[0] == DAY and all(d.weekday() != 6 for d in days) and len(days) == 12
    assert ui.day == DAY and len(ui.slots) == 8  # Monday's slots, not an empty Sunday
    await session.close()


# ---- use cases against the server ----------------------------------------------------------------


def bank_id(server: InProcessServer, name: str = SIGLO_XXI) -> str:
    with server.db() as db:
        return db.scalars(select(BloodBank.id).where(BloodBank.name == name)).one()


def made(server: InProcessServer) -> list[Booking]:
    """The bookings the server made for this test's donor."""
    with server.db() as db:
        return list(db.scalars(select(Booking).where(Booking.donor_full_name == DONOR).order_by(Booking.created_at)))


def ours(session: AppSession) -> list:  # type: ignore[type-arg]
    """The family's bookings for this test's donor (the demo's own bookings aside)."""
    return [v for v in session.state.blood_bank.bookings if v.donor_name == DONOR]


async def _guardian(make_session, secrets, server: InProcessServer,  # type: ignore[no-untyped-def]
                    username: str = "madre.demo") -> AppSession:
    session = make_session(secrets, clock=lambda: CLOCK)
    await session.start()
    await session.login(username, "carnet-demo")
    assert session.state.phase is Phase.READY
    await session.blood_bank.open()
    ui = session.state.blood_bank
    assert session.state.screen is Screen.BLOOD_BANK and ui.banks and ui.questions
    session.blood_bank.pick_child(server.patient_id("Mateo Hernández"))
    await session.blood_bank.pick_bank(bank_id(server))
    await session.blood_bank.pick_day(DAY)
    assert len(ui.slots) == 8 and ui.slots[0].available == 4 and not ui.slots_cached
    return session


def _book(session: AppSession, slot_index: int = 0, **changes: object) -> bool:
    ui = session.state.blood_bank
    session.blood_bank.pick_slot(ui.slots[slot_index].id)
    assert session.state.screen is Screen.BOOKING_FORM and ui.form is not None
    form = good_form(patient=ui.form.patient_id, slot=ui.form.slot_id, **changes)
    for qid, value in form.answers.items():
        session.blood_bank.answer(qid, value)
    session.blood_bank.set_sex(form.sex)
    form.answers = ui.form.answers
    return session.blood_bank.submit(form)


async def test_offline_booking_is_pending_then_confirmed_once_with_folio(make_session, secrets,
                                                                        server: InProcessServer,
                                                                        net: FaultTransport) -> None:
    session = await _guardian(make_session, secrets, server)
    net.offline = True
    assert _book(session)
    [item] = session.scope.outbox.items()  # type: ignore[union-attr]
    assert (item.type, item.op, item.method, item.path) == ("blood_bank_booking", WriteOp.CREATE, "POST",
                                                            "/api/v1/blood-bank/bookings")
    [view] = ours(session)
    assert session.state.screen is Screen.BOOKING and session.state.blood_bank.selected_id == view.id
    assert view.mark is Mark.PENDING and view.status is None and view.folio is None
    assert view.bank is not None and view.bank.name == SIGLO_XXI
    await session.refresh()  # still offline
    assert session.state.online is False and session.scope.outbox.pending_count() == 1  # type: ignore[union-attr]

    net.offline = False
    await session.refresh()
    await session.refresh()
    [booked] = made(server)
    [view] = ours(session)
    assert view.mark is Mark.SYNCED and view.status is contract.BookingStatus.CONFIRMADA
    assert view.folio == booked.folio and view.id == booked.id and booked.status == "confirmada"
    assert session.state.blood_bank.selected_id == view.id
    assert session.scope.outbox.items() == []  # type: ignore[union-attr]
    # Its banco_de_sangre appointment came with the sync, into the agenda.
    assert any(i.appointment.id == booked.appointment_id
               and i.appointment.kind is contract.AppointmentKind.BANCO_DE_SANGRE for i in session.state.agenda.items)
    await session.close()


async def test_an_answer_lost_on_the_way_back_still_makes_one_booking(make_session, secrets,
                                                                      server: InProcessServer,
                                                                      net: FaultTransport) -> None:
    session = await _guardian(make_session, secrets, server)
    # The server books it… the phone never hears back.
    net.lose_answer("POST", "/api/v1/blood-bank/bookings", outcome=httpx.ReadError("connection reset"))
    assert _book(session)
    await session.refresh()
    assert len(made(server)) == 1 and session.scope.outbox.pending_count() == 1  # type: ignore[union-attr]
    session.scope.outbox.network_is_back(CLOCK + timedelta(days=1))  # type: ignore[union-attr]
    await session.refresh()
    assert len(made(server)) == 1, "the retry with the same Idempotency-Key created nothing new"
    assert net.count("/api/v1/blood-bank/bookings", "POST") == 2
    [view] = ours(session)
    assert view.status is contract.BookingStatus.CONFIRMADA and view.folio
    await session.close()


async def test_not_eligible_on_the_phone_is_an_answer_with_the_form_kept(make_session, secrets,
                                                                        server: InProcessServer) -> None:
    """The phone applies the server's rules before sending: the reasons come back as the answer, the form
    keeps what was typed, nothing is queued and the sync has nothing to warn about."""
    session = await _guardian(make_session, secrets, server)
    assert not _book(session, weight_text="45", answers={**GOOD, "fever_infection": True})
    ui = session.state.blood_bank
    why = {r.id: r.message["es"] for r in rules()}
    assert session.state.screen is Screen.BOOKING_FORM and ui.form is not None
    assert ui.form.refusal == [why["weight"], why["fever_infection"]] and ui.form.errors == {}
    assert ui.form.full_name == "Laura  Hernández Ruiz" and ui.form.weight_text == "45"
    assert ui.form.answers["fever_infection"] is True
    assert session.scope.outbox.items() == [] and session.state.sync.failed == []  # type: ignore[union-attr]
    assert made(server) == []
    await session.close()


async def test_a_refusal_from_the_server_is_an_answer_not_a_sync_failure(make_session, secrets, monkeypatch,
                                                                         server: InProcessServer) -> None:
    """A phone whose copy of the rules lags the server's sends the booking; the server's 422
    donor_not_eligible comes back as the answer: the form, filled as sent, with every reason — no failed
    item, no "Rechazada", nothing under the sync's failures — and it can be corrected and sent again."""
    monkeypatch.setattr("carnet.blood_bank.form.evaluate", lambda *a, **k: [])
    session = await _guardian(make_session, secrets, server)
    assert _book(session, weight_text="45", answers={**GOOD, "fever_infection": True})
    assert session.state.screen is Screen.BOOKING
    await session.refresh()
    ui = session.state.blood_bank
    why = {r.id: r.message["es"] for r in rules()}
    assert session.scope.outbox.items() == [] and session.state.sync.failed == []  # type: ignore[union-attr]
    assert ours(session) == [] and made(server) == []
    [refusal] = ui.refusals
    assert why["weight"] in refusal.reasons and why["fever_infection"] in refusal.reasons
    # The person was looking at the pending booking: the answer opens its form, filled as sent.
    assert session.state.screen is Screen.BOOKING_FORM and ui.form is not None
    assert ui.form.refusal == refusal.reasons and ui.form.refused_id == refusal.id
    assert (ui.form.full_name, ui.form.phone, ui.form.birth_text, ui.form.weight_text, ui.form.sex) == (
        DONOR, "5512345678", "14/02/1990", "45", "mujer")
    assert ui.form.answers["fever_infection"] is True and ui.form.slot_id == ui.slots[0].id
    # Corrected and sent again: the answer leaves, the booking is made.
    corrected = ui.form
    corrected.weight_text = "68"
    session.blood_bank.answer("fever_infection", False)
    assert session.blood_bank.submit(corrected)
    await session.refresh()
    assert ui.refusals == [] and session.scope.bookings.refusals() == []  # type: ignore[union-attr]
    [view] = ours(session)
    assert view.status is contract.BookingStatus.CONFIRMADA and view.folio
    await session.close()


async def test_a_refusal_seen_later_can_be_corrected_or_removed(make_session, secrets, monkeypatch,
                                                              server: InProcessServer) -> None:
    monkeypatch.setattr("carnet.blood_bank.form.evaluate", lambda *a, **k: [])
    session = await _guardian(make_session, secrets, server)
    assert _book(session, weight_text="45")
    session.blood_bank.close()  # back to the tab before the answer comes
    await session.refresh()
    ui = session.state.blood_bank
    assert session.state.screen is Screen.BLOOD_BANK and len(ui.refusals) == 1 and ui.form is None
    await session.blood_bank.correct(ui.refusals[0].id)
    assert session.state.screen is Screen.BOOKING_FORM and ui.form is not None and ui.form.weight_text == "45"
    session.blood_bank.close()
    session.blood_bank.forget_refusal(ui.refusals[0].id)
    assert ui.refusals == [] and session.scope.outbox.items() == []  # type: ignore[union-attr]
    await session.close()


async def test_slot_filled_while_offline_is_rejected_with_the_reason_then_retry(make_session, secrets,
                                                                               server: InProcessServer,
                                                                               net: FaultTransport) -> None:
    session = await _guardian(make_session, secrets, server)
    slot_id, bank = session.state.blood_bank.slots[0].id, bank_id(server)
    net.offline = True
    assert _book(session)
    # Others took the last places meanwhile: the bank's staff leave the slot no room.
    server.ok("banco.demo", "PATCH", f"/api/v1/blood-banks/{bank}/slots/{slot_id}", json={"capacity": 0})
    net.offline = False
    await session.refresh()
    [view] = ours(session)
    assert view.mark is Mark.FAILED and view.error == server_text("slot_full", "es")
    server.ok("banco.demo", "PATCH", f"/api/v1/blood-banks/{bank}/slots/{slot_id}", json={"capacity": 4})
    session.retry_item(view.item_id)  # type: ignore[arg-type]
    assert ours(session)[0].mark is Mark.PENDING
    await session.refresh()
    assert ours(session)[0].status is contract.BookingStatus.CONFIRMADA
    assert [b.slot_id for b in made(server)] == [slot_id]
    await session.close()


async def test_cancel_and_reschedule_go_through_the_outbox(make_session, secrets, server: InProcessServer) -> None:
    session = await _guardian(make_session, secrets, server)
    assert _book(session, 0)
    session.blood_bank.close()
    assert _book(session, 1)
    await session.refresh()
    first, second = sorted(ours(session), key=lambda v: v.slot.starts_at)  # type: ignore[union-attr]
    assert first.status is second.status is contract.BookingStatus.CONFIRMADA

    session.blood_bank.open_booking(first.id)
    session.blood_bank.ask_cancel(True)
    session.blood_bank.cancel(first.id)
    cancel = session.scope.outbox.items()[-1]  # type: ignore[union-attr]
    assert (cancel.op, cancel.path, cancel.body) == (WriteOp.UPDATE, "/api/v1/blood-bank/bookings/{record}/cancel",
                                                     None)
    assert next(v for v in ours(session) if v.id == first.id).mark is Mark.PENDING

    await session.blood_bank.start_reschedule(second.id)
    assert session.state.screen is Screen.BLOOD_BANK and session.state.blood_bank.rescheduling_id == second.id
    new_slot = session.state.blood_bank.slots[5]
    session.blood_bank.pick_slot(new_slot.id)
    move = session.scope.outbox.items()[-1]  # type: ignore[union-attr]
    assert move.path == "/api/v1/blood-bank/bookings/{record}/reschedule" and move.body == {"slot_id": new_slot.id}
    moved = next(v for v in session.state.blood_bank.bookings if v.id == second.id)
    assert moved.mark is Mark.PENDING and moved.slot is not None and moved.slot.id == new_slot.id
    assert session.state.screen is Screen.BOOKING

    await session.refresh()
    by_id = {v.id: v for v in session.state.blood_bank.bookings}
    assert by_id[first.id].status is contract.BookingStatus.CANCELADA and by_id[first.id].mark is Mark.SYNCED
    assert by_id[second.id].slot.id == new_slot.id and by_id[second.id].mark is Mark.SYNCED  # type: ignore[union-attr]
    on_server = {b.id: b for b in made(server)}
    assert on_server[first.id].status == "cancelada"
    assert on_server[second.id].slot_id == new_slot.id and on_server[second.id].status == "confirmada"
    await session.close()


async def _booked_for_tuesday(make_session, secrets, server: InProcessServer,  # type: ignore[no-untyped-def]
                              **changes: object):
    """A family's booking on the day after DAY (synced), its view, and a slot of DAY to move it to."""
    session = await _guardian(make_session, secrets, server)
    await session.blood_bank.pick_day(DAY + timedelta(days=1))
    assert _book(session, 0, **changes)
    await session.refresh()
    [view] = ours(session)
    assert view.status is contract.BookingStatus.CONFIRMADA and view.mark is Mark.SYNCED
    await session.blood_bank.start_reschedule(view.id)
    await session.blood_bank.pick_day(DAY)
    return session, view, session.state.blood_bank.slots[2]


async def test_a_change_of_time_refused_for_eligibility_is_an_answer_and_the_booking_keeps_its_time(
        make_session, secrets, server: InProcessServer) -> None:
    """The donor gave blood 56 days before the booked Tuesday: Monday is one day too soon. The phone cannot know
    (the last donation is not in the booking it holds); the server's 422 donor_not_eligible comes back as the
    answer beside the booking — which keeps its time — not as a failed write, nothing under the sync's failures.
    Another time can be chosen, or the answer put away."""
    last = (DAY + timedelta(days=1) - timedelta(days=56)).strftime("%d/%m/%Y")
    session, booked, monday = await _booked_for_tuesday(make_session, secrets, server, last_donation_text=last)
    session.blood_bank.pick_slot(monday.id)
    assert next(v for v in ours(session) if v.id == booked.id).mark is Mark.PENDING
    await session.refresh()
    why = next(r.message["es"] for r in rules() if r.id == "donation_interval")
    [view] = ours(session)
    assert session.scope.outbox.items() == [] and session.state.sync.failed == []  # type: ignore[union-attr]
    assert view.mark is Mark.SYNCED and view.status is contract.BookingStatus.CONFIRMADA
    assert view.slot == booked.slot and view.asked_slot is not None and view.asked_slot.id == monday.id
    assert view.refused == (why,)
    [on_server] = made(server)
    assert on_server.slot_id == booked.slot.id and on_server.status == "confirmada"  # type: ignore[union-attr]
    assert session.state.screen is Screen.BOOKING and session.state.blood_bank.message is None
    # Kept on the phone across a restart of the screen; put away when read.
    session.blood_bank.reload()
    assert ours(session)[0].refused == (why,)
    session.blood_bank.forget_refused_change(view.id)
    assert ours(session)[0].refused == () and ours(session)[0].asked_slot is None
    assert session.scope.bookings.refused_changes() == {}  # type: ignore[union-attr]
    await session.close()


async def test_a_change_of_time_the_phone_knows_is_refused_is_answered_at_once_and_nothing_is_sent(
        make_session, secrets, server: InProcessServer, net: FaultTransport) -> None:
    """The donor turns 18 on the booked Tuesday: on Monday they would be 17. The phone knows the birth date and the
    rules, so the answer comes at once, offline too, the same as the server's — and nothing is queued."""
    tuesday = DAY + timedelta(days=1)
    born = tuesday.replace(year=tuesday.year - 18).strftime("%d/%m/%Y")
    session, booked, monday = await _booked_for_tuesday(make_session, secrets, server, birth_text=born)
    net.offline = True
    session.blood_bank.pick_slot(monday.id)
    why = next(r.message["es"] for r in rules() if r.id == "age")
    [view] = ours(session)
    assert session.scope.outbox.items() == [] and session.state.sync.failed == []  # type: ignore[union-attr]
    assert view.slot == booked.slot and view.mark is Mark.SYNCED and view.refused == (why,)
    assert view.asked_slot is not None and view.asked_slot.id == monday.id
    assert session.state.screen is Screen.BOOKING and session.state.blood_bank.rescheduling_id is None
    assert session.state.blood_bank.message is None
    net.offline = False
    await session.refresh()
    [on_server] = made(server)
    assert on_server.slot_id == booked.slot.id  # type: ignore[union-attr]
    assert net.count(f"/api/v1/blood-bank/bookings/{booked.id}/reschedule", "POST") == 0
    await session.close()


async def test_a_new_time_asked_for_replaces_the_last_refusal(make_session, secrets,
                                                              server: InProcessServer) -> None:
    last = (DAY + timedelta(days=1) - timedelta(days=56)).strftime("%d/%m/%Y")
    session, booked, monday = await _booked_for_tuesday(make_session, secrets, server, last_donation_text=last)
    session.blood_bank.pick_slot(monday.id)
    await session.refresh()
    assert ours(session)[0].refused
    # "Elegir otro horario": a later slot on the same Tuesday is fine.
    await session.blood_bank.start_reschedule(booked.id)
    later = session.state.blood_bank.slots[4]
    session.blood_bank.pick_slot(later.id)
    assert ours(session)[0].refused == () and session.scope.bookings.refused_changes() == {}  # type: ignore[union-attr]
    await session.refresh()
    [view] = ours(session)
    assert view.slot is not None and view.slot.id == later.id and view.refused == () and view.mark is Mark.SYNCED
    await session.close()


async def test_a_change_of_time_that_failed_shows_the_bookings_own_time_and_the_one_asked_for(
        make_session, secrets, server: InProcessServer, net: FaultTransport) -> None:
    """The Monday slot fills while the phone is offline: the change fails (slot full, retry or discard) and the
    booking shows its own time, Tuesday's, which still holds — not Monday's as if it had moved."""
    session, booked, monday = await _booked_for_tuesday(make_session, secrets, server)
    net.offline = True
    session.blood_bank.pick_slot(monday.id)
    server.ok("banco.demo", "PATCH", f"/api/v1/blood-banks/{bank_id(server)}/slots/{monday.id}", json={"capacity": 0})
    net.offline = False
    await session.refresh()
    [view] = ours(session)
    assert view.mark is Mark.FAILED and view.error == server_text("slot_full", "es")
    assert view.slot == booked.slot and view.asked_slot is not None and view.asked_slot.id == monday.id
    assert view.refused == ()
    await session.close()


async def test_slots_work_offline_from_the_cache_with_when_they_were_fetched(make_session, secrets,
                                                                            server: InProcessServer,
                                                                            net: FaultTransport) -> None:
    session = await _guardian(make_session, secrets, server)
    net.offline = True
    await session.blood_bank.pick_day(DAY + timedelta(days=1))  # never fetched: nothing to show
    ui = session.state.blood_bank
    assert ui.slots == [] and ui.slots_cached and ui.slots_fetched_at is None
    await session.blood_bank.pick_day(DAY)
    assert len(ui.slots) == 8 and ui.slots_cached and ui.slots_fetched_at == CLOCK
    await session.close()


async def test_the_form_refuses_bad_input_and_queues_nothing(make_session, secrets, server: InProcessServer) -> None:
    session = await _guardian(make_session, secrets, server)
    assert not _book(session, phone="123")
    assert session.scope.outbox.items() == []  # type: ignore[union-attr]
    ui = session.state.blood_bank
    assert session.state.screen is Screen.BOOKING_FORM and ui.form is not None
    assert ui.form.errors == {"phone": "Escribe un teléfono de 10 dígitos, por ejemplo 55 1234 5678."}
    assert ui.message == "Revisa los campos marcados: no se guardó nada."
    await session.close()


# ---- staff ---------------------------------------------------------------------------------------


async def test_blood_bank_staff_see_today_check_in_and_counts(make_session, secrets, server: InProcessServer,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bookings, "utcnow", lambda: CLOCK.astimezone(UTC))  # the server's day is the booking's
    family = await _guardian(make_session, secrets, server)
    assert _book(family, 0)
    await family.refresh()
    assert len(made(server)) == 1
    await family.close()

    staff_secrets = type(secrets)()
    staff = make_session(staff_secrets, clock=lambda: CLOCK)
    await staff.start()
    await staff.login("banco.demo", "carnet-demo")
    ui = staff.state.staff
    assert staff.state.phase is Phase.READY and staff.state.screen is Screen.STAFF and staff.state.staff_mode
    assert [b.id for b in ui.banks] == [bank_id(server)], "only the banks of the staff member's units"
    [booking] = ui.bookings
    assert booking.patient_display_name == "Mateo Hernández" and booking.status is contract.BookingStatus.CONFIRMADA
    assert ui.counts == [("Mateo Hernández", 0, 0, 1)]
    await staff.staff.check_in(booking.id)
    assert ui.bookings[0].status is contract.BookingStatus.ASISTIO
    assert ui.message == "Llegada registrada: Laura Hernández Ruiz."
    assert ui.counts == [("Mateo Hernández", 1, 1, 1)]
    await staff.staff.no_show(booking.id)  # not confirmed any more: nothing sent
    assert [(b.id, b.status) for b in made(server)] == [(booking.id, "asistio")]
    # Online only, nothing kept: no session in the secret store, no record in the phone's store.
    assert SESSION_SECRET not in staff_secrets.data and staff.login_scope is None
    assert staff.store is not None and staff.store.get_kind(server.user_id("banco.demo"), "bb_booking") == {}
    await staff.logout()
    assert staff.state.phase is Phase.LOGIN and staff.api.tokens is None and staff.state.login_error is None
    await staff.close()


async def test_staff_tapping_on_two_days_while_the_first_loads_end_on_the_second(make_session, secrets,
                                                                                   server: InProcessServer) -> None:
    """A second tap on "Día siguiente" while the first day's list is still loading: the screen ends on the second
    day with that day's list, not on the first one when its late answer comes (seen in the browser under load)."""
    family = await _guardian(make_session, secrets, server)
    assert _book(family, 0)
    await family.refresh()
    await family.close()
    staff = make_session(type(secrets)(), clock=lambda: CLOCK - timedelta(days=2))
    await staff.start()
    await staff.login("banco.demo", "carnet-demo")
    ui = staff.state.staff
    assert ui.day == DAY - timedelta(days=2) and ui.bookings == []
    await asyncio.gather(staff.staff.move_day(1), staff.staff.move_day(1))
    assert ui.day == DAY and not ui.loading
    assert [b.donor.full_name for b in ui.bookings] == [DONOR]
    await staff.close()


async def test_staff_session_that_ends_goes_back_to_login(make_session, secrets, server: InProcessServer) -> None:
    staff = make_session(secrets, clock=lambda: CLOCK)
    await staff.start()
    await staff.login("banco.demo", "carnet-demo")
    server.revoke_all("banco.demo")
    await staff.staff.load()
    assert staff.state.phase is Phase.LOGIN and staff.state.login_error == "Tu sesión terminó. Inicia sesión de nuevo."
    await staff.close()


async def test_pharmacy_staff_get_their_own_screen_not_the_blood_bank(make_session, secrets) -> None:
    session = make_session(secrets)
    await session.start()
    await session.login("farmacia.demo", "carnet-demo")
    assert session.state.phase is Phase.READY and session.state.screen is Screen.PHARMACY
    assert session.state.pharmacy_mode and not session.state.staff.banks
    await session.close()


async def test_network_error_on_sync_keeps_the_item_pending_not_failed(make_session, secrets,
                                                                      server: InProcessServer,
                                                                      net: FaultTransport) -> None:
    session = await _guardian(make_session, secrets, server)
    net.fail("POST", "/api/v1/blood-bank/bookings", httpx.ConnectError("down"))
    assert _book(session)
    await session.refresh()
    [item] = session.scope.outbox.items()  # type: ignore[union-attr]
    assert item.state is OutboxState.PENDING and ours(session)[0].mark is Mark.PENDING
    assert made(server) == []
    await session.close()
