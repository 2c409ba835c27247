"""A structured dose (``carnet_contract.models.Dose``) and a cycle's plan, in the words each screen needs."""

from __future__ import annotations

from datetime import date

from carnet.core.i18n import Translator
from carnet_contract import models as contract

__all__ = ["days_text", "dose_detail", "dose_text", "drug_text", "figure", "next_session"]

_BASIS = {contract.DoseBasis.M2: "m²", contract.DoseBasis.KG: "kg"}


def figure(value: float) -> str:
    """12, 1.2, 37.5: no trailing zeros."""
    return f"{value:.3f}".rstrip("0").rstrip(".")


def dose_text(tr: Translator, dose: contract.Dose) -> str:
    """What is given: "1.2 mg"; a dose never computed (migrated): its figure per m² or kg, "25 mg/m²"."""
    if dose.amount is not None:
        return tr.t("dose_amount", amount=figure(dose.amount), unit=dose.unit)
    per = _BASIS.get(dose.basis)
    return tr.t("dose_per", per=figure(dose.per_basis), unit=dose.unit, basis=per) if per else figure(dose.per_basis)


def dose_detail(tr: Translator, dose: contract.Dose, cycle: contract.Cycle) -> list[str]:
    """Where the dose comes from: the arithmetic, a cap, a change by hand and why."""
    notes = []
    per = _BASIS.get(dose.basis)
    size = cycle.bsa_m2 if dose.basis is contract.DoseBasis.M2 else cycle.weight_kg
    if per and size and dose.computed is not None:
        notes.append(
            tr.t(
                "dose_from",
                per=figure(dose.per_basis),
                unit=dose.unit,
                basis=per,
                size=figure(size),
                computed=figure(dose.computed),
            )
        )
    if dose.capped and dose.cap is not None:
        notes.append(tr.t("dose_capped", cap=figure(dose.cap), unit=dose.unit))
    if dose.changed_reason:
        notes.append(tr.t("dose_changed", reason=dose.changed_reason))
    return notes


def days_text(tr: Translator, drug: contract.Drug) -> str | None:
    """When in the cycle it is given: "en casa, cada día", "días 1, 8, 15 y 22" (None: just the first day)."""
    if drug.home_schedule:
        return tr.t(f"home.{drug.home_schedule}")
    if len(drug.days) <= 1:
        return None
    listed = [str(d) for d in drug.days]
    return tr.t("dose_days", days=", ".join(listed[:-1]) + tr.t("and_word") + listed[-1])


def drug_text(tr: Translator, drug: contract.Drug) -> str:
    """ "Vincristina: 1.2 mg, vía IV — días 1, 8, 15 y 22"."""
    text = tr.t("drug_line", name=drug.name, dose=dose_text(tr, drug.dose), route=drug.route)
    when = days_text(tr, drug)
    return f"{text} — {when}" if when else text


def next_session(cycle: contract.Cycle, today: date) -> date | None:
    """The cycle's next hospital session from today on."""
    return next((d for d in sorted(cycle.sessions) if d >= today), None)
