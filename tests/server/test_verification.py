"""POST /api/v1/pharmacy/verify and the public /v/{token} page."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from joserfc.jwk import OKPKey
from sqlalchemy import select
from starlette.testclient import TestClient

from carnet_contract import models as contract
from carnet_server.audit import AuditEntry
from carnet_server.context import Context
from carnet_server.db import utcnow
from carnet_server.patients.service import current_qr, revoke_qr_tokens
from carnet_server.patients.tables import Patient
from carnet_server.signing import rotate_signing_key, sign_claims
from tests.server.conftest import assert_error
from tests.support.qr_variants import decode, flip_spare_bits, padded, server_key, with_crit

Auth = Callable[[str], dict[str, str]]
VERIFY = "/api/v1/pharmacy/verify"


def qr_of(client: TestClient, auth: Auth, patient_id: str, username: str = "madre.demo") -> dict[str, str]:
    response = client.get(f"/api/v1/patients/{patient_id}/carnet", headers=auth(username))
    assert response.status_code == 200
    return dict(response.json()["qr"])


@pytest.fixture
def mateo_qr(client: TestClient, auth: Auth, patient_ids: dict[str, str]) -> dict[str, str]:
    return qr_of(client, auth, patient_ids["Mateo Hernández"])


def tamper(token: str) -> str:
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["exp"] += 86400 * 365
    forged = base64.urlsafe_b64encode(json.dumps(claims, separators=(",", ":")).encode()).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"


def test_pharmacy_verifies_token_and_url(client: TestClient, auth: Auth, mateo_qr: dict[str, str],
                                         patient_ids: dict[str, str]) -> None:
    headers = auth("farmacia.demo")
    for presented in (mateo_qr["token"], mateo_qr["url"], f"  {mateo_qr['url']}\n"):
        response = client.post(VERIFY, json={"token": presented}, headers=headers)
        assert response.status_code == 200, response.text
        body = contract.VerifyResponse.model_validate(response.json())
        assert body.valid and body.reason is None
        assert body.message == "Carnet auténtico y vigente."
        assert body.patient is not None and body.patient.id == patient_ids["Mateo Hernández"]
        assert body.patient.unit.name == "UMAE Hospital de Pediatría CMN Siglo XXI"
        assert len(body.due) == 2 and all(c.status == "programado" and c.drugs for c in body.due)
        assert body.expires_at is not None


def test_pharmacy_of_any_unit_may_verify(client: TestClient, auth: Auth, patient_ids: dict[str, str]) -> None:
    """Santiago is at León, farmacia.demo works at Siglo XXI and La Raza: the QR is the family's consent."""
    qr = qr_of(client, auth, patient_ids["Santiago Ramírez"], "padre.demo")
    body = client.post(VERIFY, json={"token": qr["token"]}, headers=auth("farmacia.demo")).json()
    assert body["valid"] is True and body["patient"]["display_name"] == "Santiago Ramírez"


def test_admin_may_verify(client: TestClient, auth: Auth, mateo_qr: dict[str, str]) -> None:
    assert client.post(VERIFY, json={"token": mateo_qr["token"]}, headers=auth("admin.demo")).json()["valid"]


@pytest.mark.parametrize("username", ["madre.demo", "banco.demo", "casos.demo"])
def test_other_roles_get_403(client: TestClient, auth: Auth, mateo_qr: dict[str, str], username: str) -> None:
    error = assert_error(client.post(VERIFY, json={"token": mateo_qr["token"]}, headers=auth(username)),
                         403, "forbidden")
    assert error["message"] == "Tu cuenta no tiene permiso para esta acción."


def test_no_auth_401(client: TestClient, mateo_qr: dict[str, str]) -> None:
    assert_error(client.post(VERIFY, json={"token": mateo_qr["token"]}), 401, "not_authenticated")


def test_invalid_tokens_have_reasons(client: TestClient, auth: Auth, mateo_qr: dict[str, str],
                                     ctx: Context) -> None:
    headers = auth("farmacia.demo")
    stranger = sign_claims(OKPKey.generate_key("Ed25519"), "zzzzzzzz", {"sub": "x"})
    cases = {
        "malformed": "hola",
        "bad_signature": tamper(mateo_qr["token"]),
        "unknown_key": stranger,
    }
    for reason, token in cases.items():
        body = client.post(VERIFY, json={"token": token}, headers=headers).json()
        assert body["valid"] is False and body["reason"] == reason, body
        assert body["patient"] is None and body["due"] == []
        assert body["message"]
    english = client.post(VERIFY, json={"token": "hola"}, headers={**headers, "Accept-Language": "en"}).json()
    assert english["message"].startswith("The code is not a valid carnet")


