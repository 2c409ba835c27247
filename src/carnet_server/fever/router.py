"""Routes of the fever domain (Hora Dorada): episodes and their steps, the emergency card and its QR, the IPS
export, the weekly figures. Staff reads and every write are audited (ids and codes only)."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import Query, Response
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from carnet_contract import models as contract
from carnet_contract.models import FeverStatus, Role
from carnet_server.auth.deps import ClientAddress, ContextDep, CurrentUser, LangDep, SessionDep
from carnet_server.auth.service import Principal
from carnet_server.db import utcnow
from carnet_server.domain_errors import NotAllowed
from carnet_server.fever import card, figures, ips, page, service
from carnet_server.headers import csv_download, markdown_text
from carnet_server.i18n import t
from carnet_server.idempotency.deps import IdempotencyDep
from carnet_server.incidents.figures import parse_week
from carnet_server.limits import write_limit
from carnet_server.patients.service import PatientNotFound, visible_patient
from carnet_server.routes import api_router

router = api_router(prefix="/api/v1", tags=["fever"])
#: The emergency card QR's public page (no prefix, beside the carnet's ``/v/``).
page_router = api_router(tags=["verification"])

_ERRORS: dict[int | str, dict[str, Any]] = {code: {"model": contract.ErrorBody} for code in (401, 403, 404, 409, 422)}
IdQuery = Annotated[str | None, Query(max_length=64)]
WeekQuery = Annotated[str, Query(max_length=20, description="The Monday (Mexico City) of the week, YYYY-MM-DD")]
#: Who may verify an emergency card's QR online: any staff (an emergency desk, a pharmacy counter).
_VERIFIERS = frozenset({Role.PHARMACY, Role.BLOOD_BANK, Role.CASE_DESK, Role.ONCOLOGY, Role.ADMIN})


def _staff_read(
    session: Session, user: Principal, action: str, object_id: str, ip: str, detail: dict[str, Any] | None = None
) -> None:
    if user.role != Role.GUARDIAN:
        service.audit_action(session, user, action, object_id, ip, detail, object_type="patient")


@router.post(
    "/patients/{patient_id}/fever-episodes",
    status_code=201,
    response_model=contract.FeverEpisode,
    responses=_ERRORS,
    dependencies=[write_limit("fever_episodes")],
)
def create_episode(
    patient_id: str,
    body: contract.FeverEpisodeCreate,
    user: CurrentUser,
    session: SessionDep,
    address: ClientAddress,
    idem: IdempotencyDep,
) -> Response:
    """The child's guardian: the child has fever — 201 ``avisada``, with the unit's emergency service; 200 with the
    child's open episode when one is open already (pressed again, or opened by the unit: the family is expected)."""
    row, created = service.create(session, principal=user, patient_id=patient_id, data=body, ip=address)
    return idem.respond(session, service.episode_out(row), status=201 if created else 200)


@router.post(
    "/patients/{patient_id}/fever-episodes/at-unit",
    status_code=201,
    response_model=contract.FeverEpisode,
    responses=_ERRORS,
    dependencies=[write_limit("fever_episodes")],
)
def open_at_unit(
    patient_id: str,
    body: contract.FeverEpisodeAtUnit,
    user: CurrentUser,
    session: SessionDep,
    address: ClientAddress,
    idem: IdempotencyDep,
) -> Response:
    """Oncology or case desk of the child's unit (admin): the child came with fever without the family's alert —
    201 ``en_urgencias`` (``origin`` ``unidad``); 409 ``fever_episode_already_open`` with its ``episode_id``."""
    row = service.open_at_unit(session, principal=user, patient_id=patient_id, data=body, ip=address)
    return idem.respond(session, service.staff_out(session, [row])[0], status=201)


