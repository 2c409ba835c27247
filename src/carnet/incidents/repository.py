"""Incident reports ("Reportar un problema"): synced incidents, queued writes laid over them, pure rules.

:class:`IncidentRepository` reads and writes one user's synced incidents in the
offline store (written by the sync, type ``incident``), so "Mis reportes" opens
offline. :func:`merge` lays the outbox over them: a report just made shows at
once as pending ("Pendiente de enviar", no folio yet); a reopening waits as
pending too; a rejection shows the server's reason. Never the network, no Flet.

Photos of a report travel as their own outbox items (type ``incident_photo``,
``POST /incidents/{record}/photos``), queued right behind the report's
creation: they wait until the report has its server id, then go one by one,
each with its own ``Idempotency-Key`` (a lost answer is replayed by the
server, never stored twice). Their bytes wait in the encrypted store
(kind ``incident_photo_draft``, keyed by the outbox item); photos the server
holds are kept there too, as thumbnails only (kind ``incident_photo_thumb``,
keyed by the photo id) — nothing of them in plain files. Each photo is prepared
on the phone when picked (:mod:`carnet.incidents.photos`: upright, at most 1600 px,
a JPEG with no metadata): the outbox holds that copy and a small thumbnail,
and the screens draw only thumbnails.

The case desk's queue rules (:func:`queue_order`, :func:`filter_queue`) and the
deadline sentence (:func:`deadline_text`) live here too, so they are tested
without a screen.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import TypedDict, TypeVar

from pydantic import ValidationError

from carnet.core.i18n import Translator
from carnet.data.outbox import OutboxItem, OutboxState, WriteOp
from carnet.data.records import Mark
from carnet.data.store import OfflineStore
from carnet.incidents.photos import PNG
from carnet_contract import models as contract

__all__ = [
    "INCIDENTS_PATH",
    "PHOTOS_PATH",
    "PHOTO_TYPE",
    "REOPEN_PATH",
    "IncidentChange",
    "IncidentRepository",
    "IncidentView",
    "PendingPhoto",
    "PhotoDraft",
    "ShownPhoto",
    "can_reopen",
    "deadline_text",
    "filter_queue",
    "merge",
    "monday_of",
    "queue_order",
]

INCIDENTS_PATH = "/api/v1/incidents"
REOPEN_PATH = INCIDENTS_PATH + "/{record}/reopen"
PHOTOS_PATH = INCIDENTS_PATH + "/{record}/photos"
#: The outbox type of a photo upload (its record is the incident).
PHOTO_TYPE = "incident_photo"
#: Categories whose report names the missing item (the server requires it).
NEEDS_ITEM = frozenset({contract.IncidentCategory.MEDICAMENTO, contract.IncidentCategory.INSUMO})


@dataclass(frozen=True)
class PhotoDraft:
    """A photo chosen for a report, prepared, waiting to be sent (kept encrypted on the phone)."""

    id: str
    content_type: str
    #: What is uploaded: the prepared JPEG (upright, at most 1600 px, no metadata), never the original.
    data: bytes
    #: The picked file's name, shown in messages only (never sent: the upload is called "foto.jpg").
    name: str = ""
    #: The small copy the screens draw (never the whole photo).
    thumb: bytes = b""

    @property
    def upload_name(self) -> str:
        return "foto.png" if self.content_type == PNG else "foto.jpg"


class IncidentChange(StrEnum):
    CREATE = "create"
    REOPEN = "reopen"


@dataclass(frozen=True)
class PendingPhoto:
    """A photo of a report still in the outbox: waiting, or refused by the server (with its reason)."""

    item_id: str
    mark: Mark
    error: str | None = None


@dataclass(frozen=True)
class ShownPhoto:
    """A photo as the report screen draws it: the server's (``key`` = photo id) or one waiting to be sent
    (``key`` = outbox item id). ``data`` is its thumbnail; None while it is not on the phone yet."""

    key: str
    data: bytes | None
    mark: Mark = Mark.SYNCED
    error: str | None = None


@dataclass(frozen=True)
class IncidentView:
    """A report as the family sees it: the server's, or one still waiting in the outbox."""

    id: str
    patient_id: str
    category: contract.IncidentCategory
    description: str
    item_name: str | None
    #: None while the creation waits for the server.
    incident: contract.Incident | None
    created_at: datetime
    mark: Mark = Mark.SYNCED
    change: IncidentChange | None = None
    error: str | None = None
    item_id: str | None = None
    #: The reason of a reopening still waiting to be sent.
    pending_reason: str | None = None
    #: Photos still in the outbox, oldest first.
    photos: tuple[PendingPhoto, ...] = ()

    @property
    def folio(self) -> str | None:
        return self.incident.folio if self.incident else None

    @property
    def status(self) -> contract.IncidentStatus | None:
        return self.incident.status if self.incident else None


