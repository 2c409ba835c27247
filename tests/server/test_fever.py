"""Fever episodes (Hora Dorada), the emergency card and its QR, the IPS export and the weekly figures (issue #19)."""

from __future__ import annotations

import base64
import csv
import io
import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from carnet_contract import models as contract
from carnet_contract import qrtoken
from carnet_contract.models import FeverEpisode, SyncType, VerifyReason
from carnet_server.audit import AuditEntry
from carnet_server.context import Context
from carnet_server.db import utcnow
from carnet_server.fever import card, ips
from carnet_server.fever import router as fever_router
from carnet_server.fever import service as fever_service
from carnet_server.fever.tables import FeverEpisode as EpisodeRow
from carnet_server.incidents.figures import week_bounds
from carnet_server.signing import sign_claims
from tests.server.conftest import assert_error, sync_all

Auth = Callable[[str], dict[str, str]]


def _now() -> datetime:
    return utcnow().replace(microsecond=0)


def _alert(client: TestClient, headers: dict[str, str], patient_id: str, **extra: Any) -> Any:
    body = {"temperature_c": 38.6, "measured_at": (_now() - timedelta(minutes=3)).isoformat(), **extra}
    return client.post(f"/api/v1/patients/{patient_id}/fever-episodes", json=body, headers=headers)


def _step(client: TestClient, headers: dict[str, str], episode_id: str, step: str, at: datetime | None = None) -> Any:
    body: dict[str, Any] = {"step": step}
    if at is not None:
        body["at"] = at.isoformat()
    return client.post(f"/api/v1/fever-episodes/{episode_id}/steps", json=body, headers=headers)


# ---- the family's alert ---------------------------------------------------------------------------------


def test_guardian_alert_is_created_once_with_the_units_emergency_service(
    client: TestClient, auth: Auth, patient_ids: dict[str, str]
) -> None:
    madre = auth("madre.demo")
    mateo = patient_ids["Mateo Hernández"]
    key = {**madre, "Idempotency-Key": str(uuid.uuid4())}
    measured = (_now() - timedelta(minutes=10)).isoformat()
    first = client.post(f"/api/v1/patients/{mateo}/fever-episodes",
                        json={"temperature_c": 38.4, "measured_at": measured}, headers=key)
    assert first.status_code == 201, first.text
    episode = FeverEpisode.model_validate(first.json())
    assert episode.status == "avisada" and episode.patient_id == mateo
    assert episode.temperature_c == 38.4
    assert episode.emergency is not None and episode.emergency.phone and episode.emergency.address
    assert episode.emergency.map_url and episode.emergency.map_url.startswith("https://")
    assert episode.unit.emergency is not None
    assert any("bajar la fiebre" in a for a in episode.unit.emergency.avoid)
    assert episode.unit.emergency.bring
    # the outbox's retry: the same answer, nothing new
    again = client.post(f"/api/v1/patients/{mateo}/fever-episodes",
                        json={"temperature_c": 38.4, "measured_at": measured}, headers=key)
    assert again.status_code == 201 and again.json() == first.json()
    listed = client.get(f"/api/v1/patients/{mateo}/fever-episodes", headers=madre)
    assert listed.status_code == 200 and [e["id"] for e in listed.json()] == [episode.id]
    # the same key with another body is refused
    other = client.post(f"/api/v1/patients/{mateo}/fever-episodes",
                        json={"temperature_c": 39.0, "measured_at": measured}, headers=key)
    assert_error(other, 422, "idempotency_key_reused")


def test_the_carnets_unit_carries_the_emergency_service_for_offline_use(
    client: TestClient, auth: Auth, patient_ids: dict[str, str]
) -> None:
    carnet = client.get(f"/api/v1/patients/{patient_ids['Mateo Hernández']}/carnet", headers=auth("madre.demo"))
    unit = contract.Carnet.model_validate(carnet.json()).patient.unit
    assert unit.emergency is not None and unit.emergency.phone and unit.emergency.oncology_phone


@pytest.mark.parametrize(
    "body",
    [
        {"temperature_c": 34.9},
        {"temperature_c": 43.1},
        {"temperature_c": "alta"},
        {"measured_at": "ayer"},
        {"measured_at": "2026-12-04T10:00:00"},  # no offset
        {"extra": 1},
    ],
)
def test_bad_alerts_are_422_and_change_nothing(
    client: TestClient, auth: Auth, patient_ids: dict[str, str], ctx: Context, body: dict[str, Any]
) -> None:
    madre = auth("madre.demo")
    response = _alert(client, madre, patient_ids["Mateo Hernández"], **body)
    error = assert_error(response, 422, "validation_error")
    assert "servidor" not in error["message"]
    with ctx.sessions() as session:
        assert session.scalars(select(EpisodeRow)).all() == []


@pytest.mark.parametrize("offset", [timedelta(minutes=6), -timedelta(hours=24, minutes=1)])
def test_a_reading_in_the_future_or_too_old_is_refused_in_spanish(
    client: TestClient, auth: Auth, patient_ids: dict[str, str], offset: timedelta
) -> None:
    response = _alert(client, auth("madre.demo"), patient_ids["Mateo Hernández"],
                      measured_at=(_now() + offset).isoformat())
    error = assert_error(response, 422, "fever_measured_at_out_of_range")
    assert "24 horas" in error["message"]
    english = client.post(f"/api/v1/patients/{patient_ids['Mateo Hernández']}/fever-episodes",
                          json={"temperature_c": 38.5, "measured_at": (_now() + offset).isoformat()},
                          headers={**auth("madre.demo"), "Accept-Language": "en"})
    assert "24 hours" in assert_error(english, 422)["message"]


def test_another_family_and_other_roles_cannot_alert(
    client: TestClient, auth: Auth, patient_ids: dict[str, str]
) -> None:
    santiago = patient_ids["Santiago Ramírez"]  # padre.demo's child
    assert_error(_alert(client, auth("madre.demo"), santiago), 404, "patient_not_found")
    assert_error(_alert(client, auth("madre.demo"), "no-such-child"), 404, "patient_not_found")
    assert_error(_alert(client, auth("oncologia.demo"), santiago), 403, "forbidden")
    assert_error(client.get(f"/api/v1/patients/{santiago}/fever-episodes", headers=auth("madre.demo")), 404)


# ---- the unit's clock -------------------------------------------------------------------------------------


