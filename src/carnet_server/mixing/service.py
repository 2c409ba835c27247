"""Mixing orders: confirm a cycle (which creates its order), the provider's signed callbacks,
and the staff's view of the queue (no HTTP here).

    CycleNotFound(NotFound)                unknown cycle, or one of a patient the caller may not see
    NotConfirmable(Conflict)               the cycle is not ``programado``
    OrderNotFound(NotFound)                a callback for an order we never made
    InvalidSignature(Unauthenticated)      a callback without a genuine ``X-Carnet-Signature``
    StaleSignature(Unauthenticated)        a genuine signature whose timestamp is too far from our clock
    ReplayedCallback(Unauthenticated)      an event id already received

Statuses only move forward: pendiente < solicitada < en_preparacion < lista <
entregada; ``rechazada`` ends an order from any state before ``entregada``.
A provider update that would move an order backwards (late delivery of an
older event) or that happened before the latest one applied is recorded but
not applied, so it can't be replayed either.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from carnet_contract import models as contract
from carnet_contract.models import CycleStatus, MixingStatus, Role
from carnet_server import audit
from carnet_server.auth.service import Principal
from carnet_server.db import new_id, rowcount, utcnow
from carnet_server.domain_errors import Conflict, NotFound, Unauthenticated
from carnet_server.files import read_or_create_secret
from carnet_server.mixing.tables import MixingCallbackEvent, MixingOrder
from carnet_server.patients.service import (
    CycleNotFound,
    drug_out,
    touch_cycle,
    unit_out,
    units_of,
    visible_cycle,
)
from carnet_server.patients.tables import Cycle, Patient
from carnet_server.settings import Settings

__all__ = [
    "CallbackResult",
    "CycleNotFound",
    "InvalidSignature",
    "NotConfirmable",
    "OrderNotFound",
    "ReplayedCallback",
    "StaleSignature",
    "apply_callback",
    "confirm_cycle",
    "list_orders",
    "mixing_secret",
    "new_order",
    "order_body",
    "order_state",
    "sign",
    "verify_signature",
]

SIGNATURE_HEADER = "X-Carnet-Signature"
MAX_SIGNATURE_HEADER = 512

#: Forward order of the statuses an order goes through; ``rechazada`` is outside it (terminal).
_RANK = {
    MixingStatus.PENDIENTE: 0,
    MixingStatus.SOLICITADA: 1,
    MixingStatus.EN_PREPARACION: 2,
    MixingStatus.LISTA: 3,
    MixingStatus.ENTREGADA: 4,
}
_TERMINAL = frozenset({MixingStatus.ENTREGADA, MixingStatus.RECHAZADA})


class NotConfirmable(Conflict):
    code = "cycle_not_confirmable"


class OrderNotFound(NotFound):
    code = "mixing_order_not_found"


class InvalidSignature(Unauthenticated):
    code = "invalid_signature"


class StaleSignature(Unauthenticated):
    code = "stale_signature"


class ReplayedCallback(Unauthenticated):
    code = "replayed_callback"


# ---- the shared secret and signatures --------------------------------------------


def mixing_secret(settings: Settings) -> bytes:
    """``CARNET_MIXING_SECRET``, or the secret made once (mode 0600) in the data dir."""
    if settings.mixing_secret is not None and settings.mixing_secret.get_secret_value().strip():
        return settings.mixing_secret.get_secret_value().strip().encode("utf-8")
    return read_or_create_secret(settings.mixing_secret_path)


def _mac(secret: bytes, timestamp: int, body: bytes) -> str:
    return hmac.new(secret, str(timestamp).encode("ascii") + b"." + body, hashlib.sha256).hexdigest()


def sign(secret: bytes, body: bytes, *, timestamp: int) -> str:
    """The ``X-Carnet-Signature`` value: ``t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>``."""
    return f"t={timestamp},v1={_mac(secret, timestamp, body)}"


def verify_signature(header: str | None, body: bytes, *, secret: bytes, now: datetime, max_skew: int) -> None:
    """Check a signature over the raw ``body``; :class:`InvalidSignature` or :class:`StaleSignature` if bad."""
    if not header or len(header) > MAX_SIGNATURE_HEADER:
        raise InvalidSignature()
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and timestamp is None:
            try:
                timestamp = int(value)
            except ValueError as exc:
                raise InvalidSignature() from exc
        elif key == "v1":
            candidates.append(value)
    if timestamp is None or not candidates:
        raise InvalidSignature()
    expected = _mac(secret, timestamp, body)
    # Compare with every candidate (no early exit), in constant time each.
    matched = False
    for candidate in candidates:
        matched |= hmac.compare_digest(candidate.encode("ascii", "replace"), expected.encode("ascii"))
    if not matched:
        raise InvalidSignature()
    if abs(now.timestamp() - timestamp) > max_skew:
        raise StaleSignature()


def order_body(payload: dict[str, Any]) -> bytes:
    """The exact bytes sent for an order: the same on every retry (sorted keys, no spaces)."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


