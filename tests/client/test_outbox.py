"""The outbox: order and state survive a reopened store; bodies are sealed; backoff stays in its bounds."""

from __future__ import annotations

import os
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from carnet.data.outbox import Backoff, Outbox, OutboxState, WriteOp
from carnet.core.ids import new_local_id
from carnet.data.store import OfflineStore

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def _add(outbox: Outbox, label: str, *, op: WriteOp = WriteOp.CREATE, record_id: str | None = None) -> str:
    return outbox.add(type="appointment", op=op, method="POST", path="/api/v1/patients/p-mateo/appointments",
                      body={"title": label, "notes": "Ayuno de 8 horas"}, record_id=record_id or new_local_id(),
                      patient_id="p-mateo", label=label, now=T0)


def test_items_keep_their_order_and_state_across_a_reopen(tmp_path: Path) -> None:
    key = os.urandom(32)
    store = OfflineStore(tmp_path / "db.sqlite3", key)
    outbox = Outbox(store, "u1")
    ids = [_add(outbox, f"cita {n}") for n in range(5)]
    outbox.complete(ids[1])
    first = outbox.get(ids[0])
    assert first is not None
    outbox.defer(first, until=T0 + timedelta(seconds=30), error=None, error_kind="network")
    third = outbox.get(ids[2])
    assert third is not None
    outbox.fail(third, "El horario ya pasó.")
    store.close()

    reopened = Outbox(OfflineStore(tmp_path / "db.sqlite3", key), "u1")
    items = reopened.items()
    assert [i.id for i in items] == [ids[0], ids[2], ids[3], ids[4]]
    assert [i.label for i in items] == ["cita 0", "cita 2", "cita 3", "cita 4"]
    assert items[0].attempts == 1 and items[0].next_attempt_at == T0 + timedelta(seconds=30)
    assert items[0].error_kind == "network" and not items[0].due(T0)
    assert items[1].state is OutboxState.FAILED and items[1].error == "El horario ya pasó."
    assert reopened.pending_count() == 3
    assert Outbox(reopened._store, "someone-else").items() == []  # per user
    # A new item after a removal still sorts last (the sequence never reuses numbers).
    late = _add(reopened, "cita 5")
    assert reopened.items()[-1].id == late


def test_bodies_and_reasons_are_sealed_in_the_file(tmp_path: Path) -> None:
    store = OfflineStore(tmp_path / "db.sqlite3", os.urandom(32))
    outbox = Outbox(store, "u1")
    item_id = _add(outbox, "Resonancia magnética")
    item = outbox.get(item_id)
    assert item is not None
    outbox.fail(item, "Motivo confidencial del servidor")
    store.close()
    raw = (tmp_path / "db.sqlite3").read_bytes()
    for secret in (b"Resonancia", b"Ayuno", b"confidencial", b"p-mateo"):
        assert secret not in raw


def test_retry_and_discard_a_failed_item(tmp_path: Path) -> None:
    outbox = Outbox(OfflineStore(tmp_path / "db.sqlite3", os.urandom(32)), "u1")
    record = new_local_id()
    create = _add(outbox, "Consulta", record_id=record)
    edit = outbox.add(type="appointment", op=WriteOp.UPDATE, method="PATCH", path="/api/v1/appointments/{record}",
                      body={"title": "Consulta 2"}, record_id=record, patient_id="p-mateo", label="Consulta 2",
                      now=T0)
    other = _add(outbox, "Laboratorio")
    assert outbox.retry(create) is False and outbox.discard(create) == []  # only failed items
    item = outbox.get(create)
    assert item is not None
    outbox.fail(item, "No permitido")
    assert outbox.retry(create) is True
    again = outbox.get(create)
    assert again is not None and again.state is OutboxState.PENDING and again.error is None and again.attempts == 0
    outbox.fail(again, "No permitido")
    # Discarding a creation drops that record's later edits too, and nothing else.
    assert outbox.discard(create) == [create, edit]
    assert [i.id for i in outbox.items()] == [other]


def test_network_is_back_frees_only_items_waiting_for_the_network(tmp_path: Path) -> None:
    outbox = Outbox(OfflineStore(tmp_path / "db.sqlite3", os.urandom(32)), "u1")
    a, b = _add(outbox, "a"), _add(outbox, "b")
    later = T0 + timedelta(minutes=5)
    outbox.defer(outbox.get(a), until=later, error=None, error_kind="network")  # type: ignore[arg-type]
    outbox.defer(outbox.get(b), until=later, error="500", error_kind="server")  # type: ignore[arg-type]
    assert outbox.network_is_back(T0) == 1
    assert outbox.get(a).due(T0)  # type: ignore[union-attr]
    assert not outbox.get(b).due(T0)  # type: ignore[union-attr]
    assert outbox.next_attempt_at() == later


@pytest.mark.parametrize("attempt", range(1, 12))
def test_backoff_grows_exponentially_with_jitter_inside_its_bounds(attempt: int) -> None:
    backoff = Backoff(base=2.0, cap=300.0, rng=random.Random(attempt))
    ceiling = min(300.0, 2.0 * 2 ** (attempt - 1))
    delays = [backoff.delay(attempt) for _ in range(200)]
    assert all(ceiling / 2 <= d <= ceiling for d in delays)
    assert len({round(d, 6) for d in delays}) > 100  # jittered, not a constant


def test_backoff_extremes_and_retry_after_floor() -> None:
    class Fixed(random.Random):
        def __init__(self, value: float) -> None:
            super().__init__()
            self.value = value

        def uniform(self, a: float, b: float) -> float:
            return a + (b - a) * self.value

    assert Backoff(base=2.0, rng=Fixed(0.0)).delay(3) == 4.0  # ceiling 8 → lower bound 4
    assert Backoff(base=2.0, rng=Fixed(1.0)).delay(3) == 8.0
    assert Backoff(base=2.0, rng=Fixed(1.0)).delay(30) == 300.0  # capped
    assert Backoff(base=2.0, rng=Fixed(0.0)).delay(1, retry_after=120.0) == 120.0  # the server's floor wins
    assert Backoff(base=2.0, rng=Fixed(1.0)).delay(8, retry_after=1.0) == 256.0