def test_staff_record_the_steps_in_order_and_the_family_sees_them_in_sync(
    client: TestClient, auth: Auth, patient_ids: dict[str, str], ctx: Context
) -> None:
    madre, desk = auth("madre.demo"), auth("oncologia.demo")
    created = _alert(client, madre, patient_ids["Mateo Hernández"])
    episode_id = created.json()["id"]
    queue = client.get("/api/v1/fever-episodes", headers=desk)
    assert queue.status_code == 200
    assert [(e["id"], e["patient_name"]) for e in queue.json()] == [(episode_id, "Mateo Hernández")]

    assert_error(_step(client, desk, episode_id, "antibiotic"), 409, "fever_step_out_of_order")
    assert_error(_step(client, desk, episode_id, "arrival", _now() + timedelta(minutes=10)), 422,
                 "fever_step_time_invalid")
    assert_error(_step(client, desk, episode_id, "arrival", _now() - timedelta(hours=2)), 422,
                 "fever_step_time_invalid")
    arrived = _now() - timedelta(minutes=2)
    response = _step(client, desk, episode_id, "arrival", arrived)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "en_urgencias"
    assert_error(_step(client, desk, episode_id, "arrival"), 409, "fever_step_out_of_order")
    assert_error(_step(client, desk, episode_id, "triage", arrived - timedelta(minutes=1)), 422,
                 "fever_step_time_invalid")
    assert _step(client, desk, episode_id, "triage").json()["status"] == "triage"
    done = _step(client, desk, episode_id, "antibiotic")
    assert done.status_code == 200 and done.json()["status"] == "antibiotico"
    assert done.json()["minutes_to_antibiotic"] in (2, 3)
    assert_error(_step(client, desk, episode_id, "close"), 409, "fever_episode_closed")
    assert client.get("/api/v1/fever-episodes", headers=desk).json() == []
    assert len(client.get("/api/v1/fever-episodes", params={"status": "antibiotico"}, headers=desk).json()) == 1

    changes, _cursor, _pages = sync_all(client, madre)
    synced = [c for c in changes if c["type"] == SyncType.FEVER_EPISODE]
    assert [c["id"] for c in synced] == [episode_id]
    record = FeverEpisode.model_validate(synced[0]["data"])
    assert record.status == "antibiotico" and record.arrived_at == arrived and record.patient_name is None

    with ctx.sessions() as session:
        actions = [e.action for e in session.scalars(select(AuditEntry).where(AuditEntry.object_id == episode_id))]
        details = json.dumps([e.detail for e in session.scalars(select(AuditEntry)
                                                                  .where(AuditEntry.action.like("fever.%")))])
    assert actions.count("fever.step") == 3 and "fever.create" in actions
    assert "38.6" not in details and "Mateo" not in details  # ids and codes only


def test_staff_of_another_unit_and_other_roles_get_no_episode(
    client: TestClient, auth: Auth, patient_ids: dict[str, str]
) -> None:
    # Emiliano is treated in Cd. Obregón: oncologia.demo and casos.demo work at Siglo XXI (and La Raza)
    madre = auth("madre.demo")
    episode_id = _alert(client, madre, patient_ids["Mateo Hernández"]).json()["id"]
    assert_error(_step(client, auth("farmacia.demo"), episode_id, "arrival"), 403, "forbidden")
    assert_error(_step(client, madre, episode_id, "arrival"), 403, "forbidden")
    assert_error(client.get("/api/v1/fever-episodes", headers=auth("farmacia.demo")), 403, "forbidden")
    assert_error(client.get(f"/api/v1/fever-episodes/{episode_id}", headers=auth("padre.demo")), 404,
                 "fever_episode_not_found")
    emiliano = patient_ids["Emiliano Valenzuela"]
    for path in (f"/api/v1/patients/{emiliano}/fever-episodes", f"/api/v1/patients/{emiliano}/emergency-card",
                 f"/api/v1/patients/{emiliano}/ips"):
        assert_error(client.get(path, headers=auth("oncologia.demo")), 404, "patient_not_found")
        assert_error(client.get(path, headers=auth("madre.demo")), 404, "patient_not_found")
        assert client.get(path, headers=auth("admin.demo")).status_code == 200


def _at_unit(client: TestClient, headers: dict[str, str], patient_id: str, **extra: Any) -> Any:
    body = {"temperature_c": 38.9, "measured_at": (_now() - timedelta(minutes=2)).isoformat(), **extra}
    return client.post(f"/api/v1/patients/{patient_id}/fever-episodes/at-unit", json=body, headers=headers)


def test_staff_open_an_episode_for_a_child_who_came_without_the_alert(
    client: TestClient, auth: Auth, patient_ids: dict[str, str], ctx: Context
) -> None:
    mateo, desk, madre = patient_ids["Mateo Hernández"], auth("casos.demo"), auth("madre.demo")
    arrived = _now() - timedelta(minutes=4)
    key = {**desk, "Idempotency-Key": str(uuid.uuid4())}
    body = {"temperature_c": 38.9, "measured_at": (arrived + timedelta(minutes=1)).isoformat(),
            "arrived_at": arrived.isoformat()}
    opened = client.post(f"/api/v1/patients/{mateo}/fever-episodes/at-unit", json=body, headers=key)
    assert opened.status_code == 201, opened.text
    episode = FeverEpisode.model_validate(opened.json())
    assert (episode.status, episode.origin, episode.arrived_at) == ("en_urgencias", "unidad", arrived)
    assert episode.patient_name == "Mateo Hernández" and episode.temperature_c == 38.9
    again = client.post(f"/api/v1/patients/{mateo}/fever-episodes/at-unit", json=body, headers=key)
    assert again.status_code == 201 and again.json() == opened.json()  # a retry: the same answer, nothing new
    # on the desk's list, and the clock runs from the arrival
    assert [e["id"] for e in client.get("/api/v1/fever-episodes", headers=desk).json()] == [episode.id]
    assert_error(_step(client, desk, episode.id, "arrival"), 409, "fever_step_out_of_order")
    assert _step(client, desk, episode.id, "triage").status_code == 200
    done = _step(client, auth("oncologia.demo"), episode.id, "antibiotic")
    assert done.status_code == 200 and done.json()["minutes_to_antibiotic"] in (4, 5)
    # the family sees it (the sync record and the list), marked as the unit's
    changes, _cursor, _pages = sync_all(client, madre)
    synced = [FeverEpisode.model_validate(c["data"]) for c in changes if c["type"] == SyncType.FEVER_EPISODE]
    assert [(e.id, e.origin, e.status) for e in synced] == [(episode.id, "unidad", "antibiotico")]
    assert synced[0].patient_name is None
    listed = client.get(f"/api/v1/patients/{mateo}/fever-episodes", headers=madre).json()
    assert [(e["id"], e["origin"]) for e in listed] == [(episode.id, "unidad")]
    with ctx.sessions() as session:
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "fever.create")).one()
    assert entry.actor_role == "case_desk" and entry.detail == {
        "patient_id": mateo, "unit_id": episode.unit.id, "origin": "unidad"}
    # a family's alert is still "familia"
    assert _alert(client, madre, mateo).json()["origin"] == "familia"


