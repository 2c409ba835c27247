"""The offline store: what the app shows without network, encrypted at rest.

One SQLite file (the only module that touches sqlite3) holding, per user, the
patient list (``me``), the last carnet of each child (with its QR token), the
server's JWKS, the synced records (appointments) with the sync cursor, each
with the time it was fetched, and the **outbox** of writes not yet accepted by
the server (see :mod:`carnet.data.outbox`). Every value is sealed
with AES-256-GCM: a random 96-bit nonce per record and the associated data
``records|<user>|<kind>|<key>`` (``outbox|<user>|<id>`` for outbox items), so
a record can't be moved to another slot. Only what ordering and scheduling
need stays in clear in the outbox: the item's id, order, state, attempts and
next attempt time.

:meth:`OfflineStore.transaction` groups writes into one SQLite transaction
(the sync moves its cursor in the same commit as the data it covers).

The 32-byte data key lives in the :class:`~carnet.data.secret_store.SecretStore`,
never in the file. When it is missing or wrong (a memory-only secret store
after a restart, a restored backup) the cache is unreadable: :func:`open_store`
wipes it, makes a new key and reports ``wiped=True`` so the UI can say so.

Without a data folder (``data_dir`` None: one browser session of the web app)
the database lives in memory, private to its store object, and is gone with it.
"""

from __future__ import annotations

import base64
import json
import os
import sqlite3
import sys
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from carnet.data.secret_store import SecretStore

__all__ = [
    "CachedRecord",
    "OfflineStore",
    "OutboxRow",
    "StoreOpened",
    "UnreadableStore",
    "default_data_dir",
    "destroy_store",
    "open_store",
]

