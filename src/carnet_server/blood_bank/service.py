"""Blood banks and their slots: who may see and run which, slots made from templates (no HTTP here).

    BankNotFound(NotFound)       unknown bank, or one the staff member does not work for
    SlotNotFound(NotFound)       unknown slot (or not of that bank)
    BookingNotFound(NotFound)    unknown booking, or one the caller may not see
    NotEligible(Invalid)         the donor may not give blood now: every reason (bookings.py)
    and the kinds of domain_errors: NotAllowed (the caller's role), Invalid(code), Conflict(code)

Writes do not commit: the route commits. Slots are made lazily: reading a
day's slots inserts the missing ones from the bank's active weekly templates
with INSERT … ON CONFLICT DO NOTHING on (bank_id, starts_at), so two readers
racing make each slot once.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from carnet_contract import models as contract
from carnet_contract.models import Role
from carnet_server import audit
from carnet_server.auth.service import Principal
from carnet_server.blood_bank.tables import BloodBank, Booking, Slot, SlotTemplate
from carnet_server.dates import check_day
from carnet_server.db import dialect_insert, new_id, rowcount
from carnet_server.domain_errors import Conflict, Invalid, NotAllowed, NotFound
from carnet_server.patients.service import unit_out
from carnet_server.patients.tables import MedicalUnit, UnitEmergency, UserUnit

__all__ = [
    "BankNotFound",
    "BookingNotFound",
    "SlotNotFound",
    "bank_out",
    "booking_out",
    "day_bounds",
    "list_banks",
    "read_day",
    "slot_out",
    "staff_bank",
    "update_slot",
]

UTC = ZoneInfo("UTC")
ID_RE = re.compile(r"[A-Za-z0-9_-]{1,32}")


class BankNotFound(NotFound):
    code = "blood_bank_not_found"


class SlotNotFound(NotFound):
    code = "slot_not_found"


class BookingNotFound(NotFound):
    code = "booking_not_found"


# ---- output ---------------------------------------------------------------------------


def bank_out(bank: BloodBank, *, open_weekdays: list[int] | None = None) -> contract.BloodBank:
    return contract.BloodBank(
        open_weekdays=open_weekdays,
        id=bank.id,
        name=bank.name,
        unit=unit_out(bank.unit),
        address=bank.address,
        phone=bank.phone,
        instructions=bank.instructions,
    )


def slot_out(slot: Slot, *, now: datetime) -> contract.Slot:
    open_ = not slot.closed and slot.starts_at > now
    return contract.Slot(
        id=slot.id,
        bank_id=slot.bank_id,
        starts_at=slot.starts_at,
        ends_at=slot.ends_at,
        capacity=slot.capacity,
        available=max(0, slot.capacity - slot.booked) if open_ else 0,
        closed=slot.closed,
    )


def booking_out(row: Booking, *, now: datetime) -> contract.Booking:
    return contract.Booking(
        id=row.id,
        folio=row.folio,
        patient_id=row.patient_id,
        bank=bank_out(row.slot.bank),
        slot=slot_out(row.slot, now=now),
        status=contract.BookingStatus(row.status),
        donor=contract.DonorOut(
            full_name=row.donor_full_name,
            phone=row.donor_phone,
            birth_date=row.donor_birth_date,
            weight_kg=row.donor_weight_kg,
            sex=contract.DonorSex(row.donor_sex),
            reminder_consent=row.donor_reminder_consent,
        ),
        created_at=row.created_at,
        updated_at=row.updated_at,
        checked_in_at=row.checked_in_at,
        appointment_id=row.appointment_id,
    )


# ---- access ---------------------------------------------------------------------------


def audit_staff(
    session: Session,
    principal: Principal,
    action: str,
    object_type: str,
    object_id: str,
    ip: str | None,
    detail: Mapping[str, Any] | None = None,
) -> None:
    """Audit a read or write by anyone but a guardian (guardian writes are audited by the caller)."""
    audit.record(
        session,
        action=action,
        actor_id=principal.id,
        actor_role=principal.role,
        object_type=object_type,
        object_id=object_id,
        ip=ip,
        detail=dict(detail) if detail else None,
    )


def get_bank(session: Session, bank_id: str) -> BloodBank:
    bank = session.get(BloodBank, bank_id) if ID_RE.fullmatch(bank_id) else None
    if bank is None:
        raise BankNotFound()
    return bank


def works_at(session: Session, principal: Principal, unit_id: str) -> bool:
    """Blood-bank staff of that unit, or an admin."""
    if principal.role == Role.ADMIN:
        return True
    if principal.role != Role.BLOOD_BANK:
        return False
    return session.get(UserUnit, (principal.id, unit_id)) is not None


def staff_bank(session: Session, *, principal: Principal, bank_id: str) -> BloodBank:
    """The bank, for its own staff (blood_bank of the unit) or an admin; 403 for other roles."""
    if principal.role not in (Role.BLOOD_BANK, Role.ADMIN):
        raise NotAllowed()
    bank = get_bank(session, bank_id)
    if not works_at(session, principal, bank.unit_id):
        raise BankNotFound()
    return bank


def list_banks(session: Session) -> list[BloodBank]:
    return list(session.scalars(select(BloodBank).order_by(BloodBank.name)))


def open_weekdays(session: Session) -> dict[str, list[int]]:
    """Bank id → the weekdays (0 = Monday) its active templates make slots on."""
    found: dict[str, set[int]] = {}
    rows = session.execute(select(SlotTemplate.bank_id, SlotTemplate.weekday).where(SlotTemplate.active).distinct())
    for bank_id, weekday in rows:
        found.setdefault(bank_id, set()).add(weekday)
    return {bank_id: sorted(days) for bank_id, days in found.items()}


# ---- days and slots ---------------------------------------------------------------------


def day_bounds(day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The local day as a UTC interval [start, end)."""
    start = datetime.combine(day, time(), tzinfo=tz)
    return start.astimezone(UTC), datetime.combine(day + timedelta(days=1), time(), tzinfo=tz).astimezone(UTC)