def test_a_child_with_an_open_episode_gets_no_second_one_from_the_desk(
    client: TestClient, auth: Auth, patient_ids: dict[str, str], ctx: Context
) -> None:
    mateo, desk = patient_ids["Mateo Hernández"], auth("oncologia.demo")
    alerted = _alert(client, auth("madre.demo"), mateo).json()["id"]
    refused = _at_unit(client, desk, mateo)
    assert refused.status_code == 409
    error = refused.json()["error"]
    assert (error["code"], error["episode_id"]) == ("fever_episode_already_open", alerted)
    assert "abierto" in error["message"]
    assert _step(client, desk, alerted, "close").status_code == 200
    assert _at_unit(client, desk, mateo).status_code == 201  # once it is closed, a new one
    with ctx.sessions() as session:
        assert len(session.scalars(select(EpisodeRow).where(EpisodeRow.patient_id == mateo)).all()) == 2


def test_the_family_pressing_again_or_after_the_unit_opened_gets_the_open_episode_not_a_second(
    client: TestClient, auth: Auth, patient_ids: dict[str, str], ctx: Context
) -> None:
    mateo, madre, desk = patient_ids["Mateo Hernández"], auth("madre.demo"), auth("oncologia.demo")
    first = _alert(client, madre, mateo)
    assert first.status_code == 201
    again = _alert(client, madre, mateo)
    assert (again.status_code, again.json()["id"]) == (200, first.json()["id"])
    assert _step(client, desk, first.json()["id"], "close").status_code == 200

    opened = _at_unit(client, desk, mateo)
    assert opened.status_code == 201
    late = _alert(client, madre, mateo)  # the family's button after the unit opened it: already expected
    assert (late.status_code, late.json()["id"], late.json()["status"]) == (200, opened.json()["id"], "en_urgencias")
    with ctx.sessions() as session:
        assert len(session.scalars(select(EpisodeRow).where(EpisodeRow.patient_id == mateo)).all()) == 2


def test_the_database_holds_one_open_episode_per_child_whatever_races(
    client: TestClient, auth: Auth, patient_ids: dict[str, str], ctx: Context
) -> None:
    """Two desks (or workers) that both found no open episode: the partial unique index refuses the second."""
    from sqlalchemy.exc import IntegrityError

    mateo = patient_ids["Mateo Hernández"]
    opened = _alert(client, auth("madre.demo"), mateo).json()
    with ctx.sessions() as session:
        existing = session.get(EpisodeRow, opened["id"])
        assert existing is not None
        twin = EpisodeRow(patient_id=mateo, unit_id=existing.unit_id, reporter_id=existing.reporter_id,
                          status="triage", temperature_c=38.5, measured_at=existing.measured_at,
                          created_at=existing.created_at, updated_at=existing.updated_at)
        session.add(twin)
        with pytest.raises(IntegrityError):
            session.flush()
        session.rollback()
        twin.status = "cerrada"  # closed ones are history: any number
        session.add(twin)
        session.flush()


def test_only_the_childs_unit_opens_an_episode_and_bad_times_are_refused(
    client: TestClient, auth: Auth, patient_ids: dict[str, str], ctx: Context
) -> None:
    emiliano, mateo = patient_ids["Emiliano Valenzuela"], patient_ids["Mateo Hernández"]
    for user in ("oncologia.demo", "casos.demo"):  # Emiliano is treated in Cd. Obregón
        assert_error(_at_unit(client, auth(user), emiliano), 404, "patient_not_found")
    assert_error(_at_unit(client, auth("oncologia.demo"), "no-such-child"), 404, "patient_not_found")
    for user in ("madre.demo", "farmacia.demo", "banco.demo"):
        assert_error(_at_unit(client, auth(user), mateo), 403, "forbidden")
    onco = auth("oncologia.demo")
    for arrived in (_now() + timedelta(minutes=6), _now() - timedelta(hours=24, minutes=1)):
        refused = _at_unit(client, onco, mateo, arrived_at=arrived.isoformat())
        assert "24 horas" in assert_error(refused, 422, "fever_arrival_time_invalid")["message"]
    assert_error(_at_unit(client, onco, mateo, measured_at=(_now() - timedelta(hours=25)).isoformat()), 422,
                 "fever_measured_at_out_of_range")
    assert_error(_at_unit(client, auth("oncologia.demo"), mateo, temperature_c=44), 422, "validation_error")
    with ctx.sessions() as session:
        assert session.scalars(select(EpisodeRow)).all() == []
    assert _at_unit(client, auth("admin.demo"), emiliano).status_code == 201


def test_close_ends_an_episode_without_antibiotic(
    client: TestClient, auth: Auth, patient_ids: dict[str, str]
) -> None:
    episode_id = _alert(client, auth("madre.demo"), patient_ids["Mateo Hernández"]).json()["id"]
    closed = _step(client, auth("casos.demo"), episode_id, "close")
    assert closed.status_code == 200 and closed.json()["status"] == "cerrada"
    assert_error(_step(client, auth("casos.demo"), episode_id, "arrival"), 409, "fever_episode_closed")


# ---- the emergency card and its QR ------------------------------------------------------------------------


