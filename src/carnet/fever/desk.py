"""The unit's fever desk (``session.fever_desk``): the open fever episodes of the caller's units with the 60-minute
clock from arrival, and the three times — arrival, triage, first antibiotic — recorded in one tap each (now) or
with a corrected time; the week's fever figures with their CSV and Markdown files. For the oncology desk and the
case desk (the server allows both for their units). Online only like the other staff screens: nothing of it is
written to the device. No Flet.

"Verificar tarjeta de urgencias": the emergency team scans the card's QR; it is checked at once on this device with
the trust bundle kept in the store (:class:`carnet.pharmacy.checks.TrustCache`, the pharmacy counter's, fetched at
login, when older than its ``max_age`` and on "Actualizar claves"), then, when there is a network, by
``POST /emergency-cards/verify``, whose answer carries the card's facts. A carnet's code is refused there.
The home screens' alert counts the open episodes (:meth:`FeverDeskCases.count_open`).

"Registrar llegada sin aviso": a child came to the emergency room with fever without the family's alert. Staff find
the child (the oncology desk's search, ``GET /patients?q=``), confirm the arrival (now by default, ``HH:MM`` on the
unit's clock, ``ayer HH:MM`` across midnight; never in the future nor over 24 hours old) and the temperature taken,
and ``POST /patients/{id}/fever-episodes/at-unit`` opens the episode at "en urgencias": it joins the list with its
60-minute clock. A child with an open episode (409) gets that one shown first instead. Online only: offline it
says so and nothing changes."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Protocol

from carnet.core.clock import Clock, hhmm, local_date
from carnet.core.i18n import Translator
from carnet.core.navigation import FEVER_DESK_SCREENS, Navigator, Screen
from carnet.data.api import ApiClient, ApiError, AuthError, Conflict, NetworkError
from carnet.data.messages import message_for
from carnet.data.online import guarded
from carnet.data.store import OfflineStore
from carnet.enrolment.desk import search_text
from carnet.fever.form import check_arrival, parse_time
from carnet.fever.state import FeverDeskUi
from carnet.incidents.repository import monday_of
from carnet.pharmacy.checks import Check, CheckKind, TrustCache, check_offline, is_stale
from carnet_contract import models as contract
from carnet_contract import qrtoken
from carnet_contract.models import GOLDEN_HOUR_MINUTES, FeverStatus, FeverStepKind

__all__ = ["FeverDeskCases", "minutes_since_arrival", "next_step", "over_the_hour"]

#: Longest text a scan may hold (the contract's limit for a token).
MAX_SCAN = 4096
#: ``Check.message`` of a carnet's code scanned at "Verificar tarjeta de urgencias" (refused: not the card).
CARNET_GIVEN = "carnet"
#: The roles that have the fever desk (and verify emergency cards there).
DESK_ROLES = frozenset({contract.Role.ONCOLOGY, contract.Role.CASE_DESK})

#: 409 of ``…/at-unit``: the child already has an open episode (its id in the error's ``episode_id``).
ALREADY_OPEN = "fever_episode_already_open"

#: The step each open status waits for.
_NEXT: dict[FeverStatus, FeverStepKind] = {
    FeverStatus.AVISADA: FeverStepKind.ARRIVAL,
    FeverStatus.EN_URGENCIAS: FeverStepKind.TRIAGE,
    FeverStatus.TRIAGE: FeverStepKind.ANTIBIOTIC,
}


def next_step(episode: contract.FeverEpisode) -> FeverStepKind | None:
    """The step the unit records next (None: the episode is over)."""
    return _NEXT.get(episode.status)


def minutes_since_arrival(episode: contract.FeverEpisode, now: datetime) -> int | None:
    """Whole minutes from arrival to the antibiotic (or to ``now`` while it has not been given); None before
    arrival."""
    if episode.arrived_at is None:
        return None
    end = episode.antibiotic_at or now
    return max(0, int((end - episode.arrived_at).total_seconds() // 60))


def over_the_hour(episode: contract.FeverEpisode, now: datetime) -> bool:
    minutes = minutes_since_arrival(episode, now)
    return minutes is not None and minutes > GOLDEN_HOUR_MINUTES


class FeverDeskHost(Navigator, Protocol):
    fever_desk: FeverDeskUi
    user: contract.UserOut | None


class FeverDeskCases:
    def __init__(
        self,
        *,
        state: FeverDeskHost,
        api: ApiClient,
        tr: Translator,
        clock: Clock,
        session_expired: Callable[[], Awaitable[None]],
        store: Callable[[], OfflineStore | None] = lambda: None,
    ) -> None:
        self._state = state
        self._api = api
        self._tr = tr
        self._clock = clock
        self._session_expired = session_expired
        self._store = store
        #: A step whose answer never came: sending the same step again reuses its Idempotency-Key.
        self._unsent: dict[tuple[str, FeverStepKind], str] = {}
        #: After a lost answer: (child, time typed, temperature typed, the request sent, its Idempotency-Key).
        self._unsent_arrival: tuple[str, str, str, contract.FeverEpisodeAtUnit, str] | None = None

    @property
    def _ui(self) -> FeverDeskUi:
        return self._state.fever_desk

    async def _guard(
        self,
        work: Callable[[], Awaitable[Callable[[], None]]],
        finish: Callable[[], None],
        offline: str = "desk_fever_offline",
    ) -> bool:
        return await guarded(
            work,
            state=self._state,
            ui=self._ui,
            tr=self._tr,
            session_expired=self._session_expired,
            finish=finish,
            offline=offline,
        )

    async def open(self) -> None:
        """ "Fiebre: Hora Dorada" from the desk's home screen: the open episodes."""
        state = self._state
        home = None if state.screen in FEVER_DESK_SCREENS else state.screen.value
        with state.batch():
            self._ui.open(home)
            self._ui.dismiss_message()
            state.go_to(Screen.FEVER_DESK)
        await self.load()

    async def load(self) -> None:
        ui = self._ui
        if ui.loading:
            return
        ui.start_loading()

        async def work() -> Callable[[], None]:
            episodes = await self._api.fever_episodes()
            now = self._clock()
            return lambda: ui.show_episodes(episodes, now)

        await self._guard(work, ui.stop_loading)

    async def refresh(self) -> None:
        if self._state.screen is Screen.FEVER_FIGURES:
            await self.show_figures()
        else:
            await self.load()

    def back(self) -> None:
        state, ui = self._state, self._ui
        with state.batch():
            ui.dismiss_message()
            screens = {s.value for s in Screen}
            back = ui.figures_back if state.screen is Screen.FEVER_FIGURES else ui.home
            if back in screens:
                state.go_to(Screen(back))
            else:  # the role's home screen
                oncology = state.user is not None and state.user.role == contract.Role.ONCOLOGY
                state.go_to(Screen.ONCOLOGY if oncology else Screen.DESK)

    # ---- steps ----------------------------------------------------------------------------------

    async def record(self, episode_id: str, step: FeverStepKind, at: datetime | None = None) -> bool:
        """One step of an episode, now (``at`` None) or at a corrected time; False with the reason on screen."""
        ui = self._ui
        if ui.busy:
            return False
        key = self._unsent.setdefault((episode_id, step), str(uuid.uuid4()))
        ui.start_busy()
        done = False

        async def work() -> Callable[[], None]:
            nonlocal done
            try:
                episode = await self._api.fever_step(
                    episode_id, contract.FeverStep(step=step, at=at), idempotency_key=key
                )
            except NetworkError:
                raise  # the answer may be lost: the same key goes again
            except ApiError:
                self._unsent.pop((episode_id, step), None)  # refused: changed nothing
                raise
            self._unsent.pop((episode_id, step), None)
            done = True
            name = episode.patient_name or ""
            return lambda: ui.replace(episode, self._tr.t(f"desk_fever_recorded_{step.value}", name=name))

        await self._guard(work, ui.stop_busy)
        return done

    def ask_correction(self, episode_id: str | None, step: FeverStepKind | None = None) -> None:
        self._ui.ask_correction(episode_id, step)

    async def record_at(self, episode_id: str, step: FeverStepKind, text: str) -> bool:
        """A corrected time (``HH:MM`` on the unit's clock, today or yesterday)."""
        now = self._clock()
        when = parse_time(text, now) if text.strip() else None
        if when is None:
            self._ui.correction_refused(self._tr.t("desk_fever_err_time"))
            return False
        return await self.record(episode_id, step, when)

    # ---- "Registrar llegada sin aviso" -------------------------------------------------------------------

    def start_arrival(self) -> None:
        self._ui.start_arrival()

    def cancel_arrival(self) -> None:
        self._ui.cancel_arrival()

    async def search_children(self, query: str) -> None:
        """The oncology desk's search (name, CURP, NSS; at least 3 characters), the children of the caller's units."""
        ui = self._ui
        text = search_text(query)
        if text is None:
            ui.arrival_found(None, self._tr.t("onc_search_short"))
            return
        ui.start_loading()

        async def work() -> Callable[[], None]:
            found = await self._api.search_patients(text)
            return lambda: ui.arrival_found(found)

        await self._guard(work, ui.stop_loading, offline="desk_fever_unit_offline")

    def choose_child(self, patient_id: str | None) -> None:
        ui = self._ui
        ui.choose_child(next((r for r in ui.arrival_results or [] if r.id == patient_id), None))

    async def register_arrival(self, time_text: str, temperature_text: str) -> bool:
        """Open the chosen child's episode at the arrival (``HH:MM``; empty: now) with the temperature taken then.
        True when opened; 409 shows the child's open episode first; anything else says why and changes nothing."""
        ui, t = self._ui, self._tr.t
        child = ui.arrival_child
        if ui.busy or not ui.arrival_open:
            return False
        if child is None:
            ui.arrival_refused({"query": t("desk_fever_unit_err_child")})
            return False
        kept = self._unsent_arrival
        if kept is not None and kept[:3] == (child.id, time_text, temperature_text):
            # The same entry again after a lost answer: the same request (an empty time meant the first try's
            # "now", not this one's) with the same key, so the server answers the first try's 201 again.
            body, key = kept[3], kept[4]
        else:
            checked, errors = check_arrival(time_text, temperature_text, self._tr, self._clock())
            if checked is None:
                ui.arrival_refused(errors)
                return False
            arrived, temperature = checked
            body = contract.FeverEpisodeAtUnit(temperature_c=temperature, measured_at=arrived, arrived_at=arrived)
            key = str(uuid.uuid4())
        arrived = body.arrived_at or body.measured_at
        self._unsent_arrival = (child.id, time_text, temperature_text, body, key)
        ui.start_busy()
        done = False

        async def work() -> Callable[[], None]:
            nonlocal done
            try:
                episode = await self._api.fever_at_unit(child.id, body, idempotency_key=key)
            except NetworkError:
                raise  # the answer may be lost: the same request goes again with the same key
            except Conflict as exc:
                self._unsent_arrival = None
                episode_id = exc.details.get("episode_id")
                if exc.code != ALREADY_OPEN or not isinstance(episode_id, str):
                    raise
                episodes = await self._api.fever_episodes()
                fetched = self._clock()
                return lambda: ui.already_open(episodes, fetched, episode_id, t("desk_fever_unit_already_open"))
            except ApiError:
                self._unsent_arrival = None  # refused: nothing changed
                raise
            self._unsent_arrival = None
            done = True
            name = episode.patient_name or child.full_name
            when = hhmm(episode.arrived_at or arrived)
            return lambda: ui.opened_at_unit(episode, t("desk_fever_unit_opened", name=name, when=when))

        await self._guard(work, ui.stop_busy, offline="desk_fever_unit_offline")
        return done

    # ---- weekly figures -------------------------------------------------------------------------

    async def show_figures(self, weeks: int = 0) -> None:
        ui = self._ui
        base = ui.week if ui.week is not None and self._state.screen is Screen.FEVER_FIGURES else None
        week = monday_of((base or local_date(self._clock())) + timedelta(weeks=weeks))
        with self._state.batch():
            came_from = None
            if self._state.screen is not Screen.FEVER_FIGURES:
                ui.dismiss_message()  # the list's last message stays with the list
                came_from = self._state.screen.value
            ui.open_week(week, came_from=came_from)
            self._state.go_to(Screen.FEVER_FIGURES)
        ui.start_loading()

        async def work() -> Callable[[], None]:
            figures = await self._api.fever_weekly(week)
            return lambda: ui.show_figures(week, figures)

        await self._guard(work, ui.stop_loading)

    async def figures_file(self, kind: str) -> tuple[str, bytes] | None:
        """The shown week's fever figures as ``csv`` or ``md`` (``fiebre-semana-<Monday>.<kind>``)."""
        ui = self._ui
        week = ui.week
        if week is None or ui.busy:
            return None
        ui.start_busy()
        found: list[bytes] = []

        async def work() -> Callable[[], None]:
            found.append(await self._api.fever_weekly_export(week, kind))
            return lambda: None

        await self._guard(work, ui.stop_busy)
        return (f"fiebre-semana-{week.isoformat()}.{kind}", found[0]) if found else None

    def file_saved(self, name: str, saved: bool | None) -> None:
        if saved:
            self._ui.show_message(self._tr.t("desk_downloaded", name=name))
        elif saved is False:
            self._ui.show_error(self._tr.t("desk_download_failed", name=name))

    def dismiss_message(self) -> None:
        self._ui.dismiss_message()

    # ---- the home screens: open episodes, the keys -----------------------------------------------

    @property
    def allowed(self) -> bool:
        user = self._state.user
        return user is not None and user.role in DESK_ROLES

    async def enter(self) -> None:
        """At login (oncology, case desk): the kept trust bundle at once, then a fresh one and the open episodes."""
        if not self.allowed:
            return
        cache = self._cache()
        cached = cache.load() if cache is not None else None
        if cached is not None:
            self._ui.show_trust(*cached)
        await self.refresh_keys()
        await self.count_open()

    async def count_open(self) -> None:
        """How many episodes are open at the caller's units (the home screens' alert); quiet when it cannot ask:
        the desk's own refresh says why."""
        if not self.allowed:
            return
        try:
            episodes = await self._api.fever_episodes()
        except AuthError:
            await self._session_expired()
            return
        except ApiError:
            return
        self._ui.counted(len(episodes))

    def _cache(self) -> TrustCache | None:
        store = self._store()
        return TrustCache(store) if store is not None else None

    async def refresh_keys(self) -> bool:
        """Fetch the trust bundle and keep it on the device; False when it could not (the kept one stays)."""
        ui = self._ui
        if not self.allowed:
            return False
        try:
            bundle = await self._api.trust_bundle()
        except AuthError:
            await self._session_expired()
            return False
        except ApiError as exc:
            offline = isinstance(exc, NetworkError)
            ui.keys_failed(self._tr.t("ph_keys_offline") if offline else message_for(self._tr, exc))
            return False
        now = self._clock()
        with self._state.batch():
            ui.show_trust(bundle, now)
            cache = self._cache()
            if cache is not None:
                cache.save(bundle, fetched_at=now)
            if ui.card_token is not None and ui.card_check is not None and ui.card_answer is None:
                ui.card_scanned(ui.card_token, self._check(ui.card_token))  # new keys or revocations
        return True

    async def refresh_keys_if_stale(self) -> None:
        ui = self._ui
        if self.allowed and is_stale(ui.trust, ui.trust_fetched_at, self._clock()):
            await self.refresh_keys()

    # ---- "Verificar tarjeta de urgencias" ---------------------------------------------------------

    def _check(self, token: str) -> Check:
        check = check_offline(token, self._ui.trust, now=self._clock())
        if not check.emergency and check.kind is CheckKind.GENUINE:
            return Check(CheckKind.MALFORMED, expires_at=check.expires_at, message=CARNET_GIVEN)
        return check

    async def verify_card(self, scanned: str) -> None:
        """What the scanner typed (URL or bare token): this device's verdict at once (offline too), then the
        server's with the card's facts. A carnet's code is refused (it is not the emergency card)."""
        ui = self._ui
        text = (scanned or "").strip()
        if not text or ui.card_verifying:
            return
        token = qrtoken.extract_token(text)
        if len(token) > MAX_SCAN:
            ui.card_scanned(None, Check(CheckKind.MALFORMED))
            return
        check = self._check(token)
        ui.card_scanned(token, check)
        if not (check.valid_emergency or check.kind in (CheckKind.NO_KEYS, CheckKind.UNKNOWN_KEY)):
            return  # settled here (a carnet's code, tampered, expired): nothing to ask
        ui.start_card_verify()
        try:
            answer = await self._api.emergency_verify(token)
        except AuthError:
            ui.card_verified(token, None)
            await self._session_expired()
            return
        except NetworkError:
            with self._state.batch():
                ui.card_verified(token, None, offline=True)
                self._state.set_online(False)
            return
        except ApiError as exc:
            ui.card_verified(token, None, error=message_for(self._tr, exc))
            return
        with self._state.batch():
            ui.card_verified(token, answer)
            self._state.set_online(True)

    def clear_card(self) -> None:
        self._ui.clear_card()
