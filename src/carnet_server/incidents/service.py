"""Incidents: report, list, read, answer, reopen, photos (no HTTP here).

    IncidentNotFound(NotFound)    unknown incident, or one the caller may not see (same thing to them)
    PhotoNotFound(NotFound)       unknown photo of a visible incident
    and the kinds of domain_errors: NotAllowed (the caller's role), Invalid(code) (e.g. ``unit_not_treating``:
    a report names a unit other than the child's), Conflict(code),
    TooLarge (a photo over the size limit), Unsupported (not a JPEG or PNG)

Who sees what: a guardian the incidents of their linked children; case-desk
staff those of the units they work for (the incident's unit); an admin all.
Other roles get 403. States: ``recibida`` → ``en_atencion`` (first staff reply)
→ ``atendida`` (a reply with ``resolves`` and a concrete answer) → ``reabierta``
(the family reopens with a reason) → ``en_atencion`` / ``atendida`` again.

Writes do not commit: the route commits. Each write locks the incident row
first (a no-op UPDATE: row lock on PostgreSQL, write lock on SQLite), then the folio/sync counters, and touches the
sync record last.
"""

from __future__ import annotations

import io
import re
import threading
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import exists, func, select, update
from sqlalchemy.orm import Session

from carnet_contract import models as contract
from carnet_contract.models import IncidentCategory, IncidentChannel, IncidentStatus, Role, SyncType
from carnet_server import audit
from carnet_server.auth.service import Principal
from carnet_server.db import dialect_insert, new_id, utcnow
from carnet_server.domain_errors import Conflict, Invalid, NotAllowed, NotFound, TooLarge, Unsupported
from carnet_server.files import write_private
from carnet_server.incidents import deadlines
from carnet_server.incidents.tables import Incident, IncidentFolioCounter, IncidentPhoto, IncidentReply
from carnet_server.patients.service import PatientNotFound, unit_out, visible_patient
from carnet_server.patients.tables import GuardianPatient, MedicalUnit, Patient, UserUnit
from carnet_server.sync import service as sync

__all__ = [
    "STAFF_LABEL",
    "IncidentNotFound",
    "PhotoNotFound",
    "add_photo",
    "comment",
    "create",
    "get",
    "incident_out",
    "list_incidents",
    "load_for_sync",
    "next_folio",
    "out_for",
    "read_photo",
    "reopen",
    "reply",
    "staff_out",
]

ID_RE = re.compile(r"[A-Za-z0-9_-]{1,32}")
STAFF_LABEL = "Oficina de atención a casos"
FAMILY_LABEL = "Familia"
#: A resolving answer must say something concrete: at least this many characters (after trimming).
MIN_ANSWER_CHARS = 10
NEEDS_ITEM = frozenset({IncidentCategory.MEDICAMENTO.value, IncidentCategory.INSUMO.value})
READERS = frozenset({Role.GUARDIAN, Role.CASE_DESK, Role.ADMIN})
# Decoded size bounds for an incident photo, checked from the header before any pixel is decoded.
# The app scales every photo to at most 1600 px on its longest side before sending it, so these are
# far above anything it sends, yet a tiny file that decodes huge (a few-KB 1-bit 6300×6300 PNG is
# ~40 MP, ~160 MB once converted) is refused: 4096 px on the longest side, 16 MP in all.
MAX_SIDE = 4096
MAX_PIXELS = 16_000_000
# Decodes/re-encodes at once per process (each may hold tens of MB); further uploads wait their turn.
MAX_CONCURRENT_DECODES = 2
_DECODES = threading.BoundedSemaphore(MAX_CONCURRENT_DECODES)


class IncidentNotFound(NotFound):
    code = "incident_not_found"


class PhotoNotFound(NotFound):
    code = "photo_not_found"


# ---- output ---------------------------------------------------------------------------


def photo_url(incident_id: str, photo_id: str) -> str:
    return f"/api/v1/incidents/{incident_id}/photos/{photo_id}"


