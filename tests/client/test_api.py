"""ApiClient over a MockTransport: models, error mapping, refresh on 401, retries."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from carnet.data.api import ApiClient, AuthError, BadRequest, Forbidden, NetworkError, NotFound, ProtocolError, RateLimited, ServerError, minutes_to_wait, parse_retry_after
from carnet_contract import models as contract

from .fake_api import BASE, FakeApi

pytestmark = pytest.mark.anyio


def _client(api: FakeApi, **kwargs: object) -> ApiClient:
    return ApiClient(BASE, transport=api.transport, backoff=lambda attempt: 0.0, **kwargs)  # type: ignore[arg-type]


def _count(api: FakeApi, path: str) -> int:
    return sum(1 for _, p in api.calls if p == path)


async def test_login_me_carnet_jwks_return_contract_models(fake_api: FakeApi) -> None:
    stored: list[contract.TokenResponse] = []

    async def on_tokens(tokens: contract.TokenResponse) -> None:
        stored.append(tokens)

    client = _client(fake_api, on_tokens=on_tokens)
    tokens = await client.login("madre.demo", "carnet-demo")
    assert tokens.user.role is contract.Role.GUARDIAN
    assert stored == [tokens]
    me = await client.me()
    assert [p.display_name for p in me.patients] == ["Mateo Hernández", "Valentina Hernández"]
    carnet = await client.carnet(me.patients[0].id)
    assert carnet.patient.nss == "12345678901"
    assert carnet.qr.url.endswith(carnet.qr.token)
    assert (await client.jwks())["keys"][0]["kid"] == "k-test"
    await client.aclose()


async def test_sends_accept_language_and_bearer() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"id": "u", "role": "guardian", "display_name": "X"})

    client = ApiClient(BASE, locale="en", transport=httpx.MockTransport(handler))
    from carnet.data.api import Tokens

    client.tokens = Tokens("acc", "ref")
    await client.me()
    assert seen[0].headers["Accept-Language"] == "en"
    assert seen[0].headers["Authorization"] == "Bearer acc"
    await client.aclose()


async def test_bad_credentials_raise_auth_error_with_server_message(fake_api: FakeApi) -> None:
    client = _client(fake_api)
    with pytest.raises(AuthError) as info:
        await client.login("madre.demo", "wrong")
    assert info.value.status == 401
    assert info.value.code == "invalid_credentials"
    assert info.value.message == "Usuario o contraseña incorrectos."
    await client.aclose()


async def test_rate_limited_login_carries_retry_after_and_is_not_retried(fake_api: FakeApi) -> None:
    fake_api.login_rate_limited = 120
    client = _client(fake_api)
    with pytest.raises(RateLimited) as info:
        await client.login("madre.demo", "carnet-demo")
    assert info.value.retry_after == 120
    assert minutes_to_wait(info.value.retry_after) == 2
    assert _count(fake_api, "/api/v1/auth/login") == 1
    await client.aclose()


def test_retry_after_forms() -> None:
    assert parse_retry_after("30") == 30
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412420.0) == 60
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    assert minutes_to_wait(None) == 1
    assert minutes_to_wait(61) == 2


@pytest.mark.parametrize(("status", "error"), [
    (400, BadRequest), (422, BadRequest), (403, Forbidden), (404, NotFound), (500, ServerError),
    (503, ServerError),
])
async def test_error_statuses_map_to_types(status: int, error: type[Exception]) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return FakeApi.error(status, "some_code", "Mensaje del servidor.")

    client = ApiClient(BASE, transport=httpx.MockTransport(handler), backoff=lambda a: 0.0)
    with pytest.raises(error) as info:
        await client.jwks()
    assert info.value.message == "Mensaje del servidor."  # type: ignore[attr-defined]
    await client.aclose()


async def test_error_without_json_body_still_typed_and_garbage_is_protocol_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v1/me":
            return httpx.Response(200, text="<html>proxy login</html>")
        return httpx.Response(502, text="Bad gateway")

    client = ApiClient(BASE, transport=httpx.MockTransport(handler))
    with pytest.raises(ServerError):
        await client.jwks()
    with pytest.raises(ProtocolError):
        await client.me()
    await client.aclose()


async def test_expired_access_token_is_refreshed_once_and_rotation_stored(fake_api: FakeApi) -> None:
    stored: list[str] = []

    async def on_tokens(tokens: contract.TokenResponse) -> None:
        stored.append(tokens.refresh_token)

    client = _client(fake_api, on_tokens=on_tokens)
    await client.login("padre.demo", "carnet-demo")
    first_refresh = stored[-1]
    fake_api.expire_access_tokens()
    me = await client.me()
    assert me.display_name == "José Ramírez"
    assert _count(fake_api, "/api/v1/auth/refresh") == 1
    assert len(stored) == 2 and stored[-1] != first_refresh
    assert client.tokens is not None and client.tokens.refresh_token == stored[-1]
    assert first_refresh not in fake_api.refresh  # the old one was spent
    await client.aclose()


async def test_concurrent_401s_share_one_refresh(fake_api: FakeApi) -> None:
    client = _client(fake_api)
    await client.login("madre.demo", "carnet-demo")
    fake_api.expire_access_tokens()
    results = await asyncio.gather(client.me(), client.carnet("p-mateo"), client.carnet("p-valentina"))
    assert results[1].patient.id == "p-mateo"
    assert _count(fake_api, "/api/v1/auth/refresh") == 1
    await client.aclose()


async def test_revoked_refresh_token_raises_auth_error(fake_api: FakeApi) -> None:
    client = _client(fake_api)
    await client.login("madre.demo", "carnet-demo")
    fake_api.revoke_all()
    with pytest.raises(AuthError):
        await client.me()
    assert _count(fake_api, "/api/v1/auth/refresh") == 1
    await client.aclose()


async def test_get_is_retried_boundedly_login_never(fake_api: FakeApi) -> None:
    client = _client(fake_api, get_retries=2)
    await client.login("madre.demo", "carnet-demo")
    fake_api.offline = True
    fake_api.calls.clear()
    with pytest.raises(NetworkError):
        await client.me()
    assert _count(fake_api, "/api/v1/me") == 3
    with pytest.raises(NetworkError):
        await client.login("madre.demo", "carnet-demo")
    assert _count(fake_api, "/api/v1/auth/login") == 1
    await client.aclose()


async def test_transient_network_error_recovers_on_retry(fake_api: FakeApi) -> None:
    failures = {"left": 1}

    def flaky(request: httpx.Request) -> httpx.Response | None:
        if request.url.path == "/.well-known/jwks.json" and failures["left"]:
            failures["left"] -= 1
            raise httpx.ReadTimeout("slow", request=request)
        return None

    fake_api.override = flaky
    client = _client(fake_api)
    assert (await client.jwks())["keys"]
    await client.aclose()


async def test_timeout_is_a_network_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectTimeout("timed out", request=request)

    client = ApiClient(BASE, transport=httpx.MockTransport(handler), get_retries=0)
    with pytest.raises(NetworkError):
        await client.jwks()
    await client.aclose()


async def test_logout_forgets_tokens_and_revokes_on_server(fake_api: FakeApi) -> None:
    client = _client(fake_api)
    await client.login("madre.demo", "carnet-demo")
    await client.logout()
    assert client.tokens is None
    assert not fake_api.refresh and not fake_api.access
    await client.aclose()


async def test_patient_id_is_escaped_in_the_path() -> None:
    seen: list[bytes] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.raw_path)
        return FakeApi.error(404, "not_found", "No encontrado.")

    client = ApiClient(BASE, transport=httpx.MockTransport(handler))
    with pytest.raises(NotFound):
        await client.carnet("../me")
    assert seen == [b"/api/v1/patients/..%2Fme/carnet"]
    await client.aclose()


def test_login_request_body_is_the_contract() -> None:
    body = contract.LoginRequest(username=" madre.demo ", password=" secret ").model_dump()
    assert json.loads(json.dumps(body)) == {"username": "madre.demo", "password": " secret "}
