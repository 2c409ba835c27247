"""A family's way in (``session.activation``): "Tengo un código de activación" on the login screen, "Agregar un
niño con código" in "Mi cuenta", and who else has access to each child. Online only: each says so when there is
no connection, and nothing changes then. No Flet.

Activating answers like a login (the tokens go to the secret store): the session then takes over as after
"Entrar" — the privacy notice to accept, then the child's carnet.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

from carnet.core.i18n import Translator
from carnet.core.navigation import Navigator, Screen
from carnet.data.api import ApiClient, ApiError, AuthError, BadRequest, Conflict, NetworkError, RateLimited
from carnet.data.messages import message_for, min_length_in
from carnet.enrolment.codes import read_code
from carnet.enrolment.form import ActivationForm, Problems, check_activation, check_code
from carnet.enrolment.state import FamilyEnrolmentUi
from carnet_contract import enrolment as wire
from carnet_contract import models as contract

__all__ = ["FamilyEnrolmentCases"]

log = logging.getLogger(__name__)

#: Where each of the server's refusals of an activation belongs on the form.
_ACTIVATION_FIELDS = {
    "activation_code_invalid": "code",
    "username_taken": "username",
    "invalid_username": "username",
    "password_too_short": "password",
    "password_is_username": "password",
}


class EnrolmentHost(Navigator, Protocol):
    enrolment: FamilyEnrolmentUi
    user: contract.UserOut | None
    children: list[contract.PatientRef]

    def add_notice(self, notice: str) -> None: ...


class FamilyEnrolmentCases:
    def __init__(
        self,
        *,
        state: EnrolmentHost,
        api: ApiClient,
        tr: Translator,
        signed_in: Callable[[contract.TokenResponse], Awaitable[str | None]],
        refresh: Callable[[], Awaitable[None]],
        session_expired: Callable[[], Awaitable[None]],
    ) -> None:
        self._state = state
        self._api = api
        self._tr = tr
        self._signed_in = signed_in
        self._refresh = refresh
        self._session_expired = session_expired
        self.min_length = 10

    @property
    def _ui(self) -> FamilyEnrolmentUi:
        return self._state.enrolment

    def _say(self, problems: Problems) -> dict[str, str]:
        return {name: self._tr.t(key, **values) for name, (key, values) in problems.items()}

    # ---- "Tengo un código de activación" -------------------------------------------------------------

    def open(self, opened: bool = True) -> None:
        self._ui.open_activation(opened)

    async def activate(self, form: ActivationForm) -> bool:
        """Check the form, then the server; True when the account exists and the session began."""
        ui = self._ui
        if ui.busy:
            return False
        problems = check_activation(form, min_length=self.min_length)
        if problems:
            ui.checked(self._say(problems))
            return False
        with self._state.batch():
            ui.checked({})
            ui.start()
        t = self._tr.t
        try:
            tokens = await self._api.activate(read_code(form.code).code, form.clean_username, form.password)
        except NetworkError:
            errors = {"form": t("enr_offline")}
        except RateLimited as exc:
            errors = {"form": message_for(self._tr, exc)}
        except (BadRequest, Conflict) as exc:
            if exc.code == "password_too_short":
                self.min_length = max(self.min_length, min_length_in(exc.message) or self.min_length)
            errors = {_ACTIVATION_FIELDS.get(exc.code, "form"): self._activation_words(exc)}
        except ApiError as exc:
            errors = {"form": message_for(self._tr, exc)}
        else:
            log.info("account activated")
            refused = await self._signed_in(tokens)
            with self._state.batch():
                ui.stop({"form": refused} if refused else {})
                if not refused:
                    ui.open_activation(False)
            return refused is None
        ui.stop(errors)
        return False

    def _activation_words(self, exc: ApiError) -> str:
        if isinstance(exc, BadRequest | Conflict) and exc.code == "activation_code_invalid":
            return self._tr.t("enr_err_code_invalid")
        if isinstance(exc, Conflict) and exc.code == "username_taken":
            return self._tr.t("enr_err_username_taken")
        if isinstance(exc, BadRequest) and exc.code == "invalid_username":
            return self._tr.t("enr_err_username_form")
        return message_for(self._tr, exc)

    # ---- "Agregar un niño con código" ------------------------------------------------------------------

    def show_link(self) -> None:
        with self._state.batch():
            self._ui.link_checked({})
            self._state.go_to(Screen.ACCOUNT_LINK)

    async def link_child(self, typed: str) -> bool:
        """A signed-in guardian links one more child; then a sync brings its carnet. True when linked."""
        ui = self._ui
        if ui.linking:
            return False
        problems = check_code(typed)
        if problems:
            ui.link_checked(self._say(problems))
            return False
        ui.start_link()
        try:
            linked = await self._api.link_child(read_code(typed).code)
        except AuthError:
            ui.stop_link()
            await self._session_expired()
            return False
        except NetworkError:
            errors = {"form": self._tr.t("enr_offline")}
        except (BadRequest, Conflict) as exc:
            errors = {"code" if exc.code == "activation_code_invalid" else "form": self._activation_words(exc)}
        except ApiError as exc:
            errors = {"form": message_for(self._tr, exc)}
        else:
            log.info("child linked")
            await self._refresh()  # the new child's carnet, and who else has access
            with self._state.batch():
                ui.stop_link({})
                self._state.add_notice(self._tr.t("enr_linked", name=linked.display_name))
                self._state.go_to(Screen.CHILDREN)
            return True
        ui.stop_link(errors)
        return False

    # ---- who else has access --------------------------------------------------------------------------

    async def fetch_guardians(self, patients: list[contract.PatientRef]) -> None:
        """Each child's guardians, during a sync (kept in memory; a failure keeps the last ones)."""
        found: dict[str, list[wire.GuardianOut]] = {}
        for patient in patients:
            try:
                found[patient.id] = await self._api.guardians(patient.id)
            except AuthError:
                raise
            except ApiError as exc:
                log.info("guardians not fetched: %s", type(exc).__name__)
                if patient.id in self._ui.guardians:
                    found[patient.id] = self._ui.guardians[patient.id]
        self._ui.show_guardians(found)
