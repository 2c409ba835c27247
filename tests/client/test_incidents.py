"""Incident reports against the real server in process: the form checks, the outbox body, offline report then sync
(folio), a lost answer sent twice but created once, reopen, the deadline sentence, the case desk's
queue (order, filters), answers and the server's 422, weekly figures."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from PIL import ExifTags
from sqlalchemy import select, update

from carnet.core.i18n import Translator
from carnet.core.navigation import Phase, Screen
from carnet.data.outbox import OutboxState, WriteOp
from carnet.data.records import Mark
from carnet.incidents.form import (
    MAX_PHOTOS,
    ORIGINAL_MAX_BYTES,
    PHOTO_MAX_BYTES,
    ReportForm,
    add_photos,
    check_reason,
    check_report,
    remove_photo,
)
from carnet.incidents.photos import THUMB_SIDE, thumbnail
from carnet.incidents.repository import (
    INCIDENTS_PATH,
    PHOTO_TYPE,
    PHOTOS_PATH,
    deadline_text,
    filter_queue,
    queue_order,
)
from carnet_contract import models as contract
from carnet_server.i18n import t as server_text
from carnet_server.incidents import deadlines
from carnet_server.incidents.service import MIN_ANSWER_CHARS
from carnet_server.incidents.tables import Incident, IncidentPhoto
from carnet_server.patients.tables import MedicalUnit, Patient
from tests.support.inprocess_server import FaultTransport, InProcessServer, error_response
from tests.support.photos import assert_clean_upright_jpeg, bomb_png, camera_jpeg, jpeg, noisy_png, opened, png
from tests.support.secret_stores import DictSecretStore

pytestmark = pytest.mark.anyio
#: A unit for the pure tests (the queue rules).
UNIT = contract.Unit(id="u1", name="UMAE Hospital de Pediatría CMN Siglo XXI", level="umae", state="CDMX")
TEXT = "No hay en farmacia desde el lunes."
NO_UNIT = "0" * 32  # an id no unit has
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
    ("insumo", ES, "Escribe qué material falta."),
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
        "Respuesta esperada antes de 27 nov 2026, 15:30 (hora del centro de México)", False)
    assert deadline_text(EN, _incident(1, due=due), NOW)[0] == \
        "Answer expected before 27 Nov 2026, 15:30 (Mexico City time)"
    late = _incident(2, due=NOW - timedelta(minutes=1))
    assert deadline_text(ES, late, NOW) == (
        "Vencido: la respuesta debía llegar antes de 26 nov 2026, 11:59 (hora del centro de México)", True)
    answered = _incident(3, due=NOW - timedelta(hours=1), answered=NOW - timedelta(hours=2))
    assert deadline_text(ES, answered, NOW) == ("Primera respuesta: 26 nov 2026, 10:00 (hora del centro de México)",
                                                False)


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


# ---- the family's use cases against the server -----------------------------------------------


MATEO = "Mateo Hernández"


async def _guardian(make_session, secrets, **kwargs):  # type: ignore[no-untyped-def]
    session = make_session(secrets, **kwargs)
    await session.start()
    await session.login("madre.demo", "carnet-demo")
    assert session.state.phase is Phase.READY
    assert _mateo(session)
    return session


def _mateo(session) -> str:  # type: ignore[no-untyped-def]
    """Mateo's id, as the guardian's app knows it."""
    return next(c.id for c in session.state.children if c.display_name == MATEO)


def _report(session, *, category=MED, item="Metotrexato", text=TEXT, unit_id: str | None = None) -> bool:  # type: ignore[no-untyped-def]
    mateo = _mateo(session)
    session.select_child(mateo)
    session.report.start()
    form = session.state.incidents.form
    assert form is not None and form.patient_id == mateo
    session.report.pick_category(category)
    form.item_name, form.description = item, text
    if unit_id is not None:
        form.unit_id = unit_id
    return session.report.submit(form)


def ours(server: InProcessServer, text: str = TEXT) -> list[Incident]:
    """The incidents with this test's description on the server, oldest first."""
    with server.db() as db:
        return list(db.scalars(select(Incident).where(Incident.description == text).order_by(Incident.created_at)))


