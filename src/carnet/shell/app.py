"""The Flet entry point: wire the services to a page and redraw on every state change."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

import flet as ft
from flet.controls.base_control import BaseControl

from carnet.core.clock import local_date
from carnet.core.config import load_config
from carnet.core.i18n import Translator
from carnet.core.navigation import (
    ACCOUNT_SCREENS,
    CHEMO_SCREENS,
    FEVER_DESK_SCREENS,
    FEVER_SCREENS,
    REPORT_BUTTON_SCREENS,
    Phase,
    Screen,
    Tab,
)
from carnet.core.observable import Observable
from carnet.data.secret_store import MemorySecretStore, SecretStore, select_secret_store
from carnet.data.store import default_data_dir
from carnet.shell.graft import Grafter
from carnet.shell.notifications import notification_plugin
from carnet.shell.session import AppSession
from carnet.shell.state import AppState
from carnet.views import settings as settings_view
from carnet.views import sync_status as sync_view
from carnet.views.admin import screen as admin_view
from carnet.views.agenda import appointment as appointment_view
from carnet.views.agenda import calendar as agenda_view
from carnet.views.agenda.appointment_form import AppointmentFormView
from carnet.views.auth import account as account_view
from carnet.views.auth.login import LoginView
from carnet.views.blood_bank import booking as booking_view
from carnet.views.blood_bank import bookings as blood_bank_view
from carnet.views.blood_bank import staff as staff_view
from carnet.views.blood_bank.booking_form import BookingFormView
from carnet.views.chemotherapy.plan import ChemotherapyView
from carnet.views.common import GREEN, awaiting, is_wide, nav_bar, starting_view, sync_icon
from carnet.views.enrolment import activation as activation_view
from carnet.views.enrolment import desk as oncology_view
from carnet.views.fever import desk as fever_desk_view
from carnet.views.fever import family as fever_view
from carnet.views.incidents import desk as desk_view
from carnet.views.incidents import reports as incidents_view
from carnet.views.patients import carnet as carnet_view
from carnet.views.patients import children as children_view
from carnet.views.pharmacy import counter as pharmacy_view
from carnet.views.privacy import notice as privacy_view
from carnet.views.reminders import screen as reminders_view
from carnet.views.whatsapp import screen as whatsapp_view

__all__ = ["DEVICE_ENV", "CarnetUI", "main"]

log = logging.getLogger(__name__)

#: ``carnet --web --device`` sets it: the browser shows ONE phone's app (secrets in the keyring, the
#: offline store in the data folder, kept across restarts), to try offline use where no phone is at hand.
DEVICE_ENV = "CARNET_WEB_DEVICE"
#: Seconds between two refreshes of the fever desk's open episodes while it is on screen.
FEVER_DESK_TICK = 30.0
#: Holds one entry while a browser shows the emulated phone (``--device``): a second one is turned away.
_device_open: set[str] = set()


class CarnetUI:
    """Draws the session's state on the page; turns clicks into session calls."""

    def __init__(self, page: ft.Page, session: AppSession) -> None:
        self.page = page
        self.session = session
        self._login: LoginView | None = None
        self._form: AppointmentFormView | None = None
        self._booking_form: BookingFormView | None = None
        self._report_form: incidents_view.ReportFormView | None = None
        self._report_view: incidents_view.ReportView | None = None
        self._desk_case: desk_view.DeskCaseView | None = None
        self._pharmacy: pharmacy_view.PharmacyView | None = None
        self._password: account_view.PasswordView | None = None
        self._closure: account_view.ClosureView | None = None
        self._activation: activation_view.ActivationView | None = None
        self._link: activation_view.LinkChildView | None = None
        self._oncology: oncology_view.OncologyView | None = None
        self._chemotherapy: ChemotherapyView | None = None
        self._admin: admin_view.AdminView | None = None
        self._fever: fever_view.FeverView | None = None
        self._fever_desk: fever_desk_view.FeverDeskView | None = None
        self._tasks: list[Future[Any]] = []
        #: Flet services (file picker, share sheet, connectivity): kept referenced while the page lives.
        self.services: dict[str, Any] = {}
        self._graft = Grafter()
        #: The layout last drawn: a desk PC's window (True) or a phone's; a resize across it redraws.
        self._drawn_wide = False
        session.state.subscribe(self._state_changed)

    @property
    def wide(self) -> bool:
        """A desk PC's window (``page.width``, kept current by the client): staff desks show their list as a
        table with the detail beside it. Family screens stay phone screens at any width."""
        return is_wide(self.page.width)

    @property
    def has_camera(self) -> bool:
        """flet-camera works in a browser and on Android/iOS, not in a desktop window."""
        return bool(self.page.web) or _platform(self.page) in ("android", "ios")

    def on_resize(self, _: Any = None) -> None:
        """The window was resized (Flet has already set ``page.width``): a staff screen is drawn again when
        the window crossed the desk width (a family's screen is the same at any width: left as it is)."""
        state = self.session.state
        if self.wide != self._drawn_wide and state.phase is Phase.READY and state.staff_mode:
            self.render()

    def _state_changed(self, parts: frozenset[Observable]) -> None:
        """A change redraws the screen shown only when that screen draws what changed."""
        state = self.session.state
        if state in parts or not parts.isdisjoint(self._drawn_parts()):
            self.render()

    def _drawn_parts(self) -> tuple[Observable, ...]:
        """The feature states the screen shown draws (besides the app's own fields, which every screen may)."""
        state = self.session.state
        if state.phase is Phase.LOGIN:
            return (state.enrolment,)
        if state.phase is Phase.PRIVACY:
            return state.privacy, state.account
        if state.phase is not Phase.READY or state.screen is Screen.SETTINGS:
            return ()
        if state.screen in ACCOUNT_SCREENS:
            return state.account, state.privacy
        if state.screen is Screen.WHATSAPP:
            return (state.whatsapp,)
        if state.screen is Screen.REMINDERS:
            return (state.reminders,)
        if state.screen is Screen.ADMIN:
            return state.admin, state.oncology
        if state.staff_mode and state.screen in FEVER_DESK_SCREENS:
            return (state.fever_desk,)
        if state.desk_mode:
            return state.desk, state.fever_desk  # the fever desk's: the home screen's alert of open episodes
        if state.oncology_mode:
            return state.oncology, state.chemotherapy, state.fever_desk
        if state.pharmacy_mode:
            return (state.pharmacy,)
        if state.staff_mode:
            return (state.staff,)
        drawn = _FAMILY_PARTS.get(state.screen)
        return drawn(state) if drawn is not None else ()

    # ---- actions (event handlers) -------------------------------------------

    async def _refresh(self, _: Any = None) -> None:
        if await self.session.staff_modes.refresh():
            return
        await self.session.refresh()
        if self.session.state.screen is Screen.BLOOD_BANK:
            await self.session.blood_bank.load_slots()  # the places left after this sync

    async def _logout(self, _: Any = None) -> None:
        await self.session.logout()

    async def _ask_logout(self, _: Any = None) -> None:
        await self.session.ask_logout()

    async def _send_and_logout(self, _: Any = None) -> None:
        await self.session.send_and_logout()

    def _cancel_logout(self, _: Any = None) -> None:
        self.session.cancel_logout()

    def _settings(self, _: Any = None) -> None:
        self.session.show(Screen.SETTINGS)

    async def _account(self, _: Any = None) -> None:
        await self.session.account.open()

    async def _whatsapp(self, _: Any = None) -> None:
        await self.session.whatsapp.open()

    async def _reminders(self, _: Any = None) -> None:
        if self.session.login_scope is not None:
            await self.session.reminders.open()

    async def _admin_screen(self, _: Any = None) -> None:
        self.session.oncology.clear_import()
        await self.session.admin.open()

    def _back(self, _: Any = None) -> None:
        self.session.back()

    def _dismiss(self, _: Any = None) -> None:
        self.session.dismiss_notices()

    def _pick(self, patient_id: str) -> None:
        self.session.select_child(patient_id)

    def _locale(self, locale: str | None) -> None:
        if locale:
            self.page.run_task(self.session.set_locale, locale)

    async def _tab(self, tab: Tab) -> None:
        if tab is Tab.BLOOD_BANK:
            await self.session.blood_bank.open()
        else:
            self.session.show_tab(tab)

    def _report(self, _: Any = None) -> None:
        self.session.report.start()

    def _reports(self, _: Any = None) -> None:
        self.session.report.show_list()

    def _sync_status(self, _: Any = None) -> None:
        self.session.show_sync_status()

    def _open_appointment(self, appointment_id: str) -> None:
        self.session.open_appointment(appointment_id)

    async def _calendar(self, _: Any = None) -> None:
        agenda = self.session.agenda
        selected = self.session.state.agenda.selected_id
        made = agenda.calendar_file(selected) if selected else None
        if made is None:
            return
        agenda.calendar_result(await self.deliver_file(*made))

    async def deliver_file(self, name: str, data: bytes) -> bool:
        """Phones: the share sheet (calendar apps import .ics). Web: a download. Desktop: a save dialog."""
        try:
            if _platform(self.page) in ("android", "ios"):
                share: ft.Share = self.services.setdefault("share", ft.Share())
                result = await share.share_files([ft.ShareFile.from_bytes(data, mime_type="text/calendar", name=name)])
                return result.status != ft.ShareResultStatus.DISMISSED
            picker: ft.FilePicker = self.services.setdefault("file_picker", ft.FilePicker())
            path = await picker.save_file(
                file_name=name, src_bytes=data, file_type=ft.FilePickerFileType.CUSTOM, allowed_extensions=["ics"]
            )
            return bool(self.page.web or path)
        except Exception as exc:  # noqa: BLE001 - a platform without the service: say so, don't crash
            log.warning("calendar file not delivered: %s", type(exc).__name__)
            return False

    def _save_form(self, form: Any) -> None:
        if self.session.agenda.save(form):
            self._form = None

    def _back_from_form(self, _: Any = None) -> None:
        self._form = None
        self.session.back()

    # ---- drawing --------------------------------------------------------------

    def build_view(self) -> ft.View:
        view = self._build_view()
        state = self.session.state
        if (
            state.phase is Phase.READY
            and state.user is not None
            and not state.staff_mode
            and state.screen in REPORT_BUTTON_SCREENS
            and not any(getattr(c, "data", None) == incidents_view.REPORT_BAR for c in view.controls)
        ):
            # "Reportar un problema", in words, under the app bar of every family screen but forms.
            view.controls.insert(0, incidents_view.report_bar(self.session.tr, self._report))
        return view

    def _build_view(self) -> ft.View:
        state, tr = self.session.state, self.session.tr
        if state.phase is Phase.STARTING:
            return starting_view(tr)
        if state.phase is Phase.LOGIN:
            self._pharmacy = self._oncology = self._chemotherapy = None  # nothing of the last scan or child stays
            if state.enrolment.activating:
                if self._activation is None:
                    self._activation = activation_view.ActivationView(
                        self.session.activation, self.render, camera=self.has_camera
                    )
                return self._activation.build(state, tr, on_back=lambda _: self.session.activation.open(False))
            self._activation = None
            if self._login is None:
                self._login = LoginView(
                    self.session.login,
                    on_activate=lambda _: self.session.activation.open(),
                    autofocus=_platform(self.page) is not None,
                )
            return self._login.build(state, tr)
        self._login = self._activation = None
        if state.phase is Phase.PRIVACY:
            return privacy_view.build_gate(state, tr, self.session.privacy)
        if not state.pharmacy_mode:
            self._pharmacy = None
        if state.screen is not Screen.APPOINTMENT_FORM:
            self._form = None
        if state.screen is not Screen.BOOKING_FORM:
            self._booking_form = None
        if state.screen is not Screen.ACCOUNT_PASSWORD:
            self._password = None
        if state.screen is not Screen.ACCOUNT_CLOSURE:
            self._closure = None
        if state.screen is not Screen.ACCOUNT_LINK:
            self._link = None
        if not state.oncology_mode:
            self._oncology = self._chemotherapy = None
        if state.screen is not Screen.ADMIN:
            self._admin = None
        if state.screen is not Screen.FEVER:
            self._fever = None
        if not state.staff_mode:
            self._fever_desk = None
        if state.screen is Screen.WHATSAPP:
            return whatsapp_view.build(state, tr, self.session.whatsapp, on_back=self._back)
        if state.screen is Screen.REMINDERS and self.session.login_scope is not None:
            return reminders_view.build(state, tr, self.session.reminders, on_back=self._back)
        if state.screen is Screen.SETTINGS or state.screen in ACCOUNT_SCREENS:
            if self._pharmacy is not None:
                self._pharmacy.forget_screen()
            if state.screen in ACCOUNT_SCREENS:
                return self._build_account()
            return settings_view.build(
                state,
                tr,
                on_back=self._back,
                on_locale=self._locale,
                on_logout=self._ask_logout,
                on_send_and_logout=self._send_and_logout,
                on_discard_and_logout=self._logout,
                on_cancel_logout=self._cancel_logout,
                on_sync_status=None if state.staff_mode else self._sync_status,
                on_account=self._account,
                on_admin=self._admin_screen,
                on_whatsapp=None if state.staff_mode else self._whatsapp,
                on_reminders=None if state.staff_mode or self.session.login_scope is None else self._reminders,
            )
        if state.screen is Screen.ADMIN:
            if self._admin is None:
                self._admin = admin_view.AdminView(self.session.admin, self.render, self.session.oncology)
            return self._admin.build(state, tr, on_back=self._back, wide=self.wide)
        if state.staff_mode and state.screen in FEVER_DESK_SCREENS:
            if self._fever_desk is None:
                self._fever_desk = fever_desk_view.FeverDeskView(self.session.fever_desk, camera=self.has_camera)
            return self._fever_desk.build(
                state, tr, now=self.session.clock(), on_back=self._back, on_refresh=self._refresh, wide=self.wide
            )
        if state.desk_mode:
            return self._build_desk()
        if state.oncology_mode and state.screen in CHEMO_SCREENS:
            if self._chemotherapy is None:
                self._chemotherapy = ChemotherapyView(self.session.chemotherapy, self.render, self.session.clock)
            return self._chemotherapy.build(state, tr, on_back=self._back, on_refresh=self._refresh, wide=self.wide)
        if state.oncology_mode:
            if self._oncology is None:
                self._oncology = oncology_view.OncologyView(
                    self.session.oncology,
                    self.render,
                    open_plan=self.session.chemotherapy.open,
                    open_fever=self.session.fever_desk.open,
                    open_fever_figures=self.session.fever_desk.show_figures,
                )
            return self._oncology.build(
                state, tr, on_back=self._back, on_refresh=self._refresh, on_settings=self._settings, wide=self.wide
            )
        if state.pharmacy_mode:
            if self._pharmacy is None:
                self._pharmacy = pharmacy_view.PharmacyView(self.session.pharmacy, camera=self.has_camera)
            return self._pharmacy.build(
                state,
                tr,
                now=self.session.clock(),
                on_refresh=self._refresh,
                on_settings=self._settings,
                wide=self.wide,
            )
        if state.staff_mode:
            return staff_view.build(
                state, tr, self.session.staff, on_refresh=self._refresh, on_settings=self._settings, wide=self.wide
            )
        if state.screen not in (Screen.REPORT_FORM,):
            self._report_form = None
        if state.screen is not Screen.REPORT:
            self._report_view = None
        if state.screen in (Screen.REPORT_FORM, Screen.REPORTS, Screen.REPORT):
            return self._build_reports()
        if state.screen in FEVER_SCREENS:
            return self._build_fever()
        return self._build_family()

    def _build_fever(self) -> ft.View:
        """ "Tiene fiebre" and the emergency card (readable offline)."""
        state, tr, cases = self.session.state, self.session.tr, self.session.fever
        now = self.session.clock()
        if state.screen is Screen.EMERGENCY_CARD:
            return fever_view.build_card(state, tr, cases, now=now, on_back=self._back, on_refresh=self._refresh)
        if self._fever is None:
            self._fever = fever_view.FeverView(cases, now)
        return self._fever.build(
            state, tr, on_back=self._back, on_card=lambda _: cases.open_card(), on_refresh=self._refresh
        )

    def _build_account(self) -> ft.View:
        """ "Mi cuenta" and its screens (every role reaches them from settings)."""
        state, tr, cases = self.session.state, self.session.tr, self.session.account
        if state.screen is Screen.ACCOUNT_PASSWORD:
            if self._password is None:
                self._password = account_view.PasswordView(cases, self.render)
            # A temporary password: nothing else until it is changed; "back" ends the session.
            back = self._logout if state.password_change_required else self._back
            return self._password.build(state, tr, on_back=back, pending=self.session.pending_count())
        if state.screen is Screen.ACCOUNT_LINK:
            if self._link is None:
                self._link = activation_view.LinkChildView(self.session.activation)
            return self._link.build(state, tr, on_back=self._back)
        if state.screen is Screen.ACCOUNT_CLOSURE:
            if self._closure is None:
                self._closure = account_view.ClosureView(cases, self.session.rights)
            return self._closure.build(state, tr, on_back=self._back)
        if state.screen is Screen.ACCOUNT_NOTICE:
            return privacy_view.build_reread(state, tr, self.session.privacy, on_back=self._back)
        return account_view.build(
            state,
            tr,
            cases,
            self.session.rights,
            on_back=self._back,
            on_link=lambda _: self.session.activation.show_link(),
        )

    def _build_reports(self) -> ft.View:
        state, tr, cases = self.session.state, self.session.tr, self.session.report
        now = self.session.clock()
        if state.screen is Screen.REPORT_FORM and state.incidents.form is not None:
            if self._report_form is None or self._report_form.form is not state.incidents.form:
                self._report_form = incidents_view.ReportFormView(state.incidents.form, cases)
            return self._report_form.build(state, tr, on_back=self._back, on_list=self._reports)
        if state.screen is Screen.REPORT and state.selected_report is not None:
            if self._report_view is None:
                self._report_view = incidents_view.ReportView(cases)
            return self._report_view.build(
                state,
                tr,
                now=now,
                on_back=self._back,
                on_refresh=self._refresh,
                on_retry=self.session.retry_item,
                on_discard=self.session.discard_item,
            )
        return incidents_view.build_list(
            state,
            tr,
            cases,
            now=now,
            on_back=self._back,
            on_new=self._report,
            on_refresh=self._refresh,
            on_dismiss=self._dismiss,
        )

    def _build_desk(self) -> ft.View:
        state, tr, desk = self.session.state, self.session.tr, self.session.desk
        now = self.session.clock()
        if state.screen is not Screen.DESK_CASE:
            self._desk_case = None
        if state.screen is Screen.DESK_CASE:
            if self._desk_case is None:
                self._desk_case = desk_view.DeskCaseView(desk)
            if self.wide:  # a desk PC: the case beside the queue, on the queue's screen
                case = self._desk_case.pane(state, tr, now=now, on_close=self._back)
                return desk_view.build_queue(
                    state,
                    tr,
                    desk,
                    now=now,
                    on_refresh=self._refresh,
                    on_settings=self._settings,
                    wide=True,
                    case=case,
                    on_fever=awaiting(self.session.fever_desk.open),
                )
            return self._desk_case.build(state, tr, now=now, on_back=self._back)
        if state.screen is Screen.DESK_WEEKLY:
            return desk_view.build_weekly(
                state, tr, desk, on_back=self._back, on_fever=awaiting(self.session.fever_desk.show_figures, 0)
            )
        return desk_view.build_queue(
            state,
            tr,
            desk,
            now=now,
            on_refresh=self._refresh,
            on_settings=self._settings,
            wide=self.wide,
            on_fever=awaiting(self.session.fever_desk.open),
        )

    def _build_family(self) -> ft.View:
        state, tr = self.session.state, self.session.tr
        agenda, blood_bank = self.session.agenda, self.session.blood_bank
        if state.screen is Screen.BOOKING_FORM and state.blood_bank.form is not None:
            if self._booking_form is None or self._booking_form.form is not state.blood_bank.form:
                self._booking_form = BookingFormView(state.blood_bank.form, blood_bank)
            return self._booking_form.build(state, tr, on_back=self._back)
        if state.screen is Screen.BOOKING:
            return booking_view.build(
                state,
                tr,
                blood_bank,
                now=self.session.clock(),
                on_back=self._back,
                on_dismiss=self._dismiss,
                on_retry=self.session.retry_item,
                on_discard=self.session.discard_item,
            )
        if state.screen is Screen.SYNC_STATUS:
            return sync_view.build(
                state,
                tr,
                on_back=self._back,
                on_sync_now=self._refresh,
                on_retry=self.session.retry_item,
                on_discard=self.session.discard_item,
                on_dismiss=self._dismiss,
            )
        if state.screen is Screen.APPOINTMENT_FORM and state.agenda.form is not None:
            if self._form is None or self._form.form.record_id != state.agenda.form.record_id:
                self._form = AppointmentFormView(state.agenda.form, self._save_form)
            return self._form.build(
                state, tr, on_back=self._back_from_form, on_message_dismiss=lambda _: agenda.dismiss_message()
            )
        if state.screen is Screen.APPOINTMENT:
            selected = state.agenda.selected_id
            return appointment_view.build(
                state,
                tr,
                on_back=self._back,
                on_calendar=self._calendar,
                on_edit=lambda _: agenda.edit(selected) if selected else None,
                on_ask_delete=lambda _: agenda.ask_delete(True),
                on_cancel_delete=lambda _: agenda.ask_delete(False),
                on_delete=lambda _: agenda.delete(selected) if selected else None,
                on_dismiss=self._dismiss,
                on_message_dismiss=lambda _: agenda.dismiss_message(),
            )
        now = self.session.clock()
        status_button = sync_icon(state, tr, self._sync_status)
        if state.screen is Screen.BLOOD_BANK:
            return blood_bank_view.build(
                state,
                tr,
                blood_bank,
                now=now,
                on_tab=self._tab,
                on_refresh=self._refresh,
                on_settings=self._settings,
                on_sync_status=self._sync_status,
                on_dismiss=self._dismiss,
            )
        if state.screen is Screen.AGENDA:
            return agenda_view.build(
                state,
                tr,
                agenda.visible(),
                today=agenda.today(),
                now=now,
                on_tab=self._tab,
                on_refresh=self._refresh,
                on_settings=self._settings,
                on_sync_status=self._sync_status,
                on_dismiss=self._dismiss,
                on_message_dismiss=lambda _: agenda.dismiss_message(),
                on_month=agenda.move_month,
                on_day=agenda.pick_day,
                on_child=agenda.filter_child,
                on_kind=agenda.filter_kind,
                on_open=agenda.open,
                on_add=lambda _: agenda.new(),
            )
        bar = nav_bar(state, tr, self._tab)
        if state.screen is Screen.CARNET and state.selected_child_id:
            return carnet_view.build(
                state,
                tr,
                today=local_date(now),
                now=now,
                on_back=self._back if len(state.children) > 1 else None,
                on_refresh=self._refresh,
                on_settings=self._settings,
                on_dismiss=self._dismiss,
                sync_button=status_button,
                navigation_bar=bar,
                on_open_appointment=self._open_appointment,
                access=activation_view.access_section(state, tr, state.selected_child_id),
                fever=[
                    fever_view.fever_button(tr, lambda _: self.session.fever.open()),
                    fever_view.card_button(tr, lambda _: self.session.fever.open_card()),
                ],
            )
        return children_view.build(
            state,
            tr,
            on_pick=self._pick,
            on_refresh=self._refresh,
            on_settings=self._settings,
            on_dismiss=self._dismiss,
            sync_button=status_button,
            navigation_bar=bar,
        )

    def render(self) -> None:
        self._graft.start()
        self._drawn_wide = self.wide
        view = self.build_view()
        self.page.title = self.session.tr.t("app_title")
        live = self.page.views[0] if len(self.page.views) == 1 else None
        if live is view:
            pass  # a screen that updates its own controls in place: kept (focus too)
        elif live is not None and live.route == view.route:
            _adopt(live, view, self._graft)  # the same screen redrawn: the live view, its scroll and fields stay
        else:
            if live is not None and _drop_autofill_groups(live):
                self.page.update()  # the groups leave now, while the old screen is still the current one
            self.page.views.clear()
            self.page.views.append(view)
        self.page.update()
        self._graft.drawn(self.page.views[0])
        if (
            self._pharmacy is not None
            and self._pharmacy.take_focus_request()
            and _platform(self.page) not in ("android", "ios")
        ):
            # The scanner field is ready for the next code. Not on a phone: there the focus would raise
            # the soft keyboard over the result after every scan.
            self.page.run_task(self._pharmacy.focus)

    # ---- background work ----------------------------------------------------

    def start_background(self, sync_now: bool) -> None:
        if sync_now:
            self._tasks.append(self.page.run_task(self.session.refresh))
        self._tasks.append(self.page.run_task(self.session.run_periodic_sync))
        self._tasks.append(self.page.run_task(self._fever_clock))

    async def _fever_clock(self) -> None:
        """The unit's fever desk runs a 60-minute clock: while it is on screen, its episodes are fetched again every
        :data:`FEVER_DESK_TICK` seconds (a family's new notice appears, the minutes since arrival move on)."""
        while True:
            await asyncio.sleep(FEVER_DESK_TICK)  # a clock's tick, not a wait for state
            state = self.session.state
            if state.phase is Phase.READY and state.staff_mode and state.screen is Screen.FEVER_DESK:
                try:
                    await self.session.fever_desk.load()
                except Exception as exc:  # noqa: BLE001 - a background tick: the next one tries again
                    log.info("fever desk not refreshed: %s", type(exc).__name__)

    def watch_connectivity(self) -> None:
        """Flet's connectivity service: when the network comes back, waiting writes go at once."""
        try:
            connectivity = ft.Connectivity()
        except Exception as exc:  # noqa: BLE001 - not every client has it: the engine's own detection remains
            log.info("no connectivity service: %s", type(exc).__name__)
            return

        async def changed(e: ft.ConnectivityChangeEvent) -> None:
            connected = any(kind != ft.ConnectivityType.NONE for kind in e.connectivity)
            await self.session.network_changed(connected)

        connectivity.on_change = changed
        self.services["connectivity"] = connectivity

    async def on_lifecycle(self, e: ft.AppLifecycleStateChangeEvent) -> None:
        # Phones suspend background apps: sync again when the app comes back to the foreground.
        await self.session.app_lifecycle(e.state.value)

    async def shutdown(self, _: Any = None) -> None:
        for task in self._tasks:
            task.cancel()
        self._tasks.clear()
        await self.session.close()


