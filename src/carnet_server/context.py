"""What every request needs, made once per app: settings, database, hasher, keys."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from argon2 import PasswordHasher, Type
from joserfc.jwk import OctKey
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from carnet_server.db import make_engine, make_sessionmaker, run_migrations
from carnet_server.files import read_or_create_secret
from carnet_server.memo import CommitWatch, Kept, MemoCache, commit_watch, watch_writes
from carnet_server.settings import Settings
from carnet_server.signing import KeyStore, ensure_signing_key

if TYPE_CHECKING:  # both need the Context
    from carnet_server.auth.service import Principal
    from carnet_server.patients.service import CarnetAnswer
    from carnet_server.sync.router import SyncAnswer

__all__ = [
    "AUTH_TABLES",
    "CARNET_TABLES",
    "ME_TABLES",
    "SYNC_TABLES",
    "Context",
    "build_context",
    "make_hasher",
]

#: What the caller's lookup reads (auth/service.py ``session_principal``).
AUTH_TABLES = ("users", "auth_sessions")
#: What a carnet read reads (patients/service.py ``carnet_answer``; tests/server/test_memo.py checks the list).
CARNET_TABLES = (
    "patients",
    "guardian_patients",
    "medical_units",
    "unit_emergency",
    "diagnoses",
    "protocols",
    "cycles",
    "cycle_drugs",
    "dispensations",
    "qr_tokens",
)

#: What ``GET /api/v1/me`` reads (auth/router.py ``_me``; tests/server/test_memo.py checks the list).
ME_TABLES = (
    "users",
    "guardian_patients",
    "patients",
    "account_closure_requests",
    "user_units",
    "medical_units",
    "unit_emergency",
)

#: What says whether a guardian's sync page is empty (sync/service.py ``page``: her links, the children's changes).
SYNC_TABLES = ("guardian_patients", "sync_state")


def make_hasher(settings: Settings) -> PasswordHasher:
    return PasswordHasher(
        time_cost=settings.argon2_time_cost,
        memory_cost=settings.argon2_memory_cost,
        parallelism=settings.argon2_parallelism,
        type=Type.ID,
    )


@dataclass
class Context:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    hasher: PasswordHasher
    access_key: OctKey
    keys: KeyStore
    dummy_hash: str  # verified against for unknown usernames, so both cost the same
    #: Access token → its caller (auth/deps.py), for a few seconds (memo.py).
    auth_cache: MemoCache[str, Principal]
    #: (guardian, child, day) → the carnet's JSON and its QR's id (patients/router.py), for a few seconds.
    carnet_cache: MemoCache[tuple[str, str, date], CarnetAnswer]
    #: (guardian, page size, cursor) → a sync page's JSON and ETag (sync/router.py).
    sync_cache: MemoCache[tuple[str, int, str], SyncAnswer]
    #: (caller, privacy notice in force) → the JSON of ``GET /api/v1/me`` (auth/router.py).
    me_cache: MemoCache[tuple[str, str], Kept]
    #: Whether anything was committed to the database since a moment, by anyone (memo.py).
    commits: CommitWatch

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.settings.timezone)

    def today(self, now: datetime) -> date:
        return now.astimezone(self.tz).date()


def build_context(settings: Settings, *, migrate: bool = True) -> Context:
    """Open the database (migrating it), and load or create the secrets in the data dir."""
    settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    engine = make_engine(settings)
    if migrate:
        run_migrations(engine)
    ensure_signing_key(settings)
    hasher = make_hasher(settings)
    sessions = make_sessionmaker(engine)
    auth_cache: MemoCache[str, Principal] = MemoCache(settings.cache_seconds, AUTH_TABLES)
    carnet_cache: MemoCache[tuple[str, str, date], CarnetAnswer] = MemoCache(settings.cache_seconds, CARNET_TABLES)
    sync_cache: MemoCache[tuple[str, int, str], SyncAnswer] = MemoCache(settings.cache_seconds, SYNC_TABLES)
    me_cache: MemoCache[tuple[str, str], Kept] = MemoCache(settings.cache_seconds, ME_TABLES)
    clear = watch_writes(engine, sessions, [auth_cache, carnet_cache, sync_cache, me_cache])
    return Context(
        settings=settings,
        engine=engine,
        sessions=sessions,
        hasher=hasher,
        access_key=OctKey.import_key(read_or_create_secret(settings.access_secret_path)),
        keys=KeyStore(settings.keys_dir),
        dummy_hash=hasher.hash("carnet-dummy-password"),
        auth_cache=auth_cache,
        carnet_cache=carnet_cache,
        sync_cache=sync_cache,
        me_cache=me_cache,
        commits=commit_watch(engine, on_commit=clear),
    )
