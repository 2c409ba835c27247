"""What "Mi cuenta" draws."""

from __future__ import annotations

from dataclasses import dataclass, field

from carnet.core.observable import Observable, change
from carnet_contract import models as contract


@dataclass(eq=False)
class AccountUi(Observable):
    """ "Mi cuenta": password change, the notice accepted, "Descargar mis datos", account closure."""

    #: Guardians: where they stand with the notice and the closure request (None for staff).
    status: contract.PrivacyStatus | None = None
    #: Password form problems by field: ``current``, ``new``, ``repeat``; ``form`` for the whole form.
    password_errors: dict[str, str] = field(default_factory=dict)
    changing_password: bool = False
    exporting: bool = False
    #: The closure request's confirm step is open.
    closure_confirm: bool = False
    closure_busy: bool = False
    message: str | None = None
    error: str | None = None

    @change
    def show_status(self, status: contract.PrivacyStatus | None) -> None:
        self.status = status

    @change
    def open_screen(self) -> None:
        """Another screen of "Mi cuenta": nothing said on the last one stays."""
        self.message = self.error = None
        self.password_errors, self.closure_confirm = {}, False

    @change
    def leave_screen(self) -> None:
        self.password_errors, self.closure_confirm = {}, False

    @change
    def dismiss_message(self) -> None:
        self.message = self.error = None

    # ---- password ---------------------------------------------------------------------------------

    @change
    def password_checked(self, errors: dict[str, str]) -> None:
        self.password_errors = errors
        self.message = self.error = None

    @change
    def start_password_change(self) -> None:
        self.changing_password = True

    @change
    def stop_password_change(self, errors: dict[str, str] | None = None) -> None:
        """Done (``errors``: why the server refused it, by field)."""
        self.changing_password = False
        if errors is not None:
            self.password_errors = errors

    # ---- download my data ---------------------------------------------------------------------------

    @change
    def start_export(self) -> None:
        self.exporting, self.message, self.error = True, None, None

    @change
    def export_done(self, error: str | None) -> None:
        self.exporting = False
        if error is not None:
            self.error = error

    @change
    def file_saved(self, *, message: str | None, error: str | None) -> None:
        self.message, self.error = message, error

    # ---- closure ----------------------------------------------------------------------------------

    @change
    def ask_closure(self, asking: bool) -> None:
        self.closure_confirm = asking
        self.message = self.error = None

    @change
    def start_closure(self) -> None:
        self.closure_busy, self.message, self.error = True, None, None

    @change
    def closure_failed(self, error: str) -> None:
        self.error = error

    @change
    def closure_answered(self, message: str, *, confirm_done: bool) -> None:
        if confirm_done:
            self.closure_confirm = False
        self.message = message

    @change
    def stop_closure(self) -> None:
        self.closure_busy = False
