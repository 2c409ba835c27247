"""Idempotency-Key on creating POSTs: replay, reuse, concurrency, stale claims, 5xx release, purge."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import anyio
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from starlette.testclient import TestClient

from carnet_server.agenda import service as agenda
from carnet_server.agenda.tables import Appointment
from carnet_server.auth.tables import User
from carnet_server.context import Context
from carnet_server.db import utcnow
from carnet_server.idempotency import service as idem
from carnet_server.idempotency.tables import IdempotencyKey
from tests.server.conftest import assert_error

Auth = Callable[[str], dict[str, str]]
BODY = {"kind": "consulta", "title": "Consulta con nutrición", "starts_at": "2027-02-03T09:00:00-06:00",
        "ends_at": "2027-02-03T09:30:00-06:00"}


def count(ctx: Context, title: str) -> int:
    with ctx.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(Appointment).where(Appointment.title == title))
                   or 0)


def keys(ctx: Context) -> list[IdempotencyKey]:
    with ctx.sessions() as session:
        return list(session.scalars(select(IdempotencyKey)))


@pytest.fixture
def url(patient_ids: dict[str, str]) -> str:
    return f"/api/v1/patients/{patient_ids['Mateo Hernández']}/appointments"


def test_retry_replays_the_stored_response(client: TestClient, ctx: Context, auth: Auth, url: str) -> None:
    headers = {**auth("madre.demo"), "Idempotency-Key": str(uuid.uuid4())}
    first = client.post(url, json=BODY, headers=headers)
    assert first.status_code == 201 and "Idempotent-Replayed" not in first.headers
    # Same body, keys in another order and other whitespace: the same request.
    again = client.post(url, content=b'{ "ends_at": "2027-02-03T09:30:00-06:00", "kind": "consulta", '
                        b'"title": "Consulta con nutrici\\u00f3n", "starts_at": "2027-02-03T09:00:00-06:00"}',
                        headers={**headers, "Content-Type": "application/json", "Authorization": auth("madre.demo")[
                            "Authorization"]})
    assert again.status_code == 201 and again.content == first.content
    assert again.headers["Idempotent-Replayed"] == "true"
    assert count(ctx, BODY["title"]) == 1
    (row,) = keys(ctx)
    assert row.claim is None and row.status_code == 201 and row.response_body == first.content


def test_same_key_other_body_or_path_is_422(client: TestClient, ctx: Context, auth: Auth, url: str,
                                            patient_ids: dict[str, str]) -> None:
    headers = {**auth("madre.demo"), "Idempotency-Key": "clave-1"}
    assert client.post(url, json=BODY, headers=headers).status_code == 201
    assert_error(client.post(url, json={**BODY, "title": "Otra"}, headers=headers), 422, "idempotency_key_reused")
    other_child = f"/api/v1/patients/{patient_ids['Valentina Hernández']}/appointments"
    assert_error(client.post(other_child, json=BODY, headers=headers), 422, "idempotency_key_reused")
    assert count(ctx, BODY["title"]) == 1 and count(ctx, "Otra") == 0
    # Keys belong to their user: another account may use the same string.
    padre = client.post(f"/api/v1/patients/{patient_ids['Santiago Ramírez']}/appointments", json=BODY,
                        headers={**auth("padre.demo"), "Idempotency-Key": "clave-1"})
    assert padre.status_code == 201 and "Idempotent-Replayed" not in padre.headers


@pytest.mark.parametrize("key", ["", " ", "x" * 201, "dos palabras", "ñandú".encode(), "-leading"])
def test_bad_keys_are_422(client: TestClient, ctx: Context, auth: Auth, url: str, key: str | bytes) -> None:
    response = client.post(url, json=BODY, headers={**auth("madre.demo"), "Idempotency-Key": key})
    assert_error(response, 422, "invalid_idempotency_key")
    assert count(ctx, BODY["title"]) == 0 and keys(ctx) == []


def test_key_of_200_chars_is_fine(client: TestClient, auth: Auth, url: str) -> None:
    response = client.post(url, json=BODY, headers={**auth("madre.demo"), "Idempotency-Key": "k" * 200})
    assert response.status_code == 201


def test_4xx_is_stored_and_replayed(client: TestClient, ctx: Context, auth: Auth, url: str) -> None:
    headers = {**auth("madre.demo"), "Idempotency-Key": str(uuid.uuid4())}
    chemo = {**BODY, "kind": "quimioterapia"}
    first = client.post(url, json=chemo, headers=headers)
    assert_error(first, 422, "kind_not_allowed")
    again = client.post(url, json=chemo, headers={**headers, "Accept-Language": "en"})
    assert again.status_code == 422 and again.content == first.content  # exactly, even the language
    assert again.headers["Idempotent-Replayed"] == "true"
    invalid = {**BODY, "ends_at": "2027-02-03T08:00:00-06:00"}
    key2 = {**headers, "Idempotency-Key": str(uuid.uuid4())}
    assert_error(client.post(url, json=invalid, headers=key2), 422, "validation_error")
    assert client.post(url, json=invalid, headers=key2).headers["Idempotent-Replayed"] == "true"
    assert count(ctx, BODY["title"]) == 0


def test_5xx_releases_the_key(client: TestClient, ctx: Context, auth: Auth, url: str,
                              monkeypatch: pytest.MonkeyPatch) -> None:
    headers = {**auth("madre.demo"), "Idempotency-Key": str(uuid.uuid4())}
    original = agenda.create

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("database went away")

    monkeypatch.setattr(agenda, "create", broken)
    assert_error(client.post(url, json=BODY, headers=headers), 500, "internal_error")
    assert keys(ctx) == []
    monkeypatch.setattr(agenda, "create", original)
    retry = client.post(url, json=BODY, headers=headers)
    assert retry.status_code == 201 and "Idempotent-Replayed" not in retry.headers
    assert count(ctx, BODY["title"]) == 1


def _pending(ctx: Context, *, key: str, url: str, age: timedelta) -> None:
    import json
    with ctx.sessions() as session:
        user_id = session.scalar(select(User.id).where(User.username == "madre.demo"))
        at = utcnow() - age
        session.add(IdempotencyKey(user_id=user_id, key=key, fingerprint=idem.fingerprint(
            "POST", url, json.dumps(BODY).encode()), claim="crashed-worker", claimed_at=at, created_at=at))
        session.commit()


def test_stale_claim_is_taken_over(client: TestClient, ctx: Context, auth: Auth, url: str) -> None:
    _pending(ctx, key="stale", url=url, age=timedelta(minutes=2))
    response = client.post(url, json=BODY, headers={**auth("madre.demo"), "Idempotency-Key": "stale"})
    assert response.status_code == 201 and "Idempotent-Replayed" not in response.headers
    assert count(ctx, BODY["title"]) == 1


def test_live_claim_answers_409_after_waiting(client: TestClient, ctx: Context, auth: Auth, url: str,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(idem, "WAIT_SECONDS", 0.3)
    _pending(ctx, key="busy", url=url, age=timedelta(seconds=1))
    response = client.post(url, json=BODY, headers={**auth("madre.demo"), "Idempotency-Key": "busy"})
    assert_error(response, 409, "idempotency_in_progress")
    assert response.headers["Retry-After"] == "1"
    assert count(ctx, BODY["title"]) == 0


def test_purge_drops_keys_older_than_48_hours(ctx: Context, url: str) -> None:
    _pending(ctx, key="old", url=url, age=timedelta(hours=49))
    _pending(ctx, key="day-old", url=url, age=timedelta(hours=25))
    with ctx.sessions() as session:
        assert idem.purge(session) == 1
        session.commit()
    assert [k.key for k in keys(ctx)] == ["day-old"]


def test_twenty_concurrent_requests_make_one_record(app: FastAPI, ctx: Context, auth: Auth, url: str,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Twenty requests with one key in flight at once (worker threads, real DB): one appointment."""
    headers = {**auth("madre.demo"), "Idempotency-Key": str(uuid.uuid4())}
    claims = 0
    lock = threading.Lock()
    original_claim, original_create = idem.claim, agenda.create

    def counting_claim(*args: Any, **kwargs: Any) -> Any:
        nonlocal claims
        with lock:
            claims += 1
        return original_claim(*args, **kwargs)

    def slow_create(*args: Any, **kwargs: Any) -> Any:
        deadline = time.monotonic() + 8
        while claims < 20 and time.monotonic() < deadline:  # hold the key until all twenty asked for it
            time.sleep(0.01)
        return original_create(*args, **kwargs)

    monkeypatch.setattr(idem, "claim", counting_claim)
    monkeypatch.setattr(agenda, "create", slow_create)
    responses: list[httpx.Response] = []

    async def main() -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test", timeout=30) as client:
            async def one() -> None:
                responses.append(await client.post(url, json=BODY, headers=headers))

            async with anyio.create_task_group() as tg:
                for _ in range(20):
                    tg.start_soon(one)

    anyio.run(main)
    assert claims >= 20
    assert [r.status_code for r in responses] == [201] * 20, [r.text for r in responses]
    assert len({r.content for r in responses}) == 1
    assert sum(r.headers.get("Idempotent-Replayed") == "true" for r in responses) == 19
    assert count(ctx, BODY["title"]) == 1
    assert len(keys(ctx)) == 1
