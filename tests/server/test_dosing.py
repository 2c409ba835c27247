"""Dose arithmetic (carnet_server.chemotherapy.dosing) and the example catalogue, with every case worked out by
hand in the comments. Pure: no app, no database."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from carnet_contract.chemotherapy import RegimenDrug, RegimenIn, RegimenPhase
from carnet_contract.models import DoseBasis
from carnet_server.chemotherapy import catalogue
from carnet_server.chemotherapy.catalogue import load_example_catalogue
from carnet_server.chemotherapy.dosing import (
    ComputedDose,
    bsa_mosteller,
    compute_dose,
    dose_out,
    doxorubicin_equivalent_mg_m2,
    measurement_errors,
    override_error,
    sessions,
)

KG20, BSA20 = Decimal(20), Decimal("0.78")  # 20 kg × 110 cm
KG60, BSA60 = Decimal(60), Decimal("1.68")  # 60 kg × 170 cm


def drug(**changes: object) -> RegimenDrug:
    base: dict[str, object] = {
        "code": "vincristina",
        "name": "Vincristina",
        "route": "IV",
        "basis": "m2",
        "per_basis": 1.5,
        "unit": "mg",
        "round_to": 0.1,
        "cap": 2,
        "days": [1, 8, 15, 22],
    }
    return RegimenDrug.model_validate({**base, **changes})


def dose(d: RegimenDrug, bsa: Decimal = BSA20, kg: Decimal = KG20) -> ComputedDose:
    return compute_dose(d, bsa_m2=bsa, weight_kg=kg)


# ---- body surface ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("weight", "height", "bsa"),
    [
        (20, 110, "0.78"),  # sqrt(2200 / 3600) = sqrt(0.6111) = 0.7817 → 0.78
        (20.0, 110.0, "0.78"),  # floats go through str(): the same
        (60, 170, "1.68"),  # sqrt(10200 / 3600) = sqrt(2.8333) = 1.6833 → 1.68
        (12.5, 90, "0.56"),  # sqrt(1125 / 3600) = sqrt(0.3125) = 0.5590 → 0.56
        (3.6, 100, "0.32"),  # sqrt(360 / 3600) = sqrt(0.1) = 0.3162 → 0.32
        (9, 100, "0.50"),  # sqrt(900 / 3600) = 0.5 exactly
    ],
)
def test_bsa_mosteller(weight: float, height: float, bsa: str) -> None:
    assert bsa_mosteller(weight, height) == Decimal(bsa)


def test_bsa_refuses_nonpositive() -> None:
    with pytest.raises(ValueError):
        bsa_mosteller(0, 110)
    with pytest.raises(ValueError):
        bsa_mosteller(20, -1)


# ---- measurements ---------------------------------------------------------------------------------


def test_good_measurements_have_no_errors() -> None:
    assert measurement_errors(20, 110) == {}
    assert measurement_errors(3, 50) == {}  # sqrt(150 / 3600) = 0.20 m²
    assert measurement_errors(0.5, 80) == {}  # lightest weight allowed; sqrt(40 / 3600) = 0.105 → 0.11 m²
    assert measurement_errors(200, 160) == {}  # heaviest; sqrt(32000 / 3600) = 2.98 m²
    assert measurement_errors(80, 30) == {}  # shortest allowed; sqrt(2400 / 3600) = 0.82 m²
    assert measurement_errors(90, 220) == {}  # tallest allowed; sqrt(19800 / 3600) = 2.35 m²


@pytest.mark.parametrize(
    ("weight", "height", "field", "fragment"),
    [
        (0, 110, "weight_kg", "El peso debe ser mayor que cero. / The weight must be greater than zero."),
        (-1, 110, "weight_kg", "El peso debe ser mayor que cero. / The weight must be greater than zero."),
        (500, 110, "weight_kg", "Un peso de 500 kg no es posible"),
        (0.3, 110, "weight_kg", "Un peso de 0.3 kg no es posible"),
        (200.5, 170, "weight_kg", "is absurd"),
        (20, 0, "height_cm", "La estatura debe ser mayor que cero. / The height must be greater than zero."),
        (20, -5, "height_cm", "La estatura debe ser mayor que cero."),
        (
            20,
            1.2,
            "height_cm",
            "¿La estatura está en metros? Escríbela en centímetros, por ejemplo 120. "
            "/ Is the height in metres? Write it in centimetres, e.g. 120.",
        ),
        (20, 0.3, "height_cm", "en metros"),
        (20, 2.5, "height_cm", "en metros"),
        (20, 0.29, "height_cm", "Una estatura de 0.29 cm no es posible"),
        (20, 2.6, "height_cm", "Una estatura de 2.6 cm no es posible"),
        (20, 25, "height_cm", "/ A height of 25 cm is absurd"),
        (20, 230, "height_cm", "Una estatura de 230 cm no es posible"),
    ],
)
def test_bad_measurement_is_the_only_error(weight: float, height: float, field: str, fragment: str) -> None:
    errors = measurement_errors(weight, height)
    assert list(errors) == [field]
    assert fragment in errors[field]
    assert " / " in errors[field]  # Spanish, then English


def test_both_fields_bad() -> None:
    assert set(measurement_errors(0, 1.2)) == {"weight_kg", "height_cm"}


def test_implausible_body_surface_is_a_form_error() -> None:
    # 0.5 kg × 30 cm: sqrt(15 / 3600) = 0.0645 → 0.06 m² (< 0.1), though each field alone is in range
    errors = measurement_errors(0.5, 30)
    assert list(errors) == ["form"]
    assert "0.06 m²" in errors["form"] and " / " in errors["form"]
    # 200 kg × 220 cm: sqrt(44000 / 3600) = 3.496 → 3.50 m² (> 3.0)
    assert list(measurement_errors(200, 220)) == ["form"]
    # 1.3 kg × 28 cm is already refused field by field: no form error on top
    assert list(measurement_errors(1.3, 28)) == ["height_cm"]


# ---- computed doses -------------------------------------------------------------------------------


def test_m2_rounded_to_a_tenth() -> None:
    # 1.5 mg/m² × 0.78 m² = 1.17 → 1.2 (step 0.1); below the 2 mg cap
    got = dose(drug())
    assert got == ComputedDose(raw=Decimal("1.17"), computed=Decimal("1.2"), capped=False, cap=Decimal(2))
    assert str(got.computed) == "1.2"


def test_big_child_is_capped() -> None:
    # 1.5 mg/m² × 1.68 m² = 2.52 → 2.5 → above the 2 mg cap → 2, capped
    got = dose(drug(), BSA60, KG60)
    assert got.raw == Decimal("2.52")
    assert got.computed == Decimal(2) and str(got.computed) == "2"
    assert got.capped is True and got.cap == Decimal(2)


def test_exactly_at_the_cap_is_not_capped() -> None:
    # 2 mg/m² × 1 m² = 2.0 → 2: equal to the cap, not above it
    got = dose(drug(per_basis=2), Decimal(1))
    assert got.computed == Decimal(2) and got.capped is False


def test_kg_basis() -> None:
    # 0.05 mg/kg × 12.5 kg = 0.625 → 0.63 (step 0.01, half up)
    got = dose(drug(basis="kg", per_basis=0.05, round_to=0.01), kg=Decimal("12.5"))
    assert got.raw == Decimal("0.625") and got.computed == Decimal("0.63") and not got.capped
    # dactinomicina 0.045 mg/kg × 60 kg = 2.7 → above its 2.3 mg cap
    capped = dose(drug(basis="kg", per_basis=0.045, round_to=0.01, cap=2.3), kg=KG60)
    assert capped.computed == Decimal("2.3") and capped.capped


def test_fixed_ignores_body_size() -> None:
    # metotrexato intratecal: 12 mg whatever the child
    it = drug(code="metotrexato-it", route="IT", basis="fixed", per_basis=12, round_to=1, cap=None)
    for bsa, kg in ((BSA20, KG20), (BSA60, KG60)):
        got = dose(it, bsa, kg)
        assert got == ComputedDose(raw=Decimal(12), computed=Decimal(12), capped=False, cap=None)
        assert str(got.computed) == "12"


@pytest.mark.parametrize(
    ("per_basis", "round_to", "bsa", "computed"),
    [
        (50, 5, "0.78", "40"),  # 50 × 0.78 = 39 → 39 / 5 = 7.8 → 8 × 5 = 40 (not "4E+1", not "40.0")
        (50, 5, "1.68", "85"),  # 50 × 1.68 = 84 → 16.8 → 17 × 5 = 85
        (20, 2.5, "0.78", "15"),  # 20 × 0.78 = 15.6 → 6.24 → 6 × 2.5 = 15
        (20, 2.5, "1.68", "32.5"),  # 20 × 1.68 = 33.6 → 13.44 → 13 × 2.5 = 32.5
        (2500, 50, "0.78", "1950"),  # 2500 × 0.78 = 1950, a multiple of 50 already
        (25, 1, "0.78", "20"),  # 25 × 0.78 = 19.5 → 20 (half up)
        (25, 1, "0.82", "21"),  # 25 × 0.82 = 20.5 → 21 (half up; half-even would give 20)
        (37.5, 5, "1", "40"),  # 37.5 / 5 = 7.5 → 8 × 5 = 40: a midpoint goes up
        (3.75, 2.5, "1", "5"),  # 3.75 / 2.5 = 1.5 → 2 × 2.5 = 5
        (1.25, 0.1, "1", "1.3"),  # 1.25 / 0.1 = 12.5 → 13 × 0.1 = 1.3 (half-even would give 1.2)
        (0.125, 0.01, "1", "0.13"),  # 12.5 hundredths → 13
        (37.5, 0.5, "1", "37.5"),  # already on the step: "37.5", not "37.50"
        (6, 0.1, "0.78", "4.7"),  # vinblastina 6 × 0.78 = 4.68 → 4.7
    ],
)
def test_rounding_half_up_to_the_step(per_basis: float, round_to: float, bsa: str, computed: str) -> None:
    got = dose(drug(per_basis=per_basis, round_to=round_to, cap=None), Decimal(bsa))
    assert got.computed == Decimal(computed)
    assert str(got.computed) == computed
    assert got.capped is False and got.cap is None


# ---- the wire dose and overrides ------------------------------------------------------------------


def test_dose_out_as_computed() -> None:
    d = drug()
    out = dose_out(d, dose(d))
    assert out.amount == 1.2 and out.computed == 1.2
    assert out.unit == "mg" and out.basis is DoseBasis.M2 and out.per_basis == 1.5
    assert out.capped is False and out.cap == 2.0 and out.changed_reason is None


def test_dose_out_capped() -> None:
    d = drug()
    out = dose_out(d, dose(d, BSA60, KG60))
    assert out.amount == 2.0 and out.computed == 2.0 and out.capped is True and out.cap == 2.0


def test_dose_out_changed_by_hand() -> None:
    d = drug()
    computed = dose(d)
    out = dose_out(d, computed, amount=1.0, reason="Neuropatía grado 2")
    assert out.amount == 1.0 and out.computed == 1.2 and out.changed_reason == "Neuropatía grado 2"
    # the same amount as computed is no change: the reason is dropped
    same = dose_out(d, computed, amount=Decimal("1.20"), reason="Neuropatía grado 2")
    assert same.amount == 1.2 and same.changed_reason is None
    # a change without a reason is a programming error
    with pytest.raises(ValueError):
        dose_out(d, computed, amount=1.0)


def test_override_bounds() -> None:
    computed = dose(drug())  # 1.2 mg; 4 × 1.2 = 4.8
    assert override_error(computed, 1.2) is None
    assert override_error(computed, 0.1) is None
    assert override_error(computed, 4.8) is None  # exactly 4×
    too_much = override_error(computed, 4.9)
    assert too_much is not None and "inverosímil" in too_much and "/ A dose of 4.9 is implausible" in too_much
    for bad in (0, -1):
        message = override_error(computed, bad)
        assert message == "La dosis debe ser mayor que cero. / The dose must be greater than zero."


# ---- doxorubicin equivalents ----------------------------------------------------------------------


def test_doxorubicin_equivalents() -> None:
    # daunorrubicina 25 mg at 0.78 m², factor 0.6: 25 / 0.78 = 32.0513 × 0.6 = 19.2308 → 19.23
    assert doxorubicin_equivalent_mg_m2(25, bsa_m2=Decimal("0.78"), factor=Decimal("0.6")) == Decimal("19.23")
    # doxorrubicina 25 mg at 0.78 m², factor 1: 32.0513 → 32.05
    assert doxorubicin_equivalent_mg_m2(25.0, bsa_m2=0.78, factor=1) == Decimal("32.05")
    # mitoxantrona 10 mg at 1.25 m², factor 10: 8 × 10 = 80.00
    assert doxorubicin_equivalent_mg_m2(10, bsa_m2=1.25, factor=10) == Decimal("80.00")
    # half up at the second decimal: 0.125 mg at 1 m² → 0.13
    assert doxorubicin_equivalent_mg_m2(Decimal("0.125"), bsa_m2=1, factor=1) == Decimal("0.13")
    with pytest.raises(ValueError):
        doxorubicin_equivalent_mg_m2(25, bsa_m2=0, factor=1)


# ---- sessions -------------------------------------------------------------------------------------


def phase(code: str) -> RegimenPhase:
    regimens, _ = load_example_catalogue()
    return next(p for r in regimens for p in r.phases if p.code == code)


def test_sessions_of_the_induction() -> None:
    # vincristina and daunorrubicina days 1, 8, 15, 22; pegaspargasa (IM) day 4; metotrexato IT day 1
    first = date(2027, 3, 1)
    assert sessions(phase("induccion"), first) == [
        date(2027, 3, 1),
        date(2027, 3, 4),
        date(2027, 3, 8),
        date(2027, 3, 15),
        date(2027, 3, 22),
    ]


def test_sessions_leave_out_home_drugs() -> None:
    # mantenimiento: mercaptopurina and metotrexato oral are taken at home; only vincristina day 1 is a session
    assert sessions(phase("mantenimiento"), date(2027, 4, 1)) == [date(2027, 4, 1)]
    # ABVD: days 1 and 15 only, each once although four drugs are given on them
    assert sessions(phase("abvd"), date(2027, 12, 25)) == [date(2027, 12, 25), date(2028, 1, 8)]


# ---- the example catalogue ------------------------------------------------------------------------


def test_example_catalogue_loads() -> None:
    regimens, factors = load_example_catalogue()
    assert [r.code for r in regimens] == ["hodgkin-abvd", "lla-induccion", "wilms-ee4a"]
    for regimen in regimens:
        assert regimen.example is True
        assert regimen.description and "EJEMPLO" in regimen.description and "EXAMPLE" in regimen.description
        assert RegimenIn.model_validate(regimen.model_dump()) == regimen
        for p in regimen.phases:
            for d in p.drugs:
                if d.family == "antraciclina":
                    assert d.code in factors
    assert factors == {
        "doxorrubicina": Decimal(1),
        "daunorrubicina": Decimal("0.6"),
        "epirrubicina": Decimal("0.8"),
        "idarrubicina": Decimal(5),
        "mitoxantrona": Decimal(10),
    }


def test_catalogue_files_are_example_data() -> None:
    data = json.loads((catalogue.CATALOGUE_DIR / "anthracyclines.json").read_text(encoding="utf-8"))
    assert data["example"] is True and "COG Long-Term Follow-Up Guidelines v6, 2023" in data["source"]
    for path in catalogue.CATALOGUE_DIR.glob("*.json"):
        if path.name != "anthracyclines.json":
            assert json.loads(path.read_text(encoding="utf-8"))["example"] is True


def _copy_catalogue(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for path in catalogue.CATALOGUE_DIR.glob("*.json"):
        (tmp_path / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    monkeypatch.setattr(catalogue, "CATALOGUE_DIR", tmp_path)


def test_catalogue_refuses_an_anthracycline_without_factor(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _copy_catalogue(tmp_path, monkeypatch)
    assert len(load_example_catalogue()[0]) == 3  # the copy loads as the original
    factors = tmp_path / "anthracyclines.json"
    data = json.loads(factors.read_text(encoding="utf-8"))
    del data["factors"]["daunorrubicina"]
    factors.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ValueError, match="daunorrubicina has no doxorubicin-equivalent factor"):
        load_example_catalogue()


def test_catalogue_refuses_an_invalid_regimen(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _copy_catalogue(tmp_path, monkeypatch)
    path = tmp_path / "wilms-ee4a.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    data["phases"][0]["drugs"][0]["unit"] = "ml"  # not one of UNITS
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ValueError, match="unit"):
        load_example_catalogue()
    data["phases"][0]["drugs"][0]["unit"] = "mg"
    data["code"] = "otro"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ValueError, match="the regimen's code is 'otro'"):
        load_example_catalogue()
