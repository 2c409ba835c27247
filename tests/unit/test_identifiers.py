"""CURP and NSS check digits, and the Patient validators that use them."""

from __future__ import annotations

from datetime import date

import pytest

from carnet_server.demo import CHILDREN
from carnet_server.patients.tables import Patient, curp_check_digit, curp_problem, nss_check_digit, nss_problem

# Published examples: RENAPO's own sample CURP, and the textbook Luhn number (11 digits, like an NSS).
VALID_CURPS = ("HEGG560427MVZRRL04", "MAHJ280603MSPRRV09", "SABC560626MDFLRN01")
VALID_NSS = ("79927398713",)


def _renapo_digit(first17: str) -> str:
    """Written out from RENAPO's description, independently of the code under test."""
    values = {ch: i for i, ch in enumerate("0123456789ABCDEFGHIJKLMNÑOPQRSTUVWXYZ")}
    total = 0
    for position, ch in enumerate(first17, start=1):
        total += values[ch] * (19 - position)
    return str((10 - total % 10) % 10)


def _luhn_ok(number: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


@pytest.mark.parametrize("curp", VALID_CURPS)
def test_known_valid_curps(curp: str) -> None:
    assert curp_check_digit(curp[:17]) == curp[17] == _renapo_digit(curp[:17])
    assert curp_problem(curp) is None


@pytest.mark.parametrize("curp", VALID_CURPS)
def test_curp_off_by_one_is_caught(curp: str) -> None:
    wrong_digit = curp[:17] + str((int(curp[17]) + 1) % 10)
    problem = curp_problem(wrong_digit)
    assert problem is not None and "check digit" in problem
    # the day of birth off by one (a typo in the body): the stored digit no longer fits
    typo = curp[:9] + str(int(curp[9]) + 1) + curp[10:]
    assert curp_problem(typo) is not None and "check digit" in str(curp_problem(typo))


def test_curp_format_problems_come_first() -> None:
    assert "format" in str(curp_problem("HEGG560427MVZRRL0"))  # 17 characters
    assert "format" in str(curp_problem("HEGG561327MVZRRL04"))  # month 13
    assert "format" in str(curp_problem("HEGG560427MXXRRL04"))  # no such state
    with pytest.raises(ValueError):
        curp_check_digit("HEGG56042")


@pytest.mark.parametrize("nss", VALID_NSS)
def test_known_valid_nss(nss: str) -> None:
    assert nss_check_digit(nss[:10]) == nss[10]
    assert nss_problem(nss) is None


def test_nss_off_by_one_and_format() -> None:
    assert "check digit" in str(nss_problem("79927398714"))
    assert "check digit" in str(nss_problem("79927398703"))  # a typo in the body
    assert nss_problem("7992739871") == "NSS must be 11 digits"
    assert nss_problem("7992739871A") == "NSS must be 11 digits"
    for first10 in ("0000000000", "1234567890", "9999999999", "3919194521"):
        assert _luhn_ok(first10 + nss_check_digit(first10))


def test_every_demo_child_has_valid_identifiers() -> None:
    for child in CHILDREN:
        assert curp_problem(child.curp) is None, child.curp
        assert nss_problem(child.nss) is None, child.nss


def _patient(**overrides: str) -> Patient:
    fields = {"full_name": "Niña Prueba", "display_name": "Niña", "nss": "79927398713",
              "curp": "HEGG560427MVZRRL04", "unit_id": "u", **overrides}
    return Patient(birth_date=date(2015, 1, 1), **fields)


def test_patient_accepts_valid_and_normalises() -> None:
    patient = _patient(curp=" hegg560427mvzrrl04 ", nss=" 79927398713")
    assert patient.curp == "HEGG560427MVZRRL04" and patient.nss == "79927398713"


@pytest.mark.parametrize(("field", "value", "message"), [
    ("curp", "HEGG560427MVZRRL05", "CURP check digit"),
    ("curp", "NOT-A-CURP", "CURP does not match"),
    ("nss", "79927398710", "NSS check digit"),
    ("nss", "123", "NSS must be 11 digits"),
])
def test_patient_refuses_invalid(field: str, value: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _patient(**{field: value})
