"""The change sequence and the sync pages (no HTTP here).

    InvalidCursor(Invalid)      malformed, forged, or another user's cursor

Which records a page carries is up to a :class:`SyncRegistry`: one loader per
record type of the contract (``SyncType``), registered by ``create_app`` — a
domain module registers nothing when imported.

Every write to a synced record calls :func:`touch` (or :func:`touch_many`, or :func:`touch_records` for
records of several types) in the writing transaction. It takes the next number from the single-row
``sync_counter`` with ``UPDATE … SET value = value + 1 RETURNING value`` and stores it as the record's ``seq``
in ``sync_state`` (deletes keep the row as a tombstone). The UPDATE locks the counter row until the
transaction ends, so on PostgreSQL no other writer can take a higher number before this one commits or rolls
back (a rollback gives the number back): commit order is seq order, and a reader that has seen seq N has
already seen every change numbered below N — none can commit later with a smaller number and be skipped.
SQLite serialises writers anyway. Touch last, right before the commit, to hold the lock briefly.

The cursor is opaque: ``c1.<payload>.<mac>`` with the user id, the last seq
delivered and a short hash of the linked children, MACed with a key derived
from the server's access-token secret.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Integer, bindparam, insert, select, update
from sqlalchemy.orm import Session

from carnet_contract import models as contract
from carnet_contract.models import SyncType
from carnet_server.context import Context
from carnet_server.db import dialect_insert
from carnet_server.domain_errors import Invalid
from carnet_server.patients.tables import GuardianPatient
from carnet_server.sync.tables import SyncCounter, SyncState

__all__ = [
    "Cursor",
    "InvalidCursor",
    "Loader",
    "SyncRegistry",
    "decode_cursor",
    "encode_cursor",
    "linked_patient_ids",
    "page",
    "touch",
    "touch_many",
    "touch_records",
]

COUNTER_ID = 1
MAX_CURSOR_LENGTH = 256
_CURSOR_PREFIX = "c1"
_MAC_BYTES = 16

#: Batch loader of one record type: ids → the record's response model as JSON-ready dicts.
Loader = Callable[[Session, Sequence[str]], Mapping[str, dict[str, Any]]]


class InvalidCursor(Invalid):
    code = "invalid_cursor"


class SyncRegistry:
    """The loader of each synced record type (one per app, filled by ``create_app``)."""

    def __init__(self) -> None:
        self._loaders: dict[str, Loader] = {}

    def register(self, sync_type: SyncType | str, loader: Loader) -> None:
        """Make ``sync_type`` records appear in sync pages; a type the contract does not know, or a second
        loader for one, is a ValueError."""
        name = SyncType(sync_type).value
        if name in self._loaders:
            raise ValueError(f"sync type {name!r} already has a loader")
        self._loaders[name] = loader

    def types(self) -> set[str]:
        return set(self._loaders)

    def check_complete(self) -> None:
        """Every record type of the contract has its loader (else RuntimeError, naming the missing ones)."""
        missing = sorted({t.value for t in SyncType} - self._loaders.keys())
        if missing:
            raise RuntimeError(f"no sync loader for {', '.join(missing)}")

    def loaders(self) -> Mapping[str, Loader]:
        return dict(self._loaders)


# ---- writing ------------------------------------------------------------------


_COUNTER = SyncCounter.__table__
#: Reserves ``count`` sequence numbers, returning the last one (row-locks the counter). Built once, over the table
#: rather than the mapped class: the ORM's bulk-update path tripled the cost of this statement (#20).
_TAKE = (
    update(_COUNTER)
    .where(_COUNTER.c.id == COUNTER_ID)
    .values(value=_COUNTER.c.value + bindparam("count", type_=Integer))
    .returning(_COUNTER.c.value)
)


def _take(session: Session, count: int) -> int:
    """Reserve ``count`` sequence numbers; returns the last one (row-locks the counter)."""
    value = session.execute(_TAKE, {"count": count}).scalar_one_or_none()
    if value is None:  # a database made without the migration that seeds the row
        session.execute(insert(SyncCounter).values(id=COUNTER_ID, value=0))
        value = session.execute(_TAKE, {"count": count}).scalar_one()
    return int(value)


@functools.cache
def _upsert(dialect_insert: Callable[..., Any]) -> Any:
    """A record's first change inserts its row, a later one moves it to its new seq: one statement, no read of
    which rows exist first; built once per database kind (#20)."""
    statement = dialect_insert(SyncState.__table__)
    return statement.on_conflict_do_update(
        index_elements=["type", "record_id"],
        set_={
            "patient_id": statement.excluded.patient_id,
            "seq": statement.excluded.seq,
            "deleted": statement.excluded.deleted,
        },
    )


def touch(session: Session, *, type: SyncType, record_id: str, patient_id: str, deleted: bool = False) -> int:  # noqa: A002 — "type" as on the wire
    """Record a change of one synced record in the caller's transaction; returns its seq."""
    return touch_many(session, type=type, changes=[(record_id, patient_id, deleted)])


def touch_many(session: Session, *, type: SyncType, changes: Sequence[tuple[str, str, bool]]) -> int:  # noqa: A002 — "type" as on the wire
    """Record changes ``(record_id, patient_id, deleted)`` in order with one counter update; returns the last seq."""
    return touch_records(session, [(type, *change) for change in changes])


def touch_records(session: Session, changes: Sequence[tuple[SyncType, str, str, bool]]) -> int:
    """Record changes ``(type, record_id, patient_id, deleted)`` of records of any types, in order, with one
    counter update and one statement for their rows; returns the last seq."""
    if not changes:
        return 0
    session.flush()
    last = _take(session, len(changes))
    first = last - len(changes) + 1
    rows = [
        {"type": type_.value, "record_id": record_id, "patient_id": patient_id, "seq": first + i, "deleted": deleted}
        for i, (type_, record_id, patient_id, deleted) in enumerate(changes)
    ]
    session.execute(_upsert(dialect_insert(session)), rows)
    return last


# ---- cursors --------------------------------------------------------------------


@dataclass(frozen=True)
class Cursor:
    user_id: str
    seq: int
    links: str


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _cursor_key(ctx: Context) -> bytes:
    # A key of its own, derived from the access-token secret: a cursor is never a token.
    return hmac.new(ctx.access_key.raw_value, b"carnet/sync-cursor/v1", hashlib.sha256).digest()


def _mac(ctx: Context, payload: bytes) -> bytes:
    return hmac.new(_cursor_key(ctx), payload, hashlib.sha256).digest()[:_MAC_BYTES]


def links_hash(patient_ids: Iterable[str]) -> str:
    """A short hash of the set of linked children."""
    return hashlib.sha256(",".join(sorted(patient_ids)).encode("utf-8")).hexdigest()[:16]


def encode_cursor(ctx: Context, cursor: Cursor) -> str:
    payload = f"{cursor.user_id}:{cursor.seq}:{cursor.links}".encode("ascii")
    return f"{_CURSOR_PREFIX}.{_b64(payload)}.{_b64(_mac(ctx, payload))}"


def decode_cursor(ctx: Context, text: str, *, user_id: str) -> Cursor:
    """The cursor, if genuine and the caller's; else :class:`InvalidCursor`."""
    parts = text.split(".")
    if len(text) > MAX_CURSOR_LENGTH or len(parts) != 3 or parts[0] != _CURSOR_PREFIX:
        raise InvalidCursor()
    try:
        payload, mac = _unb64(parts[1]), _unb64(parts[2])
    except (binascii.Error, ValueError) as exc:
        raise InvalidCursor() from exc
    if not hmac.compare_digest(mac, _mac(ctx, payload)):
        raise InvalidCursor()
    try:
        owner, seq_text, links = payload.decode("ascii").split(":")
        seq = int(seq_text)
    except ValueError as exc:
        raise InvalidCursor() from exc
    if owner != user_id or seq < 0:
        raise InvalidCursor()
    return Cursor(owner, seq, links)


# ---- reading --------------------------------------------------------------------


# The two reads of every sync, unchanged ones too: Core statements built once, run on the session's connection
# (no per-request statement building or ORM result processing: #20).
_LINKED = select(GuardianPatient.patient_id).where(GuardianPatient.user_id == bindparam("user_id"))
_AFTER = (
    select(SyncState.type, SyncState.record_id, SyncState.seq, SyncState.deleted)
    .where(SyncState.patient_id.in_(bindparam("patient_ids", expanding=True)), SyncState.seq > bindparam("after"))
    .order_by(SyncState.seq)
    .limit(bindparam("rows"))
)


def linked_patient_ids(session: Session, *, user_id: str) -> list[str]:
    return sorted(session.connection().execute(_LINKED, {"user_id": user_id}).scalars())


def page(
    session: Session, *, ctx: Context, registry: SyncRegistry, user_id: str, cursor: str, limit: int
) -> contract.SyncPage:
    """The changes after ``cursor`` to the caller's children, in seq order (``limit`` at most); records of a
    type without a loader in ``registry`` are left out."""
    patient_ids = linked_patient_ids(session, user_id=user_id)
    links = links_hash(patient_ids)
    after, reset = 0, False
    if cursor:
        decoded = decode_cursor(ctx, cursor, user_id=user_id)
        if decoded.links == links:
            after = decoded.seq
        else:  # children linked or unlinked since: start again from the beginning
            reset = True
    rows = (
        session.connection().execute(_AFTER, {"patient_ids": patient_ids, "after": after, "rows": limit + 1}).all()
        if patient_ids
        else []
    )
    has_more = len(rows) > limit
    rows = rows[:limit]
    loaders = registry.loaders()
    data: dict[str, Mapping[str, dict[str, Any]]] = {}
    for sync_type, loader in loaders.items():
        ids = [r.record_id for r in rows if r.type == sync_type and not r.deleted]
        if ids:
            data[sync_type] = loader(session, ids)
    changes: list[contract.SyncChange] = []
    for row in rows:
        if row.type not in loaders:
            continue
        record = None if row.deleted else data.get(row.type, {}).get(row.record_id)
        changes.append(
            contract.SyncChange(
                type=row.type, id=row.record_id, op="delete" if record is None else "upsert", data=record
            )
        )
    last = rows[-1].seq if rows else after
    next_cursor = encode_cursor(ctx, Cursor(user_id, last, links))
    return contract.SyncPage(cursor=next_cursor, has_more=has_more, reset=reset, changes=changes)
