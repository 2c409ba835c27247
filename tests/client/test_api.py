"""ApiClient against the real server in process (and hand-made transports for faults): models, error
mapping, refresh on 401, retries."""

from __future__ import annotations

import asyncio
import json
import math

import httpx
import pytest
from sqlalchemy import select

from carnet.data.api import (
    ApiClient,
    AuthError,
    BadRequest,
    Forbidden,
    NetworkError,
    NotFound,
    ProtocolError,
    RateLimited,
    ServerError,
    Tokens,
    minutes_to_wait,
    parse_retry_after,
)
from carnet_contract import models as contract
from carnet_server.auth.tables import AuthSession, RefreshToken
from carnet_server.patients.tables import Patient
from tests.support.inprocess_server import BASE, FaultTransport, InProcessServer, error_response

pytestmark = pytest.mark.anyio


def _client(net: FaultTransport, **kwargs: object) -> ApiClient:
    return ApiClient(BASE, transport=net, backoff=lambda attempt: 0.0, **kwargs)  # type: ignore[arg-type]


async def test_login_me_carnet_jwks_return_contract_models(server: InProcessServer, net: FaultTransport) -> None:
    stored: list[contract.TokenResponse] = []

    async def on_tokens(tokens: contract.TokenResponse) -> None:
        stored.append(tokens)

    client = _client(net, on_tokens=on_tokens)
    tokens = await client.login("madre.demo", "carnet-demo")
    assert tokens.user.role is contract.Role.GUARDIAN
    assert stored == [tokens]
    me = await client.me()
    assert sorted(p.display_name for p in me.patients) == ["Mateo Hernández", "Valentina Hernández"]
    mateo = next(p for p in me.patients if p.display_name == "Mateo Hernández")
    assert mateo.id == server.patient_id("Mateo Hernández")
    carnet = await client.carnet(mateo.id)
    with server.db() as db:
        assert carnet.patient.nss == db.get_one(Patient, mateo.id).nss
    assert carnet.qr.url == f"{BASE}/v/{carnet.qr.token}"
    assert (await client.jwks())["keys"][0]["kid"] == server.ctx.keys.active_kid
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


async def test_bad_credentials_raise_auth_error_with_server_message(net: FaultTransport) -> None:
    client = _client(net)
    with pytest.raises(AuthError) as info:
        await client.login("madre.demo", "wrong")
    assert info.value.status == 401
    assert info.value.code == "invalid_credentials"
    assert info.value.message == "Usuario o contraseña incorrectos."  # the server's own sentence
    await client.aclose()


async def test_rate_limited_login_carries_retry_after_and_is_not_retried(
        server: InProcessServer, net: FaultTransport) -> None:
    client = _client(net)
    for _ in range(server.ctx.settings.login_max_per_username):  # the server's throttle, really reached
        with pytest.raises(AuthError):
            await client.login("madre.demo", "wrong")
    net.calls.clear()
    with pytest.raises(RateLimited) as info:
        await client.login("madre.demo", "carnet-demo")
    (_, _, answer), = net.answers[-1:]
    assert answer.status_code == 429
    assert info.value.retry_after == int(answer.headers["Retry-After"])
    assert 0 < info.value.retry_after <= server.ctx.settings.login_window_minutes * 60
    assert minutes_to_wait(info.value.retry_after) == math.ceil(info.value.retry_after / 60)
    assert net.count("/api/v1/auth/login") == 1
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
        return error_response(status, "some_code", "Mensaje del servidor.")

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


async def test_expired_access_token_is_refreshed_once_and_rotation_stored(
        server: InProcessServer, net: FaultTransport) -> None:
    stored: list[str] = []

    async def on_tokens(tokens: contract.TokenResponse) -> None:
        stored.append(tokens.refresh_token)

    client = _client(net, on_tokens=on_tokens)
    await client.login("padre.demo", "carnet-demo")
    first_refresh = stored[-1]
    _expire(server, client)
    me = await client.me()
    assert me.display_name == "Jorge Ramírez"
    assert net.count("/api/v1/auth/refresh") == 1
    assert len(stored) == 2 and stored[-1] != first_refresh
    assert client.tokens is not None and client.tokens.refresh_token == stored[-1]
    spent = server.refresh_token_state(first_refresh)
    assert spent is not None and spent.used_at is not None  # the old one was spent
    await client.aclose()