def photos_on(server: InProcessServer) -> list[IncidentPhoto]:
    """Every photo the server stored (the demo has none)."""
    with server.db() as db:
        return list(db.scalars(select(IncidentPhoto).order_by(IncidentPhoto.created_at)))


def stored(server: InProcessServer, photo: IncidentPhoto) -> bytes:
    """A photo's bytes as the server keeps them."""
    return (server.ctx.settings.data_dir / photo.path).read_bytes()


def unit_of(server: InProcessServer, display_name: str) -> MedicalUnit:
    with server.db() as db:
        patient = db.scalars(select(Patient).where(Patient.display_name == display_name)).one()
        return db.get_one(MedicalUnit, patient.unit_id)


def add_incident(server: InProcessServer, child: str, category: str, description: str, *,
                 item_name: str | None = None, hours_ago: float = 0) -> str:
    """A report made by the child's guardian (madre.demo) through the API, dated ``hours_ago`` back."""
    body = {"patient_id": server.patient_id(child), "category": category, "description": description}
    if item_name:
        body["item_name"] = item_name
    made = server.ok("madre.demo", "POST", "/api/v1/incidents", json=body)
    if hours_ago:
        with server.db() as db:
            row = db.get_one(Incident, made["id"])
            created = row.created_at - timedelta(hours=hours_ago)
            db.execute(update(Incident).where(Incident.id == row.id).values(
                created_at=created, updated_at=created,
                first_response_due_at=deadlines.due_at(created, category, deadlines.deadline_hours())))
            db.commit()
    return str(made["id"])


def resolve(server: InProcessServer, incident_id: str, message: str) -> None:
    """The case desk answers and marks it atendida."""
    server.ok("casos.demo", "POST", f"/api/v1/incidents/{incident_id}/responses",
              json={"message": message, "resolves": True})


async def test_offline_report_is_queued_shown_pending_then_gets_its_folio(make_session, secrets,
                                                                         server: InProcessServer,
                                                                         net: FaultTransport) -> None:
    session = await _guardian(make_session, secrets)
    mateo, unit = _mateo(session), unit_of(server, MATEO)
    net.offline = True
    session.select_child(mateo)
    session.report.start()
    form = session.state.incidents.form
    assert form is not None and form.unit_id == unit.id and form.unit_name == unit.name  # the child's unit
    assert _report(session)
    [item] = session.scope.outbox.items()  # type: ignore[union-attr]
    assert (item.type, item.op, item.method, item.path) == ("incident", WriteOp.CREATE, "POST", INCIDENTS_PATH)
    assert item.body == {"patient_id": mateo, "category": "medicamento", "unit_id": unit.id,
                         "description": TEXT, "item_name": "Metotrexato"}
    assert session.state.screen is Screen.REPORT
    view = session.state.selected_report
    assert view is not None and view.mark is Mark.PENDING and view.folio is None
    await session.refresh()  # still offline: nothing lost, still pending
    assert session.state.selected_report.mark is Mark.PENDING  # type: ignore[union-attr]
    net.offline = False
    await session.refresh()
    [made] = ours(server)
    view = session.state.selected_report
    assert view is not None and view.mark is Mark.SYNCED and view.folio == made.folio
    assert view.status is contract.IncidentStatus.RECIBIDA and session.scope.outbox.items() == []  # type: ignore[union-attr]
    assert made.status == "recibida" and made.item_name == "Metotrexato"
    await session.close()


async def test_a_lost_answer_is_sent_again_with_the_same_key_and_created_once(make_session, secrets,
                                                                            server: InProcessServer,
                                                                            net: FaultTransport) -> None:
    session = await _guardian(make_session, secrets)
    net.lose_answer("POST", INCIDENTS_PATH, outcome=httpx.ReadTimeout("answer lost"))
    assert _report(session)
    [item] = session.scope.outbox.items()  # type: ignore[union-attr]
    await session.refresh()  # the answer is lost: the item waits (network)
    [made] = ours(server)  # the server created it
    assert [i.id for i in session.scope.outbox.items()] == [item.id]  # type: ignore[union-attr]
    await session.refresh()  # sent again with the same Idempotency-Key: the stored answer comes back
    assert session.scope.outbox.items() == []  # type: ignore[union-attr]
    [report] = [r for r in session.state.incidents.reports if r.id == made.id]
    assert report.folio == made.folio and report.mark is Mark.SYNCED
    assert len(ours(server)) == 1 and net.count(INCIDENTS_PATH, "POST") == 2
    await session.close()