KEY_SECRET = "store_key"
DB_NAME = "carnet-cache.sqlite3"
_CHECK_PLAINTEXT = b"carnet-store-v1"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, nonce BLOB NOT NULL, sealed BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS records (
    user_id TEXT NOT NULL, kind TEXT NOT NULL, key TEXT NOT NULL,
    nonce BLOB NOT NULL, sealed BLOB NOT NULL, fetched_at TEXT NOT NULL,
    PRIMARY KEY (user_id, kind, key)
);
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE, user_id TEXT NOT NULL, created_at TEXT NOT NULL,
    state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at TEXT,
    nonce BLOB NOT NULL, sealed BLOB NOT NULL
);
"""


class UnreadableStore(Exception):
    """The data key does not open this file."""


@dataclass(frozen=True)
class CachedRecord:
    value: Any
    fetched_at: datetime


@dataclass(frozen=True)
class OutboxRow:
    """One stored outbox item; ``payload`` is the decrypted JSON the outbox put there."""

    id: str
    seq: int
    created_at: datetime
    state: str
    attempts: int
    next_attempt_at: datetime | None
    payload: dict[str, Any]


def default_data_dir(env: dict[str, str] | None = None) -> Path:
    """FLET_APP_STORAGE_DATA, else CARNET_APP_DATA, else the user data dir."""
    env = dict(os.environ) if env is None else env
    for name in ("FLET_APP_STORAGE_DATA", "CARNET_APP_DATA"):
        if env.get(name):
            return Path(env[name])
    if sys.platform == "win32":
        base = Path(env.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(env.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "carnet"


class OfflineStore:
    """Encrypted key-value records in SQLite; small synchronous calls."""

    def __init__(self, path: Path | None, key: bytes) -> None:
        """``path`` None: an in-memory database, private to this object."""
        if len(key) != 32:
            raise ValueError("the data key must be 32 bytes (AES-256)")
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._aead = AESGCM(key)
        self._db = sqlite3.connect(path or ":memory:", isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA synchronous=FULL")  # a commit survives a killed app
        self._db.executescript(_SCHEMA)
        self._depth = 0
        self._check_key()

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Every write inside commits together, or none does (nested calls join the outer one)."""
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        self._db.execute("BEGIN IMMEDIATE")
        self._depth = 1
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        else:
            self._db.execute("COMMIT")
        finally:
            self._depth = 0

    # ---- sealing -------------------------------------------------------------

    def _seal(self, aad: str, plaintext: bytes) -> tuple[bytes, bytes]:
        nonce = os.urandom(12)
        return nonce, self._aead.encrypt(nonce, plaintext, aad.encode())

    def _open(self, aad: str, nonce: bytes, sealed: bytes) -> bytes:
        try:
            return self._aead.decrypt(nonce, sealed, aad.encode())
        except InvalidTag as exc:
            raise UnreadableStore(aad) from exc

    def _check_key(self) -> None:
        row = self._db.execute("SELECT nonce, sealed FROM meta WHERE name = 'check'").fetchone()
        if row is None:
            if (
                self._db.execute("SELECT 1 FROM records LIMIT 1").fetchone()
                or self._db.execute("SELECT 1 FROM outbox LIMIT 1").fetchone()
            ):
                raise UnreadableStore("records without a key check")
            nonce, sealed = self._seal("meta|check", _CHECK_PLAINTEXT)
            self._db.execute("INSERT INTO meta VALUES ('check', ?, ?)", (nonce, sealed))
        elif self._open("meta|check", row[0], row[1]) != _CHECK_PLAINTEXT:
            raise UnreadableStore("key check mismatch")

    # ---- records ------------------------------------------------------------

    @staticmethod
    def _aad(user_id: str, kind: str, key: str) -> str:
        return f"records|{user_id}|{kind}|{key}"

    def put(self, user_id: str, kind: str, key: str, value: Any, *, fetched_at: datetime | None = None) -> None:
        when = (fetched_at or datetime.now(UTC)).isoformat()
        plaintext = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
        nonce, sealed = self._seal(self._aad(user_id, kind, key), plaintext)
        self._db.execute(
            "INSERT OR REPLACE INTO records VALUES (?, ?, ?, ?, ?, ?)",
            (user_id, kind, key, nonce, sealed, when),
        )

    def get(self, user_id: str, kind: str, key: str = "") -> CachedRecord | None:
        row = self._db.execute(
            "SELECT nonce, sealed, fetched_at FROM records WHERE user_id=? AND kind=? AND key=?",
            (user_id, kind, key),
        ).fetchone()
        if row is None:
            return None
        value = json.loads(self._open(self._aad(user_id, kind, key), row[0], row[1]))
        return CachedRecord(value, datetime.fromisoformat(row[2]))

    def get_kind(self, user_id: str, kind: str) -> dict[str, CachedRecord]:
        """Every record of one kind for a user, by key."""
        rows = self._db.execute(
            "SELECT key, nonce, sealed, fetched_at FROM records WHERE user_id=? AND kind=?",
            (user_id, kind),
        ).fetchall()
        return {
            key: CachedRecord(
                json.loads(self._open(self._aad(user_id, kind, key), nonce, sealed)), datetime.fromisoformat(fetched)
            )
            for key, nonce, sealed, fetched in rows
        }

    def delete(self, user_id: str, kind: str, key: str = "") -> None:
        self._db.execute("DELETE FROM records WHERE user_id=? AND kind=? AND key=?", (user_id, kind, key))

    def delete_kind(self, user_id: str, kind: str, *, keep: set[str] | None = None) -> None:
        """Delete a user's records of one kind, except the keys in ``keep``."""
        rows = self._db.execute("SELECT key FROM records WHERE user_id=? AND kind=?", (user_id, kind)).fetchall()
        for (key,) in rows:
            if keep is None or key not in keep:
                self._db.execute("DELETE FROM records WHERE user_id=? AND kind=? AND key=?", (user_id, kind, key))

    # ---- outbox ---------------------------------------------------------------

    @staticmethod
    def _outbox_aad(user_id: str, item_id: str) -> str:
        return f"outbox|{user_id}|{item_id}"

    def outbox_add(self, user_id: str, item_id: str, payload: dict[str, Any], *, created_at: datetime) -> None:
        plaintext = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        nonce, sealed = self._seal(self._outbox_aad(user_id, item_id), plaintext)
        self._db.execute(
            "INSERT INTO outbox (id, user_id, created_at, state, attempts, next_attempt_at, nonce, sealed) "
            "VALUES (?, ?, ?, 'pending', 0, NULL, ?, ?)",
            (item_id, user_id, created_at.isoformat(), nonce, sealed),
        )

    def outbox_rows(self, user_id: str) -> list[OutboxRow]:
        """A user's outbox items, oldest first."""
        rows = self._db.execute(
            "SELECT id, seq, created_at, state, attempts, next_attempt_at, nonce, sealed FROM outbox "
            "WHERE user_id=? ORDER BY seq",
            (user_id,),
        ).fetchall()
        return [
            OutboxRow(
                item_id,
                seq,
                datetime.fromisoformat(created),
                state,
                attempts,
                datetime.fromisoformat(next_at) if next_at else None,
                json.loads(self._open(self._outbox_aad(user_id, item_id), nonce, sealed)),
            )
            for item_id, seq, created, state, attempts, next_at, nonce, sealed in rows
        ]

    def outbox_update(
        self,
        user_id: str,
        item_id: str,
        *,
        state: str,
        attempts: int,
        next_attempt_at: datetime | None,
        payload: dict[str, Any] | None = None,
    ) -> None:
        self._db.execute(
            "UPDATE outbox SET state=?, attempts=?, next_attempt_at=? WHERE user_id=? AND id=?",
            (state, attempts, next_attempt_at.isoformat() if next_attempt_at else None, user_id, item_id),
        )
        if payload is not None:
            plaintext = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
            nonce, sealed = self._seal(self._outbox_aad(user_id, item_id), plaintext)
            self._db.execute(
                "UPDATE outbox SET nonce=?, sealed=? WHERE user_id=? AND id=?", (nonce, sealed, user_id, item_id)
            )

    def outbox_remove(self, user_id: str, item_id: str) -> None:
        self._db.execute("DELETE FROM outbox WHERE user_id=? AND id=?", (user_id, item_id))

    def clear(self) -> None:
        """Forget every record and outbox item (logout) and shrink the file."""
        self._db.execute("DELETE FROM records")
        self._db.execute("DELETE FROM outbox")
        self._db.execute("VACUUM")


