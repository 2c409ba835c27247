"""What the privacy notice gate draws."""

from __future__ import annotations

from dataclasses import dataclass

from carnet_contract import models as contract


@dataclass
class PrivacyUi:
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
