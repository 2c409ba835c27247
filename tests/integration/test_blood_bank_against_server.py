"""Blood-bank bookings: the app's real services against the real server on loopback.

(a) A booking made with the server unreachable (the app talks through a
loopback proxy that drops every request) waits in the outbox as "pendiente
de confirmar"; then syncs twice, the first answer lost on the way back (the
seeded flaky proxy cuts it): the server holds exactly one booking (counted
through the API) and the phone shows it confirmed with the server's folio.

(b) A slot filled by others while the phone was offline: the booking is
rejected on the next sync with the server's reason, kept visible; nothing on
the server.
"""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from carnet.core.clock import MX
from carnet.data.records import Mark
from carnet.blood_bank.form import DonorForm
from carnet.core.config import AppConfig
from carnet.data.outbox import Backoff
from carnet.shell.session import AppSession
from carnet.core.navigation import Phase
from carnet_contract import models as contract
from tests.support.flaky_proxy import FlakyProxy
from tests.support.processes import running_server
from tests.support.secret_stores import DictSecretStore

PASSWORD = "carnet-demo"
QUIET_SECONDS = 60.0

pytestmark = pytest.mark.anyio


def next_slot_day() -> date:
    day = datetime.now(MX).date() + timedelta(days=2)
    return day + timedelta(days=1) if day.weekday() == 6 else day


def api_login(client: httpx.Client, username: str) -> dict[str, str]:
    token = client.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD}).json()
    return {"Authorization": f"Bearer {token['access_token']}"}


def server_bookings(url: str) -> list[dict[str, Any]]:
    """Every booking of madre.demo's children, through the API."""
    with httpx.Client(base_url=url, timeout=15.0) as client:
        headers = api_login(client, "madre.demo")
        answer = client.get("/api/v1/blood-bank/bookings", headers=headers)
        assert answer.status_code == 200, answer.text
        return list(answer.json())


async def _session(url: str, home: Path) -> AppSession:
    session = AppSession(AppConfig(api_base_url=url, api_timeout_seconds=5.0), DictSecretStore(), home,
                         backoff=Backoff(base=0.01, cap=0.05))
    await session.start()
    await session.login("madre.demo", PASSWORD)
    assert session.state.phase is Phase.READY, session.state.login_error
    await session.blood_bank.open()
    ui = session.state.blood_bank
    assert ui.banks and ui.questions, "banks and questionnaire cached"
    mateo = next(c for c in session.state.children if c.display_name == "Mateo Hernández")
    session.blood_bank.pick_child(mateo.id)
    bank = next(b for b in ui.banks if "Siglo XXI" in b.unit.name)
    await session.blood_bank.pick_bank(bank.id)
    await session.blood_bank.pick_day(next_slot_day())
    assert ui.slots and not ui.slots_cached, "slots fetched online"
    return session


def _queue(session: AppSession, slot_index: int) -> str:
    ui = session.state.blood_bank
    session.blood_bank.pick_slot(ui.slots[slot_index].id)
    for q in ui.questions:
        session.blood_bank.answer(q.id, q.eligible_answer)
    session.blood_bank.set_sex("hombre")
    assert ui.form is not None
    form = DonorForm(patient_id=ui.form.patient_id, slot_id=ui.form.slot_id, full_name="Jorge Hernández Soto",
                     phone="55 8765 4321", birth_text="03/07/1988", weight_text="78", sex="hombre",
                     answers=ui.form.answers)
    assert session.blood_bank.submit(form), ui.form.errors if ui.form else ui.message
    assert ui.selected_id is not None
    return ui.selected_id


def _shown(session: AppSession, booking_id: str):  # type: ignore[no-untyped-def]
    found = [v for v in session.state.blood_bank.bookings if v.id == booking_id]
    assert len(found) == 1, [v.id for v in session.state.blood_bank.bookings]
    return found[0]


