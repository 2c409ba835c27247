"""The family's agenda on the phone: synced appointments, pending writes on top, and what screens ask.

:class:`AgendaRepository` reads and writes the synced appointments, the sync
position and the local→server id map in the offline store (never the network).
:func:`merge` lays the outbox over the synced records: a write the person just
made shows at once, marked pending (or failed, with the server's reason in the
sync screen), until the server's version replaces it. The rest are pure
functions over that list; every date is a day in America/Mexico_City.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from pydantic import ValidationError

from carnet.core.clock import local_date
from carnet.data.outbox import OutboxItem, OutboxState, WriteOp
from carnet.data.records import Mark
from carnet.data.store import OfflineStore
from carnet_contract import models as contract

__all__ = [
    "AgendaItem",
    "AgendaRepository",
    "days_with_appointments",
    "filter_items",
    "merge",
    "month_weeks",
    "next_appointment",
    "on_day",
    "upcoming",
]

_DONE = {contract.AppointmentStatus.CANCELADA, contract.AppointmentStatus.REALIZADA}


_RANK = {Mark.SYNCED: 0, Mark.PENDING: 1, Mark.FAILED: 2}


@dataclass(frozen=True)
class AgendaItem:
    appointment: contract.Appointment
    mark: Mark = Mark.SYNCED

    @property
    def id(self) -> str:
        return self.appointment.id

    @property
    def editable(self) -> bool:
        """Families change only their own appointments."""
        return self.appointment.source == contract.AppointmentSource.FAMILIA


class AgendaRepository:
    """One user's synced appointments in the offline store."""

    APPOINTMENT = "appointment"

    def __init__(self, store: OfflineStore, user_id: str) -> None:
        self._store = store
        self.user_id = user_id

    def transaction(self) -> AbstractContextManager[None]:
        return self._store.transaction()

    # appointments
    def appointments(self) -> dict[str, contract.Appointment]:
        return {
            key: contract.Appointment.model_validate(record.value)
            for key, record in self._store.get_kind(self.user_id, self.APPOINTMENT).items()
        }

    def put_appointment(self, appointment: contract.Appointment) -> None:
        self._store.put(self.user_id, self.APPOINTMENT, appointment.id, appointment.model_dump(mode="json"))

    def delete_appointment(self, appointment_id: str) -> None:
        self._store.delete(self.user_id, self.APPOINTMENT, appointment_id)

    def clear_appointments(self) -> None:
        self._store.delete_kind(self.user_id, self.APPOINTMENT)


def _from_create(item: OutboxItem) -> contract.Appointment | None:
    body = item.body or {}
    try:
        return contract.Appointment(
            id=item.record_id,
            patient_id=item.patient_id,
            kind=body["kind"],
            title=body["title"],
            starts_at=body["starts_at"],
            ends_at=body["ends_at"],
            place=body.get("place", ""),
            notes=body.get("notes", ""),
            status=contract.AppointmentStatus.PROGRAMADA,
            source=contract.AppointmentSource.FAMILIA,
            updated_at=item.created_at,
        )
    except (KeyError, ValidationError):
        return None


def _worse(a: Mark, b: Mark) -> Mark:
    return a if _RANK[a] >= _RANK[b] else b


def merge(
    synced: dict[str, contract.Appointment], outbox: Iterable[OutboxItem], server_id: Any = lambda rid: rid
) -> list[AgendaItem]:
    """The synced appointments with the outbox's writes applied in order."""
    items: dict[str, AgendaItem] = {key: AgendaItem(value) for key, value in synced.items()}
    for entry in outbox:
        if entry.type != contract.SyncType.APPOINTMENT:
            continue
        rid = server_id(entry.record_id) or entry.record_id
        mark = Mark.FAILED if entry.state is OutboxState.FAILED else Mark.PENDING
        current = items.get(rid)
        if entry.op is WriteOp.CREATE:
            created = _from_create(entry)
            if created is not None:
                items[rid] = AgendaItem(created.model_copy(update={"id": rid}), mark)
        elif current is None:
            continue
        elif entry.op is WriteOp.UPDATE:
            try:
                update = contract.AppointmentUpdate.model_validate(entry.body or {})
            except ValidationError:
                continue
            changes = update.model_dump(exclude_unset=True, exclude={"unit_id"})
            items[rid] = AgendaItem(current.appointment.model_copy(update=changes), _worse(current.mark, mark))
        elif entry.op is WriteOp.DELETE:
            if mark is Mark.PENDING:
                del items[rid]
            else:
                items[rid] = replace(current, mark=_worse(current.mark, mark))
    return sorted(items.values(), key=lambda i: (i.appointment.starts_at, i.appointment.title, i.id))


# ---- what the screens ask ---------------------------------------------------------------


def filter_items(
    items: Iterable[AgendaItem], *, patient_id: str | None = None, kind: contract.AppointmentKind | None = None
) -> list[AgendaItem]:
    return [
        i
        for i in items
        if (patient_id is None or i.appointment.patient_id == patient_id)
        and (kind is None or i.appointment.kind == kind)
    ]


def days_with_appointments(items: Iterable[AgendaItem], year: int, month: int) -> set[int]:
    """Days of ``month`` (Mexico City) on which an appointment starts."""
    days = set()
    for item in items:
        day = local_date(item.appointment.starts_at)
        if (day.year, day.month) == (year, month):
            days.add(day.day)
    return days


def on_day(items: Iterable[AgendaItem], day: date) -> list[AgendaItem]:
    return sorted(
        (i for i in items if local_date(i.appointment.starts_at) == day), key=lambda i: i.appointment.starts_at
    )


def upcoming(items: Iterable[AgendaItem], now: datetime, *, limit: int = 5) -> list[AgendaItem]:
    """The next appointments not yet over, cancelled or done, soonest first."""
    found = [i for i in items if i.appointment.ends_at >= now and i.appointment.status not in _DONE]
    return sorted(found, key=lambda i: i.appointment.starts_at)[:limit]


def next_appointment(items: Iterable[AgendaItem], patient_id: str, now: datetime) -> AgendaItem | None:
    found = upcoming(filter_items(items, patient_id=patient_id), now, limit=1)
    return found[0] if found else None


def month_weeks(year: int, month: int) -> list[list[date | None]]:
    """The month as weeks from Monday; None pads the first and last week."""
    weeks = calendar.Calendar(firstweekday=0).monthdayscalendar(year, month)
    return [[date(year, month, d) if d else None for d in week] for week in weeks]


def add_months(day: date, months: int) -> date:
    """The first day of the month ``months`` away from ``day``'s."""
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)
