"""Codes people type: guardians' activation codes and staff's temporary passwords.

Both are drawn with ``secrets`` from 31 characters that are hard to confuse when read aloud, printed or
handwritten: the digits 2–9 and the capital letters without I, L and O (so no 0/O, 1/I/L). An activation
code is 10 of them shown as two groups of five (``K7MP2-XR9TQ``, about 49.5 bits); typed input is
upper-cased and spaces and dashes are dropped, so ``k7mp2 xr9tq`` is the same code. The server keeps
only an HMAC-SHA256 of the normalised code under a key derived from its secret (a stolen table cannot be
searched offline); guessing online is throttled (enrolment/invitations.py).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

__all__ = ["ALPHABET", "CODE_LENGTH", "code_hash", "new_code", "normalize_code", "temporary_password"]

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 10
_GROUP = 5


def _draw(n: int) -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(n))


def new_code() -> str:
    """A fresh activation code, as shown: ``XXXXX-XXXXX``."""
    raw = _draw(CODE_LENGTH)
    return f"{raw[:_GROUP]}-{raw[_GROUP:]}"


def normalize_code(text: str) -> str | None:
    """The code's 10 characters without separators, or None when ``text`` cannot be a code."""
    raw = "".join(ch for ch in text.upper() if ch not in " -\t")
    if len(raw) != CODE_LENGTH or any(ch not in ALPHABET for ch in raw):
        return None
    return raw


def code_hash(key: bytes, normalized: str) -> str:
    """The stored form of a normalised code: HMAC-SHA256 under the server's code key, hex."""
    return hmac.new(key, normalized.encode("ascii"), hashlib.sha256).hexdigest()


def temporary_password() -> str:
    """A temporary password for a staff account: three groups of four (``K7MP-2XR9-TQHW``)."""
    raw = _draw(12)
    return "-".join(raw[i : i + 4] for i in range(0, 12, 4))