async def _sync_until_quiet(session: AppSession) -> None:
    deadline = time.monotonic() + QUIET_SECONDS
    while time.monotonic() < deadline:
        await session.refresh()
        assert session.scope.outbox is not None
        if session.scope.outbox.items() == [] and session.state.online:
            return
        session.scope.outbox.network_is_back(session.clock() + timedelta(hours=1))
    raise AssertionError("the outbox did not empty in time")


async def test_offline_booking_then_sync_twice_with_a_lost_answer_makes_exactly_one(tmp_path: Path) -> None:
    with running_server(tmp_path / "server") as server:
        port = int(server.url.rsplit(":", 1)[1])
        with FlakyProxy(port, seed=3, drop=0.0, lose_answer=0.0, delay=0.0) as proxy:
            session = await _session(proxy.url, tmp_path / "phone")
            try:
                before = len(server_bookings(server.url))
                proxy.fate.drop = 1.0  # offline: every request is dropped before it reaches the server
                local_id = _queue(session, 0)
                view = _shown(session, local_id)
                assert view.mark is Mark.PENDING and view.status is None
                await session.refresh()
                assert session.state.online is False and session.scope.outbox.pending_count() == 1  # type: ignore[union-attr]
                assert len(server_bookings(server.url)) == before

                # Back online, but the answer to the booking is lost on the way back.
                proxy.fate.drop, proxy.fate.lose_answer = 0.0, 1.0
                session.scope.outbox.network_is_back(session.clock())  # type: ignore[union-attr]
                await session.scope.engine.push()  # type: ignore[union-attr]
                proxy.fate.lose_answer = 0.0
                assert session.scope.outbox.pending_count() == 1, "the phone did not hear back"  # type: ignore[union-attr]
                assert len(server_bookings(server.url)) == before + 1, "but the server booked it"

                await _sync_until_quiet(session)
                await session.refresh()  # a second full sync changes nothing
                mine = server_bookings(server.url)
                assert len(mine) == before + 1, "exactly one booking on the server"
                selected = session.state.blood_bank.selected_id
                assert selected is not None and selected != local_id, "the pending booking got the server's id"
                view = _shown(session, selected)
                [server_side] = [b for b in mine if b["id"] == view.id]
                assert view.status is contract.BookingStatus.CONFIRMADA and view.mark is Mark.SYNCED
                assert view.folio == server_side["folio"] and view.folio
                assert any(i.appointment.kind is contract.AppointmentKind.BANCO_DE_SANGRE
                           and i.id == server_side["appointment_id"] for i in session.state.agenda.items)
            finally:
                await session.close()


async def test_slot_filled_while_offline_is_rejected_with_the_reason(tmp_path: Path) -> None:
    with running_server(tmp_path / "server") as server:
        port = int(server.url.rsplit(":", 1)[1])
        with FlakyProxy(port, seed=5, drop=0.0, lose_answer=0.0, delay=0.0) as proxy:
            session = await _session(proxy.url, tmp_path / "phone")
            try:
                ui = session.state.blood_bank
                # 08:00: the demo's own booking (07:30, three days on) may fall on this day: its slot can't be emptied.
                slot = ui.slots[2]
                proxy.fate.drop = 1.0  # offline
                local_id = _queue(session, 2)
                # Meanwhile the bank's staff take every place of that slot.
                with httpx.Client(base_url=server.url, timeout=15.0) as client:
                    headers = api_login(client, "banco.demo")
                    answer = client.patch(f"/api/v1/blood-banks/{slot.bank_id}/slots/{slot.id}",
                                          json={"capacity": 0}, headers=headers)
                    assert answer.status_code == 200, answer.text
                before = server_bookings(server.url)
                proxy.fate.drop = 0.0
                session.scope.outbox.network_is_back(session.clock())  # type: ignore[union-attr]
                await session.refresh()
                view = _shown(session, local_id)
                assert view.mark is Mark.FAILED and view.status is None
                assert view.error and ("lleno" in view.error.lower() or "lugar" in view.error.lower()), view.error
                assert session.state.sync.failed, "listed in the sync screen with retry / discard"
                assert server_bookings(server.url) == before
            finally:
                await session.close()