async def test_server_refusal_is_kept_with_its_reason(make_session, secrets, server: InProcessServer) -> None:
    session = await _guardian(make_session, secrets)
    assert _report(session, unit_id=NO_UNIT)  # a unit the server does not know
    await session.refresh()
    refusal = server_text("unknown_unit", "es")
    [item] = session.scope.outbox.items()  # type: ignore[union-attr]
    assert item.state is OutboxState.FAILED and item.error == refusal
    [view] = [r for r in session.state.incidents.reports if r.mark is not Mark.SYNCED]
    assert view.mark is Mark.FAILED and view.error == refusal
    assert ours(server) == []
    await session.close()


async def test_reports_come_from_the_sync_and_open_offline(make_session, secrets, server: InProcessServer,
                                                           net: FaultTransport) -> None:
    add_incident(server, "Valentina Hernández", "insumo", "No hay catéter.", item_name="Catéter")
    other = server.ok("padre.demo", "POST", "/api/v1/incidents", json={
        "patient_id": server.patient_id("Santiago Ramírez"), "category": "otro", "description": "De otra familia."})
    with server.db() as db:  # madre.demo's children's reports on the server (the demo's and the new one)
        family = set(server.children("madre.demo").values())
        expected = {r.folio: r.item_name for r in db.scalars(select(Incident).where(Incident.patient_id.in_(family)))}
    session = await _guardian(make_session, secrets)
    reports = session.state.incidents.reports
    assert {r.folio: r.item_name for r in reports} == expected and "Catéter" in expected.values()
    assert other["folio"] not in {r.folio for r in reports}  # another family's report never comes
    await session.close()
    net.offline = True
    again = make_session(secrets)
    await again.start()
    again.report.show_list()
    assert sorted(r.folio for r in again.state.incidents.reports) == sorted(expected)
    await again.close()


async def test_not_solved_reopens_through_the_outbox(make_session, secrets, server: InProcessServer,
                                                      net: FaultTransport) -> None:
    incident_id = add_incident(server, MATEO, "medicamento", "No hay.", item_name="Vincristina")
    session = await _guardian(make_session, secrets)
    session.report.show_list()
    session.report.open(incident_id)
    assert not session.report.reopen(incident_id, "Sigue sin haber")  # recibida: nothing to reopen
    resolve(server, incident_id, "Ya llegó a farmacia de la UMAE, pase el jueves.")
    await session.refresh()
    view = session.state.selected_report
    assert view is not None and view.status is contract.IncidentStatus.ATENDIDA
    assert [r.author_label for r in view.incident.responses] == ["Oficina de atención a casos"]  # type: ignore[union-attr]
    net.offline = True
    session.report.ask_reopen()
    assert not session.report.reopen(incident_id, "no")
    assert session.state.incidents.reason_error == "Escribe por qué no se resolvió (al menos 5 letras)."
    assert session.report.reopen(incident_id, "En farmacia siguen sin tenerla.")
    [item] = session.scope.outbox.items()  # type: ignore[union-attr]
    assert (item.op, item.path, item.body) == (WriteOp.UPDATE, "/api/v1/incidents/{record}/reopen",
                                                {"reason": "En farmacia siguen sin tenerla."})
    view = session.state.selected_report
    assert view is not None and view.mark is Mark.PENDING and view.pending_reason == "En farmacia siguen sin tenerla."
    net.offline = False
    await session.refresh()
    view = session.state.selected_report
    assert view is not None and view.status is contract.IncidentStatus.REABIERTA and view.mark is Mark.SYNCED
    assert view.incident.responses[-1].reopens  # type: ignore[union-attr]
    with server.db() as db:
        assert db.get_one(Incident, incident_id).status == "reabierta"
    await session.close()


