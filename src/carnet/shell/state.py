"""What the screens draw: :class:`AppState`, made of each feature's screen state.

Views read the state and call session methods; they never see the store or the API.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from carnet.agenda.repository import AgendaItem
from carnet.agenda.state import AgendaUi
from carnet.auth.state import AccountUi
from carnet.blood_bank.repository import BookingView
from carnet.blood_bank.state import BloodBankUi, StaffUi
from carnet.core.navigation import Phase, Screen, Tab
from carnet.data.records import SyncStatus
from carnet.incidents.repository import IncidentView
from carnet.incidents.state import DeskUi, IncidentUi
from carnet.patients.qr import QrImage
from carnet.pharmacy.state import PharmacyUi
from carnet.privacy.state import PrivacyUi
from carnet_contract import models as contract
from carnet_contract.qrtoken import Verification

__all__ = ["AppState"]


@dataclass
class AppState:
    """Everything on screen; changed by the session, which then calls ``changed()``."""

    phase: Phase = Phase.STARTING
    screen: Screen = Screen.CHILDREN
    locale: str = "es-MX"
    #: False when secrets live only in memory (the UI shows a notice).
    secure_storage: bool = True
    #: A browser session of the web app: online only, nothing kept after the browser session ends.
    web_session: bool = False
    user: contract.UserOut | None = None
    children: list[contract.PatientRef] = field(default_factory=list)
    selected_child_id: str | None = None
    carnet: contract.Carnet | None = None
    carnet_fetched_at: datetime | None = None
    qr: QrImage | None = None
    qr_check: Verification | None = None
    #: None until the first sync attempt ends; False = showing cached data.
    online: bool | None = None
    syncing: bool = False
    busy: bool = False
    #: Translated messages for the login screen and for the top of the app.
    login_error: str | None = None
    #: A neutral word on the login screen: why the session ended (password changed, notice not accepted).
    login_info: str | None = None
    sync_error: str | None = None
    notices: list[str] = field(default_factory=list)
    tab: Tab = Tab.CARNET
    agenda: AgendaUi = field(default_factory=AgendaUi)
    blood_bank: BloodBankUi = field(default_factory=BloodBankUi)
    staff: StaffUi = field(default_factory=StaffUi)
    incidents: IncidentUi = field(default_factory=IncidentUi)
    desk: DeskUi = field(default_factory=DeskUi)
    pharmacy: PharmacyUi = field(default_factory=PharmacyUi)
    privacy: PrivacyUi = field(default_factory=PrivacyUi)
    account: AccountUi = field(default_factory=AccountUi)
    sync: SyncStatus = field(default_factory=SyncStatus)
    #: The selected child's next appointment (carnet screen).
    next_appointment: AgendaItem | None = None
    _listeners: list[Callable[[], None]] = field(default_factory=list, repr=False)

    def subscribe(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)

    def changed(self) -> None:
        for listener in list(self._listeners):
            listener()

    def reset_to_login(self, message: str | None = None, *, info: str | None = None) -> None:
        """Forget the user and everything drawn for them; keep locale and listeners."""
        fresh = AppState(
            phase=Phase.LOGIN,
            locale=self.locale,
            secure_storage=self.secure_storage,
            web_session=self.web_session,
            login_error=message,
            login_info=info,
        )
        for name in self.__dataclass_fields__:
            if name != "_listeners":
                setattr(self, name, getattr(fresh, name))

    @property
    def selected_child(self) -> contract.PatientRef | None:
        return next((c for c in self.children if c.id == self.selected_child_id), None)

    def child_name(self, patient_id: str) -> str:
        return next((c.display_name for c in self.children if c.id == patient_id), "")

    @property
    def selected_booking(self) -> BookingView | None:
        return next((b for b in self.blood_bank.bookings if b.id == self.blood_bank.selected_id), None)

    @property
    def staff_mode(self) -> bool:
        """Staff screens (blood bank, case desk, pharmacy): no patient data is kept on the device."""
        return self.user is not None and self.user.role in (
            contract.Role.BLOOD_BANK,
            contract.Role.CASE_DESK,
            contract.Role.PHARMACY,
            contract.Role.ADMIN,
        )

    @property
    def pharmacy_mode(self) -> bool:
        """The pharmacy counter (pharmacy staff, and admin: the screen the app has for them)."""
        return self.user is not None and self.user.role in (contract.Role.PHARMACY, contract.Role.ADMIN)

    @property
    def desk_mode(self) -> bool:
        return self.user is not None and self.user.role == contract.Role.CASE_DESK

    @property
    def selected_report(self) -> IncidentView | None:
        return next((r for r in self.incidents.reports if r.id == self.incidents.selected_id), None)

    @property
    def selected_appointment(self) -> AgendaItem | None:
        return next((i for i in self.agenda.items if i.id == self.agenda.selected_id), None)
