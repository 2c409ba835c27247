"""The sync engine: push the outbox, then pull the server's changes. No Flet, no httpx.

The transport is passed in (:class:`SyncTransport`; the app gives it its
:class:`~carnet.data.api.ApiClient`), so the engine is tested against a fake API.

Push: outbox items go one at a time, oldest first. The first network error
(or 5xx, 429, ``409 idempotency_in_progress``) stops the push, so later writes
never overtake earlier ones; the item waits with exponential backoff and
jitter (a Retry-After is honoured). A 4xx rejection marks the item failed with
the server's localised reason: it stays visible until the person retries or
discards it — unless its feature takes the refusal as an answer (a donor who
may not donate yet: :class:`~carnet.data.syncable.AnswersRefusals`), then the
item leaves and the feature shows the answer. An accepted write leaves the outbox in the same local transaction
that stores the server's version of the record — if the app dies before that
commit, the item is sent again with the same ``Idempotency-Key`` and the
server answers with the stored response, so nothing is created twice.

Records: the engine knows no record type. Each feature registers a
:class:`~carnet.data.syncable.Syncable` for the types it carries (the shell does, when it opens a
login): the engine hands it the pulled changes of its types (validated before, stored inside, the
page's transaction), the answers to its accepted writes (stored with the item's removal, ids mapped
in the :class:`~carnet.data.records.SyncLedger`), a full resync's reset, and, for its upload types
(incident photos), the bytes to send as a multipart file. Types nobody registered are skipped.

Pull: pages of ``GET /sync`` are applied each in one transaction together with
the cursor they lead to, so the cursor never runs ahead of the data. ``reset``
(or a cursor the server refuses with ``422 invalid_cursor``, after which the
pull restarts from an empty cursor) drops every synced record in the same
transaction as the first page. ``If-None-Match`` with the ETag of the last
caught-up page lets an unchanged account answer 304.

Errors::

    NetworkError           no answer: report.offline, items wait (retried as soon as a request succeeds)
    AuthError              raised to the caller (the session ends)
    PrivacyNoticeRequired  raised to the caller (the privacy notice first); the item stays as it was
    other ApiError         report.error (pull) or a failed/deferred item (push)
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Protocol

from pydantic import ValidationError

from carnet.core.ids import is_local_id
from carnet.data.api import (
    ApiError,
    AuthError,
    BadRequest,
    Conflict,
    HttpError,
    NetworkError,
    NotFound,
    PrivacyNoticeRequired,
    ProtocolError,
    RateLimited,
    ServerError,
    SyncAnswer,
)
from carnet.data.outbox import Backoff, Outbox, OutboxItem, OutboxState, WriteOp
from carnet.data.records import SyncLedger, SyncPosition
from carnet.data.syncable import AnswersRefusals, Syncable, Upload
from carnet_contract import models as contract

__all__ = ["SyncEngine", "SyncReport", "SyncTransport"]

log = logging.getLogger(__name__)

MAX_PAGES_PER_RUN = 1000
RETRYABLE_CONFLICTS = frozenset({"idempotency_in_progress"})
#: Answers after which a write may or may not have been done (its retry, with the same key, tells).
IN_DOUBT_STATUSES = frozenset({502, 503, 504})
IN_DOUBT = "in_doubt"


class SyncTransport(Protocol):
    async def sync(self, cursor: str = "", *, limit: int = 200, etag: str | None = None) -> SyncAnswer: ...

    async def send_write(self, method: str, path: str, body: dict[str, Any] | None, *, idempotency_key: str) -> Any: ...

    async def upload_photo(
        self, path: str, data: bytes, *, content_type: str, file_name: str, idempotency_key: str
    ) -> Any: ...


@dataclass
class SyncReport:
    pushed: int = 0
    rejected: int = 0
    #: Refusals that are answers (kept by their feature, not failed items: see ``AnswersRefusals``).
    answered: int = 0
    #: Changes applied from the server.
    pulled: int = 0
    not_modified: bool = False
    restarted: bool = False
    #: No answer from the server at some point.
    offline: bool = False
    #: A non-network problem, for the person (pull) — None when the run ended well.
    error: ApiError | None = None
    #: When the next outbox attempt is due (backoff), if one waits.
    retry_at: datetime | None = None
    errors: list[ApiError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.offline and self.error is None


def _transient(exc: ApiError) -> bool:
    if isinstance(exc, NetworkError | ServerError | RateLimited):
        return True
    return isinstance(exc, Conflict) and exc.code in RETRYABLE_CONFLICTS


class SyncEngine:
    def __init__(
        self,
        transport: SyncTransport,
        outbox: Outbox,
        ledger: SyncLedger,
        *,
        clock: Callable[[], datetime],
        syncables: Iterable[Syncable] = (),
        backoff: Backoff | None = None,
        page_limit: int = 200,
        describe: Callable[[ApiError], str] = str,
    ) -> None:
        self.transport = transport
        self.outbox = outbox
        self.ledger = ledger
        self._syncables: list[Syncable] = []
        #: Record type → the syncable that carries it.
        self._owners: dict[str, Syncable] = {}
        self._uploads: set[str] = set()
        for syncable in syncables:
            self.register(syncable)
        self.clock = clock
        self.backoff = backoff or Backoff()
        self.page_limit = page_limit
        #: Turns an error into the sentence kept on a failed item (the session localises).
        self.describe = describe

    def register(self, syncable: Syncable) -> None:
        """Carry a feature's record types from now on (each type has one owner)."""
        taken = syncable.types & self._owners.keys()
        if taken:
            raise ValueError(f"record types already registered: {sorted(taken)}")
        self._syncables.append(syncable)
        self._owners.update(dict.fromkeys(syncable.types, syncable))
        self._uploads |= syncable.uploads

    async def run(self) -> SyncReport:
        """Push, then pull; a request that succeeds after network failures frees the waiting items."""
        report = SyncReport()
        await self.push(report)
        if self._creation_in_doubt():
            # A creation went out and no answer came back: the server may hold it under an id
            # the phone does not know yet, and a pull now would show it twice (the pending local
            # copy and the server's). Try it again at once (its key replays the stored answer
            # and maps the ids); pull only once its fate is known.
            if report.offline or not self.outbox.network_is_back(self.clock()):
                return report
            await self.push(report)
            if self._creation_in_doubt():
                return report
        await self.pull(report)
        if not report.offline and self.outbox.network_is_back(self.clock()):
            await self.push(report)
        return report

    def _creation_in_doubt(self) -> bool:
        """A creation (or a photo upload: the server may hold it already) went out and no answer came back —
        or a 502/503/504, which may come after the write committed (the database dropped the connection
        while committing, a proxy gave up waiting)."""
        return any(
            i.state is OutboxState.PENDING
            and (i.op is WriteOp.CREATE or i.type in self._uploads)
            and i.error_kind in ("network", IN_DOUBT)
            for i in self.outbox.items()
        )

    # ---- push --------------------------------------------------------------------------------

    async def push(self, report: SyncReport | None = None) -> SyncReport:
        report = report or SyncReport()
        skipped: set[str] = set()
        while True:
            item = next(
                (i for i in self.outbox.items() if i.state is OutboxState.PENDING and i.id not in skipped), None
            )
            if item is None:
                return report
            now = self.clock()
            if not item.due(now):
                report.retry_at = item.next_attempt_at
                return report  # the oldest waiting item goes first: keep the order
            path = self._resolve(item)
            if path is None:
                if self._blocked(item):
                    skipped.add(item.id)  # its record's creation failed: wait with it
                else:
                    self.outbox.fail(item, self.describe(NotFound(404, "not_found", "")))
                    report.rejected += 1
                continue
            upload: Upload | None = None
            if item.type in self._uploads:
                upload = self._owners[item.type].upload(item)
                if upload is None:  # its bytes are gone (should not happen): say so, never drop it silently
                    self.outbox.fail(item, self.describe(NotFound(404, "photo_not_found", "")))
                    report.rejected += 1
                    continue
            try:
                if upload is not None:
                    result = await self.transport.upload_photo(
                        path,
                        upload.data,
                        content_type=upload.content_type,
                        file_name=upload.file_name,
                        idempotency_key=item.key,
                    )
                else:
                    result = await self.transport.send_write(item.method, path, item.body, idempotency_key=item.key)
            except (AuthError, PrivacyNoticeRequired):
                raise
            except ApiError as exc:
                if item.op is WriteOp.DELETE and isinstance(exc, NotFound):
                    self._apply_push_result(item, None)  # already gone: what was wanted
                    report.pushed += 1
                    continue
                if _transient(exc):
                    self._defer(item, exc, report)
                    return report
                if self._answered(item, exc):
                    report.answered += 1
                    continue
                self.outbox.fail(item, self.describe(exc))
                report.rejected += 1
                report.errors.append(exc)
                continue
            try:
                self._apply_push_result(item, result)
            except (ValidationError, KeyError, TypeError) as exc:
                log.warning("outbox item answer is not a %s: %s", item.type, type(exc).__name__)
                self.outbox.fail(item, self.describe(ProtocolError("bad answer")))
                report.rejected += 1
                continue
            report.pushed += 1

    def _resolve(self, item: OutboxItem) -> str | None:
        if "{record}" not in item.path:
            return item.path
        server_id = self.ledger.server_id(item.record_id)
        return item.path.replace("{record}", server_id) if server_id else None

    def _blocked(self, item: OutboxItem) -> bool:
        return is_local_id(item.record_id) and any(
            i.op is WriteOp.CREATE and i.record_id == item.record_id for i in self.outbox.items()
        )

    def _defer(self, item: OutboxItem, exc: ApiError, report: SyncReport) -> None:
        network = isinstance(exc, NetworkError)
        retry_after = exc.retry_after if isinstance(exc, HttpError) else None
        delay = self.backoff.delay(item.attempts + 1, retry_after=retry_after)
        until = self.clock() + timedelta(seconds=delay)
        if network:
            kind = "network"
        elif isinstance(exc, ServerError) and exc.status in IN_DOUBT_STATUSES:
            kind = IN_DOUBT  # it may have been done: no pull until its retry tells (see run)
        else:
            kind = "server"
        self.outbox.defer(item, until=until, error=None if network else self.describe(exc), error_kind=kind)
        report.retry_at = until
        report.offline = report.offline or network
        if not network:
            report.errors.append(exc)

    def _answered(self, item: OutboxItem, exc: ApiError) -> bool:
        """A refusal its syncable keeps as an answer (see :class:`AnswersRefusals`): the item leaves, in one
        local transaction with what the syncable stored."""
        owner: object = self._owners.get(item.type)
        if not isinstance(owner, AnswersRefusals):
            return False
        with self.ledger.transaction():
            if not owner.refused(item, exc):
                return False
            self.outbox.complete(item.id)
        return True

    def _apply_push_result(self, item: OutboxItem, result: Any) -> None:
        """The server's answer (stored by the item's syncable) and the item's removal, in one local transaction."""
        with self.ledger.transaction():
            owner = self._owners.get(item.type)
            if owner is not None:
                owner.settle(item, result, self.ledger)
            self.outbox.complete(item.id)

    # ---- pull --------------------------------------------------------------------------------

    async def pull(self, report: SyncReport | None = None) -> SyncReport:
        report = report or SyncReport()
        restarted = False
        for _ in range(MAX_PAGES_PER_RUN):
            position = self.ledger.position()
            etag = position.etag if position.cursor and position.etag_cursor == position.cursor else None
            try:
                answer = await self.transport.sync(position.cursor, limit=self.page_limit, etag=etag)
            except (AuthError, PrivacyNoticeRequired):
                raise
            except BadRequest as exc:
                if exc.code == "invalid_cursor" and not restarted:
                    restarted = report.restarted = True
                    with self.ledger.transaction():
                        self.ledger.save_position(
                            SyncPosition(needs_reset=True, last_success_at=position.last_success_at)
                        )
                    continue
                report.error = exc
                return report
            except NetworkError:
                report.offline = True
                return report
            except ApiError as exc:
                report.error = exc
                return report
            if answer.page is None:
                report.not_modified = True
                break
            try:
                self._apply_page(answer.page, answer.etag, position)
            except ValidationError as exc:
                report.error = ProtocolError(f"sync page: {exc.error_count()} invalid fields")
                return report
            report.pulled += len(answer.page.changes)
            if not answer.page.has_more:
                break
        with self.ledger.transaction():
            self.ledger.save_position(replace(self.ledger.position(), last_success_at=self.clock()))
        return report

    def _apply_page(self, page: contract.SyncPage, etag: str | None, before: SyncPosition) -> None:
        """A page's records and the cursor it leads to, in one local transaction (each record checked first)."""
        read = [
            (change, owner, owner.read(change))
            for change in page.changes
            if (owner := self._owners.get(change.type)) is not None
        ]
        with self.ledger.transaction():
            if page.reset or before.needs_reset:
                for syncable in self._syncables:
                    syncable.reset()
            for change, owner, record in read:
                owner.apply(change, record)
            caught_up = not page.has_more
            self.ledger.save_position(
                SyncPosition(
                    cursor=page.cursor,
                    etag=etag if caught_up else None,
                    etag_cursor=page.cursor if caught_up and etag else None,
                    last_success_at=before.last_success_at,
                )
            )
