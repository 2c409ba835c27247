""" "WhatsApp" in Ajustes (``session.whatsapp``), guardians only: whether a WhatsApp number gets this account's
information, "Vincular WhatsApp" and "Desvincular". No Flet.

All of it needs the server (the link lives there, and a code is made there): offline the screen says so
plainly and changes nothing. Linking: the app asks for a short code (``POST /me/whatsapp/link-code``) and
shows it large with the bot's number and three steps; the family sends it from their WhatsApp; "Ya lo
envié" asks the server again (``GET /me/whatsapp``) — linked, the code goes away; not yet, the screen says
so and keeps the code (or asks for a new one once it expired). "Desvincular" asks first, then
``DELETE /me/whatsapp`` (idempotent: a number unlinked meanwhile is what was wanted). Nothing here is logged
but the kind of failure (never a number or a code).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

from carnet.core.clock import Clock
from carnet.core.i18n import Translator
from carnet.core.navigation import Navigator, Screen
from carnet.data.api import ApiClient, ApiError, AuthError, NetworkError
from carnet.data.messages import message_for
from carnet.whatsapp.state import WhatsAppUi
from carnet_contract import models as contract

__all__ = ["WhatsAppCases"]

log = logging.getLogger(__name__)


class WhatsAppHost(Navigator, Protocol):
    """What of the app's state the WhatsApp screen reads and changes besides its own."""

    whatsapp: WhatsAppUi
    user: contract.UserOut | None


class WhatsAppCases:
    def __init__(
        self,
        *,
        state: WhatsAppHost,
        api: ApiClient,
        tr: Translator,
        clock: Clock,
        session_expired: Callable[[], Awaitable[None]],
    ) -> None:
        self._state = state
        self._api = api
        self._tr = tr
        self._clock = clock
        self._session_expired = session_expired

    @property
    def _ui(self) -> WhatsAppUi:
        return self._state.whatsapp

    @property
    def is_guardian(self) -> bool:
        user = self._state.user
        return user is not None and user.role == contract.Role.GUARDIAN

    def code_expired(self) -> bool:
        """The code shown can no longer link a number."""
        code = self._ui.code
        return code is not None and code.expires_at <= self._clock()

    # ---- navigation ----------------------------------------------------------------------------

    async def open(self) -> None:
        """Ajustes → WhatsApp: the screen at once, then the link as the server has it."""
        if not self.is_guardian:
            return
        with self._state.batch():
            self._state.go_to(Screen.WHATSAPP)
            self._ui.open_screen()
        await self.fetch_status()

    def back(self) -> bool:
        """Back to Ajustes; False when not on this screen."""
        if self._state.screen is not Screen.WHATSAPP:
            return False
        with self._state.batch():
            self._ui.ask_unlink(False)
            self._state.go_to(Screen.SETTINGS)
        return True

    def dismiss_message(self) -> None:
        self._ui.dismiss_message()

    # ---- the link ------------------------------------------------------------------------------

    async def fetch_status(self) -> None:
        ui = self._ui
        if ui.loading:
            return
        ui.start_loading()
        try:
            link = await self._api.whatsapp_link()
        except AuthError:
            ui.load_failed("")
            await self._session_expired()
            return
        except NetworkError:
            ui.load_failed(self._tr.t("wa_offline_status"))
            return
        except ApiError as exc:
            log.info("whatsapp status not loaded: %s", type(exc).__name__)
            ui.load_failed(message_for(self._tr, exc))
            return
        ui.show_link(link)

    async def request_code(self) -> None:
        """ "Vincular WhatsApp" (online only): a new code, shown large with the steps."""
        ui = self._ui
        if ui.busy or not self.is_guardian:
            return
        ui.start_busy()
        try:
            code = await self._api.whatsapp_link_code()
        except AuthError:
            ui.stop_busy()
            await self._session_expired()
            return
        except NetworkError:
            ui.stop_busy(error=self._tr.t("wa_offline_code"))
            return
        except ApiError as exc:
            log.info("whatsapp code not made: %s", type(exc).__name__)
            ui.stop_busy(error=message_for(self._tr, exc))
            return
        ui.show_code(code)

    async def check_sent(self) -> None:
        """ "Ya lo envié": ask the server whether the number got linked."""
        ui = self._ui
        if ui.busy:
            return
        ui.start_busy()
        try:
            link = await self._api.whatsapp_link()
        except AuthError:
            ui.stop_busy()
            await self._session_expired()
            return
        except NetworkError:
            ui.stop_busy(error=self._tr.t("wa_offline_status"))
            return
        except ApiError as exc:
            ui.stop_busy(error=message_for(self._tr, exc))
            return
        t = self._tr.t
        with self._state.batch():
            ui.show_link(link)
            if link.linked:
                ui.stop_busy(message=t("wa_linked_now", number=link.number or ""))
            elif self.code_expired():
                ui.stop_busy(error=t("wa_code_expired"))
            else:
                ui.stop_busy(error=t("wa_not_yet"))

    def ask_unlink(self, asking: bool) -> None:
        """Open (or close) the confirmation of "Desvincular"."""
        self._ui.ask_unlink(asking and self.is_guardian)

    async def unlink(self) -> None:
        """The confirmed "Desvincular": that number gets nothing of this account from now on."""
        ui = self._ui
        if ui.busy or not ui.confirm_unlink:
            return
        ui.start_busy()
        try:
            await self._api.whatsapp_unlink()
        except AuthError:
            ui.stop_busy()
            await self._session_expired()
            return
        except NetworkError:
            ui.stop_busy(error=self._tr.t("wa_offline_unlink"))
            return
        except ApiError as exc:
            log.info("whatsapp not unlinked: %s", type(exc).__name__)
            ui.stop_busy(error=message_for(self._tr, exc))
            return
        ui.unlinked(self._tr.t("wa_unlinked"))