# ---- case desk ---------------------------------------------------------------------------------


async def _desk(make_session, secrets):  # type: ignore[no-untyped-def]
    session = make_session(secrets)
    await session.start()
    await session.login("casos.demo", "carnet-demo")
    return session


def _queue(server: InProcessServer, **where: str) -> set[str]:
    """The ids of the incidents casos.demo's units have, with these column values."""
    with server.db() as db:
        units = {u["id"] for u in server.ok("casos.demo", "GET", "/api/v1/me")["units"]}
        query = select(Incident.id).where(Incident.unit_id.in_(units),
                                          *(getattr(Incident, k) == v for k, v in where.items()))
        return set(db.scalars(query))


async def test_case_desk_queue_filters_answer_and_the_servers_422(make_session, secrets, server: InProcessServer,
                                                                  net: FaultTransport) -> None:
    old = add_incident(server, MATEO, "medicamento", "No hay.", item_name="Vincristina", hours_ago=60)
    new = add_incident(server, "Valentina Hernández", "insumo", "No hay gasas.", item_name="Gasas")
    session = await _desk(make_session, secrets)
    state = session.state
    assert state.desk_mode and state.screen is Screen.DESK and session.store is not None
    assert {i.id for i in session.desk.visible()} == _queue(server)
    assert [i.id for i in session.desk.visible() if i.id in (old, new)] == [old, new]  # overdue first
    session.desk.set_filter(category="insumo")
    assert {i.id for i in session.desk.visible()} == _queue(server, category="insumo") and new in _queue(server)
    session.desk.set_filter(category=None, status="recibida")
    assert {i.id for i in session.desk.visible()} == _queue(server, status="recibida") >= {old, new}
    await session.desk.open(old)
    assert state.screen is Screen.DESK_CASE and state.desk.selected is not None
    assert not await session.desk.answer("ok", resolves=True)
    assert state.desk.answer_error == server_text("answer_required", "es", chars=MIN_ANSWER_CHARS)
    assert await session.desk.answer("Estamos revisando con farmacia.", resolves=False)
    assert state.desk.selected.status is contract.IncidentStatus.EN_ATENCION
    assert await session.desk.answer("Llegó el medicamento: recójalo el jueves en farmacia.", resolves=True)
    assert state.desk.selected.status is contract.IncidentStatus.ATENDIDA
    [folio] = [i.folio for i in session.desk.visible() if i.id == old] or [state.desk.selected.folio]
    assert state.desk.message == f"Reporte {folio} marcado como atendido."
    with server.db() as db:
        row = db.get_one(Incident, old)
        assert row.status == "atendida" and len(row.replies) == 2 and row.folio == folio
    assert session.login_scope is None  # online only: nothing of it goes to the device
    await session.desk.show_weekly()
    assert state.screen is Screen.DESK_WEEKLY and state.desk.weekly is not None
    assert state.desk.week is not None and state.desk.week.weekday() == 0
    asked = [r.url.params.get("week") for r in net.requests if r.url.path == "/api/v1/case-desk/weekly"]
    assert asked == [state.desk.week.isoformat()]
    await session.close()


async def test_case_desk_answer_sent_again_after_a_lost_answer_is_kept_once(make_session, secrets,
                                                                            server: InProcessServer,
                                                                            net: FaultTransport) -> None:
    incident_id = add_incident(server, MATEO, "medicamento", "No hay.", item_name="Vincristina")
    session = await _desk(make_session, secrets)
    await session.desk.open(incident_id)
    net.lose_answer("POST", "/api/v1/incidents/*/responses", outcome=httpx.ReadTimeout("answer lost"))
    text = "Estamos revisando con farmacia."
    assert not await session.desk.answer(text, resolves=False)  # no answer came back
    with server.db() as db:
        assert [r.message for r in db.get_one(Incident, incident_id).replies] == [text]  # the server kept it
    assert await session.desk.answer(text, resolves=False)  # the person sends it again
    keys = [r.headers["Idempotency-Key"] for r in net.requests if r.url.path.endswith("/responses")]
    assert len(keys) == 2 and keys[0] == keys[1]
    with server.db() as db:
        assert len(db.get_one(Incident, incident_id).replies) == 1, "the same answer is kept once"
    assert session.state.desk.unsent_answer is None
    await session.close()


