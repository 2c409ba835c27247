"""What the incident screens draw (families' reports, the case desk)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from carnet.incidents.form import ReportForm
from carnet.incidents.repository import IncidentView
from carnet_contract import models as contract


@dataclass
class IncidentUi:
    """ "Reportar un problema" and "Mis reportes" (the family's reports, readable offline)."""

    form: ReportForm | None = None
    reports: list[IncidentView] = field(default_factory=list)
    selected_id: str | None = None
    #: The "No se resolvió" box is open for the selected report.
    reopening: bool = False
    reason_error: str | None = None
    message: str | None = None
    #: The screen to go back to from the form / the list.
    came_from: str | None = None


@dataclass
class DeskUi:
    """Case desk (online only): the queue, its filters, one incident, the weekly figures."""

    incidents: list[contract.Incident] = field(default_factory=list)
    units: list[contract.Unit] = field(default_factory=list)
    category: contract.IncidentCategory | None = None
    unit_id: str | None = None
    status: contract.IncidentStatus | None = None
    selected: contract.Incident | None = None
    answer_error: str | None = None
    #: Answers sent (the answer box empties when it grows).
    sent: int = 0
    #: ``(incident id, text, resolves, Idempotency-Key)`` of an answer whose fate is unknown
    #: (no answer came back): sending the same answer again reuses the key, so it is kept once.
    unsent_answer: tuple[str, str, bool, str] | None = None
    loading: bool = False
    busy: bool = False
    week: date | None = None
    weekly: contract.WeeklyFigures | None = None
    message: str | None = None
    error: str | None = None
