"""Use cases end to end over the fake API: login, offline restart, errors, logout."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from carnet.data.secret_store import MemorySecretStore
from carnet.shell.session import SESSION_SECRET, AppSession
from carnet.core.navigation import Phase, Screen
from carnet.patients.cycles import current_cycle
from carnet.data.store import DB_NAME, KEY_SECRET
from carnet_contract import models as contract

from tests.support.secret_stores import DictSecretStore
from .fake_api import FakeApi

pytestmark = pytest.mark.anyio


async def test_guardian_with_two_children_picks_one(make_session, secrets: DictSecretStore) -> None:
    session = make_session(secrets)
    assert await session.start() is False
    assert session.state.phase is Phase.LOGIN
    await session.login("madre.demo", "carnet-demo")
    state = session.state
    assert state.phase is Phase.READY and state.screen is Screen.CHILDREN
    assert [c.display_name for c in state.children] == ["Mateo Hernández", "Valentina Hernández"]
    assert state.online is True and not state.busy and state.login_error is None
    assert SESSION_SECRET in secrets.data
    session.select_child("p-mateo")
    assert state.screen is Screen.CARNET
    assert state.carnet is not None and state.carnet.patient.full_name == "Mateo Hernández López"
    assert state.qr is not None and state.qr.version <= 14
    assert state.qr_check is not None and state.qr_check.valid
    cycle = current_cycle(state.carnet, session.clock().date())
    assert cycle is not None and cycle.number == 2
    session.back()
    assert state.screen is Screen.CHILDREN
    await session.close()


async def test_single_child_opens_the_carnet_directly(make_session, secrets) -> None:
    session = make_session(secrets)
    await session.start()
    await session.login("padre.demo", "carnet-demo")
    assert session.state.screen is Screen.CARNET
    assert session.state.carnet is not None and session.state.carnet.patient.display_name == "Santiago Ramírez"
    await session.close()


async def test_carnet_and_qr_open_offline_after_one_login(make_session, secrets, fake_api: FakeApi) -> None:
    first = make_session(secrets)
    await first.start()
    await first.login("madre.demo", "carnet-demo")
    first.select_child("p-valentina")
    fetched_at = first.state.carnet_fetched_at
    url = first.state.carnet.qr.url  # type: ignore[union-attr]
    await first.close()

    fake_api.offline = True  # airplane mode, app restarted
    second = make_session(secrets)
    assert await second.start() is True
    state = second.state
    assert state.phase is Phase.READY
    second.select_child("p-valentina")
    assert state.carnet is not None and state.carnet.qr.url == url
    assert state.qr is not None
    await second.refresh()
    assert state.online is False
    assert state.carnet_fetched_at == fetched_at  # the banner shows when the data is from
    assert state.carnet is not None and state.phase is Phase.READY
    await second.close()


async def test_a_cycle_change_from_sync_updates_the_cached_carnet_offline(make_session, secrets,
                                                                          fake_api: FakeApi) -> None:
    session = make_session(secrets)
    await session.start()
    await session.login("madre.demo", "carnet-demo")
    session.select_child("p-valentina")
    carnet, fetched_at = session.scope.carnets.carnet("p-valentina")  # type: ignore[union-attr]
    cycle = next(c for c in carnet.cycles if c.id == "c2")
    assert cycle.mixing.status == "en_preparacion"

    # The provider reported the mixture ready: the server sends the cycle as a sync change.
    ready = cycle.model_copy(update={"mixing": contract.Mixing(status="lista")}).model_dump(mode="json")
    fake_api.agenda.put_record("cycle", {**ready, "patient_id": "p-valentina"})
    fake_api.agenda.put_record("cycle", {**ready, "id": "c-elsewhere", "patient_id": "p-valentina"})
    report = await session.scope.engine.run()  # type: ignore[union-attr]
    assert report.pulled >= 2

    fake_api.offline = True
    carnet_after, fetched_after = session.scope.carnets.carnet("p-valentina")  # type: ignore[union-attr]
    assert next(c for c in carnet_after.cycles if c.id == "c2").mixing.status == "lista"
    assert [c.id for c in carnet_after.cycles] == [c.id for c in carnet.cycles]  # an unknown cycle adds nothing
    assert fetched_after == fetched_at  # the carnet itself was not read again
    await session.close()


@pytest.mark.parametrize(("setup", "expected"), [
    ("wrong_password", "Usuario o contraseña incorrectos."),
    ("rate_limited", "Demasiados intentos. Intenta de nuevo en 3 minutos."),
    ("offline", "Sin conexión con el servidor. Revisa tu internet e intenta de nuevo."),
    ("empty", "Escribe tu usuario y tu contraseña."),
])
async def test_login_errors_are_sentences(make_session, secrets, fake_api: FakeApi, setup: str,
                                          expected: str) -> None:
    password = "carnet-demo"
    username = "madre.demo"
    if setup == "wrong_password":
        password = "nope"
    elif setup == "rate_limited":
        fake_api.login_rate_limited = 150
    elif setup == "offline":
        fake_api.offline = True
    elif setup == "empty":
        username = "  "
    session = make_session(secrets)
    await session.start()
    await session.login(username, password)
    assert session.state.phase is Phase.LOGIN
    assert session.state.login_error == expected
    assert not session.state.busy
    assert SESSION_SECRET not in secrets.data
    await session.close()


async def test_staff_session_is_not_kept_and_logout_closes_it(make_session, secrets, fake_api: FakeApi) -> None:
    session = make_session(secrets)
    await session.start()
    await session.login("farmacia.demo", "carnet-demo")
    assert session.state.phase is Phase.READY and session.state.pharmacy_mode
    assert SESSION_SECRET not in secrets.data  # a shared counter device: memory only
    await session.logout()
    assert session.state.phase is Phase.LOGIN
    assert not fake_api.refresh  # the staff session was closed on the server
    await session.close()


async def test_logout_erases_tokens_and_cache(make_session, secrets, data_dir: Path, fake_api: FakeApi) -> None:
    session = make_session(secrets)
    await session.start()
    await session.login("madre.demo", "carnet-demo")
    old_key = secrets.data[KEY_SECRET]
    await session.logout()
    assert session.state.phase is Phase.LOGIN and session.state.user is None
    assert SESSION_SECRET not in secrets.data
    assert secrets.data[KEY_SECRET] != old_key  # a fresh key for the next login
    with sqlite3.connect(data_dir / DB_NAME) as db:
        assert db.execute("SELECT COUNT(*) FROM records").fetchone() == (0,)
    assert not fake_api.refresh
    await session.close()


async def test_revoked_session_goes_back_to_login_and_clears(make_session, secrets, fake_api: FakeApi) -> None:
    session = make_session(secrets)
    await session.start()
    await session.login("padre.demo", "carnet-demo")
    fake_api.revoke_all()
    await session.refresh()
    assert session.state.phase is Phase.LOGIN
    assert session.state.login_error == "Tu sesión terminó. Inicia sesión de nuevo."
    assert session.state.carnet is None
    assert SESSION_SECRET not in secrets.data
    await session.close()


def _queue_family_appointment(session, title: str) -> None:  # type: ignore[no-untyped-def]
    session.agenda.new()
    form = session.agenda._ui.form
    form.title, form.kind, form.date_text = title, "consulta", "15/12/2026"
    assert session.agenda.save(form)
    assert session.scope.outbox.pending_count() == 1


async def test_expired_session_keeps_unsent_writes_for_the_same_person(make_session, secrets,
                                                                       fake_api: FakeApi) -> None:
    session = make_session(secrets)
    await session.start()
    await session.login("padre.demo", "carnet-demo")
    fake_api.offline = True
    _queue_family_appointment(session, "Dentista")
    fake_api.offline = False
    fake_api.revoke_all()
    await session.refresh()
    assert session.state.phase is Phase.LOGIN
    assert "siguen guardados" in (session.state.login_error or "")
    assert fake_api.agenda.created == 0

    await session.login("padre.demo", "carnet-demo")
    assert fake_api.agenda.created == 1, "the kept write reached the server after the new login"
    assert session.scope.outbox is not None and session.scope.outbox.pending_count() == 0
    await session.close()


async def test_expired_session_data_is_wiped_when_someone_else_logs_in(make_session, secrets,
                                                                       fake_api: FakeApi) -> None:
    session = make_session(secrets)
    await session.start()
    await session.login("padre.demo", "carnet-demo")
    fake_api.offline = True
    _queue_family_appointment(session, "Dentista")
    fake_api.offline = False
    fake_api.revoke_all()
    await session.refresh()
    assert session.state.phase is Phase.LOGIN

    await session.login("madre.demo", "carnet-demo")
    assert fake_api.agenda.created == 0, "another person's unsent write is never sent under this account"
    assert session.scope.outbox is not None and session.scope.outbox.pending_count() == 0
    assert [c.display_name for c in session.state.children] == ["Mateo Hernández", "Valentina Hernández"]
    await session.close()


async def test_memory_only_device_says_so_and_forgets_on_restart(make_session) -> None:
    first = make_session(MemorySecretStore())
    await first.start()
    assert first.state.secure_storage is False
    await first.login("padre.demo", "carnet-demo")
    await first.close()

    second = make_session(MemorySecretStore())  # restarted: nothing survived
    assert await second.start() is False
    assert second.state.phase is Phase.LOGIN
    assert second.state.notices and "se borraron" in second.state.notices[0]
    await second.close()


async def test_language_switch_reaches_server_and_messages(make_session, secrets, fake_api: FakeApi) -> None:
    seen: list[str] = []

    def spy(request):  # type: ignore[no-untyped-def]
        seen.append(request.headers.get("Accept-Language", ""))
        return None

    fake_api.override = spy
    session = make_session(secrets)
    await session.start()
    await session.set_locale("en")
    await session.login("madre.demo", "nope")
    assert session.state.login_error == "Wrong username or password."
    assert seen[-1] == "en"
    restarted = make_session(secrets)
    await restarted.start()
    assert restarted.state.locale == "en"
    await session.close()
    await restarted.close()


async def test_second_sync_while_one_runs_is_refused(config, data_dir, secrets, fake_api: FakeApi) -> None:
    import asyncio

    import httpx

    from carnet.shell.session import AppSession

    gate = asyncio.Event()

    async def gated(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v1/me":
            await gate.wait()  # hold the first sync in the middle of its work
        return fake_api.handle(request)

    session = AppSession(config, secrets, data_dir, transport=httpx.MockTransport(gated))
    await session.start()
    gate.set()
    await session.login("madre.demo", "carnet-demo")
    gate.clear()
    fake_api.calls.clear()
    first = asyncio.create_task(session.refresh())
    while not session.state.syncing:  # let the first sync start (no sleep for state: yield only)
        await asyncio.sleep(0)
    await session.refresh()  # refused at once while the first runs
    assert session.state.syncing
    gate.set()
    await first
    assert sum(1 for _, p in fake_api.calls if p == "/api/v1/me") == 1
    assert not session.state.syncing
    await session.close()


async def test_browser_sessions_each_keep_their_own_data_in_memory(config, fake_api: FakeApi, tmp_path: Path) -> None:
    """Web mode: two people in one process; no file, no shared secret, closing one ends its login."""
    madre = AppSession(config, MemorySecretStore(), None, transport=fake_api.transport)
    counter = AppSession(config, MemorySecretStore(), None, transport=fake_api.transport)
    assert await madre.start() is False and await counter.start() is False
    assert madre.state.web_session and counter.state.web_session
    await madre.login("madre.demo", "carnet-demo")
    assert madre.state.phase is Phase.READY and len(madre.state.children) == 2

    await counter.login("farmacia.demo", "carnet-demo")
    assert counter.state.pharmacy_mode and counter.state.children == []
    assert counter.store is not None and counter.store.get(madre.state.user.id, "me", "") is None
    await counter.logout()  # the counter's logout erases its own store only
    madre.select_child(madre.state.children[0].id)
    assert madre.state.carnet is not None and madre.state.qr is not None

    assert "madre.demo" in fake_api.refresh.values()
    await madre.close()  # the browser session ended: its login ends on the server too
    assert "madre.demo" not in fake_api.refresh.values()
    await counter.close()
    assert not any(tmp_path.iterdir()) and madre.store is not None and madre.store.path is None
