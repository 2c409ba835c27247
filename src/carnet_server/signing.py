"""Signing keys (Ed25519) and the carnet QR token (compact JWS, EdDSA).

Keys live in ``<data_dir>/keys/<kid>.pem`` (PKCS#8, mode 0600); the file
``active`` names the one that signs. A rotation adds a key and moves
``active``; old public keys stay in the JWKS, so tokens they signed still
verify until they expire. ``kid`` is the first 8 characters of the key's
RFC 7638 thumbprint (48 bits: plenty for a handful of keys, and every byte
counts in the QR).

Size budget: the QR holds ``{public_url}/v/{jws}`` and must stay at version
≤ 14 with error correction M, i.e. at most 362 bytes. A compact JWS with
``iss, sub, cyc (2 ids), iat, nbf, exp, jti`` cannot fit that with a typical
https URL, so ``nbf`` is left out: it would always equal ``iat``, and
verifiers (ours and the phone's) read a missing ``nbf`` as ``iat``
(RFC 7519 makes it optional). :func:`qr_url_max_bytes` gives the worst case
for a public URL; the server warns at start when it does not fit.

Verification is :func:`carnet_contract.qrtoken.verify`, the same code the phone runs
offline, fed with :meth:`KeyStore.jwks`.
"""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from joserfc import jws
from joserfc._rfc8037.jws_eddsa import EdDSAAlgorithm
from joserfc.jwk import OKPKey
from joserfc.jws import JWSRegistry

from carnet_server.files import write_private
from carnet_server.settings import Settings

__all__ = [
    "KeyStore",
    "ensure_signing_key",
    "rotate_signing_key",
    "qr_url_max_bytes",
    "sign_claims",
]

ALG = "EdDSA"
KID_CHARS = 8
#: byte capacity of a QR code version 14 at error correction level M (ISO/IEC 18004)
MAX_QR_URL_BYTES = 362
_ACTIVE = "active"


class _EdDSA(EdDSAAlgorithm):
    # RFC 9864 prefers "Ed25519"; the phone and outside verifiers read "EdDSA" (RFC 8037).
    security_warning = ""  # none (joserfc warns when this is non-empty)


class _QrRegistry(JWSRegistry):
    # joserfc's registry API: subclasses replace these class attributes, which its classmethods read
    algorithms = {ALG: _EdDSA()}  # noqa: RUF012
    recommended = [ALG]  # noqa: RUF012


REGISTRY = _QrRegistry(algorithms=[ALG])


# ---- keys -------------------------------------------------------------------


def kid_of(key: OKPKey) -> str:
    return key.thumbprint()[:KID_CHARS]


def _new_key(keys_dir: Path) -> str:
    key = OKPKey.generate_key("Ed25519")
    kid = kid_of(key)
    write_private(keys_dir / f"{kid}.pem", key.as_pem(private=True))
    return kid


def ensure_signing_key(settings: Settings) -> str:
    """The active key id; makes the first key on first start."""
    keys_dir = settings.keys_dir
    active = keys_dir / _ACTIVE
    if not active.exists():
        kid = _new_key(keys_dir)
        write_private(active, kid.encode("ascii"))  # loses to a concurrent first start
    return active.read_text("ascii").strip()


def rotate_signing_key(settings: Settings) -> str:
    """Make a new active signing key; the old ones stay for verification."""
    ensure_signing_key(settings)
    kid = _new_key(settings.keys_dir)
    write_private(settings.keys_dir / _ACTIVE, kid.encode("ascii"), replace=True)
    return kid


@dataclass(frozen=True)
class _Keys:
    stamp: tuple[int, int]
    active_kid: str
    private: Mapping[str, OKPKey]
    jwks: Mapping[str, Any]


class KeyStore:
    """The keys of a data dir, reloaded when a rotation (maybe in another process) changes them."""

    def __init__(self, keys_dir: Path) -> None:
        self.keys_dir = keys_dir
        self._lock = threading.Lock()
        self._keys: _Keys | None = None

    def _stamp(self) -> tuple[int, int]:
        return (self.keys_dir.stat().st_mtime_ns, (self.keys_dir / _ACTIVE).stat().st_mtime_ns)

    def _load(self) -> _Keys:
        stamp = self._stamp()
        keys = self._keys
        if keys is not None and keys.stamp == stamp:
            return keys
        with self._lock:
            private = {}
            for pem in sorted(self.keys_dir.glob("*.pem")):
                key = OKPKey.import_key(pem.read_bytes())
                private[kid_of(key)] = key
            active = (self.keys_dir / _ACTIVE).read_text("ascii").strip()
            if active not in private:
                raise RuntimeError("the active signing key is missing from the keys directory")
            self._keys = keys = _Keys(stamp, active, private, _jwks(private, active))
        return keys

    @property
    def active_kid(self) -> str:
        return self._load().active_kid

    def sign(self, claims: Mapping[str, Any]) -> tuple[str, str]:
        """``(token, kid)`` for ``claims`` signed with the active key."""
        keys = self._load()
        return sign_claims(keys.private[keys.active_kid], keys.active_kid, claims), keys.active_kid

    def jwks(self) -> dict[str, Any]:
        """The public keys, the active one first (what ``/.well-known/jwks.json`` serves)."""
        return {"keys": [dict(k) for k in self._load().jwks["keys"]]}


def _jwks(private: Mapping[str, OKPKey], active_kid: str) -> dict[str, Any]:
    out = []
    for kid, key in private.items():
        public = key.as_dict(private=False)
        out.append({"kty": "OKP", "crv": public["crv"], "kid": kid, "x": public["x"], "use": "sig", "alg": ALG})
    out.sort(key=lambda k: (k["kid"] != active_kid, k["kid"]))
    return {"keys": out}


# ---- tokens -----------------------------------------------------------------


def sign_claims(key: OKPKey, kid: str, claims: Mapping[str, Any]) -> str:
    payload = json.dumps(dict(claims), separators=(",", ":"), ensure_ascii=False)
    return jws.serialize_compact({"alg": ALG, "kid": kid}, payload, key, registry=REGISTRY)


def new_jti() -> str:
    return secrets.token_urlsafe(6)


def qr_url_max_bytes(base_url: str) -> int:
    """The longest QR URL this server can make with ``base_url`` (two due cycles, 10-digit times)."""
    key = OKPKey.generate_key("Ed25519")
    claims = {
        "iss": base_url,
        "sub": "x" * 12,
        "cyc": ["x" * 12, "x" * 12],
        "iat": 9_999_999_999,
        "exp": 9_999_999_999,
        "jti": new_jti(),
    }
    return len(f"{base_url}/v/{sign_claims(key, kid_of(key), claims)}".encode())