class IncidentRepository:
    """One user's synced incidents in the offline store."""

    INCIDENT = "incident"
    THUMB = "incident_photo_thumb"
    DRAFT = "incident_photo_draft"

    def __init__(self, store: OfflineStore, user_id: str) -> None:
        self._store = store
        self.user_id = user_id

    def transaction(self) -> AbstractContextManager[None]:
        return self._store.transaction()

    def incidents(self) -> dict[str, contract.Incident]:
        found = {}
        for key, record in self._store.get_kind(self.user_id, self.INCIDENT).items():
            try:
                found[key] = contract.Incident.model_validate(record.value)
            except ValidationError:
                continue
        return found

    def incident(self, incident_id: str) -> contract.Incident | None:
        record = self._store.get(self.user_id, self.INCIDENT, incident_id)
        if record is None:
            return None
        try:
            return contract.Incident.model_validate(record.value)
        except ValidationError:
            return None

    def put_incident(self, incident: contract.Incident) -> None:
        self._store.put(self.user_id, self.INCIDENT, incident.id, incident.model_dump(mode="json"))

    def delete_incident(self, incident_id: str) -> None:
        self._store.delete(self.user_id, self.INCIDENT, incident_id)

    def clear_incidents(self) -> None:
        self._store.delete_kind(self.user_id, self.INCIDENT)

    # photos waiting to be sent (keyed by their outbox item), thumbnails of the server's photos (by photo id)
    def put_draft(self, item_id: str, draft: PhotoDraft) -> None:
        self._store.put(
            self.user_id,
            self.DRAFT,
            item_id,
            {
                "content_type": draft.content_type,
                "name": draft.name,
                "id": draft.id,
                "data": base64.b64encode(draft.data).decode("ascii"),
                "thumb": base64.b64encode(draft.thumb).decode("ascii"),
            },
        )

    def draft(self, item_id: str) -> PhotoDraft | None:
        record = self._store.get(self.user_id, self.DRAFT, item_id)
        if record is None:
            return None
        value = record.value
        try:
            return PhotoDraft(
                id=str(value["id"]),
                content_type=str(value["content_type"]),
                data=base64.b64decode(value["data"]),
                name=str(value.get("name", "")),
                thumb=base64.b64decode(value.get("thumb", "")),
            )
        except (KeyError, TypeError, ValueError):
            return None

    def delete_draft(self, item_id: str) -> None:
        self._store.delete(self.user_id, self.DRAFT, item_id)

    def put_thumb(self, photo_id: str, thumb: bytes) -> None:
        """The thumbnail of a server photo (all the phone keeps of it: the screens show nothing larger)."""
        self._store.put(self.user_id, self.THUMB, photo_id, base64.b64encode(thumb).decode("ascii"))

    def thumb(self, photo_id: str) -> bytes | None:
        record = self._store.get(self.user_id, self.THUMB, photo_id)
        if record is None or not isinstance(record.value, str):
            return None
        try:
            return base64.b64decode(record.value)
        except ValueError:
            return None

    def prune_photos(self, *, keep_photos: set[str], keep_drafts: set[str]) -> None:
        """Forget thumbnails of reports no longer on the phone, and drafts whose outbox item is gone."""
        self._store.delete_kind(self.user_id, self.THUMB, keep=keep_photos)
        self._store.delete_kind(self.user_id, self.DRAFT, keep=keep_drafts)


# ---- pure functions ------------------------------------------------------------------------


def _view(incident: contract.Incident) -> IncidentView:
    return IncidentView(
        id=incident.id,
        patient_id=incident.patient_id,
        category=incident.category,
        description=incident.description,
        item_name=incident.item_name,
        incident=incident,
        created_at=incident.created_at,
    )


class _Marks(TypedDict):
    """What an outbox item says about an ``IncidentView``."""

    mark: Mark
    error: str | None
    item_id: str | None


