"""The clock's zone: Carnet's families and hospitals live on Mexico City time.

Every time a family or a desk sees is the unit's local time, whatever zone the phone or the server
machine is set to: format times only through :func:`unit_time` / :func:`hhmm` (and the Translator's
``datetime``, ``time`` and ``time_range``, which use them and name the zone). The units have no zone of
their own: the server has one setting (``CARNET_TIMEZONE``, America/Mexico_City), the same as ``UNIT_ZONE``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from zoneinfo import ZoneInfo

MX = ZoneInfo("America/Mexico_City")
#: The zone of every unit's clock (see the module's note).
UNIT_ZONE = MX

#: What the features call for "now" (an aware datetime; tests pass a fixed one).
Clock = Callable[[], datetime]


def local_date(value: datetime) -> date:
    return unit_time(value).date()


def unit_time(value: datetime) -> datetime:
    """``value`` on the unit's clock (a naive value is taken as already on it)."""
    return value.astimezone(UNIT_ZONE) if value.tzinfo else value.replace(tzinfo=UNIT_ZONE)


def hhmm(value: datetime) -> str:
    """``10:30``: the unit's local time, 24 h."""
    return f"{unit_time(value):%H:%M}"