def parse_day(text: str | None, *, today: date, days_ahead: int | None) -> date:
    """A YYYY-MM-DD date in 2000–2099 (dates.py); with ``days_ahead``, from today to today + days_ahead only."""
    try:
        day = date.fromisoformat(text or "")
    except ValueError as exc:
        raise Invalid("invalid_date") from exc
    if len(text or "") != 10:
        raise Invalid("invalid_date")
    if days_ahead is not None:
        if day < today:
            raise Invalid("invalid_date")
        if day > today + timedelta(days=days_ahead):
            raise Invalid("date_too_far", days=days_ahead)
    return check_day(day)


def _planned(templates: Sequence[SlotTemplate], day: date, tz: ZoneInfo) -> list[dict[str, Any]]:
    rows = []
    for tpl in templates:
        step = timedelta(minutes=tpl.slot_minutes)
        start = datetime.combine(day, tpl.start, tzinfo=tz)
        end = datetime.combine(day, tpl.end, tzinfo=tz)
        while start + step <= end:
            rows.append(
                {
                    "id": new_id(),
                    "bank_id": tpl.bank_id,
                    "starts_at": start.astimezone(UTC),
                    "ends_at": (start + step).astimezone(UTC),
                    "capacity": tpl.capacity,
                    "booked": 0,
                    "closed": False,
                }
            )
            start += step
    return rows


def _insert_missing(session: Session, rows: list[dict[str, Any]]) -> None:
    session.execute(
        dialect_insert(session)(Slot).values(rows).on_conflict_do_nothing(index_elements=["bank_id", "starts_at"])
    )


