"""The request's database session (auth/deps.py ``get_session``) gives its connection back in every case.

A client that hangs up mid-request cancels the request's task: the session's close must still run, else the
connection is lost to the pool (and SQLite's write lock held) until the server stops answering.
"""

from __future__ import annotations

import anyio
import pytest

from carnet_server.auth.deps import get_session
from carnet_server.context import Context

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _checked_out(ctx: Context) -> int:
    return int(ctx.engine.pool.checkedout())  # type: ignore[attr-defined]


async def test_a_finished_request_gives_its_connection_back(ctx: Context) -> None:
    steps = get_session(ctx)
    session = await steps.__anext__()
    session.connection()  # a read: the transaction is open
    assert _checked_out(ctx) == 1
    with pytest.raises(StopAsyncIteration):
        await steps.__anext__()
    assert _checked_out(ctx) == 0


async def test_a_cancelled_request_gives_its_connection_back(ctx: Context) -> None:
    steps = get_session(ctx)
    session = await steps.__anext__()
    session.connection()
    with anyio.CancelScope() as scope:
        scope.cancel()  # the client hung up: every await in this scope is cancelled
        with pytest.raises(anyio.get_cancelled_exc_class()):
            await steps.athrow(anyio.get_cancelled_exc_class()())
    assert _checked_out(ctx) == 0
