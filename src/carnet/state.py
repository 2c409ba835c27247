"""What the screens draw (:class:`AppState`) and where it comes from (:class:`CarnetRepository`).

The repository reads and writes only the local encrypted store; the network
is :mod:`carnet.session`'s business. Views read the state and call session
methods; they never see the store or the API.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from carnet.agenda import AgendaItem
from carnet.agenda_form import AppointmentForm
from carnet.blood_bank import BookingView
from carnet.blood_bank_form import DonorForm
from carnet.incident_form import ReportForm
from carnet.incidents import IncidentView
from carnet.outbox import OutboxItem
from carnet.pharmacy import Check
from carnet.qr import QrImage
from carnet.store import OfflineStore
from carnet_contract import models as contract
from carnet_contract.qrtoken import Verification

__all__ = [
    "ACCOUNT_SCREENS",
    "AccountUi",
    "AgendaUi",
    "AppState",
    "BloodBankUi",
    "DeskUi",
    "PrivacyUi",
    "IncidentUi",
    "CarnetRepository",
    "Phase",
    "PharmacyUi",
    "Screen",
    "StaffUi",
    "SyncStatus",
    "Tab",
    "current_cycle",
]


class Phase(StrEnum):
    STARTING = "starting"
    LOGIN = "login"
    #: A guardian must accept the current privacy notice before any of the children's data is fetched.
    PRIVACY = "privacy"
    READY = "ready"


class Screen(StrEnum):
    CHILDREN = "children"
    CARNET = "carnet"
    SETTINGS = "settings"
    AGENDA = "agenda"
    APPOINTMENT = "appointment"
    APPOINTMENT_FORM = "appointment_form"
    SYNC_STATUS = "sync_status"
    BLOOD_BANK = "blood_bank"
    BOOKING_FORM = "booking_form"
    BOOKING = "booking"
    STAFF = "staff"
    REPORT_FORM = "report_form"
    REPORTS = "reports"
    REPORT = "report"
    DESK = "desk"
    DESK_CASE = "desk_case"
    DESK_WEEKLY = "desk_weekly"
    PHARMACY = "pharmacy"
    ACCOUNT = "account"
    ACCOUNT_PASSWORD = "account_password"
    ACCOUNT_NOTICE = "account_notice"
    ACCOUNT_CLOSURE = "account_closure"


#: "Mi cuenta" and the screens it opens (reached from settings, by every role).
ACCOUNT_SCREENS = frozenset({Screen.ACCOUNT, Screen.ACCOUNT_PASSWORD, Screen.ACCOUNT_NOTICE, Screen.ACCOUNT_CLOSURE})


class Tab(StrEnum):
    """The navigation bar's destinations (settings stays in the app bar)."""

    CARNET = "carnet"
    AGENDA = "agenda"
    BLOOD_BANK = "blood_bank"


@dataclass
class BloodBankUi:
    """The "Banco de sangre" tab: the choices made, the slots shown, the form, "Mis citas de donación"."""

    patient_id: str | None = None
    bank_id: str | None = None
    day: date | None = None
    banks: list[contract.BloodBank] = field(default_factory=list)
    slots: list[contract.Slot] = field(default_factory=list)
    #: When the slots shown were fetched (None: none saved for this bank and day).
    slots_fetched_at: datetime | None = None
    #: True when the slots shown come from the phone's cache (no answer from the server just now).
    slots_cached: bool = False
    loading_slots: bool = False
    questions: list[contract.Question] = field(default_factory=list)
    form: DonorForm | None = None
    bookings: list[BookingView] = field(default_factory=list)
    selected_id: str | None = None
    confirm_cancel: bool = False
    #: The booking whose new slot is being chosen (reschedule), else None.
    rescheduling_id: str | None = None
    message: str | None = None


@dataclass
class StaffUi:
    """Blood-bank staff (online only): their banks, the day's list, donor counts per child."""

    banks: list[contract.BloodBank] = field(default_factory=list)
    bank_id: str | None = None
    day: date | None = None
    bookings: list[contract.StaffBooking] = field(default_factory=list)
    #: patient id → (display name, came today, came this week, booked this week)
    counts: list[tuple[str, int, int, int]] = field(default_factory=list)
    loading: bool = False
    #: Booking ids whose check-in / no-show is being sent.
    busy_ids: set[str] = field(default_factory=set)
    message: str | None = None
    error: str | None = None


