"""The services' refusals (domain_errors.py) and the one handler that answers them (errors.py)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from fastapi import FastAPI
from starlette.testclient import TestClient

import carnet_server
from carnet_server import domain_errors as domain
from carnet_server.errors import domain_status
from carnet_server.pharmacy import service as pharmacy
from tests.server.conftest import assert_error

SERVER = Path(carnet_server.__file__).parent
#: Modules that speak HTTP; every other module of the server is HTTP-free.
HTTP_MODULES = {"app.py", "cli.py", "deps.py", "errors.py", "headers.py", "http_protocol.py", "kept.py", "limits.py",
                "router.py", "routes.py", "text_guard.py"}


@pytest.mark.parametrize(("kind", "status"), [
    (domain.Unauthenticated, 401), (domain.NotAllowed, 403), (domain.NotFound, 404), (domain.Conflict, 409),
    (domain.TooLarge, 413), (domain.Unsupported, 415), (domain.Invalid, 422), (domain.Throttled, 429),
    (pharmacy.NotYourUnit, 404), (pharmacy.CycleNotInToken, 422), (pharmacy.NotDispensable, 409),
])
def test_each_kind_has_its_status(kind: type[domain.DomainError], status: int) -> None:
    error = kind(60) if kind is domain.Throttled else kind()
    assert domain_status(error) == status


def test_a_refusal_of_no_kind_is_a_bug(app: FastAPI) -> None:
    def kindless() -> None:
        raise domain.DomainError("something")

    app.add_api_route("/api/v1/kindless", kindless)
    assert_error(TestClient(app).get("/api/v1/kindless"), 500, "internal_error")


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_services_know_no_http() -> None:
    checked = 0
    for path in sorted(SERVER.rglob("*.py")):
        if path.name in HTTP_MODULES or "migrations" in path.parts:
            continue
        http = {n for n in _imports(path) if n.split(".")[0] in ("fastapi", "starlette") or n == "carnet_server.errors"}
        assert not http, f"{path.relative_to(SERVER)} imports {sorted(http)}"
        checked += 1
    assert checked > 30
