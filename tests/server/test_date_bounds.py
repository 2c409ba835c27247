"""Dates near the ends of the calendar are a 422 with a clear message, never a 500: every date query
parameter (appointments and their ``.ics``, donor counts, the blood bank's day list, the case desk's
weekly figures and the registry's, with their CSV and Markdown) is bounded to the years 2000–2099."""

from __future__ import annotations

import warnings
from collections.abc import Callable

import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from tests.server.blood_bank_support import bank_id
from tests.server.conftest import assert_error

Auth = Callable[[str], dict[str, str]]
EN = {"Accept-Language": "en"}

#: Ranges (``from``/``to``) as ISO dates and date-times: each far outside 2000–2099.
FAR_RANGES = [
    {"from": "9999-12-31"},
    {"to": "9999-12-31"},
    {"from": "9999-12-30", "to": "9999-12-31"},
    {"from": "9999-12-31T23:00:00+00:00"},
    {"to": "0001-01-01"},
    {"from": "0001-01-01", "to": "0001-01-02"},
    {"from": "1999-12-31", "to": "2000-01-02"},
    {"from": "2100-01-01"},
]
FAR_DAYS = ["9999-12-31", "0001-01-01", "1999-12-31", "2100-01-01"]
FAR_MONDAYS = ["9999-12-27", "0001-01-01", "1999-12-27", "2100-01-04"]


def _bounded(response: object) -> None:
    error = assert_error(response, 422, "date_out_of_range")
    assert "2000" in error["message"] and "2099" in error["message"], error


@pytest.mark.parametrize("params", FAR_RANGES)
def test_appointment_ranges(client: TestClient, auth: Auth, patient_ids: dict[str, str],
                            params: dict[str, str]) -> None:
    url = f"/api/v1/patients/{patient_ids['Mateo Hernández']}/appointments"
    madre = auth("madre.demo")
    _bounded(client.get(url, params=params, headers=madre))
    _bounded(client.get(url + ".ics", params=params, headers=madre))
    english = client.get(url, params=params, headers={**madre, **EN})
    assert "between" in assert_error(english, 422, "date_out_of_range")["message"]


def test_appointment_ranges_at_the_edges_still_answer(client: TestClient, auth: Auth,
                                                      patient_ids: dict[str, str]) -> None:
    url = f"/api/v1/patients/{patient_ids['Mateo Hernández']}/appointments"
    madre = auth("madre.demo")
    for params in ({"from": "2000-01-01"}, {"to": "2099-12-31"}, {"from": "2099-12-01", "to": "2099-12-31"}):
        assert client.get(url, params=params, headers=madre).status_code == 200, params
        assert client.get(url + ".ics", params=params, headers=madre).status_code == 200, params


@pytest.mark.parametrize("params", FAR_RANGES)
def test_donor_counts(client: TestClient, auth: Auth, params: dict[str, str]) -> None:
    staff = auth("banco.demo")
    _bounded(client.get(f"/api/v1/blood-banks/{bank_id(client, staff)}/donor-counts", params=params, headers=staff))


def test_blood_bank_days(client: TestClient, auth: Auth) -> None:
    staff, madre = auth("banco.demo"), auth("madre.demo")
    bank = bank_id(client, staff)
    for day in FAR_DAYS:
        _bounded(client.get(f"/api/v1/blood-banks/{bank}/bookings", params={"date": day}, headers=staff))
    assert client.get(f"/api/v1/blood-banks/{bank}/bookings", params={"date": "2099-12-31"},
                      headers=staff).status_code == 200
    # the families' slot list keeps its own window (today to 60 days ahead)
    assert_error(client.get(f"/api/v1/blood-banks/{bank}/slots", params={"date": "9999-12-31"}, headers=madre),
                 422, "date_too_far")


@pytest.mark.parametrize("base, user", [("/api/v1/case-desk/weekly", "casos.demo"),
                                        ("/api/v1/registry/figures", "admin.demo")])
def test_weekly_figures(client: TestClient, auth: Auth, base: str, user: str) -> None:
    headers = auth(user)
    for week in FAR_MONDAYS:
        for suffix in ("", ".csv", ".md"):
            _bounded(client.get(f"{base}{suffix}", params={"week": week}, headers=headers))
    for week in ("2000-01-03", "2099-12-28"):
        for suffix in ("", ".csv", ".md"):
            assert client.get(f"{base}{suffix}", params={"week": week}, headers=headers).status_code == 200, week
    # not a Monday is still invalid_week
    assert_error(client.get(base, params={"week": "9999-12-31"}, headers=headers), 422, "invalid_week")
