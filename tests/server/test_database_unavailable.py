"""The database going away: 503 ``database_unavailable`` with Retry-After, a pool that heals by itself, and
writes whose commit got no answer done exactly once when the client retries with the same key.

The outage is made at the driver's boundary (a connection attempt refused, a commit whose answer is lost);
tests/integration/test_pg_restart.py restarts a real PostgreSQL under load.
"""

from __future__ import annotations

import dataclasses
import logging
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import create_engine, event, func, select, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from carnet_server.agenda.tables import Appointment
from carnet_server.blood_bank.tables import Booking, Slot
from carnet_server.context import Context
from carnet_server.db import is_database_unavailable
from carnet_server.errors import DATABASE_RETRY_AFTER_SECONDS
from carnet_server.idempotency import service as idem_service
from carnet_server.idempotency.deps import Idempotency
from carnet_server.idempotency.tables import IdempotencyKey
from carnet_server.incidents.tables import Incident
from carnet_server.mixing.delivery import DeliveryWorker
from carnet_server.mixing.tables import MixingOrder
from tests.server import incident_support
from tests.server.blood_bank_support import bank_id, body as booking_body, open_day
from tests.server.conftest import assert_error
from tests.server.mixing_support import confirm_url, cycle_id

Auth = Callable[[str], dict[str, str]]
EN = {"Accept-Language": "en"}
APPOINTMENT = {"kind": "consulta", "title": "Consulta de nutrición (corte)", "starts_at": "2027-03-01T10:00:00-06:00",
               "ends_at": "2027-03-01T10:30:00-06:00", "place": "Consulta externa"}


def dropped(ctx: Context, statement: str = "COMMIT") -> sa_exc.OperationalError:
    """What SQLAlchemy raises when the server closes the connection mid-statement."""
    orig = ctx.engine.dialect.loaded_dbapi.OperationalError("server closed the connection unexpectedly")
    return sa_exc.OperationalError(statement, None, orig, connection_invalidated=True)


@contextmanager
def database_down(ctx: Context) -> Iterator[list[float]]:
    """Every connection attempt is refused, as while PostgreSQL restarts; the pool's connections are gone.
    Yields the times of the refused attempts."""
    refused: list[float] = []

    def refuse(*_args: Any) -> None:
        refused.append(time.monotonic())
        raise ctx.engine.dialect.loaded_dbapi.OperationalError("connection refused: the database system is "
                                                               "starting up")

    ctx.engine.dispose()
    event.listen(ctx.engine, "do_connect", refuse)
    try:
        yield refused
    finally:
        event.remove(ctx.engine, "do_connect", refuse)


def poll(condition: Callable[[], bool], seconds: float = 15.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)  # poll interval
    return True


def assert_unavailable(response: Any, *, lang: str = "es") -> None:
    error = assert_error(response, 503, "database_unavailable")
    assert response.headers["Retry-After"] == str(DATABASE_RETRY_AFTER_SECONDS)
    expected = "no está disponible por un momento" if lang == "es" else "unavailable for a moment"
    assert expected in error["message"], error


def count(ctx: Context, model: Any, *where: Any) -> int:
    with ctx.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def booked(ctx: Context) -> int:
    """Places held in every blood-bank slot."""
    with ctx.sessions() as session:
        return int(session.scalar(select(func.coalesce(func.sum(Slot.booked), 0))) or 0)


def test_classifier_tells_unavailable_from_bugs(ctx: Context) -> None:
    dbapi = ctx.engine.dialect.loaded_dbapi
    assert is_database_unavailable(dropped(ctx))
    assert is_database_unavailable(sa_exc.OperationalError("SELECT 1", None, dbapi.OperationalError("refused")))
    assert is_database_unavailable(sa_exc.TimeoutError("QueuePool limit reached"))
    assert not is_database_unavailable(sa_exc.IntegrityError("INSERT", None, dbapi.IntegrityError("duplicate")))
    assert not is_database_unavailable(sa_exc.ProgrammingError("SELEC", None, dbapi.ProgrammingError("syntax")))
    assert not is_database_unavailable(RuntimeError("other"))


def test_database_down_is_503_with_retry_after_then_recovers(client: TestClient, ctx: Context, auth: Auth,
                                                              patient_ids: dict[str, str],
                                                              caplog: pytest.LogCaptureFixture) -> None:
    madre = auth("madre.demo")
    key = str(uuid.uuid4())
    report = incident_support.body(patient_ids["Mateo Hernández"], description="Sin vincristina: corte de luz.")
    with database_down(ctx), caplog.at_level(logging.INFO):
        assert_unavailable(client.get("/api/v1/me", headers=madre))
        assert_unavailable(client.get("/api/v1/me", headers={**madre, **EN}), lang="en")
        assert_unavailable(client.post("/api/v1/incidents", json=report, headers={**madre, "Idempotency-Key": key}))
        assert_unavailable(client.post("/api/v1/auth/login", json={"username": "madre.demo",
                                                                    "password": "carnet-demo"}))
        assert_unavailable(client.get("/api/v1/sync", headers=madre))
        assert client.get("/healthz").status_code == 200  # the process itself is fine
    lines = [r for r in caplog.records if r.name == "carnet_server.errors"]
    assert lines and all(r.levelno == logging.WARNING and "database unavailable" in r.getMessage() for r in lines)
    assert all(r.exc_info is None for r in caplog.records), "no traceback in the log"
    assert "madre.demo" not in caplog.text and "carnet-demo" not in caplog.text and "corte de luz" not in caplog.text
    assert "starting up" not in caplog.text  # the driver's message is not logged, only its class
    # Back: the same requests succeed, the refused write is done once with the same key.
    assert client.get("/api/v1/me", headers=madre).status_code == 200
    created = client.post("/api/v1/incidents", json=report, headers={**madre, "Idempotency-Key": key})
    assert created.status_code == 201 and "Idempotent-Replayed" not in created.headers
    assert count(ctx, Incident, Incident.description == report["description"]) == 1