@router.get("/patients/{patient_id}/fever-episodes", response_model=list[contract.FeverEpisode], responses=_ERRORS)
def patient_episodes(
    patient_id: str, user: CurrentUser, session: SessionDep, address: ClientAddress
) -> list[contract.FeverEpisode]:
    """The child's episodes, newest first (guardian; oncology and case desk of the child's unit; admin)."""
    rows = service.list_for_patient(session, principal=user, patient_id=patient_id)
    out = service.out_for(session, user, rows)
    _staff_read(session, user, "fever.patient.read", patient_id, address, {"count": len(out)})
    session.commit()
    return out


@router.get("/fever-episodes", response_model=list[contract.FeverEpisode], responses=_ERRORS)
def unit_episodes(
    user: CurrentUser,
    session: SessionDep,
    address: ClientAddress,
    unit_id: IdQuery = None,
    status: FeverStatus | None = None,
) -> list[contract.FeverEpisode]:
    """Staff: the episodes of their units, open ones unless ``status`` says otherwise, oldest first."""
    rows = service.list_for_units(session, principal=user, unit_id=unit_id, status=status)
    out = service.staff_out(session, rows)
    service.audit_action(
        session, user, "fever.list.read", "-", address, {"count": len(out), "unit_id": unit_id, "status": status}
    )
    session.commit()
    return out


@router.get("/fever-episodes/{episode_id}", response_model=contract.FeverEpisode, responses=_ERRORS)
def read_episode(
    episode_id: str, user: CurrentUser, session: SessionDep, address: ClientAddress
) -> contract.FeverEpisode:
    """One episode (guardian of the child; staff of its unit)."""
    row = service.get(session, principal=user, episode_id=episode_id)
    out = service.out_for(session, user, [row])[0]
    if user.role != Role.GUARDIAN:
        service.audit_action(session, user, "fever.read", row.id, address, {"patient_id": row.patient_id})
    session.commit()
    return out


@router.post(
    "/fever-episodes/{episode_id}/steps",
    response_model=contract.FeverEpisode,
    responses=_ERRORS,
    dependencies=[write_limit("fever_steps")],
)
def record_step(
    episode_id: str,
    body: contract.FeverStep,
    user: CurrentUser,
    session: SessionDep,
    address: ClientAddress,
    idem: IdempotencyDep,
) -> Response:
    """Oncology or case desk of the episode's unit (admin): arrival, triage, first antibiotic — once each, in
    order — or close; 409 ``fever_step_out_of_order`` / ``fever_episode_closed``."""
    row = service.record_step(session, principal=user, episode_id=episode_id, data=body, ip=address)
    return idem.respond(session, service.staff_out(session, [row])[0], status=200)


# ---- the emergency card ---------------------------------------------------------------------------------


@router.get("/patients/{patient_id}/emergency-card", response_model=contract.EmergencyCard, responses=_ERRORS)
def emergency_card(
    patient_id: str, user: CurrentUser, session: SessionDep, ctx: ContextDep, address: ClientAddress
) -> contract.EmergencyCard:
    """The child's emergency card and its signed QR (guardian; oncology and case desk of the unit; admin)."""
    patient = service.reader_patient(session, principal=user, patient_id=patient_id)
    out = card.build_card(session, ctx=ctx, patient=patient)
    _staff_read(session, user, "fever.emergency_card.read", patient.id, address)
    session.commit()
    return out


@router.get(
    "/patients/{patient_id}/ips",
    responses={**_ERRORS, 200: {"content": {"application/fhir+json": {}}}},
)
def ips_document(
    patient_id: str, user: CurrentUser, session: SessionDep, ctx: ContextDep, address: ClientAddress
) -> Response:
    """The emergency card as a FHIR R4 International Patient Summary (a ``Bundle`` of type ``document``)."""
    patient = service.reader_patient(session, principal=user, patient_id=patient_id)
    now = utcnow()
    out = card.build_card(session, ctx=ctx, patient=patient, now=now)
    document = ips.bundle(out, base_url=ctx.settings.base_url, now=now)
    _staff_read(session, user, "fever.ips.read", patient.id, address)
    session.commit()
    return Response(
        content=json.dumps(document, ensure_ascii=False).encode("utf-8"),
        media_type="application/fhir+json; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="resumen-{patient.id}.json"'},
    )


