"""Signing keys, the QR token, and offline checks (no database)."""

from __future__ import annotations

import base64
import json
import os
import stat
import time
from pathlib import Path
from typing import Any

import pytest
import segno
from joserfc.jwk import OKPKey

from carnet_contract.models import VerifyReason
from carnet_contract.qrtoken import extract_token, verify
from carnet_server.settings import Settings
from carnet_server.signing import (
    MAX_QR_URL_BYTES,
    KeyStore,
    ensure_signing_key,
    new_jti,
    qr_url_max_bytes,
    rotate_signing_key,
    sign_claims,
)

NOW = 1_800_000_000


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path, public_url="https://carnet.example.mx")


@pytest.fixture
def keys(settings: Settings) -> KeyStore:
    ensure_signing_key(settings)
    return KeyStore(settings.keys_dir)


def claims(**changes: Any) -> dict[str, Any]:
    base = {"iss": "https://carnet.example.mx", "sub": "Ab3_dE5-gH7i", "cyc": ["Zy9xW8vU7tS6", "Qp1oN2mL3kJ4"],
            "iat": NOW, "exp": NOW + 30 * 86400, "jti": new_jti()}
    return {**base, **changes}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_key_files_are_private_and_stable(settings: Settings) -> None:
    kid = ensure_signing_key(settings)
    assert ensure_signing_key(settings) == kid
    pem = settings.keys_dir / f"{kid}.pem"
    assert stat.S_IMODE(os.stat(pem).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(settings.keys_dir).st_mode) == 0o700
    assert len(kid) == 8


def test_jwks_shape(keys: KeyStore) -> None:
    jwks = keys.jwks()
    assert len(jwks["keys"]) == 1
    key = jwks["keys"][0]
    assert key.keys() == {"kty", "crv", "kid", "x", "use", "alg"}
    assert (key["kty"], key["crv"], key["alg"], key["use"]) == ("OKP", "Ed25519", "EdDSA", "sig")
    assert "d" not in key
    assert key["kid"] == keys.active_kid


def test_sign_and_verify(keys: KeyStore) -> None:
    token, kid = keys.sign(claims())
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    assert header == {"alg": "EdDSA", "kid": kid}
    result = verify(token, keys.jwks(), now=NOW + 10)
    assert result.valid and result.reason is None and result.kid == kid
    assert result.claims["sub"] == "Ab3_dE5-gH7i"
    # the whole URL works as well as the bare token
    assert verify(f"https://carnet.example.mx/v/{token}", keys.jwks(), now=NOW).valid
    assert extract_token(f"  https://x.mx/v/{token}\n") == token


def test_tampered_payload(keys: KeyStore) -> None:
    token, _ = keys.sign(claims())
    header, _payload, signature = token.split(".")
    forged = b64(json.dumps(claims(sub="OtroPaciente"), separators=(",", ":")).encode())
    result = verify(f"{header}.{forged}.{signature}", keys.jwks(), now=NOW)
    assert (result.valid, result.reason) == (False, VerifyReason.BAD_SIGNATURE)


def test_tampered_signature(keys: KeyStore) -> None:
    token, _ = keys.sign(claims())
    header, payload, signature = token.split(".")
    raw = bytearray(base64.urlsafe_b64decode(signature + "=="))
    raw[10] ^= 0x01
    result = verify(f"{header}.{payload}.{b64(bytes(raw))}", keys.jwks(), now=NOW)
    assert (result.valid, result.reason) == (False, VerifyReason.BAD_SIGNATURE)


def test_expired_and_not_yet_valid(keys: KeyStore) -> None:
    token, _ = keys.sign(claims())
    assert verify(token, keys.jwks(), now=NOW + 30 * 86400).reason == VerifyReason.EXPIRED
    assert verify(token, keys.jwks(), now=NOW - 3600).reason == VerifyReason.NOT_YET_VALID
    later, _ = keys.sign(claims(nbf=NOW + 3600))  # an explicit nbf is honoured
    assert verify(later, keys.jwks(), now=NOW + 10).reason == VerifyReason.NOT_YET_VALID
    assert verify(token, keys.jwks(), now=NOW - 30).valid  # small clock skew is tolerated


