"""The clock's zone: Carnet's families and hospitals live on Mexico City time."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from zoneinfo import ZoneInfo

MX = ZoneInfo("America/Mexico_City")

#: What the features call for "now" (an aware datetime; tests pass a fixed one).
Clock = Callable[[], datetime]


def local_date(value: datetime) -> date:
    return value.astimezone(MX).date()
