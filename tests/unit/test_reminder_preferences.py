"""Ajustes → Recordatorios' use cases (no server, no Flet): the kinds kept in the phone's encrypted store, the
choice queued as one idempotent PUT in the outbox (a newer one replaces one not sent), sent by the sync engine
when the network is back, and the server's choice read when nothing of this phone waits."""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime
from typing import Any

from carnet.core.i18n import Translator
from carnet.core.navigation import Screen
from carnet.data.api import REMINDERS_PATH, NetworkError, SyncAnswer
from carnet.data.outbox import Backoff, Outbox, OutboxState
from carnet.data.records import SyncLedger
from carnet.data.store import OfflineStore
from carnet.data.sync import SyncEngine
from carnet.reminders.preferences import (
    REMINDERS_TYPE,
    ReminderPreferenceCases,
    ReminderRepository,
    ReminderSyncable,
)
from carnet.shell.state import AppState
from carnet_contract import models as contract

K = contract.ReminderKind
NOW = datetime(2026, 12, 4, 18, 0, tzinfo=UTC)


class FakeServer:
    """GET and PUT /me/reminders, and the empty sync page; ``offline`` makes every call fail."""

    def __init__(self) -> None:
        self.kinds: list[str] = [k.value for k in K]
        self.offline = False
        self.puts: list[tuple[dict[str, Any] | None, str]] = []

    def _reach(self) -> None:
        if self.offline:
            raise NetworkError("down")

    async def reminder_preferences(self) -> contract.ReminderPreferences:
        self._reach()
        return contract.ReminderPreferences.model_validate({"kinds": self.kinds})

    async def send_write(self, method: str, path: str, body: dict[str, Any] | None, *, idempotency_key: str) -> Any:
        self._reach()
        assert (method, path) == ("PUT", REMINDERS_PATH)
        self.puts.append((body, idempotency_key))
        self.kinds = list((body or {})["kinds"])
        return {"kinds": self.kinds}

    async def sync(self, cursor: str = "", *, limit: int = 200, etag: str | None = None) -> Any:
        self._reach()
        return SyncAnswer(contract.SyncPage(cursor="c1", has_more=False), None)

    async def upload_photo(self, *args: Any, **kwargs: Any) -> Any:  # pragma: no cover - not used
        raise AssertionError


class World:
    def __init__(self, store: OfflineStore | None = None) -> None:
        self.store = store or OfflineStore(None, os.urandom(32))
        self.state = AppState()
        self.state.enter_family(
            contract.UserOut(id="u1", username="madre.demo", display_name="Madre", role=contract.Role.GUARDIAN)
        )
        self.server = FakeServer()
        self.outbox = Outbox(self.store, "u1")
        self.repo = ReminderRepository(self.store, self.outbox)
        self.engine = SyncEngine(
            self.server,  # type: ignore[arg-type]
            self.outbox,
            SyncLedger(self.store, "u1"),
            clock=lambda: NOW,
            backoff=Backoff(base=0.0, cap=0.0),
        )
        self.engine.register(ReminderSyncable(self.repo))
        self.syncs = 0

        def request_sync() -> None:
            self.syncs += 1

        async def session_expired() -> None:  # pragma: no cover - not reached
            raise AssertionError

        self.cases = ReminderPreferenceCases(
            state=self.state,
            api=self.server,  # type: ignore[arg-type]
            repository=self.repo,
            tr=Translator("es-MX"),
            clock=lambda: NOW,
            request_sync=request_sync,
            session_expired=session_expired,
        )

    def queued(self) -> list[Any]:
        return [i for i in self.outbox.items() if i.type == REMINDERS_TYPE]


#: The three appointment reminders (chemotherapy, consultation, laboratory), chosen apart.
APPOINTMENTS = (K.CHEMOTHERAPY_TOMORROW, K.CONSULTATION_TOMORROW, K.LABORATORY_TOMORROW)
APPOINTMENT_VALUES = [k.value for k in APPOINTMENTS]


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_every_kind_until_a_choice_is_known() -> None:
    w = World()
    w.cases.reload()
    assert w.state.reminders.kinds == frozenset(K) and w.cases.kinds == frozenset(K)
    assert not w.state.reminders.pending


def test_open_reads_the_servers_choice_and_keeps_it_on_the_phone() -> None:
    w = World()
    w.server.kinds = [K.MIXTURE_READY.value]
    run(w.cases.open())
    assert w.state.screen is Screen.REMINDERS
    assert w.state.reminders.kinds == {K.MIXTURE_READY} and not w.state.reminders.loading
    assert w.repo.kinds() == {K.MIXTURE_READY}


