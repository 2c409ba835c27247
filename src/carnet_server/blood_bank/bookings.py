"""Donor bookings: create, cancel, reschedule, check-in, no-show, the day list and the counts (no HTTP).

No overbooking, on SQLite and PostgreSQL alike: a place is taken only by

    UPDATE slots SET booked = booked + 1 WHERE id = :id AND NOT closed AND booked < capacity

and a rowcount of 0 means full (or closed). PostgreSQL re-checks the WHERE on
the newest row version after waiting for the row lock; SQLite runs one writer
at a time. A reschedule takes the new place first and frees the old one after,
in the same transaction, so it either moves or changes nothing.

Locks are always taken in one order — patient, booking, slots (by id), folio
counter, sync counter — so concurrent bookings, moves and cancellations queue
instead of deadlocking. The patient row lock (PostgreSQL; SQLite serialises
anyway) makes the per-child daily limit exact: it is counted after the place is
taken, while no other booking of the same child can commit.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, bindparam, case, exists, func, insert, select, update
from sqlalchemy.orm import Session

from carnet_contract import eligibility
from carnet_contract import models as contract
from carnet_contract.models import AppointmentKind, AppointmentStatus, BookingStatus, Role, SyncType
from carnet_server import audit
from carnet_server.agenda import service as agenda
from carnet_server.auth.service import Principal
from carnet_server.auth.tables import User
from carnet_server.blood_bank.service import (
    ID_RE,
    BookingNotFound,
    audit_staff,
    booking_out,
    day_bounds,
    get_slot,
    read_slot,
    staff_bank,
    works_at,
)
from carnet_server.blood_bank.tables import BloodBank, Booking, CheckInNote, FolioCounter, Slot
from carnet_server.db import UTCDateTime, dialect_insert, new_id, rowcount, utcnow
from carnet_server.domain_errors import Conflict, Invalid, NotAllowed, Reason
from carnet_server.patients.service import PatientNotFound, guardian_sees, visible_patient
from carnet_server.patients.tables import GuardianPatient, Patient
from carnet_server.sync import service as sync

__all__ = [
    "NotEligible",
    "cancel",
    "check_in",
    "next_folio",
    "create",
    "day_list",
    "donor_counts",
    "get",
    "list_for_guardian",
    "load_for_sync",
    "no_show",
    "reschedule",
    "undo_check_in",
]

ACTIVE = BookingStatus.CONFIRMADA.value


class NotEligible(Invalid):
    """The donor may not give blood now; ``reasons``: every rule failed, in both languages."""

    code = "donor_not_eligible"

    def __init__(self, reasons: Sequence[eligibility.Reason]) -> None:
        super().__init__()
        self.reasons = tuple(Reason(r.code, messages=r.message) for r in reasons)


def load_for_sync(session: Session, ids: Sequence[str]) -> Mapping[str, dict[str, Any]]:
    """Sync loader: the bookings with these ids, as ``Booking`` JSON."""
    now = utcnow()
    out: dict[str, dict[str, Any]] = {}
    for start in range(0, len(ids), 500):
        for row in session.scalars(select(Booking).where(Booking.id.in_(ids[start : start + 500]))):
            out[row.id] = booking_out(row, now=now).model_dump(mode="json")
    return out


# ---- visibility -------------------------------------------------------------------------


def get(session: Session, *, principal: Principal, booking_id: str) -> Booking:
    """The booking, if the caller may see it: a guardian of the child, the bank's staff, an admin."""
    if principal.role not in (Role.GUARDIAN, Role.BLOOD_BANK, Role.ADMIN):
        raise NotAllowed()
    row = session.get(Booking, booking_id) if ID_RE.fullmatch(booking_id) else None
    if row is None:
        raise BookingNotFound()
    if principal.role == Role.GUARDIAN:
        linked = session.get(GuardianPatient, (principal.id, row.patient_id))
        if linked is None:
            raise BookingNotFound()
    elif not works_at(session, principal, row.slot.bank.unit_id):
        raise BookingNotFound()
    return row


def list_for_guardian(session: Session, *, principal: Principal, patient_id: str | None) -> list[Booking]:
    """A guardian's bookings (one child, or every linked child), by slot time."""
    if principal.role != Role.GUARDIAN:
        raise NotAllowed()
    query = select(Booking).join(Slot, Slot.id == Booking.slot_id)
    if patient_id is not None:
        patient = _patient(session, principal, patient_id)
        query = query.where(Booking.patient_id == patient.id)
    else:
        query = query.where(
            exists().where(GuardianPatient.patient_id == Booking.patient_id, GuardianPatient.user_id == principal.id)
        )
    return list(session.scalars(query.order_by(Slot.starts_at, Booking.folio)))


