"""Pharmacy mode: scan a carnet QR, verify it offline at once, then online; dispense a cycle once.

The counter's session lives in memory only, like blood-bank staff: the scanned
token, the child and the cycles never reach the device's store. Only the trust
bundle (public keys and revoked token ids, :class:`carnet.pharmacy.checks.TrustCache`)
is kept, so a scan is checked even when the network is down. The bundle is
fetched on login, when older than its ``max_age`` (on the next scan or the
periodic sync) and on "Actualizar claves".

Dispensing is online only: the server records it at most once per cycle; a
second time answers 409 with who and when dispensed it first. A request whose
answer never came keeps its ``Idempotency-Key`` so sending it again can't
record it twice. Part of the session (``session.pharmacy``); no Flet.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Protocol

from carnet.core.clock import Clock, local_date
from carnet.core.i18n import Translator
from carnet.core.navigation import Navigator, Screen
from carnet.data.api import ApiClient, ApiError, AuthError, Conflict, HttpError, NetworkError
from carnet.data.messages import message_for
from carnet.data.store import OfflineStore
from carnet.pharmacy.checks import (
    Check,
    CheckKind,
    TrustCache,
    check_offline,
    check_online,
    dispensation_for,
    dispensed_text,
    is_stale,
)
from carnet.pharmacy.state import PharmacyUi
from carnet_contract import chemotherapy as chemo
from carnet_contract import models as contract
from carnet_contract import qrtoken

__all__ = ["PharmacyCases"]

#: Longest text a scan may hold (the contract's limit for a token).
MAX_SCAN = 4096
#: The cycle states the server dispenses (any other answers 409 ``not_dispensable``).
_DISPENSABLE = frozenset({contract.CycleStatus.PROGRAMADO, contract.CycleStatus.CONFIRMADO})


class CounterHost(Navigator, Protocol):
    """What of the app's state the pharmacy counter reads and changes besides its own."""

    pharmacy: PharmacyUi
    user: contract.UserOut | None
    children: list[contract.PatientRef]
    selected_child_id: str | None

    @property
    def pharmacy_mode(self) -> bool: ...

    def enter_staff(self, user: contract.UserOut, screen: Screen) -> None: ...


