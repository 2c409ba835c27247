"""Routes of the blood-bank domain: banks and slots, the questionnaire, bookings, the staff day list."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query, Response

from carnet_contract import eligibility
from carnet_contract import models as contract
from carnet_server.agenda import service as agenda
from carnet_server.auth.deps import ClientAddress, ContextDep, CurrentUser, LangDep, SessionDep
from carnet_server.blood_bank import bookings, service
from carnet_server.db import utcnow
from carnet_server.idempotency.deps import IdempotencyDep
from carnet_server.limits import write_limit
from carnet_server.routes import api_router

router = api_router(prefix="/api/v1", tags=["blood bank"])

_ERRORS: dict[int | str, dict[str, Any]] = {code: {"model": contract.ErrorBody} for code in (401, 403, 404, 409, 422)}
DateQuery = Annotated[str, Query(max_length=40, description="A local (America/Mexico_City) date, YYYY-MM-DD")]


# ---- banks and slots ---------------------------------------------------------------------------


@router.get("/blood-banks", response_model=list[contract.BloodBank], responses=_ERRORS)
def list_banks(_user: CurrentUser, session: SessionDep) -> list[contract.BloodBank]:
    """Every blood bank (a family may book at any)."""
    weekdays = service.open_weekdays(session)
    out = [service.bank_out(b, open_weekdays=weekdays.get(b.id, [])) for b in service.list_banks(session)]
    session.rollback()
    return out


@router.get("/blood-banks/{bank_id}/slots", response_model=list[contract.Slot], responses=_ERRORS)
def list_slots(
    bank_id: str, date: DateQuery, _user: CurrentUser, session: SessionDep, ctx: ContextDep
) -> list[contract.Slot]:
    """The bank's slots on a local day, today to 60 days ahead (made from the weekly templates)."""
    now = utcnow()
    bank = service.get_bank(session, bank_id)
    day = service.parse_day(date, today=ctx.today(now), days_ahead=ctx.settings.blood_bank_days_ahead)
    slots = service.read_day(session, bank=bank, day=day, tz=ctx.tz)
    session.commit()
    return [service.slot_out(s, now=now) for s in slots]


@router.patch("/blood-banks/{bank_id}/slots/{slot_id}", response_model=contract.Slot, responses=_ERRORS)
def update_slot(
    bank_id: str,
    slot_id: str,
    body: contract.SlotUpdate,
    user: CurrentUser,
    session: SessionDep,
    address: ClientAddress,
) -> contract.Slot:
    """Staff: change the capacity (not below the places held: 409) or close/reopen; bookings stay."""
    slot = service.update_slot(session, principal=user, bank_id=bank_id, slot_id=slot_id, data=body, ip=address)
    out = service.slot_out(slot, now=utcnow())
    session.commit()
    return out


@router.get("/blood-bank/questionnaire", response_model=list[contract.Question], responses=_ERRORS)
def questionnaire(_user: CurrentUser, lang: LangDep, response: Response) -> list[contract.Question]:
    """The donor's yes/no questions, in the Accept-Language language; every one must be answered."""
    response.headers["Content-Language"] = "en" if lang == "en" else "es-MX"
    return [
        contract.Question(id=q.id, text=q.text[lang], eligible_answer=q.eligible_answer)
        for q in eligibility.questions()
    ]


# ---- guardian bookings -----------------------------------------------------------------------------


@router.post(
    "/blood-bank/bookings",
    status_code=201,
    response_model=contract.Booking,
    responses=_ERRORS,
    dependencies=[write_limit("bookings")],
)
def create_booking(
    body: contract.BookingCreate,
    user: CurrentUser,
    session: SessionDep,
    ctx: ContextDep,
    address: ClientAddress,
    idem: IdempotencyDep,
) -> Response:
    """A guardian books a donor for their child: 201, or 422 donor_not_eligible with every reason, 409 slot_full."""
    row = bookings.create(
        session, principal=user, data=body, tz=ctx.tz, daily_limit=ctx.settings.blood_bank_daily_limit, ip=address
    )
    return idem.respond(session, service.booking_out(row, now=utcnow()), status=201)


@router.get("/blood-bank/bookings", response_model=list[contract.Booking], responses=_ERRORS)
def list_bookings(
    user: CurrentUser, session: SessionDep, patient_id: Annotated[str | None, Query(max_length=64)] = None
) -> list[contract.Booking]:
    """A guardian's bookings (of one child with ``patient_id``), by slot time."""
    rows = bookings.list_for_guardian(session, principal=user, patient_id=patient_id)
    now = utcnow()
    out = [service.booking_out(r, now=now) for r in rows]
    session.rollback()
    return out


@router.get("/blood-bank/bookings/{booking_id}", response_model=contract.Booking, responses=_ERRORS)
def read_booking(booking_id: str, user: CurrentUser, session: SessionDep, address: ClientAddress) -> contract.Booking:
    """One booking (guardian of the child, the bank's staff, admin)."""
    row = bookings.get(session, principal=user, booking_id=booking_id)
    out = service.booking_out(row, now=utcnow())
    if user.role != "guardian":
        service.audit_staff(session, user, "blood_bank.booking.read", "blood_bank_booking", row.id, address)
    session.commit()
    return out


