"""Fixtures for the client tests: the real server in process, a persistent fake secret store, temp data dirs.

``server`` is the real API app on a copy of the seeded demo database (its own for each test), reached through
``net`` — a transport that passes everything to the server unless a test makes it fail (offline, a lost
answer, a 5xx): see tests/support/inprocess_server.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from carnet.core.config import AppConfig
from carnet.data.secret_store import SecretStore
from carnet.shell.session import AppSession
from tests.support.databases import DemoTemplates
from tests.support.inprocess_server import BASE, FaultTransport, InProcessServer, start_server
from tests.support.secret_stores import DictSecretStore


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def client_demo_templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoTemplates]:
    templates = DemoTemplates(tmp_path_factory.mktemp("client-demo-templates"), None)
    yield templates
    templates.close()


@pytest.fixture(scope="session")
def shared_server(
    client_demo_templates: DemoTemplates, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[InProcessServer]:
    with start_server(client_demo_templates, tmp_path_factory.mktemp("server")) as running:
        yield running


@pytest.fixture
def server(shared_server: InProcessServer) -> InProcessServer:
    """The server with a fresh copy of the seeded demo database (this test's own) and a new transport."""
    shared_server.reset()
    return shared_server


@pytest.fixture
def net(server: InProcessServer) -> FaultTransport:
    """The client's way to the server: offline, faults and the calls made."""
    return server.transport


@pytest.fixture
def config() -> AppConfig:
    return AppConfig(api_base_url=BASE, api_timeout_seconds=2.0)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def secrets() -> DictSecretStore:
    return DictSecretStore()


@pytest.fixture
def make_session(config: AppConfig, data_dir: Path, net: FaultTransport):
    def make(secrets: SecretStore, **kwargs: object) -> AppSession:
        session = AppSession(config, secrets, data_dir, transport=net, **kwargs)  # type: ignore[arg-type]
        session.api._backoff = lambda attempt: 0.0
        return session

    return make