#: The feature state each family screen draws (the carnet, the children and the sync screen draw the app's own).
_FAMILY_PARTS: dict[Screen, Callable[[AppState], tuple[Observable, ...]]] = {
    Screen.CARNET: lambda s: (s.enrolment,),
    Screen.AGENDA: lambda s: (s.agenda,),
    Screen.APPOINTMENT: lambda s: (s.agenda,),
    Screen.APPOINTMENT_FORM: lambda s: (s.agenda,),
    Screen.BLOOD_BANK: lambda s: (s.blood_bank,),
    Screen.BOOKING: lambda s: (s.blood_bank,),
    Screen.BOOKING_FORM: lambda s: (s.blood_bank,),
    Screen.REPORT_FORM: lambda s: (s.incidents,),
    Screen.REPORTS: lambda s: (s.incidents,),
    Screen.REPORT: lambda s: (s.incidents,),
    Screen.FEVER: lambda s: (s.fever,),
    Screen.EMERGENCY_CARD: lambda s: (s.fever,),
}


def _adopt(live: ft.View, drawn: ft.View, grafter: Grafter) -> None:
    """Move what was drawn for a screen into the view already on the page.

    Flutter keeps a scrollable's offset while its control lives: replacing the view would reset it (a tap on a
    day chip or a report category jumped back to the top). Screens made by ``views.common.screen`` hold one
    scrolling column; its children are grafted on (``shell/graft.py``), the column itself stays.
    """
    live.appbar, live.navigation_bar = drawn.appbar, drawn.navigation_bar
    live.floating_action_button, live.bgcolor, live.padding = drawn.floating_action_button, drawn.bgcolor, drawn.padding
    old, new = _scroller(live), _scroller(drawn)
    if old is not None and new is not None:
        old.controls = grafter.graft(old.controls, new.controls)
    else:
        live.controls = grafter.graft(live.controls, drawn.controls)