def test_expired_revoked_unknown_patient(client: TestClient, auth: Auth, ctx: Context,
                                         patient_ids: dict[str, str]) -> None:
    headers = auth("farmacia.demo")
    with ctx.sessions() as session:
        patient = session.get(Patient, patient_ids["Camila Torres"])
        assert patient is not None
        old = current_qr(session, ctx=ctx, patient=patient, now=utcnow() - timedelta(days=31))
        session.commit()
    body = client.post(VERIFY, json={"token": old.token}, headers=headers).json()
    assert (body["valid"], body["reason"]) == (False, "expired")

    qr = qr_of(client, auth, patient_ids["Valentina Hernández"])
    with ctx.sessions() as session:
        revoke_qr_tokens(session, patient_id=patient_ids["Valentina Hernández"])
        session.commit()
    body = client.post(VERIFY, json={"token": qr["token"]}, headers=headers).json()
    assert (body["valid"], body["reason"]) == (False, "revoked")

    now = int(utcnow().timestamp())
    ghost, _ = ctx.keys.sign({"iss": ctx.settings.base_url, "sub": "NoExiste0000", "cyc": [], "iat": now,
                              "exp": now + 3600, "jti": "fantasma"})
    body = client.post(VERIFY, json={"token": ghost}, headers=headers).json()
    assert (body["valid"], body["reason"]) == (False, "unknown_patient")


def test_token_signed_before_rotation_still_verifies(client: TestClient, auth: Auth, ctx: Context,
                                                     mateo_qr: dict[str, str]) -> None:
    rotate_signing_key(ctx.settings)
    jwks = client.get("/.well-known/jwks.json").json()
    assert len(jwks["keys"]) == 2
    body = client.post(VERIFY, json={"token": mateo_qr["token"]}, headers=auth("farmacia.demo")).json()
    assert body["valid"] is True


def test_every_verification_is_audited_without_token(client: TestClient, auth: Auth, ctx: Context,
                                                     mateo_qr: dict[str, str]) -> None:
    headers = auth("farmacia.demo")
    client.post(VERIFY, json={"token": mateo_qr["token"]}, headers=headers)
    client.post(VERIFY, json={"token": "basura"}, headers=headers)
    with ctx.sessions() as session:
        rows = list(session.scalars(select(AuditEntry).where(AuditEntry.action == "pharmacy.verify")
                                    .order_by(AuditEntry.id)))
    assert [r.detail["valid"] for r in rows if r.detail] == [True, False]
    assert rows[0].actor_role == "pharmacy" and rows[0].object_id
    for row in rows:
        text = json.dumps(row.detail)
        assert mateo_qr["token"] not in text and "basura" not in text and "Mateo" not in text


def test_jwks(client: TestClient) -> None:
    response = client.get("/.well-known/jwks.json")
    assert response.status_code == 200
    (key,) = response.json()["keys"]
    assert {key["kty"], key["crv"], key["alg"]} == {"OKP", "Ed25519", "EdDSA"} and key["kid"] and key["x"]


