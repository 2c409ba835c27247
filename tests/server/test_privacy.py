"""Privacy (issue #7): the versioned notice, accepting it, the gate on health data, the family's data
export, and closing the account — on SQLite and PostgreSQL."""

from __future__ import annotations

import re
import shutil
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from sqlalchemy import event, func, select
from starlette.testclient import TestClient

from carnet_contract import models as contract
from carnet_server.app import create_app
from carnet_server.audit import AuditEntry
from carnet_server.auth.deps import dependency_calls, get_current_user, get_signed_in_user
from carnet_server.auth.service import create_user
from carnet_server.auth.tables import User
from carnet_server.context import Context, build_context
from carnet_server.db import utcnow
from carnet_server.demo import DEMO_PASSWORD, seed
from carnet_server.patients.tables import GuardianPatient, Patient
from carnet_server.privacy import notices
from carnet_server.privacy import service as privacy_service
from carnet_server.privacy.tables import AccountClosureRequest, PrivacyAcceptance
from carnet_server.settings import Settings
from tests.server.blood_bank_support import bank_id, body as booking_body, open_day
from tests.server.conftest import assert_error, bearer, login
from tests.server.test_security_routes import PUBLIC
from tests.support.photos import png

NOTICE = "/api/v1/privacy/notice"
ACCEPT = "/api/v1/privacy/acceptance"
EXPORT = "/api/v1/privacy/export"
CLOSURE = "/api/v1/privacy/closure-request"
CANCEL = "/api/v1/privacy/closure-request/cancel"
CLOSURES = "/api/v1/privacy/closure-requests"
MATEO, SANTIAGO = "Mateo Hernández", "Santiago Ramírez"

#: The only routes a guardian may use before accepting the notice in force (auth/deps.py).
BEFORE_NOTICE = {
    "GET /api/v1/me", "POST /api/v1/auth/logout", "POST /api/v1/auth/password", f"POST {ACCEPT}",
    f"POST {CLOSURE}", f"POST {CANCEL}",
}


def _current(ctx: Context) -> str:
    return notices.current_version(ctx.settings)


def _new_guardian(ctx: Context, username: str = "tia.nueva", child: str = MATEO) -> str:
    """A guardian of ``child`` who has not accepted any notice yet (as after migration 0007); returns the id."""
    with ctx.sessions() as session:
        user = create_user(session, ctx=ctx, username=username, password=DEMO_PASSWORD, role="guardian",
                           display_name="Tía Nueva")
        patient = session.scalars(select(Patient).where(Patient.display_name == child)).one()
        session.add(GuardianPatient(user_id=user.id, patient_id=patient.id))
        session.commit()
        return user.id


def _audit_rows(ctx: Context, action: str) -> list[AuditEntry]:
    with ctx.sessions() as session:
        return list(session.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)))


def _count(ctx: Context, model: Any, *where: Any) -> int:
    with ctx.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


# ---- the notice -----------------------------------------------------------------------------------------------


def test_notice_is_public_in_spanish_first_and_english(client: TestClient, ctx: Context) -> None:
    spanish = client.get(NOTICE)
    assert spanish.status_code == 200 and spanish.headers["Content-Language"] == "es-MX"
    notice = contract.PrivacyNotice.model_validate(spanish.json())
    assert notice.version == _current(ctx) and notice.lang == "es-MX"
    assert notice.title == "Aviso de privacidad de Carnet" and notice.summary
    text = " ".join(f"{s.heading} {s.body}" for s in notice.sections)
    for words in ("Qué datos guardamos", "NSS", "CURP", "expediente del hospital", "se cierre tu cuenta",
                  "ARCO", "Ley General de Protección de Datos Personales en Posesión de Sujetos Obligados",
                  "mezclas", "registro de accesos"):
        assert words in text, words
    english = client.get(NOTICE, headers={"Accept-Language": "en-US,en;q=0.9"})
    assert english.headers["Content-Language"] == "en"
    notice_en = contract.PrivacyNotice.model_validate(english.json())
    assert notice_en.version == notice.version and notice_en.lang == "en"
    assert notice_en.title == "Carnet privacy notice" and len(notice_en.sections) == len(notice.sections)