# ---- confirming a cycle --------------------------------------------------------------


def _payload(order_id: str, cycle: Cycle, patient: Patient, created_at: datetime) -> dict[str, Any]:
    order = contract.MixingOrder(
        order_id=order_id,
        cycle_id=cycle.id,
        cycle_number=cycle.number,
        patient_id=patient.id,
        patient_name=patient.full_name,
        unit=unit_out(patient.unit),
        needed_by=cycle.scheduled_for,
        drugs=[drug_out(d) for d in cycle.drugs],
        created_at=created_at,
        bsa_m2=cycle.bsa_m2,
        weight_kg=cycle.weight_kg,
        height_cm=cycle.height_cm,
    )
    return order.model_dump(mode="json")


def new_order(cycle: Cycle, patient: Patient, *, provider: str, now: datetime) -> MixingOrder:
    """The order of a cycle (not added to a session), due for delivery at once."""
    order_id = new_id()
    return MixingOrder(
        id=order_id,
        cycle_id=cycle.id,
        patient_id=patient.id,
        provider=provider,
        payload=_payload(order_id, cycle, patient, now),
        status=MixingStatus.PENDIENTE.value,
        created_at=now,
        attempts=0,
        next_attempt_at=now,
    )


#: A deferred cycle is still to be given (on its new date): it may be confirmed too.
_CONFIRMABLE = (CycleStatus.PROGRAMADO.value, CycleStatus.DIFERIDO.value)


def confirm_cycle(
    session: Session,
    *,
    principal: Principal,
    cycle_id: str,
    provider: str,
    ip: str | None,
    now: datetime | None = None,
    version: int | None = None,
) -> tuple[Cycle, MixingOrder | None]:
    """Confirm a ``programado`` cycle (now ``confirmado``) and create its mixing order in the same transaction.
    Commits.

    Idempotent: a confirmed cycle is returned as it is (no second order; the
    unique ``cycle_id`` of orders holds even against concurrent requests). A
    cycle without drugs needs no mixture (``no_requerida``, no order). A cycle
    whose mixture was already requested outside Carnet (status past
    ``pendiente``, as in data loaded before this feature) is confirmed without
    a new order. Returns the cycle and the order made now (None if none). With ``version`` (the chemotherapy
    plan's steps) only that version of the cycle is confirmed: one changed meanwhile is :class:`NotConfirmable`.
    """
    now = now or utcnow()
    cycle, patient = visible_cycle(session, principal=principal, cycle_id=cycle_id)
    if cycle.confirmed_at is None and cycle.status not in _CONFIRMABLE:
        raise NotConfirmable()
    current = MixingStatus(cycle.mixing_status)
    needs_order = bool(cycle.drugs) and current in (MixingStatus.PENDIENTE, MixingStatus.NO_REQUERIDA)
    if not cycle.drugs:
        status = MixingStatus.NO_REQUERIDA
    elif needs_order:
        status = MixingStatus.PENDIENTE
    else:
        status = current
    if cycle.confirmed_at is None:
        # The conditional UPDATE decides who confirms: a concurrent request waits for the row
        # (PostgreSQL) or the write lock (SQLite), then finds confirmed_at set and changes nothing.
        values: dict[str, Any] = {
            "confirmed_at": now,
            "mixing_status": status.value,
            "status": CycleStatus.CONFIRMADO.value,
            "version": Cycle.version + 1,
        }
        if status != current:
            values["mixing_updated_at"] = now
        won = rowcount(
            session.execute(
                update(Cycle)
                .where(
                    Cycle.id == cycle.id,
                    Cycle.confirmed_at.is_(None),
                    Cycle.status.in_(_CONFIRMABLE),
                    *([Cycle.version == version] if version is not None else []),
                )
                .values(**values)
                .execution_options(synchronize_session=False)
            )
        )
        if won == 1:
            order: MixingOrder | None = None
            try:
                if needs_order:
                    order = new_order(cycle, patient, provider=provider, now=now)
                    session.add(order)
                audit.record(
                    session,
                    action="cycle.confirm",
                    actor_id=principal.id,
                    actor_role=principal.role,
                    object_type="cycle",
                    object_id=cycle.id,
                    ip=ip,
                    detail={"patient_id": patient.id, "order_id": order.id if order else None, "mixing": status.value},
                )
                touch_cycle(session, cycle)
                session.commit()
                session.refresh(cycle)
                return cycle, order
            except IntegrityError:  # another request made this cycle's order first
                session.rollback()
        else:
            session.rollback()
    # Already confirmed (before, or by a concurrent request): the cycle as it is, not an error.
    session.refresh(cycle)
    if cycle.confirmed_at is None:
        raise NotConfirmable()
    audit.record(
        session,
        action="cycle.confirm.repeat",
        actor_id=principal.id,
        actor_role=principal.role,
        object_type="cycle",
        object_id=cycle.id,
        ip=ip,
        detail={"patient_id": patient.id},
    )
    session.commit()
    return cycle, None


