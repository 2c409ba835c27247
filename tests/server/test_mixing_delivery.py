"""The delivery queue against a fake provider (httpx.MockTransport), on both databases:
what each provider answer does to an order, leases, backoff, and the worker thread."""

from __future__ import annotations

import dataclasses
import json
import logging
import random
import time
from collections.abc import Callable, Iterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select, update
from starlette.testclient import TestClient

from carnet_contract import models as contract
from carnet_server.context import Context
from carnet_server.db import utcnow
from carnet_server.mixing import delivery, service
from carnet_server.mixing.delivery import DeliveryWorker, claim_due, deliver_due
from carnet_server.mixing.tables import MixingOrder
from carnet_server.retry import backoff_seconds
from carnet_server.sync.tables import SyncState
from tests.server.mixing_support import confirm_url, cycle_id, cycle_row, event, signed_post

Auth = Callable[[str], dict[str, str]]
PROVIDER = "http://provider.test/api"
MATEO = "Mateo Hernández"


class FakeProvider:
    """Answers each POST with the next planned answer (a status code, or an exception to raise)."""

    def __init__(self, *answers: int | Exception) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return httpx.Response(answer, json={"provider_ref": "SAFE-1"})


@pytest.fixture
def mixing_ctx(ctx: Context) -> Context:
    """The test context with a provider configured and quick retries."""
    settings = ctx.settings.model_copy(update={
        "mixing_provider_url": PROVIDER + "/", "mixing_retry_base_seconds": 2.0, "mixing_retry_max_seconds": 8.0,
        "mixing_refused_retry_seconds": 600.0, "mixing_poll_seconds": 0.2, "mixing_lease_seconds": 30.0})
    return dataclasses.replace(ctx, settings=settings)


@pytest.fixture
def order_ids(client: TestClient, ctx: Context, auth: Auth, patient_ids: dict[str, str]) -> Iterator[list[str]]:
    """Mateo's cycle 6, confirmed: its order, and the demo's queued order of Valentina."""
    cid = cycle_id(ctx, patient_ids[MATEO], 6)
    assert client.post(confirm_url(cid), headers=auth("farmacia.demo")).status_code == 200
    with ctx.sessions() as session:
        yield list(session.scalars(select(MixingOrder.id).order_by(MixingOrder.created_at)))


def order(ctx: Context, order_id: str) -> MixingOrder:
    with ctx.sessions() as session:
        return session.get_one(MixingOrder, order_id)


def make_due(ctx: Context) -> None:
    with ctx.sessions() as session:
        session.execute(update(MixingOrder).values(next_attempt_at=utcnow() - timedelta(seconds=1)))
        session.commit()


def run_round(ctx: Context, provider: FakeProvider) -> list[delivery.Outcome]:
    with httpx.Client(transport=httpx.MockTransport(provider)) as client:
        return deliver_due(ctx, client, rng=random.Random(7))


def test_an_order_is_signed_and_sent_with_its_key(mixing_ctx: Context, order_ids: list[str]) -> None:
    provider = FakeProvider(201)
    outcomes = run_round(mixing_ctx, provider)
    assert sorted(o.order_id for o in outcomes if o.delivered) == sorted(order_ids)
    for request in provider.requests:
        assert str(request.url) == f"{PROVIDER}/orders" and request.method == "POST"
        key = request.headers["Idempotency-Key"]
        row = order(mixing_ctx, key)
        assert request.content == service.order_body(row.payload)
        assert json.loads(request.content) == row.payload and row.payload["order_id"] == key
        service.verify_signature(request.headers[service.SIGNATURE_HEADER], request.content,
                                 secret=service.mixing_secret(mixing_ctx.settings), now=utcnow(), max_skew=5)
        with pytest.raises(service.InvalidSignature):
            service.verify_signature(request.headers[service.SIGNATURE_HEADER], request.content + b" ",
                                     secret=service.mixing_secret(mixing_ctx.settings), now=utcnow(), max_skew=5)


def test_delivered_orders_become_solicitada_and_sync(mixing_ctx: Context, order_ids: list[str],
                                                     client: TestClient, auth: Auth,
                                                     patient_ids: dict[str, str]) -> None:
    madre = auth("madre.demo")
    cursor = client.get("/api/v1/sync", headers=madre).json()["cursor"]
    run_round(mixing_ctx, FakeProvider(201))
    for order_id in order_ids:
        row = order(mixing_ctx, order_id)
        assert row.delivered_at is not None and row.status == "solicitada" and row.lease_until is None
        assert cycle_row(mixing_ctx, row.cycle_id).mixing_status == "solicitada"
    changes = client.get("/api/v1/sync", params={"cursor": cursor}, headers=madre).json()["changes"]
    assert {c["data"]["mixing"]["status"] for c in changes if c["type"] == "cycle"} == {"solicitada"}
    assert len([c for c in changes if c["type"] == "cycle"]) == 2
    # Nothing left to send.
    provider = FakeProvider(201)
    assert run_round(mixing_ctx, provider) == [] and provider.requests == []