def test_offline_the_choice_is_kept_encrypted_and_sent_when_back() -> None:
    w = World()
    w.server.offline = True
    w.state.set_online(False)
    run(w.cases.open())
    assert w.state.reminders.message == "Sin conexión: se muestra la elección guardada en este teléfono."
    w.cases.choose(K.DONOR_TOMORROW, False)
    w.cases.choose(K.REPORT_ANSWERED, False)
    ui = w.state.reminders
    assert ui.kinds == {*APPOINTMENTS, K.MIXTURE_READY} and ui.pending
    assert ui.message is not None and ui.message.startswith("Sin conexión: tu elección se guardó")
    assert w.syncs == 2
    # one PUT waits, with the latest choice (the first one was replaced before it went)
    [item] = w.queued()
    assert (item.method, item.path) == ("PUT", REMINDERS_PATH)
    assert item.body == {"kinds": [*APPOINTMENT_VALUES, "mezcla_lista"]}
    # the phone's copy is in the encrypted store: another object over the same store reads it
    assert ReminderRepository(w.store, Outbox(w.store, "u1")).kinds() == {*APPOINTMENTS, K.MIXTURE_READY}
    report = run(w.engine.run())  # still offline: it waits
    assert report.offline and len(w.queued()) == 1 and w.queued()[0].state is OutboxState.PENDING
    run(w.cases.fetch())  # the phone's own choice waits: the server's (older) one is not read over it
    assert ui.kinds == {*APPOINTMENTS, K.MIXTURE_READY}
    w.server.offline = False
    w.outbox.network_is_back(NOW)
    report = run(w.engine.run())
    assert report.pushed == 1 and w.queued() == []
    assert w.server.kinds == [*APPOINTMENT_VALUES, "mezcla_lista"]
    assert w.server.puts[-1][1] == item.key  # sent with its idempotency key
    w.cases.reload()  # what the session does after a sync
    assert not ui.pending and ui.kinds == {*APPOINTMENTS, K.MIXTURE_READY}
    assert ui.message is None  # "kept on this phone" is old news once it went


def test_a_switch_to_what_is_already_chosen_queues_nothing() -> None:
    w = World()
    w.cases.reload()
    w.cases.choose(K.MIXTURE_READY, True)
    assert w.queued() == [] and w.syncs == 0


def test_an_older_answer_does_not_overwrite_a_newer_choice() -> None:
    w = World()
    w.cases.reload()
    w.cases.choose(K.MIXTURE_READY, False)
    [first] = w.queued()
    w.cases.choose(K.CHEMOTHERAPY_TOMORROW, False)  # replaces the first while it is (say) on its way
    syncable = ReminderSyncable(w.repo)
    syncable.settle(first, {"kinds": [*APPOINTMENT_VALUES, "reporte_respondido", "donacion_manana"]}, w.engine.ledger)
    assert w.repo.kinds() == {K.CONSULTATION_TOMORROW, K.LABORATORY_TOMORROW, K.REPORT_ANSWERED, K.DONOR_TOMORROW}


def test_a_choice_kept_by_an_older_app_reads_cita_manana_as_the_three_appointment_kinds() -> None:
    """A phone updated from an app before the split keeps {"kinds": ["cita_manana", …]} in its store (and maybe
    a PUT with it in the outbox, which the server still takes): it reads as the three appointment kinds."""
    w = World()
    w.store.put("u1", REMINDERS_TYPE, "", {"kinds": ["cita_manana", "mezcla_lista"]})
    assert w.repo.kinds() == {*APPOINTMENTS, K.MIXTURE_READY}
    w.cases.reload()
    assert w.state.reminders.kinds == {*APPOINTMENTS, K.MIXTURE_READY}


def test_a_refused_put_is_replaced_by_the_next_choice() -> None:
    w = World()
    w.cases.reload()
    w.cases.choose(K.MIXTURE_READY, False)
    [item] = w.queued()
    w.outbox.fail(item, "no")
    w.cases.choose(K.MIXTURE_READY, True)
    [again] = w.queued()
    assert again.state is OutboxState.PENDING and again.id != item.id
    assert again.body == {"kinds": [k.value for k in K]}


def test_back_goes_to_settings() -> None:
    w = World()
    run(w.cases.open())
    assert w.cases.back() and w.state.screen is Screen.SETTINGS
    assert not w.cases.back()
