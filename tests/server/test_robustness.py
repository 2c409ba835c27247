"""Bounded input: body size, deep JSON, pagination limits, per-user write rates, idle connections."""

from __future__ import annotations

import json
import socket
import threading
import uuid
import warnings
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from sqlalchemy.orm import Session

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from carnet_server import limits
from carnet_server.app import create_app
from carnet_server.auth.deps import CurrentUser
from carnet_server.cli import server_options
from carnet_server.context import Context, build_context
from carnet_server.db import utcnow
from carnet_server.http_protocol import MAX_HEAD_BYTES
from carnet_server.incidents import service as incident_service
from carnet_server.routes import api_router
from carnet_server.settings import Settings
from tests.server.blood_bank_support import bank_id, body, live_server, open_day
from tests.server.conftest import assert_error, bearer, login
from tests.support.photos import png

LOGIN = "/api/v1/auth/login"
INCIDENTS = "/api/v1/incidents"
MATEO = "Mateo Hernández"


def _incident(patient_id: str, n: int = 0) -> dict[str, Any]:
    return {"patient_id": patient_id, "category": "medicamento", "item_name": "Vincristina",
            "description": f"Falta vincristina en la farmacia ({n})."}


# ---- body size ---------------------------------------------------------------------------------------------


def test_body_over_content_length_limit_is_413_before_the_route(client: TestClient, auth: Any,
                                                                patient_ids: dict[str, str]) -> None:
    madre = auth("madre.demo")
    big = _incident(patient_ids[MATEO]) | {"description": "x" * (1024 * 1024)}
    for lang, word in (("es-MX", "demasiado grande"), ("en", "too large")):
        error = assert_error(client.post(INCIDENTS, json=big, headers={**madre, "Accept-Language": lang}),
                             413, "payload_too_large")
        assert word in error["message"] and "1024 KB" in error["message"]
    # nothing was created; the same report of a normal size goes through
    assert not [i for i in client.get(INCIDENTS, headers=madre).json() if "xxxx" in i["description"]]
    assert client.post(INCIDENTS, json=_incident(patient_ids[MATEO]), headers=madre).status_code == 201


def test_chunked_body_over_the_limit_is_413_while_read(client: TestClient, auth: Any) -> None:
    """Without Content-Length (chunked upload) the bytes are counted as the app reads them."""
    def chunks() -> Iterator[bytes]:
        yield b'{"username": "madre.demo", "password": "'
        for _ in range(40):
            yield b"a" * 32 * 1024  # 1.25 MB in all
        yield b'"}'

    response = client.post(LOGIN, content=chunks(), headers={"Content-Type": "application/json"})
    assert "content-length" not in {k.lower() for k in response.request.headers}
    assert_error(response, 413, "payload_too_large")
    # a small chunked body still works
    small = client.post(LOGIN, content=iter([b'{"username": "madre.demo", ', b'"password": "carnet-demo"}']),
                        headers={"Content-Type": "application/json"})
    assert small.status_code == 200, small.text


def test_photo_route_has_its_own_larger_limit(client: TestClient, auth: Any, patient_ids: dict[str, str]) -> None:
    madre = auth("madre.demo")
    made = client.post(INCIDENTS, json=_incident(patient_ids[MATEO]), headers=madre).json()
    url = f"{INCIDENTS}/{made['id']}/photos"
    ok = client.post(url, files={"file": ("foto.png", png(), "image/png")}, headers=madre)
    assert ok.status_code == 201, ok.text
    # 2 MB is over the JSON limit but fine for a photo (the route then judges the picture itself)
    two_mb = client.post(url, files={"file": ("foto.jpg", b"\xff\xd8" + b"0" * (2 * 1024 * 1024), "image/jpeg")},
                         headers=madre)
    assert two_mb.status_code not in (413, 500), two_mb.text
    huge = client.post(url, files={"file": ("foto.jpg", b"0" * (6 * 1024 * 1024), "image/jpeg")},
                       headers={**madre, "Accept-Language": "en"})
    assert "5 MB" in assert_error(huge, 413, "photo_too_large")["message"]


