"""Routes of the chemotherapy plan: the protocol catalogue, a child's plan, writing a cycle, a cycle's life."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Query, Request, Response

from carnet_contract import chemotherapy as chemo
from carnet_contract import models as contract
from carnet_contract.models import Role
from carnet_server import audit
from carnet_server.auth.deps import ClientAddress, ContextDep, SessionDep, require_role
from carnet_server.auth.service import Principal
from carnet_server.chemotherapy import service
from carnet_server.context import Context
from carnet_server.db import utcnow
from carnet_server.idempotency.deps import IdempotencyDep
from carnet_server.limits import write_limit
from carnet_server.mixing import service as mixing
from carnet_server.patients.service import cycle_out, visible_cycle
from carnet_server.routes import api_router

router = api_router(prefix="/api/v1", tags=["chemotherapy"])

Staff = Annotated[
    Principal, Depends(require_role(Role.ONCOLOGY, Role.PHARMACY, Role.CASE_DESK, Role.BLOOD_BANK, Role.ADMIN))
]
Prescriber = Annotated[Principal, Depends(require_role(Role.ONCOLOGY, Role.ADMIN))]
Admin = Annotated[Principal, Depends(require_role(Role.ADMIN))]
CycleStaff = Annotated[Principal, Depends(require_role(Role.ONCOLOGY, Role.PHARMACY, Role.ADMIN))]
ERRORS: dict[int | str, dict[str, Any]] = {code: {"model": contract.ErrorBody} for code in (401, 403, 404, 409, 422)}


def policy(ctx: Context) -> service.Policy:
    settings = ctx.settings
    return service.Policy(
        anthracycline_warning_mg_m2=settings.chemo_anthracycline_warning_mg_m2,
        measurement_max_age_days=settings.chemo_measurement_max_age_days,
        weight_change_percent=settings.chemo_weight_change_percent,
    )


@router.get("/protocols", response_model=chemo.Catalogue, responses=ERRORS)
def protocols(
    user: Staff,
    session: SessionDep,
    ctx: ContextDep,
    all_versions: Annotated[bool, Query(description="Older versions too (cycles keep theirs)")] = False,
) -> chemo.Catalogue:
    """The regimen catalogue (newest versions) and the anthracycline factors."""
    return service.catalogue(session, policy=policy(ctx), all_versions=all_versions)


@router.post(
    "/protocols",
    status_code=201,
    response_model=chemo.Regimen,
    responses=ERRORS,
    dependencies=[write_limit("prescriptions")],
)
def load_protocol(
    body: chemo.RegimenIn, user: Admin, session: SessionDep, address: ClientAddress, idem: IdempotencyDep
) -> Response:
    """Load a regimen: a new code, or the next version of one (cycles keep the version they were written from)."""
    return idem.respond(session, service.load_regimen(session, principal=user, data=body, ip=address), status=201)


@router.get("/patients/{patient_id}/chemotherapy", response_model=chemo.ChemotherapyPlan, responses=ERRORS)
def plan(
    patient_id: str, user: Prescriber, session: SessionDep, ctx: ContextDep, address: ClientAddress
) -> chemo.ChemotherapyPlan:
    """The child's cycles, measurements and lifetime anthracycline total."""
    out = service.plan(session, principal=user, patient_id=patient_id, policy=policy(ctx))
    audit.record(
        session,
        action="chemotherapy.read",
        actor_id=user.id,
        actor_role=user.role,
        object_type="patient",
        object_id=patient_id,
        ip=address,
    )
    session.commit()
    return out


@router.post(
    "/patients/{patient_id}/cycles",
    status_code=201,
    response_model=chemo.PrescribedCycle,
    responses=ERRORS,
    dependencies=[write_limit("prescriptions")],
)
def prescribe(
    patient_id: str,
    body: chemo.CycleCreate,
    user: Prescriber,
    session: SessionDep,
    ctx: ContextDep,
    address: ClientAddress,
    idem: IdempotencyDep,
) -> Response:
    """Write the child's next cycle from a regimen: BSA (Mosteller), each dose computed, rounded and capped; a
    dose changed by hand needs a reason. 409 ``measurements_unconfirmed``: an old weight, or one that changed a
    lot (repeat with ``confirm_measurements``). ``dry_run``: the doses as they would be (200, nothing saved)."""
    out = service.prescribe(
        session,
        principal=user,
        patient_id=patient_id,
        data=body,
        policy=policy(ctx),
        ip=address,
        today=ctx.today(utcnow()),
    )
    return idem.respond(session, out, status=200 if body.dry_run else 201)


@router.post(
    "/cycles/{cycle_id}/actions",
    response_model=contract.Cycle,
    responses=ERRORS,
    dependencies=[write_limit("prescriptions", idempotent=False)],
)
def act(
    cycle_id: str,
    body: chemo.CycleAction,
    request: Request,
    user: CycleStaff,
    session: SessionDep,
    ctx: ContextDep,
    address: ClientAddress,
) -> contract.Cycle:
    """A step of the cycle's life on the version the caller saw: confirm (orders the mixture), apply, defer
    (reason, new date: its sessions move), suspend (reason). 409 ``cycle_changed`` with the current cycle."""
    today = ctx.today(utcnow())
    if body.action is chemo.CycleActionKind.CONFIRM:
        cycle, _ = visible_cycle(session, principal=user, cycle_id=cycle_id)
        service.check_step(cycle, body, principal=user, today=today)
        try:
            cycle, order = mixing.confirm_cycle(
                session,
                principal=user,
                cycle_id=cycle_id,
                provider=ctx.settings.mixing_provider_name,
                ip=address,
                version=body.version,
            )
        except mixing.NotConfirmable:
            session.rollback()
            current, _ = visible_cycle(session, principal=user, cycle_id=cycle_id)
            if current.version != body.version:  # changed between the check and the confirmation
                raise service.CycleChanged(cycle_out(current)) from None
            raise
        worker = getattr(request.app.state, "mixing_worker", None)
        if order is not None and worker is not None:
            worker.wake()
        return cycle_out(cycle)
    cycle = service.act_on_cycle(session, principal=user, cycle_id=cycle_id, data=body, ip=address, today=today)
    return cycle_out(cycle)
