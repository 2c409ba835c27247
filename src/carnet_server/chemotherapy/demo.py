"""Demo data of the chemotherapy plan: the example catalogue, and the demo children's cycles as structured
doses computed from a weight and height typical of their age (the demo writes its plans as text figures per
m², per kg or fixed)."""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from decimal import Decimal

from carnet_contract.chemotherapy import HomeSchedule, RegimenDrug, Route
from carnet_contract.models import DoseBasis
from carnet_server.chemotherapy import dosing
from carnet_server.patients.tables import CycleDrug

__all__ = ["demo_cycle_drugs", "demo_measurements"]

# "mg/m²", "U/m²", "mg/kg", "mg", "g/m²", "mg/m²/día", "mg/m²/día × 3 días"
_UNIT = re.compile(r"^(mg|g|mcg|U)(?:/(m²|kg))?(/día)?(?:\s*×\s*(\d+)\s*días)?$")
#: Vincristine's usual per-dose cap (mg): the demo shows a capped dose on its bigger children.
_CAPS = {"vincristina": 2.0}
_ANTHRACYCLINES = {"doxorrubicina", "daunorrubicina", "epirrubicina", "idarrubicina"}


def demo_measurements(birth_date: date, today: date) -> tuple[float, float]:
    """A weight (kg) and height (cm) typical of the child's age (the usual pediatric estimates)."""
    age = max(1, (today - birth_date).days // 365)
    return float(2 * age + 8), float(6 * age + 77)


def _code(name: str) -> str:
    plain = unicodedata.normalize("NFKD", name.split(" (")[0]).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", "-", plain).strip("-")[:40]


def demo_cycle_drugs(
    drugs: tuple[tuple[str, str, str, str], ...], *, weight_kg: float, height_cm: float
) -> tuple[Decimal, list[CycleDrug]]:
    """The BSA and the cycle's drugs, each dose computed as a prescriber's would be."""
    bsa = dosing.bsa_mosteller(weight_kg, height_cm)
    rows = []
    for position, (name, figure, unit_text, route) in enumerate(drugs):
        match = _UNIT.match(unit_text)
        assert match is not None, unit_text
        unit, per, daily, days = match.groups()
        basis = {"m²": DoseBasis.M2, "kg": DoseBasis.KG}.get(per or "", DoseBasis.FIXED)
        code = _code(name)
        home = HomeSchedule.DIARIO if daily and route == "VO" else None
        count = 28 if home else int(days or 1)
        per_basis = float(figure)
        drug = RegimenDrug(
            code=code,
            name=name,
            route=Route(route),
            basis=basis,
            per_basis=per_basis,
            unit=unit,
            round_to=0.01 if per_basis < 0.5 else 0.1 if per_basis < 20 else 1,
            cap=_CAPS.get(code),
            family="antraciclina" if code in _ANTHRACYCLINES else None,
            days=list(range(1, count + 1)),
            home_schedule=home,
        )
        dose = dosing.dose_out(drug, dosing.compute_dose(drug, bsa_m2=bsa, weight_kg=Decimal(str(weight_kg))))
        rows.append(
            CycleDrug(
                name=name,
                route=route,
                position=position,
                code=code,
                amount=dose.amount,
                dose_unit=dose.unit,
                basis=dose.basis.value,
                per_basis=dose.per_basis,
                computed=dose.computed,
                capped=dose.capped,
                cap=dose.cap,
                family=drug.family,
                days=",".join(str(d) for d in drug.days),
                home_schedule=home.value if home else None,
            )
        )
    return bsa, rows