@dataclass(frozen=True)
class StoreOpened:
    store: OfflineStore
    #: True when an existing cache could not be read and was erased.
    wiped: bool


def _has_records(path: Path) -> bool:
    try:
        with closing(sqlite3.connect(path)) as db:
            if db.execute("SELECT 1 FROM records LIMIT 1").fetchone() is not None:
                return True
            tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            return "outbox" in tables and db.execute("SELECT 1 FROM outbox LIMIT 1").fetchone() is not None
    except sqlite3.DatabaseError:
        return True  # not even SQLite: something was there


def _erase(path: Path) -> None:
    for suffix in ("", "-journal", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


async def open_store(secrets: SecretStore, data_dir: Path | None) -> StoreOpened:
    """Open the cache with the key from ``secrets``; wipe it if the key can't open it.

    ``data_dir`` None: a new store in memory (a browser session of the web app).
    """
    if data_dir is None:
        fresh = AESGCM.generate_key(bit_length=256)
        await secrets.set(KEY_SECRET, base64.b64encode(fresh).decode())
        return StoreOpened(OfflineStore(None, fresh), wiped=False)
    path = data_dir / DB_NAME
    encoded = await secrets.get(KEY_SECRET)
    key = base64.b64decode(encoded) if encoded else None
    wiped = False
    if key is not None and len(key) == 32:
        try:
            return StoreOpened(OfflineStore(path, key), wiped=False)
        except (UnreadableStore, sqlite3.DatabaseError):
            pass
    if path.exists():
        wiped = _has_records(path)
        _erase(path)
    key = AESGCM.generate_key(bit_length=256)
    await secrets.set(KEY_SECRET, base64.b64encode(key).decode())
    return StoreOpened(OfflineStore(path, key), wiped=wiped)


async def destroy_store(store: OfflineStore, secrets: SecretStore) -> None:
    """Logout: erase the records and forget the key."""
    store.clear()
    await secrets.delete(KEY_SECRET)
