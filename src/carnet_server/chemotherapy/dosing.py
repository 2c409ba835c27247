"""Dose arithmetic for the chemotherapy plan, pure and without a database: body surface (Mosteller), a
protocol's dose for one child (per m², per kg or fixed; rounded half up to the drug's step; capped), the wire
``Dose``, the bounds of a dose changed by hand, doxorubicin equivalents and a phase's hospital days.

Everything is computed in ``Decimal``; floats coming in are converted through ``str`` so 0.1 stays 0.1.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from carnet_contract.chemotherapy import RegimenDrug, RegimenPhase
from carnet_contract.models import Dose, DoseBasis

__all__ = [
    "ComputedDose",
    "Number",
    "bsa_mosteller",
    "compute_dose",
    "dose_out",
    "doxorubicin_equivalent_mg_m2",
    "measurement_errors",
    "override_error",
    "sessions",
]

Number = Decimal | float | int

_CENT = Decimal("0.01")
_ONE = Decimal(1)
#: An override may be at most this many times the computed dose.
OVERRIDE_FACTOR = Decimal(4)
WEIGHT_MIN_KG, WEIGHT_MAX_KG = Decimal("0.5"), Decimal(200)
HEIGHT_MIN_CM, HEIGHT_MAX_CM = Decimal(30), Decimal(220)
METRES_MIN, METRES_MAX = Decimal("0.3"), Decimal("2.5")
BSA_MIN_M2, BSA_MAX_M2 = Decimal("0.1"), Decimal("3.0")


def _dec(value: Number) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


def _tidy(value: Decimal) -> Decimal:
    """Without trailing zeros, and without an exponent for whole numbers (40, not 4E+1)."""
    plain = value.normalize()
    exponent = plain.as_tuple().exponent
    return plain.quantize(_ONE) if isinstance(exponent, int) and exponent > 0 else plain


def bsa_mosteller(weight_kg: Number, height_cm: Number) -> Decimal:
    """Body surface area in m²: sqrt(weight × height / 3600), to 2 decimals half up."""
    weight, height = _dec(weight_kg), _dec(height_cm)
    if weight <= 0 or height <= 0:
        raise ValueError("weight and height must be positive")
    return (weight * height / 3600).sqrt().quantize(_CENT, rounding=ROUND_HALF_UP)


def measurement_errors(weight_kg: Number, height_cm: Number) -> dict[str, str]:
    """Field ("weight_kg", "height_cm", or "form" for the body surface) → why it is refused; empty when fine."""
    weight, height = _dec(weight_kg), _dec(height_cm)
    errors: dict[str, str] = {}
    if weight <= 0:
        errors["weight_kg"] = "El peso debe ser mayor que cero. / The weight must be greater than zero."
    elif weight < WEIGHT_MIN_KG or weight > WEIGHT_MAX_KG:
        errors["weight_kg"] = (
            f"Un peso de {_tidy(weight)} kg no es posible; revísalo (entre {WEIGHT_MIN_KG} y {WEIGHT_MAX_KG} kg). "
            f"/ A weight of {_tidy(weight)} kg is absurd; check it (between {WEIGHT_MIN_KG} and {WEIGHT_MAX_KG} kg)."
        )
    if height <= 0:
        errors["height_cm"] = "La estatura debe ser mayor que cero. / The height must be greater than zero."
    elif METRES_MIN <= height <= METRES_MAX:
        errors["height_cm"] = (
            "¿La estatura está en metros? Escríbela en centímetros, por ejemplo 120. "
            "/ Is the height in metres? Write it in centimetres, e.g. 120."
        )
    elif height < HEIGHT_MIN_CM or height > HEIGHT_MAX_CM:
        errors["height_cm"] = (
            f"Una estatura de {_tidy(height)} cm no es posible; revísala (entre {HEIGHT_MIN_CM} y {HEIGHT_MAX_CM} "
            f"cm). / A height of {_tidy(height)} cm is absurd; check it (between {HEIGHT_MIN_CM} and "
            f"{HEIGHT_MAX_CM} cm)."
        )
    if not errors:
        bsa = bsa_mosteller(weight, height)
        if bsa < BSA_MIN_M2 or bsa > BSA_MAX_M2:
            errors["form"] = (
                f"La superficie corporal calculada ({bsa} m²) no es posible; revisa peso y estatura. "
                f"/ The computed body surface area ({bsa} m²) is implausible; check weight and height."
            )
    return errors


@dataclass(frozen=True, slots=True)
class ComputedDose:
    """A protocol's dose for one child."""

    #: per_basis × BSA or weight (or the fixed dose), before rounding.
    raw: Decimal
    #: Rounded to the drug's step, then capped.
    computed: Decimal
    #: The rounded dose was above the drug's cap, so ``computed`` is the cap.
    capped: bool
    #: The drug's cap per dose (None: it has none).
    cap: Decimal | None


