"""Routes of the pharmacy counter: the trust bundle, dispensations, and revoking a child's QR tokens.

(``POST /api/v1/pharmacy/verify`` and the ``/v/{token}`` page live in verification/.)
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from carnet import contract
from carnet_server.auth.deps import AdminOrPharmacy, ClientAddress, ContextDep, CurrentUser, SessionDep
from carnet_server.errors import ApiException, Forbidden, NotFound, lang_of, mapped_errors
from carnet_server.i18n import Lang, t
from carnet_server.idempotency.deps import IdempotencyDep
from carnet_server.limits import write_limit
from carnet_server.patients.service import PatientNotFound
from carnet_server.pharmacy import service
from carnet_server.pharmacy.ledger import dispensation_out

__all__ = ["AlreadyDispensedError", "install_error_handler", "router"]

router = APIRouter(prefix="/api/v1", tags=["pharmacy"])

_ERRORS: dict[int | str, dict[str, Any]] = {code: {"model": contract.ErrorBody} for code in (401, 403, 404, 409, 422)}


class AlreadyDispensedError(ApiException):
    """409 ``already_dispensed``: the body carries the first dispensation, the message says who and when."""

    def __init__(self, first: contract.Dispensation) -> None:
        super().__init__(409, "already_dispensed")
        self.first = first


def _when(value: datetime, lang: Lang, tz: ZoneInfo) -> str:
    local = value.astimezone(tz)
    return local.strftime("%d/%m/%Y a las %H:%M") if lang == "es" else local.strftime("%Y-%m-%d at %H:%M")


async def _already_dispensed(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AlreadyDispensedError)
    lang = lang_of(request)
    first = exc.first
    message = t("already_dispensed", lang, number=first.cycle_number, who=first.dispensed_by,
                when=_when(first.dispensed_at, lang, request.app.state.ctx.tz))
    return JSONResponse(
        {"error": {"code": exc.code, "message": message, "dispensation": first.model_dump(mode="json")}},
        status_code=409,
        headers={"Content-Language": "en" if lang == "en" else "es-MX"},
    )


def install_error_handler(app: FastAPI) -> None:
    """The 409 ``already_dispensed`` body (with ``error.dispensation``); the idempotency store replays it too."""
    app.add_exception_handler(AlreadyDispensedError, _already_dispensed)


def _token_reason(reason: contract.VerifyReason) -> tuple[str, dict[str, str]]:
    return reason.value, {"es": t(f"verify.{reason.value}", "es"), "en": t(f"verify.{reason.value}", "en")}


def _http_error(exc: Exception) -> Exception:
    """A service error as the HTTP error it means (anything else unchanged)."""
    if isinstance(exc, PatientNotFound | service.NotYourUnit):
        return NotFound("patient_not_found")
    if isinstance(exc, service.NotAllowed):
        return Forbidden()
    if isinstance(exc, service.AlreadyDispensed):
        return AlreadyDispensedError(exc.first)
    if isinstance(exc, service.TokenRefused):
        if exc.code == "token_invalid":  # the verifier's reason, as code and words, in "reasons"
            return ApiException(422, exc.code, reasons=[_token_reason(exc.reason)])
        return ApiException(422, exc.code)
    if isinstance(exc, service.BadItems):
        return ApiException(422, exc.code, params={"items": ", ".join(exc.names)})
    if isinstance(exc, service.NotDispensable):
        return ApiException(409, exc.code)
    if isinstance(exc, service.PharmacyError):
        return ApiException(422, exc.code)
    return exc


def _errors(session: Session) -> AbstractContextManager[None]:
    return mapped_errors(session, _http_error)


@router.get("/pharmacy/trust", response_model=contract.TrustBundle, responses=_ERRORS)
def trust(_user: AdminOrPharmacy, session: SessionDep, ctx: ContextDep, response: Response) -> contract.TrustBundle:
    """Pharmacy, admin: the signing keys and the revoked QR tokens, to verify offline; refresh every ``max_age`` s."""
    bundle = service.trust_bundle(session, ctx=ctx)
    session.rollback()
    response.headers["Cache-Control"] = "private, no-store"
    return bundle


@router.post("/pharmacy/dispensations", status_code=201, response_model=contract.Dispensation, responses=_ERRORS,
             dependencies=[write_limit("dispensations")])
def dispense(body: contract.DispensationCreate, user: AdminOrPharmacy, session: SessionDep, ctx: ContextDep,
             address: ClientAddress, idem: IdempotencyDep) -> Response:
    """Record a cycle as dispensed, once: 201; 409 already_dispensed (who, when); 422 token_*, cycle, items."""
    with _errors(session):
        try:
            row, cycle = service.dispense(session, ctx=ctx, principal=user, data=body, ip=address)
        except service.PharmacyError as exc:  # refusals are audited too: a second try at a cycle is worth seeing
            session.rollback()
            service.audit_refusal(session, principal=user, ip=address, cycle_id=body.cycle_id, error=exc)
            session.commit()
            raise
    return idem.respond(session, dispensation_out(row, cycle_number=cycle.number), status=201)


@router.post("/patients/{patient_id}/qr/revoke", response_model=contract.QrRevokeResponse, responses=_ERRORS)
def revoke_qr(patient_id: str, user: CurrentUser, session: SessionDep, ctx: ContextDep,
              address: ClientAddress) -> contract.QrRevokeResponse:
    """The child's guardian or an admin: every live QR token stops working; the next carnet read has a new one."""
    with _errors(session):
        count = service.revoke_for(session, ctx=ctx, principal=user, patient_id=patient_id, ip=address)
    session.commit()
    return contract.QrRevokeResponse(revoked=count)
