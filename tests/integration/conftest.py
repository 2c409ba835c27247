"""The app's async services run on asyncio in these tests."""

import pytest


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