@dataclass
class IncidentUi:
    """ "Reportar un problema" and "Mis reportes" (the family's reports, readable offline)."""

    form: ReportForm | None = None
    reports: list[IncidentView] = field(default_factory=list)
    selected_id: str | None = None
    #: The "No se resolvió" box is open for the selected report.
    reopening: bool = False
    reason_error: str | None = None
    message: str | None = None
    #: The screen to go back to from the form / the list.
    came_from: str | None = None


@dataclass
class DeskUi:
    """Case desk (online only): the queue, its filters, one incident, the weekly figures."""

    incidents: list[contract.Incident] = field(default_factory=list)
    units: list[contract.Unit] = field(default_factory=list)
    category: contract.IncidentCategory | None = None
    unit_id: str | None = None
    status: contract.IncidentStatus | None = None
    selected: contract.Incident | None = None
    answer_error: str | None = None
    #: Answers sent (the answer box empties when it grows).
    sent: int = 0
    #: ``(incident id, text, resolves, Idempotency-Key)`` of an answer whose fate is unknown
    #: (no answer came back): sending the same answer again reuses the key, so it is kept once.
    unsent_answer: tuple[str, str, bool, str] | None = None
    loading: bool = False
    busy: bool = False
    week: date | None = None
    weekly: contract.WeeklyFigures | None = None
    message: str | None = None
    error: str | None = None


@dataclass
class PharmacyUi:
    """The pharmacy counter: the trust bundle, the last scan and its dispensation (patient data in memory only)."""

    trust: contract.TrustBundle | None = None
    #: When this device fetched the bundle (its age decides a refresh).
    trust_fetched_at: datetime | None = None
    refreshing: bool = False
    #: Problem refreshing the keys (offline, server), shown beside their age.
    trust_error: str | None = None
    #: The scanned token, kept for the dispensation; never written to the device.
    token: str | None = None
    check: Check | None = None
    #: The server's answer for ``token`` (None: not asked yet, offline, or refused).
    verified: contract.VerifyResponse | None = None
    verifying: bool = False
    #: True when the last online step found no network (the offline verdict stands; no dispensing).
    offline: bool = False
    cycle_id: str | None = None
    #: Drug names ticked for the chosen cycle.
    items: set[str] = field(default_factory=set)
    confirming: bool = False
    busy: bool = False
    #: ``(token, cycle id, items, Idempotency-Key)`` of a dispensation whose fate is unknown (no answer):
    #: sending the same again reuses the key, so the server records it once.
    unsent: tuple[str, str, tuple[str, ...], str] | None = None
    #: Dispensations this counter recorded for the shown token.
    recorded: list[contract.Dispensation] = field(default_factory=list)
    message: str | None = None
    error: str | None = None
    #: Grows with every result shown: the view hands the focus back to the scanner field.
    results: int = 0


@dataclass
class AgendaUi:
    """What the agenda screens show: month, day, filters, the chosen appointment, the form."""

    month: date | None = None  # first day of the month shown
    day: date | None = None
    patient_id: str | None = None  # None: every child
    kind: contract.AppointmentKind | None = None  # None: every kind
    items: list[AgendaItem] = field(default_factory=list)
    selected_id: str | None = None
    confirm_delete: bool = False
    form: AppointmentForm | None = None
    #: A short confirmation or problem shown at the top of the agenda screens.
    message: str | None = None


@dataclass
class PrivacyUi:
    """The privacy notice: the gate after login (``Phase.PRIVACY``) and "Aviso de privacidad" in Mi cuenta."""

    notice: contract.PrivacyNotice | None = None
    loading: bool = False
    #: "Acepto" was pressed and the answer has not come yet.
    accepting: bool = False
    error: str | None = None
    #: Neutral news, e.g. a newer version replaced the one shown.
    message: str | None = None
    #: The person accepted an earlier version and this phone holds their data: usable offline.
    can_continue_offline: bool = False


@dataclass
class AccountUi:
    """ "Mi cuenta": password change, the notice accepted, "Descargar mis datos", account closure."""

    #: Guardians: where they stand with the notice and the closure request (None for staff).
    status: contract.PrivacyStatus | None = None
    #: Password form problems by field: ``current``, ``new``, ``repeat``; ``form`` for the whole form.
    password_errors: dict[str, str] = field(default_factory=dict)
    changing_password: bool = False
    exporting: bool = False
    #: The closure request's confirm step is open.
    closure_confirm: bool = False
    closure_busy: bool = False
    message: str | None = None
    error: str | None = None


