"""The donor form: what was typed and answered, checked into a ``BookingCreate`` body or clear messages.

The phone checks the shape of what was typed (a real date, a 10-digit
phone, a weight in kg, every question answered), then the eligibility rules
the server applies (:mod:`carnet_contract.eligibility`, one definition for
both: age on the donation day, weight, days since the last donation, the
answers). A donor who may not donate yet is an *answer* (``refusal``: every
reason), not a field error; the server still decides (``422
donor_not_eligible``). Dates are typed DD/MM/AAAA. Nothing here touches the store.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from pydantic import ValidationError

from carnet.agenda.form import date_error, parse_date
from carnet.core.i18n import Translator
from carnet_contract import models as contract
from carnet_contract.eligibility import Donor, evaluate

__all__ = ["DonorForm", "DonorFormResult", "check_donor", "form_of", "not_eligible_on"]

_WEIGHT = re.compile(r"^\s*(\d{1,3})(?:[.,](\d{1,2}))?\s*(?:kg)?\s*$", re.IGNORECASE)
NAME_MIN, NAME_MAX = 3, 120


@dataclass
class DonorForm:
    patient_id: str
    slot_id: str
    full_name: str = ""
    phone: str = ""
    birth_text: str = ""
    weight_text: str = ""
    sex: str = ""
    last_donation_text: str = ""
    #: The donor agrees to a WhatsApp reminder the day before (``DonorIn.reminder_consent``; off unless ticked).
    reminder_consent: bool = False
    #: question id → True (sí) / False (no); a missing id is not answered yet.
    answers: dict[str, bool] = field(default_factory=dict)
    #: field name ("full_name", "phone", "birth", "weight", "sex", "last_donation", "answers") → message.
    errors: dict[str, str] = field(default_factory=dict)
    #: Why this donor may not donate yet (every reason), from the phone's check or the server's answer.
    refusal: list[str] = field(default_factory=list)
    #: The refused booking (its local id) this form corrects; it is forgotten once the form is sent again.
    refused_id: str | None = None


@dataclass(frozen=True)
class DonorFormResult:
    body: dict[str, Any] | None
    errors: dict[str, str]
    #: The donor may not donate on that day: every reason, in the app's language (body None, errors empty).
    refusal: tuple[str, ...] = ()


def _weight(text: str) -> float | None:
    match = _WEIGHT.match(text or "")
    if not match:
        return None
    return float(f"{match[1]}.{match[2] or 0}")


def check_donor(
    form: DonorForm,
    questions: list[contract.Question],
    tr: Translator,
    *,
    today: date,
    children: set[str],
    on: date | None = None,
) -> DonorFormResult:
    """The create body, or a message per field, or (``on``: the donation day) the eligibility refusal."""
    t = tr.t
    errors: dict[str, str] = {}
    if form.patient_id not in children:
        errors["patient"] = t("form_err_patient")
    if not form.slot_id:
        errors["slot"] = t("bb_err_slot")
    name = " ".join((form.full_name or "").split())
    if len(name) < NAME_MIN:
        errors["full_name"] = t("bb_err_name")
    elif len(name) > NAME_MAX:
        errors["full_name"] = t("form_err_too_long", max=NAME_MAX)
    phone = re.sub(r"[\s\-]", "", form.phone or "")
    if not (phone.isdigit() and len(phone) == 10):
        errors["phone"] = t("bb_err_phone")
    birth = parse_date(form.birth_text)
    if birth is None:
        errors["birth"] = t(date_error(form.birth_text))
    elif birth >= today or birth.year < 1900:
        errors["birth"] = t("bb_err_birth")
    weight = _weight(form.weight_text)
    if weight is None or not 0 < weight <= 400:
        errors["weight"] = t("bb_err_weight")
    try:
        sex = contract.DonorSex(form.sex)
    except ValueError:
        sex = None
        errors["sex"] = t("bb_err_sex")
    last: date | None = None
    if (form.last_donation_text or "").strip():
        last = parse_date(form.last_donation_text)
        if last is None:
            errors["last_donation"] = t(date_error(form.last_donation_text))
        elif last > today:
            errors["last_donation"] = t("bb_err_future")
        elif birth is not None and last <= birth:
            errors["last_donation"] = t("bb_err_last_before_birth")
    missing = [q for q in questions if q.id not in form.answers]
    if not questions:
        errors["answers"] = t("bb_err_no_questions")
    elif missing:
        errors["answers"] = t("bb_err_answers", count=len(missing))
    if errors:
        return DonorFormResult(None, errors)
    assert birth is not None and weight is not None and sex is not None
    try:
        body = contract.BookingCreate(
            slot_id=form.slot_id,
            patient_id=form.patient_id,
            donor=contract.DonorIn(
                full_name=name,
                phone=phone,
                birth_date=birth,
                weight_kg=weight,
                sex=sex,
                last_donation_on=last,
                reminder_consent=form.reminder_consent,
            ),
            answers={q.id: bool(form.answers[q.id]) for q in questions},
        )
    except ValidationError:
        return DonorFormResult(None, {"full_name": t("err_unexpected")})
    if on is not None:
        donor = Donor.of(body.donor, body.answers, on=on)
        lang = "en" if tr.locale == "en" else "es"
        reasons = evaluate(donor, asked={q.id for q in questions})
        if reasons:
            return DonorFormResult(None, {}, tuple(r.text(lang) for r in reasons))
    return DonorFormResult(body.model_dump(mode="json"), {})


def not_eligible_on(donor: contract.DonorOut, day: date, tr: Translator) -> tuple[str, ...]:
    """Why a booked donor may not donate on ``day`` (a change of time), as far as the phone knows: the rules about
    the donor's age and weight. The answers and the last donation stay with the server (a booking's answer does
    not carry them), which checks them again and may still refuse."""
    lang = "en" if tr.locale == "en" else "es"
    known = Donor(
        birth_date=donor.birth_date,
        weight_kg=donor.weight_kg,
        sex=donor.sex.value,
        last_donation_on=None,
        answers={},
        on=day,
    )
    return tuple(r.text(lang) for r in evaluate(known, asked=()))


def form_of(body: dict[str, Any], *, refusal: list[str], refused_id: str | None) -> DonorForm | None:
    """A refused booking's body as the form it came from (dates back to DD/MM/AAAA), or None if unreadable."""
    try:
        sent = contract.BookingCreate.model_validate(body)
    except ValidationError:
        return None
    donor = sent.donor
    weight = f"{donor.weight_kg:g}"
    return DonorForm(
        patient_id=sent.patient_id,
        slot_id=sent.slot_id,
        full_name=donor.full_name,
        phone=donor.phone,
        birth_text=f"{donor.birth_date:%d/%m/%Y}",
        weight_text=weight,
        sex=donor.sex.value,
        last_donation_text=f"{donor.last_donation_on:%d/%m/%Y}" if donor.last_donation_on else "",
        reminder_consent=donor.reminder_consent,
        answers=dict(sent.answers),
        refusal=list(refusal),
        refused_id=refused_id,
    )
