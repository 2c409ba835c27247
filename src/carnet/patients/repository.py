"""One user's cached account and carnets in the offline store (:class:`CarnetRepository`).

It reads and writes only the local encrypted store; the network is the session's business.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from carnet.data.store import OfflineStore
from carnet_contract import models as contract


class CarnetRepository:
    """One user's cached data in the offline store (reads never touch the network)."""

    ME, CARNET, JWKS, NOTICE = "me", "carnet", "jwks", "privacy_notice"

    def __init__(self, store: OfflineStore, user_id: str) -> None:
        self._store = store
        self.user_id = user_id

    # reads
    def me(self) -> contract.Me | None:
        record = self._store.get(self.user_id, self.ME)
        return contract.Me.model_validate(record.value) if record else None

    def carnet(self, patient_id: str) -> tuple[contract.Carnet, datetime] | None:
        record = self._store.get(self.user_id, self.CARNET, patient_id)
        if record is None:
            return None
        return contract.Carnet.model_validate(record.value), record.fetched_at

    def jwks(self) -> dict[str, Any] | None:
        record = self._store.get(self.user_id, self.JWKS)
        return record.value if record else None

    def privacy_notice(self, lang: str) -> contract.PrivacyNotice | None:
        """The last privacy notice read in ``lang`` (to read it again offline)."""
        record = self._store.get(self.user_id, self.NOTICE, lang)
        return contract.PrivacyNotice.model_validate(record.value) if record else None

    # writes (by the sync)
    def save_me(self, me: contract.Me, *, fetched_at: datetime) -> None:
        self._store.put(self.user_id, self.ME, "", me.model_dump(mode="json"), fetched_at=fetched_at)
        # Children no longer linked to the account leave the phone too.
        self._store.delete_kind(self.user_id, self.CARNET, keep={p.id for p in me.patients})

    def save_carnet(self, carnet: contract.Carnet, *, fetched_at: datetime) -> None:
        self._store.put(
            self.user_id, self.CARNET, carnet.patient.id, carnet.model_dump(mode="json"), fetched_at=fetched_at
        )

    def put_cycle(self, cycle: contract.Cycle) -> bool:
        """A cycle changed on the server (mixing status, confirmed, dispensed): update the cached carnet
        holding it, keeping when that carnet was fetched. False when no cached carnet has it (the next
        carnet read brings it)."""
        found = False
        for patient_id, record in self._store.get_kind(self.user_id, self.CARNET).items():
            carnet = contract.Carnet.model_validate(record.value)
            if any(c.id == cycle.id for c in carnet.cycles):
                cycles = [cycle if c.id == cycle.id else c for c in carnet.cycles]
                self._store.put(
                    self.user_id,
                    self.CARNET,
                    patient_id,
                    carnet.model_copy(update={"cycles": cycles}).model_dump(mode="json"),
                    fetched_at=record.fetched_at,
                )
                found = True
        return found

    def save_jwks(self, jwks: dict[str, Any], *, fetched_at: datetime) -> None:
        self._store.put(self.user_id, self.JWKS, "", jwks, fetched_at=fetched_at)

    def save_privacy_notice(self, lang: str, notice: contract.PrivacyNotice, *, fetched_at: datetime) -> None:
        self._store.put(self.user_id, self.NOTICE, lang, notice.model_dump(mode="json"), fetched_at=fetched_at)

    def save_privacy(self, status: contract.PrivacyStatus) -> None:
        """A new privacy status (notice accepted, closure asked or withdrawn) into the cached ``me``."""
        record = self._store.get(self.user_id, self.ME)
        if record is None:
            return
        me = contract.Me.model_validate(record.value).model_copy(update={"privacy": status})
        self._store.put(self.user_id, self.ME, "", me.model_dump(mode="json"), fetched_at=record.fetched_at)
