"""Secret store selection: phone secure storage, keyring, never a plain file, memory as last resort."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import keyring
import keyring.backend
import keyring.backends.chainer
import keyring.backends.fail
import keyring.backends.null
import pytest
from keyrings.alt.file import PlaintextKeyring

from carnet.data.secret_store import FletSecureStorage, KeyringSecretStore, MemorySecretStore, keyring_backend_is_secure, select_secret_store

pytestmark = pytest.mark.anyio


class OsKeyring(keyring.backend.KeyringBackend):
    """Stands in for a real OS keyring (Keychain, Secret Service) in memory."""

    priority = 5  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.data: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.data.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.data[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        from keyring.errors import PasswordDeleteError

        if (service, username) not in self.data:
            raise PasswordDeleteError(username)
        del self.data[(service, username)]


class FakeSecureStorage:
    def __init__(self) -> None:
        self.data: dict[str, str] = {}

    async def get(self, key: str) -> str | None:
        return self.data.get(key)

    async def set(self, key: str, value: str) -> None:
        self.data[key] = value

    async def remove(self, key: str) -> None:
        self.data.pop(key, None)


@pytest.fixture
def chosen_keyring():
    previous = keyring.get_keyring()

    def choose(backend: keyring.backend.KeyringBackend) -> None:
        keyring.set_keyring(backend)

    yield choose
    keyring.set_keyring(previous)


def test_insecure_backends_are_recognised() -> None:
    assert not keyring_backend_is_secure(keyring.backends.fail.Keyring())
    assert not keyring_backend_is_secure(keyring.backends.null.Keyring())
    assert not keyring_backend_is_secure(PlaintextKeyring())
    assert keyring_backend_is_secure(PlaintextKeyring(), allow_insecure=True)
    assert not keyring_backend_is_secure(keyring.backends.fail.Keyring(), allow_insecure=True)
    assert keyring_backend_is_secure(OsKeyring())


async def test_phone_uses_platform_secure_storage_and_keeps_a_reference() -> None:
    storage = FakeSecureStorage()
    store = await select_secret_store("android", secure_storage_factory=lambda: storage, env={})
    assert isinstance(store, FletSecureStorage) and store.secure
    await store.set("session", "s1")
    assert storage.data == {"carnet.session": "s1"}
    assert await store.get("session") == "s1"
    await store.delete("session")
    assert await store.get("session") is None
    assert store._storage is storage


async def test_desktop_uses_a_secure_keyring(chosen_keyring) -> None:
    backend = OsKeyring()
    chosen_keyring(backend)
    store = await select_secret_store("linux", env={})
    assert isinstance(store, KeyringSecretStore) and store.secure
    await store.set("session", "s1")
    assert backend.data[("mx.carnet.app", "session")] == "s1"
    await store.delete("session")
    await store.delete("session")  # absent: no error
    assert await store.get("session") is None


@pytest.mark.parametrize("backend", [keyring.backends.fail.Keyring(), keyring.backends.null.Keyring(),
                                     PlaintextKeyring()])
async def test_no_secure_keyring_means_memory_only(chosen_keyring, backend, tmp_path: Path) -> None:
    chosen_keyring(backend)
    store = await select_secret_store("linux", env={})
    assert isinstance(store, MemorySecretStore)
    assert store.secure is False
    before = set(tmp_path.rglob("*"))
    await store.set("session", "token")
    assert await store.get("session") == "token"
    assert set(tmp_path.rglob("*")) == before  # nothing written anywhere


async def test_plaintext_keyring_only_with_the_test_flag(chosen_keyring) -> None:
    chosen_keyring(PlaintextKeyring())
    store = await select_secret_store("linux", env={"CARNET_ALLOW_INSECURE_KEYRING": "1"})
    assert isinstance(store, KeyringSecretStore)


async def test_broken_keyring_means_memory_only(chosen_keyring) -> None:
    class Broken(OsKeyring):
        def get_password(self, service: str, username: str) -> str | None:
            raise RuntimeError("D-Bus not available")

    chosen_keyring(Broken())
    assert isinstance(await select_secret_store(None, env={}), MemorySecretStore)


def test_keyring_backend_env_var_is_honoured_in_a_fresh_process(tmp_path: Path) -> None:
    code = ("import asyncio; from carnet.data.secret_store import select_secret_store; "
            "s = asyncio.run(select_secret_store('linux')); print(type(s).__name__, s.secure)")
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path)}
    env.pop("CARNET_ALLOW_INSECURE_KEYRING", None)
    for backend, expected in [("keyring.backends.fail.Keyring", "MemorySecretStore False"),
                              ("keyrings.alt.file.PlaintextKeyring", "MemorySecretStore False")]:
        env["PYTHON_KEYRING_BACKEND"] = backend
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
        assert out.stdout.strip() == expected, out.stderr
    env["CARNET_ALLOW_INSECURE_KEYRING"] = "1"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "KeyringSecretStore True", out.stderr
