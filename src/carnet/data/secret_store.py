"""Where tokens and the offline store's data key live: the OS secret store.

* Android / iOS: the platform secure storage through ``flet_secure_storage``
  (Keychain, Android encrypted storage), wrapped by :class:`FletSecureStorage`.
* Desktop and the web server: ``keyring`` (macOS Keychain, Windows Credential
  Locker, Secret Service), as :class:`KeyringSecretStore`.
* Neither available: :class:`MemorySecretStore`. Secrets then live only while
  the app runs, and the UI must say so (``secure`` is False). There is never
  a fallback to a plain file.

Keyring backends that are not secure (the ``fail`` and ``null`` backends, a
plain-text file) are refused, unless ``CARNET_ALLOW_INSECURE_KEYRING=1`` is
set — tests only, together with ``PYTHON_KEYRING_BACKEND``.

This module imports no Flet: the SecureStorage service object is built by the
UI layer and passed in.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from typing import Any, Protocol

__all__ = [
    "FletSecureStorage",
    "KeyringSecretStore",
    "MemorySecretStore",
    "SecretStore",
    "keyring_backend_is_secure",
    "select_secret_store",
]

log = logging.getLogger(__name__)

SERVICE_NAME = "mx.carnet.app"
ALLOW_INSECURE_ENV = "CARNET_ALLOW_INSECURE_KEYRING"
_PHONE_PLATFORMS = frozenset({"android", "ios"})
_INSECURE_MODULES = ("keyring.backends.fail", "keyring.backends.null")


class SecretStore(ABC):
    """Async key → string secret storage."""

    #: False when secrets don't survive a restart (memory only).
    secure: bool = True
    #: Short technical name, for logs and diagnostics (never a secret).
    name: str = "secret-store"

    @abstractmethod
    async def get(self, key: str) -> str | None: ...

    @abstractmethod
    async def set(self, key: str, value: str) -> None: ...

    @abstractmethod
    async def delete(self, key: str) -> None: ...


class MemorySecretStore(SecretStore):
    """Secrets kept in this process only: lost when the app closes."""

    secure = False
    name = "memory"

    def __init__(self) -> None:
        self._data: dict[str, str] = {}

    async def get(self, key: str) -> str | None:
        return self._data.get(key)

    async def set(self, key: str, value: str) -> None:
        self._data[key] = value

    async def delete(self, key: str) -> None:
        self._data.pop(key, None)


class KeyringSecretStore(SecretStore):
    """The OS keyring, called off the event loop (it may block on D-Bus)."""

    def __init__(self, backend: Any, *, service: str = SERVICE_NAME) -> None:
        self._backend = backend
        self._service = service
        self.name = f"keyring:{type(backend).__module__}.{type(backend).__name__}"

    async def get(self, key: str) -> str | None:
        return await asyncio.to_thread(self._backend.get_password, self._service, key)

    async def set(self, key: str, value: str) -> None:
        await asyncio.to_thread(self._backend.set_password, self._service, key, value)

    async def delete(self, key: str) -> None:
        import keyring.errors

        with contextlib.suppress(keyring.errors.PasswordDeleteError):  # already absent
            await asyncio.to_thread(self._backend.delete_password, self._service, key)


class SecureStorageLike(Protocol):
    async def get(self, key: str) -> str | None: ...
    async def set(self, key: str, value: str) -> None: ...
    async def remove(self, key: str) -> None: ...


class FletSecureStorage(SecretStore):
    """flet_secure_storage.SecureStorage, held by a strong reference."""

    name = "flet-secure-storage"

    def __init__(self, storage: SecureStorageLike, *, prefix: str = "carnet.") -> None:
        # Flet drops service objects nobody references: keep this one alive.
        self._storage = storage
        self._prefix = prefix

    async def get(self, key: str) -> str | None:
        return await self._storage.get(self._prefix + key)

    async def set(self, key: str, value: str) -> None:
        await self._storage.set(self._prefix + key, value)

    async def delete(self, key: str) -> None:
        await self._storage.remove(self._prefix + key)


def keyring_backend_is_secure(backend: Any, *, allow_insecure: bool = False) -> bool:
    """Whether secrets put into ``backend`` are protected by the OS."""
    module = type(backend).__module__
    if module.startswith(_INSECURE_MODULES):
        return False
    children = getattr(backend, "backends", None) or ()
    if type(backend).__name__ == "ChainerBackend":
        return bool(children) and all(keyring_backend_is_secure(b, allow_insecure=allow_insecure) for b in children)
    plaintext = "plaintext" in type(backend).__name__.lower() or module.startswith("keyrings.alt")
    return allow_insecure or not plaintext


def _probe_keyring(env: Mapping[str, str]) -> Any | None:
    """The configured keyring backend if it is usable and secure, else None."""
    try:
        import keyring
        import keyring.errors
    except ImportError:
        return None
    allow = env.get(ALLOW_INSECURE_ENV) == "1"
    try:
        backend = keyring.get_keyring()
        if not keyring_backend_is_secure(backend, allow_insecure=allow):
            log.warning("keyring backend %s is not secure: not used", type(backend).__name__)
            return None
        backend.get_password(SERVICE_NAME, "__probe__")
    except Exception as exc:  # noqa: BLE001 - any backend failure means "no keyring"
        log.warning("keyring unusable: %s", type(exc).__name__)
        return None
    return backend


async def select_secret_store(
    platform: str | None,
    *,
    secure_storage_factory: Callable[[], SecureStorageLike] | None = None,
    env: Mapping[str, str] | None = None,
) -> SecretStore:
    """The best secret store for this device; memory-only when none is secure."""
    env = os.environ if env is None else env
    if platform in _PHONE_PLATFORMS and secure_storage_factory is not None:
        return FletSecureStorage(secure_storage_factory())
    backend = await asyncio.to_thread(_probe_keyring, env)
    if backend is not None:
        return KeyringSecretStore(backend)
    return MemorySecretStore()