def incident_out(row: Incident, *, now: datetime) -> contract.Incident:
    seconds_left, overdue = deadlines.timing(
        due=row.first_response_due_at, first_response_at=row.first_response_at, now=now
    )
    return contract.Incident(
        id=row.id,
        folio=row.folio,
        patient_id=row.patient_id,
        category=IncidentCategory(row.category),
        unit=unit_out(row.unit),
        description=row.description,
        item_name=row.item_name,
        status=IncidentStatus(row.status),
        created_at=row.created_at,
        updated_at=row.updated_at,
        first_response_due_at=row.first_response_due_at,
        first_response_at=row.first_response_at,
        resolved_at=row.resolved_at,
        seconds_left=seconds_left,
        overdue=overdue,
        responses=[
            contract.IncidentReply(
                author_role=Role(r.author_role),
                author_label=FAMILY_LABEL if r.author_role == Role.GUARDIAN else STAFF_LABEL,
                message=r.message,
                created_at=r.created_at,
                resolves=r.resolves,
                reopens=r.reopens,
            )
            for r in row.replies
        ],
        photos=[
            contract.IncidentPhoto(id=p.id, content_type=p.content_type, size=p.size, url=photo_url(row.id, p.id))
            for p in row.photos
        ],
        channel=IncidentChannel(row.channel or IncidentChannel.APP.value),
    )


def staff_out(session: Session, rows: Sequence[Incident], *, now: datetime) -> list[contract.StaffIncident]:
    """Incidents as the case desk gets them: each with the child's name (one query for all)."""
    ids = sorted({r.patient_id for r in rows})
    names: dict[str, str] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        found = session.execute(select(Patient.id, Patient.full_name).where(Patient.id.in_(chunk)))
        names.update((pid, name) for pid, name in found)
    return [
        contract.StaffIncident(**incident_out(r, now=now).model_dump(), patient_name=names.get(r.patient_id, ""))
        for r in rows
    ]


def out_for(
    session: Session, principal: Principal, row: Incident, *, now: datetime
) -> contract.Incident | contract.StaffIncident:
    """One incident as ``principal`` gets it: a guardian the family's view, staff with the child's name."""
    if principal.role == Role.GUARDIAN:
        return incident_out(row, now=now)
    return staff_out(session, [row], now=now)[0]


def load_for_sync(session: Session, ids: Sequence[str]) -> Mapping[str, dict[str, Any]]:
    """Sync loader: the incidents with these ids, as ``Incident`` JSON (with replies and photos)."""
    now = utcnow()
    out: dict[str, dict[str, Any]] = {}
    for start in range(0, len(ids), 500):
        for row in session.scalars(select(Incident).where(Incident.id.in_(ids[start : start + 500]))):
            out[row.id] = incident_out(row, now=now).model_dump(mode="json")
    return out


# ---- access -------------------------------------------------------------------------------


def audit_write(
    session: Session,
    principal: Principal,
    action: str,
    object_id: str,
    ip: str | None,
    detail: Mapping[str, Any] | None = None,
    object_type: str = "incident",
) -> None:
    """Ids and codes only: never a description, a message or a name."""
    audit.record(
        session,
        action=action,
        actor_id=principal.id,
        actor_role=principal.role,
        object_type=object_type,
        object_id=object_id,
        ip=ip,
        detail=dict(detail) if detail else None,
    )


def audit_staff_read(
    session: Session,
    principal: Principal,
    action: str,
    object_id: str,
    ip: str | None,
    detail: Mapping[str, Any] | None = None,
) -> None:
    if principal.role != Role.GUARDIAN:
        audit_write(session, principal, action, object_id, ip, detail)


def _works_at(session: Session, principal: Principal, unit_id: str) -> bool:
    if principal.role == Role.ADMIN:
        return True
    return session.get(UserUnit, (principal.id, unit_id)) is not None


def get(session: Session, *, principal: Principal, incident_id: str, lock: bool = False) -> Incident:
    """The incident, if the caller may see it; else :class:`IncidentNotFound` (other roles: NotAllowed)."""
    if principal.role not in READERS:
        raise NotAllowed()
    if not ID_RE.fullmatch(incident_id):
        raise IncidentNotFound()
    if lock:
        # A no-op UPDATE as the transaction's first statement: a row lock on PostgreSQL, and on SQLite
        # the write lock (pysqlite only BEGINs before a write, so a SELECT … FOR UPDATE would not do).
        # Counts read after it (photos, reply positions) cannot race another writer.
        session.execute(
            update(Incident)
            .where(Incident.id == incident_id)
            .values(updated_at=Incident.updated_at)
            .execution_options(synchronize_session=False)
        )
    row = session.get(Incident, incident_id, populate_existing=lock)
    if row is None:
        raise IncidentNotFound()
    if principal.role == Role.GUARDIAN:
        if session.get(GuardianPatient, (principal.id, row.patient_id)) is None:
            raise IncidentNotFound()
    elif not _works_at(session, principal, row.unit_id):
        raise IncidentNotFound()
    return row


