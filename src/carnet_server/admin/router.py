"""Routes of administration: medical units and staff accounts (admin), and the list of units (everyone)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends

from carnet_contract import enrolment as wire
from carnet_contract import models as contract
from carnet_contract.models import Role
from carnet_server.admin import service
from carnet_server.auth.deps import ClientAddress, ContextDep, CurrentUser, SessionDep, require_role
from carnet_server.auth.service import Principal
from carnet_server.limits import write_limit
from carnet_server.patients.service import unit_out
from carnet_server.routes import api_router

router = api_router(prefix="/api/v1", tags=["admin"])

AdminUser = Annotated[Principal, Depends(require_role(Role.ADMIN))]
_ERRORS: dict[int | str, dict[str, Any]] = {code: {"model": contract.ErrorBody} for code in (401, 403, 404, 409, 422)}


@router.get("/units", response_model=list[contract.Unit], responses=_ERRORS)
def list_units(user: CurrentUser, session: SessionDep) -> list[contract.Unit]:
    """Every medical unit (units are public: a referral or an appointment names any of them)."""
    return [unit_out(u) for u in service.list_units(session)]


@router.post(
    "/admin/units",
    status_code=201,
    response_model=contract.Unit,
    responses=_ERRORS,
    dependencies=[write_limit("administration", idempotent=False)],
)
def create_unit(body: wire.UnitCreate, user: AdminUser, session: SessionDep, address: ClientAddress) -> contract.Unit:
    """A new medical unit (name, level, state)."""
    return unit_out(service.create_unit(session, principal=user, body=body, ip=address))


@router.patch("/admin/units/{unit_id}", response_model=contract.Unit, responses=_ERRORS)
def update_unit(
    unit_id: str, body: wire.UnitUpdate, user: AdminUser, session: SessionDep, address: ClientAddress
) -> contract.Unit:
    """Change a unit's name, level or state."""
    return unit_out(service.update_unit(session, principal=user, unit_id=unit_id, body=body, ip=address))


@router.get("/admin/users", response_model=list[wire.StaffAccount], responses=_ERRORS)
def list_staff(user: AdminUser, session: SessionDep) -> list[wire.StaffAccount]:
    """Every staff account (not guardians), with its units."""
    return service.list_staff(session)


@router.post(
    "/admin/users",
    status_code=201,
    response_model=wire.StaffWithPassword,
    responses=_ERRORS,
    dependencies=[write_limit("administration", idempotent=False)],
)
def create_staff(
    body: wire.StaffCreate, user: AdminUser, session: SessionDep, ctx: ContextDep, address: ClientAddress
) -> wire.StaffWithPassword:
    """A staff account with a role and units; the answer carries its temporary password, shown once."""
    account, password = service.create_staff(session, ctx=ctx, principal=user, body=body, ip=address)
    return wire.StaffWithPassword(account=service.staff_out(session, account), temporary_password=password)


@router.patch("/admin/users/{staff_id}", response_model=wire.StaffAccount, responses=_ERRORS)
def update_staff(
    staff_id: str, body: wire.StaffUpdate, user: AdminUser, session: SessionDep, address: ClientAddress
) -> wire.StaffAccount:
    """Change a staff account's name or units, or deactivate it (its sessions end at once) or reactivate it."""
    account = service.update_staff(session, principal=user, staff_id=staff_id, body=body, ip=address)
    return service.staff_out(session, account)


@router.post("/admin/users/{staff_id}/password-reset", response_model=wire.StaffWithPassword, responses=_ERRORS)
def reset_password(
    staff_id: str, user: AdminUser, session: SessionDep, ctx: ContextDep, address: ClientAddress
) -> wire.StaffWithPassword:
    """A new temporary password (shown once); the account must change it at its next sign-in."""
    account, password = service.reset_password(session, ctx=ctx, principal=user, staff_id=staff_id, ip=address)
    return wire.StaffWithPassword(account=service.staff_out(session, account), temporary_password=password)