def _round_to(value: Decimal, step: Decimal) -> Decimal:
    return _tidy((value / step).quantize(_ONE, rounding=ROUND_HALF_UP) * step)


def compute_dose(drug: RegimenDrug, *, bsa_m2: Decimal, weight_kg: Decimal) -> ComputedDose:
    per_basis = _dec(drug.per_basis)
    if drug.basis is DoseBasis.M2:
        raw = per_basis * _dec(bsa_m2)
    elif drug.basis is DoseBasis.KG:
        raw = per_basis * _dec(weight_kg)
    else:
        raw = per_basis
    rounded = _round_to(raw, _dec(drug.round_to))
    cap = None if drug.cap is None else _tidy(_dec(drug.cap))
    if cap is not None and rounded > cap:
        return ComputedDose(raw=_tidy(raw), computed=cap, capped=True, cap=cap)
    return ComputedDose(raw=_tidy(raw), computed=rounded, capped=False, cap=cap)


def dose_out(
    drug: RegimenDrug, computed: ComputedDose, *, amount: Number | None = None, reason: str | None = None
) -> Dose:
    """The wire dose: the computed amount, or the one written by hand (then ``reason`` says why)."""
    given = computed.computed if amount is None else _dec(amount)
    changed = given != computed.computed
    if changed and not reason:
        raise ValueError("a dose changed by hand needs a reason")
    return Dose(
        amount=float(given),
        unit=drug.unit,
        basis=drug.basis,
        per_basis=drug.per_basis,
        computed=float(computed.computed),
        capped=computed.capped,
        cap=None if computed.cap is None else float(computed.cap),
        changed_reason=reason if changed else None,
    )


def override_error(computed: ComputedDose, amount: Number) -> str | None:
    """Why a dose written by hand is refused (None: accepted): it must be > 0 and at most 4× the computed one."""
    given = _dec(amount)
    if given <= 0:
        return "La dosis debe ser mayor que cero. / The dose must be greater than zero."
    limit = computed.computed * OVERRIDE_FACTOR
    if given > limit:
        return (
            f"Una dosis de {_tidy(given)} es inverosímil: más de {OVERRIDE_FACTOR} veces la calculada "
            f"({computed.computed}). / A dose of {_tidy(given)} is implausible: more than {OVERRIDE_FACTOR} times "
            f"the computed one ({computed.computed})."
        )
    return None


def doxorubicin_equivalent_mg_m2(amount: Number, *, bsa_m2: Number, factor: Number) -> Decimal:
    """An anthracycline dose as mg/m² of doxorubicin equivalents: amount / BSA × factor, 2 decimals half up."""
    bsa = _dec(bsa_m2)
    if bsa <= 0:
        raise ValueError("the body surface area must be positive")
    return (_dec(amount) / bsa * _dec(factor)).quantize(_CENT, rounding=ROUND_HALF_UP)


def sessions(phase: RegimenPhase, first_day: date) -> list[date]:
    """The distinct days of a cycle given at the hospital (drugs not taken at home), sorted."""
    days = {day for drug in phase.drugs if drug.home_schedule is None for day in drug.days}
    return [first_day + timedelta(days=day - 1) for day in sorted(days)]
