"""The wire contract of the chemotherapy plan (see ../shared/API.md, "Chemotherapy plan" and docs/chemotherapy.md):
the protocol catalogue (regimens, versioned, kept as data), writing a cycle from it, and a cycle's life.

Same rules as ``models``: requests forbid unknown fields, responses ignore them; only pydantic and the standard
library. Amounts are plain numbers in the drug's unit; the arithmetic (Mosteller, rounding, caps) is the
server's (``carnet_server.chemotherapy.dosing``), and every dose it answers says where it came from.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from carnet_contract.models import Cycle, DoseBasis
from carnet_contract.models import _Request as _BaseRequest

__all__ = [
    "Catalogue",
    "ChemotherapyPlan",
    "CumulativeDose",
    "CycleAction",
    "CycleActionKind",
    "CycleCreate",
    "DoseOverride",
    "HomeSchedule",
    "Measurement",
    "PrescribedCycle",
    "Regimen",
    "RegimenDrug",
    "RegimenIn",
    "RegimenPhase",
    "Route",
    "UNITS",
]

#: The units a protocol may dose in.
UNITS = ("mg", "g", "mcg", "U")
_CODE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")

Code = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=500)]


class _Request(_BaseRequest):
    pass


class _Response(BaseModel):
    model_config = ConfigDict(extra="ignore")


class Route(StrEnum):
    IV = "IV"  # intravenosa
    VO = "VO"  # vía oral
    IT = "IT"  # intratecal
    IM = "IM"  # intramuscular
    SC = "SC"  # subcutánea


class HomeSchedule(StrEnum):
    """Oral chemotherapy taken at home, and how often."""

    DIARIO = "diario"
    SEMANAL = "semanal"


def _code(value: str) -> str:
    if not _CODE.match(value):
        raise ValueError("letras minúsculas, números, guion o guion bajo / lowercase letters, digits, - or _")
    return value


# ---- the catalogue ----------------------------------------------------------------------------


class RegimenDrug(_Request):
    """One drug of a phase, as the protocol doses it."""

    code: Code
    name: Name
    route: Route
    basis: DoseBasis
    #: Dose per m² or per kg (``fixed``: the dose itself), in ``unit``.
    per_basis: Annotated[float, Field(gt=0, le=100_000)]
    unit: str
    #: Doses are rounded to a multiple of this (e.g. 0.1 mg; 1 mg; 5 mg), half up.
    round_to: Annotated[float, Field(gt=0, le=1000)]
    #: The most one dose may be, in ``unit`` (e.g. vincristine 2 mg).
    cap: Annotated[float, Field(gt=0, le=100_000)] | None = None
    #: Drugs whose lifetime total is followed ("antraciclina": counted as doxorubicin equivalents).
    family: Code | None = None
    #: The cycle's days it is given on (1: first day).
    days: Annotated[list[Annotated[int, Field(ge=1, le=366)]], Field(min_length=1, max_length=366)]
    home_schedule: HomeSchedule | None = None

    _check_code = field_validator("code")(_code)

    @field_validator("unit")
    @classmethod
    def _unit(cls, value: str) -> str:
        if value not in UNITS:
            raise ValueError(f"unidad: {', '.join(UNITS)} / unit: {', '.join(UNITS)}")
        return value

    @model_validator(mode="after")
    def _home_is_oral(self) -> RegimenDrug:
        if self.home_schedule is not None and self.route is not Route.VO:
            raise ValueError("solo la vía oral se toma en casa / only oral drugs are taken at home")
        return self


class RegimenPhase(_Request):
    code: Code
    name: Name
    #: How many cycles the phase has (cycle n of N).
    cycles: Annotated[int, Field(ge=1, le=100)]
    #: Days from one cycle's first day to the next one's.
    interval_days: Annotated[int, Field(ge=1, le=366)]
    drugs: Annotated[list[RegimenDrug], Field(min_length=1, max_length=30)]

    _check_code = field_validator("code")(_code)

    @model_validator(mode="after")
    def _distinct(self) -> RegimenPhase:
        codes = [d.code for d in self.drugs]
        if len(set(codes)) != len(codes):
            raise ValueError("un medicamento aparece dos veces en la fase / a drug appears twice in the phase")
        return self


class RegimenIn(_Request):
    """A regimen as an admin loads it; loading a code again makes a new version (cycles keep theirs)."""

    code: Code
    name: Name
    description: Annotated[str, StringConstraints(max_length=2000)] | None = None
    #: Example data for the demo, not clinical guidance (shown as such).
    example: bool = False
    phases: Annotated[list[RegimenPhase], Field(min_length=1, max_length=20)]

    _check_code = field_validator("code")(_code)

    @model_validator(mode="after")
    def _distinct(self) -> RegimenIn:
        codes = [p.code for p in self.phases]
        if len(set(codes)) != len(codes):
            raise ValueError("una fase aparece dos veces / a phase appears twice")
        return self


class Regimen(_Response):
    id: str
    code: str
    version: int
    name: str
    description: str | None = None
    example: bool = False
    phases: list[RegimenPhase]
    created_at: datetime
    #: The newest version of its code (older ones stay for the cycles written from them).
    current: bool = True


class Catalogue(_Response):
    regimens: list[Regimen]
    #: Drug code → doxorubicin-equivalent factor (anthracyclines' lifetime total).
    anthracycline_factors: dict[str, float]
    #: The hospital's warning threshold for that total, mg/m² of doxorubicin equivalents.
    anthracycline_warning_mg_m2: float


# ---- writing a cycle ---------------------------------------------------------------------------


class DoseOverride(_Request):
    """A dose changed by hand from the computed one."""

    drug: Code
    amount: Annotated[float, Field(gt=0, le=100_000)]
    reason: Reason


class CycleCreate(_Request):
    protocol_id: Annotated[str, StringConstraints(min_length=1, max_length=32)]
    #: The phase's code (default: the regimen's first phase).
    phase: Code | None = None
    scheduled_for: date
    weight_kg: Annotated[float, Field(gt=0, le=300)]
    height_cm: Annotated[float, Field(gt=0, le=250)]
    #: When the child was weighed and measured (default: today).
    measured_on: date | None = None
    overrides: Annotated[list[DoseOverride], Field(max_length=30)] = Field(default_factory=list)
    #: The prescriber saw that the last weight is old, or changed a lot, and confirms these measurements.
    confirm_measurements: bool = False
    #: Nothing is saved: the doses as they would be (the desk shows them before the prescriber signs).
    dry_run: bool = False


class CumulativeDose(_Response):
    """A drug family's lifetime total (anthracyclines: mg/m² of doxorubicin equivalents)."""

    family: str
    before: float
    this_cycle: float
    after: float
    warning_at: float
    over: bool


