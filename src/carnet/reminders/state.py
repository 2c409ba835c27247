"""What Ajustes → Recordatorios draws, and the kinds chosen (read by the phone's notifications too)."""

from __future__ import annotations

from dataclasses import dataclass, field

from carnet.core.observable import Observable, change
from carnet_contract import models as contract

#: The order the switches are shown in.
KIND_ORDER: tuple[contract.ReminderKind, ...] = (
    contract.ReminderKind.CHEMOTHERAPY_TOMORROW,
    contract.ReminderKind.CONSULTATION_TOMORROW,
    contract.ReminderKind.LABORATORY_TOMORROW,
    contract.ReminderKind.MIXTURE_READY,
    contract.ReminderKind.REPORT_ANSWERED,
    contract.ReminderKind.DONOR_TOMORROW,
)


def _every_kind() -> frozenset[contract.ReminderKind]:
    return frozenset(contract.ReminderKind)


@dataclass(eq=False)
class ReminderPreferencesState(Observable):
    """The reminder kinds chosen: every kind until the family chooses (the server's default too)."""

    kinds: frozenset[contract.ReminderKind] = field(default_factory=_every_kind)
    #: A choice made on this phone waits to reach the server (kept in the phone's encrypted store).
    pending: bool = False
    loading: bool = False
    #: A neutral word (e.g. offline: the choice is kept and sent later).
    message: str | None = None
    error: str | None = None

    def chosen(self, kind: contract.ReminderKind) -> bool:
        return kind in self.kinds

    @change
    def show(self, kinds: frozenset[contract.ReminderKind], *, pending: bool) -> None:
        self.kinds, self.pending = frozenset(kinds), pending

    @change
    def start_loading(self) -> None:
        self.loading, self.error = True, None

    @change
    def stop_loading(self, *, message: str | None = None, error: str | None = None) -> None:
        self.loading, self.message, self.error = False, message, error

    @change
    def show_message(self, message: str | None) -> None:
        self.message = message

    @change
    def dismiss_message(self) -> None:
        self.message = self.error = None