def _patient(session: Session, principal: Principal, patient_id: str) -> Patient:
    if not ID_RE.fullmatch(patient_id):
        raise PatientNotFound()
    return visible_patient(session, principal=principal, patient_id=patient_id)


# ---- the atomic steps -------------------------------------------------------------------


def _lock_patient(session: Session, patient_id: str) -> None:
    # FOR UPDATE on PostgreSQL. Not on SQLite: it would render a plain SELECT, and its writers are serial anyway
    # (the daily count below is read after this transaction's first write, which waits for every other writer).
    if session.get_bind().dialect.name == "postgresql":
        session.execute(_LOCK_PATIENT, {"patient_id": patient_id})


def _take_place(session: Session, slot_id: str) -> int:
    """Take a place if there is one; returns the places now held."""
    booked = session.execute(_TAKE_PLACE, {"slot": slot_id}).scalar_one_or_none()
    if booked is not None:
        return int(booked)
    closed = session.scalar(select(Slot.closed).where(Slot.id == slot_id))
    raise Conflict("slot_closed" if closed else "slot_full")


def _free_place(session: Session, slot_id: str) -> None:
    session.execute(
        update(Slot)
        .where(Slot.id == slot_id, Slot.booked > 0)
        .values(booked=Slot.booked - 1)
        .execution_options(synchronize_session=False)
    )


def _check_daily_limit(
    session: Session, *, patient_id: str, day: date, tz: ZoneInfo, limit: int, moving: str | None = None
) -> None:
    """Counted after the place is taken (under the patient lock): exact under concurrency."""
    lo, hi = day_bounds(day, tz)
    values = {"patient_id": patient_id, "lo": lo, "hi": hi, "moving": moving or ""}
    if int(session.scalar(_DAY_COUNT, values) or 0) >= limit:
        raise Conflict("daily_limit_reached", limit=limit)


def next_folio(session: Session, year: int) -> str:
    """``BS-{year}-{n:06d}`` from one upsert: atomic on both databases, a rollback gives it back."""
    value = session.execute(_next_folio(dialect_insert(session)), {"year": year}).scalar_one()
    return f"BS-{year}-{int(value):06d}"


# The statements of a booking, built once and over the tables rather than the mapped classes: the ORM's paths for
# an UPDATE or a column read cost two to three times the statement itself (#20).
_SLOTS, _BOOKINGS, _PATIENTS = Slot.__table__, Booking.__table__, Patient.__table__
_INSERT_BOOKING = insert(_BOOKINGS)
_LOCK_PATIENT = select(_PATIENTS.c.id).where(_PATIENTS.c.id == bindparam("patient_id")).with_for_update()
#: The place taken only while the slot is open and has room; RETURNING the places now held (none: full or closed).
_TAKE_PLACE = (
    update(_SLOTS)
    .where(_SLOTS.c.id == bindparam("slot"), _SLOTS.c.closed.is_(False), _SLOTS.c.booked < _SLOTS.c.capacity)
    .values(booked=_SLOTS.c.booked + 1)
    .returning(_SLOTS.c.booked)
)
#: The child's bookings that hold a place on one local day (but the one being moved: ``moving``, or "").
_DAY_COUNT = (
    select(func.count())
    .select_from(_BOOKINGS.join(_SLOTS, _SLOTS.c.id == _BOOKINGS.c.slot_id))
    .where(
        _BOOKINGS.c.patient_id == bindparam("patient_id"),
        _BOOKINGS.c.status != BookingStatus.CANCELADA.value,
        _SLOTS.c.starts_at >= bindparam("lo", type_=UTCDateTime),
        _SLOTS.c.starts_at < bindparam("hi", type_=UTCDateTime),
        _BOOKINGS.c.id != bindparam("moving"),
    )
)


@functools.cache
def _next_folio(dialect_insert: Callable[..., Any]) -> Any:
    counters = FolioCounter.__table__
    statement = dialect_insert(counters).values(year=bindparam("year"), value=1)
    return statement.on_conflict_do_update(index_elements=["year"], set_={"value": counters.c.value + 1}).returning(
        counters.c.value
    )


