"""Incident reports against the fake API: the form checks, the outbox body, offline report then sync
(folio), a lost answer sent twice but created once, reopen, the deadline sentence, the case desk's
queue (order, filters), answers and the server's 422, weekly figures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from carnet import contract
from carnet.agenda import Mark
from carnet.i18n import Translator
from carnet.incident_form import ReportForm, check_reason, check_report
from carnet.incidents import INCIDENTS_PATH, deadline_text, filter_queue, queue_order
from carnet.outbox import OutboxState, WriteOp
from carnet.state import Phase, Screen

from .fake_api import UNIT, FakeApi

pytestmark = pytest.mark.anyio
ES, EN = Translator(), Translator("en")
MED = contract.IncidentCategory.MEDICAMENTO


# ---- the form (pure) ------------------------------------------------------------------------


def test_good_report_gives_the_wire_body() -> None:
    form = ReportForm(patient_id="p-mateo", category=MED, unit_id="u1", item_name="  Metotrexato  12 mg ",
                      description="  No hay en farmacia desde el lunes. ")
    result = check_report(form, ES, children={"p-mateo"})
    assert result.errors == {}
    assert result.body == {"patient_id": "p-mateo", "category": "medicamento", "unit_id": "u1",
                           "description": "No hay en farmacia desde el lunes.", "item_name": "Metotrexato 12 mg"}
    contract.IncidentCreate.model_validate(result.body)


def test_item_name_is_dropped_for_categories_that_do_not_name_one() -> None:
    form = ReportForm(patient_id="p-mateo", category=contract.IncidentCategory.LICENCIA_140_BIS,
                      item_name="algo", description="No me dieron el formato de licencia.")
    result = check_report(form, ES, children={"p-mateo"})
    assert result.body is not None and "item_name" not in result.body and "unit_id" not in result.body


@pytest.mark.parametrize("tr, messages", [
    (ES, {"patient": "Elige a la o el paciente.", "category": "Elige qué pasó tocando una de las opciones.",
          "description": "Cuéntanos qué pasó (al menos 5 letras)."}),
    (EN, {"patient": "Choose the patient.", "category": "Choose what happened by tapping one of the options.",
          "description": "Tell us what happened (at least 5 letters)."}),
])
def test_empty_form_says_what_is_missing_in_each_language(tr: Translator, messages: dict[str, str]) -> None:
    result = check_report(ReportForm(description="ay"), tr, children={"p-mateo"})
    assert result.body is None and result.errors == messages


@pytest.mark.parametrize("category, tr, message", [
    ("medicamento", ES, "Escribe qué medicamento falta."),
    ("insumo", ES, "Escribe qué insumo falta."),
    ("medicamento", EN, "Write which medicine is missing."),
])
def test_missing_item_needs_its_name(category: str, tr: Translator, message: str) -> None:
    form = ReportForm(patient_id="p-mateo", category=contract.IncidentCategory(category),
                      item_name="   ", description="No hay en farmacia.")
    assert check_report(form, tr, children={"p-mateo"}).errors == {"item_name": message}


def test_too_long_texts_are_refused() -> None:
    form = ReportForm(patient_id="p-mateo", category=MED, item_name="x" * 121, description="y" * 2001)
    errors = check_report(form, ES, children={"p-mateo"}).errors
    assert errors == {"item_name": "Máximo 120 caracteres.", "description": "Máximo 2000 caracteres."}


def test_reopen_reason_checks() -> None:
    assert check_reason(" no ", ES) == (None, "Escribe por qué no se resolvió (al menos 5 letras).")
    assert check_reason("Sigue sin haber medicamento", ES) == ({"reason": "Sigue sin haber medicamento"}, None)


# ---- deadline and queue rules (pure) ----------------------------------------------------------


def _incident(folio: int, *, due: datetime, status: str = "recibida", category: str = "medicamento",
              unit: contract.Unit = UNIT, answered: datetime | None = None) -> contract.Incident:
    created = due - timedelta(hours=48)
    return contract.Incident(id=f"i{folio}", folio=f"CE-2026-{folio:06d}", patient_id="p-mateo",
                             category=category, unit=unit, description="No hay.", status=status,
                             created_at=created, updated_at=created, first_response_due_at=due,
                             first_response_at=answered)


NOW = datetime(2026, 11, 26, 18, 0, tzinfo=UTC)  # 12:00 in Mexico City


def test_deadline_text_in_mexico_city_time() -> None:
    due = datetime(2026, 11, 27, 21, 30, tzinfo=UTC)  # 15:30 in Mexico City (UTC-6)
    assert deadline_text(ES, _incident(1, due=due), NOW) == (
        "Respuesta esperada antes de 27 nov 2026, 15:30 (hora del centro)", False)
    assert deadline_text(EN, _incident(1, due=due), NOW)[0] == \
        "Answer expected before 27 Nov 2026, 15:30 (Mexico City time)"
    late = _incident(2, due=NOW - timedelta(minutes=1))
    assert deadline_text(ES, late, NOW) == ("Vencido: la respuesta debía llegar antes de 26 nov 2026, 11:59", True)
    answered = _incident(3, due=NOW - timedelta(hours=1), answered=NOW - timedelta(hours=2))
    assert deadline_text(ES, answered, NOW) == ("Primera respuesta: 26 nov 2026, 10:00", False)


def test_queue_puts_overdue_first_then_nearest_deadline_and_answered_last() -> None:
    soon = _incident(1, due=NOW + timedelta(hours=2))
    later = _incident(2, due=NOW + timedelta(hours=30))
    late = _incident(3, due=NOW - timedelta(hours=1))
    later_late = _incident(4, due=NOW - timedelta(minutes=5))
    done = _incident(5, due=NOW - timedelta(hours=5), status="atendida", answered=NOW - timedelta(hours=6))
    answered_open = _incident(6, due=NOW - timedelta(hours=3), status="en_atencion", answered=NOW - timedelta(hours=4))
    order = [i.id for i in queue_order([done, later, soon, later_late, answered_open, late], NOW)]
    assert order == ["i3", "i4", "i6", "i1", "i2", "i5"]


def test_queue_filters_by_category_unit_and_state() -> None:
    other = contract.Unit(id="u2", name="HGZ 1", level="segundo_nivel", state="CDMX")
    rows = [_incident(1, due=NOW, category="insumo"), _incident(2, due=NOW, unit=other),
            _incident(3, due=NOW, status="reabierta")]
    assert [i.id for i in filter_queue(rows, category=contract.IncidentCategory.INSUMO)] == ["i1"]
    assert [i.id for i in filter_queue(rows, unit_id="u2")] == ["i2"]
    assert [i.id for i in filter_queue(rows, status=contract.IncidentStatus.REABIERTA)] == ["i3"]
    assert len(filter_queue(rows)) == 3


# ---- the family's use cases against the fake API -------------------------------------------


async def _guardian(make_session, secrets, **kwargs):  # type: ignore[no-untyped-def]
    session = make_session(secrets, **kwargs)
    await session.start()
    await session.login("madre.demo", "carnet-demo")
    assert session.state.phase is Phase.READY
    return session


def _report(session, *, category=MED, item="Metotrexato", text="No hay en farmacia desde el lunes.") -> bool:  # type: ignore[no-untyped-def]
    session.select_child("p-mateo")
    session.report.start()
    form = session.state.incidents.form
    assert form is not None and form.patient_id == "p-mateo"
    session.report.pick_category(category)
    form.item_name, form.description = item, text
    return session.report.submit(form)


async def test_offline_report_is_queued_shown_pending_then_gets_its_folio(make_session, secrets,
                                                                         fake_api: FakeApi) -> None:
    session = await _guardian(make_session, secrets)
    fake_api.offline = True
    session.select_child("p-mateo")
    session.report.start()
    form = session.state.incidents.form
    assert form is not None and form.unit_id == UNIT.id and form.unit_name == UNIT.name  # the child's unit
    assert _report(session)
    [item] = session.outbox.items()  # type: ignore[union-attr]
    assert (item.type, item.op, item.method, item.path) == ("incident", WriteOp.CREATE, "POST", INCIDENTS_PATH)
    assert item.body == {"patient_id": "p-mateo", "category": "medicamento", "unit_id": "u1",
                         "description": "No hay en farmacia desde el lunes.", "item_name": "Metotrexato"}
    assert session.state.screen is Screen.REPORT
    view = session.state.selected_report
    assert view is not None and view.mark is Mark.PENDING and view.folio is None
    await session.refresh()  # still offline: nothing lost, still pending
    assert session.state.selected_report.mark is Mark.PENDING  # type: ignore[union-attr]
    fake_api.offline = False
    await session.refresh()
    view = session.state.selected_report
    assert view is not None and view.mark is Mark.SYNCED and view.folio == "CE-2026-000123"
    assert view.status is contract.IncidentStatus.RECIBIDA and session.outbox.items() == []  # type: ignore[union-attr]
    assert fake_api.incidents.created == 1
    await session.close()


async def test_a_lost_answer_is_sent_again_with_the_same_key_and_created_once(make_session, secrets,
                                                                            fake_api: FakeApi) -> None:
    session = await _guardian(make_session, secrets)
    answered: list[httpx.Response] = []

    def lose_first_answer(request: httpx.Request) -> httpx.Response | None:
        if request.url.path == INCIDENTS_PATH and request.method == "POST" and not answered:
            answered.append(fake_api.incidents.handle(request, "guardian", ["p-mateo", "p-valentina"]))
            raise httpx.ReadTimeout("answer lost", request=request)
        return None

    fake_api.override = lose_first_answer
    assert _report(session)
    [item] = session.outbox.items()  # type: ignore[union-attr]
    await session.refresh()  # the answer is lost: the item waits (network)
    assert fake_api.incidents.created == 1 and answered[0].status_code == 201
    assert [i.id for i in session.outbox.items()] == [item.id]  # type: ignore[union-attr]
    await session.refresh()  # sent again with the same Idempotency-Key: the stored answer comes back
    assert session.outbox.items() == []  # type: ignore[union-attr]
    [report] = session.state.incidents.reports
    assert report.folio == answered[0].json()["folio"] and report.mark is Mark.SYNCED
    assert len(fake_api.incidents.rows) == 1
    await session.close()


async def test_server_refusal_is_kept_with_its_reason(make_session, secrets, fake_api: FakeApi) -> None:
    session = await _guardian(make_session, secrets)
    fake_api.incidents.write_failures.append(FakeApi.error(422, "unknown_unit", "Esa unidad no existe."))
    assert _report(session)
    await session.refresh()
    [item] = session.outbox.items()  # type: ignore[union-attr]
    assert item.state is OutboxState.FAILED and item.error == "Esa unidad no existe."
    [view] = session.state.incidents.reports
    assert view.mark is Mark.FAILED and view.error == "Esa unidad no existe."
    await session.close()


async def test_reports_come_from_the_sync_and_open_offline(make_session, secrets, fake_api: FakeApi) -> None:
    fake_api.incidents.add("p-valentina", "insumo", "No hay catéter.", item_name="Catéter")
    fake_api.incidents.add("p-santiago", "otro", "De otra familia.")
    session = await _guardian(make_session, secrets)
    [report] = session.state.incidents.reports
    assert report.item_name == "Catéter" and report.folio == "CE-2026-000123"
    await session.close()
    fake_api.offline = True
    again = make_session(secrets)
    await again.start()
    again.report.show_list()
    assert [r.folio for r in again.state.incidents.reports] == ["CE-2026-000123"]
    await again.close()


async def test_not_solved_reopens_through_the_outbox(make_session, secrets, fake_api: FakeApi) -> None:
    incident = fake_api.incidents.add("p-mateo", "medicamento", "No hay.", item_name="Vincristina")
    session = await _guardian(make_session, secrets)
    session.report.show_list()
    session.report.open(incident.id)
    assert not session.report.reopen(incident.id, "Sigue sin haber")  # recibida: nothing to reopen
    fake_api.incidents.resolve(incident.id, "Ya llegó a farmacia de la UMAE, pase el jueves.")
    await session.refresh()
    view = session.state.selected_report
    assert view is not None and view.status is contract.IncidentStatus.ATENDIDA
    assert [r.author_label for r in view.incident.responses] == ["Módulo de atención"]  # type: ignore[union-attr]
    fake_api.offline = True
    session.report.ask_reopen()
    assert not session.report.reopen(incident.id, "no")
    assert session.state.incidents.reason_error == "Escribe por qué no se resolvió (al menos 5 letras)."
    assert session.report.reopen(incident.id, "En farmacia siguen sin tenerla.")
    [item] = session.outbox.items()  # type: ignore[union-attr]
    assert (item.op, item.path, item.body) == (WriteOp.UPDATE, "/api/v1/incidents/{record}/reopen",
                                                {"reason": "En farmacia siguen sin tenerla."})
    view = session.state.selected_report
    assert view is not None and view.mark is Mark.PENDING and view.pending_reason == "En farmacia siguen sin tenerla."
    fake_api.offline = False
    await session.refresh()
    view = session.state.selected_report
    assert view is not None and view.status is contract.IncidentStatus.REABIERTA and view.mark is Mark.SYNCED
    assert view.incident.responses[-1].reopens  # type: ignore[union-attr]
    await session.close()


# ---- case desk ---------------------------------------------------------------------------------


async def _desk(make_session, secrets):  # type: ignore[no-untyped-def]
    session = make_session(secrets)
    await session.start()
    await session.login("casos.demo", "carnet-demo")
    return session


async def test_case_desk_queue_filters_answer_and_the_servers_422(make_session, secrets, fake_api: FakeApi) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    old = fake_api.incidents.add("p-mateo", "medicamento", "No hay.", item_name="Vincristina",
                                 created_at=now - timedelta(hours=60))
    new = fake_api.incidents.add("p-santiago", "insumo", "No hay gasas.", item_name="Gasas")
    session = await _desk(make_session, secrets)
    state = session.state
    assert state.desk_mode and state.screen is Screen.DESK and session.store is not None
    assert [i.id for i in session.desk.visible()] == [old.id, new.id]  # overdue first
    session.desk.set_filter(category="insumo")
    assert [i.id for i in session.desk.visible()] == [new.id]
    session.desk.set_filter(category=None, status="recibida")
    assert len(session.desk.visible()) == 2
    await session.desk.open(old.id)
    assert state.screen is Screen.DESK_CASE and state.desk.selected is not None
    assert not await session.desk.answer("ok", resolves=True)
    assert state.desk.answer_error == "Para marcarlo como atendido escribe una respuesta concreta."
    assert await session.desk.answer("Estamos revisando con farmacia.", resolves=False)
    assert state.desk.selected.status is contract.IncidentStatus.EN_ATENCION
    assert await session.desk.answer("Llegó el medicamento: recójalo el jueves en farmacia.", resolves=True)
    assert state.desk.selected.status is contract.IncidentStatus.ATENDIDA
    assert state.desk.message == "Reporte CE-2026-000123 marcado como atendido."
    assert session.outbox is None  # online only: nothing of it goes to the device
    await session.desk.show_weekly()
    assert state.screen is Screen.DESK_WEEKLY and state.desk.weekly is not None
    assert state.desk.week is not None and state.desk.week.weekday() == 0
    assert fake_api.incidents.weeks == [state.desk.week.isoformat()]
    await session.close()


async def test_case_desk_answer_sent_again_after_a_lost_answer_is_kept_once(make_session, secrets,
                                                                            fake_api: FakeApi) -> None:
    incident = fake_api.incidents.add("p-mateo", "medicamento", "No hay.", item_name="Vincristina")
    session = await _desk(make_session, secrets)
    await session.desk.open(incident.id)
    original = fake_api.incidents.handle
    lost: list[str] = []

    def lose_first_answer(request, role, patients):  # type: ignore[no-untyped-def]
        answer = original(request, role, patients)
        if request.url.path.endswith("/responses") and not lost:
            lost.append(request.headers["Idempotency-Key"])
            raise httpx.ReadTimeout("answer lost", request=request)
        return answer

    fake_api.incidents.handle = lose_first_answer  # type: ignore[method-assign]
    text = "Estamos revisando con farmacia."
    assert not await session.desk.answer(text, resolves=False)  # no answer came back
    assert await session.desk.answer(text, resolves=False)  # the person sends it again
    assert len(fake_api.incidents.rows[incident.id].responses) == 1, "the same answer is kept once"
    assert session.state.desk.unsent_answer is None
    await session.close()


async def test_case_desk_session_end_goes_back_to_login(make_session, secrets, fake_api: FakeApi) -> None:
    session = await _desk(make_session, secrets)
    fake_api.revoke_all()
    await session.desk.load()
    assert session.state.phase is Phase.LOGIN
    await session.close()