def test_a_broken_or_misnamed_notice_stops_the_server_at_start(tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "2027-01.toml").write_text('version = "2027-01"\npublished_on = 2027-01-05\n[es]\ntitle = "x"\n')
    with pytest.raises(notices.NoticeError, match="2027-01.toml"):
        notices.check_notices(Settings(privacy_notices_dir=broken))
    misnamed = tmp_path / "misnamed"
    misnamed.mkdir()
    shutil.copy(notices.DEFAULT_DIR / "2026-11.toml", misnamed / "ultimo.toml")
    with pytest.raises(notices.NoticeError, match="name the file after it"):
        notices.check_notices(Settings(privacy_notices_dir=misnamed))
    with pytest.raises(notices.NoticeError, match="no privacy notice"):
        notices.check_notices(Settings(privacy_notices_dir=tmp_path / "empty"))


# ---- accepting it ------------------------------------------------------------------------------------------


def test_accepting_the_current_version_once(client: TestClient, ctx: Context) -> None:
    user_id = _new_guardian(ctx)
    headers = bearer(login(client, "tia.nueva")["access_token"])
    before = client.get("/api/v1/me", headers=headers).json()["privacy"]
    assert before == {"current_version": _current(ctx), "accepted_version": None, "accepted_at": None,
                      "closure_request": None}

    first = client.post(ACCEPT, json={"version": _current(ctx)}, headers=headers)
    assert first.status_code == 200, first.text
    status = contract.PrivacyStatus.model_validate(first.json())
    assert status.accepted and status.accepted_version == _current(ctx) and status.accepted_at is not None
    again = client.post(ACCEPT, json={"version": _current(ctx)}, headers=headers)
    assert again.status_code == 200 and again.json() == first.json()  # same time: nothing new recorded

    assert _count(ctx, PrivacyAcceptance, PrivacyAcceptance.user_id == user_id) == 1
    rows = _audit_rows(ctx, "privacy.accept")
    assert [(r.actor_id, r.object_id, r.detail) for r in rows] == [(user_id, user_id, {"version": _current(ctx)})]
    assert client.get("/api/v1/me", headers=headers).json()["privacy"]["accepted_version"] == _current(ctx)


def test_accepting_another_version_or_as_staff_or_with_unknown_fields_changes_nothing(
        client: TestClient, ctx: Context, auth: Any) -> None:
    user_id = _new_guardian(ctx)
    headers = {**bearer(login(client, "tia.nueva")["access_token"]), "Accept-Language": "en"}
    outdated = assert_error(client.post(ACCEPT, json={"version": "2020-01"}, headers=headers),
                            409, "privacy_version_outdated")
    assert "privacy notice has changed" in outdated["message"]
    assert "cambió" in assert_error(client.post(ACCEPT, json={"version": "2020-01"}, headers={
        **headers, "Accept-Language": "es-MX"}), 409)["message"]
    assert_error(client.post(ACCEPT, json={"version": _current(ctx), "user_id": "otro"}, headers=headers),
                 422, "validation_error")
    assert_error(client.post(ACCEPT, json={"version": ""}, headers=headers), 422, "validation_error")
    assert_error(client.post(ACCEPT, json={"version": _current(ctx)}, headers=auth("casos.demo")), 403, "forbidden")
    assert_error(client.post(ACCEPT, json={"version": _current(ctx)}), 401)

    assert _count(ctx, PrivacyAcceptance, PrivacyAcceptance.user_id == user_id) == 0
    assert _audit_rows(ctx, "privacy.accept") == []
    with ctx.sessions() as session:
        assert session.get_one(User, user_id).privacy_version is None
    # still gated
    assert_error(client.get("/api/v1/blood-banks", headers=headers), 403, "privacy_notice_required")


