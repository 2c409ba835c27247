"""What the fever screens draw: the family's (:class:`FeverUi`) and the unit's (:class:`FeverDeskUi`); changed only by
their own methods. No Flet."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from carnet.core.observable import Observable, OnlineScreenUi, change
from carnet.fever.repository import EpisodeView
from carnet.patients.qr import QrImage
from carnet.pharmacy.checks import Check
from carnet_contract import enrolment as wire
from carnet_contract import models as contract
from carnet_contract.qrtoken import Verification

__all__ = ["FeverDeskUi", "FeverUi"]


@dataclass(eq=False)
class FeverUi(Observable):
    """ "Tiene fiebre" and the emergency card of one child (readable offline)."""

    patient_id: str | None = None
    #: The child's episodes, the newest reading first (synced, or still on the phone).
    episodes: list[EpisodeView] = field(default_factory=list)
    #: The last emergency card fetched for the child, when, its QR and the QR's check with the cached keys.
    card: contract.EmergencyCard | None = None
    card_fetched_at: datetime | None = None
    card_qr: QrImage | None = None
    card_check: Verification | None = None
    #: Problems of the form by field (``temperature``, ``time``).
    errors: dict[str, str] = field(default_factory=dict)
    message: str | None = None
    error: str | None = None
    #: Bumped when an episode was queued (the view empties its fields).
    sent: int = 0
    #: The IPS file is being fetched.
    busy: bool = False
    #: The screen to go back to from the fever screen, and from the card (the fever screen or the carnet).
    came_from: str | None = None
    card_came_from: str | None = None

    @change
    def open_child(self, patient_id: str, *, came_from: str | None, card: bool = False) -> None:
        if patient_id != self.patient_id:
            self.errors, self.message, self.error = {}, None, None
        self.patient_id = patient_id
        if card:
            self.card_came_from = came_from
        elif came_from is not None:
            self.came_from = came_from

    @change
    def show_episodes(self, episodes: list[EpisodeView]) -> None:
        self.episodes = episodes

    @change
    def show_card(
        self,
        card: contract.EmergencyCard | None,
        fetched_at: datetime | None,
        qr: QrImage | None,
        check: Verification | None,
    ) -> None:
        self.card, self.card_fetched_at, self.card_qr, self.card_check = card, fetched_at, qr, check

    @change
    def refused(self, errors: dict[str, str]) -> None:
        self.errors = errors

    @change
    def queued(self, message: str) -> None:
        self.errors, self.message, self.error = {}, message, None
        self.sent += 1

    @change
    def start_busy(self) -> None:
        self.busy, self.error = True, None

    @change
    def stop_busy(self) -> None:
        self.busy = False

    @change
    def say(self, message: str | None = None, error: str | None = None) -> None:
        self.message, self.error = message, error

    @change
    def dismiss_message(self) -> None:
        self.message = self.error = None


@dataclass(eq=False)
class FeverDeskUi(OnlineScreenUi):
    """The unit's fever episodes (online only: nothing of them is kept on the device) and the weekly figures."""

    episodes: list[contract.FeverEpisode] = field(default_factory=list)
    #: When the list was fetched (the clock runs from the screen's own "now").
    fetched_at: datetime | None = None
    #: The episode whose time is being corrected, and which step.
    correcting: tuple[str, contract.FeverStepKind] | None = None
    correct_error: str | None = None
    #: The screen to go back to (the role's home: the case desk's queue or the oncology desk), and from the
    #: figures (the list, or the weekly figures they were opened from).
    home: str | None = None
    figures_back: str | None = None
    week: date | None = None
    figures: contract.FeverWeeklyFigures | None = None
    #: Bumped when a correction was sent and accepted (the view empties its field).
    sent: int = 0
    #: How many episodes are open at the caller's units (the home screen's alert); None: not known yet.
    open_count: int | None = None
    #: The trust bundle (public keys, revoked ids) kept on the device, to verify an emergency card offline.
    trust: contract.TrustBundle | None = None
    trust_fetched_at: datetime | None = None
    trust_error: str | None = None
    #: "Verificar tarjeta de urgencias": the code scanned, this device's verdict, then the server's answer (the card's
    #: facts, when the caller works at the child's unit); kept in memory only.
    card_token: str | None = None
    card_check: Check | None = None
    card_answer: contract.EmergencyVerifyResponse | None = None
    card_verifying: bool = False
    #: The server could not be asked (no network): the verdict is this device's alone.
    card_offline: bool = False
    card_error: str | None = None
    #: "Registrar llegada sin aviso": the form is open; the children found (the oncology desk's search, None:
    #: not searched yet); the child chosen; the form's problems by field (``query``, ``time``, ``temperature``).
    arrival_open: bool = False
    arrival_results: list[wire.PatientRecord] | None = None
    arrival_child: wire.PatientRecord | None = None
    arrival_errors: dict[str, str] = field(default_factory=dict)
    #: Bumped each time the form opens (the view empties its fields and puts the time now).
    arrival_round: int = 0
    #: The episode to look at first: the one just opened at the unit, or the child's open one (409).
    focus: str | None = None

    @change
    def open(self, home: str | None) -> None:
        if home is not None:
            self.home = home

    @change
    def show_episodes(self, episodes: list[contract.FeverEpisode], fetched_at: datetime) -> None:
        self.episodes, self.fetched_at, self.open_count = episodes, fetched_at, len(episodes)

    @change
    def counted(self, count: int) -> None:
        self.open_count = count

    @change
    def show_trust(self, trust: contract.TrustBundle, fetched_at: datetime) -> None:
        self.trust, self.trust_fetched_at, self.trust_error = trust, fetched_at, None

    @change
    def keys_failed(self, error: str) -> None:
        self.trust_error = error

    @change
    def card_scanned(self, token: str | None, check: Check) -> None:
        self.card_token, self.card_check, self.card_answer = token, check, None
        self.card_offline, self.card_error = False, None

    @change
    def start_card_verify(self) -> None:
        self.card_verifying = True

    @change
    def card_verified(
        self,
        token: str,
        answer: contract.EmergencyVerifyResponse | None,
        *,
        offline: bool = False,
        error: str | None = None,
    ) -> None:
        self.card_verifying = False
        if token == self.card_token:
            self.card_answer, self.card_offline, self.card_error = answer, offline, error

    @change
    def clear_card(self) -> None:
        self.card_token = self.card_check = self.card_answer = self.card_error = None
        self.card_offline = self.card_verifying = False

    @change
    def replace(self, episode: contract.FeverEpisode, message: str) -> None:
        """A step was recorded: the episode as the server has it now (it leaves the list once it is over)."""
        open_ = episode.status not in (contract.FeverStatus.ANTIBIOTICO, contract.FeverStatus.CERRADA)
        self.episodes = [e if e.id != episode.id else episode for e in self.episodes if e.id != episode.id or open_]
        self.open_count = len(self.episodes)
        self.message, self.correcting, self.correct_error = message, None, None
        self.sent += 1

    @change
    def start_arrival(self) -> None:
        self.arrival_open, self.arrival_results, self.arrival_child = True, None, None
        self.arrival_errors, self.message, self.error, self.correcting = {}, None, None, None
        self.arrival_round += 1

    @change
    def cancel_arrival(self) -> None:
        self.arrival_open, self.arrival_results, self.arrival_child, self.arrival_errors = False, None, None, {}

    @change
    def arrival_found(self, results: list[wire.PatientRecord] | None, error: str | None = None) -> None:
        self.arrival_results = results
        self.arrival_errors = {"query": error} if error else {}

    @change
    def choose_child(self, child: wire.PatientRecord | None) -> None:
        self.arrival_child, self.arrival_errors = child, {}

    @change
    def arrival_refused(self, errors: dict[str, str]) -> None:
        self.arrival_errors = errors

    @change
    def opened_at_unit(self, episode: contract.FeverEpisode, message: str) -> None:
        """The unit opened an episode: it joins the list (its clock runs from the arrival), shown first."""
        self.episodes = [*(e for e in self.episodes if e.id != episode.id), episode]
        self.open_count = len(self.episodes)
        self.focus, self.message, self.error = episode.id, message, None
        self.cancel_arrival()

    @change
    def already_open(
        self, episodes: list[contract.FeverEpisode], fetched_at: datetime, episode_id: str, error: str
    ) -> None:
        """409: the child's open episode, shown first with why nothing was opened."""
        self.show_episodes(episodes, fetched_at)
        self.focus, self.message, self.error = episode_id, None, error
        self.cancel_arrival()

    @change
    def ask_correction(self, episode_id: str | None, step: contract.FeverStepKind | None = None) -> None:
        self.correcting = (episode_id, step) if episode_id is not None and step is not None else None
        self.correct_error = None

    @change
    def correction_refused(self, error: str) -> None:
        self.correct_error = error

    @change
    def open_week(self, week: date, *, came_from: str | None = None) -> None:
        self.week, self.figures = week, None
        if came_from is not None:
            self.figures_back = came_from

    @change
    def show_figures(self, week: date, figures: contract.FeverWeeklyFigures) -> None:
        self.week, self.figures = week, figures

    @change
    def show_message(self, message: str | None) -> None:
        self.message = message
