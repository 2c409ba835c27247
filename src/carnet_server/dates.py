"""The calendar the API accepts: dates in query parameters lie in the years 2000–2099.

Every date a caller sends as a query parameter (``from``/``to`` of appointments and donor counts, a
blood bank's ``date``, a weekly ``week``) is checked with :func:`check_day` before any arithmetic
on it: near the ends of Python's calendar (year 1, year 9999) adding a day or a time zone offset
overflows, and the database would hold no such times anyway. Outside the bounds: 422
``date_out_of_range``.
"""

from __future__ import annotations

from datetime import date

from carnet_server.domain_errors import Invalid

__all__ = ["FIRST_DAY", "LAST_DAY", "check_day"]

FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(2099, 12, 31)


def check_day(day: date) -> date:
    """``day`` if it lies in 2000–2099; else 422 ``date_out_of_range``."""
    if not FIRST_DAY <= day <= LAST_DAY:
        raise Invalid("date_out_of_range", first=FIRST_DAY.year, last=LAST_DAY.year)
    return day
