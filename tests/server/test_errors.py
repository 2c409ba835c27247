"""Every 4xx/5xx has the error shape, in Spanish by default and English on request."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest
from fastapi import FastAPI
from starlette.testclient import TestClient

from carnet_server.i18n import negotiate
from tests.server.conftest import assert_error

EN = {"Accept-Language": "en"}


def test_unknown_route_404(client: TestClient) -> None:
    assert assert_error(client.get("/api/v1/nope"), 404, "not_found")["message"] == "No se encontró lo solicitado."
    assert assert_error(client.get("/api/v1/nope", headers=EN), 404)["message"] == "Not found."


def test_wrong_method_405(client: TestClient) -> None:
    assert_error(client.delete("/api/v1/me"), 405, "method_not_allowed")


def test_unparseable_json_400(client: TestClient) -> None:
    response = client.post("/api/v1/auth/login", content=b"{not json",
                           headers={"Content-Type": "application/json"})
    error = assert_error(response, 400, "invalid_json")
    assert error["message"] == "La solicitud llegó dañada o incompleta."
    english = client.post("/api/v1/auth/login", content=b"{", headers={"Content-Type": "application/json", **EN})
    assert assert_error(english, 400)["message"] == "The request body is not valid JSON."


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({}, ["username", "password"]),
        ({"username": "", "password": "x"}, ["username"]),
        ({"username": "a", "password": "x", "extra": 1}, ["extra"]),
        ({"username": 5, "password": ["x"]}, ["username", "password"]),
        ([], ["cuerpo"]),
    ],
)
def test_bad_bodies_422_name_the_fields(client: TestClient, body: object, fields: list[str]) -> None:
    error = assert_error(client.post("/api/v1/auth/login", json=body), 422, "validation_error")
    assert error["message"].startswith("Revisa estos datos:")
    for field in fields:
        assert field in error["message"]


def test_422_in_english(client: TestClient) -> None:
    error = assert_error(client.post("/api/v1/auth/login", json={"username": ""}, headers=EN), 422)
    assert error["message"] == "Please check these fields: username (empty), password (required)."


def test_422_on_authenticated_endpoints(client: TestClient, auth: Callable[[str], dict[str, str]]) -> None:
    headers = auth("farmacia.demo")
    assert_error(client.post("/api/v1/pharmacy/verify", json={}, headers=headers), 422)
    assert_error(client.post("/api/v1/pharmacy/verify", json={"token": ""}, headers=headers), 422)
    assert_error(client.post("/api/v1/pharmacy/verify", content=b"[", headers={
        **headers, "Content-Type": "application/json"}), 400)
    assert_error(client.post("/api/v1/auth/refresh", json={"refresh_token": ""}), 422)


def test_unexpected_error_is_500_without_details(app: FastAPI, caplog: pytest.LogCaptureFixture) -> None:
    def boom() -> None:
        raise RuntimeError("secret detail: CURP HELM190314HDFRPTA9")

    app.add_api_route("/api/v1/boom", boom)
    with caplog.at_level(logging.ERROR):
        response = TestClient(app).get("/api/v1/boom")  # not re-raised: handled for good
    error = assert_error(response, 500, "internal_error")
    assert "CURP" not in response.text and "secret" not in response.text
    assert error["message"].startswith("Algo salió mal")
    assert "RuntimeError" in caplog.text and "CURP" not in caplog.text and "secret" not in caplog.text
    english = TestClient(app).get("/api/v1/boom", headers=EN)
    assert assert_error(english, 500)["message"].startswith("Something went wrong")


def test_ping_and_healthz(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/api/v1/ping").json() == {"pong": True}
    assert client.get("/openapi.json").status_code == 200


@pytest.mark.parametrize(
    ("header", "lang"),
    [(None, "es"), ("", "es"), ("en", "en"), ("en-US,en;q=0.9", "en"), ("es-MX,es;q=0.9,en;q=0.8", "es"),
     ("fr-FR,en;q=0.5", "en"), ("fr", "es"), ("en;q=0.2,es;q=0.8", "es"), ("en;q=0", "es")],
)
def test_negotiate(header: str | None, lang: str) -> None:
    assert negotiate(header) == lang
