"""What the screens draw: :class:`AppState`, made of each feature's screen state.

Views read the state and call session methods; they never see the store or the API.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from carnet.admin.state import AdminUi
from carnet.agenda.repository import AgendaItem
from carnet.agenda.state import AgendaUi
from carnet.auth.state import AccountUi
from carnet.blood_bank.repository import BookingView
from carnet.blood_bank.state import BloodBankUi, StaffUi
from carnet.chemotherapy.state import ChemoUi
from carnet.core.navigation import Phase, Screen, Tab
from carnet.core.observable import Observable, change
from carnet.data.records import SyncStatus
from carnet.enrolment.state import FamilyEnrolmentUi, OncologyUi
from carnet.fever.state import FeverDeskUi, FeverUi
from carnet.incidents.repository import IncidentView
from carnet.incidents.state import DeskUi, IncidentUi
from carnet.patients.qr import QrImage
from carnet.pharmacy.state import PharmacyUi
from carnet.privacy.state import PrivacyUi
from carnet.reminders.state import ReminderPreferencesState
from carnet.whatsapp.state import WhatsAppUi
from carnet_contract import models as contract
from carnet_contract.qrtoken import Verification

__all__ = ["AppState"]


@dataclass(eq=False)
class AppState(Observable):
    """Everything on screen: where the app is, who is logged in, and each feature's screen state.

    It tells its listeners about its own changes and about those of the feature states it holds (one
    notification per outermost change or :meth:`batch`, naming the parts that changed).
    """

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
    enrolment: FamilyEnrolmentUi = field(default_factory=FamilyEnrolmentUi)
    oncology: OncologyUi = field(default_factory=OncologyUi)
    chemotherapy: ChemoUi = field(default_factory=ChemoUi)
    admin: AdminUi = field(default_factory=AdminUi)
    whatsapp: WhatsAppUi = field(default_factory=WhatsAppUi)
    #: The reminder kinds chosen (Ajustes → Recordatorios; the phone's notifications read ``reminders.kinds``).
    reminders: ReminderPreferencesState = field(default_factory=ReminderPreferencesState)
    fever: FeverUi = field(default_factory=FeverUi)
    fever_desk: FeverDeskUi = field(default_factory=FeverDeskUi)
    #: The account's password is a temporary one (an administrator's reset): its change comes first.
    password_change_required: bool = False
    sync: SyncStatus = field(default_factory=SyncStatus)
    #: The selected child's next appointment (carnet screen).
    next_appointment: AgendaItem | None = None
    #: "Cerrar sesión" with writes not sent yet: what they are ("1 reporte y 1 cita"); None: no question open.
    logout_unsent: str | None = None
    #: "Enviar y cerrar sesión" is running.
    logout_sending: bool = False
    #: Why the last "Enviar y cerrar sesión" did not log out (what stayed unsent).
    logout_problem: str | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        for part in self._parts():
            self.relay(part)

    def _parts(self) -> tuple[Observable, ...]:
        return (
            self.agenda,
            self.blood_bank,
            self.staff,
            self.incidents,
            self.desk,
            self.pharmacy,
            self.privacy,
            self.account,
            self.enrolment,
            self.oncology,
            self.chemotherapy,
            self.admin,
            self.whatsapp,
            self.reminders,
            self.fever,
            self.fever_desk,
        )

    # ---- where the app is -------------------------------------------------------------------------

    @change
    def go_to(self, screen: Screen, *, tab: Tab | None = None) -> None:
        """Show ``screen`` (and select ``tab`` in the navigation bar); leaving settings closes its logout question."""
        self.screen = screen
        if tab is not None:
            self.tab = tab
        if screen is not Screen.SETTINGS and not self.logout_sending:
            self.logout_unsent = self.logout_problem = None

    @change
    def choose_tab(self, tab: Tab) -> None:
        self.tab = tab

    @change
    def show_in(self, locale: str) -> None:
        """The app's language (the session's translator already speaks it)."""
        self.locale = locale

    @change
    def clear_errors(self) -> None:
        self.login_error = self.sync_error = None

    @change
    def add_notice(self, notice: str) -> None:
        self.notices = [*self.notices, notice]

    @change
    def dismiss_notices(self) -> None:
        self.notices = []

    # ---- logging in -------------------------------------------------------------------------------

    @change
    def ask_login(self) -> None:
        self.phase = Phase.LOGIN

    @change
    def start_login(self) -> None:
        self.busy, self.login_error, self.login_info = True, None, None

    @change
    def login_refused(self, error: str) -> None:
        self.login_error = error

    @change
    def stop_login(self) -> None:
        self.busy = False

    @change
    def show_login_info(self, info: str) -> None:
        """A neutral word on the login screen: why the session ended."""
        self.login_info = info

    @change
    def enter_family(self, user: contract.UserOut) -> None:
        """A family's login: the children first."""
        self.user, self.phase, self.screen = user, Phase.READY, Screen.CHILDREN

    # ---- logging out with writes not sent ----------------------------------------------------------

    @change
    def ask_logout(self, unsent: str) -> None:
        """Ask before a logout would lose the writes not sent yet (``unsent`` says what they are)."""
        self.logout_unsent, self.logout_problem, self.logout_sending = unsent, None, False

    @change
    def start_logout_send(self) -> None:
        self.logout_sending, self.logout_problem = True, None

    @change
    def logout_send_failed(self, problem: str, unsent: str) -> None:
        """Not everything went: the session stays open, the question too, saying what stayed."""
        self.logout_sending, self.logout_problem, self.logout_unsent = False, problem, unsent

    @change
    def close_logout_question(self) -> None:
        self.logout_unsent = self.logout_problem = None
        self.logout_sending = False

    # ---- syncing ----------------------------------------------------------------------------------

    @change
    def start_sync(self) -> None:
        self.syncing = True

    @change
    def sync_done(self, *, online: bool | None = None, error: str | None = None, keep_error: bool = False) -> None:
        """The sync ended: whether the server answered (None: unknown) and its problem, if any (``keep_error``:
        the last one stays)."""
        self.syncing = False
        if online is not None:
            self.online = online
        if not keep_error:
            self.sync_error = error

    # ---- the children and the carnet ------------------------------------------------------------------

    @change
    def show_children(self, children: list[contract.PatientRef]) -> None:
        self.children = children

    @change
    def select_child(self, patient_id: str | None) -> None:
        self.selected_child_id = patient_id

    @change
    def show_carnet(
        self,
        carnet: contract.Carnet | None,
        fetched_at: datetime | None,
        qr: QrImage | None,
        qr_check: Verification | None,
    ) -> None:
        """The selected child's cached carnet, its QR and the QR's offline check (all None: none cached)."""
        self.carnet, self.carnet_fetched_at, self.qr, self.qr_check = carnet, fetched_at, qr, qr_check

    @change
    def set_online(self, online: bool | None) -> None:
        """Whether the server answered the last request (None: not asked yet)."""
        self.online = online

    @change
    def show_sync_status(self, status: SyncStatus) -> None:
        self.sync = status

    @change
    def show_next_appointment(self, item: AgendaItem | None) -> None:
        """The selected child's next appointment, on the carnet screen."""
        self.next_appointment = item

    @change
    def gate_privacy(self) -> None:
        """The privacy notice is to be accepted before anything syncs."""
        self.phase, self.syncing = Phase.PRIVACY, False

    @change
    def notice_accepted(self) -> None:
        """Past the privacy notice: the children, and their first sync."""
        self.phase, self.screen, self.sync_error = Phase.READY, Screen.CHILDREN, None

    @change
    def continue_offline(self) -> None:
        """Past the privacy notice without the network: what is on the phone, as it is."""
        self.phase, self.online = Phase.READY, False

    @change
    def enter_staff(self, user: contract.UserOut, screen: Screen) -> None:
        """A staff role's screen: no children, nothing of a family on it."""
        self.user, self.phase, self.screen = user, Phase.READY, screen
        self.children, self.selected_child_id = [], None

    @change
    def require_password_change(self, user: contract.UserOut) -> None:
        """A temporary password: the password change before anything else (no children, no staff screen)."""
        self.user, self.phase, self.screen = user, Phase.READY, Screen.ACCOUNT_PASSWORD
        self.children, self.selected_child_id = [], None
        self.password_change_required = True

    @change
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
        parts = {id(part) for part in self._parts()}
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            if isinstance(value, Observable) and id(value) in parts:
                value.reset()  # the same object: its listeners stay
            else:
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
        """Staff screens (blood bank, case desk, pharmacy, oncology): no patient data is kept on the device."""
        return self.user is not None and self.user.role in (
            contract.Role.BLOOD_BANK,
            contract.Role.CASE_DESK,
            contract.Role.PHARMACY,
            contract.Role.ONCOLOGY,
            contract.Role.ADMIN,
        )

    @property
    def oncology_mode(self) -> bool:
        """The oncology desk: the registry, guardians' codes, the registry figures."""
        return self.user is not None and self.user.role == contract.Role.ONCOLOGY

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
