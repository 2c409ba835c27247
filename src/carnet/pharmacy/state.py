"""What the pharmacy counter draws."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from carnet.core.observable import Observable, change
from carnet.pharmacy.checks import Check
from carnet_contract import models as contract


@dataclass(eq=False)
class PharmacyUi(Observable):
    """The pharmacy counter: the trust bundle, the last scan and its dispensation (patient data in memory only)."""

    trust: contract.TrustBundle | None = None
    #: When this device fetched the bundle (its age decides a refresh).
    trust_fetched_at: datetime | None = None
    refreshing: bool = False
    #: Problem refreshing the keys (offline, server), shown beside their age.
    trust_error: str | None = None
    #: The scanned token, kept for the dispensation; never written to the device.
    token: str | None = None
    check: Check | None = None
    #: The server's answer for ``token`` (None: not asked yet, offline, or refused).
    verified: contract.VerifyResponse | None = None
    verifying: bool = False
    #: True when the last online step found no network (the offline verdict stands; no dispensing).
    offline: bool = False
    cycle_id: str | None = None
    #: Drug names ticked for the chosen cycle.
    items: set[str] = field(default_factory=set)
    confirming: bool = False
    busy: bool = False
    #: ``(token, cycle id, items, Idempotency-Key)`` of a dispensation whose fate is unknown (no answer):
    #: sending the same again reuses the key, so the server records it once.
    unsent: tuple[str, str, tuple[str, ...], str] | None = None
    #: Dispensations this counter recorded for the shown token.
    recorded: list[contract.Dispensation] = field(default_factory=list)
    message: str | None = None
    error: str | None = None
    #: Grows with every result shown: the view hands the focus back to the scanner field.
    results: int = 0

    # ---- the trust bundle ---------------------------------------------------------------------------

    @change
    def show_trust(self, trust: contract.TrustBundle, fetched_at: datetime) -> None:
        self.trust, self.trust_fetched_at = trust, fetched_at

    @change
    def start_refreshing(self) -> None:
        self.refreshing = True

    @change
    def stop_refreshing(self) -> None:
        self.refreshing = False

    @change
    def keys_fetched(self, trust: contract.TrustBundle, fetched_at: datetime) -> None:
        self.trust, self.trust_fetched_at, self.trust_error, self.refreshing = trust, fetched_at, None, False

    @change
    def keys_failed(self, error: str) -> None:
        self.trust_error, self.refreshing = error, False

    # ---- a scan -----------------------------------------------------------------------------------

    def _forget_scan(self) -> None:
        self.token = self.check = self.verified = self.cycle_id = None
        self.items = set()
        self.recorded = []
        self.confirming = self.offline = False
        self.message = self.error = None

    @change
    def scanned(self, token: str | None, check: Check) -> None:
        """A new code: the last one is forgotten, this one's offline verdict shown."""
        self._forget_scan()
        self.token, self.check = token, check
        self.results += 1

    @change
    def clear(self) -> None:
        """Forget the shown patient (the next one is coming to the counter)."""
        self._forget_scan()
        self.results += 1

    @change
    def show_check(self, check: Check) -> None:
        self.check = check

    @change
    def start_verifying(self) -> None:
        self.verifying = True

    @change
    def stop_verifying(self) -> None:
        self.verifying = False

    @change
    def verify_failed(self, token: str, *, offline: bool = False, error: str | None = None) -> None:
        """No verdict from the server for ``token`` (ignored when another code was scanned meanwhile)."""
        if self.token == token:
            self.offline = self.offline or offline
            self.error = error if error is not None else self.error

    @change
    def verify_answered(self, token: str, answer: contract.VerifyResponse, check: Check) -> None:
        if self.token == token:
            self.offline, self.verified, self.check = False, answer, check

    @change
    def result_shown(self) -> None:
        """Another result is on screen (the view gives the focus back to the scanner field)."""
        self.results += 1

    # ---- what to dispense -------------------------------------------------------------------------

    @change
    def default_cycle(self, cycle_id: str | None, items: set[str]) -> None:
        self.cycle_id, self.items = cycle_id, items

    @change
    def pick_cycle(self, cycle_id: str, items: set[str]) -> None:
        self.cycle_id, self.items, self.confirming = cycle_id, items, False
        self.message = self.error = None

    @change
    def tick(self, name: str, checked: bool) -> None:
        self.items = self.items | {name} if checked else self.items - {name}
        self.confirming = False

    @change
    def ask_confirm(self) -> None:
        self.confirming = True
        self.message = self.error = None

    @change
    def cancel_confirm(self) -> None:
        self.confirming = False
        self.results += 1

    # ---- confirming (the mixture is ordered) ---------------------------------------------------------

    @change
    def start_confirming_cycle(self) -> None:
        self.busy, self.message, self.error = True, None, None

    @change
    def cycle_confirmed(self, cycle: contract.Cycle, message: str | None, error: str | None = None) -> None:
        """The cycle as the server has it now (confirmed here, or changed meanwhile: ``error``)."""
        if self.verified is not None:
            due = [cycle if c.id == cycle.id else c for c in self.verified.due]
            self.verified = self.verified.model_copy(update={"due": due})
        self.busy, self.message, self.error = False, message, error
        self.results += 1

    @change
    def confirm_failed(self, error: str) -> None:
        self.busy, self.error = False, error
        self.results += 1

    # ---- dispensing -------------------------------------------------------------------------------

    @change
    def start_dispensing(self, unsent: tuple[str, str, tuple[str, ...], str]) -> None:
        """Sending; ``unsent`` keeps the request's key until its answer comes."""
        self.unsent = unsent
        self.busy, self.message, self.error = True, None, None

    @change
    def stop_dispensing(self) -> None:
        self.busy = self.confirming = False

    @change
    def dispensed(self, done: contract.Dispensation, message: str) -> None:
        self.unsent = None
        self.recorded = [*self.recorded, done]
        self.message = message

    @change
    def dispense_failed(
        self, error: str, *, forget_unsent: bool = False, recorded: contract.Dispensation | None = None
    ) -> None:
        """Not recorded now (``recorded``: another counter's dispensation of that cycle, found instead)."""
        if forget_unsent:
            self.unsent = None
        if recorded is not None:
            self.recorded = [*self.recorded, recorded]
        self.error = error

    @change
    def show_message(self, message: str | None) -> None:
        self.message = message
        self.results += 1

    def dismiss_message(self) -> None:
        self.show_message(None)