@pytest.mark.parametrize("depth", [10_000, 200_000])
def test_deeply_nested_json_is_a_clear_400(client: TestClient, depth: int) -> None:
    raw = "[" * depth + "]" * depth
    for content in (raw, '{"username": ' + raw + ', "password": "x"}'):
        response = client.post(LOGIN, content=content, headers={"Content-Type": "application/json",
                                                                 "Accept-Language": "en"})
        assert "not valid JSON" in assert_error(response, 400, "invalid_json")["message"]


def test_moderately_nested_json_is_a_validation_error(client: TestClient) -> None:
    raw = "[" * 500 + "]" * 500
    response = client.post(LOGIN, content='{"username": ' + raw + ', "password": "x"}',
                           headers={"Content-Type": "application/json"})
    assert "username" in assert_error(response, 422, "validation_error")["message"]


# ---- pagination limits ---------------------------------------------------------------------------------------


def _integer_query_params(app: FastAPI) -> list[tuple[str, str, str, dict[str, Any]]]:
    """(method, path, name, schema) of every integer query parameter in the OpenAPI document."""
    found = []
    for path, operations in app.openapi()["paths"].items():
        for method, operation in operations.items():
            for param in operation.get("parameters", []):
                schema = param.get("schema", {})
                types = [schema.get("type")] + [s.get("type") for s in schema.get("anyOf", [])]
                if param["in"] == "query" and "integer" in types:
                    found.append((method.upper(), path, param["name"], schema))
    return found


def test_every_integer_query_parameter_is_bounded(app: FastAPI, client: TestClient, auth: Any) -> None:
    """Generated from the schema: a new ``limit``-like parameter without ``le=`` fails here."""
    params = _integer_query_params(app)
    assert {("GET", "/api/v1/sync", "limit"), ("GET", "/api/v1/mixing/orders", "limit")} <= {p[:3] for p in params}
    unbounded = [p[:3] for p in params if "maximum" not in p[3]]
    assert not unbounded, f"integer query parameters without a maximum: {unbounded}"
    users = [{**auth(u), "Accept-Language": "en"} for u in ("madre.demo", "farmacia.demo", "admin.demo")]
    for method, path, name, schema in params:
        assert "{" not in path, "none today; a path parameter would need a real id here"
        # a user allowed to call the route: the maximum itself is fine ...
        headers = next((h for h in users if client.request(method, path, params={name: schema["maximum"]},
                                                             headers=h).status_code == 200), None)
        assert headers is not None, path
        # ... one past it, or a million, is a clear 422 naming the parameter
        for value in (schema["maximum"] + 1, 1_000_000):
            error = assert_error(client.request(method, path, params={name: value}, headers=headers),
                                 422, "validation_error")
            assert name in error["message"], (path, error)


# ---- write rates ------------------------------------------------------------------------------------------------


def _patient_ids(client: TestClient, headers: dict[str, str]) -> dict[str, str]:
    return {p["display_name"]: p["id"] for p in client.get("/api/v1/me", headers=headers).json()["patients"]}


def test_creation_routes_all_carry_a_write_limit(app: FastAPI) -> None:
    """Generated from the routes: every route answering 201 (creates something) has a bucket."""
    limited_routes, creating = set(), set()
    for route_ctx in iter_route_contexts(app.routes):
        route = route_ctx.original_route
        if not isinstance(route, APIRoute):
            continue
        key = (next(iter(route.methods)), route_ctx.path)
        if route.status_code == 201:
            creating.add(key)
        if any(getattr(d.call, "__name__", "").startswith("write_limit_") for d in route.dependant.dependencies):
            limited_routes.add(key)
    assert creating and creating <= limited_routes, creating - limited_routes
    assert ("POST", "/api/v1/cycles/{cycle_id}/confirm") in limited_routes


