"""What "Mi cuenta" draws."""

from __future__ import annotations

from dataclasses import dataclass, field

from carnet_contract import models as contract


@dataclass
class AccountUi:
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
