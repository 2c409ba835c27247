"""Which screens a role gets after login, and how the staff modes navigate and refresh.

Families (``guardian``) get the offline-first app that :class:`carnet.shell.session.AppSession`
itself runs, over a per-login :class:`carnet.shell.scope.LoginScope`. Staff get screens that keep no
patient data on the device:

* blood bank → :class:`carnet.blood_bank.staff.StaffCases`, online only;
* case desk → :class:`carnet.incidents.desk.DeskCases`, online only;
* oncology desk and case desk, fever episodes ("Hora Dorada") → :class:`carnet.fever.desk.FeverDeskCases`,
  online only, but for "Verificar tarjeta de urgencias": checked offline with the cached trust bundle, then online;
* oncology → :class:`carnet.enrolment.desk.OncologyCases`, online only;
* pharmacy, and admin → :class:`carnet.pharmacy.cases.PharmacyCases`: a scan is checked
  offline with the cached trust bundle, then online; dispensing is online only.
"""

from __future__ import annotations

from carnet.blood_bank.staff import StaffCases
from carnet.chemotherapy.cases import ChemotherapyCases
from carnet.core.navigation import CHEMO_SCREENS, FEVER_DESK_SCREENS, Screen
from carnet.enrolment.desk import OncologyCases
from carnet.fever.desk import FeverDeskCases
from carnet.incidents.desk import DeskCases
from carnet.pharmacy.cases import PharmacyCases
from carnet.shell.state import AppState
from carnet_contract import models as contract

__all__ = ["StaffModes"]


class StaffModes:
    """The staff roles' screens: entered at login, their back button and refresh."""

    def __init__(
        self,
        state: AppState,
        staff: StaffCases,
        desk: DeskCases,
        pharmacy: PharmacyCases,
        oncology: OncologyCases,
        chemotherapy: ChemotherapyCases,
        fever_desk: FeverDeskCases,
    ) -> None:
        self._state, self._staff, self._desk, self._pharmacy = state, staff, desk, pharmacy
        self._oncology, self._chemotherapy, self._fever_desk = oncology, chemotherapy, fever_desk

    async def enter(self, user: contract.UserOut) -> bool:
        """Open the role's staff screen; False for a role that has none (a family's account)."""
        if user.role == contract.Role.BLOOD_BANK:
            await self._staff.enter(user)
        elif user.role == contract.Role.CASE_DESK:
            await self._desk.enter(user)
            await self._fever_desk.enter()  # the trust bundle (emergency cards), the open episodes
        elif user.role == contract.Role.ONCOLOGY:
            await self._oncology.enter(user)
            await self._fever_desk.enter()
        elif user.role in (contract.Role.PHARMACY, contract.Role.ADMIN):
            await self._pharmacy.enter(user)
        else:
            return False
        return True

    def back(self) -> bool:
        """The back button in a staff mode (settings go back to the staff screen); False when not in one."""
        state = self._state
        if state.staff_mode and state.screen in FEVER_DESK_SCREENS:
            self._fever_desk.back()
            return True
        if state.desk_mode:
            if state.screen is not Screen.SETTINGS and state.screen is not Screen.DESK:
                self._desk.back()
                return True
            state.go_to(Screen.DESK)
        elif state.oncology_mode:
            if state.screen is Screen.SETTINGS:
                state.go_to(Screen.ONCOLOGY_CHILD if state.oncology.record is not None else Screen.ONCOLOGY)
            elif not self._chemotherapy.back():
                self._oncology.back()
        elif state.pharmacy_mode:
            state.go_to(Screen.PHARMACY)
        elif state.staff_mode:
            state.go_to(Screen.STAFF)
        else:
            return False
        return True

    async def refresh(self) -> bool:
        """The refresh button in a staff mode; False when not in one."""
        state = self._state
        if state.staff_mode and state.screen in FEVER_DESK_SCREENS:
            await self._fever_desk.refresh()
        elif state.desk_mode:
            await self._desk.load()
            await self._fever_desk.count_open()  # the home screen's alert of open fever episodes
        elif state.oncology_mode and state.screen in CHEMO_SCREENS:
            await self._chemotherapy.reload()
        elif state.oncology_mode:
            await self._oncology.refresh()
            await self._fever_desk.count_open()
        elif state.pharmacy_mode:
            await self._pharmacy.refresh_keys()
        elif state.staff_mode:
            await self._staff.load()
        else:
            return False
        return True
