"""QR tokens a verifier must refuse although their signature checks out: non-canonical base64url
(spare bits set in the signature's last character, ``=`` padding), a foreign ``iss``, an unknown ``crit``."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any

from joserfc.jwk import OKPKey

ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def decode(segment: str) -> bytes:
    """What a lenient decoder reads (the bytes a non-canonical variant shares with the genuine one)."""
    return base64.urlsafe_b64decode(segment.rstrip("=") + "=" * (-len(segment.rstrip("=")) % 4))


def flip_spare_bits(token: str) -> str:
    """The same signature bytes with the unused low bits of the last character set (64 bytes → 4 spare)."""
    head, payload, signature = token.split(".")
    last = ALPHABET.index(signature[-1])
    variant = f"{head}.{payload}.{signature[:-1]}{ALPHABET[last ^ 1]}"
    assert decode(variant.split(".")[2]) == decode(signature)
    return variant


def padded(token: str) -> str:
    """The token with ``==`` after the signature (which then still decodes to the same bytes)."""
    assert decode(token.split(".")[2] + "==") == decode(token.split(".")[2])
    return token + "=="


def sign_raw(key: OKPKey, header: Mapping[str, Any], claims: Mapping[str, Any]) -> str:
    """A compact JWS signed by hand: any header (joserfc would refuse some of them)."""
    signing_input = f"{b64(json.dumps(dict(header)).encode())}.{b64(json.dumps(dict(claims)).encode())}"
    signature = key.private_key.sign(signing_input.encode("ascii"))  # type: ignore[union-attr]
    return f"{signing_input}.{b64(signature)}"


def with_crit(key: OKPKey, kid: str, claims: Mapping[str, Any]) -> str:
    """Genuinely signed, but the header makes an extension critical that no verifier here knows."""
    return sign_raw(key, {"alg": "EdDSA", "kid": kid, "crit": ["x-carnet"], "x-carnet": 1}, claims)


def server_key(keys: Any) -> tuple[OKPKey, str]:
    """The server's active signing key and its kid (from a ``KeyStore``; tests only)."""
    loaded = keys._load()
    return loaded.private[loaded.active_kid], loaded.active_kid