def merge(
    synced: dict[str, contract.Incident],
    outbox: Iterable[OutboxItem],
    server_id: Callable[[str], str | None] = lambda rid: rid,
) -> list[IncidentView]:
    """Synced incidents with the outbox's incident writes applied in order; newest first."""
    views: dict[str, IncidentView] = {key: _view(value) for key, value in synced.items()}
    for item in outbox:
        if item.type == PHOTO_TYPE:
            rid = server_id(item.record_id) or item.record_id
            current = views.get(rid)
            if current is not None:
                failed = item.state is OutboxState.FAILED
                photo = PendingPhoto(
                    item_id=item.id, mark=Mark.FAILED if failed else Mark.PENDING, error=item.error if failed else None
                )
                views[rid] = replace(current, photos=(*current.photos, photo))
            continue
        if item.type != contract.SyncType.INCIDENT:
            continue
        rid = server_id(item.record_id) or item.record_id
        mark = Mark.FAILED if item.state is OutboxState.FAILED else Mark.PENDING
        marks: _Marks = {"mark": mark, "error": item.error if mark is Mark.FAILED else None, "item_id": item.id}
        current = views.get(rid)
        body = item.body or {}
        if item.op is WriteOp.CREATE:
            if current is not None:
                continue
            try:
                category = contract.IncidentCategory(body.get("category", ""))
            except ValueError:
                continue
            views[rid] = IncidentView(
                id=rid,
                patient_id=item.patient_id,
                category=category,
                description=str(body.get("description", "")),
                item_name=body.get("item_name"),
                incident=None,
                created_at=item.created_at,
                change=IncidentChange.CREATE,
                **marks,
            )
        elif current is not None and current.mark is not Mark.FAILED:
            views[rid] = replace(current, change=IncidentChange.REOPEN, pending_reason=body.get("reason"), **marks)
    return sorted(views.values(), key=lambda v: v.created_at, reverse=True)


def can_reopen(view: IncidentView) -> bool:
    """ "No se resolvió": an answered (atendida) report with nothing waiting for it."""
    return view.status is contract.IncidentStatus.ATENDIDA and view.mark is Mark.SYNCED


def deadline_text(tr: Translator, incident: contract.Incident, now: datetime) -> tuple[str, bool]:
    """The first-answer promise in Mexico City time, and whether it is late.

    Answered: when; not answered: "Respuesta esperada antes de …" or "Vencido".
    """
    if incident.first_response_at is not None:
        return tr.t("inc_first_answer_at", when=_mx(tr, incident.first_response_at)), False
    due = incident.first_response_due_at
    if incident.overdue or due <= now:
        return tr.t("inc_overdue", when=_mx(tr, due)), True
    return tr.t("inc_due_before", when=_mx(tr, due)), False


def _mx(tr: Translator, moment: datetime) -> str:
    return tr.datetime(moment)


def mx_time(tr: Translator, moment: datetime) -> str:
    return _mx(tr, moment)


_OPEN = (contract.IncidentStatus.RECIBIDA, contract.IncidentStatus.REABIERTA, contract.IncidentStatus.EN_ATENCION)


#: An incident as the family has it, or as the case desk does (``StaffIncident``).
AnyIncident = TypeVar("AnyIncident", bound=contract.Incident)


def queue_order(incidents: Iterable[AnyIncident], now: datetime) -> list[AnyIncident]:
    """The case desk's queue: open before answered; overdue first; then the nearest deadline; then oldest."""

    def key(i: contract.Incident) -> tuple[int, int, datetime, datetime]:
        closed = i.status is contract.IncidentStatus.ATENDIDA
        late = (i.first_response_at is None) and (i.overdue or i.first_response_due_at <= now)
        return (1 if closed else 0, 0 if late else 1, i.first_response_due_at, i.created_at)

    return sorted(incidents, key=key)


def filter_queue(
    incidents: Iterable[AnyIncident],
    *,
    category: contract.IncidentCategory | None = None,
    unit_id: str | None = None,
    status: contract.IncidentStatus | None = None,
) -> list[AnyIncident]:
    return [
        i
        for i in incidents
        if (category is None or i.category is category)
        and (unit_id is None or i.unit.id == unit_id)
        and (status is None or i.status is status)
    ]


def monday_of(day: date) -> date:
    return day - timedelta(days=day.weekday())