async def test_case_desk_session_end_goes_back_to_login(make_session, secrets, server: InProcessServer) -> None:
    session = await _desk(make_session, secrets)
    server.revoke_all("casos.demo")
    await session.desk.load()
    assert session.state.phase is Phase.LOGIN
    await session.close()


# ---- photos ------------------------------------------------------------------------------------


def test_good_photos_are_prepared_and_bad_ones_say_why_and_change_nothing() -> None:
    form = ReportForm(patient_id="p-mateo", category=MED)
    assert add_photos(form, [("a.png", png(size=(40, 30))), ("b.jpeg", jpeg(size=(30, 40)))], ES) == []
    assert [p.content_type for p in form.photos] == ["image/jpeg", "image/jpeg"], "both sent as JPEG"
    assert [p.upload_name for p in form.photos] == ["foto.jpg", "foto.jpg"]
    assert [opened(p.data).size for p in form.photos] == [(40, 30), (30, 40)], "small ones are not enlarged"
    assert [p.name for p in form.photos] == ["a.png", "b.jpeg"] and all(p.thumb for p in form.photos)
    kept = list(form.photos)
    good = jpeg()
    problems = add_photos(form, [("nota.jpg", b"no es una foto"), ("gif.gif", b"GIF89a" + b"\0" * 20),
                                 ("enorme.jpg", good + b"\0" * (ORIGINAL_MAX_BYTES - len(good) + 1)),
                                 ("rota.jpg", camera_jpeg()[:600]), ("basura.jpg", b"\xff\xd8\xff\xe0" + b"\0" * 500),
                                 ("bomba.png", bomb_png()), ("vacia.png", None), ("cero.png", b"")], ES)
    assert problems == ["«nota.jpg» no es una foto JPG o PNG; no se agregó.",
                        "«gif.gif» no es una foto JPG o PNG; no se agregó.",
                        "«enorme.jpg» pesa más de 25 MB; no se agregó.",
                        "«rota.jpg» no es una foto JPG o PNG; no se agregó.",
                        "«basura.jpg» no es una foto JPG o PNG; no se agregó.",
                        "«bomba.png» es una imagen demasiado grande; no se agregó.",
                        "No se pudo leer «vacia.png»; no se agregó.",
                        "No se pudo leer «cero.png»; no se agregó."]
    assert form.photos == kept, "a refused file changes nothing"
    assert add_photos(form, [("c.png", png("green")), ("d.png", png("red"))], EN) == [
        "Only 3 photos can be added to a report."]
    assert len(form.photos) == MAX_PHOTOS
    assert remove_photo(form, kept[0].id) and [p.id for p in form.photos][:1] == [kept[1].id]
    assert add_photos(form, [("x.txt", b"hello")], EN) == ["“x.txt” is not a JPG or PNG photo; it was not added."]
    assert add_photos(form, [("bomb.png", bomb_png())], EN) == ["“bomb.png” is too large an image; it was not added."]


def test_a_photo_exactly_at_the_limit_is_accepted_one_byte_more_is_not() -> None:
    form = ReportForm()
    good = jpeg(size=(64, 48))
    at_limit = good + b"\0" * (ORIGINAL_MAX_BYTES - len(good))  # (decoders ignore what follows the image)
    assert len(at_limit) == ORIGINAL_MAX_BYTES
    assert add_photos(form, [("limite.jpg", at_limit)], ES) == [] and len(form.photos) == 1
    assert len(form.photos[0].data) < 50_000, "what is kept is the re-encoded picture, not the padding"
    assert add_photos(form, [("mas.jpg", at_limit + b"\0")], ES) == ["«mas.jpg» pesa más de 25 MB; no se agregó."]
    assert len(form.photos) == 1


