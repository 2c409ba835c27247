"""The services' refusals: one hierarchy for every domain, with no HTTP in it.

    DomainError(code, **params)         an expected refusal: a machine code (also its message key)
     ├── Unauthenticated                the credentials are not genuine: password, token, signature
     ├── NotAllowed                     the caller's role may not do this
     ├── NotFound                       unknown, or not the caller's to see — the same answer, so a
     │                                  record's existence is never revealed to someone it is hidden from
     ├── Conflict                       it clashes with the current state
     ├── TooLarge                       over a size limit
     ├── Unsupported                    a kind of content the service does not take
     ├── Invalid                        the request makes no sense
     └── Throttled(retry_after)         too many attempts just now

A domain names its own refusals as subclasses of a kind where that adds meaning
(``AppointmentNotFound(NotFound)``, ``NotEligible(Invalid)`` with every reason,
``AlreadyDispensed(PharmacyError, Conflict)``) and raises a kind itself
otherwise (``Invalid("invalid_range")``). Keyword arguments are the message's
parameters. Besides them an error may carry:

- ``reasons``: several, each a code and its words (:class:`Reason`);
- ``retry_after``: seconds after which trying again may succeed;
- ``details``: JSON-ready facts for the caller (the first dispensation of a cycle);
- ``scheme``: for credentials, the scheme the caller should present (``Bearer``).

Datetime parameters are shown in local time, in the caller's language.
The HTTP side is one handler in errors.py: kind → status (401 403 404 409 413
415 422 429) and the error body, in the caller's language.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "Conflict",
    "DomainError",
    "Invalid",
    "NotAllowed",
    "NotFound",
    "Reason",
    "Throttled",
    "TooLarge",
    "Unauthenticated",
    "Unsupported",
]


@dataclass(frozen=True)
class Reason:
    """One of several reasons for a refusal: its code, and its words by language or an i18n key (else the code)."""

    code: str
    messages: Mapping[str, str] | None = None
    message_key: str | None = None


class DomainError(Exception):
    """An expected refusal; ``code`` defaults to the class's, keyword arguments are the message's parameters."""

    code: str = "domain_error"
    reasons: Sequence[Reason] = ()
    retry_after: int | None = None
    details: Mapping[str, Any] | None = None
    scheme: str | None = None

    def __init__(self, code: str | None = None, /, **params: object) -> None:
        self.code = code or type(self).code
        self.params: dict[str, object] = params
        super().__init__(self.code)

    @property
    def message_key(self) -> str:
        return self.code


class Unauthenticated(DomainError):
    code = "not_authenticated"


class NotAllowed(DomainError):
    code = "forbidden"


class NotFound(DomainError):
    code = "not_found"


class Conflict(DomainError):
    code = "conflict"


class TooLarge(DomainError):
    code = "payload_too_large"


class Unsupported(DomainError):
    code = "unsupported_media_type"


class Invalid(DomainError):
    code = "invalid"


class Throttled(DomainError):
    """Too many attempts: try again after ``retry_after`` seconds (the message says it in minutes)."""

    code = "too_many_attempts"

    def __init__(self, retry_after: int, code: str | None = None) -> None:
        super().__init__(code, minutes=max(1, -(-retry_after // 60)))
        self.retry_after = retry_after