def test_limits_are_in_the_openapi_document(app: FastAPI) -> None:
    paths = app.openapi()["paths"]
    with_body = [(p, m, op) for p, ops in paths.items() for m, op in ops.items() if "requestBody" in op]
    assert with_body and all({"400", "413"} <= set(op["responses"]) for _p, _m, op in with_body)
    assert "429" in paths["/api/v1/incidents"]["post"]["responses"]
    assert "429" in paths["/api/v1/cycles/{cycle_id}/confirm"]["post"]["responses"]
    assert "429" not in paths["/api/v1/incidents"]["get"]["responses"]


def test_incident_flood_gets_429_with_retry_after(limited: tuple[TestClient, Context],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    client, _ctx = limited
    madre = bearer(login(client, "madre.demo")["access_token"])
    mateo = _patient_ids(client, madre)[MATEO]
    keys = [str(uuid.uuid4()) for _ in range(4)]
    first = client.post(INCIDENTS, json=_incident(mateo, 0), headers={**madre, "Idempotency-Key": keys[0]})
    assert first.status_code == 201
    assert client.post(INCIDENTS, json=_incident(mateo, 1), headers={**madre, "Idempotency-Key": keys[1]}
                       ).status_code == 201
    refused = client.post(INCIDENTS, json=_incident(mateo, 2), headers={**madre, "Idempotency-Key": keys[2]})
    error = assert_error(refused, 429, "rate_limited")
    retry_after = int(refused.headers["Retry-After"])
    assert 1 <= retry_after <= 60 and f"{retry_after} s" in error["message"]
    english = client.post(INCIDENTS, json=_incident(mateo, 3), headers={**madre, "Accept-Language": "en"})
    assert "Too many requests" in assert_error(english, 429, "rate_limited")["message"]
    created = [i for i in client.get(INCIDENTS, headers=madre).json()
               if i["description"].startswith("Falta vincristina en la farmacia (")]
    assert len(created) == 2, created

    # a replay of a stored write is answered from the store, not refused and not counted
    replay = client.post(INCIDENTS, json=_incident(mateo, 0), headers={**madre, "Idempotency-Key": keys[0]})
    assert replay.status_code == 201 and replay.headers.get("Idempotent-Replayed") == "true"
    assert replay.json() == first.json()

    # other buckets and other users are not affected
    padre = bearer(login(client, "padre.demo")["access_token"])
    santiago = _patient_ids(client, padre)["Santiago Ramírez"]
    assert client.post(INCIDENTS, json=_incident(santiago), headers=padre).status_code == 201

    # once the window has passed, the refused key is free again (a 429 is not stored for it)
    later = utcnow() + timedelta(seconds=61)
    monkeypatch.setattr(limits, "utcnow", lambda: later)
    again = client.post(INCIDENTS, json=_incident(mateo, 2), headers={**madre, "Idempotency-Key": keys[2]})
    assert again.status_code == 201, again.text
    assert "Idempotent-Replayed" not in again.headers


def _appointment(n: int) -> dict[str, Any]:
    start = utcnow().replace(microsecond=0) + timedelta(days=3, hours=n)
    return {"kind": "consulta", "title": f"Consulta {n}", "starts_at": start.isoformat(),
            "ends_at": (start + timedelta(minutes=30)).isoformat()}


def test_a_write_limit_is_read_in_the_routes_own_thread_on_its_session(
    limited: tuple[TestClient, Context], monkeypatch: pytest.MonkeyPatch
) -> None:
    """(#20) A write takes one thread and one connection: the write limit's count is read in the route's thread, on
    the route's session, before the route runs; refused there, the route never runs."""
    client, ctx = limited
    madre = bearer(login(client, "madre.demo")["access_token"])
    mateo = _patient_ids(client, madre)[MATEO]
    seen: list[tuple[str, int, int]] = []  # (what, thread, session)
    check_rate = limits._check_rate
    create = incident_service.create

    def counted(ctx: Any, user_id: str, bucket: str, session: Any) -> None:
        assert isinstance(session, Session)
        seen.append(("limit", threading.get_ident(), id(session)))
        check_rate(ctx, user_id, bucket, session)

    def created(session: Session, **kwargs: Any) -> Any:
        seen.append(("route", threading.get_ident(), id(session)))
        return create(session, **kwargs)

    monkeypatch.setattr(limits, "_check_rate", counted)
    monkeypatch.setattr(incident_service, "create", created)
    answers = [client.post(INCIDENTS, json=_incident(mateo, n), headers=madre).status_code for n in range(3)]
    assert answers == [201, 201, 429]
    assert [kind for kind, _thread, _session in seen] == ["limit", "route", "limit", "route", "limit"]
    assert seen[0][1:] == seen[1][1:] and seen[2][1:] == seen[3][1:]  # the same thread, the same session


def test_an_async_route_has_its_write_limit_checked_in_a_thread(limited: tuple[TestClient, Context]) -> None:
    """No route is ``async`` with a write limit today; one that is gets the check all the same (``before_the_route``
    runs it at once, in a thread, on a session of its own), not silently skipped."""
    client, _ctx = limited
    router = api_router(prefix="/api/v1")

    @router.post("/async-limited", dependencies=[limits.write_limit("incidents", idempotent=False)])
    async def async_limited(_user: CurrentUser) -> dict[str, bool]:
        return {"ok": True}

    client.app.include_router(router)  # type: ignore[attr-defined]
    madre = bearer(login(client, "madre.demo")["access_token"])
    mateo = _patient_ids(client, madre)[MATEO]
    assert client.post("/api/v1/async-limited", headers=madre).status_code == 200
    assert [client.post(INCIDENTS, json=_incident(mateo, n), headers=madre).status_code for n in range(2)] == [201, 201]
    assert_error(client.post("/api/v1/async-limited", headers=madre), 429, "rate_limited")


def test_every_bucket_is_limited(limited: tuple[TestClient, Context]) -> None:
    """Two writes of each kind pass, the third is 429 (the limit is 2 here)."""
    client, ctx = limited
    madre = bearer(login(client, "madre.demo")["access_token"])
    farmacia = bearer(login(client, "farmacia.demo")["access_token"])
    ids = _patient_ids(client, madre)
    mateo, valentina = ids[MATEO], ids["Valentina Hernández"]

    def third_refused(make: Any) -> None:
        answers = [make(n) for n in range(3)]
        assert [a.status_code < 300 or a.status_code == 409 for a in answers[:2]] == [True, True], \
            [a.text for a in answers]
        assert_error(answers[2], 429, "rate_limited")

    third_refused(lambda n: client.post(f"/api/v1/patients/{mateo}/appointments", json=_appointment(n),
                                        headers=madre))
    bank = bank_id(client, madre)
    _day, slots = open_day(client, ctx, madre, bank)
    third_refused(lambda n: client.post("/api/v1/blood-bank/bookings", json=body(slots[n]["id"], mateo),
                                        headers=madre))
    third_refused(lambda n: client.post(INCIDENTS, json=_incident(valentina, n), headers=madre))
    incident = client.get(INCIDENTS, headers=madre).json()[0]["id"]
    third_refused(lambda n: client.post(f"{INCIDENTS}/{incident}/photos",
                                        files={"file": ("foto.png", png(size=(8 + n, 8)), "image/png")},
                                        headers=madre))
    carnet = client.get(f"/api/v1/patients/{mateo}/carnet", headers=madre).json()
    due = [c for c in carnet["cycles"] if c["status"] == "programado"]
    # the second dispensation of the same cycle is refused (409) and still counts: a counter hammering
    # refusals is slowed down too
    third_refused(lambda n: client.post("/api/v1/pharmacy/dispensations",
                                        json={"token": carnet["qr"]["token"], "cycle_id": due[0]["id"]},
                                        headers=farmacia))
    third_refused(lambda n: client.post(f"/api/v1/cycles/{due[n]['id']}/confirm", headers=farmacia))


# ---- slow and idle clients ------------------------------------------------------------------------------------


def test_server_options_carry_the_settings(settings: Settings) -> None:
    options = server_options(settings.model_copy(update={"keep_alive_seconds": 3, "max_connections": 200}))
    assert options["timeout_keep_alive"] == 3 and options["limit_concurrency"] == 200
    assert options["h11_max_incomplete_event_size"] == 64 * 1024 and options["server_header"] is False
    assert server_options(settings)["limit_concurrency"] is None  # unset: no limit
    assert server_options(settings)["access_log"] is False  # unless CARNET_ACCESS_LOG=1
    assert server_options(settings.model_copy(update={"access_log": True}))["access_log"] is True
    assert server_options(settings.model_copy(update={"head_timeout_seconds": 7.0}))["http"].head_timeout == 7.0
    # spawned worker processes import the protocol by name and take the deadline from the environment
    assert server_options(settings, workers=2)["http"] == "carnet_server.http_protocol:EnvironmentHeadTimeoutProtocol"
    with pytest.raises(ValueError):
        Settings(keep_alive_seconds=0)


def test_idle_keep_alive_connection_is_closed_by_the_server(app: FastAPI, settings: Settings) -> None:
    """uvicorn with cli.py's options closes a connection that stays idle after its answer; the socket
    timeout is only a bound for a hang, the close itself is what is awaited."""
    options = server_options(settings.model_copy(update={"keep_alive_seconds": 1}))
    with live_server(app, **options) as base:
        host, port = base.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=30) as conn:
            conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n")
            received = b""
            while True:
                chunk = conn.recv(65536)
                if not chunk:
                    break  # the server closed the idle connection
                received += chunk
            assert received.startswith(b"HTTP/1.1 200")


