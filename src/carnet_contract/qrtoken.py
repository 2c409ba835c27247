"""Offline verification of the carnet QR token, with cached signing keys.

The QR carries ``{public_url}/v/{jws}``: a compact JWS (RFC 7515) signed with
EdDSA / Ed25519 (RFC 8037), header ``{"alg": "EdDSA", "kid": …}`` and claims
``iss, sub, cyc, iat, exp, jti`` (``nbf``, when present, else ``iat``). The
server signs with joserfc; the phone *and* the server verify here, with
``cryptography`` alone, because joserfc needs a newer cryptography than the
one built for Android and iOS (see ../shared/FLET.md).
This module does only what a verifier must: split, decode, check the key,
the signature, the issuer and the time window. It never raises on bad input:
every failure is a ``Verification`` with a reason.

Only one spelling of a token verifies: each segment must be canonical
base64url (no ``=`` padding, no spare bits set in the last character, no
characters outside the alphabet), else ``malformed`` — so a token's text, and
what is compared or logged, is the one the server signed. A header with
``crit`` is ``malformed`` too: no extension is understood here (RFC 7515
§4.1.11). An ``iss`` other than the expected issuer is ``unknown_key``.

Two token types share the keys (and the trust bundle's revocation list): the
carnet's (no ``typ`` claim: every token issued before types existed is one)
and the emergency card's (``"typ": "em"``, claims ``iss, sub, typ, iat, exp,
jti``; no cycles). A verifier says which it expects (``kind``); a genuine token
of the other type is ``wrong_type``, checked after the signature, so a forged
``typ`` is ``bad_signature`` first.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from carnet_contract.models import VerifyReason

__all__ = ["EMERGENCY_TYPE", "TokenKind", "Verification", "extract_token", "token_kind", "verify"]

# "=" is taken in, so that a padded token inside a URL is refused rather than cut short and accepted.
# ``/v/`` holds a carnet token, ``/e/`` an emergency card's.
_TOKEN_IN_URL = re.compile(r"/[ve]/([A-Za-z0-9_\-=]+\.[A-Za-z0-9_\-=]+\.[A-Za-z0-9_\-=]+)")
_BASE64URL = re.compile(r"[A-Za-z0-9_\-]*")
_MAX_TOKEN = 4096
_LEEWAY_SECONDS = 60
# "EdDSA" (RFC 8037) and its fully specified successor "Ed25519" (RFC 9864).
_ALGORITHMS = frozenset({"EdDSA", "Ed25519"})


#: The ``typ`` claim of an emergency card token.
EMERGENCY_TYPE = "em"


class TokenKind(StrEnum):
    """Which token a verifier expects."""

    CARNET = "carnet"
    EMERGENCY = "emergency"


def token_kind(claims: Mapping[str, Any]) -> TokenKind | None:
    """The type a token's claims say (None: a ``typ`` this code does not know)."""
    typ = claims.get("typ")
    if typ is None:
        return TokenKind.CARNET
    if typ == EMERGENCY_TYPE:
        return TokenKind.EMERGENCY
    return None


@dataclass(frozen=True)
class Verification:
    valid: bool
    reason: VerifyReason | None = None
    kid: str | None = None
    claims: Mapping[str, Any] = field(default_factory=dict)


def extract_token(text: str) -> str:
    """The bare JWS from what a scanner typed: a full URL or the token itself."""
    text = text.strip()
    match = _TOKEN_IN_URL.search(text)
    return match.group(1) if match else text


def _b64decode(part: str) -> bytes:
    """Canonical base64url only (RFC 7515 §2): unpadded, and the decoded bytes encode back to ``part``."""
    if not _BASE64URL.fullmatch(part):
        raise ValueError("not base64url")
    data = base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    if base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii") != part:
        raise ValueError("not the canonical base64url encoding")
    return data


