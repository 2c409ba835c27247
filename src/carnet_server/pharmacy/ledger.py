"""Reading the dispensation ledger: what was dispensed, for which cycles (no HTTP, no writes).

Kept apart from :mod:`carnet_server.pharmacy.service` so the carnet and the
verification can read it without importing the dispensing logic (which
imports them).
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from carnet_contract import models as contract
from carnet_server.pharmacy.tables import Dispensation

__all__ = ["dispensation_out", "dispensations_of", "dispensed_at_of"]


def dispensations_of(session: Session, cycle_ids: Collection[str]) -> dict[str, Dispensation]:
    """The dispensation of each of ``cycle_ids`` that has one, by cycle id (one query)."""
    if not cycle_ids:
        return {}
    rows = session.scalars(select(Dispensation).where(Dispensation.cycle_id.in_(list(cycle_ids))))
    return {row.cycle_id: row for row in rows}


def dispensed_at_of(session: Session, cycle_ids: Collection[str]) -> dict[str, datetime]:
    """When each of ``cycle_ids`` was dispensed, for those that were (one query)."""
    if not cycle_ids:
        return {}
    rows = session.execute(
        select(Dispensation.cycle_id, Dispensation.dispensed_at).where(Dispensation.cycle_id.in_(list(cycle_ids)))
    )
    return {row.cycle_id: row.dispensed_at for row in rows}


def dispensation_out(row: Dispensation, *, cycle_number: int) -> contract.Dispensation:
    return contract.Dispensation(
        id=row.id,
        patient_id=row.patient_id,
        cycle_id=row.cycle_id,
        cycle_number=cycle_number,
        items=[contract.Drug.model_validate(item) for item in row.items],
        dispensed_at=row.dispensed_at,
        dispensed_by=row.dispensed_by_label,
    )
