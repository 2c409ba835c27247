"""What the administration screen draws; changed only by its own methods."""

from __future__ import annotations

from dataclasses import dataclass, field

from carnet.core.observable import OnlineScreenUi, change
from carnet_contract import chemotherapy as chemo
from carnet_contract import enrolment as wire
from carnet_contract import models as contract


@dataclass(eq=False)
class AdminUi(OnlineScreenUi):
    """Units and staff accounts (online only, nothing kept on the device)."""

    units: list[contract.Unit] = field(default_factory=list)
    staff: list[wire.StaffAccount] = field(default_factory=list)
    #: A new account or a reset: the temporary password, shown this once.
    issued: wire.StaffWithPassword | None = None
    #: Problems of the new-account form and of the new-unit form, by field (``form`` for the whole form).
    staff_errors: dict[str, str] = field(default_factory=dict)
    unit_errors: dict[str, str] = field(default_factory=dict)
    #: The account whose deactivation or password reset awaits its confirm step: (staff id, "deactivate"|"reset").
    confirming: tuple[str, str] | None = None
    #: What is being edited: ("unit", unit id) or ("staff", staff id); its problems by field.
    editing: tuple[str, str] | None = None
    edit_errors: dict[str, str] = field(default_factory=dict)
    #: Bumped when a form was accepted (the view empties it).
    sent: int = 0
    #: The chemotherapy protocol catalogue (newest versions), and the problems of the last file loaded.
    catalogue: chemo.Catalogue | None = None
    regimen_errors: list[str] = field(default_factory=list)

    @change
    def show(self, units: list[contract.Unit], staff: list[wire.StaffAccount]) -> None:
        self.units, self.staff = units, staff

    @change
    def show_catalogue(self, catalogue: chemo.Catalogue) -> None:
        self.catalogue, self.regimen_errors = catalogue, []

    @change
    def regimen_refused(self, errors: list[str]) -> None:
        self.regimen_errors = errors

    @change
    def staff_refused(self, errors: dict[str, str]) -> None:
        self.staff_errors = errors

    @change
    def unit_refused(self, errors: dict[str, str]) -> None:
        self.unit_errors = errors

    @change
    def password_issued(self, issued: wire.StaffWithPassword, message: str) -> None:
        self.issued, self.staff_errors, self.confirming = issued, {}, None
        self.message, self.sent = message, self.sent + 1

    @change
    def unit_created(self, message: str) -> None:
        self.unit_errors, self.message, self.sent = {}, message, self.sent + 1

    @change
    def start_edit(self, editing: tuple[str, str] | None) -> None:
        self.editing, self.edit_errors, self.confirming = editing, {}, None

    @change
    def edit_refused(self, errors: dict[str, str]) -> None:
        self.edit_errors = errors

    @change
    def edited(self, message: str) -> None:
        self.editing, self.edit_errors, self.message = None, {}, message

    @change
    def ask(self, confirming: tuple[str, str] | None) -> None:
        self.confirming = confirming

    @change
    def forget_password(self) -> None:
        self.issued = None

    @change
    def show_message(self, message: str | None) -> None:
        self.message, self.confirming = message, None
