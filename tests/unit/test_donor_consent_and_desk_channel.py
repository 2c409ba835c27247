"""The donor's WhatsApp reminder consent on the booking form (off unless ticked, sent as
``DonorIn.reminder_consent``, kept when a refused booking is corrected), and each report's channel on the case
desk in words and an icon (not by colour alone). Controls are built without a page and read."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import flet as ft
import pytest
from flet.controls.base_control import BaseControl

from carnet.blood_bank.form import DonorForm, check_donor, form_of
from carnet.core.i18n import Translator
from carnet.views.incidents import desk as desk_view
from carnet_contract import models as contract

TODAY = date(2026, 12, 4)
QUESTIONS = [contract.Question(id="q1", text="¿Te sientes bien?", eligible_answer=True)]


def donor_form(**changes: Any) -> DonorForm:
    form = DonorForm(
        patient_id="p1",
        slot_id="s1",
        full_name="Laura Pérez",
        phone="55 1234 5678",
        birth_text="01/02/1990",
        weight_text="70",
        sex="mujer",
        answers={"q1": True},
    )
    for name, value in changes.items():
        setattr(form, name, value)
    return form


def test_the_consent_is_off_unless_ticked_and_reaches_the_body() -> None:
    tr = Translator("es-MX")
    plain = check_donor(donor_form(), QUESTIONS, tr, today=TODAY, children={"p1"})
    assert plain.body is not None and plain.body["donor"]["reminder_consent"] is False
    ticked = check_donor(donor_form(reminder_consent=True), QUESTIONS, tr, today=TODAY, children={"p1"})
    assert ticked.body is not None and ticked.body["donor"]["reminder_consent"] is True
    back = form_of(ticked.body, refusal=["x"], refused_id="local-1")  # a refused booking, to correct
    assert back is not None and back.reminder_consent is True


def test_the_booking_form_draws_the_checkbox_named_by_its_words() -> None:
    from carnet.shell.state import AppState
    from carnet.views.blood_bank.booking_form import BookingFormView

    view = BookingFormView(donor_form(), cases=None)  # type: ignore[arg-type]
    drawn = view.build(AppState(), Translator("es-MX"), on_back=lambda _: None)
    [box] = [c for c in walk(drawn) if isinstance(c, ft.Checkbox)]
    assert box.value is False  # off by default
    merged = next(c for c in walk(drawn) if isinstance(c, ft.MergeSemantics) and box in list(walk(c)))
    words = [c.value for c in walk(merged) if isinstance(c, ft.Text)]
    assert "Enviar al donante un recordatorio por WhatsApp el día anterior" in words
    assert view.read().reminder_consent is False
    box.value = True
    assert view.read().reminder_consent is True


def walk(control: Any) -> Iterator[Any]:
    if isinstance(control, BaseControl):
        yield control
        for name in getattr(control, "__dataclass_fields__", {}):
            if name.startswith("_") or name == "parent":
                continue
            value = getattr(control, name, None)
            if isinstance(value, BaseControl):
                yield from walk(value)
            elif isinstance(value, list):
                for item in value:
                    yield from walk(item)


def incident(channel: contract.IncidentChannel) -> contract.StaffIncident:
    now = datetime(2026, 12, 4, 18, 0, tzinfo=UTC)
    return contract.StaffIncident(
        id="i1",
        folio="CE-2026-000123",
        patient_id="p1",
        patient_name="Santiago Ramírez",
        category=contract.IncidentCategory.MEDICAMENTO,
        unit=contract.Unit(id="u1", name="UMAE Pediatría", level=contract.UnitLevel.UMAE, state="CDMX"),
        description="Falta el medicamento",
        status=contract.IncidentStatus.RECIBIDA,
        created_at=now,
        updated_at=now,
        first_response_due_at=now + timedelta(hours=24),
        channel=channel,
    )


class Desk:
    """What the desk's views hold of the desk's cases (nothing is clicked here)."""

    async def open(self, incident_id: str) -> None:  # pragma: no cover
        return None

    async def show_weekly(self, step: int) -> None:  # pragma: no cover
        return None

    def dismiss_message(self) -> None:  # pragma: no cover
        return None

    async def weekly_file(self, kind: str) -> tuple[str, bytes] | None:  # pragma: no cover
        return None

    def file_saved(self, name: str, saved: bool | None) -> None:  # pragma: no cover
        return None


@pytest.mark.parametrize(
    "channel, words, icon",
    [
        (contract.IncidentChannel.APP, "Canal: App", ft.Icons.PHONE_ANDROID),
        (contract.IncidentChannel.WHATSAPP, "Canal: WhatsApp", ft.Icons.CHAT),
    ],
)
def test_each_report_on_the_desk_says_its_channel(channel: contract.IncidentChannel, words: str, icon: Any) -> None:
    tr = Translator("es-MX")
    now = datetime(2026, 12, 4, 19, 0, tzinfo=UTC)
    case = incident(channel)
    for drawn in (
        desk_view._queue_row(tr, case, now, Desk()),  # type: ignore[arg-type]
        ft.Column(desk_view._queue_table(tr, [case], now, Desk(), beside=False, chosen=None)),  # type: ignore[arg-type]
        ft.Column(desk_view._queue_table(tr, [case], now, Desk(), beside=True, chosen=None)),  # type: ignore[arg-type]
    ):
        controls = list(walk(drawn))
        assert words in [c.value for c in controls if isinstance(c, ft.Text)]
        assert icon in [c.icon for c in controls if isinstance(c, ft.Icon)]
    assert (
        Translator("en").t("desk_channel", channel=Translator("en").t("desk_channel.whatsapp")) == "Channel: WhatsApp"
    )


def test_the_weekly_figures_count_reports_by_channel_in_words() -> None:
    from carnet.shell.state import AppState

    state = AppState()
    week = date(2026, 11, 30)
    figures = contract.WeeklyFigures(
        week_start=week,
        week_end=week + timedelta(days=6),
        new_patients=0,
        incidents_new=4,
        by_category={},
        by_status={},
        by_channel={"app": 3, "whatsapp": 1},
        overdue=0,
    )
    state.desk.open_week(week)
    state.desk.show_weekly(week, figures)
    drawn = desk_view.build_weekly(state, Translator("es-MX"), Desk(), on_back=lambda _: None)  # type: ignore[arg-type]
    words = [c.value for c in walk(drawn) if isinstance(c, ft.Text)]
    assert "Reportes nuevos por canal" in words and "App: 3" in words and "WhatsApp: 1" in words
    older = figures.model_copy(update={"by_channel": {}})  # an older server: no such section
    state.desk.show_weekly(week, older)
    drawn = desk_view.build_weekly(state, Translator("es-MX"), Desk(), on_back=lambda _: None)  # type: ignore[arg-type]
    assert "Reportes nuevos por canal" not in [c.value for c in walk(drawn) if isinstance(c, ft.Text)]