def list_incidents(
    session: Session,
    *,
    principal: Principal,
    patient_id: str | None = None,
    status: IncidentStatus | None = None,
    category: IncidentCategory | None = None,
    unit_id: str | None = None,
) -> list[Incident]:
    """Visible incidents, newest first, filtered."""
    if principal.role not in READERS:
        raise NotAllowed()
    query = select(Incident)
    if principal.role == Role.GUARDIAN:
        query = query.where(
            exists().where(GuardianPatient.patient_id == Incident.patient_id, GuardianPatient.user_id == principal.id)
        )
    elif principal.role == Role.CASE_DESK:
        query = query.where(exists().where(UserUnit.unit_id == Incident.unit_id, UserUnit.user_id == principal.id))
    if patient_id is not None:
        if principal.role == Role.GUARDIAN:
            if not ID_RE.fullmatch(patient_id):
                raise PatientNotFound()
            visible_patient(session, principal=principal, patient_id=patient_id)
        query = query.where(Incident.patient_id == patient_id)
    if status is not None:
        query = query.where(Incident.status == status.value)
    if category is not None:
        query = query.where(Incident.category == category.value)
    if unit_id is not None:
        query = query.where(Incident.unit_id == unit_id)
    return list(session.scalars(query.order_by(Incident.created_at.desc(), Incident.folio.desc())))


# ---- writes -------------------------------------------------------------------------------------


def next_folio(session: Session, year: int) -> str:
    """``CE-{year}-{n:06d}`` from one upsert: atomic on both databases, a rollback gives it back."""
    statement = (
        dialect_insert(session)(IncidentFolioCounter)
        .values(year=year, value=1)
        .on_conflict_do_update(index_elements=["year"], set_={"value": IncidentFolioCounter.value + 1})
        .returning(IncidentFolioCounter.value)
    )
    return f"CE-{year}-{int(session.execute(statement).scalar_one()):06d}"


def create(
    session: Session,
    *,
    principal: Principal,
    data: contract.IncidentCreate,
    tz: ZoneInfo,
    deadline_hours: Mapping[str, float],
    ip: str | None,
    now: datetime | None = None,
    channel: IncidentChannel = IncidentChannel.APP,
) -> Incident:
    """A guardian reports a problem of their child to the child's unit: ``recibida``, with its deadline.

    ``unit_id``, when given, must be that unit (else 422 ``unknown_unit`` / ``unit_not_treating``).
    """
    if principal.role != Role.GUARDIAN:
        raise NotAllowed()
    now = (now or utcnow()).astimezone(UTC)
    if not ID_RE.fullmatch(data.patient_id):
        raise PatientNotFound()
    patient = visible_patient(session, principal=principal, patient_id=data.patient_id)
    category = data.category.value
    item_name = (data.item_name or "").strip() or None
    if category in NEEDS_ITEM and item_name is None:
        raise Invalid("item_name_required")
    # The report goes to the unit that treats the child (its current unit): that unit's case desk will see
    # the child's id and the text, so a family may not send it anywhere else. ``unit_id`` may name it again.
    unit_id = patient.unit_id
    if data.unit_id is not None:
        unit = session.get(MedicalUnit, data.unit_id) if ID_RE.fullmatch(data.unit_id) else None
        if unit is None:
            raise Invalid("unknown_unit")
        if unit.id != patient.unit_id:
            raise Invalid("unit_not_treating")
    hours = deadlines.deadline_hours(deadline_hours)
    row = Incident(
        folio=next_folio(session, now.astimezone(tz).year),
        patient_id=patient.id,
        unit_id=unit_id,
        reporter_id=principal.id,
        category=category,
        description=data.description,
        item_name=item_name,
        status=IncidentStatus.RECIBIDA.value,
        created_at=now,
        updated_at=now,
        first_response_due_at=deadlines.due_at(now, category, hours),
        channel=channel.value,
    )
    session.add(row)
    session.flush()
    audit_write(
        session,
        principal,
        "incident.create",
        row.id,
        ip,
        {
            "patient_id": patient.id,
            "unit_id": unit_id,
            "category": category,
            "folio": row.folio,
            "channel": channel.value,
        },
    )
    sync.touch(session, type=SyncType.INCIDENT, record_id=row.id, patient_id=patient.id)
    return row


