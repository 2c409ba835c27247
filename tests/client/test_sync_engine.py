"""The sync engine against the real server in process, through the real ApiClient and an encrypted store."""

from __future__ import annotations

import os
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from carnet.agenda.repository import AgendaRepository, merge
from carnet.agenda.syncable import AppointmentSyncable
from carnet.core.ids import new_local_id
from carnet.data.api import ApiClient
from carnet.data.outbox import Backoff, Outbox, OutboxState, WriteOp
from carnet.data.records import SyncLedger
from carnet.data.store import OfflineStore
from carnet.data.sync import SyncEngine
from carnet_server.agenda.service import appointment_out
from carnet_server.agenda.tables import Appointment
from carnet_server.i18n import t as server_text
from carnet_server.patients.tables import GuardianPatient
from carnet_server.sync.service import decode_cursor
from tests.support.inprocess_server import BASE, InProcessServer, error_response

pytestmark = pytest.mark.anyio
APPOINTMENTS = "/api/v1/patients/*/appointments"
USER = "id-madre.demo"
START = datetime(2026, 12, 1, 16, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


class Rig:
    def __init__(self, tmp_path: Path, server: InProcessServer, *, key: bytes | None = None, limit: int = 200) -> None:
        self.key = key or os.urandom(32)
        self.store = OfflineStore(tmp_path / "db.sqlite3", self.key)
        self.server = server
        self.net = server.transport
        self.mateo = server.patient_id("Mateo Hernández")
        #: The demo's own family appointments (this test's are the others).
        self.demo_family = {a.id for a in self._family()}
        self.api = ApiClient(BASE, transport=self.net, backoff=lambda attempt: 0.0)
        self.outbox = Outbox(self.store, USER)
        self.records = AgendaRepository(self.store, USER)
        self.clock = Clock()
        self.ledger = SyncLedger(self.store, USER)
        self.engine = SyncEngine(self.api, self.outbox, self.ledger, clock=self.clock, page_limit=limit,
                                 syncables=[AppointmentSyncable(self.records)],
                                 backoff=Backoff(base=2.0, cap=300.0, rng=random.Random(7)),
                                 describe=lambda exc: getattr(exc, "message", "") or type(exc).__name__)

    def create(self, title: str, *, patient: str | None = None, kind: str = "consulta",
               record_id: str | None = None) -> str:
        patient = patient or self.mateo
        body = {"kind": kind, "title": title, "starts_at": START.isoformat(),
                "ends_at": (START + timedelta(hours=1)).isoformat(), "place": "Consultorio 3", "notes": ""}
        return self.outbox.add(type="appointment", op=WriteOp.CREATE, method="POST",
                               path=f"/api/v1/patients/{patient}/appointments", body=body,
                               record_id=record_id or new_local_id(), patient_id=patient, label=title,
                               now=self.clock())

    def edit(self, record_id: str, **fields: Any) -> str:
        return self.outbox.add(type="appointment", op=WriteOp.UPDATE, method="PATCH",
                               path="/api/v1/appointments/{record}", body=fields, record_id=record_id,
                               patient_id=self.mateo, label=str(fields.get("title", "")), now=self.clock())

    def delete(self, record_id: str) -> str:
        return self.outbox.add(type="appointment", op=WriteOp.DELETE, method="DELETE",
                               path="/api/v1/appointments/{record}", body=None, record_id=record_id,
                               patient_id=self.mateo, label="", now=self.clock())

    def _family(self) -> list[Appointment]:
        with self.server.db() as db:
            return list(db.scalars(select(Appointment).where(Appointment.source == "familia")))

    def created(self, title: str) -> int:
        """This test's family appointments called ``title`` on the server."""
        return sum(1 for a in self._family() if a.id not in self.demo_family and a.title == title)

    def server_view(self) -> dict[str, dict[str, Any]]:
        """The appointments of madre.demo's children on the server, as the sync sends them."""
        children = set(self.server.children("madre.demo").values())
        with self.server.db() as db:
            rows = db.scalars(select(Appointment).where(Appointment.patient_id.in_(children)))
            return {a.id: appointment_out(a).model_dump(mode="json") for a in rows}

    def syncs(self) -> list[httpx.Request]:
        return [r for r in self.net.requests if r.url.path == "/api/v1/sync"]

    def local_view(self) -> dict[str, dict[str, Any]]:
        return {k: v.model_dump(mode="json") for k, v in self.records.appointments().items()}


@pytest.fixture
async def rig(tmp_path: Path, server: InProcessServer):
    rig = Rig(tmp_path, server)
    await rig.api.login("madre.demo", "carnet-demo")
    yield rig
    await rig.api.aclose()
    rig.store.close()


def _titles(rig: Rig) -> list[str]:
    """This test's family appointments on the server (the demo's aside)."""
    return sorted(str(a["title"]) for i, a in rig.server_view().items()
                  if a["source"] == "familia" and i not in rig.demo_family)


def _everything(server: InProcessServer, username: str = "madre.demo") -> list[dict[str, Any]]:
    """Every change a sync from the start gives ``username`` (asked of the server directly)."""
    changes: list[dict[str, Any]] = []
    cursor = ""
    for _ in range(100):
        page = server.ok(username, "GET", "/api/v1/sync", params={"cursor": cursor, "limit": 1000})
        changes += page["changes"]
        cursor = page["cursor"]
        if not page["has_more"]:
            return changes
    raise AssertionError("the sync did not end")


def _appointments(changes: list[dict[str, Any]]) -> int:
    return sum(1 for c in changes if c["type"] == "appointment")


async def test_push_in_order_then_pull_leaves_the_phone_identical_to_the_server(rig: Rig) -> None:
    record = new_local_id()
    rig.create("Consulta de nutrición", record_id=record)
    rig.edit(record, title="Consulta de nutrición (cambio)")
    rig.create("Estudio de audiometría", kind="estudio")
    gone = new_local_id()
    rig.create("Cita que se borra", record_id=gone)
    rig.delete(gone)
    report = await rig.engine.run()
    assert report.ok and report.pushed == 5 and rig.outbox.items() == []
    writes = [m for m, p in rig.net.calls if m in ("POST", "PATCH", "DELETE") and "/auth/" not in p]
    assert writes == ["POST", "PATCH", "POST", "POST", "DELETE"]  # first in, first out
    assert _titles(rig) == ["Consulta de nutrición (cambio)", "Estudio de audiometría"]
    assert rig.local_view().keys() == rig.server_view().keys()
    local = rig.local_view()
    for key, server in rig.server_view().items():
        assert local[key]["title"] == server["title"] and local[key]["revision"] == server["revision"]
    assert rig.ledger.position().last_success_at == rig.clock.now


async def test_network_error_stops_the_push_and_keeps_the_order(rig: Rig) -> None:
    first, second = rig.create("Primera"), rig.create("Segunda")
    rig.net.fail("POST", APPOINTMENTS, httpx.ConnectError("no route"))
    report = await rig.engine.push()
    assert report.offline and report.pushed == 0
    items = rig.outbox.items()
    assert [i.id for i in items] == [first, second]
    assert items[0].attempts == 1 and items[0].error_kind == "network" and items[1].attempts == 0
    assert 1.0 <= (items[0].next_attempt_at - rig.clock.now).total_seconds() <= 2.0  # type: ignore[operator]
    # Not due yet: nothing is sent, and the second item does not overtake the first.
    calls = len(rig.net.calls)
    report = await rig.engine.push()
    assert len(rig.net.calls) == calls and report.retry_at == items[0].next_attempt_at
    rig.clock.now += timedelta(seconds=3)
    report = await rig.engine.push()
    assert report.pushed == 2 and _titles(rig) == ["Primera", "Segunda"]


async def test_5xx_backs_off_exponentially_with_jitter_and_honours_retry_after(rig: Rig) -> None:
    rig.create("Laboratorio")
    waits = []
    for _ in range(5):
        rig.net.fail("POST", APPOINTMENTS, error_response(503, "unavailable", "En mantenimiento."))
        await rig.engine.push()
        [item] = rig.outbox.items()
        waits.append((item.next_attempt_at - rig.clock.now).total_seconds())  # type: ignore[operator]
        rig.clock.now = item.next_attempt_at  # type: ignore[assignment]
    for attempt, wait in enumerate(waits, start=1):
        ceiling = 2.0 * 2 ** (attempt - 1)
        assert ceiling / 2 <= wait <= ceiling, (attempt, wait)
    rig.net.fail("POST", APPOINTMENTS, error_response(429, "too_many_requests", "Espera.", {"Retry-After": "120"}))
    await rig.engine.push()
    [item] = rig.outbox.items()
    assert (item.next_attempt_at - rig.clock.now).total_seconds() >= 120  # type: ignore[operator]
    assert item.state is OutboxState.PENDING and item.attempts == 6
    rig.net.fail("POST", APPOINTMENTS, error_response(409, "idempotency_in_progress", "En curso."))
    rig.clock.now = item.next_attempt_at  # type: ignore[assignment]
    await rig.engine.push()
    [item] = rig.outbox.items()
    assert item.state is OutboxState.PENDING and item.attempts == 7  # 409 in progress: retried, not failed
    rig.clock.now = item.next_attempt_at  # type: ignore[assignment]
    assert rig.created("Laboratorio") == 0
    assert (await rig.engine.push()).pushed == 1 and rig.created("Laboratorio") == 1


async def test_4xx_marks_the_item_failed_with_the_servers_reason_then_retry_or_discard(rig: Rig) -> None:
    bad = rig.create("Quimio puesta por la familia", kind="quimioterapia")
    good = rig.create("Consulta")
    report = await rig.engine.run()
    assert report.rejected == 1 and report.pushed == 1  # a rejection does not block the others
    [failed] = rig.outbox.items()
    assert failed.id == bad and failed.state is OutboxState.FAILED
    assert failed.error == server_text("kind_not_allowed", "es")
    assert rig.created("Quimio puesta por la familia") == 0 and rig.created("Consulta") == 1
    # Still shown, marked failed, until the person decides.
    shown = merge(rig.records.appointments(), rig.outbox.items(), rig.ledger.server_id)
    assert [i.mark.value for i in shown if i.id == failed.record_id] == ["failed"]
    # Failed items are not retried behind the person's back.
    calls = len(rig.net.calls)
    await rig.engine.push()
    assert len(rig.net.calls) == calls
    assert rig.outbox.retry(bad)
    await rig.engine.push()
    [again] = rig.outbox.items()
    assert again.state is OutboxState.FAILED and again.attempts == 1
    assert rig.outbox.discard(bad) == [bad] and rig.outbox.items() == []
    assert good not in [i.id for i in rig.outbox.items()]


async def test_a_lost_answer_is_replayed_with_the_same_key_and_creates_nothing_twice(rig: Rig) -> None:
    rig.create("Consulta")
    rig.net.lose_answer("POST", APPOINTMENTS, outcome=httpx.ReadTimeout("answer lost"))
    await rig.engine.push()
    assert rig.created("Consulta") == 1 and len(rig.outbox.items()) == 1  # created, but the phone doesn't know
    rig.clock.now += timedelta(seconds=5)
    report = await rig.engine.run()
    assert report.pushed == 1 and rig.created("Consulta") == 1 and rig.outbox.items() == []
    assert _titles(rig) == ["Consulta"]
    assert sum(1 for a in rig.local_view().values() if a["title"] == "Consulta") == 1


async def test_no_pull_while_a_creation_is_in_doubt_so_nothing_shows_twice(rig: Rig) -> None:
    rig.create("Consulta")

    def shown() -> int:  # what the agenda draws: synced records plus pending creations
        synced = sum(1 for a in rig.local_view().values() if a["title"] == "Consulta")
        return synced + sum(1 for i in rig.outbox.items() if i.op is WriteOp.CREATE)

    rig.net.lose_answer("POST", APPOINTMENTS, outcome=httpx.ReadTimeout("answer lost"))
    await rig.engine.run()  # the server created it; the pull that would bring it twice waits
    assert rig.net.count(APPOINTMENTS, "POST") == 1 and rig.created("Consulta") == 1
    assert shown() == 1
    rig.clock.now += timedelta(seconds=1)  # before its backoff ends: run() tries it at once
    report = await rig.engine.run()
    assert report.pushed == 1 and rig.outbox.items() == [] and rig.created("Consulta") == 1
    assert shown() == 1
    assert report.pulled > 0, "pulled once the creation's fate was known"


async def test_503_database_unavailable_retries_with_the_same_key_after_retry_after(rig: Rig) -> None:
    """The database dropped the connection while committing: the write is in, the answer is a 503."""
    rig.create("Consulta")

    def keys() -> list[str]:
        return [r.headers["Idempotency-Key"] for r in rig.net.requests
                if r.method == "POST" and r.url.path.endswith("/appointments")]

    def shown() -> int:
        synced = sum(1 for a in rig.local_view().values() if a["title"] == "Consulta")
        return synced + sum(1 for i in rig.outbox.items() if i.op is WriteOp.CREATE)

    rig.net.lose_answer("POST", APPOINTMENTS, outcome=error_response(
        503, "database_unavailable", "El servicio no está disponible por un momento.", {"Retry-After": "30"}))
    pulls = len(rig.syncs())
    report = await rig.engine.run()
    [item] = rig.outbox.items()
    assert item.state is OutboxState.PENDING and item.attempts == 1  # retried later, never failed
    assert not report.offline and rig.created("Consulta") == 1
    # Retry-After is the floor (the backoff alone would be 1–2 s), and no pull while its fate is unknown.
    assert (item.next_attempt_at - rig.clock.now).total_seconds() >= 30  # type: ignore[operator]
    assert len(rig.syncs()) == pulls and shown() == 1
    rig.clock.now += timedelta(seconds=10)
    await rig.engine.run()
    assert len(keys()) == 1 and len(rig.syncs()) == pulls  # not due yet: nothing sent
    rig.clock.now = item.next_attempt_at  # type: ignore[assignment]
    report = await rig.engine.run()
    assert report.pushed == 1 and rig.outbox.items() == []
    assert keys() == [item.key, item.key]  # the same Idempotency-Key: the server replayed its stored answer
    assert rig.created("Consulta") == 1 and shown() == 1 and report.pulled > 0


async def test_cursor_moves_only_in_the_same_transaction_as_the_data(rig: Rig, monkeypatch) -> None:
    everything = _everything(rig.server)
    def broken(position):  # type: ignore[no-untyped-def]
        raise RuntimeError("disk full")

    monkeypatch.setattr(rig.ledger, "save_position", broken)
    with pytest.raises(RuntimeError):
        await rig.engine.pull()
    monkeypatch.undo()
    assert rig.records.appointments() == {}  # the page's data rolled back with the cursor
    assert rig.ledger.position().cursor == ""
    report = await rig.engine.pull()
    assert report.pulled == len(everything) and len(rig.records.appointments()) == _appointments(everything)
    assert rig.records.appointments().keys() == rig.server_view().keys()


async def test_pages_304_and_etag(tmp_path: Path, server: InProcessServer) -> None:
    everything = _everything(server)
    limit = -(-len(everything) // 3)  # three pages
    rig = Rig(tmp_path, server, limit=limit)
    await rig.api.login("madre.demo", "carnet-demo")
    report = await rig.engine.pull()
    assert report.pulled == len(everything) and len(rig.records.appointments()) == _appointments(everything)

    def pulls() -> list[dict[str, str | None]]:
        return [{"cursor": r.url.params.get("cursor", ""), "etag": r.headers.get("If-None-Match")}
                for r in rig.syncs()]

    assert len(pulls()) == 3 and pulls()[0] == {"cursor": "", "etag": None}
    assert all(p["etag"] is None for p in pulls())  # no ETag sent with a half-way cursor
    # Caught up: the ETag is sent with the cursor it belongs to; from then on the server answers 304
    # (its ETag may differ between the last full page and the first empty one).
    second = await rig.engine.pull()
    assert pulls()[-1]["etag"] is not None and second.pulled == 0
    third = await rig.engine.pull()
    assert pulls()[-1]["etag"] is not None and third.not_modified and third.pulled == 0
    assert len(rig.records.appointments()) == _appointments(everything)
    server.ok("madre.demo", "POST", f"/api/v1/patients/{server.patient_id('Valentina Hernández')}/appointments",
              json={"kind": "consulta", "title": "Nueva consulta", "starts_at": START.isoformat(),
                    "ends_at": (START + timedelta(hours=1)).isoformat(), "place": "", "notes": ""})
    fourth = await rig.engine.pull()
    assert not fourth.not_modified and fourth.pulled == 1
    assert len(rig.records.appointments()) == _appointments(everything) + 1
    await rig.api.aclose()


async def test_reset_drops_every_synced_record_first(rig: Rig) -> None:
    await rig.engine.pull()
    stale = next(iter(rig.records.appointments().values()))
    rig.records.put_appointment(stale.model_copy(update={"id": "a-stale", "title": "Ya no existe"}))
    # Another child is linked to the account: the server starts the sync over (reset).
    with rig.server.db() as db:
        db.add(GuardianPatient(user_id=rig.server.user_id("madre.demo"), patient_id=rig.server.patient_id("Camila Torres")))
        db.commit()
    report = await rig.engine.pull()
    assert report.ok and rig.syncs()[-1].url.params.get("cursor")  # asked from where it was…
    assert "a-stale" not in rig.records.appointments()
    assert rig.records.appointments().keys() == rig.server_view().keys()


async def test_a_refused_cursor_restarts_from_the_beginning(rig: Rig) -> None:
    await rig.engine.pull()
    rig.records.put_appointment(next(iter(rig.records.appointments().values())).model_copy(
        update={"id": "a-stale"}))
    position = rig.ledger.position()
    theirs = rig.server.ok("padre.demo", "GET", "/api/v1/sync", params={"limit": 1})["cursor"]
    rig.ledger.save_position(position.__class__(cursor=theirs))  # another user's cursor
    report = await rig.engine.pull()
    assert report.ok and report.restarted
    assert rig.syncs()[-2].url.params.get("cursor") == theirs
    assert rig.syncs()[-1].url.params.get("cursor", "") == ""
    assert rig.records.appointments().keys() == rig.server_view().keys()
    madre = rig.server.user_id("madre.demo")  # the cursor now is one the server takes as madre.demo's
    assert decode_cursor(rig.server.ctx, rig.ledger.position().cursor, user_id=madre).user_id == madre


async def test_edit_of_a_record_created_offline_waits_for_its_creation(rig: Rig) -> None:
    record = new_local_id()
    rig.create("Consulta", record_id=record)
    rig.edit(record, title="Consulta (otra hora)")
    rig.net.fail("POST", APPOINTMENTS, error_response(422, "validation_error", "Fecha no válida."))
    await rig.engine.push()
    items = rig.outbox.items()
    assert [i.state for i in items] == [OutboxState.FAILED, OutboxState.PENDING]  # the edit waits
    assert rig.outbox.retry(items[0].id)
    assert (await rig.engine.push()).pushed == 2
    assert _titles(rig) == ["Consulta (otra hora)"]


async def test_deleting_what_the_server_already_deleted_is_done(rig: Rig) -> None:
    await rig.engine.pull()
    created = rig.server.ok("madre.demo", "POST", f"/api/v1/patients/{rig.mateo}/appointments", json={
        "kind": "otro", "title": "Recordatorio", "starts_at": START.isoformat(),
        "ends_at": (START + timedelta(hours=1)).isoformat(), "place": "", "notes": ""})
    await rig.engine.pull()
    assert str(created["id"]) in rig.records.appointments()
    rig.delete(str(created["id"]))
    rig.server.ok("madre.demo", "DELETE", f"/api/v1/appointments/{created['id']}")  # from another phone
    report = await rig.engine.run()
    assert report.pushed == 1 and rig.outbox.items() == []
    assert str(created["id"]) not in rig.records.appointments()
