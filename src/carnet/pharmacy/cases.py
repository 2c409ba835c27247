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
from typing import Protocol

from carnet.core.clock import Clock
from carnet.core.i18n import Translator
from carnet.core.navigation import Navigator, Phase, Screen
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
from carnet_contract import models as contract
from carnet_contract import qrtoken

__all__ = ["PharmacyCases"]

#: Longest text a scan may hold (the contract's limit for a token).
MAX_SCAN = 4096


class CounterHost(Navigator, Protocol):
    """What of the app's state the pharmacy counter reads and changes besides its own."""

    pharmacy: PharmacyUi
    user: contract.UserOut | None
    children: list[contract.PatientRef]
    selected_child_id: str | None

    @property
    def pharmacy_mode(self) -> bool: ...


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

    def _redraw(self) -> None:
        self._state.changed()

    def _cache(self) -> TrustCache | None:
        store = self._store()
        return TrustCache(store) if store is not None else None

    # ---- entering, the keys ------------------------------------------------------------------

    async def enter(self, user: contract.UserOut) -> None:
        state = self._state
        state.user, state.pharmacy = user, PharmacyUi()
        state.phase, state.screen = Phase.READY, Screen.PHARMACY
        state.children, state.selected_child_id = [], None
        cache = self._cache()
        cached = cache.load() if cache is not None else None
        if cached is not None:
            self._ui.trust, self._ui.trust_fetched_at = cached
        await self.refresh_keys()

    async def refresh_keys(self) -> bool:
        """Fetch the trust bundle and keep it; False when it could not (the cached one stays)."""
        ui = self._ui
        if not self._state.pharmacy_mode or ui.refreshing:
            return False
        ui.refreshing = True
        self._redraw()
        ended = fetched = False
        try:
            bundle = await self._api.trust_bundle()
        except AuthError:
            ended = True
        except ApiError as exc:
            ui.trust_error = (
                self._tr.t("ph_keys_offline") if isinstance(exc, NetworkError) else message_for(self._tr, exc)
            )
            self._state.online = not isinstance(exc, NetworkError)
        else:
            now = self._clock()
            ui.trust, ui.trust_fetched_at, ui.trust_error = bundle, now, None
            self._state.online = fetched = True
            cache = self._cache()
            if cache is not None:
                cache.save(bundle, fetched_at=now)
        finally:
            ui.refreshing = False
        if ended:
            await self._session_expired()
            return False
        if fetched and ui.token is not None and (ui.check is None or not ui.check.online):
            ui.check = check_offline(ui.token, ui.trust, now=self._clock())  # new keys or revocations
        self._redraw()
        return fetched

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
        self._forget_scan()
        if len(token) > MAX_SCAN:
            ui.check = Check(CheckKind.MALFORMED)
            ui.results += 1
            self._redraw()
            return
        ui.token = token
        ui.check = check_offline(token, ui.trust, now=self._clock())
        ui.results += 1
        self._redraw()
        if ui.check.kind is CheckKind.MALFORMED:
            return  # not a carnet code: nothing to ask the server
        await self.refresh_if_stale()
        if ui.token != token:
            return  # another scan came meanwhile
        await self._verify_online(token)

    async def _verify_online(self, token: str) -> None:
        ui = self._ui
        ui.verifying = True
        self._redraw()
        ended = False
        try:
            answer = await self._api.pharmacy_verify(token)
        except AuthError:
            ended = True
        except NetworkError:
            if ui.token == token:
                ui.offline = True
            self._state.online = False
        except ApiError as exc:
            if ui.token == token:
                ui.error = message_for(self._tr, exc)
        else:
            self._state.online = True
            if ui.token == token:
                ui.offline = False
                ui.verified = answer
                ui.check = check_online(answer)
                self._choose_default_cycle()
        finally:
            ui.verifying = False
        if ended:
            await self._session_expired()
            return
        ui.results += 1
        self._redraw()

    def _forget_scan(self) -> None:
        ui = self._ui
        ui.token = ui.check = ui.verified = ui.cycle_id = None
        ui.items = set()
        ui.recorded = []
        ui.confirming = ui.offline = False
        ui.message = ui.error = None

    def clear(self) -> None:
        """Forget the shown patient (the next one is coming to the counter)."""
        self._forget_scan()
        self._ui.results += 1
        self._redraw()

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

    def _choose_default_cycle(self) -> None:
        ui = self._ui
        open_cycles = self.open_cycles()
        chosen = open_cycles[0] if open_cycles else None
        ui.cycle_id = chosen.id if chosen else None
        ui.items = {d.name for d in chosen.drugs} if chosen else set()

    def pick_cycle(self, cycle_id: str) -> None:
        ui = self._ui
        cycle = next((c for c in self.open_cycles() if c.id == cycle_id), None)
        if cycle is None or ui.busy:
            return
        ui.cycle_id, ui.items, ui.confirming = cycle.id, {d.name for d in cycle.drugs}, False
        ui.message = ui.error = None
        self._redraw()

    def toggle_item(self, name: str, checked: bool) -> None:
        ui = self._ui
        cycle = next((c for c in self.open_cycles() if c.id == ui.cycle_id), None)
        if cycle is None or name not in {d.name for d in cycle.drugs} or ui.busy:
            return
        if checked:
            ui.items.add(name)
        else:
            ui.items.discard(name)
        ui.confirming = False
        self._redraw()

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
            self._ui.confirming = True
            self._ui.message = self._ui.error = None
            self._redraw()

    def cancel_confirm(self) -> None:
        self._ui.confirming = False
        self._ui.results += 1
        self._redraw()

    def selected_cycle(self) -> contract.Cycle | None:
        return next((c for c in self.cycles() if c.id == self._ui.cycle_id), None)

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
        ui.unsent = (token, cycle.id, items, key)
        ui.busy, ui.message, ui.error = True, None, None
        self._redraw()
        body = contract.DispensationCreate(token=token, cycle_id=cycle.id, items=list(items))
        ended = False
        try:
            done = await self._api.dispense(body, idempotency_key=key)
        except AuthError:
            ended = True
        except NetworkError:
            self._state.online = False
            ui.error = self._tr.t("ph_dispense_unsent")  # the key is kept: trying again is safe
        except Conflict as exc:
            ui.unsent = None
            if exc.dispensation is not None:
                ui.recorded.append(exc.dispensation)
                ui.error = dispensed_text(self._tr, exc.dispensation, conflict=True)
            else:
                ui.error = message_for(self._tr, exc)
            self._after_change()
        except HttpError as exc:
            ui.unsent = None if exc.status < 500 else ui.unsent
            ui.error = message_for(self._tr, exc)
        except ApiError as exc:
            ui.error = message_for(self._tr, exc)
        else:
            self._state.online = True
            ui.unsent = None
            ui.recorded.append(done)
            ui.message = self._tr.t(
                "ph_dispensed_ok", number=done.cycle_number, when=self._tr.datetime(done.dispensed_at)
            )
            self._after_change()
        finally:
            ui.busy = ui.confirming = False
        if ended:
            await self._session_expired()
            return
        ui.results += 1
        self._redraw()

    def _after_change(self) -> None:
        """After a dispensation (ours or another counter's): the next open cycle, if any, is chosen."""
        self._choose_default_cycle()

    def dismiss_message(self) -> None:
        self._ui.message = None
        self._ui.results += 1
        self._redraw()