def test_emergency_card_has_what_the_team_needs_and_a_qr_of_its_own_type(
    client: TestClient, auth: Auth, patient_ids: dict[str, str], ctx: Context
) -> None:
    mateo = patient_ids["Mateo Hernández"]
    with ctx.sessions() as session:  # the demo writes no phase: the last cycle given is in consolidation
        from carnet_server.patients.tables import Cycle

        cycles = list(session.scalars(select(Cycle).where(Cycle.patient_id == mateo).order_by(Cycle.scheduled_for)))
        today = ctx.today(utcnow())
        past = [c for c in cycles if c.scheduled_for <= today and c.status in ("aplicado", "confirmado", "programado")]
        assert past and any(c.scheduled_for > today for c in cycles)
        for cycle in cycles:
            cycle.phase = "Mantenimiento" if cycle.scheduled_for > today else "Inducción"
        past[-1].phase = "Consolidación"
        last_date = past[-1].scheduled_for
        session.commit()
    response = client.get(f"/api/v1/patients/{mateo}/emergency-card", headers=auth("madre.demo"))
    assert response.status_code == 200, response.text
    got = contract.EmergencyCard.model_validate(response.json())
    assert got.full_name == "Mateo Hernández López" and got.age_years >= 5
    assert got.weight_kg and got.diagnosis and got.diagnosis.cie10 == "C91.0"
    assert got.protocol and got.last_chemotherapy_date and got.last_chemotherapy_drugs
    assert got.phase == "Consolidación" and got.last_chemotherapy_date == last_date  # the last cycle given's
    assert got.central_venous_catheter is True and got.blood_group == "O+" and got.allergies
    assert got.oncology_phone and got.unit.emergency is not None
    assert got.qr.url == f"{ctx.settings.base_url}/e/{got.qr.token}"
    assert timedelta(hours=71) < got.qr.expires_at - utcnow() <= timedelta(hours=72)
    # the same card twice: the same token (kept while it has more than a day left)
    again = client.get(f"/api/v1/patients/{mateo}/emergency-card", headers=auth("oncologia.demo")).json()
    assert again["qr"]["token"] == got.qr.token

    jwks = client.get("/.well-known/jwks.json").json()
    ok = qrtoken.verify(got.qr.url, jwks, issuer=ctx.settings.base_url, kind=qrtoken.TokenKind.EMERGENCY)
    assert ok.valid and ok.claims["sub"] == mateo and ok.claims["typ"] == "em"
    assert "Mateo" not in json.dumps(ok.claims) and "C91" not in json.dumps(ok.claims)
    # a carnet verifier refuses it, and the emergency verifier refuses a carnet token
    assert qrtoken.verify(got.qr.token, jwks, kind=qrtoken.TokenKind.CARNET).reason is VerifyReason.WRONG_TYPE
    carnet_token = client.get(f"/api/v1/patients/{mateo}/carnet", headers=auth("madre.demo")).json()["qr"]["token"]
    wrong = qrtoken.verify(carnet_token, jwks, kind=qrtoken.TokenKind.EMERGENCY)
    assert wrong.reason is VerifyReason.WRONG_TYPE
    # tampered: another child's id in the same signature
    head, _payload, signature = got.qr.token.split(".")
    claims = dict(ok.claims, sub=patient_ids["Santiago Ramírez"])
    forged_payload = base64.urlsafe_b64encode(json.dumps(claims, separators=(",", ":")).encode()).rstrip(b"=")
    tampered = f"{head}.{forged_payload.decode()}.{signature}"
    assert qrtoken.verify(tampered, jwks, kind=qrtoken.TokenKind.EMERGENCY).reason is VerifyReason.BAD_SIGNATURE
    # expired: 72 hours and a minute later
    later = (got.qr.expires_at + timedelta(minutes=1)).timestamp()
    assert qrtoken.verify(got.qr.token, jwks, now=later, kind=qrtoken.TokenKind.EMERGENCY).reason is (
        VerifyReason.EXPIRED)
    # a pharmacy's trust bundle verifies it offline too
    bundle = contract.TrustBundle.model_validate(
        client.get("/api/v1/pharmacy/trust", headers=auth("farmacia.demo")).json())
    offline = qrtoken.verify(got.qr.url, {"keys": bundle.keys}, issuer=bundle.issuer,
                             revoked_jtis=frozenset(bundle.revoked), kind=qrtoken.TokenKind.EMERGENCY)
    assert offline.valid


def test_emergency_verify_route_and_the_pharmacy_refuse_the_other_type(
    client: TestClient, auth: Auth, patient_ids: dict[str, str], ctx: Context
) -> None:
    mateo = patient_ids["Mateo Hernández"]
    token = client.get(f"/api/v1/patients/{mateo}/emergency-card", headers=auth("madre.demo")).json()["qr"]["url"]
    desk = client.post("/api/v1/emergency-cards/verify", json={"token": token}, headers=auth("oncologia.demo"))
    assert desk.status_code == 200, desk.text
    assert desk.json()["valid"] is True and desk.json()["card"]["patient_id"] == mateo
    counter = client.post("/api/v1/emergency-cards/verify", json={"token": token}, headers=auth("farmacia.demo"))
    assert counter.json()["valid"] is True and counter.json()["card"] is None  # valid, but no clinical data
    pharmacy = client.post("/api/v1/pharmacy/verify", json={"token": token}, headers=auth("farmacia.demo"))
    assert pharmacy.status_code == 200 and pharmacy.json()["reason"] == "wrong_type"
    carnet = client.get(f"/api/v1/patients/{mateo}/carnet", headers=auth("madre.demo")).json()["qr"]["token"]
    refused = client.post("/api/v1/emergency-cards/verify", json={"token": carnet}, headers=auth("oncologia.demo"))
    assert refused.json()["valid"] is False and refused.json()["reason"] == "wrong_type"
    assert refused.json()["card"] is None and refused.json()["message"]
    # a token signed by another key
    from joserfc.jwk import OKPKey

    stranger = OKPKey.generate_key("Ed25519")
    now = int(utcnow().timestamp())
    forged = sign_claims(stranger, "strange1", {"iss": ctx.settings.base_url, "sub": mateo, "typ": "em",
                                                 "iat": now, "exp": now + 3600, "jti": "x"})
    unknown = client.post("/api/v1/emergency-cards/verify", json={"token": forged}, headers=auth("casos.demo"))
    assert unknown.json()["valid"] is False and unknown.json()["reason"] == "unknown_key"
    assert_error(client.post("/api/v1/emergency-cards/verify", json={"token": token}, headers=auth("madre.demo")),
                 403, "forbidden")


