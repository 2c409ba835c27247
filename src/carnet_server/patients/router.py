"""Routes of the patients domain."""

from __future__ import annotations

from typing import Any

from carnet_contract import models as contract
from carnet_server.auth.deps import ClientAddress, ContextDep, CurrentUser, SessionDep
from carnet_server.patients import service
from carnet_server.routes import api_router

router = api_router(prefix="/api/v1", tags=["patients"])

_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": contract.ErrorBody}, 401: {"model": contract.ErrorBody}}


@router.get("/patients/{patient_id}/carnet", response_model=contract.Carnet, responses=_NOT_FOUND)
def read_carnet(
    patient_id: str, user: CurrentUser, session: SessionDep, ctx: ContextDep, address: ClientAddress
) -> contract.Carnet:
    """The child's carnet with its signed QR."""
    return service.get_carnet(session, ctx=ctx, principal=user, patient_id=patient_id, ip=address)