def test_a_large_phone_photo_is_scaled_to_1600_px_with_a_small_thumbnail() -> None:
    original = noisy_png()
    assert len(original) > PHOTO_MAX_BYTES, "the server would refuse the original"
    form = ReportForm()
    assert add_photos(form, [("IMG_0001.PNG", original)], ES) == []
    [draft] = form.photos
    assert opened(draft.data).size == (1600, 1200) and len(draft.data) < PHOTO_MAX_BYTES
    assert_clean_upright_jpeg(draft.data)
    thumb = opened(draft.thumb)
    assert thumb.format == "JPEG" and thumb.size == (THUMB_SIDE, 180) and len(draft.thumb) < 40_000


def test_a_camera_photo_is_turned_upright_and_loses_its_exif_and_gps() -> None:
    original = camera_jpeg()
    assert opened(original).getexif()[ExifTags.Base.Orientation] == 6 and b"TelefonoDeLaMama" in original
    form = ReportForm()
    assert add_photos(form, [("IMG_0002.JPG", original)], ES) == []
    [draft] = form.photos
    upright = assert_clean_upright_jpeg(draft.data)
    assert upright.size == (300, 400), "portrait, as the camera was held"
    # Stored left half red, right half blue; turned 90° clockwise, red is on top and blue below.
    top, bottom = upright.getpixel((150, 40)), upright.getpixel((150, 360))
    assert top[0] > 200 and top[2] < 60 and bottom[2] > 200 and bottom[0] < 60, (top, bottom)
    assert assert_clean_upright_jpeg(draft.thumb, max_side=THUMB_SIDE).size == (180, 240)
    assert thumbnail(draft.data) is not None and thumbnail(camera_jpeg()[:700]) is None, "no thumbnail of a wreck"


PHOTO_POSTS = "/api/v1/incidents/*/photos"


async def _report_with_photos(session, photos: list[bytes], unit_id: str | None = None) -> str:  # type: ignore[no-untyped-def]
    session.select_child(_mateo(session))
    session.report.start()
    form = session.state.incidents.form
    assert form is not None
    assert await session.report.add_photos([(f"foto{n}.png", data) for n, data in enumerate(photos)])
    assert form.preparing == 0
    session.report.pick_category(MED)
    form.item_name, form.description = "Metotrexato", TEXT
    if unit_id is not None:
        form.unit_id = unit_id
    assert session.report.submit(form), form.errors
    return session.state.incidents.selected_id