def _read_until_closed(conn: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (the socket timeout bounds a hang)."""
    received = b""
    while chunk := conn.recv(65536):
        received += chunk
    return received


@pytest.fixture
def impatient(settings: Settings) -> Iterator[tuple[str, str]]:
    """A live server whose head and body deadlines are one second."""
    impatient_settings = settings.model_copy(update={"head_timeout_seconds": 1.0, "body_timeout_seconds": 1.0})
    context = build_context(impatient_settings)
    try:
        with live_server(create_app(context=context), **server_options(impatient_settings)) as base:
            host, port = base.removeprefix("http://").split(":")
            yield host, port
    finally:
        context.engine.dispose()


@pytest.mark.parametrize("sent", [b"", b"GET /healthz HTTP/1.1\r\nHost: x\r\n"], ids=["silent", "slow-headers"])
def test_a_request_head_that_does_not_arrive_in_time_gets_408_and_the_close(impatient: tuple[str, str],
                                                                             sent: bytes) -> None:
    host, port = impatient
    with socket.create_connection((host, int(port)), timeout=30) as conn:
        conn.sendall(sent)
        received = _read_until_closed(conn)
    assert received.startswith(b"HTTP/1.1 408")
    assert b'"request_timeout"' in received and "tardó demasiado".encode() in received


def test_a_head_sent_in_pieces_within_the_deadline_is_served(impatient: tuple[str, str]) -> None:
    host, port = impatient
    with socket.create_connection((host, int(port)), timeout=30) as conn:
        conn.sendall(b"GET /healthz HTTP/1.1\r\n")
        conn.sendall(b"Host: x\r\nConnection: close\r\n\r\n")
        assert _read_until_closed(conn).startswith(b"HTTP/1.1 200")


def test_a_body_that_does_not_arrive_in_time_gets_408(impatient: tuple[str, str]) -> None:
    host, port = impatient
    with socket.create_connection((host, int(port)), timeout=30) as conn:
        conn.sendall(b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Accept-Language: en\r\nContent-Length: 100\r\n\r\n{\"username\":")
        received = _read_until_closed(conn)
    assert received.startswith(b"HTTP/1.1 408")
    assert b'"request_timeout"' in received and b"took too long" in received


def test_a_whole_body_is_served_whatever_the_body_deadline(impatient: tuple[str, str]) -> None:
    host, port = impatient
    body = b'{"username": "madre.demo", "password": "wrong"}'
    with socket.create_connection((host, int(port)), timeout=30) as conn:
        conn.sendall(b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Connection: close\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
        assert _read_until_closed(conn).startswith(b"HTTP/1.1 401")


# ---- requests uvicorn refuses before the app: the API's error shape too -----------------------------------------


def _answer(received: bytes) -> tuple[int, dict[str, str], dict[str, Any]]:
    """Status, headers (lower-case names) and JSON body of one raw HTTP/1.1 answer."""
    head, _, body = received.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {name.strip().lower(): value.strip() for name, _, value in (line.partition(":") for line in lines)}
    assert int(headers["content-length"]) == len(body)
    return int(status_line.split()[1]), headers, json.loads(body)


@pytest.fixture
def served(app: FastAPI, settings: Settings) -> Iterator[tuple[str, int]]:
    """The demo app under uvicorn with cli.py's options (host, port)."""
    with live_server(app, **server_options(settings)) as base:
        host, port = base.removeprefix("http://").split(":")
        yield host, int(port)


def _send(address: tuple[str, int], request: bytes) -> bytes:
    with socket.create_connection(address, timeout=30) as conn:
        conn.sendall(request)
        return _read_until_closed(conn)


@pytest.mark.parametrize(
    ("request_bytes", "status", "code"),
    [
        (b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
         400, "bad_request"),
        (b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
         b"0\r\n\r\n", 400, "bad_request"),
        (b"GET /healthz HTTP/9.9\r\nHost: x\r\n\r\n", 400, "bad_request"),
        (b"\x00\x01 not http\r\n\r\n", 400, "bad_request"),
        (b"GET /api/v1/ping?q=" + b"a" * (MAX_HEAD_BYTES + 1) + b" HTTP/1.1\r\nHost: x\r\n\r\n",
         431, "headers_too_large"),
        (b"GET /api/v1/ping HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (MAX_HEAD_BYTES + 1) + b"\r\n\r\n",
         431, "headers_too_large"),
        (b"GET /api/v1/ping HTTP/1.1\r\nHost: x\r\n" + b"X-Many: aaaaaaaaaaaaaaaaaaaaaaaaaa\r\n" * 3000 + b"\r\n",
         431, "headers_too_large"),
    ],
    ids=["two-content-lengths", "content-length-and-chunked", "bad-version", "not-http", "long-request-line",
         "long-header", "many-headers"],
)
def test_requests_refused_before_the_app_get_the_json_error_shape(served: tuple[str, int], request_bytes: bytes,
                                                                  status: int, code: str) -> None:
    received = _send(served, request_bytes)
    got, headers, body = _answer(received)
    assert got == status
    assert headers["content-type"] == "application/json"
    assert headers["cache-control"] == "no-store" and headers["x-content-type-options"] == "nosniff"
    assert headers["connection"] == "close"
    assert body["error"]["code"] == code
    spanish, english = body["error"]["message"].split(" / ")
    assert spanish and english and spanish != english
    if code == "headers_too_large":
        assert "64 KB" in spanish and "64 KB" in english


def test_a_head_just_under_the_bound_is_served(served: tuple[str, int]) -> None:
    line = b"GET /api/v1/ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Fill: "
    filler = b"a" * (MAX_HEAD_BYTES - len("/api/v1/ping") - len("HostxConnectioncloseX-Fill"))
    got, _, body = _answer(_send(served, line + filler + b"\r\n\r\n"))
    assert (got, body) == (200, {"pong": True})


def test_beyond_max_connections_the_503_has_the_json_error_shape(app: FastAPI, settings: Settings) -> None:
    """With one connection allowed, a request on it is already one too many (uvicorn counts the connection)."""
    with live_server(app, **server_options(settings.model_copy(update={"max_connections": 1}))) as base:
        host, port = base.removeprefix("http://").split(":")
        got, headers, body = _answer(_send((host, int(port)), b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"))
    assert got == 503 and body["error"]["code"] == "server_busy"
    assert headers["content-type"] == "application/json" and int(headers["retry-after"]) > 0
    assert headers["cache-control"] == "no-store" and headers["x-content-type-options"] == "nosniff"
    assert "ocupado" in body["error"]["message"] and "busy" in body["error"]["message"]
