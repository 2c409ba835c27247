"""What the privacy notice gate draws."""

from __future__ import annotations

from dataclasses import dataclass

from carnet.core.observable import Observable, change
from carnet_contract import models as contract


@dataclass(eq=False)
class PrivacyUi(Observable):
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

    @change
    def close_gate(self, *, can_continue_offline: bool) -> None:
        """The gate closes: a fresh notice screen (``can_continue_offline``: an earlier version was accepted)."""
        self.reset()
        self.can_continue_offline = can_continue_offline

    @change
    def start_loading(self) -> None:
        self.loading, self.error = True, None

    @change
    def show_notice(self, notice: contract.PrivacyNotice | None) -> None:
        self.notice = notice

    @change
    def notice_loaded(self, notice: contract.PrivacyNotice) -> None:
        self.notice, self.loading = notice, False

    @change
    def notice_failed(self, error: str) -> None:
        self.error, self.loading = error, False

    @change
    def start_accepting(self) -> None:
        self.accepting, self.error = True, None

    @change
    def not_accepted(self, *, error: str | None, outdated: bool) -> None:
        """ "Acepto" did not go through (``outdated``: a newer version is to be read first)."""
        self.accepting = False
        if error is not None:
            self.error = error
        if outdated:
            self.notice = None

    @change
    def show_message(self, message: str | None) -> None:
        self.message = message