async def test_offline_report_with_a_photo_then_online_creates_once_and_uploads_once_despite_a_lost_answer(
        make_session, secrets, server: InProcessServer, net: FaultTransport, data_dir) -> None:  # type: ignore[no-untyped-def]
    session = await _guardian(make_session, secrets)
    net.offline = True
    photo = png("purple", (40, 30))
    local_id = await _report_with_photos(session, [photo])
    report_item, photo_item = session.scope.outbox.items()
    assert (photo_item.type, photo_item.op, photo_item.path, photo_item.record_id) == (
        PHOTO_TYPE, WriteOp.UPDATE, PHOTOS_PATH, local_id)
    draft = session.scope.incidents.draft(photo_item.id)
    assert draft is not None and draft.content_type == "image/jpeg" and opened(draft.data).size == (40, 30)
    assert photo_item.body == {"content_type": "image/jpeg", "size": len(draft.data)}
    assert report_item.seq < photo_item.seq
    raw = (data_dir / "carnet-cache.sqlite3").read_bytes()
    for kept in (draft.data, draft.thumb):
        assert kept[-64:] not in raw and base64.b64encode(kept)[-64:] not in raw, "kept encrypted"
    [shown] = session.report.photos(session.state.selected_report)
    assert shown.data == draft.thumb and shown.mark is Mark.PENDING, "the screen gets the thumbnail"
    await session.refresh()  # still offline: both wait
    assert len(session.scope.outbox.items()) == 2 and ours(server) == []

    net.lose_answer("POST", PHOTO_POSTS, outcome=httpx.ReadTimeout("answer lost"))
    net.offline = False
    await session.refresh()  # the report goes, the photo goes, its answer is lost: it waits (no pull meanwhile)
    assert net.count(PHOTO_POSTS, "POST") == 1 and not [a for a in net.answers if a[1].endswith("/photos")]
    [incident] = ours(server)
    assert len(photos_on(server)) == 1, "the server stored the photo"
    assert [i.id for i in session.scope.outbox.items()] == [photo_item.id]
    view = session.state.selected_report
    assert view is not None and view.folio == incident.folio and len(view.photos) == 1
    assert view.incident is not None and view.incident.photos == [], "shown once: not yet pulled twice"
    await session.refresh()  # sent again with the same Idempotency-Key: the server replays its answer
    assert session.scope.outbox.items() == []
    [server_photo] = photos_on(server)
    sent = net.uploads(PHOTO_POSTS)
    assert sent == [draft.data, draft.data], "the prepared copy went (twice, the same), not the original"
    assert server_photo.incident_id == incident.id and server_photo.content_type == "image/jpeg"
    assert opened(stored(server, server_photo)).size == (40, 30)
    assert session.scope.incidents.draft(photo_item.id) is None, "the queued bytes leave with the item"
    await session.refresh()  # nothing more goes
    assert len(photos_on(server)) == 1 and len(ours(server)) == 1
    view = session.state.selected_report
    assert view is not None and view.id == incident.id and view.photos == ()
    # "Mis reportes": the phone kept its own thumbnail for the server's photo: nothing to download again.
    if session.report.photo_task is not None:
        await session.report.photo_task
    [shown] = session.report.photos(view)
    assert shown.key == server_photo.id and shown.data == draft.thumb and shown.mark is Mark.SYNCED
    photo_reads = f"/api/v1/incidents/{incident.id}/photos/*"
    assert net.count(photo_reads, "GET") == 0
    # A phone without it (e.g. the report made on another one): fetched with the session, reduced, and only
    # the thumbnail kept in the encrypted store.
    session.scope.incidents.prune_photos(keep_photos=set(), keep_drafts=set())
    assert session.report.photos(view)[0].data is None
    assert await session.report.load_photos() == 1
    assert [p for m, p in net.calls if m == "GET" and "/photos/" in p] == [
        f"/api/v1/incidents/{incident.id}/photos/{server_photo.id}"]
    [shown] = session.report.photos(view)
    assert shown.data == session.scope.incidents.thumb(server_photo.id)
    assert opened(shown.data).size == (40, 30)
    await session.close()


async def test_a_large_photo_is_accepted_and_uploaded_as_a_small_jpeg_without_metadata(
        make_session, secrets, server: InProcessServer, net: FaultTransport) -> None:  # type: ignore[no-untyped-def]
    session = await _guardian(make_session, secrets)
    big, camera = noisy_png(), camera_jpeg()
    assert len(big) > server.ctx.settings.incident_photo_max_bytes
    await _report_with_photos(session, [big, camera])
    await session.refresh()
    assert session.scope.outbox.items() == [] and len(photos_on(server)) == 2
    [incident] = ours(server)
    sent = net.uploads(PHOTO_POSTS)  # what the app sent (the server re-encodes what it keeps)
    assert [p.content_type for p in photos_on(server)] == ["image/jpeg", "image/jpeg"]
    assert all(p.incident_id == incident.id for p in photos_on(server))
    assert [assert_clean_upright_jpeg(data).size for data in sent] == [(1600, 1200), (300, 400)]
    assert all(len(data) < 1024 * 1024 for data in sent)
    assert [opened(stored(server, p)).size for p in photos_on(server)] == [(1600, 1200), (300, 400)]
    await session.close()


async def test_a_damaged_photo_picked_in_the_app_says_why_and_changes_nothing(
        make_session, secrets, server: InProcessServer) -> None:  # type: ignore[no-untyped-def]
    session = await _guardian(make_session, secrets)
    session.select_child(_mateo(session))
    session.report.start()
    form = session.state.incidents.form
    assert form is not None
    assert await session.report.add_photos([("IMG_0003.jpg", camera_jpeg()[:700])]) is False
    assert form.errors == {"photos": "«IMG_0003.jpg» no es una foto JPG o PNG; no se agregó."}
    assert form.photos == [] and form.preparing == 0 and session.scope.outbox.items() == []
    await session.close()