def test_staff_of_another_unit_verify_a_genuine_card_but_get_no_card_data(
    client: TestClient, auth: Auth, patient_ids: dict[str, str], ctx: Context
) -> None:
    # Emiliano is treated in Cd. Obregón; oncologia.demo and casos.demo work at Siglo XXI and La Raza
    emiliano = patient_ids["Emiliano Valenzuela"]
    url = client.get(f"/api/v1/patients/{emiliano}/emergency-card", headers=auth("admin.demo")).json()["qr"]["url"]
    for user in ("oncologia.demo", "casos.demo"):
        answer = client.post("/api/v1/emergency-cards/verify", json={"token": url}, headers=auth(user))
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["valid"] is True and body["expires_at"]  # genuine: the signature is public knowledge
        assert body["card"] is None and body["patient_id"] is None  # but nothing of a child not theirs
        assert "Emiliano" not in answer.text and "Valenzuela" not in answer.text
    own = client.post("/api/v1/emergency-cards/verify", json={"token": url}, headers=auth("admin.demo")).json()
    assert own["card"]["patient_id"] == emiliano
    with ctx.sessions() as session:
        details = [e.detail for e in session.scalars(select(AuditEntry).where(
            AuditEntry.action == "fever.emergency_card.verify").order_by(AuditEntry.id))]
    assert [d["card"] for d in details if d] == [False, False, True]


def _jti(token: str) -> str:
    return str(json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "==="))["jti"])


def test_revoking_the_childs_codes_revokes_the_emergency_card_online_offline_and_on_its_page(
    client: TestClient, auth: Auth, patient_ids: dict[str, str], ctx: Context
) -> None:
    mateo, madre = patient_ids["Mateo Hernández"], auth("madre.demo")
    old = client.get(f"/api/v1/patients/{mateo}/emergency-card", headers=madre).json()["qr"]
    assert client.post(f"/api/v1/patients/{mateo}/qr/revoke", headers=madre).json()["revoked"] >= 1
    # online: refused at once, with no card
    desk = client.post("/api/v1/emergency-cards/verify", json={"token": old["url"]}, headers=auth("oncologia.demo"))
    assert desk.status_code == 200
    assert (desk.json()["valid"], desk.json()["reason"], desk.json()["card"]) == (False, "revoked", None)
    assert desk.json()["message"] == "El código fue revocado."
    # its public page
    page = client.get(old["url"].removeprefix(ctx.settings.base_url))
    assert "NO VÁLIDA" in page.text and "revocado" in page.text and "Mateo H." not in page.text
    # offline: the pharmacy trust bundle lists it, so the contract's check refuses it
    bundle = contract.TrustBundle.model_validate(
        client.get("/api/v1/pharmacy/trust", headers=auth("farmacia.demo")).json())
    assert _jti(old["token"]) in bundle.revoked
    offline = qrtoken.verify(old["url"], {"keys": bundle.keys}, issuer=bundle.issuer,
                             revoked_jtis=frozenset(bundle.revoked), kind=qrtoken.TokenKind.EMERGENCY)
    assert offline.reason is VerifyReason.REVOKED
    assert qrtoken.verify(old["url"], {"keys": bundle.keys}, issuer=bundle.issuer,
                          kind=qrtoken.TokenKind.EMERGENCY).valid  # the list alone makes the difference
    # the next read issues a new token, which is good everywhere
    new = client.get(f"/api/v1/patients/{mateo}/emergency-card", headers=madre).json()["qr"]
    assert new["token"] != old["token"]
    fresh = client.post("/api/v1/emergency-cards/verify", json={"token": new["url"]}, headers=auth("oncologia.demo"))
    assert fresh.json()["valid"] is True and fresh.json()["card"]["patient_id"] == mateo
    assert _jti(new["token"]) not in client.get("/api/v1/pharmacy/trust", headers=auth("farmacia.demo")).json()[
        "revoked"]
    with ctx.sessions() as session:
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "fever.emergency_card.verify")
                                .order_by(AuditEntry.id)).first()
    assert entry is not None and entry.detail == {"valid": False, "reason": "revoked", "card": False}


def test_removing_a_guardian_revokes_the_emergency_card_too(
    client: TestClient, auth: Auth, patient_ids: dict[str, str]
) -> None:
    camila = patient_ids["Camila Torres"]
    luis = auth("luis.torres")
    old = client.get(f"/api/v1/patients/{camila}/emergency-card", headers=luis).json()["qr"]
    luis_id = client.get("/api/v1/me", headers=luis).json()["id"]
    removed = client.delete(f"/api/v1/patients/{camila}/guardians/{luis_id}", headers=auth("oncologia.demo"))
    assert removed.status_code == 204, removed.text
    verdict = client.post("/api/v1/emergency-cards/verify", json={"token": old["token"]}, headers=auth("casos.demo"))
    assert (verdict.json()["valid"], verdict.json()["reason"]) == (False, "revoked")
    assert _jti(old["token"]) in client.get("/api/v1/pharmacy/trust", headers=auth("farmacia.demo")).json()["revoked"]


def test_a_card_whose_content_changed_is_reissued_but_the_old_qr_is_not_revoked(
    client: TestClient, auth: Auth, patient_ids: dict[str, str], ctx: Context
) -> None:
    """The token carries no clinical fact: a family still holding yesterday's card offline is not turned away."""
    mateo, madre = patient_ids["Mateo Hernández"], auth("madre.demo")
    old = client.get(f"/api/v1/patients/{mateo}/emergency-card", headers=madre).json()["qr"]
    with ctx.sessions() as session:
        from carnet_server.patients.tables import Patient

        row = session.get(Patient, mateo)
        assert row is not None
        row.allergies = "Penicilina"
        session.commit()
    new = client.get(f"/api/v1/patients/{mateo}/emergency-card", headers=madre).json()
    assert new["qr"]["token"] != old["token"] and new["allergies"] == "Penicilina"
    verdict = client.post("/api/v1/emergency-cards/verify", json={"token": old["token"]},
                          headers=auth("oncologia.demo")).json()
    assert verdict["valid"] is True and verdict["card"]["allergies"] == "Penicilina"  # today's facts, online
    assert _jti(old["token"]) not in client.get("/api/v1/pharmacy/trust", headers=auth("farmacia.demo")).json()[
        "revoked"]


def test_card_tokens_verify_in_the_contracts_checker_directly(ctx: Context) -> None:
    """The offline checker alone: ok, tampered signature, expired, wrong type (no HTTP)."""
    now = int(utcnow().timestamp())
    claims = {"iss": ctx.settings.base_url, "sub": "abc", "typ": "em", "iat": now, "exp": now + 60, "jti": "j"}
    token, _kid = ctx.keys.sign(claims)
    jwks = ctx.keys.jwks()
    assert card.verify(ctx, token).valid
    head, payload, signature = token.split(".")
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    assert card.verify(ctx, f"{head}.{payload}.{flipped}").reason in (VerifyReason.BAD_SIGNATURE,
                                                                      VerifyReason.MALFORMED)
    assert qrtoken.verify(token, jwks, now=now + 61, kind=qrtoken.TokenKind.EMERGENCY).reason is VerifyReason.EXPIRED
    assert qrtoken.verify(token, jwks, now=now).reason is VerifyReason.WRONG_TYPE
    odd, _ = ctx.keys.sign({**claims, "typ": "otro"})
    assert card.verify(ctx, odd).reason is VerifyReason.WRONG_TYPE
    bare, _ = ctx.keys.sign({k: v for k, v in claims.items() if k != "typ"})
    assert card.verify(ctx, bare).reason is VerifyReason.WRONG_TYPE  # a carnet-shaped token (no cycles even)