def test_provider_down_backs_off_and_keeps_the_order(mixing_ctx: Context, order_ids: list[str]) -> None:
    before = utcnow()
    outcomes = run_round(mixing_ctx, FakeProvider(503))
    after = utcnow()
    assert [o.delivered for o in outcomes] == [False, False]
    for order_id in order_ids:
        row = order(mixing_ctx, order_id)
        assert row.attempts == 1 and row.delivered_at is None and row.lease_until is None
        assert row.last_error == "HTTP 503" and row.status == "pendiente"
        assert row.next_attempt_at is not None
        # base 2 s, jittered to half..all of it, counted from some moment within the round (however slow)
        assert before + timedelta(seconds=1.0) <= row.next_attempt_at <= after + timedelta(seconds=2.0)
    # Not due yet: nothing is sent.
    idle = FakeProvider(201)
    assert run_round(mixing_ctx, idle) == [] and idle.requests == []

    make_due(mixing_ctx)
    run_round(mixing_ctx, FakeProvider(httpx.ConnectError("refused")))
    row = order(mixing_ctx, order_ids[0])
    assert row.attempts == 2 and row.last_error == "no answer (ConnectError)"
    make_due(mixing_ctx)
    run_round(mixing_ctx, FakeProvider(httpx.ReadTimeout("slow")))
    assert order(mixing_ctx, order_ids[0]).last_error == "no answer (ReadTimeout)"

    make_due(mixing_ctx)
    run_round(mixing_ctx, FakeProvider(201))
    row = order(mixing_ctx, order_ids[0])
    assert row.delivered_at is not None and row.last_error is None and row.attempts == 3


def test_409_means_the_provider_has_it(mixing_ctx: Context, order_ids: list[str]) -> None:
    run_round(mixing_ctx, FakeProvider(409))
    assert all(order(mixing_ctx, o).delivered_at is not None for o in order_ids)


def test_a_refused_order_waits_long_and_is_not_rejected(mixing_ctx: Context, order_ids: list[str]) -> None:
    before = utcnow()
    run_round(mixing_ctx, FakeProvider(401))
    row = order(mixing_ctx, order_ids[0])
    assert row.delivered_at is None and row.status == "pendiente" and row.attempts == 1
    assert row.last_error == "HTTP 401 refused by the provider"
    assert row.next_attempt_at is not None and row.next_attempt_at - before >= timedelta(seconds=600)
    assert cycle_row(mixing_ctx, row.cycle_id).mixing_status == "pendiente"


def test_delivery_after_a_callback_keeps_the_later_status(mixing_ctx: Context, order_ids: list[str],
                                                          client: TestClient) -> None:
    """The provider's first callback overtook our record of the delivery: no step back to solicitada."""
    mateo_order = order_ids[-1]
    assert signed_post(client, mixing_ctx, event(mateo_order, "en_preparacion", utcnow())).json()["applied"]
    run_round(mixing_ctx, FakeProvider(201))
    row = order(mixing_ctx, mateo_order)
    assert row.delivered_at is not None and row.status == "en_preparacion"
    assert cycle_row(mixing_ctx, row.cycle_id).mixing_status == "en_preparacion"


def test_a_leased_order_is_not_claimed_twice(mixing_ctx: Context, order_ids: list[str]) -> None:
    now = utcnow()
    with mixing_ctx.sessions() as session:
        first = claim_due(session, now=now, lease_seconds=30)
    with mixing_ctx.sessions() as session:
        second = claim_due(session, now=now, lease_seconds=30)
    assert sorted(i for i, _ in first) == sorted(order_ids) and second == []
    # A crashed worker's lease runs out: the orders are claimable again.
    with mixing_ctx.sessions() as session:
        later = claim_due(session, now=now + timedelta(seconds=31), lease_seconds=30)
    assert sorted(i for i, _ in later) == sorted(order_ids)
    with mixing_ctx.sessions() as session:
        due_in = delivery.seconds_until_next_due(session, now=now)
    assert due_in is not None and 60 <= due_in <= 62


def test_backoff_grows_to_its_cap_with_jitter() -> None:
    rng = random.Random(1)
    for attempts, full in ((1, 2.0), (2, 4.0), (3, 8.0), (4, 10.0), (40, 10.0)):
        delays = [backoff_seconds(attempts, base=2.0, maximum=10.0, rng=rng) for _ in range(50)]
        assert all(full / 2 <= d <= full for d in delays), (attempts, delays)
        assert len(set(delays)) > 1


def test_no_provider_configured_keeps_orders_pending(ctx: Context, order_ids: list[str],
                                                     caplog: pytest.LogCaptureFixture) -> None:
    assert ctx.settings.mixing_provider_url is None
    delivery._warned_unconfigured = False
    worker = DeliveryWorker(ctx)
    with caplog.at_level(logging.WARNING, logger="carnet_server.mixing"):
        worker.start()
        worker.start()
    warnings = [r for r in caplog.records if "CARNET_MIXING_PROVIDER_URL" in r.getMessage()]
    assert len(warnings) == 1 and worker._thread is None
    worker.stop()
    assert ctx.settings.mixing_secret_path.stat().st_mode & 0o777 == 0o600
    with httpx.Client(transport=httpx.MockTransport(FakeProvider(201))) as http:
        assert deliver_due(ctx, http) == []
    assert all(order(ctx, o).delivered_at is None for o in order_ids)


def test_the_worker_thread_delivers_and_stops(mixing_ctx: Context, order_ids: list[str]) -> None:
    provider = FakeProvider(503, 503, 201)
    worker = DeliveryWorker(mixing_ctx, transport=httpx.MockTransport(provider))
    worker.start()
    try:
        deadline = time.monotonic() + 30
        while not all(order(mixing_ctx, o).delivered_at for o in order_ids):
            assert time.monotonic() < deadline, [order(mixing_ctx, o).last_error for o in order_ids]
            worker.wake()
            time.sleep(0.05)  # poll interval, not a wait for state
    finally:
        worker.stop()
    assert worker._thread is None
    assert {order(mixing_ctx, o).attempts for o in order_ids} == {1}
    assert len(provider.requests) == 4
    assert contract.MixingStatus(order(mixing_ctx, order_ids[0]).status) == contract.MixingStatus.SOLICITADA
    with mixing_ctx.sessions() as session:
        assert session.scalar(select(SyncState.seq).where(SyncState.record_id == order(
            mixing_ctx, order_ids[0]).cycle_id)) is not None
