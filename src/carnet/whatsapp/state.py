"""What Ajustes → WhatsApp draws."""

from __future__ import annotations

from dataclasses import dataclass

from carnet.core.observable import Observable, change
from carnet_contract import models as contract


@dataclass(eq=False)
class WhatsAppUi(Observable):
    """The guardian's WhatsApp link: linked or not (the number masked), a code to send, unlinking."""

    #: What the server last said (None: not asked yet on this screen).
    link: contract.WhatsAppLink | None = None
    #: The code to send to the bot (None: none asked for, or the number got linked).
    code: contract.WhatsAppLinkCode | None = None
    loading: bool = False
    #: A request is under way (a code, the recheck after "Ya lo envié", unlinking).
    busy: bool = False
    #: "Desvincular" was pressed: the confirmation is open.
    confirm_unlink: bool = False
    message: str | None = None
    error: str | None = None

    @change
    def open_screen(self) -> None:
        """The screen opens: nothing said last time stays (the link shown stays until the server answers)."""
        self.message = self.error = None
        self.confirm_unlink = False

    @change
    def start_loading(self) -> None:
        self.loading, self.error = True, None

    @change
    def show_link(self, link: contract.WhatsAppLink) -> None:
        """The server's answer; once linked, the code is spent."""
        self.link, self.loading = link, False
        if link.linked:
            self.code = None

    @change
    def load_failed(self, error: str) -> None:
        self.loading, self.error = False, error

    @change
    def start_busy(self) -> None:
        self.busy, self.message, self.error = True, None, None

    @change
    def show_code(self, code: contract.WhatsAppLinkCode) -> None:
        self.code, self.busy = code, False

    @change
    def stop_busy(self, *, message: str | None = None, error: str | None = None) -> None:
        self.busy, self.message, self.error = False, message, error

    @change
    def ask_unlink(self, asking: bool) -> None:
        self.confirm_unlink = asking
        self.message = self.error = None

    @change
    def unlinked(self, message: str) -> None:
        bot = self.link.bot_number if self.link is not None else ""
        self.link = contract.WhatsAppLink(linked=False, bot_number=bot)
        self.code, self.confirm_unlink, self.busy = None, False, False
        self.message, self.error = message, None

    @change
    def dismiss_message(self) -> None:
        self.message = self.error = None