@router.post("/emergency-cards/verify", response_model=contract.EmergencyVerifyResponse, responses=_ERRORS)
def verify_card(
    body: contract.EmergencyVerifyRequest,
    user: CurrentUser,
    session: SessionDep,
    ctx: ContextDep,
    lang: LangDep,
    address: ClientAddress,
) -> contract.EmergencyVerifyResponse:
    """Staff: is this emergency card QR genuine and current? With the card when the caller may see the child."""
    if user.role not in _VERIFIERS:
        raise NotAllowed()
    result = card.verify_stored(session, ctx, body.token)
    claims = result.claims
    expires_at = None
    if result.valid:
        expires_at = card.expiry(claims)
    shown: contract.EmergencyCard | None = None
    patient_id = claims.get("sub") if result.valid and isinstance(claims.get("sub"), str) else None
    if patient_id is not None and user.role in service.STAFF:
        try:
            patient = visible_patient(session, principal=user, patient_id=patient_id)
        except PatientNotFound:
            patient = None
        if patient is not None:
            shown = card.build_card(session, ctx=ctx, patient=patient)
    service.audit_action(
        session,
        user,
        "fever.emergency_card.verify",
        patient_id or "-",
        address,
        {"valid": result.valid, "reason": result.reason.value if result.reason else None, "card": shown is not None},
        object_type="patient",
    )
    session.commit()
    return contract.EmergencyVerifyResponse(
        valid=result.valid,
        reason=result.reason,
        message=t(card.reason_key(result), lang),
        expires_at=expires_at,
        patient_id=patient_id if shown is not None else None,
        card=shown,
    )


# ---- weekly figures --------------------------------------------------------------------------------------


def _figures(
    week: str, user: Principal, session: Session, ctx: ContextDep, address: str
) -> contract.FeverWeeklyFigures:
    out = figures.weekly(session, principal=user, monday=parse_week(week), tz=ctx.tz, now=utcnow(), ip=address)
    session.commit()
    return out


@router.get("/fever/weekly", response_model=contract.FeverWeeklyFigures, responses=_ERRORS)
def weekly(
    week: WeekQuery, user: CurrentUser, session: SessionDep, ctx: ContextDep, address: ClientAddress
) -> contract.FeverWeeklyFigures:
    """Oncology and case desk (their units) or admin (all): the week's Hora Dorada figures by unit."""
    return _figures(week, user, session, ctx, address)


@router.get("/fever/weekly.csv", responses={**_ERRORS, 200: {"content": {"text/csv": {}}}})
def weekly_csv(
    week: WeekQuery, user: CurrentUser, session: SessionDep, ctx: ContextDep, address: ClientAddress
) -> Response:
    """The same figures as one CSV table (UTF-8, header row; a row per unit and the total)."""
    out = _figures(week, user, session, ctx, address)
    return csv_download(figures.to_csv(out), f"hora-dorada-{out.week_start}.csv")


@router.get("/fever/weekly.md", responses={**_ERRORS, 200: {"content": {"text/markdown": {}}}})
def weekly_md(
    week: WeekQuery, user: CurrentUser, session: SessionDep, ctx: ContextDep, address: ClientAddress
) -> Response:
    """The same figures as a Spanish Markdown summary ("Hora Dorada — semana del …")."""
    out = _figures(week, user, session, ctx, address)
    return markdown_text(figures.to_markdown(out))


# ---- the QR's public page ------------------------------------------------------------------------------


@page_router.get("/e/{token}", response_class=HTMLResponse, include_in_schema=False)
def emergency_page(token: str, session: SessionDep, ctx: ContextDep, lang: LangDep) -> HTMLResponse:
    """The page a phone camera opens from the emergency card's QR (fever/page.py)."""
    headers = {**page.HEADERS, "Content-Language": "en" if lang == "en" else "es-MX"}
    return HTMLResponse(page.render(session, ctx, token, lang), headers=headers)
