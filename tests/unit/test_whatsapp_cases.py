"""Ajustes → WhatsApp's use cases against a fake API (no server, no Flet): the link, a code, "Ya lo envié",
unlinking with its confirmation, offline and a staff account."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from carnet.core.i18n import Translator
from carnet.core.navigation import Screen
from carnet.data.api import AuthError, NetworkError, ServerError
from carnet.shell.state import AppState
from carnet.whatsapp.cases import WhatsAppCases
from carnet_contract import models as contract

NOW = datetime(2026, 12, 4, 18, 0, tzinfo=UTC)
BOT = "+52 55 0000 0000"


def user(role: contract.Role = contract.Role.GUARDIAN) -> contract.UserOut:
    return contract.UserOut(id="u1", username="madre.demo", display_name="Madre", role=role)


class FakeApi:
    """Answers like the server; ``fail`` makes the next calls raise."""

    def __init__(self) -> None:
        self.linked: str | None = None
        self.calls: list[str] = []
        self.fail: Exception | None = None

    def _check(self, name: str) -> None:
        self.calls.append(name)
        if self.fail is not None:
            raise self.fail

    async def whatsapp_link(self) -> contract.WhatsAppLink:
        self._check("status")
        if self.linked is None:
            return contract.WhatsAppLink(linked=False, bot_number=BOT)
        return contract.WhatsAppLink(linked=True, number=self.linked, linked_at=NOW, bot_number=BOT)

    async def whatsapp_link_code(self) -> contract.WhatsAppLinkCode:
        self._check("code")
        return contract.WhatsAppLinkCode(code="CARNET-7K3QH", expires_at=NOW + timedelta(minutes=15), bot_number=BOT)

    async def whatsapp_unlink(self) -> None:
        self._check("unlink")
        self.linked = None


class World:
    def __init__(self, role: contract.Role = contract.Role.GUARDIAN) -> None:
        self.state = AppState()
        self.state.enter_family(user(role))
        self.state.go_to(Screen.SETTINGS)
        self.api = FakeApi()
        self.now = NOW
        self.expired = 0

        async def session_expired() -> None:
            self.expired += 1

        self.cases = WhatsAppCases(
            state=self.state,
            api=self.api,  # type: ignore[arg-type]
            tr=Translator("es-MX"),
            clock=lambda: self.now,
            session_expired=session_expired,
        )


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_open_shows_not_linked_then_a_code_with_its_expiry() -> None:
    w = World()
    run(w.cases.open())
    ui = w.state.whatsapp
    assert w.state.screen is Screen.WHATSAPP
    assert ui.link is not None and not ui.link.linked and ui.link.bot_number == BOT
    run(w.cases.request_code())
    assert ui.code is not None and ui.code.code == "CARNET-7K3QH" and not ui.busy
    assert not w.cases.code_expired()
    w.now = NOW + timedelta(minutes=16)
    assert w.cases.code_expired()


def test_ya_lo_envie_not_yet_keeps_the_code_then_linked_drops_it() -> None:
    w = World()
    run(w.cases.open())
    run(w.cases.request_code())
    run(w.cases.check_sent())
    ui = w.state.whatsapp
    assert ui.code is not None and ui.error is not None and "aún no llega" in ui.error
    w.api.linked = "•••• 5678"
    run(w.cases.check_sent())
    assert ui.code is None and ui.link is not None and ui.link.linked
    assert ui.message == "Listo: tu WhatsApp •••• 5678 quedó vinculado." and ui.error is None


def test_ya_lo_envie_after_the_code_expired_says_to_ask_for_another() -> None:
    w = World()
    run(w.cases.open())
    run(w.cases.request_code())
    w.now = NOW + timedelta(hours=1)
    run(w.cases.check_sent())
    assert w.state.whatsapp.error == "Este código ya venció. Pide otro código."


def test_unlink_needs_the_confirmation_first() -> None:
    w = World()
    w.api.linked = "•••• 5678"
    run(w.cases.open())
    run(w.cases.unlink())  # not confirmed: nothing is sent
    assert "unlink" not in w.api.calls
    w.cases.ask_unlink(True)
    assert w.state.whatsapp.confirm_unlink
    w.cases.ask_unlink(False)  # "Cancelar"
    assert not w.state.whatsapp.confirm_unlink
    w.cases.ask_unlink(True)
    run(w.cases.unlink())
    ui = w.state.whatsapp
    assert w.api.calls.count("unlink") == 1
    assert ui.link is not None and not ui.link.linked and ui.link.bot_number == BOT
    assert ui.message == "Tu WhatsApp quedó desvinculado." and not ui.confirm_unlink


def test_offline_says_so_and_changes_nothing() -> None:
    w = World()
    w.api.linked = "•••• 5678"
    run(w.cases.open())
    w.api.fail = NetworkError("down")
    w.cases.ask_unlink(True)
    run(w.cases.unlink())
    ui = w.state.whatsapp
    assert ui.error == "Sin conexión: tu WhatsApp no se desvinculó. Intenta de nuevo con internet."
    assert ui.link is not None and ui.link.linked and not ui.busy
    run(w.cases.request_code())
    assert ui.code is None
    assert ui.error == "Sin conexión: para pedir un código se necesita internet. Intenta de nuevo con conexión."
    run(w.cases.fetch_status())
    assert ui.link is not None and ui.link.linked  # what was known stays
    assert ui.error is not None and ui.error.startswith("Sin conexión") and not ui.loading


def test_a_server_refusal_is_a_sentence_and_an_ended_session_logs_out() -> None:
    w = World()
    run(w.cases.open())
    w.api.fail = ServerError(503, "unavailable", "x")
    run(w.cases.request_code())
    assert w.state.whatsapp.error and not w.state.whatsapp.busy
    w.api.fail = AuthError(401, "invalid_token", "x")
    run(w.cases.request_code())
    assert w.expired == 1


@pytest.mark.parametrize("role", [contract.Role.CASE_DESK, contract.Role.BLOOD_BANK])
def test_staff_get_no_whatsapp_screen(role: contract.Role) -> None:
    w = World(role)
    run(w.cases.open())
    run(w.cases.request_code())
    assert w.state.screen is Screen.SETTINGS and w.api.calls == []


def test_back_goes_to_settings_and_closes_the_confirmation() -> None:
    w = World()
    w.api.linked = "•••• 5678"
    run(w.cases.open())
    w.cases.ask_unlink(True)
    assert w.cases.back()
    assert w.state.screen is Screen.SETTINGS and not w.state.whatsapp.confirm_unlink
    assert not w.cases.back()  # not on the screen any more