# ---- the IPS export ---------------------------------------------------------------------------------------

IPS_SECTIONS = {"11450-4": "Problems", "48765-2": "Allergies and Intolerances", "10160-0": "Medication Summary"}


def validate_ips(document: dict[str, Any]) -> list[str]:
    """The IPS bundle's required structure: what is wrong (empty when it is valid)."""
    problems: list[str] = []
    if document.get("resourceType") != "Bundle":
        problems.append("not a Bundle")
    if document.get("type") != "document":
        problems.append("Bundle.type is not document")
    identifier = document.get("identifier") or {}
    if not identifier.get("system") or not identifier.get("value"):
        problems.append("Bundle.identifier missing")
    try:
        datetime.fromisoformat(document.get("timestamp", ""))
    except ValueError:
        problems.append("Bundle.timestamp missing or not a date-time")
    entries = document.get("entry") or []
    urls = [e.get("fullUrl", "") for e in entries]
    if not entries or any(not u.startswith("urn:uuid:") for u in urls) or len(set(urls)) != len(urls):
        problems.append("every entry needs a unique fullUrl urn:uuid")
    resources = {e.get("fullUrl"): e.get("resource", {}) for e in entries}
    composition = entries[0].get("resource", {}) if entries else {}
    if composition.get("resourceType") != "Composition":
        return [*problems, "the first entry is not a Composition"]
    codes = [c.get("code") for c in composition.get("type", {}).get("coding", []) if c.get("system") == "http://loinc.org"]
    if "60591-5" not in codes:
        problems.append("Composition.type is not LOINC 60591-5")
    subject = composition.get("subject", {}).get("reference")
    if resources.get(subject, {}).get("resourceType") != "Patient":
        problems.append("Composition.subject is not a Patient of the bundle")
    if not composition.get("author") or not composition.get("date") or not composition.get("title"):
        problems.append("Composition needs author, date and title")
    sections = {}
    for section in composition.get("section", []):
        for coding in section.get("code", {}).get("coding", []):
            if coding.get("system") == "http://loinc.org":
                sections[coding.get("code")] = section
    for code, name in IPS_SECTIONS.items():
        section = sections.get(code)
        if section is None:
            problems.append(f"required section {name} ({code}) missing")
            continue
        if not section.get("text", {}).get("div"):
            problems.append(f"section {code} has no narrative")
        if not section.get("entry") and not section.get("emptyReason"):
            problems.append(f"section {code} has neither entries nor emptyReason")

    def references(node: Any) -> list[str]:
        if isinstance(node, dict):
            found = [node["reference"]] if isinstance(node.get("reference"), str) else []
            return found + [r for v in node.values() for r in references(v)]
        if isinstance(node, list):
            return [r for v in node for r in references(v)]
        return []

    dangling = [r for r in references(document) if r not in resources]
    if dangling:
        problems.append(f"references outside the bundle: {dangling}")
    expected = {"11450-4": "Condition", "48765-2": "AllergyIntolerance", "10160-0": "MedicationStatement"}
    for code, kind in expected.items():
        for ref in (sections.get(code) or {}).get("entry", []):
            if resources.get(ref.get("reference"), {}).get("resourceType") != kind:
                problems.append(f"section {code} points to something other than {kind}")
    return problems


def test_ips_export_is_a_valid_patient_summary_document(
    client: TestClient, auth: Auth, patient_ids: dict[str, str]
) -> None:
    response = client.get(f"/api/v1/patients/{patient_ids['Mateo Hernández']}/ips", headers=auth("madre.demo"))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/fhir+json")
    document = response.json()
    assert validate_ips(document) == []
    kinds = [e["resource"]["resourceType"] for e in document["entry"]]
    assert kinds[0] == "Composition" and {"Patient", "Condition", "MedicationStatement",
                                         "AllergyIntolerance"} <= set(kinds)
    allergy = next(e["resource"] for e in document["entry"] if e["resource"]["resourceType"] == "AllergyIntolerance")
    assert allergy["code"]["coding"][0]["code"] == "716186003"  # "Ninguna conocida": no known allergies


def test_ips_validator_catches_a_broken_bundle(
    client: TestClient, auth: Auth, patient_ids: dict[str, str], ctx: Context
) -> None:
    document = client.get(f"/api/v1/patients/{patient_ids['Mateo Hernández']}/ips", headers=auth("madre.demo")).json()
    broken = json.loads(json.dumps(document))
    broken["entry"][0]["resource"]["section"].pop(1)
    broken["entry"] = broken["entry"][:1] + broken["entry"][2:]  # drop the Patient: a dangling subject
    problems = validate_ips(broken)
    assert any("48765-2" in p for p in problems) and any("outside the bundle" in p for p in problems)
    # a child with nothing recorded: empty sections carry an emptyReason
    with ctx.sessions() as session:
        from carnet_server.patients.tables import Patient

        row = session.get(Patient, patient_ids["Mateo Hernández"])
        assert row is not None
        row.allergies = None
        session.commit()
    bare = client.get(f"/api/v1/patients/{patient_ids['Mateo Hernández']}/ips", headers=auth("admin.demo")).json()
    assert validate_ips(bare) == []
    allergies = next(s for s in bare["entry"][0]["resource"]["section"] if s["code"]["coding"][0]["code"] == "48765-2")
    assert "emptyReason" in allergies and "entry" not in allergies


