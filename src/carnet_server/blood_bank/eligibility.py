"""Donor eligibility: the rules are shared with the phone, in :mod:`carnet_contract.eligibility`."""

from carnet_contract.eligibility import (
    Donor,
    InvalidAnswers,
    Question,
    Reason,
    Rule,
    age_on,
    evaluate,
    questions,
    rules,
    validate_answers,
)

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
