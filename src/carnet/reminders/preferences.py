"""The reminder kinds a family chose (Ajustes → Recordatorios, ``session.reminders``). No Flet.

Where they live: the server (``GET`` / ``PUT /api/v1/me/reminders``; every kind for an account that never
chose), and a copy in the phone's encrypted offline store (:class:`ReminderRepository`), which is what the
screen and the phone's notifications read (``state.reminders.kinds``).

A switch changes the copy at once and queues the whole choice as one idempotent ``PUT`` in the outbox
(:mod:`carnet.data.outbox`, type :data:`REMINDERS_TYPE`), so offline the choice is kept on the phone and
sent by the next sync that reaches the server, like any other write (its failure shows on the sync
screen). The ``PUT`` carries the full set, so only the last choice matters: a new one replaces a queued one
that has not gone yet. The server's answer is stored by :class:`ReminderSyncable` (the sync engine calls
it), unless a newer choice is already queued behind it.

Reading: opening the screen asks the server (another phone of the same account may have chosen), except
while a choice of this phone waits to be sent — that one is newer. The server's preferences are not part of
``GET /sync``: nothing else fetches them.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, Protocol

from pydantic import ValidationError

from carnet.core.clock import Clock
from carnet.core.i18n import Translator
from carnet.core.navigation import Navigator, Screen
from carnet.data.api import READ_KINDS, REMINDERS_PATH, ApiClient, ApiError, AuthError, NetworkError
from carnet.data.outbox import Outbox, OutboxItem, OutboxState, WriteOp
from carnet.data.records import SyncLedger
from carnet.data.store import OfflineStore
from carnet.data.syncable import Upload
from carnet.reminders.state import KIND_ORDER, ReminderPreferencesState
from carnet_contract import models as contract

__all__ = [
    "REMINDERS_TYPE",
    "ReminderPreferenceCases",
    "ReminderRepository",
    "ReminderSyncable",
    "preferences_body",
]

log = logging.getLogger(__name__)

#: The outbox items (and the store's record kind) of the reminder preferences.
REMINDERS_TYPE = "reminder_preferences"
_KEY = ""

Kinds = frozenset[contract.ReminderKind]


def preferences_body(kinds: Kinds) -> dict[str, Any]:
    """The ``PUT`` body: the kinds chosen, in the screen's order (the same choice, the same body)."""
    return contract.ReminderPreferences(kinds=[k for k in KIND_ORDER if k in kinds]).model_dump(mode="json")


class ReminderRepository:
    """One user's chosen kinds in the encrypted offline store, and whether a choice waits in the outbox."""

    def __init__(self, store: OfflineStore, outbox: Outbox) -> None:
        self._store = store
        self._outbox = outbox

    @property
    def user_id(self) -> str:
        return self._outbox.user_id

    def kinds(self) -> Kinds | None:
        """The kinds kept on the phone (None: never loaded nor chosen here)."""
        cached = self._store.get(self.user_id, REMINDERS_TYPE, _KEY)
        if cached is None:
            return None
        try:
            return frozenset(contract.ReminderPreferences.model_validate(cached.value, context=READ_KINDS).kinds)
        except ValidationError:
            return None

    def save(self, kinds: Kinds) -> None:
        self._store.put(self.user_id, REMINDERS_TYPE, _KEY, preferences_body(kinds))

    def waiting(self) -> list[OutboxItem]:
        """The queued choices (pending or refused), oldest first."""
        return [i for i in self._outbox.items() if i.type == REMINDERS_TYPE]

    def queue(self, kinds: Kinds, *, label: str, now: datetime) -> None:
        """Keep the choice and queue its ``PUT`` in place of any queued before (the whole set goes each time, so
        an older one, waiting or refused, says nothing the new one does not); one local transaction."""
        with self._store.transaction():
            for item in self.waiting():
                self._store.outbox_remove(self.user_id, item.id)
            self.save(kinds)
            self._outbox.add(
                type=REMINDERS_TYPE,
                op=WriteOp.UPDATE,
                method="PUT",
                path=REMINDERS_PATH,
                body=preferences_body(kinds),
                record_id=REMINDERS_TYPE,
                patient_id="",
                label=label,
                now=now,
            )


