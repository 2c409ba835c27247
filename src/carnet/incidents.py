"""Incident reports ("Reportar un problema"): synced incidents, queued writes laid over them, pure rules.

:class:`IncidentRepository` reads and writes one user's synced incidents in the
offline store (written by the sync, type ``incident``), so "Mis reportes" opens
offline. :func:`merge` lays the outbox over them: a report just made shows at
once as pending ("Pendiente de enviar", no folio yet); a reopening waits as
pending too; a rejection shows the server's reason. Never the network, no Flet.

The case desk's queue rules (:func:`queue_order`, :func:`filter_queue`) and the
deadline sentence (:func:`deadline_text`) live here too, so they are tested
without a screen.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from enum import StrEnum

from pydantic import ValidationError

from carnet import contract
from carnet.agenda import MX, Mark
from carnet.i18n import Translator
from carnet.outbox import OutboxItem, OutboxState, WriteOp
from carnet.store import OfflineStore

__all__ = ["INCIDENTS_PATH", "REOPEN_PATH", "IncidentChange", "IncidentRepository", "IncidentView", "can_reopen",
           "deadline_text", "filter_queue", "merge", "monday_of", "queue_order"]

INCIDENTS_PATH = "/api/v1/incidents"
REOPEN_PATH = INCIDENTS_PATH + "/{record}/reopen"
#: Categories whose report names the missing item (the server requires it).
NEEDS_ITEM = frozenset({contract.IncidentCategory.MEDICAMENTO, contract.IncidentCategory.INSUMO})


class IncidentChange(StrEnum):
    CREATE = "create"
    REOPEN = "reopen"


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

    @property
    def folio(self) -> str | None:
        return self.incident.folio if self.incident else None

    @property
    def status(self) -> contract.IncidentStatus | None:
        return self.incident.status if self.incident else None


class IncidentRepository:
    """One user's synced incidents in the offline store."""

    INCIDENT = "incident"

    def __init__(self, store: OfflineStore, user_id: str) -> None:
        self._store = store
        self.user_id = user_id

    def transaction(self):  # type: ignore[no-untyped-def]
        return self._store.transaction()

    def incidents(self) -> dict[str, contract.Incident]:
        found = {}
        for key, record in self._store.get_kind(self.user_id, self.INCIDENT).items():
            try:
                found[key] = contract.Incident.model_validate(record.value)
            except ValidationError:
                continue
        return found

    def put_incident(self, incident: contract.Incident) -> None:
        self._store.put(self.user_id, self.INCIDENT, incident.id, incident.model_dump(mode="json"))

    def delete_incident(self, incident_id: str) -> None:
        self._store.delete(self.user_id, self.INCIDENT, incident_id)

    def clear_incidents(self) -> None:
        self._store.delete_kind(self.user_id, self.INCIDENT)


# ---- pure functions ------------------------------------------------------------------------


def _view(incident: contract.Incident) -> IncidentView:
    return IncidentView(id=incident.id, patient_id=incident.patient_id, category=incident.category,
                        description=incident.description, item_name=incident.item_name, incident=incident,
                        created_at=incident.created_at)


def merge(synced: dict[str, contract.Incident], outbox: Iterable[OutboxItem],
          server_id: Callable[[str], str | None] = lambda rid: rid) -> list[IncidentView]:
    """Synced incidents with the outbox's incident writes applied in order; newest first."""
    views: dict[str, IncidentView] = {key: _view(value) for key, value in synced.items()}
    for item in outbox:
        if item.type != contract.SyncType.INCIDENT:
            continue
        rid = server_id(item.record_id) or item.record_id
        mark = Mark.FAILED if item.state is OutboxState.FAILED else Mark.PENDING
        marks = {"mark": mark, "error": item.error if mark is Mark.FAILED else None, "item_id": item.id}
        current = views.get(rid)
        body = item.body or {}
        if item.op is WriteOp.CREATE:
            if current is not None:
                continue
            try:
                category = contract.IncidentCategory(body.get("category"))
            except ValueError:
                continue
            views[rid] = IncidentView(id=rid, patient_id=item.patient_id, category=category,
                                      description=str(body.get("description", "")),
                                      item_name=body.get("item_name"), incident=None, created_at=item.created_at,
                                      change=IncidentChange.CREATE, **marks)
        elif current is not None and current.mark is not Mark.FAILED:
            views[rid] = replace(current, change=IncidentChange.REOPEN, pending_reason=body.get("reason"), **marks)
    return sorted(views.values(), key=lambda v: v.created_at, reverse=True)


def can_reopen(view: IncidentView) -> bool:
    """"No se resolvió": an answered (atendida) report with nothing waiting for it."""
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
    local = moment.astimezone(MX)
    return f"{tr.date(local.date())}, {local:%H:%M}"


def mx_time(tr: Translator, moment: datetime) -> str:
    return _mx(tr, moment)


_OPEN = (contract.IncidentStatus.RECIBIDA, contract.IncidentStatus.REABIERTA, contract.IncidentStatus.EN_ATENCION)


def queue_order(incidents: Iterable[contract.Incident], now: datetime) -> list[contract.Incident]:
    """The case desk's queue: open before answered; overdue first; then the nearest deadline; then oldest."""
    def key(i: contract.Incident) -> tuple[int, int, datetime, datetime]:
        closed = i.status is contract.IncidentStatus.ATENDIDA
        late = (i.first_response_at is None) and (i.overdue or i.first_response_due_at <= now)
        return (1 if closed else 0, 0 if late else 1, i.first_response_due_at, i.created_at)
    return sorted(incidents, key=key)


def filter_queue(incidents: Iterable[contract.Incident], *, category: contract.IncidentCategory | None = None,
                 unit_id: str | None = None, status: contract.IncidentStatus | None = None) -> list[contract.Incident]:
    return [i for i in incidents if (category is None or i.category is category)
            and (unit_id is None or i.unit.id == unit_id) and (status is None or i.status is status)]


def monday_of(day: date) -> date:
    return day - timedelta(days=day.weekday())
