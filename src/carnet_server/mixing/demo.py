"""Demo data of the mixing domain: a confirmed cycle whose order waits in the queue, so that the
demo's simulated provider receives it at start and the family watches its mixture move."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from carnet_contract.models import CycleStatus, MixingStatus
from carnet_server.mixing.service import new_order
from carnet_server.patients.tables import Cycle, Patient

__all__ = ["seed_confirmed_cycle"]


def seed_confirmed_cycle(session: Session, *, cycle: Cycle, patient: Patient, provider: str, now: datetime) -> None:
    """Confirm ``cycle`` (with drugs, ``programado``: now ``confirmado``) and queue its mixing order."""
    session.flush()
    cycle.confirmed_at = now
    cycle.status = CycleStatus.CONFIRMADO.value
    cycle.mixing_status = MixingStatus.PENDIENTE.value
    cycle.mixing_updated_at = now
    session.add(new_order(cycle, patient, provider=provider, now=now))
