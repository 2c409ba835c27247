"""Kept answers sent before routing (kept.py): the same bytes and headers the route sends, only when the route
would send them without a query, and every doubt left to the route.

Each request below is made twice — through the layer, and with the layer stood aside (the route answers) — and
the two answers compared whole. tests/server/test_memo.py holds what may be kept at all (whose, for how long,
what ends it); its requests now pass through this layer too.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from sqlalchemy import update
from starlette.routing import compile_path

from carnet_server.auth import deps
from carnet_server.auth.tables import User
from carnet_server.context import Context
from carnet_server.kept import KEPT_PATHS, KeptAnswersMiddleware
from carnet_server.sync.service import MAX_CURSOR_LENGTH
from tests.server.conftest import bearer, login, sync_all
from tests.server.memo_support import caught_up

ME = "/api/v1/me"
SYNC = "/api/v1/sync"


class Layer:
    """What the layer answered (None: passed on to the route); ``aside`` stands it aside."""

    def __init__(self) -> None:
        self.answered: list[bool] = []
        self.aside = False


@pytest.fixture
def layer(monkeypatch: pytest.MonkeyPatch) -> Iterator[Layer]:
    seen = Layer()
    answer = KeptAnswersMiddleware.answer

    def watched(self: KeptAnswersMiddleware, scope: Any) -> Any:
        if seen.aside:
            return None
        sent = answer(self, scope)
        seen.answered.append(sent is not None)
        return sent

    monkeypatch.setattr(KeptAnswersMiddleware, "answer", watched)
    yield seen


def _both(client: Any, layer: Layer, path: str, **kwargs: Any) -> tuple[Any, Any]:
    """The answer through the layer, then the route's own to the same request (the layer stood aside)."""
    layer.answered.clear()
    first = client.get(path, **kwargs)
    layer.aside = True
    try:
        second = client.get(path, **kwargs)
    finally:
        layer.aside = False
    return first, second


def _same(first: Any, second: Any) -> None:
    assert first.status_code == second.status_code
    assert first.content == second.content
    assert sorted(first.headers.multi_items()) == sorted(second.headers.multi_items())


def _family(client: Any, ctx: Context) -> tuple[dict[str, str], str, str, str]:
    """madre.demo's headers, her child's carnet path, the cursor at the end of her changes and its ETag; each of
    her reads kept by now."""
    madre = bearer(login(client, "madre.demo")["access_token"])
    carnet = f"/api/v1/patients/{client.get(ME, headers=madre).json()['patients'][0]['id']}/carnet"
    assert client.get(carnet, headers=madre).status_code == 200  # may issue the QR: a write while it read, not kept
    caught_up(ctx)  # (PostgreSQL: this worker has heard its own writes back)
    assert client.get(carnet, headers=madre).status_code == 200
    _changes, cursor, _pages = sync_all(client, madre)
    page = client.get(SYNC, params={"cursor": cursor}, headers=madre)
    assert page.status_code == 200
    return madre, carnet, cursor, page.headers["ETag"]


def test_kept_answers_go_out_before_routing_exactly_as_the_route_sends_them(
    client: Any, ctx: Context, layer: Layer
) -> None:
    madre, carnet, cursor, etag = _family(client, ctx)
    client.get(ME, headers=madre)
    requests: list[tuple[str, dict[str, Any]]] = [
        (ME, {"headers": madre}),
        (carnet, {"headers": madre}),
        (SYNC, {"params": {"cursor": cursor}, "headers": madre}),
        (SYNC, {"params": {"cursor": cursor}, "headers": {**madre, "If-None-Match": etag}}),
        (SYNC, {"params": {"cursor": cursor, "limit": 200}, "headers": {**madre, "If-None-Match": f'W/{etag}, "x"'}}),
        (SYNC, {"params": {"cursor": cursor}, "headers": {**madre, "If-None-Match": '"another"'}}),
    ]
    for path, kwargs in requests:
        first, second = _both(client, layer, path, **kwargs)
        assert layer.answered == [True], (path, kwargs)
        assert first.status_code in (200, 304)
        _same(first, second)
    statuses = [client.get(SYNC, params={"cursor": cursor}, headers={**madre, "If-None-Match": etag}).status_code]
    assert statuses == [304]


