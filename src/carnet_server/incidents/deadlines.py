"""First-response deadlines: hours per category, computed in absolute (UTC) time.

Defaults (override any with ``CARNET_INCIDENT_DEADLINE_HOURS``, a JSON object of
category → hours): a missing chemotherapy medicine is the tightest (4 h), a
missing supply next (8 h), then the blood bank (12 h), the digital carnet and
medical care (24 h), the 140-Bis leave paperwork and anything else (48 h).

A deadline is ``created_at + hours`` as an instant: a day boundary or a DST
change in Mexico City (which kept DST until October 2022) moves the *local*
wall-clock reading, never the length of the wait. ``seconds_left`` and
``overdue`` are computed when read (``now`` is a parameter): once first
answered, ``seconds_left`` is None and ``overdue`` False.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from carnet_contract.models import IncidentCategory

__all__ = ["DEFAULT_DEADLINE_HOURS", "deadline_hours", "due_at", "local", "timing"]

DEFAULT_DEADLINE_HOURS: Mapping[str, float] = {
    IncidentCategory.MEDICAMENTO.value: 4,
    IncidentCategory.INSUMO.value: 8,
    IncidentCategory.BANCO_DE_SANGRE.value: 12,
    IncidentCategory.CARNET_DIGITAL.value: 24,
    IncidentCategory.ATENCION_MEDICA.value: 24,
    IncidentCategory.LICENCIA_140_BIS.value: 48,
    IncidentCategory.OTRO.value: 48,
}


def deadline_hours(overrides: Mapping[str, float] | None = None) -> dict[str, float]:
    """The defaults with the configured overrides applied."""
    return {**DEFAULT_DEADLINE_HOURS, **(overrides or {})}


def due_at(created_at: datetime, category: str, hours: Mapping[str, float]) -> datetime:
    if created_at.tzinfo is None:
        raise ValueError("naive datetime")
    # In UTC: adding to a zoned datetime would be wall-clock arithmetic (off by the DST shift).
    return created_at.astimezone(UTC) + timedelta(hours=hours[category])


def timing(*, due: datetime, first_response_at: datetime | None, now: datetime) -> tuple[int | None, bool]:
    """(seconds_left, overdue): seconds until ``due`` (negative when late) while unanswered."""
    if first_response_at is not None:
        return None, False
    left = (due.astimezone(UTC) - now.astimezone(UTC)).total_seconds()
    return math.floor(left), left < 0


def local(instant: datetime, tz: ZoneInfo) -> datetime:
    """The instant as Mexico City (or the configured zone) wall-clock time, for display."""
    return instant.astimezone(tz)