class PharmacyCases:
    def __init__(
        self,
        *,
        state: CounterHost,
        api: ApiClient,
        store: Callable[[], OfflineStore | None],
        tr: Translator,
        clock: Clock,
        session_expired: Callable[[], Awaitable[None]],
    ) -> None:
        self._state = state
        self._api = api
        self._store = store
        self._tr = tr
        self._clock = clock
        self._session_expired = session_expired

    @property
    def _ui(self) -> PharmacyUi:
        return self._state.pharmacy

    def _cache(self) -> TrustCache | None:
        store = self._store()
        return TrustCache(store) if store is not None else None

    # ---- entering, the keys ------------------------------------------------------------------

    async def enter(self, user: contract.UserOut) -> None:
        cache = self._cache()
        cached = cache.load() if cache is not None else None
        with self._state.batch():
            self._ui.reset()
            self._state.enter_staff(user, Screen.PHARMACY)
            if cached is not None:
                self._ui.show_trust(*cached)
        await self.refresh_keys()

    async def refresh_keys(self) -> bool:
        """Fetch the trust bundle and keep it; False when it could not (the cached one stays)."""
        ui = self._ui
        if not self._state.pharmacy_mode or ui.refreshing:
            return False
        ui.start_refreshing()
        try:
            bundle = await self._api.trust_bundle()
        except AuthError:
            ui.stop_refreshing()
            await self._session_expired()
            return False
        except ApiError as exc:
            with self._state.batch():
                ui.keys_failed(
                    self._tr.t("ph_keys_offline") if isinstance(exc, NetworkError) else message_for(self._tr, exc)
                )
                self._state.set_online(not isinstance(exc, NetworkError))
            return False
        now = self._clock()
        with self._state.batch():
            ui.keys_fetched(bundle, now)
            self._state.set_online(True)
            cache = self._cache()
            if cache is not None:
                cache.save(bundle, fetched_at=now)
            if ui.token is not None and (ui.check is None or not ui.check.online):
                ui.show_check(check_offline(ui.token, ui.trust, now=self._clock()))  # new keys or revocations
        return True

    async def refresh_if_stale(self) -> None:
        ui = self._ui
        if is_stale(ui.trust, ui.trust_fetched_at, self._clock()):
            await self.refresh_keys()

    # ---- a scan ------------------------------------------------------------------------------

    async def scan(self, scanned: str) -> None:
        """What the scanner typed (URL or bare token): the offline verdict now, then the server's."""
        ui = self._ui
        text = (scanned or "").strip()
        if not text or ui.busy:
            return
        token = qrtoken.extract_token(text)
        if len(token) > MAX_SCAN:
            ui.scanned(None, Check(CheckKind.MALFORMED))
            return
        check = check_offline(token, ui.trust, now=self._clock())
        ui.scanned(token, check)
        if check.kind is CheckKind.MALFORMED or check.emergency:
            return  # not a carnet code (an emergency card's is verified here, offline): nothing to dispense
        await self.refresh_if_stale()
        if ui.token != token:
            return  # another scan came meanwhile
        await self._verify_online(token)

    async def _verify_online(self, token: str) -> None:
        ui = self._ui
        ui.start_verifying()
        try:
            answer = await self._api.pharmacy_verify(token)
        except AuthError:
            ui.stop_verifying()
            await self._session_expired()
            return
        except NetworkError:
            with self._state.batch():
                ui.verify_failed(token, offline=True)
                self._state.set_online(False)
                ui.stop_verifying()
                ui.result_shown()
        except ApiError as exc:
            with self._state.batch():
                ui.verify_failed(token, error=message_for(self._tr, exc))
                ui.stop_verifying()
                ui.result_shown()
        else:
            with self._state.batch():
                self._state.set_online(True)
                if ui.token == token:
                    ui.verify_answered(token, answer, check_online(answer))
                    self._choose_default_cycle()
                ui.stop_verifying()
                ui.result_shown()

    def clear(self) -> None:
        """Forget the shown patient (the next one is coming to the counter)."""
        self._ui.clear()

    # ---- choosing what to dispense -------------------------------------------------------------

    def cycles(self) -> list[contract.Cycle]:
        answer = self._ui.verified
        return list(answer.due) if answer is not None and answer.valid else []

    def dispensed(self, cycle_id: str) -> contract.Dispensation | None:
        ui = self._ui
        found = dispensation_for(ui.verified, cycle_id, ui.recorded)
        if found is not None:
            return found
        cycle = next((c for c in self.cycles() if c.id == cycle_id), None)
        if cycle is not None and cycle.dispensed_at is not None:  # the time without the who
            return contract.Dispensation(
                id="",
                patient_id="",
                cycle_id=cycle.id,
                cycle_number=cycle.number,
                items=[],
                dispensed_at=cycle.dispensed_at,
                dispensed_by="—",
            )
        return None

    def open_cycles(self) -> list[contract.Cycle]:
        return [c for c in self.cycles() if self.dispensed(c.id) is None]

    def today(self) -> date:
        """The counter's day (Mexico City time, like the server's unit day)."""
        return local_date(self._clock())

    def is_due(self, cycle: contract.Cycle) -> bool:
        """Due today: its date has come (today, or passed and still not dispensed) and it can still be dispensed.

        The server lists a token's cycles by date (the one due first comes first); the next one, often
        weeks away, is shown but never chosen by itself: handing it over early takes the pharmacist's choice.
        """
        return cycle.scheduled_for <= self.today() and cycle.status in _DISPENSABLE

    def _choose_default_cycle(self) -> None:
        """Choose (with all its items) the first open cycle due today; none when nothing is due today."""
        ui = self._ui
        chosen = next((c for c in self.open_cycles() if self.is_due(c)), None)
        ui.default_cycle(chosen.id if chosen else None, {d.name for d in chosen.drugs} if chosen else set())

    def pick_cycle(self, cycle_id: str) -> None:
        ui = self._ui
        cycle = next((c for c in self.open_cycles() if c.id == cycle_id), None)
        if cycle is None or ui.busy:
            return
        ui.pick_cycle(cycle.id, {d.name for d in cycle.drugs})

    def toggle_item(self, name: str, checked: bool) -> None:
        ui = self._ui
        cycle = next((c for c in self.open_cycles() if c.id == ui.cycle_id), None)
        if cycle is None or name not in {d.name for d in cycle.drugs} or ui.busy:
            return
        ui.tick(name, checked)

    def can_dispense(self) -> bool:
        ui = self._ui
        return (
            ui.verified is not None
            and ui.verified.valid
            and not ui.offline
            and not ui.busy
            and ui.cycle_id in {c.id for c in self.open_cycles()}
            and bool(ui.items)
        )

    def ask_confirm(self) -> None:
        if self.can_dispense():
            self._ui.ask_confirm()

    def cancel_confirm(self) -> None:
        self._ui.cancel_confirm()

    def selected_cycle(self) -> contract.Cycle | None:
        return next((c for c in self.cycles() if c.id == self._ui.cycle_id), None)

    # ---- confirming a cycle (its mixture is ordered) -------------------------------------------------

    def can_confirm(self, cycle: contract.Cycle) -> bool:
        """A cycle still to be confirmed (its mixture not ordered yet), while the server answers."""
        ui = self._ui
        return cycle.confirmed_at is None and not ui.offline and not ui.busy and ui.verified is not None

    async def confirm_cycle(self) -> None:
        """Confirm the chosen cycle as shown (its version): the server orders its mixture from the provider."""
        ui, cycle = self._ui, self.selected_cycle()
        if cycle is None or not self.can_confirm(cycle):
            return
        ui.start_confirming_cycle()
        body = chemo.CycleAction(action=chemo.CycleActionKind.CONFIRM, version=cycle.version)
        try:
            done = await self._api.cycle_action(cycle.id, body)
        except AuthError:
            ui.confirm_failed("")
            await self._session_expired()
            return
        except Conflict as exc:
            current = exc.details.get("cycle")
            if exc.code == "cycle_changed" and isinstance(current, dict):
                ui.cycle_confirmed(contract.Cycle.model_validate(current), None, message_for(self._tr, exc))
            else:
                ui.confirm_failed(message_for(self._tr, exc))
            return
        except NetworkError:
            with self._state.batch():
                self._state.set_online(False)
                ui.confirm_failed(self._tr.t("ph_confirm_unsent"))
            return
        except ApiError as exc:
            ui.confirm_failed(message_for(self._tr, exc))
            return
        mixing = self._tr.t(f"mixing.{done.mixing.status.value}")
        ui.cycle_confirmed(done, self._tr.t("ph_cycle_confirmed", number=done.number, mixing=mixing))

    # ---- dispensing -------------------------------------------------------------------------

    async def dispense(self) -> None:
        """Record the chosen cycle with the ticked items (after the confirm step)."""
        ui = self._ui
        cycle = self.selected_cycle()
        if not ui.confirming or not self.can_dispense() or cycle is None or ui.token is None:
            return
        token = ui.token
        # The drugs in the cycle's order; all of them is the default the server assumes too.
        items = tuple(d.name for d in cycle.drugs if d.name in ui.items)
        key = ui.unsent[3] if ui.unsent is not None and ui.unsent[:3] == (token, cycle.id, items) else str(uuid.uuid4())
        ui.start_dispensing((token, cycle.id, items, key))
        body = contract.DispensationCreate(token=token, cycle_id=cycle.id, items=list(items))
        try:
            done = await self._api.dispense(body, idempotency_key=key)
        except AuthError:
            ui.stop_dispensing()
            await self._session_expired()
            return
        except ApiError as exc:
            with self._state.batch():
                self._dispense_failed(exc)
                ui.stop_dispensing()
                ui.result_shown()
            return
        with self._state.batch():
            self._state.set_online(True)
            ui.dispensed(
                done,
                self._tr.t("ph_dispensed_ok", number=done.cycle_number, when=self._tr.datetime(done.dispensed_at)),
            )
            self._after_change()
            ui.stop_dispensing()
            ui.result_shown()

    def _dispense_failed(self, exc: ApiError) -> None:
        ui = self._ui
        if isinstance(exc, NetworkError):
            self._state.set_online(False)
            ui.dispense_failed(self._tr.t("ph_dispense_unsent"))  # the key is kept: trying again is safe
        elif isinstance(exc, Conflict):
            if exc.dispensation is not None:
                text = dispensed_text(self._tr, exc.dispensation, conflict=True)
                ui.dispense_failed(text, forget_unsent=True, recorded=exc.dispensation)
            else:
                ui.dispense_failed(message_for(self._tr, exc), forget_unsent=True)
            self._after_change()
        elif isinstance(exc, HttpError):
            ui.dispense_failed(message_for(self._tr, exc), forget_unsent=exc.status < 500)
        else:
            ui.dispense_failed(message_for(self._tr, exc))

    def _after_change(self) -> None:
        """After a dispensation (ours or another counter's): the next open cycle due today, if any, is chosen."""
        self._choose_default_cycle()

    def dismiss_message(self) -> None:
        self._ui.dismiss_message()
