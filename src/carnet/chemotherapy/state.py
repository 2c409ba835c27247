"""The oncology desk's chemotherapy screens: what they show (online only, nothing kept on the device)."""

from __future__ import annotations

from dataclasses import dataclass, field

from carnet.core.observable import OnlineScreenUi, change
from carnet_contract import chemotherapy as chemo
from carnet_contract import models as contract

__all__ = ["ChemoUi", "Step"]


@dataclass(frozen=True)
class Step:
    """A step of a cycle's life waiting for its reason (defer, suspend) or its confirm click."""

    cycle_id: str
    action: chemo.CycleActionKind


@dataclass(eq=False)
class ChemoUi(OnlineScreenUi):
    patient_id: str | None = None
    patient_name: str = ""
    catalogue: chemo.Catalogue | None = None
    plan: chemo.ChemotherapyPlan | None = None
    #: The doses as they would be (a dry run of the form), or the cycle just written.
    preview: chemo.PrescribedCycle | None = None
    #: Problems by field (``form`` for the whole); the server's reasons land beside the field they name.
    errors: dict[str, str] = field(default_factory=dict)
    #: 409 ``measurements_unconfirmed``: why the weight needs a second look (sending again confirms).
    confirm_reasons: list[str] = field(default_factory=list)
    #: The step whose reason is being written, and its problems.
    step: Step | None = None
    step_errors: dict[str, str] = field(default_factory=dict)
    #: Bumped when a cycle was written (the form's fields are emptied).
    sent: int = 0
    #: "Citar consulta, laboratorio o estudio": its problems by field, and a count of those scheduled (the
    #: view empties the form).
    appointment_errors: dict[str, str] = field(default_factory=dict)
    scheduled: int = 0

    @change
    def open_patient(self, patient_id: str, name: str) -> None:
        self.patient_id, self.patient_name = patient_id, name
        self.plan = self.preview = self.step = None
        self.errors, self.confirm_reasons, self.step_errors = {}, [], {}
        self.message = self.error = None

    @change
    def show_plan(self, catalogue: chemo.Catalogue, plan: chemo.ChemotherapyPlan) -> None:
        self.catalogue, self.plan = catalogue, plan

    @change
    def start_form(self) -> None:
        self.preview, self.errors, self.confirm_reasons, self.message, self.error = None, {}, [], None, None

    @change
    def refused(self, errors: dict[str, str]) -> None:
        """Problems by field; the last doses computed stay shown (their fields hold what was typed)."""
        self.errors = errors

    @change
    def previewed(self, preview: chemo.PrescribedCycle) -> None:
        self.preview, self.errors = preview, {}

    @change
    def needs_confirmation(self, reasons: list[str]) -> None:
        self.confirm_reasons = reasons

    @change
    def written(self, message: str) -> None:
        self.preview, self.errors, self.confirm_reasons, self.message = None, {}, [], message
        self.sent += 1

    @change
    def appointment_refused(self, errors: dict[str, str]) -> None:
        self.appointment_errors = errors

    @change
    def appointment_scheduled(self, message: str) -> None:
        self.appointment_errors, self.message = {}, message
        self.scheduled += 1

    @change
    def ask_step(self, step: Step | None) -> None:
        self.step, self.step_errors = step, {}

    @change
    def step_refused(self, errors: dict[str, str]) -> None:
        self.step_errors = errors

    @change
    def stepped(self, cycle: contract.Cycle, message: str) -> None:
        """A step went through (or the cycle changed meanwhile): the plan shows the cycle as it is now."""
        if self.plan is not None:
            self.plan = self.plan.model_copy(
                update={"cycles": [cycle if c.id == cycle.id else c for c in self.plan.cycles]}
            )
        self.step, self.step_errors, self.message = None, {}, message
