"""``carnet --web`` serves Flet's web app without cross-origin isolation (so Flutter draws with skwasm on one thread,
not the multi-threaded skwasm that can freeze a tab: ``carnet.shell.cli.NotCrossOriginIsolated``)."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from carnet.shell.cli import NotCrossOriginIsolated, assets_dir

flet_fastapi = pytest.importorskip("flet_web.fastapi", reason="flet-web is not installed")


def test_the_page_comes_without_the_embedder_policy_and_keeps_the_opener_policy() -> None:
    flet_app = flet_fastapi.app(lambda page: None, assets_dir=str(assets_dir()), no_cdn=True)
    with TestClient(flet_app) as client:
        as_flet_serves = client.get("/")
    with TestClient(NotCrossOriginIsolated(flet_app)) as client:
        page = client.get("/")
        script = client.get("/flutter_bootstrap.js")
    # Flet alone isolates the page: what the wrapper takes away is really there.
    assert as_flet_serves.headers["cross-origin-embedder-policy"] == "require-corp"
    for answer in (page, script):
        assert answer.status_code == 200
        assert "cross-origin-embedder-policy" not in answer.headers
        assert answer.headers["cross-origin-opener-policy"] == "same-origin"
    assert "flutter_bootstrap.js" in page.text  # Flet's page itself
