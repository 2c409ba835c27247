"""Claiming, completing and replaying idempotency keys (no HTTP here).

    KeyReused(Invalid)       the key was used with another method, path or body
    InProgress(Conflict)     another request holds the key and did not finish in time (retry after 1 s)
    ClaimLost(Conflict)      a stale claim was taken over by another request meanwhile

A request claims its key by inserting a pending row (primary key ``(user_id,
key)``) and committing, before the handler runs. The handler's writes and the
stored response then commit in one transaction (:func:`complete`). A second
request with the key finds the row: it replays the stored response, or polls
while the first one is still working; a claim older than ``STALE_CLAIM`` (a
crashed worker) may be taken over. A 5xx releases the claim (deletes the row).

The database may go away at any step (a restart). Whatever the client saw, a
retry with the same key then does the write once:

- the claim's commit got no answer: the row may exist, pending; it is released
  (below) so the retry need not wait for it to go stale;
- the handler's commit got no answer: if it happened, the row holds the stored
  response (``claim`` is None, so a release deletes nothing) and the retry
  replays it; if not, the pending row is released and the retry runs the
  handler again;
- the release itself fails (the database is still down): :class:`PendingReleases`
  retries it in the background until it succeeds or the claim goes stale.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from carnet_server.db import rowcount, utcnow
from carnet_server.domain_errors import Conflict, Invalid
from carnet_server.idempotency.tables import IdempotencyKey

__all__ = [
    "KEEP",
    "STALE_CLAIM",
    "ClaimLost",
    "InProgress",
    "KeyReused",
    "PendingReleases",
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

log = logging.getLogger("carnet_server.idempotency")


class KeyReused(Invalid):
    code = "idempotency_key_reused"


class InProgress(Conflict):
    code = "idempotency_in_progress"
    retry_after = 1


class ClaimLost(Conflict):
    code = "idempotency_in_progress"


@dataclass(frozen=True)
class Stored:
    """The response stored for a key."""

    status: int
    body: bytes


def new_token() -> str:
    return secrets.token_hex(16)


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
    return rowcount(result)


def _try_insert(sessions: sessionmaker[Session], *, user_id: str, key: str, fp: str, token: str) -> bool:
    with sessions() as session:
        now = utcnow()
        session.add(
            IdempotencyKey(user_id=user_id, key=key, fingerprint=fp, claim=token, claimed_at=now, created_at=now)
        )
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
    sessions: sessionmaker[Session],
    *,
    user_id: str,
    key: str,
    fp: str,
    wait: float | None = None,
    poll: float = 0.05,
    token: str | None = None,
) -> str | Stored:
    """Claim ``key`` for this request (returns the claim token), or the stored response to replay.

    Waits up to ``wait`` seconds for a request holding the key to finish. ``token`` (default: a new one)
    lets the caller release a claim whose commit went unanswered.
    """
    token = token or new_token()
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
                        .where(
                            IdempotencyKey.user_id == user_id,
                            IdempotencyKey.key == key,
                            IdempotencyKey.claim == row.claim,
                        )
                        .values(claim=token, claimed_at=utcnow())
                    )
                    session.commit()
                    if rowcount(taken) == 1:
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
    if rowcount(result) != 1:
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
        session.execute(
            delete(IdempotencyKey).where(
                IdempotencyKey.user_id == user_id, IdempotencyKey.key == key, IdempotencyKey.claim == token
            )
        )
        session.commit()


class PendingReleases:
    """Claims to give back once the database answers again: their release failed because it could not
    be reached (a restart). Without this a retry would wait for the claim to go stale (``STALE_CLAIM``).

    One daemon thread per process, started on demand, tries every ``interval`` seconds and ends when
    nothing is left; a claim stale by then is dropped (any request may take it over anyway). ``release``
    deletes only a row still holding the claim's token, so releasing a claim whose write did commit
    changes nothing.
    """

    def __init__(self, sessions: sessionmaker[Session], *, interval: float = 0.5) -> None:
        self._sessions = sessions
        self.interval = interval
        self._lock = threading.Lock()
        #: (user id, key, token) → monotonic time after which the claim is stale.
        self._items: dict[tuple[str, str, str], float] = {}
        self._thread: threading.Thread | None = None

    def add(self, *, user_id: str, key: str, token: str) -> None:
        with self._lock:
            self._items[(user_id, key, token)] = time.monotonic() + STALE_CLAIM.total_seconds()
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="idempotency-release", daemon=True)
                self._thread.start()

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def _run(self) -> None:
        while True:
            time.sleep(self.interval)  # the pace of retries against a database that is coming back
            with self._lock:
                items = list(self._items.items())
                if not items:
                    self._thread = None
                    return
            for (user_id, key, token), stale_at in items:
                if time.monotonic() < stale_at:
                    try:
                        release(self._sessions, user_id=user_id, key=key, token=token)
                    except SQLAlchemyError as exc:
                        log.info("idempotency claim not released yet (%s)", type(exc).__name__)
                        break  # still unreachable: try them all again next round
                with self._lock:
                    self._items.pop((user_id, key, token), None)