# ---- the gate --------------------------------------------------------------------------------------------------


def _routes(app: FastAPI) -> dict[str, APIRoute]:
    found = {}
    for route_ctx in iter_route_contexts(app.routes):
        if isinstance(route_ctx.original_route, APIRoute):
            for method in route_ctx.methods or ():
                found[f"{method} {route_ctx.path}"] = route_ctx
    return found


def test_only_the_short_list_of_routes_skips_the_notice_gate(app: FastAPI) -> None:
    routes = _routes(app)
    signed_in = {key for key, route in routes.items() if get_signed_in_user in dependency_calls(route.dependant)}
    gated = {key for key, route in routes.items() if get_current_user in dependency_calls(route.dependant)}
    assert signed_in == set(routes) - set(PUBLIC)  # every non-public route authenticates
    assert signed_in - gated == BEFORE_NOTICE


def test_every_gated_route_refuses_a_guardian_who_has_not_accepted(app: FastAPI, client: TestClient,
                                                                   ctx: Context) -> None:
    """Generated from app.routes: whatever the route (staff-only ones too), whatever the ids or body."""
    _new_guardian(ctx)
    headers = {**bearer(login(client, "tia.nueva")["access_token"]), "Accept-Language": "en"}
    wrong = []
    gated = sorted(set(_routes(app)) - set(PUBLIC) - BEFORE_NOTICE)
    assert len(gated) >= 40, gated
    for key in gated:
        method, path = key.split(" ", 1)
        response = client.request(method, re.sub(r"\{[^}]+\}", uuid.uuid4().hex[:12], path), headers=headers)
        if response.status_code != 403 or response.json()["error"]["code"] != "privacy_notice_required":
            wrong.append((key, response.status_code, response.text[:120]))
    assert wrong == []
    error = assert_error(client.get("/api/v1/blood-banks", headers=headers), 403, "privacy_notice_required")
    assert error["message"].startswith("Before you see or save your family's health data")
    spanish = assert_error(client.get("/api/v1/blood-banks", headers=bearer(headers["Authorization"][7:])), 403)
    assert "aviso de privacidad" in spanish["message"]
    # the gate is documented: 403 on gated operations in the OpenAPI document
    paths = app.openapi()["paths"]
    assert "403" in paths["/api/v1/patients/{patient_id}/carnet"]["get"]["responses"]


def test_the_routes_before_the_notice_work_and_accepting_opens_the_rest(client: TestClient, ctx: Context,
                                                                        patient_ids: dict[str, str]) -> None:
    _new_guardian(ctx)
    headers = bearer(login(client, "tia.nueva")["access_token"])
    carnet = f"/api/v1/patients/{patient_ids[MATEO]}/carnet"
    assert_error(client.get(carnet, headers=headers), 403, "privacy_notice_required")
    me = client.get("/api/v1/me", headers=headers)
    assert me.status_code == 200 and [p["display_name"] for p in me.json()["patients"]] == [MATEO]
    assert client.post(CLOSURE, json={}, headers=headers).status_code == 201
    assert client.post(CANCEL, headers=headers).status_code == 200
    assert client.post(ACCEPT, json={"version": _current(ctx)}, headers=headers).status_code == 200
    assert client.get(carnet, headers=headers).status_code == 200  # the same token: no new login needed
    assert client.post("/api/v1/auth/logout", headers=headers).status_code == 204


def test_staff_are_not_gated(client: TestClient, ctx: Context, auth: Any, patient_ids: dict[str, str]) -> None:
    with ctx.sessions() as session:  # the demo staff never accepted a notice
        assert session.scalar(select(User.privacy_version).where(User.username == "casos.demo")) is None
    response = client.get(f"/api/v1/patients/{patient_ids[MATEO]}/carnet", headers=auth("casos.demo"))
    assert response.status_code == 200
    assert client.get("/api/v1/me", headers=auth("casos.demo")).json()["privacy"] is None


