"""Claiming, completing and replaying idempotency keys (no HTTP here).

    IdempotencyError
     ├── KeyReused        the key was used with another method, path or body
     ├── InProgress       another request holds the key and did not finish in time
     └── ClaimLost        a stale claim was taken over by another request meanwhile

A request claims its key by inserting a pending row (primary key ``(user_id,
key)``) and committing, before the handler runs. The handler's writes and the
stored response then commit in one transaction (:func:`complete`). A second
request with the key finds the row: it replays the stored response, or polls
while the first one is still working; a claim older than ``STALE_CLAIM`` (a
crashed worker) may be taken over. A 5xx releases the claim (deletes the row).
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from carnet_server.db import utcnow
from carnet_server.idempotency.tables import IdempotencyKey

__all__ = [
    "KEEP",
    "STALE_CLAIM",
    "ClaimLost",
    "IdempotencyError",
    "InProgress",
    "KeyReused",
    "Stored",
    "claim",
    "complete",
    "fingerprint",
    "purge",
    "release",
    "store",
]

KEEP = timedelta(hours=48)  # rows live at least 24 h; older than 48 h are purged
STALE_CLAIM = timedelta(seconds=60)
WAIT_SECONDS = 10.0
PURGE_ONE_IN = 64


class IdempotencyError(Exception):
    pass


class KeyReused(IdempotencyError):
    pass


class InProgress(IdempotencyError):
    pass


class ClaimLost(IdempotencyError):
    pass


@dataclass(frozen=True)
class Stored:
    """The response stored for a key."""

    status: int
    body: bytes


def fingerprint(method: str, path: str, body: bytes) -> str:
    """SHA-256 of the method, the path and the body as canonical JSON (raw bytes if not JSON)."""
    try:
        canonical = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        payload = canonical.encode("utf-8")
    except (ValueError, UnicodeDecodeError):
        payload = body
    digest = hashlib.sha256(f"{method.upper()}\n{path}\n".encode())
    digest.update(payload)
    return digest.hexdigest()


def purge(session: Session, *, now: datetime | None = None) -> int:
    """Delete keys older than :data:`KEEP` (the caller commits)."""
    cutoff = (now or utcnow()) - KEEP
    result = session.execute(delete(IdempotencyKey).where(IdempotencyKey.created_at < cutoff))
    return int(result.rowcount)  # type: ignore[attr-defined]


def _try_insert(sessions: sessionmaker[Session], *, user_id: str, key: str, fp: str, token: str) -> bool:
    with sessions() as session:
        now = utcnow()
        session.add(IdempotencyKey(user_id=user_id, key=key, fingerprint=fp, claim=token,
                                   claimed_at=now, created_at=now))
        try:
            session.commit()
        except IntegrityError:
            session.rollback()
            return False
        if secrets.randbelow(PURGE_ONE_IN) == 0:
            purge(session, now=now)
            session.commit()
        return True


def claim(
    sessions: sessionmaker[Session], *, user_id: str, key: str, fp: str, wait: float | None = None,
    poll: float = 0.05,
) -> str | Stored:
    """Claim ``key`` for this request (returns the claim token), or the stored response to replay.

    Waits up to ``wait`` seconds for a request holding the key to finish.
    """
    token = secrets.token_hex(16)
    deadline = time.monotonic() + (WAIT_SECONDS if wait is None else wait)
    while True:
        if _try_insert(sessions, user_id=user_id, key=key, fp=fp, token=token):
            return token
        with sessions() as session:
            row = session.get(IdempotencyKey, (user_id, key))
            if row is not None:
                if row.fingerprint != fp:
                    raise KeyReused()
                if row.claim is None and row.status_code is not None and row.response_body is not None:
                    return Stored(row.status_code, row.response_body)
                if row.claimed_at < utcnow() - STALE_CLAIM:
                    taken = session.execute(
                        update(IdempotencyKey)
                        .where(IdempotencyKey.user_id == user_id, IdempotencyKey.key == key,
                               IdempotencyKey.claim == row.claim)
                        .values(claim=token, claimed_at=utcnow())
                    )
                    session.commit()
                    if taken.rowcount == 1:  # type: ignore[attr-defined]
                        return token
        if time.monotonic() >= deadline:
            raise InProgress()
        time.sleep(poll)  # poll interval while another request holds the key
        poll = min(poll * 1.5, 0.25)


def complete(session: Session, *, user_id: str, key: str, token: str, status: int, body: bytes) -> None:
    """Store the response in the caller's transaction (with the handler's writes)."""
    result = session.execute(
        update(IdempotencyKey)
        .where(IdempotencyKey.user_id == user_id, IdempotencyKey.key == key, IdempotencyKey.claim == token)
        .values(claim=None, status_code=status, response_body=body)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise ClaimLost()


def store(sessions: sessionmaker[Session], *, user_id: str, key: str, token: str, status: int, body: bytes) -> None:
    """Store a response in a transaction of its own (an error the handler raised)."""
    with sessions() as session:
        try:
            complete(session, user_id=user_id, key=key, token=token, status=status, body=body)
        except ClaimLost:
            session.rollback()
            return
        session.commit()


def release(sessions: sessionmaker[Session], *, user_id: str, key: str, token: str) -> None:
    """Give the key back (after a 5xx): the next retry runs the handler again."""
    with sessions() as session:
        session.execute(delete(IdempotencyKey).where(
            IdempotencyKey.user_id == user_id, IdempotencyKey.key == key, IdempotencyKey.claim == token))
        session.commit()
