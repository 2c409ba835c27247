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
from typing import TYPE_CHECKING

from carnet.core.navigation import Phase, Screen
from carnet.data.api import ApiError, AuthError, Conflict, NetworkError
from carnet.privacy.state import PrivacyUi
from carnet_contract import models as contract

if TYPE_CHECKING:
    from carnet.shell.session import AppSession

__all__ = ["PrivacyCases"]

log = logging.getLogger(__name__)


class PrivacyCases:
    def __init__(self, session: AppSession) -> None:
        self._s = session

    @property
    def _ui(self) -> PrivacyUi:
        return self._s.state.privacy

    def _redraw(self) -> None:
        self._s.state.changed()

    @property
    def gated(self) -> bool:
        return self._s.state.phase is Phase.PRIVACY

    async def required(self) -> None:
        """The server asked for the notice (403 ``privacy_notice_required``): close the gate and load it."""
        s = self._s
        user = s.state.user
        if user is None or user.role != contract.Role.GUARDIAN or s.state.phase is Phase.LOGIN:
            return
        if self.gated and (self._ui.notice is not None or self._ui.loading):
            return  # already showing it
        cached = s.repo.me() if s.repo is not None else None
        s.state.privacy = PrivacyUi(
            can_continue_offline=bool(cached and cached.privacy and cached.privacy.accepted_version)
        )
        s.state.phase = Phase.PRIVACY
        s.state.syncing = False
        self._redraw()
        await self.load_notice()

    async def load_notice(self) -> None:
        """The current notice in the app's language (kept on the phone to read again offline)."""
        s, ui = self._s, self._ui
        if ui.loading:
            return
        ui.loading, ui.error = True, None
        self._redraw()
        try:
            notice = await s.api.privacy_notice()
        except NetworkError:
            ui.error = s.tr.t("privacy_offline")
        except ApiError as exc:
            ui.error = s.message_for(exc)
        else:
            ui.notice = notice
            if s.repo is not None:
                s.repo.save_privacy_notice(s.tr.locale, notice, fetched_at=s.clock())
        finally:
            ui.loading = False
        self._redraw()

    async def accept(self) -> None:
        """ "Acepto": accept the version shown, then open the app and run its first sync."""
        s, ui = self._s, self._ui
        notice = ui.notice
        if notice is None or ui.accepting or not self.gated:
            return
        ui.accepting, ui.error = True, None
        self._redraw()
        ended = outdated = False
        try:
            status = await s.api.accept_privacy(notice.version)
        except AuthError:
            ended = True
        except Conflict as exc:
            if exc.code != "privacy_version_outdated":
                ui.error = s.message_for(exc)
            else:
                outdated = True
        except NetworkError:
            ui.error = s.tr.t("privacy_offline_accept")
        except ApiError as exc:
            ui.error = s.message_for(exc)
        else:
            if s.repo is not None:
                s.repo.save_privacy(status)
            s.state.account.status = status
            s.state.privacy = PrivacyUi()
            s.state.phase, s.state.screen = Phase.READY, Screen.CHILDREN
            s.state.sync_error = None
            s.reload_from_store()
            self._redraw()
            await s.refresh()
            return
        finally:
            ui.accepting = False
        if ended:
            await s.session_expired()
            return
        if outdated:  # a newer version was published meanwhile: that one is to be read and accepted
            ui.notice = None
            await self.load_notice()
            ui.message = s.tr.t("privacy_outdated")
        self._redraw()

    async def decline(self) -> None:
        """ "Ahora no": log out, saying why the app cannot show the children's data without it (what is on
        the phone stays for the same person, unsent writes included)."""
        s = self._s
        if not self.gated:
            return
        await s.sign_out_keeping_data(s.tr.t("privacy_declined"))
        self._redraw()

    def continue_offline(self) -> None:
        """Offline, after accepting an earlier version: the data already on the phone, read only as it is."""
        s = self._s
        if not self.gated or not self._ui.can_continue_offline:
            return
        s.state.privacy = PrivacyUi()
        s.state.phase, s.state.online = Phase.READY, False
        s.reload_from_store()
        self._redraw()