@pytest.fixture
def published(settings: Settings, tmp_path: Path) -> Iterator[tuple[TestClient, Context, Path]]:
    """The demo app reading its notices from a directory of the test's own."""
    directory = tmp_path / "notices"
    directory.mkdir()
    shutil.copy(notices.DEFAULT_DIR / "2026-11.toml", directory)
    context = build_context(settings.model_copy(update={"privacy_notices_dir": directory}))
    with context.sessions() as session:
        seed(session, ctx=context)
    yield TestClient(create_app(context=context)), context, directory
    context.engine.dispose()


def test_publishing_a_new_version_gates_guardians_again(published: tuple[TestClient, Context, Path]) -> None:
    client, ctx, directory = published
    madre = bearer(login(client, "madre.demo")["access_token"])
    with ctx.sessions() as session:
        mateo = session.scalars(select(Patient.id).where(Patient.display_name == MATEO)).one()
    carnet = f"/api/v1/patients/{mateo}/carnet"
    assert client.get(carnet, headers=madre).status_code == 200

    text = (directory / "2026-11.toml").read_text(encoding="utf-8")
    text = text.replace('version = "2026-11"', 'version = "2027-01"').replace(
        "published_on = 2026-11-26", "published_on = 2027-01-05").replace(
        'title = "Aviso de privacidad de Carnet"', 'title = "Aviso de privacidad de Carnet (enero 2027)"')
    stamp = directory.stat().st_mtime_ns
    (directory / "2027-01.toml").write_text(text, encoding="utf-8")
    if directory.stat().st_mtime_ns == stamp:  # a file system with a coarse clock: a real publish is later
        import os
        os.utime(directory, ns=(stamp + 1_000_000_000, stamp + 1_000_000_000))

    notice = client.get(NOTICE).json()
    assert (notice["version"], notice["title"]) == ("2027-01", "Aviso de privacidad de Carnet (enero 2027)")
    assert_error(client.get(carnet, headers=madre), 403, "privacy_notice_required")  # the same session
    privacy = client.get("/api/v1/me", headers=madre).json()["privacy"]
    assert (privacy["current_version"], privacy["accepted_version"]) == ("2027-01", "2026-11")
    assert_error(client.post(ACCEPT, json={"version": "2026-11"}, headers=madre), 409, "privacy_version_outdated")
    assert client.post(ACCEPT, json={"version": "2027-01"}, headers=madre).status_code == 200
    assert client.get(carnet, headers=madre).status_code == 200
    with ctx.sessions() as session:
        versions = session.scalars(select(PrivacyAcceptance.version).join(User, User.id == PrivacyAcceptance.user_id)
                                   .where(User.username == "madre.demo").order_by(PrivacyAcceptance.version))
        assert list(versions) == ["2026-11", "2027-01"]

    # a broken file published later does not take the server down: the notice in force stays
    (directory / "2027-02.toml").write_text("version = ", encoding="utf-8")
    if directory.stat().st_mtime_ns == stamp:
        import os
        os.utime(directory, ns=(stamp + 2_000_000_000, stamp + 2_000_000_000))
    assert client.get(NOTICE).json()["version"] == "2027-01"
    assert client.get(carnet, headers=madre).status_code == 200


# ---- Me.privacy ------------------------------------------------------------------------------------------------


def test_me_shows_the_guardians_privacy_status(client: TestClient, ctx: Context, auth: Any) -> None:
    madre = auth("madre.demo")
    privacy = contract.Me.model_validate(client.get("/api/v1/me", headers=madre).json()).privacy
    assert privacy is not None and privacy.accepted and privacy.accepted_at is not None
    assert privacy.closure_request is None
    opened = client.post(CLOSURE, json={"reason": "Cambiamos de hospital"}, headers=madre).json()
    privacy = contract.Me.model_validate(client.get("/api/v1/me", headers=madre).json()).privacy
    assert privacy is not None and privacy.closure_request is not None
    assert privacy.closure_request.id == opened["id"] and privacy.closure_request.status == "solicitada"
    assert client.get("/api/v1/me", headers=auth("admin.demo")).json()["privacy"] is None


