"""The phone's offline QR verifier against tokens signed with joserfc (the server's library)."""

from __future__ import annotations

import base64
import time

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from joserfc import jws
from joserfc.jwk import OKPKey
from tests.support.qr_variants import flip_spare_bits, padded, sign_raw, with_crit

from carnet_contract.models import VerifyReason
from carnet_contract.qrtoken import extract_token, verify

ISSUER = "https://carnet.example"


def _keypair(kid: str) -> tuple[OKPKey, dict[str, str]]:
    private = Ed25519PrivateKey.generate()
    raw = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    x = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    return OKPKey.import_key(private), {"kty": "OKP", "crv": "Ed25519", "kid": kid, "x": x}


KEY, JWK = _keypair("k1")
OTHER_KEY, OTHER_JWK = _keypair("k2")
JWKS = {"keys": [JWK]}


def _sign(claims: dict[str, object] | None = None, *, key: OKPKey = KEY, kid: str = "k1") -> str:
    now = int(time.time())
    body = {"iss": ISSUER, "sub": "p1", "cyc": ["c1"], "iat": now, "nbf": now, "exp": now + 3600, "jti": "j1"}
    body.update(claims or {})
    import json

    return jws.serialize_compact({"alg": "EdDSA", "kid": kid}, json.dumps(body).encode(), key, algorithms=["EdDSA"])


def test_genuine_token_verifies_bare_and_inside_the_url() -> None:
    token = _sign()
    assert verify(token, JWKS, issuer=ISSUER).valid
    result = verify(f"  {ISSUER}/v/{token}\n", JWKS, issuer=ISSUER)
    assert result.valid and result.claims["sub"] == "p1" and result.kid == "k1"
    assert extract_token(f"{ISSUER}/v/{token}") == token


def test_tampered_payload_is_refused() -> None:
    token = _sign()
    header, payload, signature = token.split(".")
    forged = _sign({"sub": "p2"}).split(".")[1]
    assert verify(f"{header}.{forged}.{signature}", JWKS).reason is VerifyReason.BAD_SIGNATURE
    assert payload != forged


def test_tampered_signature_is_refused() -> None:
    token = _sign()
    flipped = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    assert verify(flipped, JWKS).reason is VerifyReason.BAD_SIGNATURE


def test_expired_and_not_yet_valid_tokens_are_refused() -> None:
    now = int(time.time())
    expired = _sign({"iat": now - 7200, "nbf": now - 7200, "exp": now - 3600})
    assert verify(expired, JWKS).reason is VerifyReason.EXPIRED
    future = _sign({"nbf": now + 3600, "exp": now + 7200})
    assert verify(future, JWKS).reason is VerifyReason.NOT_YET_VALID


def test_unknown_kid_and_unpinned_key_are_refused() -> None:
    assert verify(_sign(key=OTHER_KEY, kid="k2"), JWKS).reason is VerifyReason.UNKNOWN_KEY
    # A key in the JWKS that the profile does not accept.
    both = {"keys": [JWK, OTHER_JWK]}
    assert verify(_sign(key=OTHER_KEY, kid="k2"), both, accepted_kids={"k1"}).reason is VerifyReason.UNKNOWN_KEY
    # A token signed by another key but claiming a known kid.
    assert verify(_sign(key=OTHER_KEY, kid="k1"), JWKS).reason is VerifyReason.BAD_SIGNATURE


def test_wrong_issuer_and_revoked_jti_are_refused() -> None:
    assert not verify(_sign({"iss": "https://evil.example"}), JWKS, issuer=ISSUER).valid
    assert verify(_sign(), JWKS, revoked_jtis={"j1"}).reason is VerifyReason.REVOKED


@pytest.mark.parametrize(
    "garbage",
    ["", "abc", "a.b", "a.b.c.d", "!!!.???.###", "eyJhbGciOiJub25lIn0.e30.", "x" * 5000,
     "eyJhbGciOiJIUzI1NiIsImtpZCI6ImsxIn0.e30.c2ln"],
)
def test_garbage_is_malformed_never_an_exception(garbage: str) -> None:
    result = verify(garbage, JWKS)
    assert not result.valid and result.reason is VerifyReason.MALFORMED


# ---- only the canonical encoding, the expected issuer, no unknown crit --------------------------


def _genuine_claims() -> dict[str, object]:
    now = int(time.time())
    return {"iss": ISSUER, "sub": "p1", "cyc": ["c1"], "iat": now, "exp": now + 3600, "jti": "j1"}


def test_non_canonical_base64_is_malformed() -> None:
    """The same signature bytes spelled another way: a verifier accepts only the one encoding."""
    token = _sign()
    head, payload, signature = token.split(".")
    assert verify(token, JWKS, issuer=ISSUER).valid
    for variant in (flip_spare_bits(token), padded(token), f"{head}.{payload}=.{signature}",
                    f"{head}.{payload}.{signature}=", f"{head}.{payload}.{signature}%3D%3D"):
        result = verify(variant, JWKS, issuer=ISSUER)
        assert not result.valid and result.reason is VerifyReason.MALFORMED, variant
    # Inside the URL too: the padding is not cut off and the rest taken.
    assert verify(f"{ISSUER}/v/{padded(token)}", JWKS, issuer=ISSUER).reason is VerifyReason.MALFORMED


def test_wrong_issuer_is_an_unknown_key() -> None:
    result = verify(_sign({"iss": "https://evil.example"}), JWKS, issuer=ISSUER)
    assert not result.valid and result.reason is VerifyReason.UNKNOWN_KEY


def test_an_unknown_crit_header_is_malformed() -> None:
    claims = _genuine_claims()
    plain = sign_raw(KEY, {"alg": "EdDSA", "kid": "k1"}, claims)
    assert verify(plain, JWKS, issuer=ISSUER).valid  # the hand signer makes genuine tokens
    for header in ({"alg": "EdDSA", "kid": "k1", "crit": ["x-carnet"], "x-carnet": 1},
                   {"alg": "EdDSA", "kid": "k1", "crit": []},
                   {"alg": "EdDSA", "kid": "k1", "crit": ["b64"], "b64": True}):
        result = verify(sign_raw(KEY, header, claims), JWKS, issuer=ISSUER)
        assert not result.valid and result.reason is VerifyReason.MALFORMED, header
    assert verify(with_crit(KEY, "k1", claims), JWKS, issuer=ISSUER).reason is VerifyReason.MALFORMED
