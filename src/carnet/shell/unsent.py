"""What the outbox still holds, in a parent's words: "1 reporte y 1 cita" (for the logout question)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from carnet.core.i18n import Translator
from carnet.data.outbox import OutboxItem, WriteOp
from carnet.incidents.repository import PHOTO_TYPE
from carnet_contract import models as contract

__all__ = ["describe_unsent"]

#: The order the kinds are named in.
KINDS = ("fever", "report", "reply", "photo", "appointment", "donation", "other")


def _kind(item: OutboxItem) -> str:
    if item.type == contract.SyncType.INCIDENT:
        return "report" if item.op is WriteOp.CREATE else "reply"
    if item.type == PHOTO_TYPE:
        return "photo"
    if item.type == contract.SyncType.APPOINTMENT:
        return "appointment"
    if item.type == contract.SyncType.BLOOD_BANK_BOOKING:
        return "donation"
    if item.type == contract.SyncType.FEVER_EPISODE:
        return "fever"
    return "other"


def describe_unsent(tr: Translator, items: Iterable[OutboxItem]) -> str:
    """How many of each kind, joined the way one says it ("1 reporte, 2 fotos y 1 cita"); "" for none."""
    counts = Counter(_kind(item) for item in items)
    parts = [
        tr.t(f"unsent.{kind}.{'one' if counts[kind] == 1 else 'other'}", n=counts[kind])
        for kind in KINDS
        if counts[kind]
    ]
    if len(parts) <= 1:
        return "".join(parts)
    return tr.t("list_and", head=", ".join(parts[:-1]), last=parts[-1])
