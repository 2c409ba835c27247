""" "Mi cuenta" (``session.account``), reached from settings: change the password (every role); for guardians
the way to the privacy notice again, "Descargar mis datos" and the account closure request, whose use
cases live in the privacy feature (:mod:`carnet.privacy.rights`, ``session.rights``). No Flet.

A password change needs the server, and says so plainly when there is no connection. It ends every
session of the account on the server (this one too): the app then ends the session the way logging out
does and shows the login screen with "Contraseña cambiada. Entra de nuevo con la nueva."
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from carnet.auth.state import AccountUi
from carnet.core.i18n import Translator
from carnet.core.navigation import Navigator, Screen
from carnet.data.api import ApiClient, ApiError, AuthError, BadRequest, NetworkError
from carnet.data.messages import message_for, min_length_in
from carnet.patients.repository import CarnetRepository
from carnet.privacy.cases import PrivacyCases
from carnet.privacy.rights import DataRightsCases
from carnet.privacy.state import PrivacyUi
from carnet_contract import models as contract

__all__ = ["MIN_PASSWORD_LENGTH", "AccountCases", "PasswordForm", "check_password_form"]

log = logging.getLogger(__name__)

#: The server's minimum (10); a server that asks for more says so in its 422 and the app follows it.
MIN_PASSWORD_LENGTH = 10
#: Where each of the server's password refusals belongs on the form.
_PASSWORD_FIELDS = {
    "wrong_current_password": "current",
    "password_too_short": "new",
    "password_is_username": "new",
    "password_unchanged": "new",
}


class AccountHost(Navigator, Protocol):
    """What of the app's state "Mi cuenta" reads and changes besides its own."""

    account: AccountUi
    privacy: PrivacyUi
    user: contract.UserOut | None


@dataclass(frozen=True)
class PasswordForm:
    current: str
    new: str
    repeat: str


Problems = dict[str, tuple[str, dict[str, object]]]


def check_password_form(form: PasswordForm, *, min_length: int = MIN_PASSWORD_LENGTH) -> Problems:
    """What is wrong before asking the server: field → (message key, its values). Empty: send it."""
    problems: Problems = {}
    if not form.current:
        problems["current"] = ("acct_err_current_missing", {})
    if len(form.new) < min_length:
        problems["new"] = ("acct_err_short", {"min": min_length})
    elif form.current and form.new == form.current:
        problems["new"] = ("acct_err_unchanged", {})
    if form.repeat != form.new:
        problems["repeat"] = ("acct_err_mismatch", {})
    return problems


class AccountCases:
    def __init__(
        self,
        *,
        state: AccountHost,
        api: ApiClient,
        carnets: Callable[[], CarnetRepository | None],
        tr: Translator,
        privacy: PrivacyCases,
        rights: DataRightsCases,
        password_changed: Callable[[], Awaitable[None]],
        session_expired: Callable[[], Awaitable[None]],
    ) -> None:
        self._state = state
        self._api = api
        self._carnets = carnets
        self._tr = tr
        self._privacy = privacy
        self._rights = rights
        self._password_changed = password_changed
        self._session_expired = session_expired
        #: Raised when the server's 422 ``password_too_short`` names a larger minimum.
        self.min_length = MIN_PASSWORD_LENGTH

    @property
    def _ui(self) -> AccountUi:
        return self._state.account

    @property
    def is_guardian(self) -> bool:
        user = self._state.user
        return user is not None and user.role == contract.Role.GUARDIAN

    # ---- navigation ------------------------------------------------------------------------

    async def open(self) -> None:
        """ "Mi cuenta": at once from the phone, then the guardian's privacy status from the server."""
        with self._state.batch():
            self._state.go_to(Screen.ACCOUNT)
            self._ui.open_screen()
            self._rights.reload()
        if self.is_guardian:
            await self._rights.fetch_status()

    def show(self, screen: Screen) -> None:
        if screen not in (Screen.ACCOUNT_PASSWORD, Screen.ACCOUNT_NOTICE, Screen.ACCOUNT_CLOSURE):
            return
        if screen is not Screen.ACCOUNT_PASSWORD and not self.is_guardian:
            return
        with self._state.batch():
            self._ui.open_screen()
            self._state.go_to(screen)

    async def open_notice(self) -> None:
        """ "Aviso de privacidad": the notice again (kept on the phone, refreshed when online)."""
        self.show(Screen.ACCOUNT_NOTICE)
        if self._state.screen is not Screen.ACCOUNT_NOTICE:
            return
        shown = self._state.privacy.notice
        carnets = self._carnets()
        if (shown is None or shown.lang[:2] != self._tr.locale[:2]) and carnets is not None:
            self._state.privacy.show_notice(carnets.privacy_notice(self._tr.locale) or shown)  # in the app's language
        await self._privacy.load_notice()

    def back(self) -> bool:
        """The back button on these screens; False when not on one."""
        state = self._state
        if state.screen is Screen.ACCOUNT:
            state.go_to(Screen.SETTINGS)
        elif state.screen in (
            Screen.ACCOUNT_PASSWORD,
            Screen.ACCOUNT_NOTICE,
            Screen.ACCOUNT_CLOSURE,
            Screen.ACCOUNT_LINK,
        ):
            with state.batch():
                state.go_to(Screen.ACCOUNT)
                self._ui.leave_screen()
        else:
            return False
        return True

    def dismiss_message(self) -> None:
        self._ui.dismiss_message()

    # ---- password ----------------------------------------------------------------------------

    async def change_password(self, form: PasswordForm) -> bool:
        """Check the form, then ask the server; True when it changed (the session has ended then)."""
        ui = self._ui
        if ui.changing_password:
            return False
        t = self._tr.t
        problems = check_password_form(form, min_length=self.min_length)
        errors = {name: t(key, **values) for name, (key, values) in problems.items()}
        if problems:
            ui.password_checked(errors)
            return False
        with self._state.batch():
            ui.password_checked(errors)
            ui.start_password_change()
        try:
            await self._api.change_password(form.current, form.new)
        except AuthError:
            ui.stop_password_change()
            await self._session_expired()
            return False
        except BadRequest as exc:
            if exc.code == "password_too_short":
                self.min_length = max(self.min_length, min_length_in(exc.message) or self.min_length)
            name = _PASSWORD_FIELDS.get(exc.code, "form")
            errors = {name: message_for(self._tr, exc)}
        except NetworkError:
            errors = {"form": t("acct_password_offline")}
        except ApiError as exc:
            errors = {"form": message_for(self._tr, exc)}
        else:
            ui.stop_password_change()
            await self._password_changed()
            return True
        ui.stop_password_change(errors)
        return False