class ReminderSyncable:
    """The sync engine's side: the server's answer to a queued ``PUT`` is kept (nothing is pulled)."""

    types = frozenset({REMINDERS_TYPE})
    uploads: frozenset[str] = frozenset()

    def __init__(self, repository: ReminderRepository) -> None:
        self._repo = repository

    def read(self, change: contract.SyncChange) -> Any:
        return None

    def apply(self, change: contract.SyncChange, record: Any) -> None:
        return None

    def settle(self, item: OutboxItem, answer: Any, ledger: SyncLedger) -> None:
        if answer is None:
            return
        sent = contract.ReminderPreferences.model_validate(answer, context=READ_KINDS)
        if any(i.id != item.id for i in self._repo.waiting()):
            return  # a newer choice waits behind this one: the phone's copy is that one already
        self._repo.save(frozenset(sent.kinds))

    def reset(self) -> None:
        return None  # a full resync does not touch the preferences

    def upload(self, item: OutboxItem) -> Upload | None:
        return None


class RemindersHost(Navigator, Protocol):
    """What of the app's state the reminders screen reads and changes besides its own."""

    reminders: ReminderPreferencesState
    user: contract.UserOut | None


class ReminderPreferenceCases:
    def __init__(
        self,
        *,
        state: RemindersHost,
        api: ApiClient,
        repository: ReminderRepository,
        tr: Translator,
        clock: Clock,
        request_sync: Callable[[], None],
        session_expired: Callable[[], Awaitable[None]],
    ) -> None:
        self._state = state
        self._api = api
        self._repo = repository
        self._tr = tr
        self._clock = clock
        self._request_sync = request_sync
        self._session_expired = session_expired

    @property
    def _ui(self) -> ReminderPreferencesState:
        return self._state.reminders

    @property
    def kinds(self) -> Kinds:
        """The kinds chosen (the phone's copy; every kind until anything is known)."""
        return self._ui.kinds

    def _pending(self) -> bool:
        return any(i.state is OutboxState.PENDING for i in self._repo.waiting())

    def reload(self) -> None:
        """The kinds from the phone's store (no redraw); once nothing waits, "kept on this phone" is old news."""
        kept = self._repo.kinds()
        pending = self._pending()
        with self._state.batch():
            self._ui.show(kept if kept is not None else frozenset(contract.ReminderKind), pending=pending)
            if not pending and self._ui.message == self._tr.t("rem_saved_offline"):
                self._ui.show_message(None)

    async def open(self) -> None:
        """Ajustes → Recordatorios: the phone's copy at once, then the server's."""
        with self._state.batch():
            self._state.go_to(Screen.REMINDERS)
            self._ui.dismiss_message()
            self.reload()
        await self.fetch()

    def back(self) -> bool:
        if self._state.screen is not Screen.REMINDERS:
            return False
        self._state.go_to(Screen.SETTINGS)
        return True

    async def fetch(self) -> None:
        """The server's choice (kept on the phone); not while this phone's own choice waits to be sent."""
        ui = self._ui
        if ui.loading or self._pending():
            return
        ui.start_loading()
        try:
            answer = await self._api.reminder_preferences()
        except AuthError:
            ui.stop_loading()
            await self._session_expired()
            return
        except NetworkError:
            ui.stop_loading(message=self._tr.t("rem_offline"))
            return
        except ApiError as exc:
            log.info("reminder preferences not loaded: %s", type(exc).__name__)
            ui.stop_loading()
            return
        if self._pending():  # chosen on this phone meanwhile: that one is newer
            ui.stop_loading()
            return
        kinds = frozenset(answer.kinds)
        self._repo.save(kinds)
        with self._state.batch():
            ui.show(kinds, pending=False)
            ui.stop_loading()

    def choose(self, kind: contract.ReminderKind, on: bool) -> None:
        """A switch: kept on the phone at once, sent by the next sync (at once when online)."""
        kinds = self._ui.kinds | {kind} if on else self._ui.kinds - {kind}
        if kinds == self._ui.kinds:
            return
        self._repo.queue(kinds, label=self._tr.t("rem_title"), now=self._clock())
        with self._state.batch():
            self._ui.show(kinds, pending=True)
            self._ui.show_message(self._tr.t("rem_saved_offline") if self._state.online is False else None)
        self._request_sync()

    def dismiss_message(self) -> None:
        self._ui.dismiss_message()
