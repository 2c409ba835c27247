"""One family's fever episodes and emergency cards in the offline store (:class:`FeverRepository`), and what the
fever screen shows of an episode: the synced one with the outbox laid over it (:func:`merge`). No Flet.

The unit's emergency service (address, 24-hour number, map, what to bring and what not to do) is not stored
here: it comes with the unit of the cached carnet (``carnet.patient.unit.emergency``), so it is on the phone
as soon as the carnet is.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from pydantic import ValidationError

from carnet.data.outbox import OutboxItem, OutboxState, WriteOp
from carnet.data.records import Mark
from carnet.data.store import OfflineStore
from carnet_contract import models as contract

__all__ = ["EPISODE_TYPE", "EpisodeView", "FeverRepository", "episodes_path", "merge"]

EPISODE_TYPE = contract.SyncType.FEVER_EPISODE.value


def episodes_path(patient_id: str) -> str:
    return f"/api/v1/patients/{patient_id}/fever-episodes"


@dataclass(frozen=True)
class EpisodeView:
    """One episode as the family's fever screen shows it: the server's (``episode``) or one still on the phone."""

    id: str
    patient_id: str
    temperature_c: float
    measured_at: datetime
    mark: Mark
    #: The server's reason when it refused the episode.
    error: str | None = None
    episode: contract.FeverEpisode | None = None
    #: The outbox item still holding it (retry / discard).
    item_id: str | None = None

    @property
    def status(self) -> contract.FeverStatus | None:
        return self.episode.status if self.episode is not None else None


class FeverRepository:
    """The synced episodes and the last emergency card of each child (reads never touch the network)."""

    EPISODE, CARD = "fever_episode", "emergency_card"

    def __init__(self, store: OfflineStore, user_id: str) -> None:
        self._store = store
        self.user_id = user_id

    # episodes (by the sync)
    def episodes(self) -> dict[str, contract.FeverEpisode]:
        found: dict[str, contract.FeverEpisode] = {}
        for key, record in self._store.get_kind(self.user_id, self.EPISODE).items():
            try:
                found[key] = contract.FeverEpisode.model_validate(record.value)
            except ValidationError:
                continue  # an older app's shape: the next full sync brings it again
        return found

    def put_episode(self, episode: contract.FeverEpisode) -> None:
        self._store.put(self.user_id, self.EPISODE, episode.id, episode.model_dump(mode="json"))

    def delete_episode(self, episode_id: str) -> None:
        self._store.delete(self.user_id, self.EPISODE, episode_id)

    def clear_episodes(self) -> None:
        self._store.delete_kind(self.user_id, self.EPISODE)

    # emergency cards (fetched by the session's refresh, like the carnets)
    def card(self, patient_id: str) -> tuple[contract.EmergencyCard, datetime] | None:
        record = self._store.get(self.user_id, self.CARD, patient_id)
        if record is None:
            return None
        try:
            return contract.EmergencyCard.model_validate(record.value), record.fetched_at
        except ValidationError:
            return None

    def save_card(self, card: contract.EmergencyCard, *, fetched_at: datetime) -> None:
        self._store.put(self.user_id, self.CARD, card.patient_id, card.model_dump(mode="json"), fetched_at=fetched_at)

    def keep_cards(self, patient_ids: set[str]) -> None:
        """Children no longer linked to the account: their cards leave the phone."""
        self._store.delete_kind(self.user_id, self.CARD, keep=patient_ids)


def merge(
    synced: dict[str, contract.FeverEpisode],
    outbox: Iterable[OutboxItem],
    server_id: Callable[[str], str | None] = lambda rid: rid,
) -> list[EpisodeView]:
    """The synced episodes with the ones still in the outbox (pending or refused); newest reading first."""
    views: dict[str, EpisodeView] = {
        key: EpisodeView(
            id=key,
            patient_id=e.patient_id,
            temperature_c=e.temperature_c,
            measured_at=e.measured_at,
            mark=Mark.SYNCED,
            episode=e,
        )
        for key, e in synced.items()
    }
    for item in outbox:
        if item.type != EPISODE_TYPE or item.op is not WriteOp.CREATE:
            continue
        rid = server_id(item.record_id) or item.record_id
        if rid in views:
            continue
        body = item.body or {}
        try:
            temperature = float(body["temperature_c"])
            measured_at = datetime.fromisoformat(str(body["measured_at"]))
        except (KeyError, TypeError, ValueError):
            continue
        failed = item.state is OutboxState.FAILED
        views[rid] = EpisodeView(
            id=rid,
            patient_id=item.patient_id,
            temperature_c=temperature,
            measured_at=measured_at,
            mark=Mark.FAILED if failed else Mark.PENDING,
            error=item.error if failed else None,
            item_id=item.id,
        )
    return sorted(views.values(), key=lambda v: v.measured_at, reverse=True)