def _add_reply(
    session: Session, row: Incident, *, principal: Principal, message: str, resolves: bool, reopens: bool, now: datetime
) -> None:
    position = int(
        session.scalar(select(func.count()).select_from(IncidentReply).where(IncidentReply.incident_id == row.id)) or 0
    )
    session.add(
        IncidentReply(
            incident_id=row.id,
            position=position,
            author_id=principal.id,
            author_role=principal.role,
            message=message,
            resolves=resolves,
            reopens=reopens,
            created_at=now,
        )
    )


def reply(
    session: Session,
    *,
    principal: Principal,
    incident_id: str,
    data: contract.ReplyCreate,
    ip: str | None,
    now: datetime | None = None,
) -> Incident:
    """Case desk of the incident's unit (or admin) answers: ``en_atencion``, or ``atendida`` with ``resolves``."""
    now = (now or utcnow()).astimezone(UTC)
    row = get(session, principal=principal, incident_id=incident_id, lock=True)
    if principal.role not in (Role.CASE_DESK, Role.ADMIN):
        raise NotAllowed()
    message = data.message.strip()
    if data.resolves and len(message) < MIN_ANSWER_CHARS:
        raise Invalid("answer_required", chars=MIN_ANSWER_CHARS)
    if not message:
        raise Invalid("message_required")
    if row.status == IncidentStatus.ATENDIDA.value:
        raise Conflict("already_resolved")
    _add_reply(session, row, principal=principal, message=message, resolves=data.resolves, reopens=False, now=now)
    if row.first_response_at is None:
        row.first_response_at = now
    row.status = (IncidentStatus.ATENDIDA if data.resolves else IncidentStatus.EN_ATENCION).value
    if data.resolves:
        row.resolved_at = now
    row.updated_at = now
    audit_write(
        session,
        principal,
        "incident.reply",
        row.id,
        ip,
        {"patient_id": row.patient_id, "resolves": data.resolves, "status": row.status},
    )
    sync.touch(session, type=SyncType.INCIDENT, record_id=row.id, patient_id=row.patient_id)
    session.expire_all()
    return session.get_one(Incident, row.id)


def reopen(
    session: Session,
    *,
    principal: Principal,
    incident_id: str,
    data: contract.ReopenRequest,
    ip: str | None,
    now: datetime | None = None,
) -> Incident:
    """The child's guardian reopens an ``atendida`` incident, saying why (a reply with ``reopens``)."""
    now = (now or utcnow()).astimezone(UTC)
    row = get(session, principal=principal, incident_id=incident_id, lock=True)
    if principal.role != Role.GUARDIAN:
        raise NotAllowed()
    if row.status != IncidentStatus.ATENDIDA.value:
        raise Conflict("not_resolved")
    _add_reply(session, row, principal=principal, message=data.reason, resolves=False, reopens=True, now=now)
    row.status = IncidentStatus.REABIERTA.value
    row.resolved_at = None
    row.updated_at = now
    audit_write(session, principal, "incident.reopen", row.id, ip, {"patient_id": row.patient_id})
    sync.touch(session, type=SyncType.INCIDENT, record_id=row.id, patient_id=row.patient_id)
    session.expire_all()
    return session.get_one(Incident, row.id)


def comment(
    session: Session,
    *,
    principal: Principal,
    incident_id: str,
    message: str,
    ip: str | None,
    now: datetime | None = None,
) -> Incident:
    """The child's guardian adds a message to a report that is still open (the family's reply in the WhatsApp
    chat); an ``atendida`` one is reopened with a reason instead (Conflict ``already_resolved``)."""
    now = (now or utcnow()).astimezone(UTC)
    row = get(session, principal=principal, incident_id=incident_id, lock=True)
    if principal.role != Role.GUARDIAN:
        raise NotAllowed()
    text = message.strip()
    if not text:
        raise Invalid("message_required")
    if row.status == IncidentStatus.ATENDIDA.value:
        raise Conflict("already_resolved")
    _add_reply(session, row, principal=principal, message=text[:2000], resolves=False, reopens=False, now=now)
    row.updated_at = now
    audit_write(session, principal, "incident.comment", row.id, ip, {"patient_id": row.patient_id})
    sync.touch(session, type=SyncType.INCIDENT, record_id=row.id, patient_id=row.patient_id)
    session.expire_all()
    return session.get_one(Incident, row.id)


# ---- photos ---------------------------------------------------------------------------------------

JPEG, PNG = "image/jpeg", "image/png"


def sniff(data: bytes) -> str | None:
    """The type by content (never by the declared type or the file name)."""
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    return None


@contextmanager
def decode_slot() -> Iterator[None]:
    """One of the process's ``MAX_CONCURRENT_DECODES`` slots for decoding and re-encoding an image."""
    with _DECODES:
        yield


