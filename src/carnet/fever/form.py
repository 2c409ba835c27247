"""The fever screen's two fields, checked on the phone before anything is queued: the temperature (35–43 °C, a
decimal comma as Mexicans write it, or a point) and the time it was taken (``HH:MM`` on the unit's clock, today —
or yesterday when that time has not come yet today; now by default). No Flet."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from carnet.core.clock import UNIT_ZONE, hhmm, unit_time
from carnet.core.i18n import Translator
from carnet_contract.models import FEVER_FUTURE_LEEWAY, FEVER_MAX_AGE, FEVER_MAX_C, FEVER_MIN_C

__all__ = ["FeverForm", "check_arrival", "check_fever", "parse_arrival", "parse_temperature", "parse_time"]

_NUMBER = re.compile(r"^\d{2}([.,]\d{1,2})?$")
_TIME = re.compile(r"^(\d{1,2})[:.h](\d{2})$")
_YESTERDAY = re.compile(r"^(ayer|yesterday)\s+", re.IGNORECASE)


@dataclass
class FeverForm:
    temperature: str = ""
    #: ``HH:MM``; empty: now.
    time: str = ""
    errors: dict[str, str] = field(default_factory=dict)


def parse_temperature(text: str) -> float | None:
    """``38,5`` / ``38.5`` / ``39`` (optionally with ° or °C) → 38.5; None when it is not such a number."""
    cleaned = text.strip().lower().replace("°c", "").replace("°", "").replace("c", "").strip()
    if not _NUMBER.match(cleaned):
        return None
    return float(cleaned.replace(",", "."))


def parse_time(text: str, now: datetime) -> datetime | None:
    """``14:30`` on the unit's clock: today's, or yesterday's when today's is still ahead (beyond the leeway);
    empty: ``now``. None when it is not a time."""
    text = text.strip()
    if not text:
        return now
    match = _TIME.match(text)
    if match is None:
        return None
    hour, minute = int(match.group(1)), int(match.group(2))
    if hour > 23 or minute > 59:
        return None
    local_now = unit_time(now)
    when = datetime(local_now.year, local_now.month, local_now.day, hour, minute, tzinfo=UNIT_ZONE)
    if when > local_now + FEVER_FUTURE_LEEWAY:
        when -= timedelta(days=1)
    return when


def check_fever(form: FeverForm, tr: Translator, now: datetime) -> tuple[dict[str, object] | None, dict[str, str]]:
    """The request body (``FeverEpisodeCreate``'s JSON), or the problems by field (``temperature``, ``time``)."""
    errors: dict[str, str] = {}
    temperature = parse_temperature(form.temperature)
    if not form.temperature.strip():
        errors["temperature"] = tr.t("fever_err_temp_missing")
    elif temperature is None:
        errors["temperature"] = tr.t("fever_err_temp_number")
    elif not FEVER_MIN_C <= temperature <= FEVER_MAX_C:
        errors["temperature"] = tr.t("fever_err_temp_range", low=int(FEVER_MIN_C), high=int(FEVER_MAX_C))
    when = parse_time(form.time, now)
    if when is None:
        errors["time"] = tr.t("fever_err_time", example=hhmm(now))
    elif now - when > FEVER_MAX_AGE:
        errors["time"] = tr.t("fever_err_time_old")
    if errors or temperature is None or when is None:
        return None, errors
    return {"temperature_c": temperature, "measured_at": when.isoformat()}, {}


def parse_arrival(text: str, now: datetime) -> datetime | None:
    """The arrival of a child who came without the family's alert: ``14:30`` today on the unit's clock — never
    moved to yesterday, so a time still ahead stays in the future for :func:`check_arrival` to refuse — or
    ``ayer 23:50`` (``yesterday 23:50``) across midnight; empty: ``now``. None when it is not a time."""
    text = text.strip()
    if not text:
        return now
    days = 0
    found = _YESTERDAY.match(text)
    if found is not None:
        text, days = text[found.end() :].strip(), 1
    match = _TIME.match(text)
    if match is None:
        return None
    hour, minute = int(match.group(1)), int(match.group(2))
    if hour > 23 or minute > 59:
        return None
    local_now = unit_time(now)
    today = datetime(local_now.year, local_now.month, local_now.day, hour, minute, tzinfo=UNIT_ZONE)
    return today - timedelta(days=days)


def check_arrival(
    time_text: str, temperature_text: str, tr: Translator, now: datetime
) -> tuple[tuple[datetime, float] | None, dict[str, str]]:
    """The fever desk's "Registrar llegada sin aviso": the arrival (not in the future, at most 24 hours old) and
    the temperature taken (35–43 °C, the server requires it); or the problems by field (``time``,
    ``temperature``), in the staff's words."""
    errors: dict[str, str] = {}
    when = parse_arrival(time_text, now)
    if when is None:
        errors["time"] = tr.t("desk_fever_unit_err_time", example=hhmm(now))
    elif when > now + FEVER_FUTURE_LEEWAY:
        errors["time"] = tr.t("desk_fever_unit_err_future", now=hhmm(now))
    elif now - when > FEVER_MAX_AGE:
        errors["time"] = tr.t("desk_fever_unit_err_old")
    temperature = parse_temperature(temperature_text)
    if not temperature_text.strip():
        errors["temperature"] = tr.t("desk_fever_unit_err_temp_missing")
    elif temperature is None:
        errors["temperature"] = tr.t("desk_fever_unit_err_temp_number")
    elif not FEVER_MIN_C <= temperature <= FEVER_MAX_C:
        errors["temperature"] = tr.t("desk_fever_unit_err_temp_range", low=int(FEVER_MIN_C), high=int(FEVER_MAX_C))
    if errors or when is None or temperature is None:
        return None, errors
    return (when, temperature), {}
