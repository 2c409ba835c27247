"""Routes of reminders: the kinds a guardian chose (Ajustes → Recordatorios)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends

from carnet_contract import models as contract
from carnet_contract.models import Role
from carnet_server.auth.deps import ClientAddress, SessionDep, require_role
from carnet_server.auth.service import Principal
from carnet_server.limits import write_limit
from carnet_server.reminders import service
from carnet_server.routes import api_router

__all__ = ["router"]

router = api_router(prefix="/api/v1/me", tags=["reminders"])

Guardian = Annotated[Principal, Depends(require_role(Role.GUARDIAN))]
_ERRORS: dict[int | str, dict[str, Any]] = {code: {"model": contract.ErrorBody} for code in (401, 403, 422)}


@router.get("/reminders", response_model=contract.ReminderPreferences, responses=_ERRORS)
def read_preferences(user: Guardian, session: SessionDep) -> contract.ReminderPreferences:
    """The kinds chosen; every kind for an account that never chose."""
    return contract.ReminderPreferences(kinds=service.get_preferences(session, user.id))


@router.put(
    "/reminders",
    response_model=contract.ReminderPreferences,
    responses={**_ERRORS, 429: {"model": contract.ErrorBody}},
    dependencies=[write_limit("reminder_preferences", idempotent=False)],
)
def write_preferences(
    body: contract.ReminderPreferences, user: Guardian, session: SessionDep, address: ClientAddress
) -> contract.ReminderPreferences:
    """Choose the kinds (the whole set; ``[]`` turns every reminder off); 422 for an unknown kind."""
    return contract.ReminderPreferences(kinds=service.set_preferences(session, user, body.kinds, address))
