"""Routes of the registry: the diagnosis catalogue, register, search, read, correct, refer, the history and
the weekly figures."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, File, Query, Response, UploadFile

from carnet_contract import enrolment as wire
from carnet_contract import models as contract
from carnet_contract.models import Role
from carnet_server.auth.deps import ClientAddress, ContextDep, CurrentUser, SessionDep, require_role
from carnet_server.auth.service import Principal
from carnet_server.db import utcnow
from carnet_server.enrolment import catalogue, figures, importer, registry
from carnet_server.headers import csv_download, markdown_text
from carnet_server.idempotency.deps import IdempotencyDep
from carnet_server.incidents.figures import parse_week
from carnet_server.limits import write_limit
from carnet_server.routes import api_router

router = api_router(prefix="/api/v1", tags=["registry"])

Writer = Annotated[Principal, Depends(require_role(Role.ONCOLOGY, Role.ADMIN))]
Reader = Annotated[Principal, Depends(require_role(Role.ONCOLOGY, Role.CASE_DESK, Role.ADMIN))]
ERRORS: dict[int | str, dict[str, Any]] = {code: {"model": contract.ErrorBody} for code in (401, 403, 404, 409, 422)}


@router.get("/registry/diagnoses", response_model=list[wire.DiagnosisEntry], responses=ERRORS)
def diagnoses(user: CurrentUser) -> list[wire.DiagnosisEntry]:
    """The diagnosis catalogue: CIE-10 codes of childhood cancers, by ICCC-3 group."""
    return catalogue.entries()


@router.post(
    "/patients",
    status_code=201,
    response_model=wire.PatientRecord,
    responses=ERRORS,
    dependencies=[write_limit("registrations")],
)
def register(
    body: wire.PatientCreate,
    user: Writer,
    session: SessionDep,
    ctx: ContextDep,
    address: ClientAddress,
    idem: IdempotencyDep,
) -> Response:
    """Register a child at one of the caller's units: 409 ``patient_exists`` (same CURP, or NSS + agregado),
    409 ``patient_similar`` (similar name, same birth date: repeat with ``confirm_similar``)."""
    now = utcnow()
    patient = registry.register(session, principal=user, body=body, ip=address, today=ctx.today(now), now=now)
    return idem.respond(session, registry.record_out(session, patient), status=201)


@router.get("/patients", response_model=list[wire.PatientRecord], responses=ERRORS)
def search(
    q: Annotated[str, Query(min_length=1, max_length=100, description="A name, a CURP or an NSS")],
    user: Reader,
    session: SessionDep,
    address: ClientAddress,
) -> list[wire.PatientRecord]:
    """Children of the caller's units by name, CURP or NSS (at most 50)."""
    return registry.search(session, principal=user, q=q, ip=address)


@router.get("/patients/{patient_id}", response_model=wire.PatientRecord, responses=ERRORS)
def read(patient_id: str, user: Reader, session: SessionDep, address: ClientAddress) -> wire.PatientRecord:
    """The child's registry record."""
    return registry.read(session, principal=user, patient_id=patient_id, ip=address)


@router.patch("/patients/{patient_id}", response_model=wire.PatientRecord, responses=ERRORS)
def correct(
    patient_id: str,
    body: wire.PatientUpdate,
    user: Writer,
    session: SessionDep,
    ctx: ContextDep,
    address: ClientAddress,
) -> wire.PatientRecord:
    """Correct the record; each changed field is kept in its history (who, what, old → new, when)."""
    now = utcnow()
    patient = registry.update(
        session, principal=user, patient_id=patient_id, body=body, ip=address, today=ctx.today(now), now=now
    )
    out = registry.record_out(session, patient)
    session.commit()
    return out


@router.post("/patients/{patient_id}/referral", response_model=wire.PatientRecord, responses=ERRORS)
def refer(
    patient_id: str, body: wire.ReferralCreate, user: Writer, session: SessionDep, address: ClientAddress
) -> wire.PatientRecord:
    """Refer the child to another unit: the record moves with its history; the old unit's staff lose access."""
    patient = registry.refer(session, principal=user, patient_id=patient_id, unit_id=body.unit_id, ip=address)
    out = registry.record_out(session, patient)
    session.commit()
    return out


@router.get("/patients/{patient_id}/corrections", response_model=list[wire.Correction], responses=ERRORS)
def corrections(patient_id: str, user: Reader, session: SessionDep, address: ClientAddress) -> list[wire.Correction]:
    """The record's corrections and referrals, oldest first."""
    return registry.corrections(session, principal=user, patient_id=patient_id, ip=address)


WeekQuery = Annotated[str, Query(max_length=20, description="The Monday (Mexico City) of the week, YYYY-MM-DD")]


def _figures(week: str, user: Principal, session: SessionDep, ctx: ContextDep, address: str) -> wire.RegistryFigures:
    out = figures.weekly(session, principal=user, monday=parse_week(week), tz=ctx.tz, now=utcnow(), ip=address)
    session.commit()
    return out


@router.get("/registry/figures", response_model=wire.RegistryFigures, responses=ERRORS)
def registry_figures(
    week: WeekQuery, user: Reader, session: SessionDep, ctx: ContextDep, address: ClientAddress
) -> wire.RegistryFigures:
    """Registered children (total, new this week) by unit and level: the caller's units (admin: all)."""
    return _figures(week, user, session, ctx, address)


@router.get("/registry/figures.csv", responses={**ERRORS, 200: {"content": {"text/csv": {}}}})
def registry_figures_csv(
    week: WeekQuery, user: Reader, session: SessionDep, ctx: ContextDep, address: ClientAddress
) -> Response:
    """The same figures as one CSV table (UTF-8, header row)."""
    out = _figures(week, user, session, ctx, address)
    return csv_download(figures.to_csv(out), f"registro-semana-{out.week_start}.csv")


@router.get("/registry/figures.md", responses={**ERRORS, 200: {"content": {"text/markdown": {}}}})
def registry_figures_md(
    week: WeekQuery, user: Reader, session: SessionDep, ctx: ContextDep, address: ClientAddress
) -> Response:
    """The Spanish summary for the working-group session, as Markdown."""
    out = _figures(week, user, session, ctx, address)
    return markdown_text(figures.to_markdown(out))


@router.post("/registry/import", response_model=wire.ImportResult, responses=ERRORS)
def import_csv(
    file: Annotated[UploadFile, File(description="A UTF-8 CSV with a header row (docs/enrolment.md)")],
    user: Writer,
    session: SessionDep,
    ctx: ContextDep,
    address: ClientAddress,
    dry_run: Annotated[bool, Query(description="Check every row and write nothing")] = False,
) -> wire.ImportResult:
    """Import children and guardians: every row checked, all or nothing (422 ``import_invalid`` with every row's
    reason), safe to run twice; guardians' activation codes come in the answer, once."""
    now = utcnow()
    content = file.file.read()
    return importer.run(
        session, ctx=ctx, principal=user, content=content, dry_run=dry_run, ip=address, today=ctx.today(now), now=now
    )
