"""The report form: child, category, unit, the missing item, what happened, up to three photos — checked
into an ``IncidentCreate`` body (and the photos to send after it) or clear messages. Nothing here touches
the store.

Photos are prepared on the phone (:mod:`carnet.incidents.photos`): a JPEG or PNG by its content (never by its
name) of at most :data:`ORIGINAL_MAX_BYTES`, decoded, turned upright, scaled to 1600 px and re-encoded as a
JPEG without metadata — far under the server's :data:`PHOTO_MAX_BYTES` (``POST /incidents/{id}/photos``) —
with a thumbnail for the screens; at most :data:`MAX_PHOTOS`. A photo that fails is not attached; the form
says why and keeps what it had. :func:`check_photos` is the slow part (Pillow): run it off the event loop.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from carnet.core.i18n import Translator
from carnet.incidents.photos import JPEG, ORIGINAL_MAX_BYTES, PhotoRefused, Refusal, prepare_photo
from carnet.incidents.repository import NEEDS_ITEM, PhotoDraft
from carnet_contract import models as contract

__all__ = [
    "ITEM_MAX",
    "MAX_PHOTOS",
    "PHOTO_MAX_BYTES",
    "ReportForm",
    "ReportResult",
    "add_photos",
    "attach_photos",
    "check_photos",
    "check_report",
    "remove_photo",
]

DESCRIPTION_MIN, DESCRIPTION_MAX = 5, 2000
ITEM_MAX = 120
REASON_MIN, REASON_MAX = 5, 1000
#: The server's limits (``incident_photo_max_bytes``, ``incident_max_photos``). A prepared photo (1600 px,
#: JPEG quality 80) stays under 1 MB; the count is checked on the phone first.
PHOTO_MAX_BYTES = 5 * 1024 * 1024
MAX_PHOTOS = 3


@dataclass
class ReportForm:
    patient_id: str | None = None
    category: contract.IncidentCategory | None = None
    #: The child's unit (from the cached carnet); None lets the server use the child's unit.
    unit_id: str | None = None
    unit_name: str = ""
    item_name: str = ""
    description: str = ""
    #: Prepared photos, in the order chosen (at most MAX_PHOTOS).
    photos: list[PhotoDraft] = field(default_factory=list)
    #: Picks still being prepared (off the event loop): the form waits for them before sending.
    preparing: int = 0
    #: "patient", "category", "item_name", "description", "photos" → message.
    errors: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ReportResult:
    body: dict[str, Any] | None
    errors: dict[str, str]


def _clean(text: str) -> str:
    return " ".join((text or "").split())


def check_report(form: ReportForm, tr: Translator, *, children: set[str]) -> ReportResult:
    t = tr.t
    errors: dict[str, str] = {}
    if form.patient_id not in children:
        errors["patient"] = t("form_err_patient")
    if form.category is None:
        errors["category"] = t("inc_err_category")
    item = _clean(form.item_name)
    needs_item = form.category in NEEDS_ITEM
    if needs_item and not item and form.category is not None:
        errors["item_name"] = t("inc_err_item_" + form.category.value)
    elif len(item) > ITEM_MAX:
        errors["item_name"] = t("form_err_too_long", max=ITEM_MAX)
    description = (form.description or "").strip()
    if len(description) < DESCRIPTION_MIN:
        errors["description"] = t("inc_err_description", min=DESCRIPTION_MIN)
    elif len(description) > DESCRIPTION_MAX:
        errors["description"] = t("form_err_too_long", max=DESCRIPTION_MAX)
    if errors:
        return ReportResult(None, errors)
    assert form.patient_id is not None and form.category is not None
    try:
        body = contract.IncidentCreate(
            patient_id=form.patient_id,
            category=form.category,
            unit_id=form.unit_id,
            description=description,
            item_name=item if needs_item else None,
        )
    except ValidationError:
        return ReportResult(None, {"description": t("err_unexpected")})
    return ReportResult(body.model_dump(mode="json", exclude_none=True), {})


def check_reason(text: str, tr: Translator) -> tuple[dict[str, Any] | None, str | None]:
    """The reopen body, or the message."""
    reason = (text or "").strip()
    if len(reason) < REASON_MIN:
        return None, tr.t("inc_err_reason", min=REASON_MIN)
    if len(reason) > REASON_MAX:
        return None, tr.t("form_err_too_long", max=REASON_MAX)
    return contract.ReopenRequest(reason=reason).model_dump(), None


def check_photos(
    picked: list[tuple[str, bytes | None]], tr: Translator, *, room: int = MAX_PHOTOS
) -> tuple[list[PhotoDraft], list[str]]:
    """Prepare the picked files (at most ``room`` of them): the drafts, and a message for each refused file
    (and one when more were picked than fit). Slow (decoding, scaling, encoding) and touches no shared state:
    run it with ``asyncio.to_thread``."""
    t = tr.t
    drafts: list[PhotoDraft] = []
    problems: list[str] = []
    for name, data in picked:
        shown = (name or "").strip() or t("inc_photo_unnamed")
        if len(drafts) >= room:
            problems.append(t("inc_photo_err_count", max=MAX_PHOTOS))
            break
        try:
            prepared = prepare_photo(bytes(data or b""))
        except PhotoRefused as refused:
            problems.append(_refusal_text(tr, refused.reason, shown))
            continue
        drafts.append(
            PhotoDraft(id=str(uuid.uuid4()), content_type=JPEG, data=prepared.data, name=shown, thumb=prepared.thumb)
        )
    return drafts, problems


def _refusal_text(tr: Translator, reason: Refusal, name: str) -> str:
    if reason is Refusal.TOO_BIG:
        return tr.t("inc_photo_err_size", name=name, mb=ORIGINAL_MAX_BYTES // (1024 * 1024))
    if reason is Refusal.TOO_MANY_PIXELS:
        return tr.t("inc_photo_err_pixels", name=name)
    if reason in (Refusal.NOT_IMAGE, Refusal.DAMAGED):  # a JPEG/PNG signature over data that does not decode
        return tr.t("inc_photo_err_type", name=name)
    return tr.t("inc_photo_err_read", name=name)


def attach_photos(form: ReportForm, drafts: list[PhotoDraft], tr: Translator) -> list[str]:
    """Add prepared photos to the form up to MAX_PHOTOS (another pick may have filled it meanwhile)."""
    for draft in drafts:
        if len(form.photos) >= MAX_PHOTOS:
            return [tr.t("inc_photo_err_count", max=MAX_PHOTOS)]
        form.photos.append(draft)
    return []


def add_photos(form: ReportForm, picked: list[tuple[str, bytes | None]], tr: Translator) -> list[str]:
    """Prepare and attach the picked files that are a real JPEG/PNG of at most 25 MB, up to MAX_PHOTOS; the
    messages for the others (one each). A refused file changes nothing. (In one go, on this thread.)"""
    drafts, problems = check_photos(picked, tr, room=MAX_PHOTOS - len(form.photos))
    return problems + [p for p in attach_photos(form, drafts, tr) if p not in problems]


def remove_photo(form: ReportForm, photo_id: str) -> bool:
    before = len(form.photos)
    form.photos = [p for p in form.photos if p.id != photo_id]
    return len(form.photos) != before
