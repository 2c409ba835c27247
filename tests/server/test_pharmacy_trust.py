"""The counter's offline trust: GET /api/v1/pharmacy/trust, revoking a child's QR tokens, key rotation."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import timedelta

import pytest
from joserfc.jwk import OKPKey
from sqlalchemy import inspect, select
from starlette.testclient import TestClient

from carnet_contract import models as contract
from carnet_contract.models import VerifyReason
from carnet_contract.qrtoken import verify as offline_verify
from carnet_server.audit import AuditEntry
from carnet_server.cli import main as cli
from carnet_server.cli import parse_command_line
from carnet_server.context import Context
from carnet_server.db import utcnow
from carnet_server.patients.service import current_qr
from carnet_server.patients.tables import Patient, QrToken
from carnet_server.settings import Settings
from carnet_server.signing import rotate_signing_key, sign_claims
from tests.server.conftest import assert_error, sync_all
from tests.server.test_verification import qr_of

Auth = Callable[[str], dict[str, str]]
TRUST = "/api/v1/pharmacy/trust"
VERIFY = "/api/v1/pharmacy/verify"
DISPENSE = "/api/v1/pharmacy/dispensations"
ISSUER = "https://carnet.example.mx"
MATEO, VALENTINA, SANTIAGO, CAMILA = "Mateo Hernández", "Valentina Hernández", "Santiago Ramírez", "Camila Torres"


def revoke_url(patient_id: str) -> str:
    return f"/api/v1/patients/{patient_id}/qr/revoke"


def jti_of(token: str) -> str:
    payload = token.split(".")[1]
    return str(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["jti"])


def kid_of(token: str) -> str:
    header = token.split(".")[0]
    return str(json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))["kid"])


def bundle(client: TestClient, auth: Auth, username: str = "farmacia.demo") -> contract.TrustBundle:
    response = client.get(TRUST, headers=auth(username))
    assert response.status_code == 200, response.text
    return contract.TrustBundle.model_validate(response.json())


def offline(bundle_: contract.TrustBundle, token: str) -> VerifyReason | None:
    """What a counter without network says, from its cached bundle (the phone's own verifier)."""
    result = offline_verify(token, {"keys": bundle_.keys}, issuer=bundle_.issuer, revoked_jtis=bundle_.revoked)
    return None if result.valid else result.reason


# ---- the trust bundle --------------------------------------------------------------------------------------


@pytest.mark.parametrize("username", ["farmacia.demo", "admin.demo", "oncologia.demo", "casos.demo"])
def test_trust_bundle_for_pharmacy_admin_and_the_fever_desks(client: TestClient, auth: Auth, username: str) -> None:
    response = client.get(TRUST, headers=auth(username))
    assert response.status_code == 200
    assert response.headers["cache-control"] == "private, no-store"
    body = contract.TrustBundle.model_validate(response.json())
    assert body.issuer == ISSUER and body.max_age == 300 and body.revoked == []
    assert body.keys == client.get("/.well-known/jwks.json").json()["keys"]
    assert abs(body.generated_at - utcnow()) < timedelta(minutes=5)


@pytest.mark.parametrize("username", ["madre.demo", "banco.demo"])
def test_trust_bundle_refused_to_other_roles(client: TestClient, auth: Auth, username: str) -> None:
    assert_error(client.get(TRUST, headers=auth(username)), 403, "forbidden")
    assert_error(client.get(TRUST), 401, "not_authenticated")


def test_max_age_is_a_setting(settings: Settings) -> None:
    assert settings.trust_max_age_seconds == 300
    assert Settings(data_dir=settings.data_dir, trust_max_age_seconds=60).trust_max_age_seconds == 60


def test_revoked_list_holds_revoked_tokens_until_they_expire(client: TestClient, auth: Auth, ctx: Context,
                                                             patient_ids: dict[str, str]) -> None:
    patient_id = patient_ids[CAMILA]
    with ctx.sessions() as session:  # a token issued 31 days ago: expired by now
        old = current_qr(session, ctx=ctx, patient=session.get_one(Patient, patient_id),
                         now=utcnow() - timedelta(days=31))
        session.commit()
        old_jti = old.jti
    live = qr_of(client, auth, patient_id, "luis.torres")
    assert client.post(revoke_url(patient_id), headers=auth("luis.torres")).json() == {"revoked": 2}
    revoked = bundle(client, auth).revoked
    assert jti_of(live["token"]) in revoked and old_jti not in revoked
    assert len(revoked) == 1


# ---- revocation --------------------------------------------------------------------------------------------


def test_guardian_revokes_and_the_token_fails_online_and_offline(client: TestClient, auth: Auth, ctx: Context,
                                                                 patient_ids: dict[str, str]) -> None:
    patient_id = patient_ids[VALENTINA]
    madre, farmacia = auth("madre.demo"), auth("farmacia.demo")
    old = qr_of(client, auth, patient_id)
    cached = bundle(client, auth)  # a counter's bundle from before the revocation
    assert offline(cached, old["url"]) is None

    response = client.post(revoke_url(patient_id), headers=madre)
    assert response.status_code == 200
    assert contract.QrRevokeResponse.model_validate(response.json()).revoked == 1
    # online, at once
    verdict = client.post(VERIFY, json={"token": old["token"]}, headers=farmacia).json()
    assert (verdict["valid"], verdict["reason"], verdict["patient"]) == (False, "revoked", None)
    # offline: the stale bundle still accepts it; the next refresh refuses it
    assert offline(cached, old["url"]) is None
    assert offline(bundle(client, auth), old["url"]) == VerifyReason.REVOKED
    # the next carnet read has a new token, which verifies everywhere
    new = qr_of(client, auth, patient_id)
    assert new["token"] != old["token"]
    assert offline(bundle(client, auth), new["token"]) is None
    assert client.post(VERIFY, json={"token": new["token"]}, headers=farmacia).json()["valid"] is True
    # nothing left to revoke but the new one
    assert client.post(revoke_url(patient_id), headers=madre).json() == {"revoked": 1}
    with ctx.sessions() as session:
        assert session.scalars(select(QrToken.revoked_at).where(QrToken.patient_id == patient_id)).all()
        entries = list(session.scalars(select(AuditEntry).where(AuditEntry.action == "qr.revoke")))
    assert [(e.actor_role, e.object_id, e.detail) for e in entries] == [("guardian", patient_id, {"revoked": 1})] * 2


def test_revocation_reaches_the_familys_sync(client: TestClient, auth: Auth, patient_ids: dict[str, str]) -> None:
    madre = auth("madre.demo")
    _, cursor, _ = sync_all(client, madre)
    first = client.get("/api/v1/sync", params={"cursor": cursor}, headers=madre)
    etag = first.headers["etag"]
    assert client.get("/api/v1/sync", params={"cursor": cursor},
                      headers={**madre, "If-None-Match": etag}).status_code == 304
    assert client.post(revoke_url(patient_ids[VALENTINA]), headers=madre).status_code == 200
    changed = client.get("/api/v1/sync", params={"cursor": cursor}, headers={**madre, "If-None-Match": etag})
    assert changed.status_code == 200
    assert {c["type"] for c in changed.json()["changes"]} == {"cycle"}


def test_admin_may_revoke_any_child(client: TestClient, auth: Auth, patient_ids: dict[str, str]) -> None:
    qr_of(client, auth, patient_ids[SANTIAGO], "padre.demo")
    assert client.post(revoke_url(patient_ids[SANTIAGO]), headers=auth("admin.demo")).json() == {"revoked": 1}


def test_revocation_refused_to_others(client: TestClient, auth: Auth, ctx: Context,
                                      patient_ids: dict[str, str]) -> None:
    patient_id = patient_ids[SANTIAGO]
    qr = qr_of(client, auth, patient_id, "padre.demo")
    error = assert_error(client.post(revoke_url(patient_id), headers=auth("madre.demo")), 404, "patient_not_found")
    assert error["message"] == "No se encontró el paciente."
    assert_error(client.post(revoke_url("NoExiste"), headers=auth("madre.demo")), 404, "patient_not_found")
    for staff in ("farmacia.demo", "banco.demo", "casos.demo"):
        assert_error(client.post(revoke_url(patient_id), headers=auth(staff)), 403, "forbidden")
    assert_error(client.post(revoke_url(patient_id)), 401, "not_authenticated")
    with ctx.sessions() as session:
        assert session.get_one(QrToken, jti_of(qr["token"])).revoked_at is None
    # the good one: the child's own guardian
    assert client.post(revoke_url(patient_id), headers=auth("padre.demo")).json() == {"revoked": 1}


def test_revoke_from_the_command_line(client: TestClient, auth: Auth, ctx: Context, settings: Settings,
                                      patient_ids: dict[str, str], monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    for name, value in {"CARNET_DATA_DIR": str(settings.data_dir), "CARNET_DATABASE_URL": settings.database_url,
                        "CARNET_DATABASE_SCHEMA": settings.database_schema, "CARNET_PUBLIC_URL": ISSUER}.items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    qr = qr_of(client, auth, patient_ids[MATEO])
    assert cli(["revoke-qr", patient_ids[MATEO]]) == 0
    assert capsys.readouterr().out.strip().endswith("revoked: 1")
    verdict = client.post(VERIFY, json={"token": qr["token"]}, headers=auth("farmacia.demo")).json()
    assert verdict["reason"] == "revoked"
    assert jti_of(qr["token"]) in bundle(client, auth).revoked
    assert cli(["revoke-qr", "NoExiste"]) == 2
    assert "no such patient" in capsys.readouterr().err
    assert cli(["revoke-qr", "-NoExiste"]) == 2  # an id may begin with "-": looked up, not refused as an option
    assert "no such patient" in capsys.readouterr().err
    assert cli(["revoke-qr"]) == 2
    with ctx.sessions() as session:
        (entry,) = session.scalars(select(AuditEntry).where(AuditEntry.action == "qr.revoke"))
    assert (entry.actor_role, entry.object_id, entry.detail) == ("cli", patient_ids[MATEO], {"revoked": 1})


def test_revoke_qr_takes_an_id_that_begins_with_a_dash() -> None:
    """Ids are URL-safe base64: one in 64 begins with "-", which argparse took for an unknown option (seen in CI)."""
    assert parse_command_line(["revoke-qr", "-zKSvUCrIu2w"]).patient_id == "-zKSvUCrIu2w"
    assert parse_command_line(["revoke-qr", "--zKSvUCrIu2"]).patient_id == "--zKSvUCrIu2"
    args = parse_command_line(["revoke-qr", "-zKSvUCrIu2w", "--demo"])
    assert (args.command, args.patient_id, args.demo) == ("revoke-qr", "-zKSvUCrIu2w", True)
    assert parse_command_line(["revoke-qr", "zKSvUCrIu2w-"]).patient_id == "zKSvUCrIu2w-"
    with pytest.raises(SystemExit):
        parse_command_line(["serve", "-x"])  # elsewhere an unknown option is still refused


# ---- rotation and strangers ------------------------------------------------------------------------------


def test_rotation_keeps_old_tokens_valid_and_signs_new_ones_with_the_new_key(
        client: TestClient, auth: Auth, ctx: Context, patient_ids: dict[str, str]) -> None:
    farmacia = auth("farmacia.demo")
    old = qr_of(client, auth, patient_ids[MATEO])
    old_kid = kid_of(old["token"])
    new_kid = rotate_signing_key(ctx.settings)
    assert new_kid != old_kid
    after = bundle(client, auth)
    assert [k["kid"] for k in after.keys] == [new_kid, old_kid]  # the active key first, the old one kept
    assert offline(after, old["url"]) is None
    assert client.post(VERIFY, json={"token": old["token"]}, headers=farmacia).json()["valid"] is True
    new = qr_of(client, auth, patient_ids[MATEO])
    assert kid_of(new["token"]) == new_kid and new["token"] != old["token"]
    assert offline(after, new["url"]) is None
    # a counter whose bundle predates the rotation does not know the new key yet
    before = contract.TrustBundle(issuer=ISSUER, keys=[k for k in after.keys if k["kid"] == old_kid],
                                  generated_at=utcnow(), max_age=300)
    assert offline(before, new["token"]) == VerifyReason.UNKNOWN_KEY
    cycle_id = client.post(VERIFY, json={"token": old["token"]}, headers=farmacia).json()["due"][0]["id"]
    assert client.post(DISPENSE, json={"token": old["token"], "cycle_id": cycle_id},
                       headers=farmacia).status_code == 201


def test_stranger_key_expired_and_tampered_are_refused_offline_and_online(
        client: TestClient, auth: Auth, ctx: Context, patient_ids: dict[str, str]) -> None:
    farmacia = auth("farmacia.demo")
    cached = bundle(client, auth)
    patient_id = patient_ids[CAMILA]
    now = int(utcnow().timestamp())
    claims = {"iss": ISSUER, "sub": patient_id, "cyc": [], "iat": now, "exp": now + 3600, "jti": "ajeno"}
    stranger = sign_claims(OKPKey.generate_key("Ed25519"), cached.keys[0]["kid"], claims)  # a known kid, wrong key
    unknown = sign_claims(OKPKey.generate_key("Ed25519"), "zzzzzzzz", claims)
    with ctx.sessions() as session:
        expired = current_qr(session, ctx=ctx, patient=session.get_one(Patient, patient_id),
                             now=utcnow() - timedelta(days=31)).token
        session.commit()
    good = qr_of(client, auth, patient_id, "luis.torres")["token"]
    header, payload, signature = good.split(".")
    i = len(signature) // 2
    tampered = f"{header}.{payload}.{signature[:i]}{'A' if signature[i] != 'A' else 'B'}{signature[i + 1:]}"
    cases = {stranger: VerifyReason.BAD_SIGNATURE, unknown: VerifyReason.UNKNOWN_KEY,
             expired: VerifyReason.EXPIRED, tampered: VerifyReason.BAD_SIGNATURE}
    for token, reason in cases.items():
        assert offline(cached, token) == reason
        assert client.post(VERIFY, json={"token": token}, headers=farmacia).json()["reason"] == reason.value
    assert offline(cached, good) is None


def test_bundle_lists_only_unexpired_revoked_tokens_from_an_index(ctx: Context, client: TestClient, auth: Auth,
                                                                  patient_ids: dict[str, str]) -> None:
    """Many revoked tokens, most expired: exactly the live ones, read through a partial index of revoked tokens."""
    assert "ix_qr_tokens_revoked_expires_at" in {i["name"] for i in inspect(ctx.engine).get_indexes("qr_tokens")}
    patient_id = patient_ids[MATEO]
    now = utcnow()
    with ctx.sessions() as session:
        for i in range(300):
            expires = now + timedelta(days=1) if i % 3 == 0 else now - timedelta(days=1)
            session.add(QrToken(jti=f"bulk{i:04d}", patient_id=patient_id, kid="x", cycle_ids="",
                                issued_at=expires - timedelta(days=30), expires_at=expires,
                                revoked_at=now - timedelta(hours=1), token="-"))
        session.commit()
    revoked = bundle(client, auth).revoked
    assert revoked == sorted(f"bulk{i:04d}" for i in range(0, 300, 3))
