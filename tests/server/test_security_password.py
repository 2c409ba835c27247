"""POST /api/v1/auth/password: the new password works, the old one not, and every session ends."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from sqlalchemy import select
from starlette.testclient import TestClient

from carnet_server.audit import AuditEntry
from carnet_server.context import Context
from carnet_server.demo import DEMO_PASSWORD
from tests.server.conftest import assert_error, bearer, login

URL = "/api/v1/auth/password"
NEW = "una-clave-nueva-2026"


def _alive(client: TestClient, tokens: dict[str, object]) -> bool:
    return client.get("/api/v1/me", headers=bearer(tokens["access_token"])).status_code == 200


def test_change_ends_every_session_and_swaps_the_password(client: TestClient, ctx: Context) -> None:
    phone, tablet, caller = (login(client, "madre.demo") for _ in range(3))
    other_user = login(client, "padre.demo")
    response = client.post(URL, headers=bearer(caller["access_token"]),
                           json={"current_password": DEMO_PASSWORD, "new_password": NEW})
    assert response.status_code == 204, response.text
    for tokens in (phone, tablet, caller):  # the caller's own session too: the app must log in again
        assert_error(client.get("/api/v1/me", headers=bearer(tokens["access_token"])), 401, "invalid_token")
        assert_error(client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}),
                     401, "invalid_refresh_token")
    assert _alive(client, other_user)  # another account is untouched
    assert_error(client.post("/api/v1/auth/login", json={"username": "madre.demo", "password": DEMO_PASSWORD}),
                 401, "invalid_credentials")
    assert _alive(client, login(client, "madre.demo", NEW))
    with ctx.sessions() as session:
        (entry,) = session.scalars(select(AuditEntry).where(AuditEntry.action == "auth.password_change"))
    assert entry.actor_role == "guardian" and entry.object_type == "user"
    assert NEW not in str(entry.detail) and DEMO_PASSWORD not in str(entry.detail)


def test_wrong_current_password_is_422_and_changes_nothing(client: TestClient) -> None:
    tokens = login(client, "madre.demo")
    response = client.post(URL, headers={**bearer(tokens["access_token"]), "Accept-Language": "en"},
                           json={"current_password": "not-the-password", "new_password": NEW})
    assert assert_error(response, 422, "wrong_current_password")["message"] == "The current password is wrong."
    spanish = client.post(URL, headers=bearer(tokens["access_token"]),
                          json={"current_password": "not-the-password", "new_password": NEW})
    assert assert_error(spanish, 422)["message"] == "La contraseña actual no es correcta."
    assert _alive(client, tokens)
    assert _alive(client, login(client, "madre.demo"))  # the old password still works


@pytest.mark.parametrize(("new_password", "code"), [
    ("corta-123", "password_too_short"),
    ("", "validation_error"),
    ("Madre.Demo", "password_is_username"),
    (DEMO_PASSWORD, "password_unchanged"),
])
def test_weak_new_password_is_422_and_changes_nothing(client: TestClient, new_password: str, code: str) -> None:
    tokens = login(client, "madre.demo")
    response = client.post(URL, headers=bearer(tokens["access_token"]),
                           json={"current_password": DEMO_PASSWORD, "new_password": new_password})
    assert_error(response, 422, code)
    assert _alive(client, tokens)
    assert _alive(client, login(client, "madre.demo"))


def test_new_password_equal_to_the_current_one_is_refused(client: TestClient) -> None:
    first = login(client, "madre.demo")
    assert client.post(URL, headers=bearer(first["access_token"]),
                       json={"current_password": DEMO_PASSWORD, "new_password": NEW}).status_code == 204
    second = login(client, "madre.demo", NEW)
    response = client.post(URL, headers=bearer(second["access_token"]),
                           json={"current_password": NEW, "new_password": NEW})
    assert assert_error(response, 422, "password_unchanged")["message"] == (
        "La nueva contraseña debe ser distinta de la actual.")
    assert _alive(client, second)


def test_needs_a_session_and_no_unknown_fields(client: TestClient) -> None:
    assert_error(client.post(URL, json={"current_password": DEMO_PASSWORD, "new_password": NEW}), 401)
    tokens = login(client, "padre.demo")
    response = client.post(URL, headers=bearer(tokens["access_token"]),
                           json={"current_password": DEMO_PASSWORD, "new_password": NEW, "username": "madre.demo"})
    assert_error(response, 422, "validation_error")
    assert _alive(client, tokens)
    assert _alive(client, login(client, "madre.demo"))


def test_guessing_the_current_password_is_throttled(client: TestClient) -> None:
    tokens = login(client, "padre.demo")
    headers = bearer(tokens["access_token"])
    for _ in range(5):
        assert_error(client.post(URL, headers=headers, json={"current_password": "guess-1234", "new_password": NEW}),
                     422, "wrong_current_password")
    locked = client.post(URL, headers=headers, json={"current_password": DEMO_PASSWORD, "new_password": NEW})
    assert_error(locked, 429, "too_many_attempts")
    assert int(locked.headers["Retry-After"]) > 0
    assert _alive(client, tokens)  # refused, and nothing changed


def test_behind_a_noisy_address_the_right_current_password_still_changes_it(app: FastAPI, ctx: Context) -> None:
    """The address rule of the login throttle (many families, one address) holds for a password change too: a
    wrong current password from a noisy address gets 429, the right one goes through."""
    shared = TestClient(app, client=("203.0.113.7", 40000))
    for i in range(ctx.settings.login_max_per_address):
        shared.post("/api/v1/auth/login", json={"username": f"user{i}", "password": "x"})
    tokens = login(TestClient(app, client=("198.51.100.9", 40000)), "padre.demo")
    headers = bearer(tokens["access_token"])
    assert_error(shared.post(URL, headers=headers, json={"current_password": "guess-1234", "new_password": NEW}),
                 429, "too_many_attempts")
    assert _alive(shared, tokens)
    assert shared.post(URL, headers=headers, json={"current_password": DEMO_PASSWORD, "new_password": NEW}
                       ).status_code == 204
    assert _alive(shared, login(shared, "padre.demo", NEW))