@router.post("/blood-bank/bookings/{booking_id}/cancel", response_model=contract.Booking, responses=_ERRORS)
def cancel_booking(
    booking_id: str, user: CurrentUser, session: SessionDep, address: ClientAddress, idem: IdempotencyDep
) -> Response:
    """Cancel (guardian of the child, or the bank's staff): 200 ``cancelada``; the place returns."""
    row = bookings.cancel(session, principal=user, booking_id=booking_id, ip=address)
    return idem.respond(session, service.booking_out(row, now=utcnow()), status=200)


@router.post("/blood-bank/bookings/{booking_id}/reschedule", response_model=contract.Booking, responses=_ERRORS)
def reschedule_booking(
    booking_id: str,
    body: contract.RescheduleRequest,
    user: CurrentUser,
    session: SessionDep,
    ctx: ContextDep,
    address: ClientAddress,
    idem: IdempotencyDep,
) -> Response:
    """Move to another slot: the new place is taken before the old one is freed; 409 slot_full changes nothing."""
    row = bookings.reschedule(
        session,
        principal=user,
        booking_id=booking_id,
        slot_id=body.slot_id,
        tz=ctx.tz,
        daily_limit=ctx.settings.blood_bank_daily_limit,
        ip=address,
    )
    return idem.respond(session, service.booking_out(row, now=utcnow()), status=200)


# ---- staff -------------------------------------------------------------------------------------------


@router.post("/blood-bank/bookings/{booking_id}/check-in", response_model=contract.Booking, responses=_ERRORS)
def check_in(
    booking_id: str,
    user: CurrentUser,
    session: SessionDep,
    ctx: ContextDep,
    address: ClientAddress,
    idem: IdempotencyDep,
    body: contract.CheckInRequest | None = None,
) -> Response:
    """Staff: the donor came — 200 ``asistio`` (only from ``confirmada``, else 409). Only on the booking's local
    day: on another day 422 ``check_in_wrong_day``, unless ``override_reason`` says why (422 ``reason_required``
    when it is too short)."""
    row = bookings.check_in(
        session,
        principal=user,
        booking_id=booking_id,
        tz=ctx.tz,
        override_reason=body.override_reason if body else None,
        ip=address,
    )
    return idem.respond(session, service.booking_out(row, now=utcnow()), status=200)


@router.post("/blood-bank/bookings/{booking_id}/undo-check-in", response_model=contract.Booking, responses=_ERRORS)
def undo_check_in(
    booking_id: str,
    body: contract.UndoCheckInRequest,
    user: CurrentUser,
    session: SessionDep,
    address: ClientAddress,
    idem: IdempotencyDep,
) -> Response:
    """Staff: a mistaken check-in is undone, with the reason — 200 ``confirmada`` again (only from ``asistio``,
    else 409 ``booking_not_checked_in``); the donor counts follow."""
    row = bookings.undo_check_in(session, principal=user, booking_id=booking_id, reason=body.reason, ip=address)
    return idem.respond(session, service.booking_out(row, now=utcnow()), status=200)


@router.post("/blood-bank/bookings/{booking_id}/no-show", response_model=contract.Booking, responses=_ERRORS)
def no_show(
    booking_id: str, user: CurrentUser, session: SessionDep, address: ClientAddress, idem: IdempotencyDep
) -> Response:
    """Staff: the donor did not come — 200 ``no_asistio`` (only from ``confirmada``, else 409)."""
    row = bookings.no_show(session, principal=user, booking_id=booking_id, ip=address)
    return idem.respond(session, service.booking_out(row, now=utcnow()), status=200)


@router.get("/blood-banks/{bank_id}/bookings", response_model=list[contract.StaffBooking], responses=_ERRORS)
def day_list(
    bank_id: str, date: DateQuery, user: CurrentUser, session: SessionDep, ctx: ContextDep, address: ClientAddress
) -> list[contract.StaffBooking]:
    """Staff: the bank's bookings on a local day, by time (every status)."""
    now = utcnow()
    day = service.parse_day(date, today=ctx.today(now), days_ahead=None)
    rows = bookings.day_list(session, principal=user, bank_id=bank_id, day=day, tz=ctx.tz, ip=address)
    out = [
        contract.StaffBooking(**service.booking_out(b, now=now).model_dump(), patient_display_name=name, notes=notes)
        for b, name, notes in rows
    ]
    session.commit()
    return out


@router.get("/blood-banks/{bank_id}/donor-counts", response_model=list[contract.DonorCount], responses=_ERRORS)
def donor_counts(
    bank_id: str,
    user: CurrentUser,
    session: SessionDep,
    ctx: ContextDep,
    address: ClientAddress,
    start: Annotated[str | None, Query(alias="from", max_length=40)] = None,
    end: Annotated[str | None, Query(alias="to", max_length=40)] = None,
) -> list[contract.DonorCount]:
    """Staff: per child, donors booked and donors who came at this bank in [from, to] (default: 200 days back)."""
    lo, hi = agenda.resolve_range(start, end, tz=ctx.tz, now=utcnow())
    out = bookings.donor_counts(session, principal=user, bank_id=bank_id, start=lo, end=hi, ip=address)
    session.commit()
    return out
