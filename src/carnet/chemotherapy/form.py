"""The prescription form as typed (text), checked before anything is sent. No Flet."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from carnet.core.i18n import Translator
from carnet_contract import chemotherapy as chemo

__all__ = ["PrescriptionForm", "check_prescription", "number"]


@dataclass(frozen=True)
class PrescriptionForm:
    protocol_id: str = ""
    phase: str = ""
    scheduled_for: str = ""  # YYYY-MM-DD
    weight_kg: str = ""
    height_cm: str = ""
    #: When the child was weighed and measured (YYYY-MM-DD; empty: today).
    measured_on: str = ""
    #: drug code → (amount, reason) typed by hand; an empty amount keeps the computed dose.
    overrides: dict[str, tuple[str, str]] = field(default_factory=dict)


def number(text: str) -> float | None:
    """12, 12.5 or 12,5; None when it is not a number."""
    try:
        return float(text.strip().replace(",", "."))
    except ValueError:
        return None


def check_prescription(
    tr: Translator, form: PrescriptionForm, *, today: date, dry_run: bool, confirm: bool
) -> tuple[chemo.CycleCreate | None, dict[str, str]]:
    """The request, or what is wrong by field. The server checks everything again (and the arithmetic is its)."""
    errors: dict[str, str] = {}
    if not form.protocol_id:
        errors["protocol_id"] = tr.t("chemo_need_protocol")
    try:
        scheduled = date.fromisoformat(form.scheduled_for.strip())
        if scheduled < today:
            errors["scheduled_for"] = tr.t("chemo_date_past")
    except ValueError:
        scheduled = today
        errors["scheduled_for"] = tr.t("chemo_date_format")
    measured: date | None = None
    if form.measured_on.strip():
        try:
            measured = date.fromisoformat(form.measured_on.strip())
            if measured > today:
                errors["measured_on"] = tr.t("chemo_measured_future")
        except ValueError:
            errors["measured_on"] = tr.t("chemo_date_format")
    weight, height = number(form.weight_kg), number(form.height_cm)
    if weight is None or not 0 < weight <= 300:
        errors["weight_kg"] = tr.t("chemo_weight_bad")
    if height is None or not 0 < height <= 250:
        errors["height_cm"] = tr.t("chemo_height_bad")
    overrides = []
    for code, (amount_text, reason) in form.overrides.items():
        if not amount_text.strip():
            continue
        amount = number(amount_text)
        if amount is None or amount <= 0:
            errors[f"dose:{code}"] = tr.t("chemo_dose_bad")
        elif len(reason.strip()) < 3:
            errors[f"reason:{code}"] = tr.t("chemo_reason_needed")
        else:
            overrides.append(chemo.DoseOverride(drug=code, amount=amount, reason=reason.strip()))
    if errors:
        return None, errors
    assert weight is not None and height is not None
    return (
        chemo.CycleCreate(
            protocol_id=form.protocol_id,
            phase=form.phase or None,
            scheduled_for=scheduled,
            weight_kg=weight,
            height_cm=height,
            measured_on=measured,
            overrides=overrides,
            confirm_measurements=confirm,
            dry_run=dry_run,
        ),
        {},
    )