# ---- guardian writes ----------------------------------------------------------------------


def _check_open(slot: Slot, now: datetime) -> None:
    if slot.closed or slot.starts_at <= now:
        raise Conflict("slot_closed")


def _check_room(slot: Slot) -> None:
    """A slot already full, as read: 409 at once, without a write. Only a shortcut — the conditional UPDATE stays
    what makes capacity exact — but in a rush on one slot (200 families at once) the many refused no longer
    queue for the write lock behind the few who get a place."""
    if slot.booked >= slot.capacity:
        raise Conflict("slot_full")


def _eligible(donor: contract.DonorIn, answers: Mapping[str, bool], *, on: date, today: date) -> None:
    try:
        eligibility.validate_answers(answers)
    except eligibility.InvalidAnswers as exc:
        raise Invalid(
            "answers_invalid", missing=", ".join(exc.missing) or "—", unknown=", ".join(exc.unknown) or "—"
        ) from exc
    if donor.last_donation_on is not None and donor.last_donation_on > today:
        raise Invalid("last_donation_in_future")
    reasons = eligibility.evaluate(eligibility.Donor.of(donor, answers, on=on))
    if reasons:
        raise NotEligible(reasons)


def _place(bank: BloodBank) -> str:
    return f"{bank.name}, {bank.address}"


def create(
    session: Session,
    *,
    principal: Principal,
    data: contract.BookingCreate,
    tz: ZoneInfo,
    daily_limit: int,
    ip: str | None,
    now: datetime | None = None,
) -> Booking:
    """A guardian books a place for a donor of their child (eligibility first, then one atomic step)."""
    if principal.role != Role.GUARDIAN:
        raise NotAllowed()
    now = now or utcnow()
    if not ID_RE.fullmatch(data.patient_id) or not guardian_sees(
        session, user_id=principal.id, patient_id=data.patient_id
    ):
        raise PatientNotFound()
    patient_id = data.patient_id
    slot = read_slot(session, data.slot_id)
    day = slot.starts_at.astimezone(tz).date()
    _eligible(data.donor, data.answers, on=day, today=now.astimezone(tz).date())
    _check_open(slot, now)
    _check_room(slot)
    _lock_patient(session, patient_id)
    # The places now held, as the UPDATE left them: the answer's ``available`` without reading the slot again.
    slot.booked = _take_place(session, slot.id)
    _check_daily_limit(session, patient_id=patient_id, day=day, tz=tz, limit=daily_limit)
    donor = data.donor
    # Written at once with one INSERT each, no ORM unit of work (a flush cost several times its statements; #20):
    # the appointment first (the booking names it), numbered with the booking in one counter update, then the
    # booking and its audit row.
    values: dict[str, Any] = {
        "id": new_id(),
        "folio": next_folio(session, now.astimezone(tz).year),
        "slot_id": slot.id,
        "patient_id": patient_id,
        "guardian_id": principal.id,
        "donor_full_name": donor.full_name,
        "donor_phone": donor.phone,
        "donor_birth_date": donor.birth_date,
        "donor_weight_kg": donor.weight_kg,
        "donor_sex": donor.sex.value,
        "donor_last_donation_on": donor.last_donation_on,
        "donor_reminder_consent": donor.reminder_consent,
        "answers": dict(data.answers),
        "status": ACTIVE,
        "checked_in_at": None,
        "appointment_id": new_id(),
        "created_at": now,
        "updated_at": now,
    }
    bank = slot.bank
    agenda.add_linked(
        session,
        appointment_id=values["appointment_id"],
        patient_id=patient_id,
        kind=AppointmentKind.BANCO_DE_SANGRE,
        title=f"Donación de sangre: {donor.full_name.split()[0]}",
        starts_at=slot.starts_at,
        ends_at=slot.ends_at,
        unit_id=bank.unit_id,
        place=_place(bank),
        notes=f"Folio {values['folio']}. {bank.instructions}".strip(),
        status=AppointmentStatus.CONFIRMADA,
        created_by=principal.id,
        now=now,
        synced_with=[(SyncType.BLOOD_BANK_BOOKING, values["id"], patient_id, False)],
    )
    session.execute(_INSERT_BOOKING, values)
    audit.record_now(
        session,
        action="blood_bank.booking.create",
        actor_id=principal.id,
        actor_role=principal.role,
        object_type="blood_bank_booking",
        object_id=values["id"],
        ip=ip,
        detail={"patient_id": patient_id, "slot_id": slot.id, "folio": values["folio"]},
    )
    # The booking as written, for the answer; not attached to the session (nothing here reads it back).
    return Booking(**values, slot=slot)