@dataclass
class SyncStatus:
    last_success_at: datetime | None = None
    pending: int = 0
    failed: list[OutboxItem] = field(default_factory=list)
    retry_at: datetime | None = None


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


def current_cycle(carnet: contract.Carnet, today: date) -> contract.Cycle | None:
    """The next scheduled cycle from today on; else the latest scheduled; else the last."""
    if not carnet.cycles:
        return None
    cycles = sorted(carnet.cycles, key=lambda c: (c.scheduled_for, c.number))
    scheduled = [c for c in cycles if c.status == contract.CycleStatus.PROGRAMADO]
    upcoming = [c for c in scheduled if c.scheduled_for >= today]
    if upcoming:
        return upcoming[0]
    if scheduled:
        return scheduled[-1]
    return cycles[-1]


class CarnetRepository:
    """One user's cached data in the offline store (reads never touch the network)."""

    ME, CARNET, JWKS, NOTICE = "me", "carnet", "jwks", "privacy_notice"

    def __init__(self, store: OfflineStore, user_id: str) -> None:
        self._store = store
        self.user_id = user_id

    # reads
    def me(self) -> contract.Me | None:
        record = self._store.get(self.user_id, self.ME)
        return contract.Me.model_validate(record.value) if record else None

    def carnet(self, patient_id: str) -> tuple[contract.Carnet, datetime] | None:
        record = self._store.get(self.user_id, self.CARNET, patient_id)
        if record is None:
            return None
        return contract.Carnet.model_validate(record.value), record.fetched_at

    def jwks(self) -> dict[str, Any] | None:
        record = self._store.get(self.user_id, self.JWKS)
        return record.value if record else None

    def privacy_notice(self, lang: str) -> contract.PrivacyNotice | None:
        """The last privacy notice read in ``lang`` (to read it again offline)."""
        record = self._store.get(self.user_id, self.NOTICE, lang)
        return contract.PrivacyNotice.model_validate(record.value) if record else None

    # writes (by the sync)
    def save_me(self, me: contract.Me, *, fetched_at: datetime) -> None:
        self._store.put(self.user_id, self.ME, "", me.model_dump(mode="json"), fetched_at=fetched_at)
        # Children no longer linked to the account leave the phone too.
        self._store.delete_kind(self.user_id, self.CARNET, keep={p.id for p in me.patients})

    def save_carnet(self, carnet: contract.Carnet, *, fetched_at: datetime) -> None:
        self._store.put(
            self.user_id, self.CARNET, carnet.patient.id, carnet.model_dump(mode="json"), fetched_at=fetched_at
        )

    def put_cycle(self, cycle: contract.Cycle) -> bool:
        """A cycle changed on the server (mixing status, confirmed, dispensed): update the cached carnet
        holding it, keeping when that carnet was fetched. False when no cached carnet has it (the next
        carnet read brings it)."""
        found = False
        for patient_id, record in self._store.get_kind(self.user_id, self.CARNET).items():
            carnet = contract.Carnet.model_validate(record.value)
            if any(c.id == cycle.id for c in carnet.cycles):
                cycles = [cycle if c.id == cycle.id else c for c in carnet.cycles]
                self._store.put(
                    self.user_id,
                    self.CARNET,
                    patient_id,
                    carnet.model_copy(update={"cycles": cycles}).model_dump(mode="json"),
                    fetched_at=record.fetched_at,
                )
                found = True
        return found

    def save_jwks(self, jwks: dict[str, Any], *, fetched_at: datetime) -> None:
        self._store.put(self.user_id, self.JWKS, "", jwks, fetched_at=fetched_at)

    def save_privacy_notice(self, lang: str, notice: contract.PrivacyNotice, *, fetched_at: datetime) -> None:
        self._store.put(self.user_id, self.NOTICE, lang, notice.model_dump(mode="json"), fetched_at=fetched_at)

    def save_privacy(self, status: contract.PrivacyStatus) -> None:
        """A new privacy status (notice accepted, closure asked or withdrawn) into the cached ``me``."""
        record = self._store.get(self.user_id, self.ME)
        if record is None:
            return
        me = contract.Me.model_validate(record.value).model_copy(update={"privacy": status})
        self._store.put(self.user_id, self.ME, "", me.model_dump(mode="json"), fetched_at=record.fetched_at)
