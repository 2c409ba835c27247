"""What the agenda screens draw."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from carnet.agenda.form import AppointmentForm
from carnet.agenda.repository import AgendaItem
from carnet_contract import models as contract


@dataclass
class AgendaUi:
    """What the agenda screens show: month, day, filters, the chosen appointment, the form."""

    month: date | None = None  # first day of the month shown
    day: date | None = None
    patient_id: str | None = None  # None: every child
    kind: contract.AppointmentKind | None = None  # None: every kind
    items: list[AgendaItem] = field(default_factory=list)
    selected_id: str | None = None
    confirm_delete: bool = False
    form: AppointmentForm | None = None
    #: A short confirmation or problem shown at the top of the agenda screens.
    message: str | None = None