def _drop_autofill_groups(control: Any) -> bool:
    """Take every autofill group (and the fields in it) out of a screen about to be replaced.

    Flutter keeps a replaced screen mounted until the next one's route transition ends (300 ms, later under
    load), and an autofill group that goes then ends the browser's whole autofill context: the text input
    connection of whatever field has the focus by that time closes, on the *new* screen. Someone who had
    already tapped the activation code after "Tengo un código de activación" lost that field's focus, and every
    key after it went nowhere. Dropped from the old screen first, the group goes in the frame the new screen
    appears in, before anything on it can have the focus. The group is removed, not unwrapped: its fields
    would move, and Flet would send them whole again for a screen that is leaving. True when one was found.
    """
    if not isinstance(control, BaseControl):
        return False
    found = False
    for f in dataclasses.fields(control):
        if f.name.startswith("_"):
            continue
        value = getattr(control, f.name, None)
        if isinstance(value, ft.AutofillGroup):
            setattr(control, f.name, None)
            found = True
        elif isinstance(value, list):
            kept = [item for item in value if not isinstance(item, ft.AutofillGroup)]
            if len(kept) != len(value):
                value[:] = kept
                found = True
            for item in kept:
                found = _drop_autofill_groups(item) or found
        else:
            found = _drop_autofill_groups(value) or found
    return found


