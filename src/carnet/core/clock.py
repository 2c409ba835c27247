"""The clock's zone: Carnet's families and hospitals live on Mexico City time."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

MX = ZoneInfo("America/Mexico_City")


def local_date(value: datetime) -> date:
    return value.astimezone(MX).date()
