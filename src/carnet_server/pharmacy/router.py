"""Routes of the pharmacy counter: the trust bundle, dispensations, and revoking a child's QR tokens.

(``POST /api/v1/pharmacy/verify`` and the ``/v/{token}`` page live in verification/.)
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Response

from carnet_contract import models as contract
from carnet_contract.models import Role
from carnet_server.auth.deps import AdminOrPharmacy, ClientAddress, ContextDep, CurrentUser, SessionDep, require_role
from carnet_server.auth.service import Principal
from carnet_server.idempotency.deps import IdempotencyDep
from carnet_server.limits import write_limit
from carnet_server.pharmacy import service
from carnet_server.pharmacy.ledger import dispensation_out
from carnet_server.routes import api_router

__all__ = ["router"]

router = api_router(prefix="/api/v1", tags=["pharmacy"])

_ERRORS: dict[int | str, dict[str, Any]] = {code: {"model": contract.ErrorBody} for code in (401, 403, 404, 409, 422)}


#: Who verifies QR codes offline: the pharmacy counter (the carnet) and the units' fever desks, oncology and the case
#: desk (the emergency card: same keys), and admin.
TrustReader = Annotated[Principal, Depends(require_role(Role.PHARMACY, Role.ONCOLOGY, Role.CASE_DESK, Role.ADMIN))]


@router.get("/pharmacy/trust", response_model=contract.TrustBundle, responses=_ERRORS)
def trust(_user: TrustReader, session: SessionDep, ctx: ContextDep, response: Response) -> contract.TrustBundle:
    """Pharmacy, oncology, case desk, admin: the signing keys and the revoked QR tokens (public data), to verify a
    carnet or an emergency card offline; refresh every ``max_age`` s."""
    bundle = service.trust_bundle(session, ctx=ctx)
    session.rollback()
    response.headers["Cache-Control"] = "private, no-store"
    return bundle


@router.post(
    "/pharmacy/dispensations",
    status_code=201,
    response_model=contract.Dispensation,
    responses=_ERRORS,
    dependencies=[write_limit("dispensations")],
)
def dispense(
    body: contract.DispensationCreate,
    user: AdminOrPharmacy,
    session: SessionDep,
    ctx: ContextDep,
    address: ClientAddress,
    idem: IdempotencyDep,
) -> Response:
    """Record a cycle as dispensed, once: 201; 409 already_dispensed (who, when); 422 token_*, cycle, items."""
    try:
        row, cycle = service.dispense(session, ctx=ctx, principal=user, data=body, ip=address)
    except service.PharmacyError as exc:  # refusals are audited too: a second try at a cycle is worth seeing
        session.rollback()
        service.audit_refusal(session, principal=user, ip=address, cycle_id=body.cycle_id, error=exc)
        session.commit()
        raise
    return idem.respond(session, dispensation_out(row, cycle_number=cycle.number), status=201)


@router.post("/patients/{patient_id}/qr/revoke", response_model=contract.QrRevokeResponse, responses=_ERRORS)
def revoke_qr(
    patient_id: str, user: CurrentUser, session: SessionDep, ctx: ContextDep, address: ClientAddress
) -> contract.QrRevokeResponse:
    """The child's guardian or an admin: every live QR token stops working; the next carnet read has a new one."""
    count = service.revoke_for(session, ctx=ctx, principal=user, patient_id=patient_id, ip=address)
    session.commit()
    return contract.QrRevokeResponse(revoked=count)
