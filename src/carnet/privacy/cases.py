"""The privacy notice gate (``session.privacy``): a guardian who has not accepted the current notice sees
it before anything of the children's data is fetched. No Flet.

The gate closes (``Phase.PRIVACY``) whenever the server answers 403 ``privacy_notice_required`` — to the
first sync after a login, after a start with a saved session, or to any later call once a new version is
published (the API client reports it through ``on_privacy_required``) — or when ``/me`` says the current
version is not the accepted one. While it is closed nothing syncs (the periodic sync runs only in
``Phase.READY``), so a 403 is never retried in a loop.

"Acepto" sends the version shown; 409 ``privacy_version_outdated`` loads the newer one to read first;
accepted, the app opens and its first sync runs. "Ahora no" logs out, keeping what is on the phone for the same person.
Reading and accepting need the network; offline, a person who accepted an earlier version may go on
with the data already on the phone (the next sync that reaches the server shows the notice again).
Staff have no notice (``Me.privacy`` is None) and are never gated.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

from carnet.auth.state import AccountUi
from carnet.core.clock import Clock
from carnet.core.i18n import Translator
from carnet.core.navigation import Navigator, Phase
from carnet.data.api import ApiClient, ApiError, AuthError, Conflict, NetworkError
from carnet.data.messages import message_for
from carnet.patients.repository import CarnetRepository
from carnet.privacy.state import PrivacyUi
from carnet_contract import models as contract

__all__ = ["PrivacyCases"]

log = logging.getLogger(__name__)


class PrivacyHost(Navigator, Protocol):
    """What of the app's state the privacy notice gate reads and changes besides its own."""

    privacy: PrivacyUi
    account: AccountUi
    user: contract.UserOut | None
    syncing: bool
    sync_error: str | None

    def gate_privacy(self) -> None: ...

    def notice_accepted(self) -> None: ...

    def continue_offline(self) -> None: ...


class PrivacyCases:
    def __init__(
        self,
        *,
        state: PrivacyHost,
        api: ApiClient,
        carnets: Callable[[], CarnetRepository | None],
        tr: Translator,
        clock: Clock,
        refresh: Callable[[], Awaitable[None]],
        reload_from_store: Callable[[], None],
        sign_out_keeping_data: Callable[[str], Awaitable[None]],
        session_expired: Callable[[], Awaitable[None]],
    ) -> None:
        self._state = state
        self._api = api
        self._carnets = carnets
        self._tr = tr
        self._clock = clock
        self._refresh = refresh
        self._reload_from_store = reload_from_store
        self._sign_out_keeping_data = sign_out_keeping_data
        self._session_expired = session_expired

    @property
    def _ui(self) -> PrivacyUi:
        return self._state.privacy

    @property
    def gated(self) -> bool:
        return self._state.phase is Phase.PRIVACY

    async def required(self) -> None:
        """The server asked for the notice (403 ``privacy_notice_required``): close the gate and load it."""
        user = self._state.user
        if user is None or user.role != contract.Role.GUARDIAN or self._state.phase is Phase.LOGIN:
            return
        if self.gated and (self._ui.notice is not None or self._ui.loading):
            return  # already showing it
        carnets = self._carnets()
        cached = carnets.me() if carnets is not None else None
        with self._state.batch():
            self._ui.close_gate(
                can_continue_offline=bool(cached and cached.privacy and cached.privacy.accepted_version)
            )
            self._state.gate_privacy()
        await self.load_notice()

    async def load_notice(self) -> None:
        """The current notice in the app's language (kept on the phone to read again offline)."""
        ui = self._ui
        if ui.loading:
            return
        ui.start_loading()
        try:
            notice = await self._api.privacy_notice()
        except NetworkError:
            ui.notice_failed(self._tr.t("privacy_offline"))
        except ApiError as exc:
            ui.notice_failed(message_for(self._tr, exc))
        else:
            if (carnets := self._carnets()) is not None:
                carnets.save_privacy_notice(self._tr.locale, notice, fetched_at=self._clock())
            ui.notice_loaded(notice)

    async def accept(self) -> None:
        """ "Acepto": accept the version shown, then open the app and run its first sync."""
        ui = self._ui
        notice = ui.notice
        if notice is None or ui.accepting or not self.gated:
            return
        ui.start_accepting()
        error: str | None = None
        outdated = False
        try:
            status = await self._api.accept_privacy(notice.version)
        except AuthError:
            ui.not_accepted(error=None, outdated=False)
            await self._session_expired()
            return
        except Conflict as exc:
            if exc.code != "privacy_version_outdated":
                error = message_for(self._tr, exc)
            else:
                outdated = True
        except NetworkError:
            error = self._tr.t("privacy_offline_accept")
        except ApiError as exc:
            error = message_for(self._tr, exc)
        else:
            if (carnets := self._carnets()) is not None:
                carnets.save_privacy(status)
            with self._state.batch():
                self._state.account.show_status(status)
                ui.reset()
                self._state.notice_accepted()
                self._reload_from_store()
            await self._refresh()
            return
        ui.not_accepted(error=error, outdated=outdated)
        if outdated:  # a newer version was published meanwhile: that one is to be read and accepted
            await self.load_notice()
            ui.show_message(self._tr.t("privacy_outdated"))

    async def decline(self) -> None:
        """ "Ahora no": log out, saying why the app cannot show the children's data without it (what is on
        the phone stays for the same person, unsent writes included)."""
        if not self.gated:
            return
        await self._sign_out_keeping_data(self._tr.t("privacy_declined"))

    def continue_offline(self) -> None:
        """Offline, after accepting an earlier version: the data already on the phone, read only as it is."""
        if not self.gated or not self._ui.can_continue_offline:
            return
        with self._state.batch():
            self._ui.reset()
            self._state.continue_offline()
            self._reload_from_store()
