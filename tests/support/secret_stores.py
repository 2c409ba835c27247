"""A secret store for tests that survives an app restart (a shared dict)."""

from __future__ import annotations

from carnet.secret_store import SecretStore


class DictSecretStore(SecretStore):
    """Stands in for an OS secret store that survives restarts (shared dict)."""

    secure = True
    name = "test-dict"

    def __init__(self, data: dict[str, str] | None = None) -> None:
        self.data = {} if data is None else data

    async def get(self, key: str) -> str | None:
        return self.data.get(key)

    async def set(self, key: str, value: str) -> None:
        self.data[key] = value

    async def delete(self, key: str) -> None:
        self.data.pop(key, None)