# ---- the export -------------------------------------------------------------------------------------------------


def _family_activity(client: TestClient, ctx: Context, madre: dict[str, str], mateo: str, n: int) -> None:
    """Appointments, a donor booking, an incident with a photo: records the export must carry."""
    for i in range(n):
        start = utcnow().replace(microsecond=0) + timedelta(days=30 + i)
        created = client.post(f"/api/v1/patients/{mateo}/appointments", headers=madre, json={
            "kind": "laboratorio", "title": f"Biometría {n}-{i}", "starts_at": start.isoformat(),
            "ends_at": (start + timedelta(minutes=30)).isoformat()})
        assert created.status_code == 201, created.text
    bank = bank_id(client, madre)
    _day, slots = open_day(client, ctx, madre, bank, skip=n - 1)
    booking = client.post("/api/v1/blood-bank/bookings", json=booking_body(slots[0]["id"], mateo,
                                                                        full_name=f"Donante Número {n}"),
                          headers=madre)
    assert booking.status_code == 201, booking.text
    incident = client.post("/api/v1/incidents", headers=madre, json={
        "patient_id": mateo, "category": "otro", "description": f"Reporte de prueba {n}"})
    assert incident.status_code == 201, incident.text
    photo = client.post(f"/api/v1/incidents/{incident.json()['id']}/photos",
                        files={"file": ("f.png", png(), "image/png")}, headers=madre)
    assert photo.status_code == 201, photo.text


def test_export_holds_the_family_data_and_nothing_secret(client: TestClient, ctx: Context, auth: Any,
                                                         patient_ids: dict[str, str]) -> None:
    tokens = login(client, "madre.demo")
    madre = bearer(tokens["access_token"])
    mateo = patient_ids[MATEO]
    _family_activity(client, ctx, madre, mateo, 1)
    qr = client.get(f"/api/v1/patients/{mateo}/carnet", headers=madre).json()["qr"]["token"]
    assert client.get(f"/api/v1/patients/{mateo}/carnet", headers=auth("casos.demo")).status_code == 200
    assert client.post("/api/v1/pharmacy/verify", json={"token": qr}, headers=auth("farmacia.demo")).status_code == 200

    response = client.get(EXPORT, headers=madre)
    assert response.status_code == 200, response.text
    today = ctx.today(utcnow()).isoformat()
    assert response.headers["Content-Disposition"] == f'attachment; filename="carnet-mis-datos-{today}.json"'
    assert response.headers["Content-Type"].startswith("application/json")
    data = contract.FamilyExport.model_validate(response.json())
    assert data.format == "carnet-export/1" and data.account.username == "madre.demo"
    assert [a.version for a in data.privacy_acceptances] == [_current(ctx)]
    assert data.sessions and all(s.created_at for s in data.sessions)
    assert [c.patient.display_name for c in data.children] == [MATEO, "Valentina Hernández"]

    child = data.children[0]
    assert child.patient.id == mateo and child.patient.nss and child.patient.curp
    assert child.diagnoses and child.protocols
    carnet = client.get(f"/api/v1/patients/{mateo}/carnet", headers=madre).json()
    assert [c.model_dump(mode="json") for c in child.cycles] == carnet["cycles"]
    with ctx.sessions() as session:
        from carnet_server.agenda.tables import Appointment
        assert {a.id for a in child.appointments} == set(session.scalars(
            select(Appointment.id).where(Appointment.patient_id == mateo)))
    assert child.qr_codes and all(q.issued_at for q in child.qr_codes)
    booking = next(b for b in child.blood_bank_bookings if b.donor.full_name == "Donante Número 1")
    assert booking.answers and all(isinstance(v, bool) for v in booking.answers.values())
    incident = next(i for i in child.incidents if i.description == "Reporte de prueba 1")
    assert len(incident.photos) == 1 and incident.photos[0].size > 0 and incident.photos[0].created_at
    roles = {(e.action, e.actor_role, e.by_you) for e in child.access_record}
    assert {("carnet.read", "case_desk", False), ("pharmacy.verify", "pharmacy", False),
            ("appointment.create", "guardian", True), ("incident.photo.add", "guardian", True)} <= roles

    raw = response.text
    with ctx.sessions() as session:
        staff_ids = set(session.scalars(select(User.id).where(User.role != "guardian")))
        password_hash = session.scalar(select(User.password_hash).where(User.username == "madre.demo"))
    for secret in (qr, tokens["access_token"], tokens["refresh_token"], password_hash, "testclient", *staff_ids):
        assert str(secret) not in raw
    assert "password" not in raw and "token_hash" not in raw

    rows = _audit_rows(ctx, "privacy.export")
    assert [(r.actor_id, r.object_type, r.detail) for r in rows] == [(data.account.id, "user", {"children": 2})]