def verify(
    token_or_url: str,
    jwks: Mapping[str, Any],
    *,
    now: float | None = None,
    issuer: str | None = None,
    accepted_kids: Collection[str] = (),
    revoked_jtis: Collection[str] = (),
    kind: TokenKind = TokenKind.CARNET,
) -> Verification:
    """Verify a token against a JWKS document; ``accepted_kids`` pins keys when not empty.

    ``issuer``: the expected ``iss`` (another one is ``unknown_key``); None skips that check.
    ``kind``: the token type expected; a genuine token of another type is ``wrong_type``.
    """
    token = extract_token(token_or_url)
    parts = token.split(".")
    if len(token) > _MAX_TOKEN or len(parts) != 3 or not all(parts):
        return Verification(False, VerifyReason.MALFORMED)
    try:
        header = json.loads(_b64decode(parts[0]))
        claims = json.loads(_b64decode(parts[1]))
        signature = _b64decode(parts[2])
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return Verification(False, VerifyReason.MALFORMED)
    if not isinstance(header, dict) or not isinstance(claims, dict):
        return Verification(False, VerifyReason.MALFORMED)
    if header.get("alg") not in _ALGORITHMS or not isinstance(header.get("kid"), str):
        return Verification(False, VerifyReason.MALFORMED)
    if "crit" in header:  # no extension is understood here, so none may be critical (RFC 7515 §4.1.11)
        return Verification(False, VerifyReason.MALFORMED)

    kid = header["kid"]
    key = _find_key(jwks, kid)
    if key is None or (accepted_kids and kid not in accepted_kids):
        return Verification(False, VerifyReason.UNKNOWN_KEY, kid=kid)
    try:
        key.verify(signature, f"{parts[0]}.{parts[1]}".encode("ascii"))
    except (InvalidSignature, UnicodeEncodeError):
        return Verification(False, VerifyReason.BAD_SIGNATURE, kid=kid)

    if token_kind(claims) is not kind:
        return Verification(False, VerifyReason.WRONG_TYPE, kid=kid, claims=claims)
    reason = _check_claims(claims, now=time.time() if now is None else now, issuer=issuer, kind=kind)
    if reason is None and claims.get("jti") in revoked_jtis:
        reason = VerifyReason.REVOKED
    return Verification(reason is None, reason, kid=kid, claims=claims)


def _find_key(jwks: Mapping[str, Any], kid: str) -> Ed25519PublicKey | None:
    for jwk in jwks.get("keys", ()):
        if not isinstance(jwk, Mapping) or jwk.get("kid") != kid:
            continue
        if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
            return None
        try:
            return Ed25519PublicKey.from_public_bytes(_b64decode(str(jwk.get("x", ""))))
        except (ValueError, binascii.Error):
            return None
    return None


#: Claims every carnet QR token carries, with their JSON types (``nbf`` is optional: it defaults to ``iat``).
_CLAIM_TYPES: dict[str, type | tuple[type, ...]] = {
    "iss": str,
    "sub": str,
    "cyc": list,
    "iat": int,
    "exp": int,
    "jti": str,
}


#: Claims every emergency card token carries (no cycles).
_EMERGENCY_CLAIM_TYPES: dict[str, type | tuple[type, ...]] = {
    "iss": str,
    "sub": str,
    "typ": str,
    "iat": int,
    "exp": int,
    "jti": str,
}


def _check_claims(
    claims: Mapping[str, Any], *, now: float, issuer: str | None, kind: TokenKind = TokenKind.CARNET
) -> VerifyReason | None:
    types = _CLAIM_TYPES if kind is TokenKind.CARNET else _EMERGENCY_CLAIM_TYPES
    for name, json_type in types.items():
        value = claims.get(name)
        if not isinstance(value, json_type) or isinstance(value, bool):
            return VerifyReason.MALFORMED
    nbf = claims.get("nbf", claims["iat"])
    if kind is TokenKind.CARNET and not all(isinstance(c, str) for c in claims["cyc"]):
        return VerifyReason.MALFORMED
    if not isinstance(nbf, int) or isinstance(nbf, bool):
        return VerifyReason.MALFORMED
    if issuer is not None and claims["iss"] != issuer:
        return VerifyReason.UNKNOWN_KEY
    if now >= claims["exp"]:
        return VerifyReason.EXPIRED
    if now + _LEEWAY_SECONDS < nbf:  # a phone's clock may run a little behind
        return VerifyReason.NOT_YET_VALID
    return None
