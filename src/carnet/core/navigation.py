"""Where the app is: its phase, the screen shown and the navigation bar's tab.

:class:`Navigator` is what a feature may read and change of it; the shell's ``AppState`` is one. A
feature's cases declare, as a protocol extending it, the few more fields of the app's state they use.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from enum import StrEnum
from typing import Protocol


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
    ACCOUNT_LINK = "account_link"
    ONCOLOGY = "oncology"
    ONCOLOGY_CHILD = "oncology_child"
    ONCOLOGY_REGISTER = "oncology_register"
    ONCOLOGY_INVITE = "oncology_invite"
    ONCOLOGY_FIGURES = "oncology_figures"
    ONCOLOGY_EDIT = "oncology_edit"
    ONCOLOGY_REFER = "oncology_refer"
    ONCOLOGY_IMPORT = "oncology_import"
    #: A child's chemotherapy plan (cycles, their life) and writing the next cycle.
    CHEMO_PLAN = "chemo_plan"
    CHEMO_PRESCRIBE = "chemo_prescribe"
    ADMIN = "admin"
    #: Ajustes → WhatsApp (guardians): link the family's WhatsApp number to "Mi Chat ONCOIMSS".
    WHATSAPP = "whatsapp"
    #: Ajustes → Recordatorios (guardians): the reminder kinds chosen.
    REMINDERS = "reminders"
    #: A child has fever (Hora Dorada): where to go now, the reading, the episode's steps.
    FEVER = "fever"
    #: The child's emergency card, readable and as a signed QR.
    EMERGENCY_CARD = "emergency_card"
    #: Staff (oncology desk, case desk): the open fever episodes of their units with the 60-minute clock.
    FEVER_DESK = "fever_desk"
    FEVER_FIGURES = "fever_figures"


#: The oncology desk's chemotherapy screens (``carnet.chemotherapy``).
CHEMO_SCREENS = frozenset({Screen.CHEMO_PLAN, Screen.CHEMO_PRESCRIBE})

#: The family's fever screens (``carnet.fever``).
FEVER_SCREENS = frozenset({Screen.FEVER, Screen.EMERGENCY_CARD})
#: The staff's fever screens (``carnet.fever.desk``), reached from the oncology desk and the case desk.
FEVER_DESK_SCREENS = frozenset({Screen.FEVER_DESK, Screen.FEVER_FIGURES})

#: "Mi cuenta" and the screens it opens (reached from settings, by every role).
ACCOUNT_SCREENS = frozenset(
    {Screen.ACCOUNT, Screen.ACCOUNT_PASSWORD, Screen.ACCOUNT_NOTICE, Screen.ACCOUNT_CLOSURE, Screen.ACCOUNT_LINK}
)

#: The family screens that carry "Reportar un problema" (a labelled bar under the app bar): every one but the
#: report form itself and the forms being filled (leaving a form drops what was typed); login and enrolment
#: come before a family is known.
REPORT_BUTTON_SCREENS = frozenset(
    {
        Screen.CHILDREN,
        Screen.CARNET,
        Screen.AGENDA,
        Screen.APPOINTMENT,
        Screen.BLOOD_BANK,
        Screen.BOOKING,
        Screen.SYNC_STATUS,
        Screen.REPORTS,
        Screen.REPORT,
        Screen.SETTINGS,
        Screen.ACCOUNT,
        Screen.ACCOUNT_NOTICE,
        Screen.WHATSAPP,
        Screen.REMINDERS,
    }
)


class Tab(StrEnum):
    """The navigation bar's destinations (settings stays in the app bar)."""

    CARNET = "carnet"
    AGENDA = "agenda"
    BLOOD_BANK = "blood_bank"


class Navigator(Protocol):
    """Where the app is, as a feature reads it and changes it (through its methods, which redraw)."""

    @property
    def phase(self) -> Phase: ...
    @property
    def screen(self) -> Screen: ...
    @property
    def tab(self) -> Tab: ...
    #: None until the first sync attempt ends; False = showing cached data.
    @property
    def online(self) -> bool | None: ...

    def go_to(self, screen: Screen, *, tab: Tab | None = None) -> None: ...

    def set_online(self, online: bool | None) -> None: ...

    def batch(self) -> AbstractContextManager[None]:
        """Changes made in the block redraw once, at its end."""
        ...