def test_export_holds_nothing_of_another_family(client: TestClient, ctx: Context, auth: Any,
                                                patient_ids: dict[str, str]) -> None:
    madre, padre = auth("madre.demo"), auth("padre.demo")
    exports = {who: client.get(EXPORT, headers=h) for who, h in (("madre", madre), ("padre", padre))}
    with ctx.sessions() as session:
        people = {p.display_name: p for p in session.scalars(select(Patient))}
    santiago, mateo = people[SANTIAGO], people[MATEO]
    for text, other in ((exports["madre"].text, santiago), (exports["padre"].text, mateo)):
        for value in (other.id, other.full_name, other.nss, other.curp):
            assert value not in text
    assert [c["patient"]["display_name"] for c in exports["padre"].json()["children"]] == [SANTIAGO]
    assert_error(client.get(EXPORT, headers=auth("admin.demo")), 403, "forbidden")
    assert_error(client.get(EXPORT), 401)


def test_export_reads_a_bounded_number_of_queries(client: TestClient, ctx: Context, auth: Any,
                                                  patient_ids: dict[str, str]) -> None:
    madre = auth("madre.demo")
    statements: list[str] = []

    def count(*args: Any) -> None:
        if "FROM auth_sessions" not in args[2]:  # the caller's lookup, or not, as the auth cache has it
            statements.append(str(args[2]))

    def export_queries() -> int:
        statements.clear()
        event.listen(ctx.engine, "before_cursor_execute", count)
        try:
            assert client.get(EXPORT, headers=madre).status_code == 200
        finally:
            event.remove(ctx.engine, "before_cursor_execute", count)
        return len(statements)

    before = export_queries()
    _family_activity(client, ctx, madre, patient_ids[MATEO], 5)  # five more appointments, a booking, a report
    assert export_queries() == before <= 30  # 21 today: one per kind of record, none per record


# ---- closing the account ---------------------------------------------------------------------------------------


def test_closure_request_is_one_open_at_a_time_and_can_be_withdrawn(client: TestClient, ctx: Context,
                                                                     auth: Any) -> None:
    madre = auth("madre.demo")
    first = client.post(CLOSURE, json={"reason": "Terminó el tratamiento"}, headers=madre)
    assert first.status_code == 201, first.text
    opened = contract.ClosureRequest.model_validate(first.json())
    assert opened.status == "solicitada" and opened.decided_at is None
    again = client.post(CLOSURE, json={}, headers=madre)
    assert again.status_code == 200 and again.json() == first.json()
    with ctx.sessions() as session:
        user_id = session.scalar(select(User.id).where(User.username == "madre.demo"))
    assert _count(ctx, AccountClosureRequest, AccountClosureRequest.user_id == user_id) == 1

    cancelled = client.post(CANCEL, headers=madre)
    assert cancelled.status_code == 200
    assert cancelled.json()["id"] == opened.id and cancelled.json()["status"] == "cancelada"
    assert cancelled.json()["decided_at"] is not None
    error = assert_error(client.post(CANCEL, headers={**madre, "Accept-Language": "en"}), 404,
                         "closure_request_not_found")
    assert error["message"] == "There is no open request to close the account."
    reopened = client.post(CLOSURE, json={}, headers=madre)
    assert reopened.status_code == 201 and reopened.json()["id"] != opened.id

    assert [r.object_id for r in _audit_rows(ctx, "privacy.closure.request")] == [opened.id, reopened.json()["id"]]
    assert [r.object_id for r in _audit_rows(ctx, "privacy.closure.cancel")] == [opened.id]
    assert all(r.detail is None for r in _audit_rows(ctx, "privacy.closure.request"))  # the reason stays out