class Measurement(_Response):
    measured_on: date
    weight_kg: float
    height_cm: float


class PrescribedCycle(Cycle):
    """A cycle as written (or, on a dry run, as it would be): the carnet's cycle and what the prescriber sees."""

    patient_id: str
    protocol_id: str
    protocol_name: str
    protocol_version: int
    example: bool = False
    cumulative: list[CumulativeDose] = Field(default_factory=list)
    #: The last measurements before these (None: the first).
    previous: Measurement | None = None
    saved: bool = True


class ChemotherapyPlan(_Response):
    """GET /api/v1/patients/{id}/chemotherapy (staff of the child's unit): the cycles and what the next needs."""

    patient_id: str
    cycles: list[Cycle]
    measurements: list[Measurement]
    cumulative: list[CumulativeDose]


class CycleActionKind(StrEnum):
    CONFIRM = "confirm"
    APPLY = "apply"
    DEFER = "defer"
    SUSPEND = "suspend"


class CycleAction(_Request):
    """A step of a cycle's life, on the version the person saw (409 if it changed meanwhile)."""

    action: CycleActionKind
    version: Annotated[int, Field(ge=1)]
    reason: Reason | None = None
    new_date: date | None = None

    @model_validator(mode="after")
    def _needs(self) -> CycleAction:
        if self.action in (CycleActionKind.DEFER, CycleActionKind.SUSPEND) and not self.reason:
            raise ValueError("falta el motivo / a reason is required")
        if self.action is CycleActionKind.DEFER and self.new_date is None:
            raise ValueError("falta la nueva fecha / a new date is required")
        return self
