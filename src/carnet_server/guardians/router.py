"""Routes of guardians' access: activation codes (staff), activating an account or linking a child (families),
who has access, and removing a guardian."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Response

from carnet_contract import enrolment as wire
from carnet_contract import models as contract
from carnet_contract.models import Role
from carnet_server.auth.deps import ClientAddress, ContextDep, SessionDep, require_role
from carnet_server.auth.router import token_response
from carnet_server.auth.service import Principal
from carnet_server.enrolment import invitations
from carnet_server.enrolment.router import ERRORS, Reader, Writer
from carnet_server.limits import address_limit, write_limit
from carnet_server.routes import api_router

router = api_router(prefix="/api/v1", tags=["guardians"])

Guardian = Annotated[Principal, Depends(require_role(Role.GUARDIAN))]
WithAccess = Annotated[Principal, Depends(require_role(Role.GUARDIAN, Role.ONCOLOGY, Role.CASE_DESK, Role.ADMIN))]
_THROTTLED: dict[int | str, dict[str, Any]] = {**ERRORS, 429: {"model": contract.ErrorBody}}


@router.post(
    "/patients/{patient_id}/guardian-invitations",
    status_code=201,
    response_model=wire.Invitation,
    responses=ERRORS,
    dependencies=[write_limit("invitations", idempotent=False)],
)
def invite(
    patient_id: str,
    body: wire.InvitationCreate,
    user: Writer,
    session: SessionDep,
    ctx: ContextDep,
    address: ClientAddress,
) -> wire.Invitation:
    """A one-time activation code for a guardian (72 h), shown this once. No ``Idempotency-Key`` store: it would
    keep the code in clear; a retry makes another code, and the unused one can be revoked."""
    return invitations.create(session, ctx=ctx, principal=user, patient_id=patient_id, body=body, ip=address)


@router.get("/patients/{patient_id}/guardian-invitations", response_model=list[wire.InvitationOut], responses=ERRORS)
def list_invitations(patient_id: str, user: Reader, session: SessionDep) -> list[wire.InvitationOut]:
    """The child's codes and their status (never the code itself)."""
    return invitations.list_invitations(session, principal=user, patient_id=patient_id)


@router.delete(
    "/patients/{patient_id}/guardian-invitations/{invitation_id}",
    status_code=204,
    response_class=Response,
    responses=ERRORS,
)
def revoke_invitation(
    patient_id: str, invitation_id: str, user: Writer, session: SessionDep, address: ClientAddress
) -> Response:
    """Revoke a pending code: it stops working at once."""
    invitations.revoke(session, principal=user, patient_id=patient_id, invitation_id=invitation_id, ip=address)
    return Response(status_code=204)


@router.post(
    "/patients/{patient_id}/guardian-invitations/{invitation_id}/reissue",
    status_code=201,
    response_model=wire.Invitation,
    responses=ERRORS,
    dependencies=[write_limit("invitations", idempotent=False)],
)
def reissue_invitation(
    patient_id: str, invitation_id: str, user: Writer, session: SessionDep, ctx: ContextDep, address: ClientAddress
) -> wire.Invitation:
    """A new code for the same guardian (the old one, if still pending, is revoked)."""
    return invitations.reissue(
        session, ctx=ctx, principal=user, patient_id=patient_id, invitation_id=invitation_id, ip=address
    )


@router.post(
    "/auth/activate",
    status_code=201,
    response_model=contract.TokenResponse,
    responses=_THROTTLED,
    dependencies=[
        address_limit(invitations.ACTIVATION_BUCKET, limit=lambda settings: settings.activation_max_per_address)
    ],
)
def activate(
    body: wire.ActivationRequest, session: SessionDep, ctx: ContextDep, address: ClientAddress
) -> contract.TokenResponse:
    """No sign-in: an activation code, and the username and password the guardian chooses → the login answer,
    the child linked. 422 ``activation_code_invalid`` for any code that does not work; 429 when guessing."""
    return token_response(invitations.activate(session, ctx=ctx, body=body, address=address))


@router.post("/me/activation", response_model=wire.LinkedPatient, responses=_THROTTLED)
def link_child(
    body: wire.ActivationLink, user: Guardian, session: SessionDep, ctx: ContextDep, address: ClientAddress
) -> wire.LinkedPatient:
    """A signed-in guardian links one more child with its code."""
    return invitations.link(session, ctx=ctx, principal=user, code=body.code, address=address)


@router.get("/patients/{patient_id}/guardians", response_model=list[wire.GuardianOut], responses=ERRORS)
def list_guardians(patient_id: str, user: WithAccess, session: SessionDep) -> list[wire.GuardianOut]:
    """Who has access to the child: its guardians see each other; staff also see the phone."""
    return invitations.guardians(session, principal=user, patient_id=patient_id)


@router.delete("/patients/{patient_id}/guardians/{user_id}", status_code=204, response_class=Response, responses=ERRORS)
def remove_guardian(
    patient_id: str, user_id: str, user: Writer, session: SessionDep, address: ClientAddress
) -> Response:
    """End a guardian's access to the child at once (custody changes)."""
    invitations.remove_guardian(session, principal=user, patient_id=patient_id, user_id=user_id, ip=address)
    return Response(status_code=204)