def cancel(
    session: Session, *, principal: Principal, booking_id: str, ip: str | None, now: datetime | None = None
) -> Booking:
    """The guardian (or the bank's staff) cancels; the place returns to the slot."""
    now = now or utcnow()
    row = get(session, principal=principal, booking_id=booking_id)
    slot_id = session.execute(
        update(Booking)
        .where(Booking.id == row.id, Booking.status == ACTIVE)
        .values(status=BookingStatus.CANCELADA.value, updated_at=now)
        .returning(Booking.slot_id)
        .execution_options(synchronize_session=False)
    ).scalar_one_or_none()
    if slot_id is None:
        raise Conflict("booking_not_active")
    _free_place(session, slot_id)
    agenda.change_linked(session, appointment_id=row.appointment_id, now=now, status=AppointmentStatus.CANCELADA)
    audit_staff(
        session,
        principal,
        "blood_bank.booking.cancel",
        "blood_bank_booking",
        row.id,
        ip,
        {"patient_id": row.patient_id, "slot_id": slot_id},
    )
    sync.touch(session, type=SyncType.BLOOD_BANK_BOOKING, record_id=row.id, patient_id=row.patient_id)
    session.expire_all()
    return session.get_one(Booking, row.id)


def reschedule(
    session: Session,
    *,
    principal: Principal,
    booking_id: str,
    slot_id: str,
    tz: ZoneInfo,
    daily_limit: int,
    ip: str | None,
    now: datetime | None = None,
) -> Booking:
    """Move a confirmed booking: take the new place, then free the old one — or change nothing."""
    if principal.role != Role.GUARDIAN:
        raise NotAllowed()
    now = now or utcnow()
    row = get(session, principal=principal, booking_id=booking_id)
    new = get_slot(session, slot_id)
    if row.status != ACTIVE:
        raise Conflict("booking_not_active")
    if new.id == row.slot_id:
        raise Invalid("same_slot")
    day = new.starts_at.astimezone(tz).date()
    donor = contract.DonorIn.model_construct(
        full_name=row.donor_full_name,
        phone=row.donor_phone,
        birth_date=row.donor_birth_date,
        weight_kg=row.donor_weight_kg,
        sex=contract.DonorSex(row.donor_sex),
        last_donation_on=row.donor_last_donation_on,
    )
    _eligible(donor, row.answers, on=day, today=now.astimezone(tz).date())
    _check_open(new, now)
    _lock_patient(session, row.patient_id)
    old_id = session.execute(
        select(Booking.slot_id).where(Booking.id == row.id, Booking.status == ACTIVE).with_for_update()
    ).scalar_one_or_none()
    if old_id is None:
        raise Conflict("booking_not_active")
    if old_id == new.id:
        raise Invalid("same_slot")
    session.execute(select(Slot.id).where(Slot.id.in_([old_id, new.id])).order_by(Slot.id).with_for_update())
    _take_place(session, new.id)
    moved = session.execute(
        update(Booking)
        .where(Booking.id == row.id, Booking.status == ACTIVE, Booking.slot_id == old_id)
        .values(slot_id=new.id, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if rowcount(moved) != 1:
        raise Conflict("booking_not_active")
    _check_daily_limit(session, patient_id=row.patient_id, day=day, tz=tz, limit=daily_limit, moving=row.id)
    _free_place(session, old_id)
    bank = new.bank
    agenda.change_linked(
        session,
        appointment_id=row.appointment_id,
        now=now,
        starts_at=new.starts_at,
        ends_at=new.ends_at,
        unit_id=bank.unit_id,
        place=_place(bank)[:200],
        status=AppointmentStatus.REPROGRAMADA,
    )
    audit_staff(
        session,
        principal,
        "blood_bank.booking.reschedule",
        "blood_bank_booking",
        row.id,
        ip,
        {"patient_id": row.patient_id, "from_slot_id": old_id, "slot_id": new.id},
    )
    sync.touch(session, type=SyncType.BLOOD_BANK_BOOKING, record_id=row.id, patient_id=row.patient_id)
    session.expire_all()
    return session.get_one(Booking, row.id)


# ---- staff ------------------------------------------------------------------------------------


#: A reason given by staff (an out-of-day check-in, an undone check-in) has at least this many characters.
MIN_REASON_CHARS = 5


def _reason(text: str | None) -> str:
    reason = (text or "").strip()
    if len(reason) < MIN_REASON_CHARS:
        raise Invalid("reason_required", chars=MIN_REASON_CHARS)
    return reason


def _staff_booking(session: Session, principal: Principal, booking_id: str) -> Booking:
    if principal.role not in (Role.BLOOD_BANK, Role.ADMIN):
        raise NotAllowed()
    return get(session, principal=principal, booking_id=booking_id)


def _note(session: Session, principal: Principal, booking_id: str, action: str, reason: str, now: datetime) -> str:
    note = CheckInNote(booking_id=booking_id, action=action, reason=reason, actor_id=principal.id, at=now)
    session.add(note)
    session.flush()
    return note.id


def check_in(
    session: Session,
    *,
    principal: Principal,
    booking_id: str,
    tz: ZoneInfo,
    override_reason: str | None,
    ip: str | None,
    now: datetime | None = None,
) -> Booking:
    """Staff: the donor came — ``asistio``, on the booking's local day only; on another day only with
    ``override_reason`` (422 ``check_in_wrong_day`` without one; the reason is kept as a note and audited)."""
    now = now or utcnow()
    row = _staff_booking(session, principal, booking_id)
    if row.status != ACTIVE:
        raise Conflict("booking_not_active")  # (said before the day: a reason would not help)
    day, today = row.slot.starts_at.astimezone(tz).date(), now.astimezone(tz).date()
    override = day != today
    if override and override_reason is None:
        raise Invalid("check_in_wrong_day", day=day.isoformat(), today=today.isoformat())
    reason = _reason(override_reason) if override else None
    _set_status(session, row, frm=ACTIVE, to=BookingStatus.ASISTIO, now=now)
    detail: dict[str, Any] = {"patient_id": row.patient_id}
    if reason is not None:
        note_id = _note(session, principal, row.id, "override", reason, now)
        detail |= {"override": True, "booking_day": day.isoformat(), "note_id": note_id}
    audit_staff(session, principal, "blood_bank.booking.check_in", "blood_bank_booking", row.id, ip, detail)
    return _touched(session, row)


def undo_check_in(
    session: Session, *, principal: Principal, booking_id: str, reason: str, ip: str | None, now: datetime | None = None
) -> Booking:
    """Staff: a mistaken check-in is undone — back to ``confirmada`` (the place stays held, as it was), with
    the reason kept as a note and audited; 409 ``booking_not_checked_in`` if it is not ``asistio``."""
    now = now or utcnow()
    row = _staff_booking(session, principal, booking_id)
    why = _reason(reason)
    _set_status(session, row, frm=BookingStatus.ASISTIO.value, to=BookingStatus.CONFIRMADA, now=now)
    note_id = _note(session, principal, row.id, "undo", why, now)
    audit_staff(
        session,
        principal,
        "blood_bank.booking.check_in_undo",
        "blood_bank_booking",
        row.id,
        ip,
        {"patient_id": row.patient_id, "note_id": note_id},
    )
    return _touched(session, row)


def no_show(
    session: Session, *, principal: Principal, booking_id: str, ip: str | None, now: datetime | None = None
) -> Booking:
    """Staff: the donor did not come — a confirmed booking becomes ``no_asistio``."""
    now = now or utcnow()
    row = _staff_booking(session, principal, booking_id)
    _set_status(session, row, frm=ACTIVE, to=BookingStatus.NO_ASISTIO, now=now)
    detail = {"patient_id": row.patient_id}
    audit_staff(session, principal, "blood_bank.booking.no_show", "blood_bank_booking", row.id, ip, detail)
    return _touched(session, row)


#: What the mirrored agenda appointment becomes with each booking status set by staff.
_APPOINTMENT = {
    BookingStatus.ASISTIO: AppointmentStatus.REALIZADA,
    BookingStatus.NO_ASISTIO: AppointmentStatus.CANCELADA,
    BookingStatus.CONFIRMADA: AppointmentStatus.CONFIRMADA,
}


def _set_status(session: Session, row: Booking, *, frm: str, to: BookingStatus, now: datetime) -> None:
    """One conditional UPDATE from ``frm`` (else 409); the slot's place is held in every one of these states,
    so ``slots.booked`` does not change. The agenda appointment follows."""
    result = session.execute(
        update(Booking)
        .where(Booking.id == row.id, Booking.status == frm)
        .values(status=to.value, updated_at=now, checked_in_at=now if to is BookingStatus.ASISTIO else None)
        .execution_options(synchronize_session=False)
    )
    if rowcount(result) != 1:
        raise Conflict("booking_not_active" if frm == ACTIVE else "booking_not_checked_in")
    agenda.change_linked(session, appointment_id=row.appointment_id, now=now, status=_APPOINTMENT[to])


def _touched(session: Session, row: Booking) -> Booking:
    sync.touch(session, type=SyncType.BLOOD_BANK_BOOKING, record_id=row.id, patient_id=row.patient_id)
    session.expire_all()
    return session.get_one(Booking, row.id)


def day_list(
    session: Session, *, principal: Principal, bank_id: str, day: date, tz: ZoneInfo, ip: str | None
) -> list[tuple[Booking, str, list[contract.CheckInNote]]]:
    """Staff: the bank's bookings on a local day (every status), by time; with each child's display name and the
    booking's check-in notes (why it was checked in on another day, or undone: who, when)."""
    bank = staff_bank(session, principal=principal, bank_id=bank_id)
    lo, hi = day_bounds(day, tz)
    rows = session.execute(
        select(Booking, Patient.display_name)
        .join(Slot, Slot.id == Booking.slot_id)
        .join(Patient, Patient.id == Booking.patient_id)
        .where(Slot.bank_id == bank.id, Slot.starts_at >= lo, Slot.starts_at < hi)
        .order_by(Slot.starts_at, Booking.folio)
    ).all()
    audit_staff(
        session,
        principal,
        "blood_bank.day_list.read",
        "blood_bank",
        bank.id,
        ip,
        {"date": day.isoformat(), "bookings": len(rows)},
    )
    notes = _check_in_notes(session, [b.id for b, _ in rows])
    return [(b, name, notes.get(b.id, [])) for b, name in rows]


def _check_in_notes(session: Session, booking_ids: Sequence[str]) -> dict[str, list[contract.CheckInNote]]:
    """The check-in notes of these bookings, oldest first, each with the name of the staff member who wrote it."""
    if not booking_ids:
        return {}
    found: dict[str, list[contract.CheckInNote]] = {}
    for booking_id, action, reason, at, by in session.execute(
        select(CheckInNote.booking_id, CheckInNote.action, CheckInNote.reason, CheckInNote.at, User.display_name)
        .outerjoin(User, User.id == CheckInNote.actor_id)
        .where(CheckInNote.booking_id.in_(booking_ids))
        .order_by(CheckInNote.at, CheckInNote.id)
    ):
        note = contract.CheckInNote(action=contract.CheckInNoteAction(action), reason=reason, at=at, by=by)
        found.setdefault(booking_id, []).append(note)
    return found


def donor_counts(
    session: Session, *, principal: Principal, bank_id: str, start: datetime, end: datetime, ip: str | None
) -> list[contract.DonorCount]:
    """Staff: per child, donors booked (not cancelled) and donors who came, for slots in [start, end)."""
    bank = staff_bank(session, principal=principal, bank_id=bank_id)
    came = func.sum(case((Booking.status == BookingStatus.ASISTIO.value, 1), else_=0))
    rows = session.execute(
        select(Booking.patient_id, Patient.display_name, func.count(), came)
        .join(Slot, Slot.id == Booking.slot_id)
        .join(Patient, Patient.id == Booking.patient_id)
        .where(
            and_(
                Slot.bank_id == bank.id,
                Slot.starts_at >= start,
                Slot.starts_at < end,
                Booking.status != BookingStatus.CANCELADA.value,
            )
        )
        .group_by(Booking.patient_id, Patient.display_name)
        .order_by(Patient.display_name)
    ).all()
    audit_staff(
        session,
        principal,
        "blood_bank.donor_counts.read",
        "blood_bank",
        bank.id,
        ip,
        {"from": start.isoformat(), "to": end.isoformat()},
    )
    return [
        contract.DonorCount(patient_id=p, patient_display_name=n, booked=int(b), came=int(c or 0))
        for p, n, b, c in rows
    ]
