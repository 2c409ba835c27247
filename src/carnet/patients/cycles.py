"""The carnet's cycles as the carnet screen reads them."""

from __future__ import annotations

from datetime import date

from carnet_contract import models as contract

#: A cycle still to be given.
PENDING = frozenset({contract.CycleStatus.PROGRAMADO, contract.CycleStatus.CONFIRMADO, contract.CycleStatus.DIFERIDO})


def current_cycle(carnet: contract.Carnet, today: date) -> contract.Cycle | None:
    """The next cycle still to be given (scheduled, confirmed or deferred) from today on; else the latest such;
    else the last."""
    if not carnet.cycles:
        return None
    cycles = sorted(carnet.cycles, key=lambda c: (c.scheduled_for, c.number))
    scheduled = [c for c in cycles if c.status in PENDING]
    upcoming = [c for c in scheduled if c.scheduled_for >= today]
    if upcoming:
        return upcoming[0]
    if scheduled:
        return scheduled[-1]
    return cycles[-1]