# ---- the provider's callbacks -----------------------------------------------------------


@dataclass(frozen=True)
class CallbackResult:
    applied: bool
    status: MixingStatus


def moves_forward(current: MixingStatus, new: MixingStatus) -> bool:
    """Whether a provider update from ``current`` to ``new`` is progress (see the module doc)."""
    if current in _TERMINAL or current == MixingStatus.NO_REQUERIDA:
        return False
    if new == MixingStatus.RECHAZADA:
        return True
    return new in _RANK and _RANK[new] > _RANK.get(current, len(_RANK))


def apply_callback(session: Session, *, event: contract.MixingCallback, now: datetime | None = None) -> CallbackResult:
    """Record a provider event (once per event id) and apply it if it is progress. Commits."""
    now = now or utcnow()
    if session.get(MixingOrder, event.order_id) is None:
        raise OrderNotFound()
    # The event row goes in first: it takes the write lock (SQLite) and, through the event id's
    # primary key, makes a concurrent replay of the same event wait and then fail.
    session.add(
        MixingCallbackEvent(
            event_id=event.event_id,
            order_id=event.order_id,
            status=event.status.value,
            occurred_at=event.occurred_at,
            received_at=now,
        )
    )
    try:
        session.flush()
    except IntegrityError as exc:
        session.rollback()
        raise ReplayedCallback() from exc
    order = session.scalar(
        select(MixingOrder)
        .where(MixingOrder.id == event.order_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if order is None:  # deleted in between (with its cycle)
        session.rollback()
        raise OrderNotFound()
    current = MixingStatus(order.status)
    applied = moves_forward(current, event.status) and (order.status_at is None or event.occurred_at >= order.status_at)
    if applied:
        order.status = event.status.value
        order.status_at = event.occurred_at
        cycle = session.scalar(
            select(Cycle).where(Cycle.id == order.cycle_id).with_for_update().execution_options(populate_existing=True)
        )
        if cycle is not None:
            cycle.mixing_status = event.status.value
            cycle.mixing_updated_at = event.occurred_at
            touch_cycle(session, cycle)
    audit.record(
        session,
        action="mixing.callback",
        actor_role="provider",
        object_type="mixing_order",
        object_id=order.id,
        detail={
            "event_id": event.event_id,
            "status": event.status.value,
            "applied": applied,
            "cycle_id": order.cycle_id,
        },
    )
    session.commit()
    return CallbackResult(applied=applied, status=MixingStatus(order.status))


# ---- the staff's view of the queue ---------------------------------------------------------


def order_state(order: MixingOrder) -> contract.MixingOrderState:
    return contract.MixingOrderState(
        order_id=order.id,
        cycle_id=order.cycle_id,
        patient_id=order.patient_id,
        status=MixingStatus(order.status),
        created_at=order.created_at,
        attempts=order.attempts,
        delivered_at=order.delivered_at,
        next_attempt_at=order.next_attempt_at,
        last_error=order.last_error,
    )


def list_orders(
    session: Session,
    *,
    principal: Principal,
    status: MixingStatus | None,
    pending: bool | None,
    limit: int,
    ip: str | None,
) -> list[contract.MixingOrderState]:
    """Orders of the caller's units (admin: all), newest first; ``pending``: not yet delivered (or delivered).

    Audited as a staff read. Commits.
    """
    query = select(MixingOrder).order_by(MixingOrder.created_at.desc(), MixingOrder.id)
    if principal.role != Role.ADMIN:
        unit_ids = [u.id for u in units_of(session, principal=principal)]
        query = query.join(Patient, Patient.id == MixingOrder.patient_id).where(Patient.unit_id.in_(unit_ids))
    if status is not None:
        query = query.where(MixingOrder.status == status.value)
    if pending is True:
        query = query.where(MixingOrder.delivered_at.is_(None))
    elif pending is False:
        query = query.where(MixingOrder.delivered_at.is_not(None))
    out = [order_state(o) for o in session.scalars(query.limit(limit))]
    audit.record(
        session,
        action="mixing.orders.read",
        actor_id=principal.id,
        actor_role=principal.role,
        object_type="mixing_order",
        object_id="-",
        ip=ip,
        detail={"count": len(out), "status": status.value if status else None, "pending": pending},
    )
    session.commit()
    return out


def due_filter(now: datetime) -> Any:
    """Orders waiting for delivery whose next attempt is due and that no worker holds."""
    return (
        MixingOrder.delivered_at.is_(None),
        or_(MixingOrder.next_attempt_at.is_(None), MixingOrder.next_attempt_at <= now),
        or_(MixingOrder.lease_until.is_(None), MixingOrder.lease_until <= now),
    )
