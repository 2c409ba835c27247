"""What every request needs, made once per app: settings, database, hasher, keys."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from argon2 import PasswordHasher, Type
from joserfc.jwk import OctKey
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from carnet_server.db import make_engine, make_sessionmaker, run_migrations
from carnet_server.files import read_or_create_secret
from carnet_server.settings import Settings
from carnet_server.signing import KeyStore, ensure_signing_key

__all__ = ["Context", "build_context", "make_hasher"]


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
    return Context(
        settings=settings,
        engine=engine,
        sessions=make_sessionmaker(engine),
        hasher=hasher,
        access_key=OctKey.import_key(read_or_create_secret(settings.access_secret_path)),
        keys=KeyStore(settings.keys_dir),
        dummy_hash=hasher.hash("carnet-dummy-password"),
    )
