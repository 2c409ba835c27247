"""Fixtures for the client tests: a fake API, a persistent fake secret store, temp data dirs."""

from __future__ import annotations

from pathlib import Path

import pytest

from carnet.core.config import AppConfig
from carnet.shell.session import AppSession

from tests.support.secret_stores import DictSecretStore

from .fake_api import BASE, FakeApi


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def fake_api() -> FakeApi:
    return FakeApi()


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
def make_session(config: AppConfig, data_dir: Path, fake_api: FakeApi):
    made: list[AppSession] = []

    def make(secrets: SecretStore, **kwargs: object) -> AppSession:
        session = AppSession(config, secrets, data_dir, transport=fake_api.transport, **kwargs)  # type: ignore[arg-type]
        session.api._backoff = lambda attempt: 0.0
        made.append(session)
        return session

    yield make
    # sessions close their httpx client and SQLite file in the tests that await them
