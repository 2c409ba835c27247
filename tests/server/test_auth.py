"""Login, throttling, refresh rotation, logout, /me."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from fastapi import FastAPI
from sqlalchemy import select
from starlette.testclient import TestClient

from carnet_server.audit import AuditEntry
from carnet_server.auth import service
from carnet_server.context import Context
from carnet_server.db import utcnow
from carnet_server.settings import Settings
from tests.server.conftest import assert_error, bearer, login


def test_login_returns_tokens_and_user(client: TestClient) -> None:
    body = login(client, "madre.demo")
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 15 * 60
    assert body["user"]["role"] == "guardian"  # type: ignore[index]
    assert body["user"]["display_name"] == "Mariana López"  # type: ignore[index]
    assert body["access_token"] and body["refresh_token"]


def test_login_is_case_and_space_insensitive_for_the_username(client: TestClient) -> None:
    response = client.post("/api/v1/auth/login", json={"username": "  Madre.Demo ", "password": "carnet-demo"})
    assert response.status_code == 200


def test_wrong_password_and_unknown_user_get_the_same_401(client: TestClient) -> None:
    wrong = client.post("/api/v1/auth/login", json={"username": "madre.demo", "password": "nope"})
    unknown = client.post("/api/v1/auth/login", json={"username": "nadie.demo", "password": "nope"})
    a = assert_error(wrong, 401, "invalid_credentials")
    b = assert_error(unknown, 401, "invalid_credentials")
    assert a == b
    assert a["message"] == "Usuario o contraseña incorrectos."


def test_401_message_in_english(client: TestClient) -> None:
    response = client.post("/api/v1/auth/login", json={"username": "madre.demo", "password": "x"},
                           headers={"Accept-Language": "en-US,en;q=0.9"})
    assert assert_error(response, 401)["message"] == "Wrong username or password."


def test_throttle_per_account(client: TestClient) -> None:
    for _ in range(5):
        assert_error(client.post("/api/v1/auth/login", json={"username": "padre.demo", "password": "bad"}), 401)
    locked = client.post("/api/v1/auth/login", json={"username": "padre.demo", "password": "bad"})
    assert_error(locked, 429, "too_many_attempts")
    assert 0 < int(locked.headers["Retry-After"]) <= 15 * 60
    # the right password during the lockout is still refused
    right = client.post("/api/v1/auth/login", json={"username": "padre.demo", "password": "carnet-demo"})
    assert_error(right, 429, "too_many_attempts")
    # other accounts from the same address are not locked by it
    assert client.post("/api/v1/auth/login",
                       json={"username": "madre.demo", "password": "carnet-demo"}).status_code == 200


def test_throttle_per_address(app: FastAPI) -> None:
    attacker = TestClient(app, client=("203.0.113.7", 40000))
    for i in range(20):  # 20 different accounts, each below its own limit
        assert_error(attacker.post("/api/v1/auth/login", json={"username": f"user{i}", "password": "x"}), 401)
    blocked = attacker.post("/api/v1/auth/login", json={"username": "madre.demo", "password": "carnet-demo"})
    assert_error(blocked, 429, "too_many_attempts")
    assert int(blocked.headers["Retry-After"]) > 0
    other = TestClient(app, client=("198.51.100.9", 40000))
    assert other.post("/api/v1/auth/login", json={"username": "madre.demo", "password": "carnet-demo"}).status_code == 200


def test_throttle_window_ends(ctx: Context) -> None:
    """Failures older than the window no longer count (clock passed in, no sleeping)."""
    start = utcnow() - timedelta(minutes=20)
    with ctx.sessions() as session:
        for _ in range(5):
            try:
                service.login(session, ctx=ctx, username="padre.demo", password="bad", address="a", now=start)
            except service.InvalidCredentials:
                pass
        tokens = service.login(session, ctx=ctx, username="padre.demo", password="carnet-demo", address="a")
    assert tokens.user.username == "padre.demo"


def test_success_resets_the_account_counter(client: TestClient) -> None:
    for _ in range(4):
        client.post("/api/v1/auth/login", json={"username": "padre.demo", "password": "bad"})
    login(client, "padre.demo")
    for _ in range(4):
        assert_error(client.post("/api/v1/auth/login", json={"username": "padre.demo", "password": "bad"}), 401)


def test_refresh_rotates(client: TestClient) -> None:
    first = login(client, "madre.demo")
    response = client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert response.status_code == 200
    second = response.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert client.get("/api/v1/me", headers=bearer(second["access_token"])).status_code == 200
    # the new refresh token works once too, and rotates again
    third = client.post("/api/v1/auth/refresh", json={"refresh_token": second["refresh_token"]})
    assert third.status_code == 200
    assert third.json()["refresh_token"] not in (first["refresh_token"], second["refresh_token"])
    assert client.get("/api/v1/me", headers=bearer(third.json()["access_token"])).status_code == 200


def test_reusing_a_used_refresh_token_revokes_the_whole_family(client: TestClient, ctx: Context) -> None:
    first = login(client, "madre.demo")
    second = client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}).json()
    third = client.post("/api/v1/auth/refresh", json={"refresh_token": second["refresh_token"]}).json()
    other_session = login(client, "madre.demo")
    # the first token again: someone else holds a copy → 401, and the family ends
    assert_error(client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}),
                 401, "invalid_refresh_token")
    assert_error(client.post("/api/v1/auth/refresh", json={"refresh_token": third["refresh_token"]}),
                 401, "invalid_refresh_token")
    for tokens in (first, second, third):  # every access token of the session stops at once
        assert_error(client.get("/api/v1/me", headers=bearer(tokens["access_token"])), 401, "invalid_token")
    # another login of the same account is a different family: untouched
    assert client.get("/api/v1/me", headers=bearer(other_session["access_token"])).status_code == 200
    assert client.post("/api/v1/auth/refresh",
                       json={"refresh_token": other_session["refresh_token"]}).status_code == 200
    with ctx.sessions() as session:
        reuse = session.scalars(select(AuditEntry).where(AuditEntry.action == "auth.refresh_reuse")).all()
    assert len(reuse) == 1 and reuse[0].actor_role == "guardian"
    assert first["refresh_token"] not in str(reuse[0].detail)


def test_a_revoked_refresh_token_presented_again_is_refused(client: TestClient) -> None:
    tokens = login(client, "padre.demo")
    assert client.post("/api/v1/auth/logout", headers=bearer(tokens["access_token"])).status_code == 204
    for _ in range(2):
        assert_error(client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}),
                     401, "invalid_refresh_token")


def test_refresh_race_one_wins_the_loser_counts_as_reuse(ctx: Context) -> None:
    """Two refreshes with the same token, one after the other in the database's order: the first
    claims it, the second finds it used — reuse — and ends the family (no grace period)."""
    with ctx.sessions() as session:
        tokens = service.login(session, ctx=ctx, username="madre.demo", password="carnet-demo", address="a")
    now = utcnow()
    with ctx.sessions() as a, ctx.sessions() as b:
        winner = service.refresh(a, ctx=ctx, refresh_token=tokens.refresh_token, now=now)
        with pytest.raises(service.InvalidRefreshToken):
            service.refresh(b, ctx=ctx, refresh_token=tokens.refresh_token, now=now)
    with ctx.sessions() as session:
        with pytest.raises(service.InvalidRefreshToken):
            service.refresh(session, ctx=ctx, refresh_token=winner.refresh_token)
        with pytest.raises(service.InvalidAccessToken):
            service.authenticate(session, ctx=ctx, access_token=winner.access_token)


def test_refresh_unknown_and_expired(client: TestClient, ctx: Context) -> None:
    assert_error(client.post("/api/v1/auth/refresh", json={"refresh_token": "nope"}), 401)
    with ctx.sessions() as session:
        tokens = service.login(session, ctx=ctx, username="madre.demo", password="carnet-demo", address="a",
                               now=utcnow() - timedelta(days=31))
    assert_error(client.post("/api/v1/auth/refresh", json={"refresh_token": tokens.refresh_token}), 401)


def test_expired_access_token(client: TestClient, ctx: Context) -> None:
    with ctx.sessions() as session:
        tokens = service.login(session, ctx=ctx, username="madre.demo", password="carnet-demo", address="a",
                               now=utcnow() - timedelta(minutes=16))
    assert_error(client.get("/api/v1/me", headers=bearer(tokens.access_token)), 401, "invalid_token")


def test_logout_ends_access_and_refresh(client: TestClient) -> None:
    tokens = login(client, "madre.demo")
    headers = bearer(tokens["access_token"])
    assert client.post("/api/v1/auth/logout", headers=headers).status_code == 204
    assert_error(client.get("/api/v1/me", headers=headers), 401, "invalid_token")
    assert_error(client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}), 401)
    # another session of the same user is untouched
    assert client.get("/api/v1/me", headers=bearer(login(client, "madre.demo")["access_token"])).status_code == 200


def test_no_auth_and_bad_tokens_get_401(client: TestClient) -> None:
    response = client.get("/api/v1/me")
    assert_error(response, 401, "not_authenticated")
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert_error(client.get("/api/v1/me", headers=bearer("not.a.jwt")), 401, "invalid_token")
    assert_error(client.post("/api/v1/auth/logout"), 401)


def test_me_guardian(client: TestClient, auth: Callable[[str], dict[str, str]]) -> None:
    me = client.get("/api/v1/me", headers=auth("madre.demo")).json()
    assert me["role"] == "guardian"
    assert sorted(p["display_name"] for p in me["patients"]) == ["Mateo Hernández", "Valentina Hernández"]
    assert me["units"] == []
    me = client.get("/api/v1/me", headers=auth("padre.demo")).json()
    assert [p["display_name"] for p in me["patients"]] == ["Santiago Ramírez"]


def test_me_staff_and_admin(client: TestClient, auth: Callable[[str], dict[str, str]]) -> None:
    pharmacy = client.get("/api/v1/me", headers=auth("farmacia.demo")).json()
    assert pharmacy["role"] == "pharmacy" and pharmacy["patients"] == []
    assert {u["name"] for u in pharmacy["units"]} == {
        "UMAE Hospital de Pediatría CMN Siglo XXI", "Hospital General CMN La Raza"}
    bank = client.get("/api/v1/me", headers=auth("banco.demo")).json()
    assert [u["name"] for u in bank["units"]] == ["UMAE Hospital de Pediatría CMN Siglo XXI"]
    desk = client.get("/api/v1/me", headers=auth("casos.demo")).json()
    assert desk["role"] == "case_desk" and len(desk["units"]) == 2
    admin = client.get("/api/v1/me", headers=auth("admin.demo")).json()
    assert admin["role"] == "admin" and len(admin["units"]) == 4


def test_concurrent_refreshes_with_one_token_exactly_one_wins(ctx: Context) -> None:
    """Real threads, each with its own connection, start together: the conditional UPDATE lets one through."""
    with ctx.sessions() as session:
        tokens = service.login(session, ctx=ctx, username="madre.demo", password="carnet-demo", address="a")
    start = threading.Barrier(4)

    def attempt() -> service.IssuedTokens | None:
        start.wait(timeout=30)
        with ctx.sessions() as session:
            try:
                return service.refresh(session, ctx=ctx, refresh_token=tokens.refresh_token)
            except service.InvalidRefreshToken:
                return None

    with ThreadPoolExecutor(4) as pool:
        results = [f.result(timeout=60) for f in [pool.submit(attempt) for _ in range(4)]]
    winners = [r for r in results if r is not None]
    assert len(winners) == 1
    with ctx.sessions() as session:  # the losers counted as reuse: the winner's pair is dead too
        with pytest.raises(service.InvalidAccessToken):
            service.authenticate(session, ctx=ctx, access_token=winners[0].access_token)
        with pytest.raises(service.InvalidRefreshToken):
            service.refresh(session, ctx=ctx, refresh_token=winners[0].refresh_token)


def test_access_tokens_live_fifteen_minutes(ctx: Context) -> None:
    assert Settings.model_fields["access_token_minutes"].default == 15  # the default outside tests too
    issued = utcnow()
    with ctx.sessions() as session:
        tokens = service.login(session, ctx=ctx, username="madre.demo", password="carnet-demo", address="a",
                               now=issued)
        assert tokens.expires_in == 15 * 60
        alive = service.authenticate(session, ctx=ctx, access_token=tokens.access_token,
                                     now=issued + timedelta(minutes=14, seconds=59))
        assert alive.role == "guardian"
        with pytest.raises(service.InvalidAccessToken):
            service.authenticate(session, ctx=ctx, access_token=tokens.access_token,
                                 now=issued + timedelta(minutes=15, seconds=1))
