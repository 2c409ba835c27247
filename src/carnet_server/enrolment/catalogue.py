"""The diagnosis catalogue, kept as data (``diagnoses.json``): CIE-10 codes of childhood cancers in the
twelve main groups of the ICCC-3, with Spanish names. Read once per process."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from carnet_contract import enrolment as wire

__all__ = ["CATALOGUE_PATH", "GROUPS", "entries", "lookup"]

CATALOGUE_PATH = Path(__file__).with_name("diagnoses.json")
#: The ICCC-3 main groups, in the registry's order.
GROUPS = ("I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII")


@cache
def _load() -> dict[str, wire.DiagnosisEntry]:
    data = json.loads(CATALOGUE_PATH.read_text(encoding="utf-8"))
    found: dict[str, wire.DiagnosisEntry] = {}
    for group in data["groups"]:
        for item in group["codes"]:
            if item["code"] in found:
                raise ValueError(f"diagnoses.json: {item['code']} appears twice")
            found[item["code"]] = wire.DiagnosisEntry(
                code=item["code"], name=item["name"], group=group["group"], group_name=group["name"]
            )
    return found


def entries() -> list[wire.DiagnosisEntry]:
    """Every code, grouped in the registry's order."""
    return sorted(_load().values(), key=lambda e: (GROUPS.index(e.group), e.code))


def lookup(code: str) -> wire.DiagnosisEntry | None:
    return _load().get(code.strip().upper())
