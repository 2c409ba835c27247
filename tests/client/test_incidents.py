"""Incident reports against the fake API: the form checks, the outbox body, offline report then sync
(folio), a lost answer sent twice but created once, reopen, the deadline sentence, the case desk's
queue (order, filters), answers and the server's 422, weekly figures."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from PIL import ExifTags

from carnet.data.records import Mark
from carnet.core.i18n import Translator
from carnet.incidents.form import MAX_PHOTOS, ORIGINAL_MAX_BYTES, PHOTO_MAX_BYTES, ReportForm, add_photos, check_reason, check_report, remove_photo
from carnet.incidents.repository import INCIDENTS_PATH, PHOTO_TYPE, PHOTOS_PATH, deadline_text, filter_queue, queue_order
from carnet.data.outbox import OutboxState, WriteOp
from carnet.incidents.photos import THUMB_SIDE, thumbnail
from carnet.core.navigation import Phase, Screen
from carnet_contract import models as contract

from tests.support.photos import assert_clean_upright_jpeg, bomb_png, camera_jpeg, jpeg, noisy_png, opened, png
from tests.support.secret_stores import DictSecretStore

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
    [item] = session.scope.outbox.items()  # type: ignore[union-attr]
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
    assert view.status is contract.IncidentStatus.RECIBIDA and session.scope.outbox.items() == []  # type: ignore[union-attr]
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
    [item] = session.scope.outbox.items()  # type: ignore[union-attr]
    await session.refresh()  # the answer is lost: the item waits (network)
    assert fake_api.incidents.created == 1 and answered[0].status_code == 201
    assert [i.id for i in session.scope.outbox.items()] == [item.id]  # type: ignore[union-attr]
    await session.refresh()  # sent again with the same Idempotency-Key: the stored answer comes back
    assert session.scope.outbox.items() == []  # type: ignore[union-attr]
    [report] = session.state.incidents.reports
    assert report.folio == answered[0].json()["folio"] and report.mark is Mark.SYNCED
    assert len(fake_api.incidents.rows) == 1
    await session.close()


async def test_server_refusal_is_kept_with_its_reason(make_session, secrets, fake_api: FakeApi) -> None:
    session = await _guardian(make_session, secrets)
    fake_api.incidents.write_failures.append(FakeApi.error(422, "unknown_unit", "Esa unidad no existe."))
    assert _report(session)
    await session.refresh()
    [item] = session.scope.outbox.items()  # type: ignore[union-attr]
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
    [item] = session.scope.outbox.items()  # type: ignore[union-attr]
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
    assert session.login_scope is None  # online only: nothing of it goes to the device
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


async def _report_with_photos(session, photos: list[bytes]) -> str:  # type: ignore[no-untyped-def]
    session.select_child("p-mateo")
    session.report.start()
    form = session.state.incidents.form
    assert form is not None
    assert await session.report.add_photos([(f"foto{n}.png", data) for n, data in enumerate(photos)])
    assert form.preparing == 0
    session.report.pick_category(MED)
    form.item_name, form.description = "Metotrexato", "No hay en farmacia desde el lunes."
    assert session.report.submit(form), form.errors
    return session.state.incidents.selected_id


async def test_offline_report_with_a_photo_then_online_creates_once_and_uploads_once_despite_a_lost_answer(
        make_session, secrets, fake_api: FakeApi, data_dir) -> None:  # type: ignore[no-untyped-def]
    session = await _guardian(make_session, secrets)
    fake_api.offline = True
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
    assert len(session.scope.outbox.items()) == 2 and fake_api.incidents.created == 0

    lost: list[int] = []

    def lose_first_photo_answer(request: httpx.Request) -> httpx.Response | None:
        if request.url.path.endswith("/photos") and request.method == "POST" and not lost:
            answer = fake_api.incidents.handle(request, "guardian", ["p-mateo", "p-valentina"])
            lost.append(answer.status_code)
            raise httpx.ReadTimeout("answer lost", request=request)
        return None

    fake_api.override = lose_first_photo_answer
    fake_api.offline = False
    await session.refresh()  # the report goes, the photo goes, its answer is lost: it waits (no pull meanwhile)
    assert lost == [201]
    assert fake_api.incidents.created == 1 and fake_api.incidents.photos_stored == 1
    assert [i.id for i in session.scope.outbox.items()] == [photo_item.id]
    view = session.state.selected_report
    assert view is not None and view.folio == "CE-2026-000123" and len(view.photos) == 1
    assert view.incident is not None and view.incident.photos == [], "shown once: not yet pulled twice"
    await session.refresh()  # sent again with the same Idempotency-Key: the server replays its answer
    assert session.scope.outbox.items() == []
    [incident] = fake_api.incidents.rows.values()
    [server_photo] = incident.photos
    assert fake_api.incidents.photo_bytes[server_photo.id] == draft.data, "the prepared copy went, not the original"
    assert session.scope.incidents.draft(photo_item.id) is None, "the queued bytes leave with the item"
    await session.refresh()  # nothing more goes
    assert fake_api.incidents.photos_stored == 1 and len(fake_api.incidents.rows) == 1
    view = session.state.selected_report
    assert view is not None and view.id == incident.id and view.photos == ()
    # "Mis reportes": the phone kept its own thumbnail for the server's photo: nothing to download again.
    if session.report.photo_task is not None:
        await session.report.photo_task
    [shown] = session.report.photos(view)
    assert shown.key == server_photo.id and shown.data == draft.thumb and shown.mark is Mark.SYNCED
    assert fake_api.incidents.photo_reads == []
    # A phone without it (e.g. the report made on another one): fetched with the session, reduced, and only
    # the thumbnail kept in the encrypted store.
    session.scope.incidents.prune_photos(keep_photos=set(), keep_drafts=set())
    assert session.report.photos(view)[0].data is None
    assert await session.report.load_photos() == 1
    assert fake_api.incidents.photo_reads == [server_photo.id]
    [shown] = session.report.photos(view)
    assert shown.data == session.scope.incidents.thumb(server_photo.id)
    assert opened(shown.data).size == (40, 30)
    await session.close()


async def test_a_large_photo_is_accepted_and_uploaded_as_a_small_jpeg_without_metadata(
        make_session, secrets, fake_api: FakeApi) -> None:  # type: ignore[no-untyped-def]
    session = await _guardian(make_session, secrets)
    big, camera = noisy_png(), camera_jpeg()
    assert len(big) > fake_api.incidents.PHOTO_MAX_BYTES
    await _report_with_photos(session, [big, camera])
    await session.refresh()
    assert session.scope.outbox.items() == [] and fake_api.incidents.photos_stored == 2
    [incident] = fake_api.incidents.rows.values()
    sent = [fake_api.incidents.photo_bytes[p.id] for p in incident.photos]
    assert [p.content_type for p in incident.photos] == ["image/jpeg", "image/jpeg"]
    assert [assert_clean_upright_jpeg(data).size for data in sent] == [(1600, 1200), (300, 400)]
    assert all(len(data) < 1024 * 1024 for data in sent)
    await session.close()


async def test_a_damaged_photo_picked_in_the_app_says_why_and_changes_nothing(
        make_session, secrets, fake_api: FakeApi) -> None:  # type: ignore[no-untyped-def]
    session = await _guardian(make_session, secrets)
    session.select_child("p-mateo")
    session.report.start()
    form = session.state.incidents.form
    assert form is not None
    assert await session.report.add_photos([("IMG_0003.jpg", camera_jpeg()[:700])]) is False
    assert form.errors == {"photos": "«IMG_0003.jpg» no es una foto JPG o PNG; no se agregó."}
    assert form.photos == [] and form.preparing == 0 and session.scope.outbox.items() == []
    await session.close()


async def test_a_photo_the_server_refuses_is_shown_with_its_reason_then_retried(make_session, secrets,
                                                                                 fake_api: FakeApi) -> None:
    session = await _guardian(make_session, secrets)
    original = fake_api.incidents.handle
    refusals = [FakeApi.error(409, "too_many_photos", "El caso ya tiene 3 fotos, el máximo permitido.")]

    def refuse_photo(request, role, patients):  # type: ignore[no-untyped-def]
        if request.url.path.endswith("/photos") and request.method == "POST" and refusals:
            return refusals.pop(0)
        return original(request, role, patients)

    fake_api.incidents.handle = refuse_photo  # type: ignore[method-assign]
    await _report_with_photos(session, [png()])
    await session.refresh()
    [item] = session.scope.outbox.items()
    assert item.type == PHOTO_TYPE and item.state is OutboxState.FAILED
    assert item.error == "El caso ya tiene 3 fotos, el máximo permitido."
    view = session.state.selected_report
    assert view is not None and view.folio == "CE-2026-000123" and view.mark is Mark.SYNCED
    [pending] = view.photos
    assert pending.mark is Mark.FAILED and pending.error == "El caso ya tiene 3 fotos, el máximo permitido."
    [shown] = session.report.photos(view)
    assert shown.mark is Mark.FAILED and shown.data is not None, "the photo stays on the phone, never lost"
    session.retry_item(item.id)
    await session.refresh()
    assert session.scope.outbox.items() == [] and fake_api.incidents.photos_stored == 1
    assert len(session.state.selected_report.incident.photos) == 1  # type: ignore[union-attr]
    await session.close()


async def test_photos_wait_behind_a_refused_report_and_leave_with_it(make_session, secrets,
                                                                      fake_api: FakeApi) -> None:
    session = await _guardian(make_session, secrets)
    fake_api.incidents.write_failures.append(FakeApi.error(422, "unknown_unit", "Esa unidad no existe."))
    await _report_with_photos(session, [png(), jpeg()])
    await session.refresh()
    report_item, *photo_items = session.scope.outbox.items()
    assert report_item.state is OutboxState.FAILED and len(photo_items) == 2
    assert all(i.state is OutboxState.PENDING and i.attempts == 0 for i in photo_items), "never sent alone"
    view = session.state.selected_report
    assert view is not None and view.mark is Mark.FAILED and [p.mark for p in view.photos] == [Mark.PENDING] * 2
    session.discard_item(report_item.id)
    assert session.scope.outbox.items() == []
    assert all(session.scope.incidents.draft(i.id) is None for i in photo_items), "their bytes are gone too"
    assert fake_api.incidents.photos_stored == 0
    await session.close()


async def test_case_desk_sees_the_photos_in_memory_and_downloads_the_weekly_files(make_session, secrets,
                                                                                  fake_api: FakeApi) -> None:
    family = await _guardian(make_session, secrets)
    await _report_with_photos(family, [noisy_png()])
    await family.refresh()
    await family.close()
    incident = next(iter(fake_api.incidents.rows.values()))
    session = await _desk(make_session, DictSecretStore())  # another device
    await session.desk.open(incident.id)
    [photo] = incident.photos
    assert session.desk.photo_data == {photo.id: thumbnail(fake_api.incidents.photo_bytes[photo.id])}
    assert opened(session.desk.photo_data[photo.id]).size == (THUMB_SIDE, 180), "a thumbnail, not the photo"
    assert session.login_scope is None, "staff mode keeps nothing on the device"
    session.desk.back()
    assert session.desk.photo_data == {}
    await session.desk.show_weekly()
    week = session.state.desk.week
    made = await session.desk.weekly_file("csv")
    assert made is not None and made[0] == f"casos-semana-{week.isoformat()}.csv"
    assert made[1].startswith(b"semana,reportes_nuevos")
    md = await session.desk.weekly_file("md")
    assert md is not None and md[0].endswith(".md") and md[1].startswith("# Sesión de trabajo".encode())
    session.desk.file_saved(md[0], True)
    assert session.state.desk.message == f"Archivo listo: {md[0]}"
    fake_api.incidents.write_failures.clear()
    fake_api.override = lambda request: (FakeApi.error(503, "unavailable", "Servicio no disponible.")
                                         if request.url.path.endswith("weekly.csv") else None)
    assert await session.desk.weekly_file("csv") is None
    assert session.state.desk.error == "El servidor tuvo un problema. Intenta de nuevo más tarde."
    session.desk.file_saved("x.csv", False)
    assert session.state.desk.error == "No se pudo guardar x.csv."
    await session.close()
