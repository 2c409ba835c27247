"""The pharmacy counter's logic: the cached trust bundle and the offline check of a scanned QR.

A counter verifies a carnet QR **first on the device**, with the keys and the
revocation list of the last trust bundle (``GET /api/v1/pharmacy/trust``), so
a scan answers at once and without network; the server's answer (the child,
the cycles due, what was already dispensed) follows when online. Every result
is one :class:`CheckKind`, said plainly with a colour and an icon
(:data:`LOOKS`; the view turns them into Flet controls).

The bundle is public data (public keys, revoked token ids): it is kept in the
encrypted offline store under a device scope, not a person's, so it survives a
logout and serves whoever logs in next at that counter. Nothing about a
patient is ever written here. No Flet in this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from pydantic import ValidationError

from carnet.core.i18n import Translator
from carnet.data.store import OfflineStore
from carnet_contract import models as contract
from carnet_contract import qrtoken
from carnet_contract.models import VerifyReason

__all__ = [
    "Check",
    "CheckKind",
    "LOOKS",
    "Look",
    "TrustCache",
    "age_text",
    "check_offline",
    "check_online",
    "describe",
    "dispensation_for",
    "dispensed_text",
    "is_stale",
]


class CheckKind(StrEnum):
    GENUINE = "genuine"
    TAMPERED = "tampered"
    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"
    UNKNOWN_KEY = "unknown_key"
    REVOKED = "revoked"
    MALFORMED = "malformed"
    UNKNOWN_PATIENT = "unknown_patient"
    #: No trust bundle on this device yet (never online since install): nothing to check against.
    NO_KEYS = "no_keys"
    #: A genuine emergency card's code (fever, "Hora Dorada"): not a carnet code, nothing to dispense.
    EMERGENCY = "emergency"


_BY_REASON: dict[VerifyReason, CheckKind] = {
    VerifyReason.MALFORMED: CheckKind.MALFORMED,
    VerifyReason.BAD_SIGNATURE: CheckKind.TAMPERED,
    VerifyReason.UNKNOWN_KEY: CheckKind.UNKNOWN_KEY,
    VerifyReason.EXPIRED: CheckKind.EXPIRED,
    VerifyReason.NOT_YET_VALID: CheckKind.NOT_YET_VALID,
    VerifyReason.REVOKED: CheckKind.REVOKED,
    VerifyReason.UNKNOWN_PATIENT: CheckKind.UNKNOWN_PATIENT,
    # A genuine emergency card's code scanned at the pharmacy: not a carnet code.
    VerifyReason.WRONG_TYPE: CheckKind.MALFORMED,
}


@dataclass(frozen=True)
class Look:
    """How a result is drawn: text/icon colour and background (hex), a Material icon name (``ft.Icons[...]``)."""

    colour: str
    background: str
    icon: str


_GREEN = Look("#0B6E4F", "#E3F4EC", "VERIFIED")
_RED = "#B71C1C", "#FDECEA"

LOOKS: dict[CheckKind, Look] = {
    CheckKind.GENUINE: _GREEN,
    CheckKind.TAMPERED: Look(*_RED, "GPP_BAD"),
    CheckKind.EXPIRED: Look("#8A3B00", "#FFF0DD", "EVENT_BUSY"),
    CheckKind.NOT_YET_VALID: Look("#8A3B00", "#FFF0DD", "SCHEDULE"),
    CheckKind.UNKNOWN_KEY: Look("#B71C1C", "#ECEFF1", "KEY_OFF"),
    CheckKind.REVOKED: Look(*_RED, "BLOCK"),
    CheckKind.MALFORMED: Look("#37474F", "#ECEFF1", "QR_CODE_2"),
    CheckKind.UNKNOWN_PATIENT: Look(*_RED, "PERSON_OFF"),
    CheckKind.NO_KEYS: Look("#37474F", "#ECEFF1", "CLOUD_OFF"),
    CheckKind.EMERGENCY: Look("#0B6E4F", "#E3F4EC", "MEDICAL_INFORMATION"),
}


@dataclass(frozen=True)
class Check:
    """One verdict on a scanned code, from this device (``online`` False) or from the server."""

    kind: CheckKind
    online: bool = False
    #: The token's expiry when it could be read (after a valid signature).
    expires_at: datetime | None = None
    #: The server's own sentence, when it gave one.
    message: str | None = None
    #: The code is an emergency card's (genuine or not, once its signature was good): the fields its token
    #: carries — the patient's opaque id and when it was issued — beside the expiry.
    emergency: bool = False
    subject: str | None = None
    issued_at: datetime | None = None

    @property
    def valid(self) -> bool:
        """A genuine carnet code (one to dispense against)."""
        return self.kind is CheckKind.GENUINE

    @property
    def valid_emergency(self) -> bool:
        """A genuine emergency card's code."""
        return self.kind is CheckKind.EMERGENCY

    @property
    def look(self) -> Look:
        return LOOKS[self.kind]


def _instant(value: object) -> datetime | None:
    return datetime.fromtimestamp(value, UTC) if isinstance(value, int) and not isinstance(value, bool) else None