def test_closure_request_refuses_staff_and_bad_input(client: TestClient, ctx: Context, auth: Any) -> None:
    madre = auth("madre.demo")
    assert_error(client.post(CLOSURE, json={"reason": "x" * 1001}, headers=madre), 422, "validation_error")
    assert_error(client.post(CLOSURE, json={"user_id": "otro"}, headers=madre), 422, "validation_error")
    assert_error(client.post(CLOSURE, json={}, headers=auth("casos.demo")), 403, "forbidden")
    assert_error(client.post(CANCEL, headers=auth("admin.demo")), 403, "forbidden")
    assert _count(ctx, AccountClosureRequest) == 0


def test_a_racing_second_request_answers_with_the_open_one(ctx: Context, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two requests at once: the partial unique index refuses the second insert; it answers with the first."""
    from tests.server.incident_support import principal

    madre = principal(ctx, "madre.demo")
    with ctx.sessions() as session:
        first, created = privacy_service.request_closure(session, principal=madre, reason=None, ip=None)
        assert created
        first_id = first.id
    real = privacy_service._open_request
    calls = {"n": 0}

    def blind_once(session: Any, user_id: str) -> Any:  # the racing request did not see the first one yet
        calls["n"] += 1
        return None if calls["n"] == 1 else real(session, user_id)

    monkeypatch.setattr(privacy_service, "_open_request", blind_once)
    with ctx.sessions() as session:
        second, created = privacy_service.request_closure(session, principal=madre, reason=None, ip=None)
        assert (second.id, created) == (first_id, False)
    assert _count(ctx, AccountClosureRequest) == 1


def test_closing_an_account_ends_its_sessions_and_keeps_the_data(client: TestClient, ctx: Context, auth: Any,
                                                                 patient_ids: dict[str, str]) -> None:
    tokens = login(client, "madre.demo")
    madre = bearer(tokens["access_token"])
    request_id = client.post(CLOSURE, json={"reason": "Ya no lo usaremos"}, headers=madre).json()["id"]
    admin = auth("admin.demo")

    listed = client.get(CLOSURES, params={"status": "solicitada"}, headers=admin)
    assert listed.status_code == 200
    mine = next(r for r in listed.json() if r["id"] == request_id)
    assert (mine["username"], mine["reason"], mine["status"]) == ("madre.demo", "Ya no lo usaremos", "solicitada")
    for staff in ("casos.demo", "farmacia.demo"):
        assert_error(client.get(CLOSURES, headers=auth(staff)), 403, "forbidden")
        assert_error(client.post(f"{CLOSURES}/{request_id}/close", headers=auth(staff)), 403, "forbidden")
    assert_error(client.post(f"{CLOSURES}/{request_id}/close", headers=madre), 403, "forbidden")
    assert_error(client.get(CLOSURES, params={"status": "abierta"}, headers=admin), 422, "validation_error")

    closed = client.post(f"{CLOSURES}/{request_id}/close", headers=admin)
    assert closed.status_code == 200, closed.text
    assert closed.json()["status"] == "cerrada" and closed.json()["decided_at"]
    # the account is over: its tokens stop working, and signing in fails exactly like a wrong password
    assert_error(client.get("/api/v1/me", headers=madre), 401, "invalid_token")
    assert_error(client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}), 401)
    refused = client.post("/api/v1/auth/login", json={"username": "madre.demo", "password": DEMO_PASSWORD})
    wrong = client.post("/api/v1/auth/login", json={"username": "padre.demo", "password": "no-es-la-clave"})
    assert refused.status_code == wrong.status_code == 401 and refused.json() == wrong.json()
    # the hospital record stays
    assert client.get(f"/api/v1/patients/{patient_ids[MATEO]}/carnet", headers=auth("casos.demo")).status_code == 200
    with ctx.sessions() as session:
        row = session.get_one(AccountClosureRequest, request_id)
        admin_id = session.scalar(select(User.id).where(User.username == "admin.demo"))
        assert (row.status, row.decided_by_id) == ("cerrada", admin_id)
        assert session.scalar(select(User.active).where(User.username == "madre.demo")) is False
    rows = _audit_rows(ctx, "privacy.closure.close")
    assert [(r.actor_id, r.object_id) for r in rows] == [(admin_id, request_id)]

    again = assert_error(client.post(f"{CLOSURES}/{request_id}/close", headers={**admin, "Accept-Language": "en"}),
                         409, "closure_request_not_open")
    assert "no longer open" in again["message"]
    assert_error(client.post(f"{CLOSURES}/{uuid.uuid4().hex[:12]}/close", headers=admin), 404,
                 "closure_request_not_found")
    assert_error(client.post(f"{CLOSURES}/no%20valid/close", headers=admin), 404, "closure_request_not_found")
    assert [r["id"] for r in client.get(CLOSURES, params={"status": "cerrada"}, headers=admin).json()] == [request_id]


def test_a_withdrawn_request_cannot_be_closed(client: TestClient, auth: Any) -> None:
    madre = auth("madre.demo")
    request_id = client.post(CLOSURE, json={}, headers=madre).json()["id"]
    assert client.post(CANCEL, headers=madre).status_code == 200
    assert_error(client.post(f"{CLOSURES}/{request_id}/close", headers=auth("admin.demo")), 409,
                 "closure_request_not_open")
    assert client.get("/api/v1/me", headers=madre).status_code == 200


# ---- rate limits -----------------------------------------------------------------------------------------------


def test_closure_requests_and_exports_are_rate_limited(limited: tuple[TestClient, Context]) -> None:
    client, ctx = limited
    madre = bearer(login(client, "madre.demo")["access_token"])
    assert client.post(CLOSURE, json={}, headers=madre).status_code == 201
    assert client.post(CANCEL, headers=madre).status_code == 200
    refused = client.post(CLOSURE, json={}, headers=madre)
    assert_error(refused, 429, "rate_limited")
    assert int(refused.headers["Retry-After"]) >= 1
    assert _count(ctx, AccountClosureRequest) == 1
    assert [client.get(EXPORT, headers=madre).status_code for _ in range(2)] == [200, 200]
    assert_error(client.get(EXPORT, headers=madre), 429, "rate_limited")
    # the buckets are the user's own
    padre = bearer(login(client, "padre.demo")["access_token"])
    assert client.get(EXPORT, headers=padre).status_code == 200


def test_audit_rows_of_privacy_hold_ids_only(client: TestClient, ctx: Context, auth: Any) -> None:
    madre = auth("madre.demo")
    client.post(CLOSURE, json={"reason": "Mateo Hernández ya terminó"}, headers=madre)
    client.get(EXPORT, headers=madre)
    with ctx.sessions() as session:
        rows = list(session.scalars(select(AuditEntry).where(AuditEntry.action.like("privacy.%"))))
    assert {r.action for r in rows} == {"privacy.closure.request", "privacy.export"}
    assert "Mateo" not in repr([(r.object_id, r.detail) for r in rows])