async def test_a_photo_the_server_refuses_is_shown_with_its_reason_then_retried(make_session, secrets,
                                                                                 server: InProcessServer) -> None:
    session = await _guardian(make_session, secrets)
    await _report_with_photos(session, [png()])
    with server.configured(incident_max_photos=0):  # the server takes no photo for a while
        await session.refresh()
    refusal = server_text("too_many_photos", "es", max=0)
    [item] = session.scope.outbox.items()
    assert item.type == PHOTO_TYPE and item.state is OutboxState.FAILED
    assert item.error == refusal and photos_on(server) == []
    [incident] = ours(server)
    view = session.state.selected_report
    assert view is not None and view.folio == incident.folio and view.mark is Mark.SYNCED
    [pending] = view.photos
    assert pending.mark is Mark.FAILED and pending.error == refusal
    [shown] = session.report.photos(view)
    assert shown.mark is Mark.FAILED and shown.data is not None, "the photo stays on the phone, never lost"
    session.retry_item(item.id)
    await session.refresh()
    assert session.scope.outbox.items() == [] and len(photos_on(server)) == 1
    assert len(session.state.selected_report.incident.photos) == 1  # type: ignore[union-attr]
    await session.close()


async def test_photos_wait_behind_a_refused_report_and_leave_with_it(make_session, secrets,
                                                                      server: InProcessServer,
                                                                      net: FaultTransport) -> None:
    session = await _guardian(make_session, secrets)
    await _report_with_photos(session, [png(), jpeg()], unit_id=NO_UNIT)  # a unit the server refuses
    await session.refresh()
    report_item, *photo_items = session.scope.outbox.items()
    assert report_item.state is OutboxState.FAILED and len(photo_items) == 2
    assert all(i.state is OutboxState.PENDING and i.attempts == 0 for i in photo_items), "never sent alone"
    view = session.state.selected_report
    assert view is not None and view.mark is Mark.FAILED and [p.mark for p in view.photos] == [Mark.PENDING] * 2
    session.discard_item(report_item.id)
    assert session.scope.outbox.items() == []
    assert all(session.scope.incidents.draft(i.id) is None for i in photo_items), "their bytes are gone too"
    assert photos_on(server) == [] and ours(server) == [] and net.uploads(PHOTO_POSTS) == []
    await session.close()


async def test_case_desk_sees_the_photos_in_memory_and_downloads_the_weekly_files(make_session, secrets,
                                                                                  server: InProcessServer,
                                                                                  net: FaultTransport) -> None:
    family = await _guardian(make_session, secrets)
    await _report_with_photos(family, [noisy_png()])
    await family.refresh()
    await family.close()
    [incident] = ours(server)
    session = await _desk(make_session, DictSecretStore())  # another device
    await session.desk.open(incident.id)
    [photo] = photos_on(server)
    assert session.desk.photo_data == {photo.id: thumbnail(stored(server, photo))}
    assert opened(session.desk.photo_data[photo.id]).size == (THUMB_SIDE, 180), "a thumbnail, not the photo"
    assert session.login_scope is None, "staff mode keeps nothing on the device"
    session.desk.back()
    assert session.desk.photo_data == {}
    await session.desk.show_weekly()
    week = session.state.desk.week
    made = await session.desk.weekly_file("csv")
    assert made is not None and made[0] == f"casos-semana-{week.isoformat()}.csv"
    assert made[1].startswith(b"indicador,categoria,unidad,insumo,valor\r\n")
    assert f"semana_inicio,,,,{week.isoformat()}".encode() in made[1]
    md = await session.desk.weekly_file("md")
    assert md is not None and md[0].endswith(".md") and md[1].startswith("# Sesión de trabajo".encode())
    session.desk.file_saved(md[0], True)
    assert session.state.desk.message == f"Archivo listo: {md[0]}"
    net.fail("GET", "/api/v1/case-desk/weekly.csv", error_response(503, "unavailable", "Servicio no disponible."),
             times=5)  # down for a while
    assert await session.desk.weekly_file("csv") is None
    assert session.state.desk.error == "El sistema tuvo un problema. Intenta de nuevo más tarde."
    session.desk.file_saved("x.csv", False)
    assert session.state.desk.error == "No se pudo guardar x.csv."
    await session.close()
