"""A secret store for tests that survives an app restart (a shared dict)."""

from __future__ import annotations

from pathlib import Path

from carnet.data.secret_store import SecretStore


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


class FileSecretStore(SecretStore):
    """Test only: secrets in a JSON file, so a killed and restarted driver process finds its session.

    Never used by the app (it must never keep secrets in a plain file).
    """

    secure = True
    name = "test-file"

    def __init__(self, path: Path) -> None:
        self.path = path

    def _load(self) -> dict[str, str]:
        import json

        return json.loads(self.path.read_text()) if self.path.exists() else {}

    def _save(self, data: dict[str, str]) -> None:
        import json
        import os

        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data))
        os.replace(tmp, self.path)

    async def get(self, key: str) -> str | None:
        return self._load().get(key)

    async def set(self, key: str, value: str) -> None:
        data = self._load()
        data[key] = value
        self._save(data)

    async def delete(self, key: str) -> None:
        data = self._load()
        data.pop(key, None)
        self._save(data)
