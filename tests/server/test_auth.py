"""Login, throttling, refresh rotation, logout, /me."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from starlette.testclient import TestClient

from carnet_server.app import create_app
from carnet_server.audit import AuditEntry
from carnet_server.auth import service
from carnet_server.auth.tables import LoginAttempt
from carnet_server.cli import server_options
from carnet_server.context import Context, build_context
from carnet_server.db import utcnow
from carnet_server.demo import DEMO_PASSWORD
from carnet_server.settings import Settings
from tests.server.blood_bank_support import live_server
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


def _attempt(client: Any, username: str, word: str = "x", **headers: str) -> Any:
    return client.post("/api/v1/auth/login", json={"username": username, "password": word}, headers=headers)


def test_failures_from_one_address_slow_strangers_but_not_a_family_with_the_right_password(
        app: FastAPI, ctx: Context) -> None:
    """Thousands of families share few addresses (carrier NAT, hospital Wi-Fi): a noisy address gets 429 for
    wrong credentials only; the right password of an account that is not locked still logs in."""
    shared = TestClient(app, client=("203.0.113.7", 40000))
    limit = ctx.settings.login_max_per_address
    for i in range(limit):  # `limit` different accounts, each below its own limit
        assert_error(_attempt(shared, f"user{i}"), 401, "invalid_credentials")
    # now a wrong guess from that address is refused with the wait, in the API's error shape, in both languages
    slowed = _attempt(shared, "user-next")
    assert assert_error(slowed, 429, "too_many_attempts")["message"].startswith("Demasiados intentos.")
    assert 0 < int(slowed.headers["Retry-After"]) <= ctx.settings.login_window_minutes * 60
    english = _attempt(shared, "madre.demo", "wrong", **{"Accept-Language": "en"})
    assert assert_error(english, 429, "too_many_attempts")["message"].startswith("Too many attempts.")
    # a family behind the same address with the right password is not locked out, nor is the next one
    assert _attempt(shared, "madre.demo", DEMO_PASSWORD).status_code == 200
    assert _attempt(shared, "padre.demo", DEMO_PASSWORD).status_code == 200
    # elsewhere nothing changed
    other = TestClient(app, client=("198.51.100.9", 40000))
    assert_error(_attempt(other, "user-next"), 401, "invalid_credentials")


def test_wrong_guesses_from_a_noisy_address_still_lock_the_account(app: FastAPI, ctx: Context) -> None:
    shared = TestClient(app, client=("203.0.113.7", 40000))
    for i in range(ctx.settings.login_max_per_address):
        _attempt(shared, f"user{i}")
    for _ in range(ctx.settings.login_max_per_username):
        assert_error(_attempt(shared, "padre.demo", "bad"), 429, "too_many_attempts")
    # those refusals were failures of padre.demo's too: the account is locked, from any address
    elsewhere = TestClient(app, client=("198.51.100.9", 40000))
    assert_error(_attempt(elsewhere, "padre.demo", DEMO_PASSWORD), 429, "too_many_attempts")
    assert _attempt(elsewhere, "madre.demo", DEMO_PASSWORD).status_code == 200


def test_repeated_failures_on_one_account_lock_it_whatever_the_address(app: FastAPI, ctx: Context) -> None:
    for i in range(ctx.settings.login_max_per_username):  # each from its own address: the count is the account's
        assert_error(_attempt(TestClient(app, client=(f"198.51.100.{i + 1}", 40000)), "padre.demo", "bad"), 401)
    fresh = TestClient(app, client=("192.0.2.50", 40000))
    locked = _attempt(fresh, "padre.demo", DEMO_PASSWORD)
    assert_error(locked, 429, "too_many_attempts")
    assert int(locked.headers["Retry-After"]) > 0
    assert _attempt(fresh, "madre.demo", DEMO_PASSWORD).status_code == 200


def _addresses(ctx: Context) -> set[str]:
    with ctx.sessions() as session:
        return set(session.scalars(select(LoginAttempt.address)))


def test_forwarded_for_from_a_local_connection_is_not_believed_by_default(app: FastAPI, ctx: Context,
                                                                          settings: Settings) -> None:
    """Under uvicorn with cli.py's options (uvicorn alone would believe 127.0.0.1's X-Forwarded-For), a client
    on this machine cannot pick the address the throttle counts: a header per attempt does not reset it."""
    limit = ctx.settings.login_max_per_address
    with live_server(app, **server_options(settings)) as base, httpx.Client(base_url=base, timeout=30) as client:
        for i in range(limit):
            assert_error(_attempt(client, f"user{i}", **{"X-Forwarded-For": f"198.51.100.{i + 1}"}), 401)
        slowed = _attempt(client, "user-next", **{"X-Forwarded-For": "192.0.2.99"})
    assert_error(slowed, 429, "too_many_attempts")
    assert _addresses(ctx) == {"127.0.0.1"}
    assert server_options(settings)["proxy_headers"] is False


def test_forwarded_for_is_believed_only_from_a_trusted_proxy(settings: Settings, ctx: Context) -> None:
    trusting = build_context(settings.model_copy(update={"trusted_proxies": "127.0.0.1, 10.1.0.0/16"}))
    try:
        app = create_app(context=trusting)
        proxied = TestClient(app, client=("10.1.2.3", 40000))
        assert_error(_attempt(proxied, "user1", **{"X-Forwarded-For": "198.51.100.7"}), 401)
        # a proxy in front of the trusted one: the first untrusted address from the right is the client
        assert_error(_attempt(proxied, "user1", **{"X-Forwarded-For": "198.51.100.8, 127.0.0.1"}), 401)
        stranger = TestClient(app, client=("203.0.113.7", 40000))
        assert_error(_attempt(stranger, "user1", **{"X-Forwarded-For": "198.51.100.9"}), 401)
        assert _addresses(trusting) == {"198.51.100.7", "198.51.100.8", "203.0.113.7"}
    finally:
        trusting.engine.dispose()


@pytest.mark.parametrize("value", ["*", "proxy.local", "10.0.0.0/33", "127.0.0.1;10.0.0.1"])
def test_trusted_proxies_must_be_addresses_or_networks(value: str) -> None:
    with pytest.raises(ValueError, match="trusted proxy"):
        Settings(trusted_proxies=value)
    assert Settings(trusted_proxies=" 10.0.0.5 ,192.168.0.0/24,::1").trusted_proxies == "10.0.0.5,192.168.0.0/24,::1"
    assert Settings().trusted_proxies == ""


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
