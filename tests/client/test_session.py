"""Use cases end to end against the real server in process: login, offline restart, errors, logout."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from carnet.core.navigation import Phase, Screen
from carnet.data.secret_store import MemorySecretStore
from carnet.data.store import DB_NAME, KEY_SECRET
from carnet.patients.cycles import current_cycle
from carnet.shell.session import SESSION_SECRET, AppSession
from carnet_server.agenda.tables import Appointment
from carnet_server.patients.service import due_cycles, touch_cycle
from carnet_server.patients.tables import Cycle, CycleDrug
from tests.support.inprocess_server import FaultTransport, InProcessServer
from tests.support.secret_stores import DictSecretStore

pytestmark = pytest.mark.anyio


async def test_guardian_with_two_children_picks_one(make_session, secrets: DictSecretStore,
                                                    server: InProcessServer) -> None:
    session = make_session(secrets)
    assert await session.start() is False
    assert session.state.phase is Phase.LOGIN
    await session.login("madre.demo", "carnet-demo")
    state = session.state
    assert state.phase is Phase.READY and state.screen is Screen.CHILDREN
    assert [c.display_name for c in state.children] == ["Mateo Hernández", "Valentina Hernández"]
    assert state.online is True and not state.busy and state.login_error is None
    assert SESSION_SECRET in secrets.data
    mateo = server.patient_id("Mateo Hernández")
    session.select_child(mateo)
    assert state.screen is Screen.CARNET
    assert state.carnet is not None and state.carnet.patient.full_name == "Mateo Hernández López"
    assert state.qr is not None and state.qr.version <= 14
    assert state.qr_check is not None and state.qr_check.valid
    cycle = current_cycle(state.carnet, session.clock().date())
    with server.db() as db:  # the next cycle the server has scheduled
        due = due_cycles(db, patient_id=mateo, today=server.ctx.today(session.clock()))[0]
    assert cycle is not None and (cycle.id, cycle.number) == (due.id, due.number)
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


async def test_carnet_and_qr_open_offline_after_one_login(make_session, secrets, server: InProcessServer,
                                                         net: FaultTransport) -> None:
    valentina = server.patient_id("Valentina Hernández")
    first = make_session(secrets)
    await first.start()
    await first.login("madre.demo", "carnet-demo")
    first.select_child(valentina)
    fetched_at = first.state.carnet_fetched_at
    url = first.state.carnet.qr.url  # type: ignore[union-attr]
    await first.close()

    net.offline = True  # airplane mode, app restarted
    second = make_session(secrets)
    assert await second.start() is True
    state = second.state
    assert state.phase is Phase.READY
    second.select_child(valentina)
    assert state.carnet is not None and state.carnet.qr.url == url
    assert state.qr is not None
    await second.refresh()
    assert state.online is False
    assert state.carnet_fetched_at == fetched_at  # the banner shows when the data is from
    assert state.carnet is not None and state.phase is Phase.READY
    await second.close()


async def test_a_cycle_change_from_sync_updates_the_cached_carnet_offline(make_session, secrets,
                                                                          server: InProcessServer,
                                                                          net: FaultTransport) -> None:
    valentina = server.patient_id("Valentina Hernández")
    session = make_session(secrets)
    await session.start()
    await session.login("madre.demo", "carnet-demo")
    session.select_child(valentina)
    carnet, fetched_at = session.scope.carnets.carnet(valentina)  # type: ignore[union-attr]
    cycle = next(c for c in carnet.cycles if c.mixing.status == "pendiente")  # one the provider has not started

    # The provider reported the mixture ready: the server sends the cycle as a sync change; a cycle
    # the oncology team added since (not in the cached carnet) comes as a change too.
    with server.db() as db:
        row = db.get_one(Cycle, cycle.id)
        row.mixing_status = "lista"
        touch_cycle(db, row)
        added = Cycle(patient_id=valentina, protocol_id=row.protocol_id, number=99,
                      scheduled_for=row.scheduled_for.replace(year=row.scheduled_for.year + 1), status="programado",
                      mixing_status="pendiente", mixing_updated_at=row.mixing_updated_at,
                      drugs=[CycleDrug(name="Vincristina", route="IV", position=0, amount=0.63, dose_unit="mg",
                                      basis="kg", per_basis=0.05, computed=0.63, days="1")])
        db.add(added)
        db.flush()
        touch_cycle(db, added)
        db.commit()
    report = await session.scope.engine.run()  # type: ignore[union-attr]
    assert report.pulled >= 2

    net.offline = True
    carnet_after, fetched_after = session.scope.carnets.carnet(valentina)  # type: ignore[union-attr]
    assert next(c for c in carnet_after.cycles if c.id == cycle.id).mixing.status == "lista"
    assert [c.id for c in carnet_after.cycles] == [c.id for c in carnet.cycles]  # an unknown cycle adds nothing
    assert fetched_after == fetched_at  # the carnet itself was not read again
    await session.close()


@pytest.mark.parametrize(("setup", "expected"), [
    ("wrong_password", "Usuario o contraseña incorrectos."),
    ("rate_limited", "Demasiados intentos. Intenta de nuevo en 15 minutos."),
    ("offline", "No se pudo conectar. Revisa tu internet e intenta de nuevo."),
    ("empty", "Escribe tu usuario y tu contraseña."),
])
async def test_login_errors_are_sentences(make_session, secrets, server: InProcessServer, net: FaultTransport,
                                          setup: str, expected: str) -> None:
    password = "carnet-demo"
    username = "madre.demo"
    if setup == "wrong_password":
        password = "nope"
    elif setup == "rate_limited":  # the server's throttle: the 15-minute window starts now
        for _ in range(server.ctx.settings.login_max_per_username):
            assert server.http.post("/api/v1/auth/login", json={"username": username, "password": "no"}
                                    ).status_code == 401
    elif setup == "offline":
        net.offline = True
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


async def test_staff_session_is_not_kept_and_logout_closes_it(make_session, secrets, server: InProcessServer) -> None:
    session = make_session(secrets)
    await session.start()
    await session.login("farmacia.demo", "carnet-demo")
    assert session.state.phase is Phase.READY and session.state.pharmacy_mode
    assert SESSION_SECRET not in secrets.data  # a shared counter device: memory only
    await session.logout()
    assert session.state.phase is Phase.LOGIN
    assert server.live_sessions("farmacia.demo") == 0  # the staff session was closed on the server
    await session.close()


async def test_logout_erases_tokens_and_cache(make_session, secrets, data_dir: Path, server: InProcessServer) -> None:
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
    assert server.live_sessions("madre.demo") == 0
    await session.close()


async def test_revoked_session_goes_back_to_login_and_clears(make_session, secrets, server: InProcessServer) -> None:
    session = make_session(secrets)
    await session.start()
    await session.login("padre.demo", "carnet-demo")
    server.revoke_all("padre.demo")
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


def _dentists(server: InProcessServer) -> int:
    """Family appointments called "Dentista" on the server."""
    return server.count(Appointment, Appointment.title == "Dentista", Appointment.source == "familia")


async def test_expired_session_keeps_unsent_writes_for_the_same_person(make_session, secrets,
                                                                       server: InProcessServer,
                                                                       net: FaultTransport) -> None:
    session = make_session(secrets)
    await session.start()
    await session.login("padre.demo", "carnet-demo")
    net.offline = True
    _queue_family_appointment(session, "Dentista")
    net.offline = False
    server.revoke_all("padre.demo")
    await session.refresh()
    assert session.state.phase is Phase.LOGIN
    assert "siguen guardados" in (session.state.login_error or "")
    assert _dentists(server) == 0

    await session.login("padre.demo", "carnet-demo")
    assert _dentists(server) == 1, "the kept write reached the server after the new login"
    assert session.scope.outbox is not None and session.scope.outbox.pending_count() == 0
    await session.close()


async def test_expired_session_data_is_wiped_when_someone_else_logs_in(make_session, secrets,
                                                                       server: InProcessServer,
                                                                       net: FaultTransport) -> None:
    session = make_session(secrets)
    await session.start()
    await session.login("padre.demo", "carnet-demo")
    net.offline = True
    _queue_family_appointment(session, "Dentista")
    net.offline = False
    server.revoke_all("padre.demo")
    await session.refresh()
    assert session.state.phase is Phase.LOGIN

    await session.login("madre.demo", "carnet-demo")
    assert _dentists(server) == 0, "another person's unsent write is never sent under this account"
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


async def test_language_switch_reaches_server_and_messages(make_session, secrets, net: FaultTransport) -> None:
    seen: list[str] = []

    def spy(request):  # type: ignore[no-untyped-def]
        seen.append(request.headers.get("Accept-Language", ""))
        return None

    net.override = spy
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


async def test_second_sync_while_one_runs_is_refused(config, data_dir, secrets, net: FaultTransport) -> None:
    import asyncio

    import httpx

    from carnet.shell.session import AppSession

    gate = asyncio.Event()

    class Gated(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            if request.url.path == "/api/v1/me":
                await gate.wait()  # hold the first sync in the middle of its work
            return await net.handle_async_request(request)

    session = AppSession(config, secrets, data_dir, transport=Gated())
    await session.start()
    gate.set()
    await session.login("madre.demo", "carnet-demo")
    gate.clear()
    net.calls.clear()
    first = asyncio.create_task(session.refresh())
    while not session.state.syncing:  # let the first sync start (no sleep for state: yield only)
        await asyncio.sleep(0)
    await session.refresh()  # refused at once while the first runs
    assert session.state.syncing
    gate.set()
    await first
    assert net.count("/api/v1/me") == 1
    assert not session.state.syncing
    await session.close()


async def test_browser_sessions_each_keep_their_own_data_in_memory(config, server: InProcessServer,
                                                                   net: FaultTransport, tmp_path: Path) -> None:
    """Web mode: two people in one process; no file, no shared secret, closing one ends its login."""
    madre = AppSession(config, MemorySecretStore(), None, transport=net)
    counter = AppSession(config, MemorySecretStore(), None, transport=net)
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

    assert server.live_sessions("madre.demo") == 1
    await madre.close()  # the browser session ended: its login ends on the server too
    assert server.live_sessions("madre.demo") == 0
    await counter.close()
    assert not any(tmp_path.iterdir()) and madre.store is not None and madre.store.path is None
