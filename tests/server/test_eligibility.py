"""Donor eligibility: every rule at and beyond its boundary, every reason listed, in both languages."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from carnet_contract import eligibility  # the rules themselves (shared with the phone)
from carnet_contract.eligibility import Donor, age_on, evaluate, questions, rules, validate_answers

DAY = date(2027, 3, 10)  # the slot's local date


def answers(**changes: bool) -> dict[str, bool]:
    return {**{q.id: q.eligible_answer for q in questions()}, **changes}


def donor(**changes: object) -> Donor:
    base: dict[str, object] = {"birth_date": date(1990, 1, 1), "weight_kg": 70.0, "sex": "hombre",
                               "last_donation_on": None, "answers": answers(), "on": DAY}
    return Donor(**{**base, **changes})  # type: ignore[arg-type]


def codes(d: Donor) -> list[str]:
    return [r.code for r in evaluate(d)]


def years_before(day: date, years: int) -> date:
    return day.replace(year=day.year - years)


def test_an_eligible_donor_passes() -> None:
    assert codes(donor()) == []


@pytest.mark.parametrize(("birth", "ok"), [
    (years_before(DAY, 18) + timedelta(days=1), False),  # 17 years and 364 days
    (years_before(DAY, 18), True),                       # 18 today
    (years_before(DAY, 66) + timedelta(days=1), True),   # 65 years and 364 days
    (years_before(DAY, 66), False),                      # 66 today
    (DAY + timedelta(days=1), False),                    # born after the appointment
])
def test_age_between_18_and_65_on_the_slot_date(birth: date, ok: bool) -> None:
    assert codes(donor(birth_date=birth)) == ([] if ok else ["age"])


def test_age_counts_completed_years_and_leap_days() -> None:
    assert age_on(date(2008, 2, 29), date(2026, 2, 28)) == 17
    assert age_on(date(2008, 2, 29), date(2026, 3, 1)) == 18


@pytest.mark.parametrize(("weight", "ok"), [(49.9, False), (49.99, False), (50.0, True), (50.1, True)])
def test_weight_at_least_50_kg(weight: float, ok: bool) -> None:
    assert codes(donor(weight_kg=weight)) == ([] if ok else ["weight"])


@pytest.mark.parametrize("sex", ["hombre", "mujer"])
@pytest.mark.parametrize(("days_ago", "ok"), [(0, False), (55, False), (56, True), (400, True)])
def test_eight_weeks_since_the_last_donation_by_sex(sex: str, days_ago: int, ok: bool) -> None:
    d = donor(sex=sex, last_donation_on=DAY - timedelta(days=days_ago))
    assert codes(d) == ([] if ok else ["donation_interval"])


def test_the_interval_comes_from_the_data_per_sex(monkeypatch: pytest.MonkeyPatch) -> None:
    (rule,) = [r for r in rules() if r.kind == "days_since_last_donation"]
    patched = eligibility.Rule(rule.id, rule.kind, {"days": {"hombre": 56, "mujer": 84}}, rule.message)
    monkeypatch.setattr(eligibility, "rules", lambda: tuple(patched if r is rule else r for r in rules()))
    last = DAY - timedelta(days=60)
    assert codes(donor(sex="hombre", last_donation_on=last)) == []
    assert codes(donor(sex="mujer", last_donation_on=last)) == ["donation_interval"]


@pytest.mark.parametrize("question", [q.id for q in questions()])
def test_each_question_refuses_on_the_other_answer(question: str) -> None:
    q = next(q for q in questions() if q.id == question)
    assert codes(donor(answers=answers(**{question: not q.eligible_answer}))) == [question]
    assert codes(donor(answers=answers(**{question: q.eligible_answer}))) == []


def test_every_failing_rule_is_listed_in_file_order_with_both_languages() -> None:
    bad = answers(tattoo_piercing=True, fever_infection=True, fasting=False, stem_cell_relative=True)
    reasons = evaluate(donor(birth_date=years_before(DAY, 17), weight_kg=45, answers=bad,
                             last_donation_on=DAY - timedelta(days=10)))
    assert [r.code for r in reasons] == ["age", "weight", "donation_interval", "fever_infection", "tattoo_piercing",
                                         "fasting", "stem_cell_relative"]
    for reason in reasons:
        assert reason.text("es") and reason.text("en") and reason.text("es") != reason.text("en")
    transplant = reasons[-1]
    assert "trasplante" in transplant.text("es") and "sensibilizar" in transplant.text("es")
    assert "stem-cell transplant" in transplant.text("en")


def test_the_questionnaire_covers_the_norm_topics() -> None:
    ids = {q.id for q in questions()}
    assert {"fever_infection", "tattoo_piercing", "surgery", "pregnancy", "vaccine", "medication", "alcohol",
            "fasting", "infectious_disease", "risk_exposure", "stem_cell_relative"} <= ids
    assert all(q.text["es"].startswith(("¿", "En ")) and q.text["en"].endswith("?") for q in questions())
    # every question has exactly one rule, and every rule kind has an evaluator
    asked = [r.params["question"] for r in rules() if r.kind == "answer_must_be"]
    assert sorted(asked) == sorted(ids)
    assert {r.kind for r in rules()} == set(eligibility.EVALUATORS)


def test_answers_must_cover_every_question_and_nothing_else() -> None:
    validate_answers(answers())
    incomplete = answers()
    del incomplete["alcohol"]
    with pytest.raises(eligibility.InvalidAnswers) as missing:
        validate_answers(incomplete)
    assert missing.value.missing == ["alcohol"] and missing.value.unknown == []
    with pytest.raises(eligibility.InvalidAnswers) as unknown:
        validate_answers({**answers(), "hobby": True})
    assert unknown.value.unknown == ["hobby"] and unknown.value.missing == []