def test_what_the_route_would_refuse_or_read_goes_to_the_route(client: Any, ctx: Context, layer: Layer) -> None:
    madre, carnet, cursor, _etag = _family(client, ctx)
    farmacia = bearer(login(client, "farmacia.demo")["access_token"])
    client.get(ME, headers=farmacia)
    client.get(ME, headers=farmacia)
    padre = bearer(login(client, "padre.demo")["access_token"])
    client.get(ME, headers=padre)
    odd: list[tuple[str, dict[str, Any]]] = [
        (ME, {}),  # no token
        (ME, {"headers": {"Authorization": "Basic " + madre["Authorization"].split()[1]}}),
        (ME, {"headers": {"Authorization": madre["Authorization"] + "x"}}),  # a token nobody kept
        (carnet, {"headers": padre}),  # another family's child: 404 from the route
        (carnet, {"headers": farmacia}),  # staff: every read audited, never kept
        (SYNC, {"params": {"cursor": cursor}, "headers": farmacia}),  # not a guardian: 403
        (SYNC, {"params": {"cursor": cursor}, "headers": padre}),  # not her cursor: 422
        (SYNC, {"params": {"cursor": cursor, "limit": "01"}, "headers": madre}),
        (SYNC, {"params": {"cursor": cursor, "limit": "+5"}, "headers": madre}),
        (SYNC, {"params": {"cursor": cursor, "limit": "1001"}, "headers": madre}),  # 422
        (SYNC, {"params": {"cursor": cursor, "limit": "0"}, "headers": madre}),  # 422
        (SYNC, {"params": {"cursor": cursor, "limit": ""}, "headers": madre}),  # 422
        (SYNC, {"params": [("cursor", "x"), ("cursor", cursor)], "headers": madre}),
        (SYNC, {"params": {"cursor": cursor, "other": "1"}, "headers": madre}),
        (SYNC, {"params": {"cursor": "c" * (MAX_CURSOR_LENGTH + 1)}, "headers": madre}),  # 422
        (SYNC, {"params": {"cursor": cursor}, "headers": {**madre, "If-None-Match": "x" * 1025}}),  # 422
    ]
    for path, kwargs in odd:
        first, second = _both(client, layer, path, **kwargs)
        assert layer.answered == [False], (path, kwargs)
        assert first.status_code == second.status_code, (path, kwargs, first.text)
    # madre's who-am-I, read anew (on SQLite the staff's audited reads were commits), then kept again
    assert [client.get(ME, headers=madre).status_code for _ in range(2)] == [200, 200] and layer.answered[-1]


@pytest.mark.parametrize("change", [{"must_change_password": True}, {"privacy_version": None}])
def test_a_caller_refused_by_the_route_is_never_answered_by_the_layer(client: Any, ctx: Context, layer: Layer,
                                                                       change: dict[str, Any]) -> None:
    """A kept caller who must first change the password, or accept the notice: the carnet and the sync go to the
    route, which refuses (403) — the second time too, when the caller it refused is the one this worker keeps."""
    madre, carnet, cursor, _etag = _family(client, ctx)
    with ctx.sessions() as session:
        session.execute(update(User).where(User.username == "madre.demo").values(**change))
        session.commit()
    for path, params in ((carnet, {}), (SYNC, {"cursor": cursor})):
        for _ in range(2):
            layer.answered.clear()
            assert client.get(path, params=params, headers=madre).status_code == 403
            assert layer.answered == [False]
    assert ctx.auth_cache.get(madre["Authorization"].split()[1]) is not None  # (kept: the layer saw it)


# ---- what the layer assumes of the routes ----------------------------------------------------------------------


def _routes(app: FastAPI) -> list[Any]:
    """Every API route in the order the app matches them, prefixes of included routers applied."""
    return [c for c in iter_route_contexts(app.routes) if isinstance(c.original_route, APIRoute)]


def _route(app: FastAPI, path: str) -> Any:
    found = [r for r in _routes(app) if r.path == path and "GET" in (r.methods or ())]
    assert len(found) == 1, path
    return found[0]


def test_the_routes_are_the_ones_the_layer_answers_for(app: FastAPI) -> None:
    """Their authentication, parameters and match: a route that gains a check (a rate limit, an audit, a parameter)
    fails here until kept.py makes it too."""
    me, carnet, sync = (_route(app, path) for path in KEPT_PATHS)
    bearer_scheme = deps._bearer  # the scheme object is what the routes depend on
    assert deps.dependency_calls(me.dependant) == {bearer_scheme, deps.get_signed_in_user}
    assert deps.dependency_calls(carnet.dependant) == {bearer_scheme, deps.get_current_user, deps.get_signed_in_user}
    guardian = [d.call for d in sync.dependant.dependencies if hasattr(d.call, "roles")]
    assert len(guardian) == 1 and guardian[0].roles == {"guardian"}
    assert deps.dependency_calls(sync.dependant) == {
        bearer_scheme, guardian[0], deps.get_current_user, deps.get_signed_in_user}
    for route in (me, carnet, sync):
        assert route.methods == {"GET"} and not route.dependant.body_params and not route.dependant.cookie_params
    assert [p.name for p in carnet.dependant.path_params] == ["patient_id"]
    assert carnet.dependant.path_params[0].field_info.annotation is str
    assert not me.dependant.query_params and not carnet.dependant.query_params
    assert not me.dependant.header_params and not carnet.dependant.header_params
    query = {p.alias: p for p in sync.dependant.query_params}
    assert set(query) == {"cursor", "limit"}
    assert query["cursor"].default == "" and query["limit"].default == 200
    assert str(query["cursor"].field_info.metadata) == f"[MaxLen(max_length={MAX_CURSOR_LENGTH})]"
    assert re.sub(r"\s", "", str(query["limit"].field_info.metadata)) == "[Ge(ge=1),Le(le=1000)]"
    assert [(h.alias, str(h.field_info.metadata)) for h in sync.dependant.header_params] == [
        ("if-none-match", "[MaxLen(max_length=1024)]")]
    # no route before them takes their requests
    for path, route in ((ME, me), ("/api/v1/patients/p-1/carnet", carnet), (SYNC, sync)):
        first = next(r for r in _routes(app) if "GET" in (r.methods or ()) and compile_path(r.path)[0].match(path))
        assert first.original_route is route.original_route, path


def test_the_layer_is_the_innermost_middleware(app: FastAPI) -> None:
    """Every other middleware (headers, control characters, body limits, the catch-all) runs before it."""
    assert app.user_middleware[-1].cls is KeptAnswersMiddleware
