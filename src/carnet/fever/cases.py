"""The family's fever use cases (``session.fever``; part of a family's login scope): "Tiene fiebre (38 °C o más)"
on each child's carnet, the reading queued offline-first, the episode's steps, the emergency card. No Flet.

The button opens the fever screen at once, with no network: what to do now comes from the unit of the cached
carnet (the hospital's own words: address, 24-hour number, map, what to bring, what not to do). "Avisar al
hospital" checks the reading and the time on the phone, then queues ``POST /patients/{id}/fever-episodes`` in
the outbox (its item id is the ``Idempotency-Key``): the unit gets it as soon as there is signal, exactly once.
The screen says "Te esperan en urgencias" and, as the sync brings the episode back, each step the unit records.

The emergency card is fetched at every refresh, like the carnet, and kept encrypted on the phone: it opens
offline with its QR (drawn like the carnet's, its signature checked with the cached keys). The FHIR IPS
export is fetched when asked for (online only) and handed to the platform as a JSON file.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol

from carnet.core.clock import Clock
from carnet.core.i18n import Translator
from carnet.core.ids import new_local_id
from carnet.core.navigation import FEVER_SCREENS, Navigator, Screen
from carnet.data.api import ApiClient, ApiError, AuthError, NetworkError
from carnet.data.messages import message_for
from carnet.data.outbox import Outbox, WriteOp
from carnet.data.records import Mark, SyncLedger
from carnet.fever.form import FeverForm, check_fever
from carnet.fever.repository import EPISODE_TYPE, EpisodeView, FeverRepository, episodes_path, merge
from carnet.fever.state import FeverUi
from carnet.patients.qr import render_qr
from carnet.patients.repository import CarnetRepository
from carnet_contract import models as contract
from carnet_contract import qrtoken

__all__ = ["FeverCases", "step_lines"]

log = logging.getLogger(__name__)


#: The statuses of an episode under way (None: still on the phone).
_OPEN = frozenset({None, contract.FeverStatus.AVISADA, contract.FeverStatus.EN_URGENCIAS, contract.FeverStatus.TRIAGE})


class FeverHost(Navigator, Protocol):
    fever: FeverUi
    children: list[contract.PatientRef]
    selected_child_id: str | None


def step_lines(tr: Translator, view: EpisodeView) -> list[str]:
    """What the family reads of an episode, in order: sent or waiting, then each step the unit recorded."""
    episode = view.episode
    lines = [tr.t("fever_reading", temp=_temp(tr, view.temperature_c), when=tr.datetime(view.measured_at))]
    if episode is None:
        lines.append(tr.t("fever_step_failed", reason=view.error) if view.error else tr.t("fever_step_pending"))
        return lines
    lines.append(tr.t("fever_step_sent", when=tr.datetime(episode.created_at)))
    if episode.arrived_at is not None:
        lines.append(tr.t("fever_step_arrival", when=tr.datetime(episode.arrived_at)))
    if episode.triage_at is not None:
        lines.append(tr.t("fever_step_triage", when=tr.datetime(episode.triage_at)))
    if episode.antibiotic_at is not None:
        lines.append(tr.t("fever_step_antibiotic", when=tr.datetime(episode.antibiotic_at)))
    if episode.status is contract.FeverStatus.CERRADA:
        lines.append(tr.t("fever_step_closed"))
    return lines


def _temp(tr: Translator, value: float) -> str:
    text = f"{value:.1f}"
    return text.replace(".", ",") if tr.locale.startswith("es") else text


class FeverCases:
    def __init__(
        self,
        *,
        state: FeverHost,
        api: ApiClient,
        fever: FeverRepository,
        carnets: CarnetRepository,
        outbox: Outbox,
        ledger: SyncLedger,
        tr: Translator,
        clock: Clock,
        qr_issuer: str | None,
        accepted_kids: tuple[str, ...],
        request_sync: Callable[[], None],
    ) -> None:
        self._state = state
        self._api = api
        self._fever = fever
        self._carnets = carnets
        self._outbox = outbox
        self._ledger = ledger
        self._tr = tr
        self._clock = clock
        self._qr_issuer = qr_issuer
        self._accepted_kids = accepted_kids
        self._request_sync = request_sync

    @property
    def _ui(self) -> FeverUi:
        return self._state.fever

    # ---- reads -------------------------------------------------------------------------------

    def emergency(self) -> contract.UnitEmergency | None:
        """The unit's emergency service, from the child's cached carnet (None: not written by the hospital)."""
        cached = self._carnets.carnet(self._ui.patient_id) if self._ui.patient_id else None
        return cached[0].patient.unit.emergency if cached is not None else None

    def unit(self) -> contract.Unit | None:
        cached = self._carnets.carnet(self._ui.patient_id) if self._ui.patient_id else None
        return cached[0].patient.unit if cached is not None else None

    def child_name(self) -> str:
        pid = self._ui.patient_id
        return next((c.display_name for c in self._state.children if c.id == pid), "")

    def reload(self) -> None:
        """The open child's episodes (synced, with the outbox laid over) and cached card (one redraw)."""
        with self._state.batch():
            self._reload()

    def _reload(self) -> None:
        ui = self._ui
        pid = ui.patient_id
        if pid is None:
            return
        views = merge(self._fever.episodes(), self._outbox.items(), self._ledger.server_id)
        ui.show_episodes([v for v in views if v.patient_id == pid])
        cached = self._fever.card(pid)
        if cached is None:
            ui.show_card(None, None, None, None)
            return
        card, fetched_at = cached
        qr = ui.card_qr if ui.card is not None and ui.card.qr.url == card.qr.url else None
        if qr is None:
            qr = render_qr(card.qr.url)
        check = qrtoken.verify(
            card.qr.token,
            self._carnets.jwks() or {"keys": []},
            now=self._clock().timestamp(),
            issuer=self._qr_issuer,
            accepted_kids=self._accepted_kids,
            kind=qrtoken.TokenKind.EMERGENCY,
        )
        ui.show_card(card, fetched_at, qr, check)

    def episode_open(self) -> bool:
        """A child of the family has a fever episode under way: waiting to be sent, or sent and not over (no
        antibiotic, not closed). The session then syncs more often while its screens are shown."""
        views = merge(self._fever.episodes(), self._outbox.items(), self._ledger.server_id)
        return any(v.status in _OPEN and v.mark is not Mark.FAILED for v in views)

    def latest(self) -> EpisodeView | None:
        """The episode the screen follows: the newest one still open (or the newest)."""
        episodes = self._ui.episodes
        for view in episodes:
            if view.status in (
                None,
                contract.FeverStatus.AVISADA,
                contract.FeverStatus.EN_URGENCIAS,
                contract.FeverStatus.TRIAGE,
            ):
                return view
        return episodes[0] if episodes else None

    # ---- navigation --------------------------------------------------------------------------

    def open(self, patient_id: str | None = None) -> None:
        """ "Tiene fiebre": the fever screen of the child (the selected one by default), offline too."""
        state = self._state
        pid = patient_id or state.selected_child_id
        if pid is None or pid not in {c.id for c in state.children}:
            return
        came_from = None if state.screen in FEVER_SCREENS else state.screen.value
        with state.batch():
            self._ui.open_child(pid, came_from=came_from)
            self._reload()
            state.go_to(Screen.FEVER)
        self._request_sync()  # the episode's steps since the last sync

    def open_card(self, patient_id: str | None = None) -> None:
        """The emergency card (from the fever screen or the carnet)."""
        state = self._state
        pid = patient_id or self._ui.patient_id or state.selected_child_id
        if pid is None or pid not in {c.id for c in state.children}:
            return
        with state.batch():
            self._ui.dismiss_message()  # the card's own messages only (its file)
            self._ui.open_child(pid, came_from=state.screen.value, card=True)
            self._reload()
            state.go_to(Screen.EMERGENCY_CARD)

    def back(self) -> None:
        """The card goes back to where it was opened (the fever screen or the carnet); the fever screen to the
        carnet it was opened from."""
        state, ui = self._state, self._ui
        came = ui.card_came_from if state.screen is Screen.EMERGENCY_CARD else ui.came_from
        with state.batch():
            ui.dismiss_message()
            state.go_to(Screen(came) if came in {s.value for s in Screen} else Screen.CARNET)

    # ---- writes ------------------------------------------------------------------------------

    def submit(self, form: FeverForm) -> bool:
        """ "Avisar al hospital": checked on the phone, then queued (offline too) and sent as soon as there is
        signal. False with the problems on screen (nothing queued)."""
        ui, tr = self._ui, self._tr
        pid = ui.patient_id
        if pid is None:
            return False
        now = self._clock()
        body, errors = check_fever(form, tr, now)
        if body is None:
            ui.refused(errors)
            return False
        self._outbox.add(
            type=EPISODE_TYPE,
            op=WriteOp.CREATE,
            method="POST",
            path=episodes_path(pid),
            body=body,
            record_id=new_local_id(),
            patient_id=pid,
            label=tr.t("fever_label", name=self.child_name()),
            now=now,
        )
        with self._state.batch():
            ui.queued(tr.t("fever_expected"))
            self._reload()
        self._request_sync()
        return True

    async def ips_file(self) -> tuple[str, bytes] | None:
        """The child's FHIR International Patient Summary (online only), as ``resumen-<id>.json``; None with the
        reason on screen."""
        ui, pid = self._ui, self._ui.patient_id
        if pid is None or ui.busy:
            return None
        ui.start_busy()
        try:
            data = await self._api.ips(pid)
        except AuthError:
            ui.say(error=self._tr.t("err_session_ended"))
            return None
        except NetworkError:
            ui.say(error=self._tr.t("fever_ips_offline"))
            return None
        except ApiError as exc:
            ui.say(error=message_for(self._tr, exc))
            return None
        finally:
            ui.stop_busy()
        return f"resumen-paciente-{pid[:8]}.json", data

    def file_saved(self, name: str, saved: bool | None) -> None:
        if saved:
            self._ui.say(message=self._tr.t("fever_ips_saved", name=name))
        elif saved is False:
            self._ui.say(error=self._tr.t("fever_ips_not_saved", name=name))

    def dismiss_message(self) -> None:
        self._ui.dismiss_message()

    # ---- the card (by the session's refresh) ------------------------------------------------

    async def fetch_cards(self, patient_ids: list[str]) -> None:
        """Each child's emergency card, kept for offline use. A card the server cannot give now leaves the last
        one in place (an older server, a child without a plan yet)."""
        now = self._clock()
        for pid in patient_ids:
            try:
                card = await self._api.emergency_card(pid)
            except (NetworkError, AuthError):
                raise  # the refresh's own business (offline banner, session ended)
            except ApiError as exc:
                log.info("emergency card not fetched: %s", type(exc).__name__)
                continue
            self._fever.save_card(card, fetched_at=now)
        self._fever.keep_cards(set(patient_ids))
