"""What the server does when it starts, before the first request: FastAPI resolves each included router's routes on
that router's first request (~2 ms a route, ~150 routes); the app's start does it instead, so that no family waits on
it after a restart (a late router's first request took ~150 ms more; issue #20)."""

from __future__ import annotations

from typing import Any

import fastapi.routing
import httpx
import pytest

from carnet_server.app import create_app
from carnet_server.context import Context

pytestmark = pytest.mark.anyio

#: Routes of routers included late (blood bank, administration, reminders, fever): any answer will do.
LATE = ("/api/v1/blood-banks", "/api/v1/admin/users", "/api/v1/me/reminders", "/api/v1/fever/weekly")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_the_routes_are_resolved_at_start_not_on_the_first_requests(ctx: Context,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    # (FastAPI's own class: if it goes, this test says so by failing here)
    effective = fastapi.routing._EffectiveRouteContext  # noqa: SLF001
    resolve = effective.from_api_route.__func__  # type: ignore[attr-defined]
    resolved: list[str] = []

    def counting(cls: Any, **kwargs: Any) -> Any:
        resolved.append(kwargs["original_route"].path)
        return resolve(cls, **kwargs)

    monkeypatch.setattr(effective, "from_api_route", classmethod(counting))
    app = create_app(context=ctx)
    async with app.router.lifespan_context(app):
        at_start = len(resolved)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1") as client:
            answers = [(await client.get(path)).status_code for path in LATE]
    assert answers == [401] * len(LATE)  # each reached its route (which asks who calls)
    assert at_start > 100 and len(resolved) == at_start, resolved[at_start:]
