"""Routes of the incidents domain: report, list, read, answer, reopen, photos, the weekly figures."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, File, Query, Request, Response, UploadFile
from sqlalchemy.orm import Session

from carnet_contract import models as contract
from carnet_contract.models import IncidentCategory, IncidentStatus, Role
from carnet_server.auth.deps import ClientAddress, ContextDep, CurrentUser, SessionDep
from carnet_server.db import utcnow
from carnet_server.errors import ApiException
from carnet_server.headers import csv_download, markdown_text
from carnet_server.idempotency.deps import IdempotencyDep
from carnet_server.incidents import figures, service
from carnet_server.limits import write_limit
from carnet_server.routes import SessionEndingRoute, api_router, context_of
from carnet_server.whatsapp import notify as whatsapp_notify

router = api_router(prefix="/api/v1", tags=["incidents"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": contract.ErrorBody} for code in (401, 403, 404, 409, 413, 415, 422)
}
IdQuery = Annotated[str | None, Query(max_length=64)]
#: Staff (case desk, admin) get each incident with the child's name; guardians the family's view.
AnyIncident = contract.StaffIncident | contract.Incident


@router.post(
    "/incidents",
    status_code=201,
    response_model=contract.Incident,
    responses=_ERRORS,
    dependencies=[write_limit("incidents")],
)
def create_incident(
    body: contract.IncidentCreate,
    user: CurrentUser,
    session: SessionDep,
    ctx: ContextDep,
    address: ClientAddress,
    idem: IdempotencyDep,
) -> Response:
    """A guardian reports a problem of their child: 201 ``recibida`` with its folio and first-response deadline."""
    row = service.create(
        session, principal=user, data=body, tz=ctx.tz, deadline_hours=ctx.settings.incident_deadline_hours, ip=address
    )
    out = service.incident_out(row, now=utcnow())
    return idem.respond(session, out, status=201)


@router.get("/incidents", response_model=list[AnyIncident], responses=_ERRORS)
def list_incidents(
    user: CurrentUser,
    session: SessionDep,
    address: ClientAddress,
    patient_id: IdQuery = None,
    status: IncidentStatus | None = None,
    category: IncidentCategory | None = None,
    unit_id: IdQuery = None,
) -> list[AnyIncident]:
    """Guardian: their children's; case desk: their units' (with the child's name); admin: all — newest first."""
    rows = service.list_incidents(
        session, principal=user, patient_id=patient_id, status=status, category=category, unit_id=unit_id
    )
    now = utcnow()
    out: list[AnyIncident] = (
        [service.incident_out(r, now=now) for r in rows]
        if user.role == Role.GUARDIAN
        else list(service.staff_out(session, rows, now=now))
    )
    service.audit_staff_read(
        session,
        user,
        "incident.list.read",
        "-",
        address,
        {"count": len(out), "status": status, "category": category, "unit_id": unit_id},
    )
    session.commit()
    return out


@router.get("/incidents/{incident_id}", response_model=AnyIncident, responses=_ERRORS)
def read_incident(incident_id: str, user: CurrentUser, session: SessionDep, address: ClientAddress) -> AnyIncident:
    """One incident with its replies and photos (staff: with the child's name)."""
    row = service.get(session, principal=user, incident_id=incident_id)
    out = service.out_for(session, user, row, now=utcnow())
    service.audit_staff_read(session, user, "incident.read", row.id, address, {"patient_id": row.patient_id})
    session.commit()
    return out


@router.post("/incidents/{incident_id}/responses", response_model=contract.StaffIncident, responses=_ERRORS)
def reply(
    request: Request,
    incident_id: str,
    body: contract.ReplyCreate,
    user: CurrentUser,
    session: SessionDep,
    address: ClientAddress,
    idem: IdempotencyDep,
) -> Response:
    """Case desk of the incident's unit (or admin): ``en_atencion``; with ``resolves`` and a concrete answer
    ``atendida``."""
    row = service.reply(session, principal=user, incident_id=incident_id, data=body, ip=address)
    out = service.out_for(session, user, row, now=utcnow())
    # A report made over WhatsApp gets the answer in that chat too, queued in this transaction.
    queued = whatsapp_notify.incident_answered(session, row, message=body.message, resolves=body.resolves)
    response = idem.respond(session, out, status=200)
    worker = getattr(request.app.state, "whatsapp_worker", None)
    if queued and worker is not None:
        worker.wake()
    return response


@router.post("/incidents/{incident_id}/reopen", response_model=contract.Incident, responses=_ERRORS)
def reopen(
    incident_id: str,
    body: contract.ReopenRequest,
    user: CurrentUser,
    session: SessionDep,
    address: ClientAddress,
    idem: IdempotencyDep,
) -> Response:
    """The child's guardian reopens an ``atendida`` incident with a reason: ``reabierta`` (else 409 not_resolved)."""
    row = service.reopen(session, principal=user, incident_id=incident_id, data=body, ip=address)
    out = service.incident_out(row, now=utcnow())
    return idem.respond(session, out, status=200)


#: Room for the multipart framing around a photo of the largest size allowed.
MULTIPART_OVERHEAD = 64 * 1024


class _BodyFirstRoute(SessionEndingRoute):
    """Reads a keyed request's raw body before FastAPI parses the form, so ``IdempotencyDep`` can hash it
    (Starlette keeps the body, as ``Request.body()`` does, and the form is parsed from it). A body larger
    than any photo allowed is refused (413) without being held in memory."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def read_body_first(request: Request) -> Response:
            if "idempotency-key" in request.headers:
                cap = context_of(request).settings.incident_photo_max_bytes + MULTIPART_OVERHEAD
                chunks: list[bytes] = []
                size = 0
                async for chunk in request.stream():
                    size += len(chunk)
                    if size > cap:
                        raise ApiException(413, "photo_too_large")
                    chunks.append(chunk)
                request._body = b"".join(chunks)  # what Request.body() keeps
            return await handler(request)

        return read_body_first


_photos = APIRouter(route_class=_BodyFirstRoute)


@_photos.post(
    "/incidents/{incident_id}/photos",
    status_code=201,
    response_model=contract.Incident,
    responses=_ERRORS,
    dependencies=[write_limit("incident_photos")],
)
def add_photo(
    incident_id: str,
    file: Annotated[UploadFile, File(description="A JPEG or PNG, at most 5 MB")],
    user: CurrentUser,
    session: SessionDep,
    ctx: ContextDep,
    address: ClientAddress,
    idem: IdempotencyDep,
) -> Response:
    """The child's guardian attaches a photo (multipart field ``file``); stored without EXIF or other metadata.

    With ``Idempotency-Key`` a retry gets the stored answer and adds nothing; the key covers the raw request
    body, so a retry must send the same bytes (the app derives the multipart boundary from the key).
    """
    limit = ctx.settings.incident_photo_max_bytes
    data = file.file.read(limit + 1)
    row = service.add_photo(
        session,
        principal=user,
        incident_id=incident_id,
        data=data,
        data_dir=ctx.settings.data_dir,
        max_bytes=limit,
        max_photos=ctx.settings.incident_max_photos,
        ip=address,
    )
    out = service.incident_out(row, now=utcnow())
    return idem.respond(session, out, status=201)


router.include_router(_photos)


@router.get(
    "/incidents/{incident_id}/photos/{photo_id}",
    responses={**_ERRORS, 200: {"content": {"image/jpeg": {}, "image/png": {}}}},
)
def read_photo(
    incident_id: str, photo_id: str, user: CurrentUser, session: SessionDep, ctx: ContextDep, address: ClientAddress
) -> Response:
    """A photo of an incident the caller may see."""
    data, content_type = service.read_photo(
        session, principal=user, incident_id=incident_id, photo_id=photo_id, data_dir=ctx.settings.data_dir, ip=address
    )
    session.commit()
    return Response(content=data, media_type=content_type)  # no-store and nosniff: headers.py


# ---- weekly figures -------------------------------------------------------------------------------

WeekQuery = Annotated[str, Query(max_length=20, description="The Monday (Mexico City) of the week, YYYY-MM-DD")]


def _figures(week: str, user: CurrentUser, session: Session, ctx: ContextDep, address: str) -> contract.WeeklyFigures:
    monday = figures.parse_week(week)
    out = figures.weekly(session, principal=user, monday=monday, tz=ctx.tz, now=utcnow(), ip=address)
    session.commit()
    return out


@router.get("/case-desk/weekly", response_model=contract.WeeklyFigures, responses=_ERRORS)
def weekly(
    week: WeekQuery, user: CurrentUser, session: SessionDep, ctx: ContextDep, address: ClientAddress
) -> contract.WeeklyFigures:
    """Case desk (their units) or admin (all): the week's figures for the working-group session."""
    return _figures(week, user, session, ctx, address)


@router.get("/case-desk/weekly.csv", responses={**_ERRORS, 200: {"content": {"text/csv": {}}}})
def weekly_csv(
    week: WeekQuery, user: CurrentUser, session: SessionDep, ctx: ContextDep, address: ClientAddress
) -> Response:
    """The same figures as one CSV table (UTF-8, header row)."""
    out = _figures(week, user, session, ctx, address)
    return csv_download(figures.to_csv(out), f"casos-semana-{out.week_start}.csv")


@router.get("/case-desk/weekly.md", responses={**_ERRORS, 200: {"content": {"text/markdown": {}}}})
def weekly_md(
    week: WeekQuery, user: CurrentUser, session: SessionDep, ctx: ContextDep, address: ClientAddress
) -> Response:
    """The same figures as a Spanish Markdown summary ("Sesión de trabajo — semana del …")."""
    out = _figures(week, user, session, ctx, address)
    return markdown_text(figures.to_markdown(out))