def test_pool_exhausted_is_503_not_500(client: TestClient, ctx: Context, auth: Auth,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    madre = auth("madre.demo")

    def exhausted() -> None:
        raise sa_exc.TimeoutError("QueuePool limit of size 5 overflow 10 reached, connection timed out")

    with monkeypatch.context() as patch:
        patch.setattr(ctx.engine.pool, "connect", exhausted)
        assert_unavailable(client.get("/api/v1/me", headers=madre))
    assert client.get("/api/v1/me", headers=madre).status_code == 200


@pytest.mark.parametrize("backend", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True)
def test_pool_replaces_connections_postgres_killed(client: TestClient, ctx: Context, auth: Auth) -> None:
    madre = auth("madre.demo")
    # Two connections of this app's pool, by their server pid (never another test's connections).
    with ctx.engine.connect() as one, ctx.engine.connect() as two:
        pids = [c.execute(text("SELECT pg_backend_pid()")).scalar_one() for c in (one, two)]
    admin = create_engine(str(ctx.engine.url.render_as_string(hide_password=False)), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            for pid in pids:
                assert conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar_one()
    finally:
        admin.dispose()
    # The pool pings before it hands a connection out and replaces the dead ones: no error at all.
    for _ in range(4):
        assert client.get("/api/v1/me", headers=madre).status_code == 200


# ---- a commit whose answer is lost -------------------------------------------------------------------


def _booking(client: TestClient, ctx: Context, headers: dict[str, str], patient: str) -> tuple[str, dict[str, Any]]:
    bank = bank_id(client, headers)
    _day, slots = open_day(client, ctx, headers, bank)
    return "/api/v1/blood-bank/bookings", booking_body(slots[0]["id"], patient)


WRITES: dict[str, Callable[[TestClient, Context, dict[str, str], str], tuple[str, dict[str, Any]]]] = {
    "incident": lambda client, ctx, h, p: ("/api/v1/incidents", incident_support.body(p)),
    "booking": _booking,
    "appointment": lambda client, ctx, h, p: (f"/api/v1/patients/{p}/appointments", APPOINTMENT),
}
MODELS = {"incident": Incident, "booking": Booking, "appointment": Appointment}


def lose_commit_once(monkeypatch: pytest.MonkeyPatch, ctx: Context, *, committed: bool) -> list[str]:
    """The next write's COMMIT goes out and the connection drops: it happened (``committed``) or not, and the
    server cannot tell which. Returns a list that records the call."""
    original = Idempotency.respond
    calls: list[str] = []

    def respond(self: Idempotency, session: Session, payload: Any, *, status: int = 201) -> Any:
        if calls:
            return original(self, session, payload, status=status)
        calls.append("lost")
        if committed:
            original(self, session, payload, status=status)  # the write and its stored answer are in...
            raise dropped(ctx)  # ...but the answer to COMMIT never arrives

        def refuse() -> None:
            raise dropped(ctx)

        session.commit = refuse  # type: ignore[method-assign]  # COMMIT never reaches the database
        return original(self, session, payload, status=status)

    monkeypatch.setattr(Idempotency, "respond", respond)
    return calls


@pytest.mark.parametrize("committed", [True, False], ids=["committed", "not-committed"])
@pytest.mark.parametrize("kind", list(WRITES))
def test_lost_commit_then_retry_writes_once(client: TestClient, ctx: Context, auth: Auth,
                                            patient_ids: dict[str, str], monkeypatch: pytest.MonkeyPatch,
                                            kind: str, committed: bool) -> None:
    madre = auth("madre.demo")
    url, payload = WRITES[kind](client, ctx, madre, patient_ids["Mateo Hernández"])
    model = MODELS[kind]
    before = count(ctx, model)
    places = booked(ctx)
    calls = lose_commit_once(monkeypatch, ctx, committed=committed)
    headers = {**madre, "Idempotency-Key": str(uuid.uuid4())}
    assert_unavailable(client.post(url, json=payload, headers=headers))
    assert calls == ["lost"]
    assert count(ctx, model) == before + (1 if committed else 0)
    retry = client.post(url, json=payload, headers=headers)
    assert retry.status_code == 201, retry.text
    # Committed: the stored answer is replayed; not committed: the key was given back and the write runs now.
    assert retry.headers.get("Idempotent-Replayed") == ("true" if committed else None)
    assert count(ctx, model) == before + 1
    with ctx.sessions() as session:
        assert session.get(model, retry.json()["id"]) is not None
    assert booked(ctx) == places + (1 if kind == "booking" else 0)  # a place is taken once
    again = client.post(url, json=payload, headers=headers)
    assert again.headers["Idempotent-Replayed"] == "true" and again.json()["id"] == retry.json()["id"]
    assert count(ctx, model) == before + 1


def _released(app: FastAPI) -> bool:
    pending = app.state.idempotency_pending
    return poll(lambda: len(pending) == 0)


def test_claim_whose_commit_is_lost_is_given_back(app: FastAPI, client: TestClient, ctx: Context, auth: Auth,
                                                  patient_ids: dict[str, str],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    madre = auth("madre.demo")
    payload = incident_support.body(patient_ids["Mateo Hernández"], description="Falta de insumo: el reclamo.")
    original = idem_service._try_insert
    lost: list[bool] = []

    def try_insert(*args: Any, **kwargs: Any) -> bool:
        won = original(*args, **kwargs)
        if not lost:
            lost.append(won)
            raise dropped(ctx)  # the claim is in the table, its client does not know
        return won

    monkeypatch.setattr(idem_service, "_try_insert", try_insert)
    headers = {**madre, "Idempotency-Key": str(uuid.uuid4())}
    assert_unavailable(client.post("/api/v1/incidents", json=payload, headers=headers))
    assert lost == [True]
    # The retry does not wait for the claim to go stale (60 s): it is given back in the background.
    started = time.monotonic()
    retry = client.post("/api/v1/incidents", json=payload, headers=headers)
    assert retry.status_code == 201 and "Idempotent-Replayed" not in retry.headers, retry.text
    assert time.monotonic() - started < idem_service.WAIT_SECONDS
    assert count(ctx, Incident, Incident.description == payload["description"]) == 1
    assert _released(app)


def test_release_while_still_down_happens_once_it_is_back(app: FastAPI, client: TestClient, ctx: Context,
                                                          auth: Auth, patient_ids: dict[str, str],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    madre = auth("madre.demo")
    url = f"/api/v1/patients/{patient_ids['Mateo Hernández']}/appointments"
    lose_commit_once(monkeypatch, ctx, committed=False)
    original = idem_service.release
    failures = [dropped(ctx, "DELETE"), dropped(ctx, "DELETE")]

    def release(*args: Any, **kwargs: Any) -> None:
        if failures:
            raise failures.pop()  # still down: the key cannot be given back yet
        original(*args, **kwargs)

    monkeypatch.setattr(idem_service, "release", release)
    headers = {**madre, "Idempotency-Key": str(uuid.uuid4())}
    assert_unavailable(client.post(url, json=APPOINTMENT, headers=headers))
    assert _released(app)
    assert failures == []
    with ctx.sessions() as session:
        assert session.scalars(select(IdempotencyKey)).all() == []  # given back: nothing pending, nothing stored
    retry = client.post(url, json=APPOINTMENT, headers=headers)
    assert retry.status_code == 201 and "Idempotent-Replayed" not in retry.headers
    assert count(ctx, Appointment, Appointment.title == APPOINTMENT["title"]) == 1


# ---- the mixing delivery worker -----------------------------------------------------------------------


def test_mixing_worker_survives_the_outage_and_delivers_after(client: TestClient, ctx: Context, auth: Auth,
                                                              patient_ids: dict[str, str],
                                                              caplog: pytest.LogCaptureFixture) -> None:
    cid = cycle_id(ctx, patient_ids["Mateo Hernández"], 6)
    assert client.post(confirm_url(cid), headers=auth("farmacia.demo")).status_code == 200
    with ctx.sessions() as session:
        orders = list(session.scalars(select(MixingOrder.id)))
    assert orders
    sent: list[str] = []

    def provider(request: httpx.Request) -> httpx.Response:
        sent.append(request.headers["Idempotency-Key"])
        return httpx.Response(201, json={"provider_ref": "SAFE-1"})

    settings = ctx.settings.model_copy(update={"mixing_provider_url": "http://provider.test/api",
                                               "mixing_poll_seconds": 0.05})
    worker = DeliveryWorker(dataclasses.replace(ctx, settings=settings), transport=httpx.MockTransport(provider))
    with caplog.at_level(logging.ERROR, logger="carnet_server.mixing"):
        with database_down(ctx) as refused:
            worker.start()
            try:
                assert poll(lambda: len(refused) >= 3), "the worker keeps trying while the database is down"
                assert worker._thread is not None and worker._thread.is_alive() and sent == []
            except BaseException:
                worker.stop()
                raise
        try:
            assert poll(lambda: sorted(set(sent)) == sorted(orders)), "delivered once the database is back"
        finally:
            worker.stop()
    with ctx.sessions() as session:
        assert all(session.get_one(MixingOrder, o).status == "solicitada" for o in orders)
    assert "mixing delivery round failed: OperationalError" in caplog.text and "starting up" not in caplog.text
