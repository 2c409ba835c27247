"""Donor eligibility as data: the questionnaire and the rules live in ``eligibility_rules.json``.

Shared by the server (which decides: ``422 donor_not_eligible``) and the phone
(which checks the same rules before sending, so a family learns at once what
can be known offline). One definition, one file.

Each rule has an ``id`` (the reason code), a ``kind`` naming one of the generic
evaluators below, its ``params`` and a refusal message in Spanish and English.
:func:`evaluate` runs every rule and returns every one that fails, in file
order — a refusal always lists all its reasons.

    InvalidAnswers      answers missing, or for questions that do not exist (422)
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import date
from functools import cache
from importlib import resources
from typing import Any

from carnet_contract.models import DonorIn

__all__ = [
    "Donor",
    "InvalidAnswers",
    "Question",
    "Reason",
    "Rule",
    "age_on",
    "evaluate",
    "questions",
    "rules",
    "validate_answers",
]

RULES_FILE = "eligibility_rules.json"


@dataclass(frozen=True)
class Question:
    id: str
    text: Mapping[str, str]
    eligible_answer: bool


@dataclass(frozen=True)
class Rule:
    id: str
    kind: str
    params: Mapping[str, Any]
    message: Mapping[str, str]


@dataclass(frozen=True)
class Reason:
    """A failed rule: its code and its message in each language."""

    code: str
    message: Mapping[str, str]

    def text(self, lang: str) -> str:
        """The message in ``lang`` (\"es\" or \"en\"; any other: Spanish)."""
        return self.message.get(lang) or self.message["es"]


@dataclass(frozen=True)
class Donor:
    """What the rules look at: the donor's data, the answers, and the donation day (local)."""

    birth_date: date
    weight_kg: float
    sex: str
    last_donation_on: date | None
    answers: Mapping[str, bool]
    on: date

    @classmethod
    def of(cls, donor: DonorIn, answers: Mapping[str, bool], *, on: date) -> Donor:
        return cls(
            birth_date=donor.birth_date,
            weight_kg=donor.weight_kg,
            sex=donor.sex.value,
            last_donation_on=donor.last_donation_on,
            answers=answers,
            on=on,
        )


class InvalidAnswers(Exception):
    def __init__(self, *, missing: list[str], unknown: list[str]) -> None:
        super().__init__("invalid answers")
        self.missing = missing
        self.unknown = unknown


@cache
def _load() -> tuple[tuple[Question, ...], tuple[Rule, ...]]:
    data = json.loads(resources.files("carnet_contract").joinpath(RULES_FILE).read_text(encoding="utf-8"))
    qs = tuple(Question(q["id"], q["text"], bool(q["eligible_answer"])) for q in data["questions"])
    rs = tuple(Rule(r["id"], r["kind"], r.get("params", {}), r["message"]) for r in data["rules"])
    ids = {q.id for q in qs}
    for rule in rs:
        if rule.kind not in EVALUATORS:
            raise ValueError(f"rule {rule.id}: unknown kind {rule.kind}")
        if rule.kind == "answer_must_be" and rule.params["question"] not in ids:
            raise ValueError(f"rule {rule.id}: unknown question {rule.params['question']}")
        if set(rule.message) != {"es", "en"}:
            raise ValueError(f"rule {rule.id}: needs es and en messages")
    return qs, rs


def questions() -> tuple[Question, ...]:
    return _load()[0]


def rules() -> tuple[Rule, ...]:
    return _load()[1]


def age_on(birth_date: date, day: date) -> int:
    """Completed years on ``day`` (a 29 February birthday counts from 1 March in common years)."""
    return day.year - birth_date.year - ((day.month, day.day) < (birth_date.month, birth_date.day))


# ---- the evaluators: one per kind; True means the donor passes ----------------------


def _age_between(donor: Donor, params: Mapping[str, Any]) -> bool:
    return int(params["min"]) <= age_on(donor.birth_date, donor.on) <= int(params["max"])


def _min_weight(donor: Donor, params: Mapping[str, Any]) -> bool:
    return donor.weight_kg >= float(params["min_kg"])


def _answer_must_be(donor: Donor, params: Mapping[str, Any]) -> bool:
    return donor.answers.get(str(params["question"])) is bool(params["value"])


def _days_since_last_donation(donor: Donor, params: Mapping[str, Any]) -> bool:
    if donor.last_donation_on is None:
        return True
    return (donor.on - donor.last_donation_on).days >= int(params["days"][donor.sex])


EVALUATORS: dict[str, Callable[[Donor, Mapping[str, Any]], bool]] = {
    "age_between": _age_between,
    "min_weight": _min_weight,
    "answer_must_be": _answer_must_be,
    "days_since_last_donation": _days_since_last_donation,
}


def validate_answers(answers: Mapping[str, bool]) -> None:
    """Every question answered, and nothing else; else :class:`InvalidAnswers`."""
    ids = [q.id for q in questions()]
    missing = [i for i in ids if i not in answers]
    unknown = sorted(k for k in answers if k not in set(ids))
    if missing or unknown:
        raise InvalidAnswers(missing=missing, unknown=unknown)


def evaluate(donor: Donor, *, asked: Collection[str] | None = None) -> list[Reason]:
    """Every rule the donor fails (empty: eligible).

    ``asked``: the questions the person was shown (the phone's cached questionnaire); a rule about a
    question not among them is left to the server. None: every rule (the server).
    """
    return [
        Reason(rule.id, rule.message)
        for rule in rules()
        if (asked is None or rule.kind != "answer_must_be" or rule.params["question"] in asked)
        and not EVALUATORS[rule.kind](donor, rule.params)
    ]
