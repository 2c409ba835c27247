"""A guardian's rights over their data, reached from "Mi cuenta": their privacy status (notice accepted,
closure request), "Descargar mis datos" and the request to close the account. No Flet.

All of it is online: an export or a closure request needs the server, and says so plainly when there is
no connection. The privacy status comes from ``/me``, cached with it on the phone, and is refreshed when
"Mi cuenta" opens; a newer notice found then sends the person back to the notice gate
(:mod:`carnet.privacy.cases`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

from carnet.auth.state import AccountUi
from carnet.core.i18n import Translator
from carnet.core.navigation import Navigator, Screen
from carnet.data.api import ApiClient, ApiError, AuthError, NetworkError, NotFound
from carnet.data.messages import message_for
from carnet.patients.repository import CarnetRepository
from carnet.privacy.cases import PrivacyCases
from carnet_contract import models as contract

__all__ = ["REASON_MAX", "DataRightsCases"]

log = logging.getLogger(__name__)

REASON_MAX = 1000


class RightsHost(Navigator, Protocol):
    """What of the app's state the data rights read and change: "Mi cuenta"'s screen state, the user."""

    account: AccountUi
    user: contract.UserOut | None


class DataRightsCases:
    def __init__(
        self,
        *,
        state: RightsHost,
        api: ApiClient,
        carnets: Callable[[], CarnetRepository | None],
        tr: Translator,
        privacy: PrivacyCases,
        session_expired: Callable[[], Awaitable[None]],
    ) -> None:
        self._state = state
        self._api = api
        self._carnets = carnets
        self._tr = tr
        self._privacy = privacy
        self._session_expired = session_expired

    @property
    def _ui(self) -> AccountUi:
        return self._state.account

    @property
    def is_guardian(self) -> bool:
        user = self._state.user
        return user is not None and user.role == contract.Role.GUARDIAN

    # ---- the privacy status ----------------------------------------------------------------------

    def reload(self) -> None:
        """The privacy status from the cached ``me`` (no redraw)."""
        carnets = self._carnets()
        me = carnets.me() if carnets is not None and self.is_guardian else None
        if me is not None:
            self._ui.show_status(me.privacy)

    async def fetch_status(self) -> None:
        """The status from the server (guardians); a newer notice sends them to the notice gate."""
        try:
            me = await self._api.me()
        except AuthError:
            await self._session_expired()
            return
        except ApiError as exc:
            log.info("privacy status not refreshed: %s", type(exc).__name__)
            return
        if me.privacy is not None:
            self._keep(me.privacy)
            if not me.privacy.accepted:
                await self._privacy.required()  # a newer notice was published meanwhile
                return

    def _keep(self, status: contract.PrivacyStatus) -> None:
        self._ui.show_status(status)
        if (carnets := self._carnets()) is not None:
            carnets.save_privacy(status)

    # ---- download my data --------------------------------------------------------------------

    async def export_file(self) -> tuple[str, bytes] | None:
        """ "Descargar mis datos": the JSON file to save (name, bytes); None with the reason on screen."""
        ui = self._ui
        if ui.exporting or not self.is_guardian:
            return None
        ui.start_export()
        made: tuple[str, bytes] | None = None
        error: str | None = None
        try:
            made = await self._api.privacy_export()
        except AuthError:
            ui.export_done(None)
            await self._session_expired()
            return None
        except NetworkError:
            error = self._tr.t("acct_export_offline")
        except ApiError as exc:
            error = message_for(self._tr, exc)
        ui.export_done(error)
        return made

    def file_saved(self, name: str, saved: bool | None) -> None:
        """What the save dialog / download did (None: the person closed the dialog: nothing to say)."""
        ui, t = self._ui, self._tr.t
        if saved:
            ui.file_saved(message=t("acct_export_done", name=name), error=None)
        elif saved is None:
            ui.file_saved(message=None, error=ui.error)
        else:
            ui.file_saved(message=None, error=t("acct_export_failed", name=name))

    # ---- account closure -----------------------------------------------------------------------

    def ask_closure(self, asking: bool) -> None:
        """Open (or close) the confirm step of a closure request."""
        self._ui.ask_closure(asking and self.is_guardian)

    async def request_closure(self, reason: str) -> None:
        """The confirmed request: "Solicitud registrada el <fecha>" (the hospital confirms it later)."""
        ui = self._ui
        if ui.closure_busy or not ui.closure_confirm:
            return
        reason = reason.strip()[:REASON_MAX]
        await self._closure(lambda: self._api.request_closure(reason or None), confirm_done=True)

    async def withdraw_closure(self) -> None:
        """ "Retirar solicitud": the account goes on as before."""
        if self._ui.closure_busy:
            return
        await self._closure(self._api.cancel_closure, confirm_done=False)

    async def _closure(self, call: Callable[[], Awaitable[contract.ClosureRequest]], *, confirm_done: bool) -> None:
        ui = self._ui
        t = self._tr.t
        ui.start_closure()
        problem: str | None = None
        try:
            answer: contract.ClosureRequest = await call()
        except AuthError:
            ui.stop_closure()
            await self._session_expired()
            return
        except NotFound as exc:  # nothing open to withdraw (withdrawn elsewhere, or already decided)
            ui.closure_failed(message_for(self._tr, exc))
            await self.fetch_status()
        except NetworkError:
            problem = t("acct_offline")
        except ApiError as exc:
            problem = message_for(self._tr, exc)
        else:
            open_request = answer if answer.status is contract.ClosureStatus.SOLICITADA else None
            status = ui.status
            with self._state.batch():
                if status is not None:
                    self._keep(status.model_copy(update={"closure_request": open_request}))
                if confirm_done:  # back to Mi cuenta, where the request shows with "Retirar solicitud"
                    self._state.go_to(Screen.ACCOUNT)
                message = t("acct_closure_sent") if open_request else t("acct_closure_withdrawn")
                ui.closure_answered(message, confirm_done=confirm_done)
            if status is None:
                await self.fetch_status()
        with self._state.batch():
            if problem is not None:
                ui.closure_failed(problem)
            ui.stop_closure()
