"""The string catalogue: complete in both languages; dates in the person's language."""

from __future__ import annotations

import string
from datetime import date, datetime, timedelta, timezone

import pytest

from carnet.core import i18n
from carnet.core.i18n import CATALOG, Translator


def test_both_languages_have_the_same_keys_and_placeholders() -> None:
    es, en = CATALOG["es-MX"], CATALOG["en"]
    assert es.keys() == en.keys()
    fields = lambda text: {f for _, f, _, _ in string.Formatter().parse(text) if f}  # noqa: E731
    for key in es:
        assert fields(es[key]) == fields(en[key]), key


def test_messages_and_switch() -> None:
    tr = Translator("es-MX")
    assert tr.t("err_rate_limited", minutes=5) == "Demasiados intentos. Intenta de nuevo en 5 minutos."
    assert tr.t("insecure_notice").startswith("Este dispositivo no tiene almacenamiento seguro")
    tr.set_locale("en")
    assert tr.t("login_button") == "Log in"
    tr.set_locale("es")
    assert tr.locale == "es-MX"
    with pytest.raises(ValueError):
        tr.set_locale("fr")
    assert i18n.t("login_button") == "Entrar"


def test_dates() -> None:
    tr = Translator("es-MX")
    cdmx = timezone(timedelta(hours=-6))
    assert tr.date(date(2026, 11, 22)) == "22 nov 2026"
    assert tr.datetime(datetime(2026, 11, 22, 10, 15, tzinfo=cdmx).astimezone(cdmx).replace(tzinfo=None)) \
        == "22 nov 2026, 10:15 (hora del centro de México)"
    assert tr.t("offline_banner", when="22 nov 2026, 10:15") == "Sin conexión — datos del 22 nov 2026, 10:15"
    tr.set_locale("en")
    assert tr.date(date(2026, 1, 5)) == "5 Jan 2026"


@pytest.fixture(params=["UTC", "Asia/Tokyo"])
def machine_zone(request, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """The device (or the machine serving the web app) set to a zone that is not Mexico City's."""
    import time

    monkeypatch.setenv("TZ", request.param)
    time.tzset()
    yield request.param
    monkeypatch.undo()
    time.tzset()


def test_every_time_shown_is_the_units_local_time_named_whatever_the_machines_zone(machine_zone: str) -> None:
    from carnet.core.clock import hhmm, local_date
    from carnet.views.agenda.calendar import when_text
    from carnet.views.blood_bank.bookings import slot_when
    from carnet_contract import models as contract

    assert datetime(2026, 12, 4, 16, 30, tzinfo=timezone.utc).astimezone().utcoffset() != timedelta(hours=-6)
    start = datetime(2026, 12, 4, 16, 30, tzinfo=timezone.utc)  # 10:30 in Mexico City (UTC-6)
    end = start + timedelta(minutes=30)
    late = datetime(2026, 12, 5, 3, 0, tzinfo=timezone.utc)  # still 4 December, 21:00, in Mexico City
    es, en = Translator("es-MX"), Translator("en")
    assert es.datetime(start) == "4 dic 2026, 10:30 (hora del centro de México)"
    assert en.datetime(start) == "4 Dec 2026, 10:30 (Mexico City time)"
    assert es.time(start) == hhmm(start) == "10:30" and local_date(late) == date(2026, 12, 4)
    assert es.time_range(start, end) == "viernes 4 dic 2026, 10:30 a 11:00 (hora del centro de México)"
    slot = contract.Slot(id="s", bank_id="b", starts_at=start, ends_at=end, capacity=4, available=4)
    assert slot_when(es, slot) == es.time_range(start, end)
    appointment = contract.Appointment.model_construct(starts_at=late, ends_at=late + timedelta(hours=1))
    assert when_text(es, appointment, with_date=True) == "4 dic 2026, 21:00–22:00"


def test_times_are_formatted_only_through_the_units_clock() -> None:
    """One helper (carnet.core.clock) turns instants into the unit's local time: no view formats a time itself."""
    import re
    from pathlib import Path

    src = Path(__file__).resolve().parents[2] / "src" / "carnet"
    pattern = re.compile(r"%H:%M|astimezone\(|strftime\(")
    found = [f"{p.relative_to(src)}:{n}" for p in src.rglob("*.py") if p.name != "clock.py"
             for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
             if pattern.search(line) and "unit_time" not in line]
    assert found == []