def test_verify_page_valid_in_spanish(client: TestClient, mateo_qr: dict[str, str]) -> None:
    response = client.get(f"/v/{mateo_qr['token']}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["cache-control"] == "no-store"
    html = response.text
    assert 'lang="es-MX"' in html
    assert "AUTÉNTICO" in html and "NO VÁLIDO" not in html
    assert "Mateo H." in html and "Hernández" not in html  # first name and the surname's initial only
    assert "UMAE Hospital de Pediatría CMN Siglo XXI" in html
    assert "Programado" in html and "Vigente hasta" in html
    assert "LLA" not in html and "Leucemia" not in html  # no diagnosis
    assert "http://" not in html and "https://" not in html  # no external assets


def test_verify_page_invalid_in_spanish_and_english(client: TestClient, mateo_qr: dict[str, str]) -> None:
    response = client.get(f"/v/{tamper(mateo_qr['token'])}")
    assert response.status_code == 200
    assert "NO VÁLIDO" in response.text and "AUTÉNTICO" not in response.text
    assert "La firma no coincide" in response.text
    assert "Mateo" not in response.text
    garbage = client.get("/v/not-a-token")
    assert garbage.status_code == 200 and "NO VÁLIDO" in garbage.text
    english = client.get(f"/v/{mateo_qr['token']}x", headers={"Accept-Language": "en"})
    assert 'lang="en"' in english.text and "NOT VALID" in english.text


def test_verify_page_valid_in_english(client: TestClient, mateo_qr: dict[str, str]) -> None:
    html = client.get(f"/v/{mateo_qr['token']}", headers={"Accept-Language": "en-GB"}).text
    assert "GENUINE" in html and "Cycles due" in html and "Scheduled" in html


def test_the_phones_offline_verifier_accepts_server_tokens(client: TestClient, mateo_qr: dict[str, str]) -> None:
    """Cross-check with the app's own verifier (cryptography only, cached JWKS)."""
    from carnet_contract.qrtoken import verify as phone_verify

    jwks = client.get("/.well-known/jwks.json").json()
    result = phone_verify(mateo_qr["url"], jwks, issuer="https://carnet.example.mx")
    assert result.valid, result.reason
    assert phone_verify(tamper(mateo_qr["token"]), jwks).reason == "bad_signature"


def test_verify_says_what_was_already_dispensed(client: TestClient, auth: Auth, mateo_qr: dict[str, str]) -> None:
    """A signature cannot say a cycle was already handed over: the online answer and the page do."""
    headers = auth("farmacia.demo")
    before = contract.VerifyResponse.model_validate(
        client.post(VERIFY, json={"token": mateo_qr["token"]}, headers=headers).json())
    assert before.dispensations == [] and [c.dispensed_at for c in before.due] == [None, None]
    assert "No surtido" in client.get(f"/v/{mateo_qr['token']}").text
    first = before.due[0]
    made = client.post("/api/v1/pharmacy/dispensations", json={"token": mateo_qr["url"], "cycle_id": first.id},
                       headers=headers).json()

    after = contract.VerifyResponse.model_validate(
        client.post(VERIFY, json={"token": mateo_qr["token"]}, headers=headers).json())
    (dispensation,) = after.dispensations
    assert dispensation.model_dump(mode="json") == made
    assert (dispensation.cycle_id, dispensation.cycle_number) == (first.id, first.number)
    assert dispensation.dispensed_by == "Q.F.B. Laura Méndez"
    assert [d.name for d in dispensation.items] == [d.name for d in first.drugs]
    assert after.due[0].dispensed_at == dispensation.dispensed_at and after.due[1].dispensed_at is None

    local = dispensation.dispensed_at.astimezone(ZoneInfo("America/Mexico_City"))
    html = client.get(f"/v/{mateo_qr['token']}").text
    assert f"Surtido {local:%d/%m/%Y %H:%M}" in html and html.count("No surtido") == 1
    assert "Laura" not in html  # the page is public: no staff names either
    english = client.get(f"/v/{mateo_qr['token']}", headers={"Accept-Language": "en"}).text
    assert f"Dispensed {local:%Y-%m-%d %H:%M}" in english and english.count("Not dispensed") == 1


def _refusals(ctx: Context, token: str) -> dict[str, tuple[str, str]]:
    """Genuinely signed by the server's key, but in a form or with a header or issuer it must refuse."""
    key, kid = server_key(ctx.keys)
    claims = json.loads(decode(token.split(".")[1]))
    foreign, _ = ctx.keys.sign({**claims, "iss": "https://otro.example.mx"})
    return {
        "spare bits in the signature": (flip_spare_bits(token), "malformed"),
        "padding": (padded(token), "malformed"),
        "unknown crit": (with_crit(key, kid, claims), "malformed"),
        "another issuer": (foreign, "unknown_key"),
    }


def test_only_the_canonical_token_of_this_issuer_verifies(client: TestClient, auth: Auth, ctx: Context,
                                                         mateo_qr: dict[str, str]) -> None:
    headers = auth("farmacia.demo")
    assert client.post(VERIFY, json={"token": mateo_qr["token"]}, headers=headers).json()["valid"] is True
    for case, (token, reason) in _refusals(ctx, mateo_qr["token"]).items():
        for presented in (token, f"{ctx.settings.base_url}/v/{token}"):
            body = client.post(VERIFY, json={"token": presented}, headers=headers).json()
            assert (body["valid"], body["reason"], body["patient"]) == (False, reason, None), (case, body)


def test_the_page_refuses_non_canonical_tokens_too(client: TestClient, ctx: Context,
                                                  mateo_qr: dict[str, str]) -> None:
    assert "AUTÉNTICO" in client.get(f"/v/{mateo_qr['token']}").text
    for case, (token, _) in _refusals(ctx, mateo_qr["token"]).items():
        html = client.get(f"/v/{token}").text
        assert "NO VÁLIDO" in html and "AUTÉNTICO" not in html and "Mateo" not in html, case
