"""Checks of a child's identity data, each problem a (field, code) pair; and the name key for search and
the similar-name check. No database here.

CURP and NSS: the format and check digit of patients/tables.py (RENAPO's CURP check digit, Luhn over the
NSS), and the CURP must agree with the birth date (positions 5–10, ``AAMMDD``) and the sex (position 11:
``M`` mujer, ``H`` hombre; ``X`` is accepted for either).

Agregado médico: the IMSS code that tells apart the beneficiaries registered under one NSS (a child is
registered under the NSS of the insured parent). As printed on IMSS documents it has 8 characters,
``1F2010OR``:

    position 1      a digit 1–9: the beneficiary's kinship/order under the NSS
    position 2      sex: F (femenino) or M (masculino)
    positions 3–6   year of birth, four digits (19xx or 20xx)
    positions 7–8   the insurance regime, two letters (OR ordinario, ES estudiante, PE pensionado, …)

so ``AGREGADO_RE`` is ``[1-9][FM](19|20)\\d{2}[A-Z]{2}``, and the sex and year must agree with the child's.
The meaning of the first digit varies by IMSS system; only its form is checked.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from difflib import SequenceMatcher

from carnet_server.patients.tables import curp_problem, nss_problem

__all__ = [
    "AGREGADO_RE",
    "SIMILAR_RATIO",
    "Problem",
    "agregado_problems",
    "clean_name",
    "curp_problems",
    "name_key",
    "name_problem",
    "nss_problems",
    "similar",
]

AGREGADO_RE = re.compile(r"[1-9][FM](19|20)\d{2}[A-Z]{2}")
#: Two name keys at least this alike (difflib's ratio) are "similar" (one or two letters apart in a full name).
SIMILAR_RATIO = 0.85
_NAME_PUNCTUATION = frozenset(" '.-")


@dataclass(frozen=True)
class Problem:
    field: str
    code: str


def clean_name(text: str) -> str:
    """Spaces collapsed."""
    return " ".join(text.split())


def name_problem(field: str, text: str) -> Problem | None:
    """Letters (accents, ñ, ü), spaces, apostrophes, dots and hyphens only, with at least one letter."""
    if not any(ch.isalpha() for ch in text) or any(not (ch.isalpha() or ch in _NAME_PUNCTUATION) for ch in text):
        return Problem(field, "invalid_name")
    return None


def curp_problems(curp: str, *, birth_date: date | None, sex: str | None) -> list[Problem]:
    problem = curp_problem(curp)
    if problem is not None:
        return [Problem("curp", "curp_check_digit" if "check digit" in problem else "curp_format")]
    found = []
    if birth_date is not None and curp[4:10] != birth_date.strftime("%y%m%d"):
        found.append(Problem("curp", "curp_birth_date_mismatch"))
    if sex is not None and curp[10] != "X" and curp[10] != ("M" if sex == "mujer" else "H"):
        found.append(Problem("curp", "curp_sex_mismatch"))
    return found


def nss_problems(nss: str) -> list[Problem]:
    problem = nss_problem(nss)
    if problem is None:
        return []
    return [Problem("nss", "nss_check_digit" if "check digit" in problem else "nss_format")]


def agregado_problems(agregado: str, *, birth_date: date | None, sex: str | None) -> list[Problem]:
    if not AGREGADO_RE.fullmatch(agregado):
        return [Problem("agregado", "agregado_format")]
    if sex is not None and agregado[1] != ("F" if sex == "mujer" else "M"):
        return [Problem("agregado", "agregado_sex_mismatch")]
    if birth_date is not None and agregado[2:6] != f"{birth_date.year:04d}":
        return [Problem("agregado", "agregado_year_mismatch")]
    return []


def name_key(*parts: str | None) -> str:
    """The name without accents, case, punctuation or extra spaces (``"Hernández López Mateo"`` →
    ``"hernandez lopez mateo"``)."""
    text = " ".join(p for p in parts if p)
    plain = "".join(ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch))
    return " ".join(re.sub(r"[^\w\s]", " ", plain.casefold()).split())


def similar(a: str, b: str) -> bool:
    """Whether two name keys look like the same person typed twice (same words in another order, or a few
    letters apart)."""
    if not a or not b:
        return False
    if sorted(a.split()) == sorted(b.split()):
        return True
    return SequenceMatcher(None, a, b).ratio() >= SIMILAR_RATIO