def _scroller(view: ft.View) -> ft.Column | None:
    """The one scrolling column of a screen built by ``views.common.screen``, if that is its shape."""
    if len(view.controls) != 1 or not isinstance(view.controls[0], ft.Container):
        return None
    column = view.controls[0].content
    return column if isinstance(column, ft.Column) and column.scroll is not None else None


def _platform(page: ft.Page) -> str | None:
    """The native platform, or None in a browser (the web app's Python runs on the server)."""
    if page.web or page.platform is None:
        return None
    return page.platform.value


async def _secret_store_for(page: ft.Page, holder: dict[str, Any]) -> SecretStore:
    def secure_storage() -> Any:
        from flet_secure_storage import SecureStorage

        holder["secure_storage"] = storage = SecureStorage()  # strong reference
        return storage

    return await select_secret_store(_platform(page), secure_storage_factory=secure_storage)


async def main(page: ft.Page) -> None:
    """Build the app on ``page`` (``ft.run(main)``)."""
    page.title = "Carnet"
    # Screens replace each other (no back stack): no route animation, and
    # screenshots/screen readers never catch two screens at once.
    none = ft.PageTransitionTheme.NONE
    page.theme = ft.Theme(
        color_scheme_seed=GREEN,
        page_transitions=ft.PageTransitionsTheme(android=none, ios=none, linux=none, macos=none, windows=none),
    )
    page.theme_mode = ft.ThemeMode.LIGHT
    page.padding = 0
    config = load_config()
    page.locale_configuration = ft.LocaleConfiguration(
        supported_locales=[ft.Locale("es", "MX"), ft.Locale("en")],
        current_locale=ft.Locale("es", "MX") if config.locale == "es-MX" else ft.Locale("en"),
    )
    holder: dict[str, Any] = {}
    emulated_device = page.web and os.environ.get(DEVICE_ENV) == "1"
    if emulated_device and _device_open:
        # One phone's data folder, one person: a second browser would erase or break the first one's data.
        page.views.append(
            ft.View(route="/", controls=[ft.Text(Translator(config.locale).t("device_in_use"), size=18)], padding=24)
        )
        page.update()
        return
    if page.web and not emulated_device:
        # Web mode serves many people: each browser session has its own secrets and data, in memory only.
        secrets: SecretStore = MemorySecretStore()
        session = AppSession(config, secrets, None)
    else:
        secrets = await _secret_store_for(page, holder)
        session = AppSession(config, secrets, default_data_dir())
        if emulated_device:
            _device_open.add("device")
    session.notification_plugin = notification_plugin(page)  # None on the web and desktops
    ui = CarnetUI(page, session)
    holder["ui"] = ui
    page.data = holder  # keep services and the UI referenced for the page's lifetime
    ui.render()
    page.on_app_lifecycle_state_change = ui.on_lifecycle
    page.on_resize = ui.on_resize

    async def close(_: Any = None) -> None:
        await ui.shutdown()
        if emulated_device:
            _device_open.clear()

    page.on_close = close
    if page.web:
        # A browser that loses its connection comes back to the same session (for FLET_SESSION_TIMEOUT), which
        # draws it again from what Python holds: keys typed while it was away are not there.
        page.on_disconnect = lambda _: log.info("a browser session lost its connection")
        page.on_connect = lambda _: log.info("a browser session is connected again: its screen drawn anew")
    ui.watch_connectivity()
    sync_now = await session.start()
    ui.start_background(sync_now)
