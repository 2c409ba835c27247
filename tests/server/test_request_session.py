"""The request's database session (auth/deps.py ``get_session``) gives its connection back in every case.

A client that hangs up mid-request cancels the request's task: the session's close must still run, else the
connection is lost to the pool (and SQLite's write lock held) until the server stops answering. And a route ends its
transaction in its own thread (routes.py), so that more requests than threads and connections do not deadlock.
"""

from __future__ import annotations

import asyncio
import dataclasses

import anyio
import anyio.to_thread
import httpx
import pytest
from starlette.requests import Request

from carnet_server.app import create_app
from carnet_server.auth.deps import get_session
from carnet_server.context import Context
from carnet_server.demo import DEMO_PASSWORD

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _checked_out(ctx: Context) -> int:
    return int(ctx.engine.pool.checkedout())  # type: ignore[attr-defined]


def _request(ctx: Context) -> Request:
    """A request to the app over ``ctx``, as the session dependency gets it."""
    return Request({"type": "http", "app": create_app(context=ctx)})


async def test_a_finished_request_gives_its_connection_back(ctx: Context) -> None:
    steps = get_session(_request(ctx))
    session = await steps.__anext__()
    session.connection()  # a read: the transaction is open
    assert _checked_out(ctx) == 1
    with pytest.raises(StopAsyncIteration):
        await steps.__anext__()
    assert _checked_out(ctx) == 0


async def test_a_cancelled_request_gives_its_connection_back(ctx: Context) -> None:
    steps = get_session(_request(ctx))
    session = await steps.__anext__()
    session.connection()
    with anyio.CancelScope() as scope:
        scope.cancel()  # the client hung up: every await in this scope is cancelled
        with pytest.raises(anyio.get_cancelled_exc_class()):
            await steps.athrow(anyio.get_cancelled_exc_class()())
    assert _checked_out(ctx) == 0


async def test_more_requests_than_threads_and_connections_all_get_their_answer(ctx: Context) -> None:
    """With 2 threads and a pool of 15, 60 family reads at once: each is answered (none waits for the pool's
    timeout with every thread waiting for a connection held by a request that waits for a thread)."""
    app = create_app(context=ctx)
    anyio.to_thread.current_default_thread_limiter().total_tokens = 2  # this test's event loop only
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        answer = await client.post("/api/v1/auth/login", json={"username": "madre.demo", "password": DEMO_PASSWORD})
        headers = {"Authorization": f"Bearer {answer.json()['access_token']}"}
        with anyio.fail_after(20):  # the pool's timeout is 30 s: a deadlock fails here first
            answers = await asyncio.gather(*(client.get("/api/v1/me", headers=headers) for _ in range(60)))
    assert [a.status_code for a in answers] == [200] * 60
    assert _checked_out(ctx) == 0


async def test_the_server_runs_routes_on_as_many_threads_as_its_setting_says(ctx: Context) -> None:
    app = create_app(context=dataclasses.replace(ctx, settings=ctx.settings.model_copy(update={"request_threads": 3})))
    async with app.router.lifespan_context(app):
        assert anyio.to_thread.current_default_thread_limiter().total_tokens == 3
