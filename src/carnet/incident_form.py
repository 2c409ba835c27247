"""The report form: child, category, unit, the missing item, what happened — checked into an
``IncidentCreate`` body or clear messages. Nothing here touches the store.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from carnet import contract
from carnet.i18n import Translator
from carnet.incidents import NEEDS_ITEM

__all__ = ["DESCRIPTION_MAX", "DESCRIPTION_MIN", "ITEM_MAX", "ReportForm", "ReportResult", "check_report"]

DESCRIPTION_MIN, DESCRIPTION_MAX = 5, 2000
ITEM_MAX = 120
REASON_MIN, REASON_MAX = 5, 1000


@dataclass
class ReportForm:
    patient_id: str | None = None
    category: contract.IncidentCategory | None = None
    #: The child's unit (from the cached carnet); None lets the server use the child's unit.
    unit_id: str | None = None
    unit_name: str = ""
    item_name: str = ""
    description: str = ""
    #: "patient", "category", "item_name", "description" → message.
    errors: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ReportResult:
    body: dict[str, Any] | None
    errors: dict[str, str]


def _clean(text: str) -> str:
    return " ".join((text or "").split())


def check_report(form: ReportForm, tr: Translator, *, children: set[str]) -> ReportResult:
    t = tr.t
    errors: dict[str, str] = {}
    if form.patient_id not in children:
        errors["patient"] = t("form_err_patient")
    if form.category is None:
        errors["category"] = t("inc_err_category")
    item = _clean(form.item_name)
    needs_item = form.category in NEEDS_ITEM
    if needs_item and not item:
        errors["item_name"] = t("inc_err_item_" + form.category.value)  # type: ignore[union-attr]
    elif len(item) > ITEM_MAX:
        errors["item_name"] = t("form_err_too_long", max=ITEM_MAX)
    description = (form.description or "").strip()
    if len(description) < DESCRIPTION_MIN:
        errors["description"] = t("inc_err_description", min=DESCRIPTION_MIN)
    elif len(description) > DESCRIPTION_MAX:
        errors["description"] = t("form_err_too_long", max=DESCRIPTION_MAX)
    if errors:
        return ReportResult(None, errors)
    try:
        body = contract.IncidentCreate(patient_id=form.patient_id, category=form.category, unit_id=form.unit_id,
                                       description=description, item_name=item if needs_item else None)
    except ValidationError:
        return ReportResult(None, {"description": t("err_unexpected")})
    return ReportResult(body.model_dump(mode="json", exclude_none=True), {})


def check_reason(text: str, tr: Translator) -> tuple[dict[str, Any] | None, str | None]:
    """The reopen body, or the message."""
    reason = (text or "").strip()
    if len(reason) < REASON_MIN:
        return None, tr.t("inc_err_reason", min=REASON_MIN)
    if len(reason) > REASON_MAX:
        return None, tr.t("form_err_too_long", max=REASON_MAX)
    return contract.ReopenRequest(reason=reason).model_dump(), None
