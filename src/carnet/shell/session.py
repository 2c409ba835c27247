"""The app's use cases: start, log in, sync, pick a child, switch language, log out.

:class:`AppSession` is the composition root: it owns the :class:`~carnet.shell.state.AppState`, the
API client, the secret store and the offline store, and builds every feature's use cases, handing each
exactly what it uses. A family's login gets a :class:`~carnet.shell.scope.LoginScope` (its
store-bound repositories, outbox, sync engine and the per-login cases: ``session.patients``,
``session.agenda``, ``session.blood_bank``, ``session.report``), dropped at logout. Screens show what the repositories
hold; :meth:`AppSession.refresh` pushes the outbox and pulls changes (:mod:`carnet.data.sync`),
fetches the carnets, writes the store and only then reloads the state, so a failed sync leaves the
cached data on screen with an offline banner. Device-wide cases live on the session itself:
blood-bank staff (``session.staff``, :mod:`carnet.blood_bank.staff`), the case desk
(``session.desk``, :mod:`carnet.incidents.desk`), the pharmacy counter (``session.pharmacy``),
all online only and keeping no patient data; the privacy notice a guardian accepts before any
of the children's data is fetched (``session.privacy``, :mod:`carnet.privacy.cases`), the guardian's data rights
(``session.rights``, :mod:`carnet.privacy.rights`: privacy status, "Descargar mis datos", closure) and
"Mi cuenta" (``session.account``, :mod:`carnet.auth.account`), and a guardian's WhatsApp link
(``session.whatsapp``, :mod:`carnet.whatsapp.cases`; the reminder kinds are per login:
``session.reminders``, :mod:`carnet.reminders.preferences`). Which role gets which screen, and the
staff modes' navigation, live in :mod:`carnet.shell.roles`; error sentences in
:mod:`carnet.data.messages`.

Syncs run at start, on the refresh button, every ``sync_interval_seconds`` (every
``fever_sync_interval_seconds`` while a child's fever episode is open and the fever screen, the emergency card or
the carnet is on screen: :meth:`AppSession.sync_interval`),
when an outbox item's backoff ends, right after a write, when the network
comes back (Flet's connectivity event, or the first request that succeeds
after failures), when the app comes back to the foreground after being hidden,
and when the family opens "Mis reportes" (a case-desk answer shows at once).

"Cerrar sesión" with writes not sent yet asks first (:meth:`AppSession.ask_logout`): it says how many
and what, and offers to send them first (the logout only once nothing is left), to discard them
(the store is erased) or to cancel (nothing changes).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx
from pydantic import ValidationError

from carnet.admin.cases import AdminCases
from carnet.agenda.cases import AgendaCases
from carnet.auth.account import AccountCases
from carnet.blood_bank.cases import BloodBankCases
from carnet.blood_bank.staff import StaffCases
from carnet.chemotherapy.cases import ChemotherapyCases
from carnet.core.config import AppConfig
from carnet.core.i18n import Translator
from carnet.core.navigation import FEVER_SCREENS, Phase, Screen, Tab
from carnet.data.api import (
    ApiClient,
    ApiError,
    AuthError,
    HttpError,
    NetworkError,
    PrivacyNoticeRequired,
    ProtocolError,
    Tokens,
)
from carnet.data.messages import describe_rejection, message_for
from carnet.data.outbox import Backoff, OutboxItem
from carnet.data.secret_store import SecretStore
from carnet.data.store import OfflineStore, destroy_store, open_store
from carnet.enrolment.activation import FamilyEnrolmentCases
from carnet.enrolment.desk import OncologyCases
from carnet.fever.cases import FeverCases
from carnet.fever.desk import FeverDeskCases
from carnet.incidents.cases import IncidentCases
from carnet.incidents.desk import DeskCases
from carnet.patients.cases import CarnetCases
from carnet.patients.repository import CarnetRepository
from carnet.pharmacy.cases import PharmacyCases
from carnet.privacy.cases import PrivacyCases
from carnet.privacy.rights import DataRightsCases
from carnet.reminders import schedule
from carnet.reminders.notifier import MemoryHanded, NotificationPlugin, Notifier, StoreHanded
from carnet.reminders.preferences import ReminderPreferenceCases
from carnet.shell.roles import StaffModes
from carnet.shell.scope import LoginScope
from carnet.shell.state import AppState
from carnet.shell.unsent import describe_unsent
from carnet.whatsapp.cases import WhatsAppCases
from carnet_contract import models as contract

__all__ = ["AppSession"]

log = logging.getLogger(__name__)

#: The screens where the family follows a fever episode (the sync interval shortens while one is open).
FOLLOW_SCREENS = frozenset({*FEVER_SCREENS, Screen.CARNET})

SESSION_SECRET = "session"
LOCALE_SECRET = "locale"
#: The user id whose data the store still holds after the session expired
#: (their unsent writes wait for them to log in again).
KEPT_FOR_SECRET = "kept_for"


class AppSession:
    """One person's app: on a phone, the app itself; in web mode, one browser session.

    ``data_dir`` None is a browser session of the web app (``carnet --web``): its secrets and its
    offline store live in memory, private to this object, and end with it (see :meth:`close`).
    """

    def __init__(
        self,
        config: AppConfig,
        secrets: SecretStore,
        data_dir: Path | None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        backoff: Backoff | None = None,
    ) -> None:
        self.config = config
        self.secrets = secrets
        self.data_dir = data_dir
        self.clock = clock
        self.tr = Translator(config.locale)
        self.state = AppState(locale=self.tr.locale, secure_storage=secrets.secure, web_session=data_dir is None)
        self.api = ApiClient(
            config.api_base_url,
            timeout=config.api_timeout_seconds,
            locale=self.tr.locale,
            on_tokens=self._save_tokens,
            on_privacy_required=self._privacy_required,
            transport=transport,
        )
        self.store: OfflineStore | None = None
        #: The phone's notification plugin (shell/notifications.py, Android and iOS); None: no local reminders.
        self.notification_plugin: NotificationPlugin | None = None
        self._notifications_asked = False
        #: The logged-in family's objects (None: logged out, or a staff role).
        self._login: LoginScope | None = None
        self.backoff = backoff or Backoff(cap=float(config.sync_interval_seconds))
        tr, state, api = self.tr, self.state, self.api
        self.staff = StaffCases(state=state, api=api, tr=tr, clock=clock, session_expired=self.session_expired)
        self.desk = DeskCases(state=state, api=api, tr=tr, clock=clock, session_expired=self.session_expired)
        self.pharmacy = PharmacyCases(
            state=state, api=api, store=lambda: self.store, tr=tr, clock=clock, session_expired=self.session_expired
        )
        self.privacy = PrivacyCases(
            state=state,
            api=api,
            carnets=self._carnets,
            tr=tr,
            clock=clock,
            refresh=self.refresh,
            reload_from_store=self.reload_from_store,
            sign_out_keeping_data=self.sign_out_keeping_data,
            session_expired=self.session_expired,
        )
        self.rights = DataRightsCases(
            state=state,
            api=api,
            carnets=self._carnets,
            tr=tr,
            privacy=self.privacy,
            session_expired=self.session_expired,
        )
        self.account = AccountCases(
            state=state,
            api=api,
            carnets=self._carnets,
            tr=tr,
            privacy=self.privacy,
            rights=self.rights,
            password_changed=self.password_changed,
            session_expired=self.session_expired,
        )
        self.oncology = OncologyCases(state=state, api=api, tr=tr, clock=clock, session_expired=self.session_expired)
        self.chemotherapy = ChemotherapyCases(
            state=state, api=api, tr=tr, clock=clock, session_expired=self.session_expired
        )
        self.activation = FamilyEnrolmentCases(
            state=state,
            api=api,
            tr=tr,
            signed_in=self._signed_in,
            refresh=self.refresh,
            session_expired=self.session_expired,
        )
        self.admin = AdminCases(state=state, api=api, tr=tr, session_expired=self.session_expired)
        self.whatsapp = WhatsAppCases(state=state, api=api, tr=tr, clock=clock, session_expired=self.session_expired)
        self.fever_desk = FeverDeskCases(
            state=state,
            api=api,
            tr=tr,
            clock=clock,
            session_expired=self.session_expired,
            store=lambda: self.store,
        )
        self.staff_modes = StaffModes(
            state, self.staff, self.desk, self.pharmacy, self.oncology, self.chemotherapy, self.fever_desk
        )
        self._sync_lock = asyncio.Lock()
        self._wake: asyncio.Event | None = None
        #: The app went to the background (hidden, paused) and has not come back yet.
        self._hidden = False
        #: The screen last seen by :meth:`_screen_changed` (a fever episode's screens shorten the sync interval).
        self._screen_seen: Screen | None = None
        state.subscribe(self._screen_changed)

    # ---- the login scope ---------------------------------------------------

    @property
    def scope(self) -> LoginScope:
        """The logged-in family's objects (only while a family's person is logged in)."""
        if self._login is None:
            raise RuntimeError("no family login")
        return self._login

    @property
    def login_scope(self) -> LoginScope | None:
        """The logged-in family's objects, or None (logged out, or a staff role)."""
        return self._login

    @property
    def patients(self) -> CarnetCases:
        return self.scope.patients

    @property
    def agenda(self) -> AgendaCases:
        return self.scope.agenda

    @property
    def blood_bank(self) -> BloodBankCases:
        return self.scope.blood_bank

    @property
    def report(self) -> IncidentCases:
        return self.scope.report

    @property
    def reminders(self) -> ReminderPreferenceCases:
        return self.scope.reminders

    @property
    def fever(self) -> FeverCases:
        return self.scope.fever

    def pending_count(self) -> int:
        """Writes not yet accepted by the server (0 without a family login)."""
        return self._login.outbox.pending_count() if self._login is not None else 0

    def _carnets(self) -> CarnetRepository | None:
        return self._login.carnets if self._login is not None else None

    # ---- lifecycle ---------------------------------------------------------

    async def start(self) -> bool:
        """Open the store, restore a saved session; True when a sync should follow."""
        saved_locale = await self.secrets.get(LOCALE_SECRET)
        if saved_locale:
            self._apply_locale(saved_locale)
        opened = await open_store(self.secrets, self.data_dir)
        self.store = opened.store
        if opened.wiped:
            self.state.add_notice(self.tr.t("cache_wiped"))
        saved = await self._load_saved_session()
        if saved is None:
            self.state.ask_login()
            return False
        user, tokens = saved
        self.api.tokens = tokens
        self._enter(user)
        return True

    async def close(self) -> None:
        if self.state.web_session:
            # The browser session is gone and its tokens with it: end the login on the server too.
            await self._server_logout()
        await self.api.aclose()
        if self.store is not None:
            self.store.close()

    async def run_periodic_sync(self) -> None:
        """Sync every ``sync_interval_seconds``, sooner when asked or when a retry is due (cancel to stop)."""
        wake = self._wake_event()
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), timeout=self._seconds_to_next_sync())
            wake.clear()
            if self.state.phase is Phase.READY:
                await self.refresh()

    def request_sync(self) -> None:
        """Ask the background loop for a sync now (after a write, a retry, the network back)."""
        self._wake_event().set()

    async def network_changed(self, connected: bool) -> None:
        """Flet's connectivity event: when the network is back, waiting writes go at once; when it is gone, the
        screens say so at once (the next sync would find out only later)."""
        if not connected:
            if self.state.phase is Phase.READY:
                self.state.set_online(False)
            return
        if self._login is not None:
            self._login.outbox.network_is_back(self.clock())
            self.request_sync()

    async def app_lifecycle(self, change: str) -> None:
        """Flet's app lifecycle event (its value: "hide", "resume"…): back in the foreground after being in the
        background, a sync at once, so a case-desk answer shows without waiting for the sync interval."""
        if change in ("hide", "pause"):
            self._hidden = True
        elif change in ("show", "resume") and self._hidden:
            self._hidden = False
            if self.state.phase is Phase.READY:
                await self.refresh()

    def _wake_event(self) -> asyncio.Event:
        if self._wake is None:
            self._wake = asyncio.Event()
        return self._wake

    def sync_interval(self) -> float:
        """Seconds between two periodic syncs: ``sync_interval_seconds``, or the shorter
        ``fever_sync_interval_seconds`` while a child's fever episode is open (waiting to be sent, or not over) and
        the family has the fever screen, the emergency card or the carnet on screen, so "Te esperan en urgencias"
        and each step the unit records (arrival, triage, antibiotic) show without "Actualizar"."""
        normal = float(self.config.sync_interval_seconds)
        scope, state = self._login, self.state
        if scope is None or self._hidden or state.phase is not Phase.READY or state.screen not in FOLLOW_SCREENS:
            return normal
        if not scope.fever.episode_open():
            return normal
        return min(normal, float(self.config.fever_sync_interval_seconds))

    def _screen_changed(self, _parts: object = None) -> None:
        """The family came to a fever episode's screens: the loop, maybe waiting out the long interval, wakes (a sync
        now, then the short interval)."""
        screen = self.state.screen
        if screen is self._screen_seen:
            return
        came = screen in FOLLOW_SCREENS and self._screen_seen not in FOLLOW_SCREENS
        self._screen_seen = screen
        if came and self._wake is not None and self.sync_interval() < self.config.sync_interval_seconds:
            self.request_sync()

    def _seconds_to_next_sync(self) -> float:
        interval = self.sync_interval()
        retry_at = self._login.outbox.next_attempt_at() if self._login is not None else None
        if retry_at is None:
            return interval
        return max(0.0, min(interval, (retry_at - self.clock()).total_seconds()))

    # ---- use cases ---------------------------------------------------------

    async def login(self, username: str, password: str) -> None:
        state = self.state
        if state.busy:
            return
        username = username.strip()
        if not username or not password:
            state.login_refused(self.tr.t("err_missing_fields"))
            return
        state.start_login()
        refused: str | None = None
        try:
            try:
                tokens = await self.api.login(username, password)
            except ValidationError:
                refused = self.tr.t("err_credentials")
                return
            except ApiError as exc:
                refused = self.message_for(exc, login=True)
                return
            refused = await self._signed_in(tokens)
        finally:
            with state.batch():
                if refused is not None:
                    state.login_refused(refused)
                state.stop_login()

    async def _signed_in(self, tokens: contract.TokenResponse) -> str | None:
        """After a login or an activation: the role's screens (a temporary password's change first); the
        reason when this app has no screens for the account."""
        if tokens.password_change_required:
            self.state.require_password_change(tokens.user)  # nothing else until it is changed
            return None
        if await self.staff_modes.enter(tokens.user):  # no patient data of it touches the store
            return None
        if tokens.user.role != contract.Role.GUARDIAN:
            await self._server_logout()
            return self.tr.t("err_staff")
        kept_for = await self.secrets.get(KEPT_FOR_SECRET)
        if kept_for is not None:
            await self.secrets.delete(KEPT_FOR_SECRET)
            if kept_for != tokens.user.id:  # another person: nothing of the last one stays
                await self._wipe_store()
        self._enter(tokens.user)
        await self.refresh()
        return None

    async def refresh(self) -> None:
        """Push the outbox and pull changes; fetch me, every carnet and the JWKS; reload the state."""
        if self.state.password_change_required:
            return  # every route but the password change answers 403 until then
        if self.state.pharmacy_mode:
            await self.pharmacy.refresh_if_stale()  # the counter's periodic work: its trust bundle
            return
        if self.fever_desk.allowed:  # the fever desks' periodic work: the trust bundle, the open episodes
            await self.fever_desk.refresh_keys_if_stale()
            await self.fever_desk.count_open()
            return
        if self.privacy.gated:  # nothing syncs until the notice is accepted: only the notice loads
            if self.state.privacy.notice is None:
                await self.privacy.load_notice()
            return
        if self._login is None or self._sync_lock.locked():
            return
        scope, state = self._login, self.state
        repo, engine = scope.carnets, scope.engine
        async with self._sync_lock:
            state.start_sync()
            ended = gated = False
            online: bool | None = None
            error: str | None = None
            keep_error = True
            try:
                report = await engine.run()
                if report.offline:
                    raise NetworkError("sync: no answer")
                me = await self.api.me()
                if me.privacy is not None and not me.privacy.accepted:
                    raise PrivacyNoticeRequired(403, "privacy_notice_required", "")  # published meanwhile
                carnets = [await self.api.carnet(p.id) for p in me.patients]
                try:
                    jwks: dict[str, object] | None = await self.api.jwks()
                except (HttpError, ProtocolError):
                    jwks = None
                now = self.clock()
                repo.save_me(me, fetched_at=now)
                for carnet in carnets:
                    repo.save_carnet(carnet, fetched_at=now)
                if jwks is not None:
                    repo.save_jwks(jwks, fetched_at=now)
                await scope.fever.fetch_cards([p.id for p in me.patients])
                await scope.blood_bank.fetch_reference()
                await self.activation.fetch_guardians(list(me.patients))
                error = self.message_for(report.error) if report.error else None
                online, keep_error = True, False
            except NetworkError:
                online, keep_error = False, True
            except AuthError:
                online, keep_error, ended = None, True, True
            except PrivacyNoticeRequired:
                online, keep_error, gated = True, True, True
            except ApiError as exc:
                online, keep_error, error = True, False, self.message_for(exc)
            except BaseException:
                state.sync_done(keep_error=True)
                raise
        if gated:
            state.sync_done(online=online, keep_error=keep_error)
            await self.privacy.required()  # shown already when a request met the 403
            return
        if ended:
            state.sync_done(keep_error=True)
            # Expired, not a logout: keep the store, so unsent writes reach the
            # server once the same person logs in again.
            await self.session_expired()
            return
        with state.batch():
            state.sync_done(online=online, error=error, keep_error=keep_error)
            self._load_from_repo()
        await self.reschedule_reminders()

    def _notifier(self) -> Notifier | None:
        scope = self._login
        if self.notification_plugin is None or scope is None or self.state.staff_mode:
            return None
        handed = StoreHanded(self.store, scope.user_id) if self.store is not None else MemoryHanded()
        return Notifier(self.notification_plugin, handed)

    async def reschedule_reminders(self) -> None:
        """The phone's own reminders (a phone only: ``notification_plugin``), from the synced records and the
        kinds chosen in Ajustes → Recordatorios; each rings once (carnet/reminders/)."""
        notifier, scope = self._notifier(), self._login
        if notifier is None or scope is None:
            return
        carnets = [found[0] for p in self.state.children if (found := scope.carnets.carnet(p.id)) is not None]
        wanted = schedule.wanted(
            kinds=self.state.reminders.kinds,
            now=self.clock(),
            appointments=scope.records.appointments().values(),
            bookings=scope.bookings.bookings().values(),
            carnets=carnets,
            incidents=scope.incidents.incidents().values(),
            translator=self.tr,
        )
        if wanted and not self._notifications_asked:
            # Android 13+ and iOS ask the person once, when there is first something to remind them of.
            self._notifications_asked = True
            ask = getattr(self.notification_plugin, "request_permissions", None)
            if ask is not None:
                try:
                    await ask()
                except Exception as exc:  # noqa: BLE001 - no permission: the reminders just do not ring
                    log.warning("notifications: the permission request failed (%s)", type(exc).__name__)
        await notifier.reconcile(wanted)

    def select_child(self, patient_id: str) -> None:
        if self._login is not None:
            self._login.patients.select_child(patient_id)

    def show(self, screen: Screen) -> None:
        self.state.go_to(screen)

    def show_tab(self, tab: Tab) -> None:
        """The navigation bar: the carnet (or the child picker) or the agenda."""
        state = self.state
        with state.batch():
            if tab is Tab.AGENDA:
                state.go_to(Screen.AGENDA, tab=tab)
                self.agenda.reload()
            elif tab is Tab.BLOOD_BANK:
                state.go_to(Screen.BLOOD_BANK, tab=tab)
                self.blood_bank.reload()
            else:
                state.go_to(Screen.CARNET if state.selected_child_id else Screen.CHILDREN, tab=tab)

    def open_appointment(self, appointment_id: str) -> None:
        """The carnet's next appointment, opened in the agenda tab."""
        if self._login is None:
            return
        with self.state.batch():
            self._login.agenda.reload()
            self.state.choose_tab(Tab.AGENDA)
            self._login.agenda.open(appointment_id)

    def back(self) -> None:
        """Settings and the sync screen go back to their tab; a carnet goes back to the picker."""
        state = self.state
        if self.account.back() or self.admin.back() or self.whatsapp.back():
            return
        if self._login is not None and self._login.reminders.back():
            return
        if self.staff_modes.back():
            return
        if state.screen in (Screen.REPORT_FORM, Screen.REPORTS, Screen.REPORT):
            self.report.back()
            return
        if state.screen in FEVER_SCREENS:
            self.fever.back()
            return
        elif state.screen in (Screen.SETTINGS, Screen.SYNC_STATUS) and state.tab is Tab.AGENDA:
            state.go_to(Screen.AGENDA)
        elif state.screen in (Screen.SETTINGS, Screen.SYNC_STATUS) and state.tab is Tab.BLOOD_BANK:
            with state.batch():
                state.go_to(Screen.BLOOD_BANK)
                self.blood_bank.reload()
        elif state.screen in (Screen.BOOKING_FORM, Screen.BOOKING) or (
            state.screen is Screen.BLOOD_BANK and state.blood_bank.rescheduling_id
        ):
            self.blood_bank.close()
            return
        elif state.screen in (Screen.APPOINTMENT, Screen.APPOINTMENT_FORM):
            self.agenda.close()
            return
        elif state.screen in (Screen.SETTINGS, Screen.SYNC_STATUS) and state.selected_child_id:
            state.go_to(Screen.CARNET)
        elif len(state.children) > 1 or state.screen in (Screen.SETTINGS, Screen.SYNC_STATUS):
            state.go_to(Screen.CHILDREN)

    def show_sync_status(self) -> None:
        with self.state.batch():
            self.agenda.reload()
            self.state.go_to(Screen.SYNC_STATUS)

    def retry_item(self, item_id: str) -> None:
        if self._login is not None and self._login.outbox.retry(item_id):
            with self.state.batch():
                self.agenda.reload()
                self.blood_bank.reload()
                self.report.reload()
                self.reminders.reload()
                self.fever.reload()
            self.request_sync()

    def discard_item(self, item_id: str) -> None:
        if self._login is not None and self._login.outbox.discard(item_id):
            with self.state.batch():
                self.agenda.reload()
                self.blood_bank.reload()
                self.report.reload()
                self.reminders.reload()
                self.fever.reload()

    async def set_locale(self, locale: str) -> None:
        with self.state.batch():
            self._apply_locale(locale)
            self.state.clear_errors()
        await self.secrets.set(LOCALE_SECRET, self.tr.locale)

    def unsent(self) -> list[OutboxItem]:
        """The writes this phone has not got to the server yet (waiting or refused), oldest first."""
        return self._login.outbox.items() if self._login is not None else []

    async def ask_logout(self) -> None:
        """ "Cerrar sesión": at once when nothing is unsent; else the question, saying how many and what (a logout
        erases them with the rest of the phone's data)."""
        unsent = self.unsent()
        if not unsent:
            await self.logout()
            return
        self.state.ask_logout(describe_unsent(self.tr, unsent))

    def cancel_logout(self) -> None:
        """ "Cancelar": the session and every unsent write stay as they were."""
        self.state.close_logout_question()

    async def send_and_logout(self) -> None:
        """ "Enviar y cerrar sesión": a sync now; the logout only once nothing is left unsent, else what stayed."""
        state, scope = self.state, self._login
        if scope is None or state.logout_sending:
            return
        state.start_logout_send()
        scope.outbox.network_is_back(self.clock())  # the person asked for it: writes waiting for the network go now
        async with self._sync_lock:
            pass  # a sync already under way ends first
        await self.refresh()
        if self._login is not scope:
            return  # the session ended meanwhile (expired: its writes are kept for the same person)
        left = scope.outbox.items()
        if not left:
            await self.logout()
            return
        what = describe_unsent(self.tr, left)
        problem = "logout_not_sent_offline" if state.online is False else "logout_not_sent"
        state.logout_send_failed(self.tr.t(problem, what=what), what)

    async def logout(self) -> None:
        """Log out now: a family's cached data and unsent writes are erased (``ask_logout`` asks first)."""
        await self._server_logout()
        if self.state.staff_mode or self.state.password_change_required:
            await self.session_expired(None)
            return
        await self._end_session(None)

    async def session_expired(self, message: str | None = "") -> None:
        """The session ended (401 after a refresh, or a logout): back to login.

        Staff mode kept nothing on the device; a family's store keeps its unsent writes for the same person.
        """
        if self.state.staff_mode or self.state.password_change_required:
            self.api.tokens = None
            self.state.reset_to_login(self.tr.t("err_session_ended") if message == "" else message)
            return
        user = self.state.user
        pending = self._login.outbox.pending_count() if self._login is not None else 0
        await self._end_session(
            self.tr.t("err_session_ended_kept" if pending else "err_session_ended"), keep_for=user.id if user else None
        )

    def dismiss_notices(self) -> None:
        self.state.dismiss_notices()

    async def password_changed(self) -> None:
        """The server ended every session of the account: back to login (see ``sign_out_keeping_data``)."""
        await self.sign_out_keeping_data(self.tr.t("acct_password_changed"))

    async def sign_out_keeping_data(self, info: str) -> None:
        """End the session (on the server too) but keep the phone's store for the same person.

        For a password change and for "Ahora no" on the privacy notice: the same person logs in again
        soon, and what they wrote offline (a report, an appointment) must not be lost meanwhile. Another
        account logging in on the phone wipes the store, as after an expired session.
        """
        await self._server_logout()
        if self.state.staff_mode or self.state.password_change_required:
            self.state.reset_to_login(None)
        else:
            user = self.state.user
            await self._end_session(None, keep_for=user.id if user else None)
        self.state.show_login_info(info)

    def reload_from_store(self) -> None:
        """Re-read what the screens show from the phone's store (no redraw)."""
        self._load_from_repo()

    async def _privacy_required(self) -> None:
        await self.privacy.required()

    # ---- messages ----------------------------------------------------------

    def message_for(self, exc: ApiError, *, login: bool = False) -> str:
        """One sentence for a person, in the app's language."""
        return message_for(self.tr, exc, login=login)

    # ---- internals ---------------------------------------------------------

    def _apply_locale(self, locale: str) -> None:
        try:
            self.tr.set_locale(locale)
        except ValueError:
            return
        self.api.locale = self.tr.locale
        self.state.show_in(self.tr.locale)

    def _enter(self, user: contract.UserOut) -> None:
        assert self.store is not None
        with self.state.batch():
            self.state.enter_family(user)
            self._open_scope(user)
            self._load_from_repo()

    def _open_scope(self, user: contract.UserOut) -> None:
        assert self.store is not None
        self._login = LoginScope.open(
            user.id,
            store=self.store,
            state=self.state,
            api=self.api,
            tr=self.tr,
            clock=self.clock,
            backoff=self.backoff,
            describe=self._describe_rejection,
            request_sync=self.request_sync,
            session_expired=self.session_expired,
            qr_issuer=self.config.qr_issuer,
            accepted_kids=self.config.accepted_kids,
        )

    def _load_from_repo(self) -> None:
        scope = self._login
        if scope is None:
            return
        with self.state.batch():
            scope.patients.reload()
            scope.agenda.reload()
            scope.blood_bank.reload()
            scope.report.reload()
            scope.reminders.reload()
            scope.fever.reload()
            self.rights.reload()
            scope.patients.load_carnet()

    def _describe_rejection(self, exc: ApiError) -> str:
        return describe_rejection(self.tr, exc)

    async def _save_tokens(self, tokens: contract.TokenResponse) -> None:
        if tokens.user.role != contract.Role.GUARDIAN or tokens.password_change_required:
            return  # staff sessions live in memory only (a shared counter device): log in again
        payload = {
            "user": tokens.user.model_dump(mode="json"),
            "access_token": tokens.access_token,
            "refresh_token": tokens.refresh_token,
        }
        await self.secrets.set(SESSION_SECRET, json.dumps(payload))

    async def _load_saved_session(self) -> tuple[contract.UserOut, Tokens] | None:
        raw = await self.secrets.get(SESSION_SECRET)
        if not raw:
            return None
        try:
            data = json.loads(raw)
            user = contract.UserOut.model_validate(data["user"])
            return user, Tokens(str(data["access_token"]), str(data["refresh_token"]))
        except (ValueError, KeyError, TypeError):
            await self.secrets.delete(SESSION_SECRET)
            return None

    async def _server_logout(self) -> None:
        if self.api.tokens is None:
            return
        try:
            await self.api.logout()
        except ApiError as exc:  # offline: the local session ends anyway
            log.info("logout not confirmed by the server: %s", type(exc).__name__)
        self.api.tokens = None

    async def _end_session(self, message: str | None, *, keep_for: str | None = None) -> None:
        """Forget the tokens; back to the login screen.

        A logout (``keep_for`` None) erases every cached record and unsent write;
        an expired session keeps them for ``keep_for`` (the user id) alone.
        """
        self.api.tokens = None
        await self.secrets.delete(SESSION_SECRET)
        if keep_for is None:
            notifier = self._notifier()
            if notifier is not None:  # a logout: nothing naming the children rings any more
                await notifier.clear()
            await self.secrets.delete(KEPT_FOR_SECRET)
            await self._wipe_store()
        else:
            await self.secrets.set(KEPT_FOR_SECRET, keep_for)
        if self._login is not None:
            self._login.end()
            self._login = None
        self.state.reset_to_login(message)

    async def _wipe_store(self) -> None:
        if self.store is not None:
            await destroy_store(self.store, self.secrets)
            self.store.close()
            self.store = (await open_store(self.secrets, self.data_dir)).store
