"""The unit's fever desk (``session.fever_desk``): the open fever episodes of the caller's units with the 60-minute
clock from arrival, and the three times — arrival, triage, first antibiotic — recorded in one tap each (now) or
with a corrected time; the week's fever figures with their CSV and Markdown files. For the oncology desk and the
case desk (the server allows both for their units). Online only like the other staff screens: nothing of it is
written to the device. No Flet."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Protocol

from carnet.core.clock import Clock, local_date
from carnet.core.i18n import Translator
from carnet.core.navigation import FEVER_DESK_SCREENS, Navigator, Screen
from carnet.data.api import ApiClient, ApiError, AuthError, NetworkError
from carnet.data.messages import message_for
from carnet.fever.form import parse_time
from carnet.fever.state import FeverDeskUi
from carnet.incidents.repository import monday_of
from carnet_contract import models as contract
from carnet_contract.models import GOLDEN_HOUR_MINUTES, FeverStatus, FeverStepKind

__all__ = ["FeverDeskCases", "minutes_since_arrival", "next_step", "over_the_hour"]

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
    ) -> None:
        self._state = state
        self._api = api
        self._tr = tr
        self._clock = clock
        self._session_expired = session_expired
        #: A step whose answer never came: sending the same step again reuses its Idempotency-Key.
        self._unsent: dict[tuple[str, FeverStepKind], str] = {}

    @property
    def _ui(self) -> FeverDeskUi:
        return self._state.fever_desk

    async def _guard(self, work: Callable[[], Awaitable[Callable[[], None]]], finish: Callable[[], None]) -> bool:
        try:
            show = await work()
        except AuthError:
            finish()
            await self._session_expired()
            return False
        except NetworkError:
            with self._state.batch():
                self._ui.show_error(self._tr.t("desk_fever_offline"))
                self._state.set_online(False)
                finish()
            return False
        except ApiError as exc:
            with self._state.batch():
                self._ui.show_error(message_for(self._tr, exc))
                finish()
            return False
        with self._state.batch():
            show()
            self._state.set_online(True)
            finish()
        return True

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