async def test_concurrent_401s_share_one_refresh(server: InProcessServer, net: FaultTransport) -> None:
    client = _client(net)
    await client.login("madre.demo", "carnet-demo")
    _expire(server, client)
    mateo, valentina = server.patient_id("Mateo Hernández"), server.patient_id("Valentina Hernández")
    results = await asyncio.gather(client.me(), client.carnet(mateo), client.carnet(valentina))
    assert results[1].patient.id == mateo and results[2].patient.id == valentina
    assert net.count("/api/v1/auth/refresh") == 1
    await client.aclose()


async def test_revoked_refresh_token_raises_auth_error(server: InProcessServer, net: FaultTransport) -> None:
    client = _client(net)
    await client.login("madre.demo", "carnet-demo")
    server.revoke_all("madre.demo")
    with pytest.raises(AuthError):
        await client.me()
    assert net.count("/api/v1/auth/refresh") == 1
    await client.aclose()


async def test_get_is_retried_boundedly_login_never(net: FaultTransport) -> None:
    client = _client(net, get_retries=2)
    await client.login("madre.demo", "carnet-demo")
    net.offline = True
    net.calls.clear()
    with pytest.raises(NetworkError):
        await client.me()
    assert net.count("/api/v1/me") == 3
    with pytest.raises(NetworkError):
        await client.login("madre.demo", "carnet-demo")
    assert net.count("/api/v1/auth/login") == 1
    await client.aclose()


async def test_transient_network_error_recovers_on_retry(server: InProcessServer, net: FaultTransport) -> None:
    net.fail("GET", "/.well-known/jwks.json", httpx.ReadTimeout("slow"))
    client = _client(net)
    assert (await client.jwks())["keys"] == server.ctx.keys.jwks()["keys"]
    assert net.count("/.well-known/jwks.json") == 2
    await client.aclose()


async def test_timeout_is_a_network_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectTimeout("timed out", request=request)

    client = ApiClient(BASE, transport=httpx.MockTransport(handler), get_retries=0)
    with pytest.raises(NetworkError):
        await client.jwks()
    await client.aclose()


async def test_logout_forgets_tokens_and_revokes_on_server(server: InProcessServer, net: FaultTransport) -> None:
    client = _client(net)
    tokens = await client.login("madre.demo", "carnet-demo")
    await client.logout()
    assert client.tokens is None
    with server.db() as db:  # the session, its access tokens and its refresh token ended on the server
        sessions = db.scalars(select(AuthSession).where(AuthSession.user_id == tokens.user.id)).all()
        assert sessions and all(s.revoked_at is not None for s in sessions)
        assert all(t.revoked_at is not None for t in db.scalars(
            select(RefreshToken).where(RefreshToken.session_id.in_([s.id for s in sessions]))))
    probe = _client(net)
    probe.tokens = Tokens(tokens.access_token, tokens.refresh_token)
    with pytest.raises(AuthError):
        await probe.me()
    await probe.aclose()
    await client.aclose()


async def test_patient_id_is_escaped_in_the_path() -> None:
    seen: list[bytes] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.raw_path)
        return error_response(404, "not_found", "No encontrado.")

    client = ApiClient(BASE, transport=httpx.MockTransport(handler))
    with pytest.raises(NotFound):
        await client.carnet("../me")
    assert seen == [b"/api/v1/patients/..%2Fme/carnet"]
    await client.aclose()


def _expire(server: InProcessServer, client: ApiClient) -> None:
    """The client's access token, as the server would see it a quarter of an hour later: expired."""
    assert client.tokens is not None
    client.tokens = Tokens(server.expired(client.tokens.access_token), client.tokens.refresh_token)


def test_login_request_body_is_the_contract() -> None:
    body = contract.LoginRequest(username=" madre.demo ", password=" secret ").model_dump()
    assert json.loads(json.dumps(body)) == {"username": "madre.demo", "password": " secret "}
