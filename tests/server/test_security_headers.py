"""Response headers: nothing personal is cached (``Cache-Control: no-store`` on every API answer),
browsers never sniff a content type (``X-Content-Type-Options: nosniff`` on every answer), and the
interactive docs (``/docs``, ``/redoc``) are served only with ``CARNET_DOCS`` on."""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.telemetry import _asgi as telemetry_asgi

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from carnet_server.app import create_app
from carnet_server.context import Context
from carnet_server.settings import Settings
from tests.server.conftest import login

Auth = Callable[[str], dict[str, str]]


def _private(response: object) -> None:
    from httpx import Response

    assert isinstance(response, Response)
    assert response.headers.get("cache-control") == "no-store", (response.request.url, response.headers)
    assert response.headers.get("x-content-type-options") == "nosniff", (response.request.url, response.headers)


def test_tokens_are_not_cached(client: TestClient) -> None:
    response = client.post("/api/v1/auth/login", json={"username": "madre.demo", "password": "carnet-demo"})
    assert response.status_code == 200, response.text
    _private(response)
    refreshed = client.post("/api/v1/auth/refresh", json={"refresh_token": response.json()["refresh_token"]})
    assert refreshed.status_code == 200, refreshed.text
    _private(refreshed)
    # a refused login too: errors carry the same headers
    wrong = client.post("/api/v1/auth/login", json={"username": "madre.demo", "password": "wrong password"})
    assert wrong.status_code == 401
    _private(wrong)


def test_health_data_is_not_cached(client: TestClient, auth: Auth, patient_ids: dict[str, str]) -> None:
    madre = auth("madre.demo")
    mateo = patient_ids["Mateo Hernández"]
    for path in ("/api/v1/me", f"/api/v1/patients/{mateo}/carnet", f"/api/v1/patients/{mateo}/appointments",
                 f"/api/v1/patients/{mateo}/appointments.ics", "/api/v1/incidents", "/api/v1/blood-bank/bookings"):
        response = client.get(path, headers=madre)
        assert response.status_code == 200, (path, response.text)
        _private(response)
    _private(client.get("/api/v1/me"))  # 401


def test_nosniff_everywhere(client: TestClient) -> None:
    for path in ("/healthz", "/.well-known/jwks.json", "/v/not-a-token", "/no-such-page"):
        response = client.get(path)
        assert response.headers.get("x-content-type-options") == "nosniff", path
    assert client.get("/v/not-a-token").headers.get("cache-control") == "no-store"


def test_docs_are_off_by_default(client: TestClient) -> None:
    assert Settings().docs is False
    for path in ("/docs", "/redoc", "/docs/oauth2-redirect"):
        assert client.get(path).status_code == 404, path
    # the API description stays: schemathesis (test_schema_fuzz.py) reads it over ASGI
    assert client.get("/openapi.json").status_code == 200


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_docs_with_the_setting(ctx: Context, path: str) -> None:
    settings = ctx.settings.model_copy(update={"docs": True})
    client = TestClient(create_app(context=dataclasses.replace(ctx, settings=settings)))
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers.get("x-content-type-options") == "nosniff"
    assert login(client, "madre.demo")["access_token"]


def test_fastapi_telemetry_is_off_even_with_a_provider_configured(app: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing here exports traces, metrics or logs: a provider configured in the process (a library's, an agent's)
    never gets the app's requests, whose paths carry the children's ids."""
    monkeypatch.setattr(telemetry_asgi, "_unconfigured", lambda _provider: False)  # as if one were configured
    assert telemetry_asgi.NativeTelemetry(app._telemetry).enabled() is False
    assert telemetry_asgi.NativeTelemetry({**app._telemetry, "tracing": True}).enabled() is True  # (the check works)
