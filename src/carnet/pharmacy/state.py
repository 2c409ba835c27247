"""What the pharmacy counter draws."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from carnet.pharmacy.checks import Check
from carnet_contract import models as contract


@dataclass
class PharmacyUi:
    """The pharmacy counter: the trust bundle, the last scan and its dispensation (patient data in memory only)."""

    trust: contract.TrustBundle | None = None
    #: When this device fetched the bundle (its age decides a refresh).
    trust_fetched_at: datetime | None = None
    refreshing: bool = False
    #: Problem refreshing the keys (offline, server), shown beside their age.
    trust_error: str | None = None
    #: The scanned token, kept for the dispensation; never written to the device.
    token: str | None = None
    check: Check | None = None
    #: The server's answer for ``token`` (None: not asked yet, offline, or refused).
    verified: contract.VerifyResponse | None = None
    verifying: bool = False
    #: True when the last online step found no network (the offline verdict stands; no dispensing).
    offline: bool = False
    cycle_id: str | None = None
    #: Drug names ticked for the chosen cycle.
    items: set[str] = field(default_factory=set)
    confirming: bool = False
    busy: bool = False
    #: ``(token, cycle id, items, Idempotency-Key)`` of a dispensation whose fate is unknown (no answer):
    #: sending the same again reuses the key, so the server records it once.
    unsent: tuple[str, str, tuple[str, ...], str] | None = None
    #: Dispensations this counter recorded for the shown token.
    recorded: list[contract.Dispensation] = field(default_factory=list)
    message: str | None = None
    error: str | None = None
    #: Grows with every result shown: the view hands the focus back to the scanner field.
    results: int = 0