@pytest.mark.parametrize(
    ("text", "status"),
    [
        ("Ninguna conocida", "none_known"),
        ("  NINGUNA.  ", "none_known"),
        ("Alergias: negadas", "none_known"),
        ("Niega alergias", "none_known"),
        ("Sin alergias conocidas", "none_known"),
        ("NKDA", "none_known"),
        ("Penicilina; ninguna otra conocida", "recorded"),
        ("Alergia a sulfas, niega otras", "recorded"),
        ("Sin alergias a medicamentos; alergia al huevo", "recorded"),
        ("No conocidas, excepto látex", "recorded"),
        ("Ninguna conocida a fármacos. Látex", "recorded"),
        ("Ibuprofeno", "recorded"),
        ("Desconocidas", "recorded"),  # unknown is not "none": shown as written
        ("", "no_information"),
        ("   ", "no_information"),
        ("—", "no_information"),
        (None, "no_information"),
    ],
)
def test_only_a_whole_phrase_of_none_means_no_known_allergy(text: str | None, status: str) -> None:
    assert ips.allergy_status(text) == status


def _ips_allergy(client: TestClient, auth: Auth, ctx: Context, patient_id: str, text: str | None) -> Any:
    with ctx.sessions() as session:
        from carnet_server.patients.tables import Patient

        row = session.get(Patient, patient_id)
        assert row is not None
        row.allergies = text
        session.commit()
    document = client.get(f"/api/v1/patients/{patient_id}/ips", headers=auth("oncologia.demo")).json()
    assert validate_ips(document) == []
    sections = document["entry"][0]["resource"]["section"]
    section = next(s for s in sections if s["code"]["coding"][0]["code"] == "48765-2")
    allergies = [e["resource"] for e in document["entry"] if e["resource"]["resourceType"] == "AllergyIntolerance"]
    return section, allergies


@pytest.mark.parametrize("text", ["Penicilina; ninguna otra conocida", "Alergia a sulfas, niega otras"])
def test_an_allergy_followed_by_none_other_is_exported_as_that_allergy(
    client: TestClient, auth: Auth, patient_ids: dict[str, str], ctx: Context, text: str
) -> None:
    section, allergies = _ips_allergy(client, auth, ctx, patient_ids["Mateo Hernández"], text)
    assert len(allergies) == 1 and allergies[0]["code"] == {"text": text}  # the team's words, no SNOMED "none"
    assert ips.NO_KNOWN_ALLERGIES not in json.dumps(allergies)
    assert [r["reference"] for r in section["entry"]] and text.split(";")[0].split(",")[0] in section["text"]["div"]
    # the card itself carries the text as written
    got = client.get(f"/api/v1/patients/{patient_ids['Mateo Hernández']}/emergency-card", headers=auth("madre.demo"))
    assert got.json()["allergies"] == text


def test_blank_allergies_are_no_information_not_no_known_allergy(
    client: TestClient, auth: Auth, patient_ids: dict[str, str], ctx: Context
) -> None:
    section, allergies = _ips_allergy(client, auth, ctx, patient_ids["Mateo Hernández"], "  ")
    assert allergies == [] and "emptyReason" in section and "entry" not in section
    section, allergies = _ips_allergy(client, auth, ctx, patient_ids["Mateo Hernández"], "Niega alergias.")
    assert allergies[0]["code"]["coding"][0]["code"] == ips.NO_KNOWN_ALLERGIES


# ---- weekly figures ---------------------------------------------------------------------------------------


def _last_wednesday_noon(ctx: Context) -> datetime:
    """Wednesday 12:00 (Mexico City) of last week: a clock for the figures' test, whenever it runs."""
    today = ctx.today(utcnow())
    wednesday = today - timedelta(days=today.weekday() + 5)
    return datetime(wednesday.year, wednesday.month, wednesday.day, 12, tzinfo=ctx.tz).astimezone(UTC)


