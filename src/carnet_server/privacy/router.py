"""Routes of the privacy domain: the notice, accepting it, the family's data export, closing the account."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Query, Response
from fastapi.routing import APIRoute, iter_route_contexts

from carnet_contract import models as contract
from carnet_contract.models import ClosureStatus, Role
from carnet_server.auth.deps import (
    ClientAddress,
    ContextDep,
    CurrentUser,
    LangDep,
    SessionDep,
    SignedInUser,
    dependency_calls,
    get_current_user,
    require_role,
)
from carnet_server.auth.service import Principal
from carnet_server.db import utcnow
from carnet_server.limits import write_limit
from carnet_server.privacy import export, notices, service
from carnet_server.routes import api_router

__all__ = ["document_privacy_gate", "router"]

router = api_router(prefix="/api/v1/privacy", tags=["privacy"])

_ERRORS: dict[int | str, dict[str, Any]] = {code: {"model": contract.ErrorBody} for code in (401, 403, 404, 409, 422)}
AdminUser = Annotated[Principal, Depends(require_role(Role.ADMIN))]


@router.get("/notice", response_model=contract.PrivacyNotice)
def read_notice(ctx: ContextDep, lang: LangDep, response: Response) -> contract.PrivacyNotice:
    """The privacy notice in force, in the caller's language (public: it is read before signing in)."""
    notice = notices.current_notice(ctx.settings)
    response.headers["Content-Language"] = "en" if lang == "en" else "es-MX"
    response.headers["Vary"] = "Accept-Language"
    return notices.notice_out(notice, lang)


@router.post("/acceptance", response_model=contract.PrivacyStatus, responses=_ERRORS)
def accept_notice(
    body: contract.PrivacyAcceptanceCreate,
    user: SignedInUser,
    session: SessionDep,
    ctx: ContextDep,
    address: ClientAddress,
) -> contract.PrivacyStatus:
    """A guardian accepts the notice in force (409 ``privacy_version_outdated`` for another version)."""
    return service.accept(
        session, principal=user, version=body.version, current_version=notices.current_version(ctx.settings), ip=address
    )


@router.get(
    "/export",
    response_model=contract.FamilyExport,
    responses={**_ERRORS, 429: {"model": contract.ErrorBody}},
    dependencies=[write_limit("privacy_exports", idempotent=False)],
)
def export_family(user: CurrentUser, session: SessionDep, ctx: ContextDep, address: ClientAddress) -> Response:
    """Everything held about the guardian's account and children, as a JSON file to keep."""
    data = export.family_export(session, principal=user, ip=address, now=utcnow())
    filename = f"carnet-mis-datos-{ctx.today(data.generated_at).isoformat()}.json"
    return Response(
        content=data.model_dump_json(indent=1),
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"},
    )


@router.post(
    "/closure-request",
    status_code=201,
    response_model=contract.ClosureRequest,
    responses={
        **_ERRORS,
        200: {"model": contract.ClosureRequest, "description": "A request was already open: that one"},
    },
    dependencies=[write_limit("closure_requests", idempotent=False, before_privacy_notice=True)],
)
def request_closure(
    body: contract.ClosureRequestCreate,
    user: SignedInUser,
    session: SessionDep,
    address: ClientAddress,
    response: Response,
) -> contract.ClosureRequest:
    """A guardian asks for the account to be closed: 201; while one is open, 200 with that one."""
    row, created = service.request_closure(session, principal=user, reason=body.reason, ip=address)
    if not created:
        response.status_code = 200
    return service.closure_out(row)


@router.post("/closure-request/cancel", response_model=contract.ClosureRequest, responses=_ERRORS)
def cancel_closure(user: SignedInUser, session: SessionDep, address: ClientAddress) -> contract.ClosureRequest:
    """The guardian withdraws the open request (404 ``closure_request_not_found`` when none is open)."""
    return service.closure_out(service.cancel_closure(session, principal=user, ip=address))


@router.get("/closure-requests", response_model=list[contract.StaffClosureRequest], responses=_ERRORS)
def list_closures(
    user: AdminUser,
    session: SessionDep,
    status: ClosureStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[contract.StaffClosureRequest]:
    """Admin: closure requests, oldest first, optionally of one status."""
    return service.list_closures(session, principal=user, status=status, limit=limit)


@router.post("/closure-requests/{closure_id}/close", response_model=contract.StaffClosureRequest, responses=_ERRORS)
def close_account(
    closure_id: str, user: AdminUser, session: SessionDep, address: ClientAddress
) -> contract.StaffClosureRequest:
    """Admin: carry out an open request — the account is deactivated and every session ends (its data stay)."""
    return service.close_account(session, principal=user, request_id=closure_id, ip=address)


def document_privacy_gate(app: Any) -> None:
    """Add 403 to every operation behind the privacy notice gate (``CurrentUser``) in the OpenAPI document:
    a guardian who has not accepted the notice in force gets 403 ``privacy_notice_required`` there."""
    original = app.openapi

    def openapi() -> dict[str, Any]:
        cached: dict[str, Any] | None = app.openapi_schema
        if cached:
            return cached
        schema: dict[str, Any] = original()
        error = {
            "description": "Forbidden (role, or privacy_notice_required)",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}},
        }
        for route_ctx in iter_route_contexts(app.routes):
            route = route_ctx.original_route
            if not isinstance(route, APIRoute) or not route.include_in_schema:
                continue
            if get_current_user not in dependency_calls(route.dependant):
                continue
            for method in route.methods or ():
                operation = schema["paths"].get(route_ctx.path, {}).get(method.lower())
                if operation is not None:
                    operation.setdefault("responses", {}).setdefault("403", error)
        return schema

    app.openapi = openapi