def test_unknown_kid(keys: KeyStore) -> None:
    stranger = OKPKey.generate_key("Ed25519")
    token = sign_claims(stranger, "desconocida12345", claims())
    assert verify(token, keys.jwks(), now=NOW).reason == VerifyReason.UNKNOWN_KEY
    # a stranger's key claiming our kid fails the signature
    forged = sign_claims(stranger, keys.active_kid, claims())
    assert verify(forged, keys.jwks(), now=NOW).reason == VerifyReason.BAD_SIGNATURE


@pytest.mark.parametrize("text", ["", "abc", "a.b", "a.b.c", "..", "https://x.mx/v/", "x" * 5000,
                                  f"{b64(b'{}')}.{b64(b'{}')}.{b64(b'sig')}",
                                  f"{b64(json.dumps({'alg': 'none', 'kid': 'k'}).encode())}.{b64(b'{}')}.x",
                                  f"{b64(json.dumps({'alg': 'HS256', 'kid': 'k'}).encode())}.{b64(b'{}')}.x"])
def test_malformed(keys: KeyStore, text: str) -> None:
    result = verify(text, keys.jwks(), now=NOW)
    assert (result.valid, result.reason) == (False, VerifyReason.MALFORMED)


def test_signed_but_missing_claims_is_malformed(keys: KeyStore) -> None:
    token, _ = keys.sign({"sub": "x", "exp": NOW + 10})
    assert verify(token, keys.jwks(), now=NOW).reason == VerifyReason.MALFORMED


def test_rotation_keeps_old_key_and_old_tokens(settings: Settings, keys: KeyStore) -> None:
    old_token, old_kid = keys.sign(claims())
    new_kid = rotate_signing_key(settings)
    assert new_kid != old_kid
    assert keys.active_kid == new_kid  # the store notices the rotation on disk
    kids = [k["kid"] for k in keys.jwks()["keys"]]
    assert kids[0] == new_kid and old_kid in kids
    assert verify(old_token, keys.jwks(), now=NOW).valid
    new_token, kid = keys.sign(claims())
    assert kid == new_kid and verify(new_token, keys.jwks(), now=NOW).valid


def test_offline_revocation_list_refuses_only_listed_tokens(settings: Settings, keys: KeyStore) -> None:
    revoked, _ = keys.sign(claims(jti="revocado"))
    kept, _ = keys.sign(claims(jti="vigente"))
    assert verify(revoked, keys.jwks(), now=NOW, revoked_jtis={"revocado"}).reason == VerifyReason.REVOKED
    assert verify(kept, keys.jwks(), now=NOW, revoked_jtis={"revocado"}).valid
    # after a rotation the old key stays: still revoked (not "unknown key"), the other still valid
    rotate_signing_key(settings)
    assert verify(revoked, keys.jwks(), now=NOW, revoked_jtis={"revocado"}).reason == VerifyReason.REVOKED
    assert verify(kept, keys.jwks(), now=NOW, revoked_jtis={"revocado"}).valid
    assert verify(kept, {"keys": []}, now=NOW).reason == VerifyReason.UNKNOWN_KEY


@pytest.mark.parametrize("base", ["http://127.0.0.1:8000", "https://carnet.example.mx", "https://carnet.imss.gob.mx"])
def test_qr_version_at_most_14_at_level_m(keys: KeyStore, base: str) -> None:
    now = int(time.time())
    token, _ = keys.sign(claims(iss=base, iat=now, exp=now + 30 * 86400))
    url = f"{base}/v/{token}"
    qr = segno.make(url, error="m", micro=False)
    assert qr.version <= 14, (qr.version, len(url))
    assert len(url) <= qr_url_max_bytes(base) <= MAX_QR_URL_BYTES


def test_qr_budget_flags_a_too_long_public_url() -> None:
    long_url = "https://carnet-digital.imss.gob.mx"
    assert qr_url_max_bytes(long_url) > MAX_QR_URL_BYTES
    key = OKPKey.generate_key("Ed25519")
    token = sign_claims(key, "abcdefgh", claims(iss=long_url))
    assert segno.make(f"{long_url}/v/{token}", error="m", micro=False).version > 14