def test_weekly_figures_count_the_golden_hour(
    client: TestClient, auth: Auth, patient_ids: dict[str, str], ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The fever routes' clock is set to a Wednesday noon: the week, its bounds and the steps' times are fixed,
    # so the test neither depends on nor skips around Monday midnight.
    now = _last_wednesday_noon(ctx)
    monkeypatch.setattr(fever_service, "utcnow", lambda: now)
    monkeypatch.setattr(fever_router, "utcnow", lambda: now + timedelta(minutes=1))  # the figures, read after
    madre, desk = auth("madre.demo"), auth("casos.demo")  # Siglo XXI (Mateo) and La Raza (Valentina)

    def alert(name: str, minutes_ago: int) -> str:
        body = {"temperature_c": 38.6, "measured_at": (now - timedelta(minutes=minutes_ago)).isoformat()}
        response = client.post(f"/api/v1/patients/{patient_ids[name]}/fever-episodes", json=body, headers=madre)
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    fast = alert("Mateo Hernández", 40 + 30)
    slow = alert("Valentina Hernández", 95 + 30)
    for episode_id, minutes in ((fast, 40), (slow, 95)):  # 40 and 95 minutes from arrival to antibiotic
        assert _step(client, desk, episode_id, "arrival", now - timedelta(minutes=minutes + 5)).status_code == 200
        assert _step(client, desk, episode_id, "triage", now - timedelta(minutes=minutes)).status_code == 200
        assert _step(client, desk, episode_id, "antibiotic", now - timedelta(minutes=5)).status_code == 200
    alert("Mateo Hernández", 3)  # a new fever once he had his antibiotic, never arrived
    today = ctx.today(now)
    monday = today - timedelta(days=today.weekday())
    lo, hi = week_bounds(monday, ctx.tz)
    assert lo < now < hi
    with ctx.sessions() as session:
        assert {row.created_at for row in session.scalars(select(EpisodeRow))} == {now}
    response = client.get("/api/v1/fever/weekly", params={"week": monday.isoformat()}, headers=desk)
    assert response.status_code == 200, response.text
    figures = contract.FeverWeeklyFigures.model_validate(response.json())
    assert (figures.episodes, figures.arrived, figures.within_60, figures.without_antibiotic) == (3, 2, 1, 1)
    assert figures.share_within_60 == 0.5 and figures.median_minutes_to_antibiotic == 67.5
    by_name = {u.unit_name: u for u in figures.by_unit}
    assert set(by_name) == {"UMAE Hospital de Pediatría CMN Siglo XXI", "Hospital General CMN La Raza"}  # hers only
    sxxi, raza = by_name["UMAE Hospital de Pediatría CMN Siglo XXI"], by_name["Hospital General CMN La Raza"]
    assert (sxxi.episodes, sxxi.within_60, sxxi.with_antibiotic, sxxi.without_antibiotic) == (2, 1, 1, 1)
    assert (raza.episodes, raza.within_60, raza.median_minutes_to_antibiotic) == (1, 0, 95.0)
    table = list(csv.reader(io.StringIO(client.get("/api/v1/fever/weekly.csv", params={"week": monday.isoformat()},
                                                   headers=desk).text)))
    assert table[0][1] == "unidad" and table[-1][1:] == ["Total", "3", "2", "1", "0.5", "67.5", "1", "0"]
    summary = client.get("/api/v1/fever/weekly.md", params={"week": monday.isoformat()}, headers=desk).text
    assert "Hora Dorada" in summary and "**1** (50 %)" in summary and "68 min" in summary
    assert_error(client.get("/api/v1/fever/weekly", params={"week": "2026-13-01"}, headers=desk), 422,
                 "invalid_week")
    assert_error(client.get("/api/v1/fever/weekly", params={"week": monday.isoformat()}, headers=madre), 403)
    admin = client.get("/api/v1/fever/weekly", params={"week": monday.isoformat()}, headers=auth("admin.demo"))
    assert len(admin.json()["by_unit"]) == 4
    # Camila came without the family's alert: the unit opens her episode, and the week counts it (20 minutes)
    walk_in = client.post(f"/api/v1/patients/{patient_ids['Camila Torres']}/fever-episodes/at-unit", headers=desk,
                          json={"temperature_c": 38.8, "measured_at": (now - timedelta(minutes=28)).isoformat(),
                                "arrived_at": (now - timedelta(minutes=30)).isoformat()})
    assert walk_in.status_code == 201, walk_in.text
    assert _step(client, desk, walk_in.json()["id"], "triage", now - timedelta(minutes=25)).status_code == 200
    assert _step(client, desk, walk_in.json()["id"], "antibiotic", now - timedelta(minutes=10)).status_code == 200
    after = contract.FeverWeeklyFigures.model_validate(
        client.get("/api/v1/fever/weekly", params={"week": monday.isoformat()}, headers=desk).json())
    assert (after.episodes, after.arrived, after.within_60, after.opened_at_unit) == (4, 3, 2, 1)
    assert after.median_minutes_to_antibiotic == 40.0 and after.share_within_60 == 0.667
    by_name = {u.unit_name: u for u in after.by_unit}
    assert by_name["UMAE Hospital de Pediatría CMN Siglo XXI"].opened_at_unit == 1
    assert by_name["Hospital General CMN La Raza"].opened_at_unit == 0
    table = list(csv.reader(io.StringIO(client.get("/api/v1/fever/weekly.csv", params={"week": monday.isoformat()},
                                                   headers=desk).text)))
    assert table[0][-1] == "abiertos_en_la_unidad" and table[-1][1:] == ["Total", "4", "3", "2", "0.667", "40.0",
                                                                         "1", "1"]
    summary = client.get("/api/v1/fever/weekly.md", params={"week": monday.isoformat()}, headers=desk).text
    assert "sin aviso de la familia: **1**" in summary and "| Abiertos en la unidad |" in summary


def test_the_figures_of_a_past_week_do_not_change(ctx: Context, client: TestClient, auth: Auth) -> None:
    monday = ctx.today(utcnow()) - timedelta(days=ctx.today(utcnow()).weekday() + 14)
    first = client.get("/api/v1/fever/weekly", params={"week": monday.isoformat()}, headers=auth("casos.demo"))
    assert first.status_code == 200 and first.json()["episodes"] == 0
    assert first.json()["share_within_60"] is None
    assert datetime.now(UTC) > week_bounds(monday, ctx.tz)[1]


def test_an_administrator_writes_the_units_emergency_service(
    client: TestClient, auth: Auth, patient_ids: dict[str, str]
) -> None:
    admin = auth("admin.demo")
    carnet = client.get(f"/api/v1/patients/{patient_ids['Mateo Hernández']}/carnet", headers=auth("madre.demo"))
    unit_id = carnet.json()["patient"]["unit"]["id"]
    emergency = {"phone": "55 1234 5678", "address": "Av. Cuauhtémoc 330, Doctores", "map_url": "https://maps.example/x",
                 "bring": ["Carnet"], "avoid": ["No le des medicina para bajar la fiebre antes de que lo revisen"],
                 "oncology_phone": "55 8765 4321"}
    response = client.patch(f"/api/v1/admin/units/{unit_id}", json={"emergency": emergency}, headers=admin)
    assert response.status_code == 200, response.text
    created = _alert(client, auth("madre.demo"), patient_ids["Mateo Hernández"]).json()
    assert created["emergency"]["phone"] == "55 1234 5678"
    assert created["unit"]["emergency"]["avoid"] == emergency["avoid"]
    bad = client.patch(f"/api/v1/admin/units/{unit_id}", json={"emergency": {**emergency, "map_url": "javascript:x"}},
                       headers=admin)
    assert_error(bad, 422, "validation_error")


def test_the_qr_page_says_genuine_without_clinical_data(
    client: TestClient, auth: Auth, patient_ids: dict[str, str], ctx: Context
) -> None:
    mateo = patient_ids["Mateo Hernández"]
    url = client.get(f"/api/v1/patients/{mateo}/emergency-card", headers=auth("madre.demo")).json()["qr"]["url"]
    page = client.get(url.removeprefix(ctx.settings.base_url))
    assert page.status_code == 200 and "AUTÉNTICA" in page.text and "Mateo H." in page.text
    assert "Leucemia" not in page.text and "O+" not in page.text and "López" not in page.text
    carnet = client.get(f"/api/v1/patients/{mateo}/carnet", headers=auth("madre.demo")).json()["qr"]["token"]
    refused = client.get(f"/e/{carnet}")
    assert refused.status_code == 200 and "NO VÁLIDA" in refused.text and "otro tipo" in refused.text
    assert "NO VÁLIDA" in client.get("/e/no.es.token").text


def test_the_family_export_holds_the_episodes_and_who_recorded_their_steps(
    client: TestClient, auth: Auth, patient_ids: dict[str, str]
) -> None:
    madre = auth("madre.demo")
    episode_id = _alert(client, madre, patient_ids["Mateo Hernández"]).json()["id"]
    assert _step(client, auth("oncologia.demo"), episode_id, "arrival").status_code == 200
    export = client.get("/api/v1/privacy/export", headers=madre)
    assert export.status_code == 200, export.text
    child = next(c for c in export.json()["children"] if c["patient"]["id"] == patient_ids["Mateo Hernández"])
    assert [e["id"] for e in child["fever_episodes"]] == [episode_id]
    steps = [a for a in child["access_record"] if a["action"] == "fever.step"]
    assert steps and steps[0]["actor_role"] == "oncology" and not steps[0]["by_you"]