def clean_image(data: bytes, content_type: str) -> bytes:
    """Decode and re-encode: no EXIF (GPS!), no text chunks, no ICC or XMP; orientation applied.

    The size is read from the header first (``Image.open`` is lazy) and anything over ``MAX_SIDE`` or
    ``MAX_PIXELS`` is refused (``TooLarge("photo_too_large_decoded")``) before a pixel is decoded; the
    decode itself runs in a :func:`decode_slot`.
    """
    from PIL import Image, ImageOps

    Image.MAX_IMAGE_PIXELS = MAX_PIXELS  # Pillow's own bomb check, as a second line
    with decode_slot(), warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data)) as opened:
                width, height = opened.size
                if max(width, height) > MAX_SIDE or width * height > MAX_PIXELS:
                    raise TooLarge("photo_too_large_decoded", max=MAX_SIDE, megapixels=MAX_PIXELS // 1_000_000)
                opened.load()
                image = ImageOps.exif_transpose(opened)
                if content_type == JPEG:
                    pixels = image.convert("RGB") if image.mode not in ("RGB", "L") else image
                else:
                    pixels = image.convert("RGBA") if image.mode not in ("RGB", "RGBA", "L", "LA") else image
                fresh = Image.new(pixels.mode, pixels.size)
                fresh.paste(pixels)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise TooLarge("photo_too_large_decoded", max=MAX_SIDE, megapixels=MAX_PIXELS // 1_000_000) from exc
        except (OSError, ValueError, SyntaxError) as exc:
            raise Unsupported() from exc
        out = io.BytesIO()
        if content_type == JPEG:
            fresh.save(out, format="JPEG", quality=88, optimize=True)
        else:
            fresh.save(out, format="PNG", optimize=True)
        return out.getvalue()


def add_photo(
    session: Session,
    *,
    principal: Principal,
    incident_id: str,
    data: bytes,
    data_dir: Path,
    max_bytes: int,
    max_photos: int,
    ip: str | None,
    now: datetime | None = None,
) -> Incident:
    """The child's guardian attaches a JPEG/PNG (≤ max_bytes, ≤ max_photos per incident), stripped of metadata."""
    now = (now or utcnow()).astimezone(UTC)
    row = get(session, principal=principal, incident_id=incident_id, lock=True)
    if principal.role != Role.GUARDIAN:
        raise NotAllowed()
    if len(data) > max_bytes:
        raise TooLarge("photo_too_large")
    content_type = sniff(data)
    if content_type is None:
        raise Unsupported()
    count = int(
        session.scalar(select(func.count()).select_from(IncidentPhoto).where(IncidentPhoto.incident_id == row.id)) or 0
    )
    if count >= max_photos:
        raise Conflict("too_many_photos", max=max_photos)
    clean = clean_image(data, content_type)
    photo_id = new_id()
    relative = f"files/incidents/{row.id}/{photo_id}.{'jpg' if content_type == JPEG else 'png'}"
    path = data_dir / relative
    write_private(path, clean)
    try:
        session.add(
            IncidentPhoto(
                id=photo_id,
                incident_id=row.id,
                content_type=content_type,
                size=len(clean),
                path=relative,
                uploaded_by=principal.id,
                created_at=now,
            )
        )
        row.updated_at = now
        audit_write(
            session,
            principal,
            "incident.photo.add",
            row.id,
            ip,
            {"patient_id": row.patient_id, "photo_id": photo_id, "size": len(clean)},
        )
        sync.touch(session, type=SyncType.INCIDENT, record_id=row.id, patient_id=row.patient_id)
    except Exception:
        path.unlink(missing_ok=True)
        raise
    session.expire_all()
    return session.get_one(Incident, row.id)


def read_photo(
    session: Session, *, principal: Principal, incident_id: str, photo_id: str, data_dir: Path, ip: str | None
) -> tuple[bytes, str]:
    row = get(session, principal=principal, incident_id=incident_id)
    photo = session.get(IncidentPhoto, photo_id) if ID_RE.fullmatch(photo_id) else None
    if photo is None or photo.incident_id != row.id:
        raise PhotoNotFound()
    try:
        data = (data_dir / photo.path).read_bytes()
    except FileNotFoundError as exc:
        raise PhotoNotFound() from exc
    audit_staff_read(session, principal, "incident.photo.read", row.id, ip, {"photo_id": photo.id})
    return data, photo.content_type