def check_offline(scanned: str, bundle: contract.TrustBundle | None, *, now: datetime) -> Check:
    """Verify what the scanner typed (URL or bare token) with the cached bundle alone: a carnet code, or an
    emergency card's (the same keys; its own token type, checked once the signature is good)."""
    token = qrtoken.extract_token(scanned)
    if bundle is None:
        result = qrtoken.verify(token, {"keys": []}, now=now.timestamp())
        # A code that is not even a carnet code is said so; anything else needs the keys.
        return Check(CheckKind.MALFORMED if result.reason is VerifyReason.MALFORMED else CheckKind.NO_KEYS)
    result = qrtoken.verify(
        token, {"keys": bundle.keys}, now=now.timestamp(), issuer=bundle.issuer, revoked_jtis=frozenset(bundle.revoked)
    )
    if result.reason is VerifyReason.WRONG_TYPE:
        return _check_emergency(token, bundle, now)
    expires_at = _instant(result.claims.get("exp")) if result.claims else None
    if result.valid:
        return Check(CheckKind.GENUINE, expires_at=expires_at)
    assert result.reason is not None
    return Check(_BY_REASON[result.reason], expires_at=expires_at)


def _check_emergency(token: str, bundle: contract.TrustBundle, now: datetime) -> Check:
    """A genuinely signed code that is not a carnet's: checked as an emergency card's (expiry, issuer)."""
    result = qrtoken.verify(
        token,
        {"keys": bundle.keys},
        now=now.timestamp(),
        issuer=bundle.issuer,
        revoked_jtis=frozenset(bundle.revoked),
        kind=qrtoken.TokenKind.EMERGENCY,
    )
    claims = result.claims or {}
    sub = claims.get("sub")
    if result.valid:
        kind = CheckKind.EMERGENCY
    else:
        assert result.reason is not None
        kind = _BY_REASON[result.reason]
    return Check(
        kind,
        expires_at=_instant(claims.get("exp")),
        emergency=True,
        subject=sub if isinstance(sub, str) else None,
        issued_at=_instant(claims.get("iat")),
    )


def check_online(answer: contract.VerifyResponse) -> Check:
    """The server's verdict (it also knows revocations made since the last bundle, and the patient)."""
    if answer.valid:
        return Check(CheckKind.GENUINE, online=True, expires_at=answer.expires_at, message=answer.message)
    kind = _BY_REASON.get(answer.reason, CheckKind.MALFORMED) if answer.reason else CheckKind.MALFORMED
    return Check(kind, online=True, expires_at=answer.expires_at, message=answer.message)


def describe(check: Check, tr: Translator) -> str:
    """The verdict in one plain sentence, in the app's language."""
    if check.emergency and check.kind is CheckKind.EXPIRED and check.expires_at is not None:
        return tr.t("ph_kind.emergency_expired_on", when=tr.datetime(check.expires_at))
    if check.emergency and check.kind is CheckKind.REVOKED:
        return tr.t("ph_kind.emergency_revoked")
    if check.kind is CheckKind.EXPIRED and check.expires_at is not None:
        return tr.t("ph_kind.expired_on", when=tr.datetime(check.expires_at))
    return tr.t(f"ph_kind.{check.kind.value}")


# ---- the trust bundle --------------------------------------------------------------------------


class TrustCache:
    """The last trust bundle, sealed in the offline store under a device scope (public data)."""

    SCOPE, KIND = "_device", "trust_bundle"

    def __init__(self, store: OfflineStore) -> None:
        self._store = store

    def load(self) -> tuple[contract.TrustBundle, datetime] | None:
        record = self._store.get(self.SCOPE, self.KIND)
        if record is None:
            return None
        try:
            return contract.TrustBundle.model_validate(record.value), record.fetched_at
        except ValidationError:
            self._store.delete(self.SCOPE, self.KIND)  # an older app's shape: fetch it again
            return None

    def save(self, bundle: contract.TrustBundle, *, fetched_at: datetime) -> None:
        self._store.put(self.SCOPE, self.KIND, "", bundle.model_dump(mode="json"), fetched_at=fetched_at)


def is_stale(bundle: contract.TrustBundle | None, fetched_at: datetime | None, now: datetime) -> bool:
    """True when there is no bundle, or it is older than its ``max_age`` (by this device's clock)."""
    if bundle is None or fetched_at is None:
        return True
    return (now - fetched_at).total_seconds() >= bundle.max_age


def age_text(tr: Translator, fetched_at: datetime | None, now: datetime) -> str:
    """ "Claves actualizadas hace 3 min" (or that there are none on this device)."""
    if fetched_at is None:
        return tr.t("ph_keys_none")
    seconds = max(0, int((now - fetched_at).total_seconds()))
    if seconds < 60:
        return tr.t("ph_keys_age_now")
    if seconds < 3600:
        return tr.t("ph_keys_age_min", n=seconds // 60)
    if seconds < 86400:
        return tr.t("ph_keys_age_h", n=seconds // 3600)
    return tr.t("ph_keys_age_days", n=seconds // 86400)


# ---- what was already dispensed ------------------------------------------------------------------


def dispensation_for(
    answer: contract.VerifyResponse | None, cycle_id: str, extra: list[contract.Dispensation] | None = None
) -> contract.Dispensation | None:
    """The recorded dispensation of a due cycle (the server's list, or one this counter just recorded)."""
    for found in [*(extra or []), *(answer.dispensations if answer else [])]:
        if found.cycle_id == cycle_id:
            return found
    return None


def dispensed_text(tr: Translator, dispensation: contract.Dispensation, *, conflict: bool = False) -> str:
    """ "Surtido el 3 may 2026, 10:15 por …" — or, for a refused second time, "Este ciclo ya se surtió el …"."""
    key = "ph_already_dispensed" if conflict else "ph_dispensed_on"
    return tr.t(key, when=tr.datetime(dispensation.dispensed_at), who=dispensation.dispensed_by)