def read_day(session: Session, *, bank: BloodBank, day: date, tz: ZoneInfo) -> list[Slot]:
    """The bank's slots that start on the local ``day``, made from the active templates if missing."""
    lo, hi = day_bounds(day, tz)
    query = select(Slot).where(Slot.bank_id == bank.id, Slot.starts_at >= lo, Slot.starts_at < hi)
    existing = list(session.scalars(query.order_by(Slot.starts_at)))
    templates = session.scalars(
        select(SlotTemplate).where(
            SlotTemplate.bank_id == bank.id, SlotTemplate.weekday == day.weekday(), SlotTemplate.active
        )
    )
    have = {s.starts_at for s in existing}
    missing = [r for r in _planned(list(templates), day, tz) if r["starts_at"] not in have]
    if not missing:
        return existing
    _insert_missing(session, missing)
    return list(session.scalars(query.order_by(Slot.starts_at).execution_options(populate_existing=True)))


def get_slot(session: Session, slot_id: str, *, bank_id: str | None = None) -> Slot:
    slot = session.get(Slot, slot_id) if ID_RE.fullmatch(slot_id) else None
    if slot is None or (bank_id is not None and slot.bank_id != bank_id):
        raise SlotNotFound()
    return slot


def read_slot(session: Session, slot_id: str) -> Slot:
    """The slot with its bank, the bank's unit and the unit's emergency service, read by one statement over the
    tables and given as objects of no session: for a write that only reads them (``bookings.create``). The ORM's
    joined loading of the same rows cost several times the statement (#20)."""
    row = session.execute(_SLOT_WITH_BANK, {"slot": slot_id}).one_or_none() if ID_RE.fullmatch(slot_id) else None
    if row is None:
        raise SlotNotFound()
    values = row._mapping

    def made(cls: Any, **related: Any) -> Any:
        return cls(**{key: values[column] for key, column in _COLUMNS[cls]}, **related)

    emergency = made(UnitEmergency) if values[_EMERGENCY.c.unit_id] is not None else None
    slot: Slot = made(Slot, bank=made(BloodBank, unit=made(MedicalUnit, emergency=emergency)))
    return slot


_EMERGENCY = UnitEmergency.__table__
#: Each class's attributes and the columns they map, for objects made from a row of ``_SLOT_WITH_BANK``.
_COLUMNS = {
    cls: [(attr.key, attr.columns[0]) for attr in cls.__mapper__.column_attrs]
    for cls in (Slot, BloodBank, MedicalUnit, UnitEmergency)
}
_SLOT_WITH_BANK = (
    select(*(column for columns in _COLUMNS.values() for _, column in columns))
    .select_from(
        Slot.__table__.join(BloodBank.__table__)
        .join(MedicalUnit.__table__)
        .outerjoin(_EMERGENCY, _EMERGENCY.c.unit_id == MedicalUnit.__table__.c.id)
    )
    .where(Slot.__table__.c.id == bindparam("slot"))
)


def update_slot(
    session: Session, *, principal: Principal, bank_id: str, slot_id: str, data: contract.SlotUpdate, ip: str | None
) -> Slot:
    """Staff: change capacity (never below the places held: one conditional UPDATE) and/or close or reopen."""
    bank = staff_bank(session, principal=principal, bank_id=bank_id)
    slot = get_slot(session, slot_id, bank_id=bank.id)
    values: dict[str, Any] = {}
    if data.capacity is not None:
        values["capacity"] = data.capacity
    if data.closed is not None:
        values["closed"] = data.closed
    if values:
        statement = update(Slot).where(Slot.id == slot.id).values(**values)
        if data.capacity is not None:
            statement = statement.where(Slot.booked <= data.capacity)
        result = session.execute(statement.execution_options(synchronize_session=False))
        session.refresh(slot)
        if rowcount(result) == 0:
            raise Conflict("capacity_below_bookings", booked=slot.booked)
    audit_staff(session, principal, "blood_bank.slot.update", "slot", slot.id, ip, dict(values))
    return slot
