"""What a feature tells the sync engine about the records it carries (:class:`Syncable`).

The engine (:mod:`carnet.data.sync`) knows no record type: each feature registers one syncable
for its types, and the engine hands it, by type, the changes it pulls and the answers to the writes
it pushes. A new record type touches only its feature (its syncable, registered by the shell).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from carnet.data.outbox import OutboxItem
from carnet.data.records import SyncLedger
from carnet_contract import models as contract

__all__ = ["AnswersRefusals", "Syncable", "Upload"]


@dataclass(frozen=True)
class Upload:
    """An outbox item's bytes, sent as a multipart file upload instead of a JSON body."""

    data: bytes
    content_type: str
    file_name: str


class Syncable(Protocol):
    """One feature's records in the sync. Every method but ``read`` and ``upload`` runs inside the
    local transaction the engine opened (a page with its cursor; an answer with the item's removal)."""

    #: The record types it carries: pulled changes and outbox items of these types are its own.
    types: frozenset[str]
    #: Of those, the outbox types sent as a file upload (see :meth:`upload`).
    uploads: frozenset[str]

    def read(self, change: contract.SyncChange) -> Any:
        """A pulled change's record, validated (a ``ValidationError`` rejects the whole page before
        anything is written); what :meth:`apply` gets."""
        ...

    def apply(self, change: contract.SyncChange, record: Any) -> None:
        """Store a pulled change (an upsert or a deletion) in the page's transaction."""
        ...

    def settle(self, item: OutboxItem, answer: Any, ledger: SyncLedger) -> None:
        """The server accepted a write: store its version of the record and, for a creation, map the
        local id to the server's (``ledger.map_id``). ``answer`` None: a deletion already done."""
        ...

    def reset(self) -> None:
        """A full resync starts: drop every synced record of these types."""
        ...

    def upload(self, item: OutboxItem) -> Upload | None:
        """An upload item's bytes (None: they are gone, the item fails visibly)."""
        ...


@runtime_checkable
class AnswersRefusals(Protocol):
    """A syncable for which some refusals are answers, not sync failures (a donor who may not donate yet).

    The engine asks it about every 4xx rejection of its items, inside the local transaction that would
    remove the item: True means it kept the answer for the person (its own record, shown by its own
    screen) and the item leaves the outbox — no failed item, no sync warning. False: the usual failed item.
    """

    def refused(self, item: OutboxItem, exc: Any) -> bool: ...
