"""The example regimen catalogue, kept as data: one JSON file per regimen (each a ``RegimenIn`` marked
``example``) and ``anthracyclines.json``, the doxorubicin-equivalent factors. Example data for the demo, not
clinical guidance."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from carnet_contract.chemotherapy import RegimenIn

__all__ = ["ANTHRACYCLINE_FAMILY", "CATALOGUE_DIR", "load_example_catalogue"]

CATALOGUE_DIR = Path(__file__).parent
FACTORS_FILE = "anthracyclines.json"
#: The drug family counted as doxorubicin equivalents.
ANTHRACYCLINE_FAMILY = "antraciclina"


def load_example_catalogue() -> tuple[list[RegimenIn], dict[str, Decimal]]:
    """The example regimens, sorted by code, and drug code → doxorubicin-equivalent factor."""
    factors_data = json.loads((CATALOGUE_DIR / FACTORS_FILE).read_text(encoding="utf-8"))
    factors = {code: Decimal(str(value)) for code, value in factors_data["factors"].items()}
    regimens: list[RegimenIn] = []
    for path in sorted(CATALOGUE_DIR.glob("*.json")):
        if path.name == FACTORS_FILE:
            continue
        regimen = RegimenIn.model_validate_json(path.read_text(encoding="utf-8"))
        if regimen.code != path.stem:
            raise ValueError(f"{path.name}: the regimen's code is {regimen.code!r}")
        for phase in regimen.phases:
            for drug in phase.drugs:
                if drug.family == ANTHRACYCLINE_FAMILY and drug.code not in factors:
                    raise ValueError(f"{path.name}: {drug.code} has no doxorubicin-equivalent factor")
        regimens.append(regimen)
    return sorted(regimens, key=lambda r: r.code), factors
