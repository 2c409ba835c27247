"""The session's staff wiring: which screens a role gets after login, and how they navigate and refresh.

Families (``guardian``) get the offline-first app that :class:`carnet.shell.session.AppSession`
itself runs. Staff get screens that keep no patient data on the device:

* blood bank → ``session.staff`` (:mod:`carnet.blood_bank.staff`), online only;
* case desk → ``session.desk`` (:class:`carnet.incidents.desk.DeskCases`), online only;
* pharmacy, and admin → ``session.pharmacy`` (:mod:`carnet.pharmacy.cases`): a scan is checked
  offline with the cached trust bundle, then online; dispensing is online only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from carnet.core.navigation import Screen
from carnet_contract import models as contract

if TYPE_CHECKING:
    from carnet.shell.session import AppSession

__all__ = ["enter_staff_mode", "staff_back", "staff_refresh"]


async def enter_staff_mode(session: AppSession, user: contract.UserOut) -> bool:
    """Open the role's staff screen; False for a role that has none (a family's account)."""
    if user.role == contract.Role.BLOOD_BANK:
        await session.staff.enter(user)
    elif user.role == contract.Role.CASE_DESK:
        await session.desk.enter(user)
    elif user.role in (contract.Role.PHARMACY, contract.Role.ADMIN):
        await session.pharmacy.enter(user)
    else:
        return False
    return True


def staff_back(session: AppSession) -> bool:
    """The back button in a staff mode (settings go back to the staff screen); False when not in one."""
    state = session.state
    if state.desk_mode:
        if state.screen is not Screen.SETTINGS and state.screen is not Screen.DESK:
            session.desk.back()
            return True
        state.screen = Screen.DESK
    elif state.pharmacy_mode:
        state.screen = Screen.PHARMACY
    elif state.staff_mode:
        state.screen = Screen.STAFF
    else:
        return False
    state.changed()
    return True


async def staff_refresh(session: AppSession) -> bool:
    """The refresh button in a staff mode; False when not in one."""
    state = session.state
    if state.desk_mode:
        await session.desk.load()
    elif state.pharmacy_mode:
        await session.pharmacy.refresh_keys()
    elif state.staff_mode:
        await session.staff.load()
    else:
        return False
    return True
