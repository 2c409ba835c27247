"""Privacy notice gate and "Mi cuenta" against the real server in process: the API client's new calls, the gate after login,
on restart and on a newly published version, accepting (409 outdated too), "Ahora no", password change
(client checks and the server's refusals), "Descargar mis datos" (offline too) and account closure."""

from __future__ import annotations

import json

import httpx
import pytest

from carnet.agenda.form import AppointmentForm
from carnet.auth.account import PasswordForm, check_password_form
from carnet.core.i18n import Translator
from carnet.core.navigation import Phase, Screen
from carnet.data.api import (
    ApiClient,
    BadRequest,
    Conflict,
    NotFound,
    PrivacyNoticeRequired,
    ProtocolError,
    export_file_name,
)
from carnet.data.messages import message_for, min_length_in
from carnet.shell.session import KEPT_FOR_SECRET, SESSION_SECRET
from carnet_contract import models as contract
from carnet_server.agenda.tables import Appointment
from tests.support.inprocess_server import BASE, FaultTransport, InProcessServer, error_response

pytestmark = pytest.mark.anyio


def _client(net: FaultTransport, **kwargs: object) -> ApiClient:
    return ApiClient(BASE, transport=net, backoff=lambda attempt: 0.0, **kwargs)  # type: ignore[arg-type]


def _health_calls(net: FaultTransport) -> list[str]:
    """Requests for health data (the sync, a carnet)."""
    return [p for _, p in net.calls if p == "/api/v1/sync" or (p.startswith("/api/v1/patients/")
                                                                and p.endswith("/carnet"))]


def _refused(net: FaultTransport) -> list[str]:
    """Paths the server refused with 403 privacy_notice_required, in order."""
    return [path for _, path, answer in net.answers
            if answer.status_code == 403 and answer.json()["error"]["code"] == "privacy_notice_required"]


# ---- the API client --------------------------------------------------------------------------


async def test_api_privacy_calls_and_the_403_hook(server: InProcessServer, net: FaultTransport) -> None:
    heard: list[str] = []

    async def hook() -> None:
        heard.append("privacy")

    santiago = server.patient_id("Santiago Ramírez")
    client = _client(net, on_privacy_required=hook)
    notice = await client.privacy_notice()  # public: no session
    assert notice.version == server.notice_version() and notice.sections and notice.lang == "es-MX"
    await client.login("padre.demo", "carnet-demo")
    server.forget_acceptance("padre.demo")
    me = await client.me()  # /me is not gated and says where the guardian stands
    assert me.privacy is not None and not me.privacy.accepted and me.privacy.accepted_version is None
    with pytest.raises(PrivacyNoticeRequired) as refused:
        await client.carnet(santiago)
    assert refused.value.status == 403 and heard == ["privacy"]
    # Bad input next to good: an old version is 409, the current one is accepted.
    with pytest.raises(Conflict) as outdated:
        await client.accept_privacy("2024-01")
    assert outdated.value.code == "privacy_version_outdated"
    status = await client.accept_privacy(notice.version)
    assert status.accepted and status.accepted_at is not None
    assert (await client.carnet(santiago)).patient.id == santiago
    assert heard == ["privacy"]  # only the one refusal was reported
    await client.aclose()


async def test_api_export_closure_and_password(server: InProcessServer, net: FaultTransport) -> None:
    client = _client(net)
    await client.login("madre.demo", "carnet-demo")
    name, data = await client.privacy_export()
    assert name.startswith("carnet-mis-datos-") and name.endswith(".json")
    exported = json.loads(data)
    assert {c["patient"]["id"] for c in exported["children"]} == set(server.children("madre.demo").values())

    with pytest.raises(NotFound) as nothing_open:
        await client.cancel_closure()
    assert nothing_open.value.code == "closure_request_not_found"
    asked = await client.request_closure("Ya no la usamos")
    assert asked.status is contract.ClosureStatus.SOLICITADA
    assert (await client.request_closure()).id == asked.id  # asking again: the open one
    withdrawn = await client.cancel_closure()
    assert withdrawn.status is contract.ClosureStatus.CANCELADA and withdrawn.id == asked.id

    with pytest.raises(BadRequest) as wrong:
        await client.change_password("not-it", "una-clave-nueva-larga")
    assert wrong.value.code == "wrong_current_password" and client.tokens is not None
    await client.change_password("carnet-demo", "una-clave-nueva-larga")
    assert client.tokens is None  # the server ended every session
    assert (await client.login("madre.demo", "una-clave-nueva-larga")).user.role is contract.Role.GUARDIAN
    await client.aclose()


async def test_export_that_is_not_json_is_a_protocol_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"<html>proxy login</html>", headers={"Content-Type": "text/html"})

    client = ApiClient(BASE, transport=httpx.MockTransport(handler))
    with pytest.raises(ProtocolError):
        await client.privacy_export()
    await client.aclose()


def test_export_file_name_is_a_safe_base_name() -> None:
    assert export_file_name('attachment; filename="carnet-mis-datos-2026-03-01.json"') \
        == "carnet-mis-datos-2026-03-01.json"
    assert export_file_name('attachment; filename="../../etc/passwd"') == "passwd.json"
    assert export_file_name('attachment; filename="..\\\\evil name.json"') == "evil_name.json"
    assert export_file_name(None) == export_file_name("attachment") == "carnet-mis-datos.json"


def test_password_form_checks_and_server_words() -> None:
    good = PasswordForm(current="carnet-demo", new="una-clave-nueva", repeat="una-clave-nueva")
    assert check_password_form(good) == {}
    short = check_password_form(PasswordForm(current="carnet-demo", new="corta", repeat="corta"))
    assert short == {"new": ("acct_err_short", {"min": 10})}
    assert check_password_form(PasswordForm(current="carnet-demo", new="una-clave-nueva", repeat="una-clave-nuevo")) \
        == {"repeat": ("acct_err_mismatch", {})}
    assert set(check_password_form(PasswordForm(current="", new="carnet-demo!", repeat=""))) == {"current", "repeat"}
    assert check_password_form(PasswordForm(current="carnet-demo1", new="carnet-demo1", repeat="carnet-demo1")) \
        == {"new": ("acct_err_unchanged", {})}
    assert check_password_form(PasswordForm(current="x", new="doce-letras", repeat="doce-letras"), min_length=12) \
        == {"new": ("acct_err_short", {"min": 12})}
    tr = Translator("es-MX")
    too_short = BadRequest(422, "password_too_short", "La nueva contraseña debe tener al menos 12 caracteres.")
    assert min_length_in(too_short.message) == 12
    assert message_for(tr, too_short) == "La contraseña nueva debe tener al menos 12 caracteres."
    assert message_for(tr, BadRequest(422, "wrong_current_password", "La contraseña actual no es correcta.")) \
        == "La contraseña actual no es correcta."
    tr.set_locale("en")
    assert message_for(tr, BadRequest(422, "password_is_username", "…")) == "The new password cannot be your username."


# ---- the gate ----------------------------------------------------------------------------------


async def test_guardian_who_never_accepted_sees_the_notice_then_the_carnet(make_session, secrets,
                                                                           server: InProcessServer,
                                                                           net: FaultTransport) -> None:
    server.forget_acceptance("padre.demo")
    session = make_session(secrets)
    await session.start()
    await session.login("padre.demo", "carnet-demo")
    state = session.state
    assert state.phase is Phase.PRIVACY
    assert state.privacy.notice is not None and state.privacy.notice.title == "Aviso de privacidad de Carnet"
    assert not state.privacy.can_continue_offline  # nothing accepted before: nothing to go on with
    assert state.carnet is None and not _health_calls(net)[1:]  # only the first sync asked, refused
    assert _refused(net) == ["/api/v1/sync"]
    # No loop: refreshing while the gate is closed asks nothing gated.
    await session.refresh()
    await session.refresh()
    assert _refused(net) == ["/api/v1/sync"]

    await session.privacy.accept()
    assert state.phase is Phase.READY and state.screen is Screen.CARNET
    assert state.carnet is not None and state.carnet.patient.id == server.patient_id("Santiago Ramírez")  # synced
    assert state.account.status is not None and state.account.status.accepted
    await session.close()


async def test_a_new_version_closes_the_gate_on_any_call_and_409_reloads(make_session, secrets,
                                                                         server: InProcessServer) -> None:
    session = make_session(secrets)
    await session.start()
    await session.login("madre.demo", "carnet-demo")
    state = session.state
    assert state.phase is Phase.READY
    pending_before = session.scope.outbox.pending_count()
    server.publish_notice("2030-06")
    await session.blood_bank.open()
    assert state.phase is Phase.READY  # from the phone: nothing asked yet
    await session.blood_bank.pick_bank(state.blood_bank.banks[0].id)  # any call that meets the 403 shows it
    assert state.phase is Phase.PRIVACY and state.privacy.notice is not None
    assert state.privacy.notice.version == "2030-06"
    assert state.privacy.can_continue_offline  # an earlier version was accepted: the phone's data may be read

    server.publish_notice("2030-07")  # published while the person reads the older one
    await session.privacy.accept()
    assert state.phase is Phase.PRIVACY
    assert state.privacy.message == ("Se publicó una versión nueva del aviso de privacidad. "
                                     "Léela y acéptala para continuar.")
    assert state.privacy.notice is not None and state.privacy.notice.version == "2030-07"
    await session.privacy.accept()
    assert state.phase is Phase.READY and state.online is True
    assert session.scope.outbox.pending_count() == pending_before  # nothing was failed or dropped by the 403
    await session.close()


async def test_a_write_refused_by_the_gate_waits_instead_of_failing(make_session, secrets, server: InProcessServer,
                                                                    net: FaultTransport) -> None:
    mateo = server.patient_id("Mateo Hernández")
    session = make_session(secrets)
    await session.start()
    await session.login("madre.demo", "carnet-demo")
    net.offline = True
    assert session.agenda.save(AppointmentForm(
        record_id=None, patient_id=mateo, kind="laboratorio", title="Biometría", date_text="15/12/2030",
        start_text="08:30", end_text="09:15", place="Lab 2", notes=""))
    assert session.scope.outbox.pending_count() == 1
    server.publish_notice("2030-06")
    net.offline = False
    await session.refresh()
    assert session.state.phase is Phase.PRIVACY
    assert _refused(net) == [f"/api/v1/patients/{mateo}/appointments"]  # the push met the gate first
    # The refused push is not a rejection of the person's write: it waits for the acceptance.
    assert not session.scope.outbox.failed() and session.scope.outbox.pending_count() == 1
    await session.privacy.accept()
    assert session.scope.outbox.pending_count() == 0 and not session.scope.outbox.failed()
    assert server.count(Appointment, Appointment.patient_id == mateo, Appointment.title == "Biometría",
                        Appointment.source == "familia") == 1  # the write arrived, once
    await session.close()


async def test_ahora_no_logs_out_and_says_why(make_session, secrets, server: InProcessServer) -> None:
    server.forget_acceptance("padre.demo")
    session = make_session(secrets)
    await session.start()
    await session.login("padre.demo", "carnet-demo")
    assert session.state.phase is Phase.PRIVACY
    await session.privacy.decline()
    state = session.state
    assert state.phase is Phase.LOGIN and SESSION_SECRET not in secrets.data
    assert state.login_info and "sin aceptar el aviso de privacidad" in state.login_info
    assert secrets.data[KEPT_FOR_SECRET] == server.user_id("padre.demo")  # the phone's data stay for padre alone
    assert server.live_sessions("padre.demo") == 0  # the server session ended too
    await session.close()


async def test_restart_with_saved_session_offline_keeps_the_cached_carnet(make_session, secrets,
                                                                          server: InProcessServer,
                                                                          net: FaultTransport) -> None:
    first = make_session(secrets)
    await first.start()
    await first.login("padre.demo", "carnet-demo")
    await first.close()
    server.publish_notice("2030-06")
    net.offline = True
    second = make_session(secrets)
    assert await second.start() is True
    await second.refresh()
    state = second.state
    assert state.phase is Phase.READY and state.online is False  # accepted before: usable offline
    assert state.carnet is not None
    net.offline = False
    await second.refresh()  # online again: the new version is asked for
    assert state.phase is Phase.PRIVACY
    await second.close()


async def test_gate_offline_says_so_and_may_go_on_with_the_phone_data(make_session, secrets,
                                                                      server: InProcessServer,
                                                                      net: FaultTransport) -> None:
    session = make_session(secrets)
    await session.start()
    await session.login("padre.demo", "carnet-demo")
    server.publish_notice("2030-06")

    def no_notice(request: httpx.Request) -> httpx.Response | None:
        if request.url.path == "/api/v1/privacy/notice":
            raise httpx.ConnectError("network is unreachable", request=request)
        return None

    net.override = no_notice
    await session.refresh()
    state = session.state
    assert state.phase is Phase.PRIVACY and state.privacy.notice is None
    assert state.privacy.error and "necesitas internet" in state.privacy.error
    session.privacy.continue_offline()
    assert state.phase is Phase.READY and state.online is False and state.carnet is not None
    net.override = None
    await session.refresh()
    assert state.phase is Phase.PRIVACY and state.privacy.notice is not None
    net.offline = True
    await session.privacy.accept()
    assert state.phase is Phase.PRIVACY and "no se guardó" in (state.privacy.error or "")
    await session.close()


async def test_staff_are_never_gated(make_session, secrets, server: InProcessServer) -> None:
    server.publish_notice("2030-06")  # staff accept nothing
    session = make_session(secrets)
    await session.start()
    await session.login("casos.demo", "carnet-demo")
    assert session.state.phase is Phase.READY and session.state.screen is Screen.DESK
    await session.account.open()
    assert session.state.screen is Screen.ACCOUNT and session.state.account.status is None
    session.account.show(Screen.ACCOUNT_CLOSURE)  # not for staff
    assert session.state.screen is Screen.ACCOUNT
    await session.close()


# ---- Mi cuenta -----------------------------------------------------------------------------------


async def test_password_change_bad_input_then_good(make_session, secrets, server: InProcessServer,
                                                   net: FaultTransport) -> None:
    session = make_session(secrets)
    await session.start()
    await session.login("madre.demo", "carnet-demo")
    await session.account.open()
    session.account.show(Screen.ACCOUNT_PASSWORD)
    ui, calls = session.state.account, len(net.calls)
    change = session.account.change_password

    assert not await change(PasswordForm("carnet-demo", "corta", "corta"))
    assert ui.password_errors == {"new": "La contraseña nueva debe tener al menos 10 caracteres."}
    assert not await change(PasswordForm("carnet-demo", "una-clave-nueva", "otra-clave-nueva"))
    assert ui.password_errors == {"repeat": "Las dos contraseñas nuevas no coinciden."}
    assert len(net.calls) == calls  # caught on the phone: nothing sent

    assert not await change(PasswordForm("not-the-one", "una-clave-nueva", "una-clave-nueva"))
    assert ui.password_errors == {"current": "La contraseña actual no es correcta."}
    assert not await change(PasswordForm("carnet-demo", "madre.demo", "madre.demo"))
    assert ui.password_errors == {"new": "La contraseña nueva no puede ser tu usuario."}
    net.offline = True
    assert not await change(PasswordForm("carnet-demo", "una-clave-nueva", "una-clave-nueva"))
    assert "Sin conexión" in ui.password_errors["form"]
    net.offline = False
    assert server.password_is("madre.demo", "carnet-demo")  # nothing changed so far
    assert session.state.phase is Phase.READY

    assert await change(PasswordForm("carnet-demo", "una-clave-nueva", "una-clave-nueva"))
    state = session.state
    assert state.phase is Phase.LOGIN and SESSION_SECRET not in secrets.data
    assert state.login_info == "Contraseña cambiada. Entra de nuevo con la nueva."
    assert session.login_scope is None and session.store is not None
    # the same person logs in again soon: the phone's data (unsent writes too) stay for them alone
    madre = server.user_id("madre.demo")
    assert session.store.get(madre, "me") and secrets.data[KEPT_FOR_SECRET] == madre
    assert server.password_is("madre.demo", "una-clave-nueva") and server.live_sessions("madre.demo") == 0
    await session.login("madre.demo", "carnet-demo")
    assert state.phase is Phase.LOGIN and state.login_error == "Usuario o contraseña incorrectos."
    await session.login("madre.demo", "una-clave-nueva")
    assert state.phase is Phase.READY and state.login_info is None
    await session.close()


async def test_password_change_follows_a_larger_server_minimum(make_session, secrets, server: InProcessServer,
                                                               net: FaultTransport) -> None:
    session = make_session(secrets)
    await session.start()
    await session.login("farmacia.demo", "carnet-demo")
    # A newer server with a larger minimum (this one's is 10): its refusal, hand-made.
    net.fail("POST", "/api/v1/auth/password",
             error_response(422, "password_too_short", "La nueva contraseña debe tener al menos 14 caracteres."))
    assert not await session.account.change_password(PasswordForm("carnet-demo", "doce-letras!", "doce-letras!"))
    assert session.state.account.password_errors == {"new": "La contraseña nueva debe tener al menos 14 caracteres."}
    assert session.account.min_length == 14
    calls = len(net.calls)
    assert not await session.account.change_password(PasswordForm("carnet-demo", "trece-letras!", "trece-letras!"))
    assert len(net.calls) == calls  # now caught on the phone
    assert await session.account.change_password(PasswordForm("carnet-demo", "catorce-letras", "catorce-letras"))
    assert session.state.phase is Phase.LOGIN  # staff too: back to login, nothing kept
    assert server.password_is("farmacia.demo", "catorce-letras")
    await session.close()


async def test_export_online_and_offline(make_session, secrets, net: FaultTransport) -> None:
    session = make_session(secrets)
    await session.start()
    await session.login("madre.demo", "carnet-demo")
    await session.account.open()
    net.offline = True
    assert await session.rights.export_file() is None
    assert session.state.account.error == "Necesitas conexión para descargar tus datos."
    net.offline = False
    made = await session.rights.export_file()
    assert made is not None
    name, data = made
    assert name.endswith(".json") and json.loads(data)["children"]
    assert not session.state.account.exporting and session.state.account.error is None
    session.rights.file_saved(name, True)
    assert session.state.account.message == f"Listo: se descargó {name}."
    session.rights.file_saved(name, False)
    assert session.state.account.error == f"No se pudo guardar {name}. Intenta de nuevo."
    await session.close()


async def test_closure_request_and_withdraw(make_session, secrets, server: InProcessServer,
                                             net: FaultTransport) -> None:
    session = make_session(secrets)
    await session.start()
    await session.login("madre.demo", "carnet-demo")
    await session.account.open()
    account, ui = session.account, session.state.account
    rights = session.rights
    account.show(Screen.ACCOUNT_CLOSURE)
    await rights.request_closure("Cambiamos de hospital")  # no confirm step yet: nothing sent
    assert server.closure_statuses("madre.demo") == []
    rights.ask_closure(True)
    net.offline = True
    await rights.request_closure("Cambiamos de hospital")
    assert ui.error and "Sin conexión" in ui.error and ui.closure_confirm
    net.offline = False
    await rights.request_closure("Cambiamos de hospital")
    assert session.state.screen is Screen.ACCOUNT
    assert ui.status is not None and ui.status.closure_request is not None
    assert ui.status.closure_request.status is contract.ClosureStatus.SOLICITADA
    assert server.closure_statuses("madre.demo") == ["solicitada"]
    assert session.scope.carnets is not None and session.scope.carnets.me().privacy.closure_request is not None  # kept offline
    # Withdrawn elsewhere meanwhile (another phone): 404 says so, and the status follows the server.
    server.ok("madre.demo", "POST", "/api/v1/privacy/closure-request/cancel")
    await rights.withdraw_closure()
    assert ui.error == "No hay una solicitud de cierre abierta." and ui.status.closure_request is None
    account.show(Screen.ACCOUNT_CLOSURE)
    rights.ask_closure(True)
    await rights.request_closure("")
    await rights.withdraw_closure()
    assert ui.message == "Retiraste la solicitud. Tu cuenta sigue activa."
    assert ui.status is not None and ui.status.closure_request is None
    assert server.closure_statuses("madre.demo") == ["cancelada", "cancelada"]
    await session.close()


async def test_reading_the_notice_again_works_offline_after_once(make_session, secrets, server: InProcessServer,
                                                                 net: FaultTransport) -> None:
    session = make_session(secrets)
    await session.start()
    await session.login("madre.demo", "carnet-demo")
    await session.account.open()
    await session.account.open_notice()
    state = session.state
    assert state.screen is Screen.ACCOUNT_NOTICE and state.privacy.notice is not None
    assert state.account.status is not None and state.account.status.accepted_at is not None
    state.privacy.show_notice(None)
    net.offline = True
    await session.account.open_notice()
    assert state.privacy.notice is not None and state.privacy.notice.version == server.notice_version()  # from the phone
    session.back()
    assert state.screen is Screen.ACCOUNT
    session.back()
    assert state.screen is Screen.SETTINGS
    await session.close()
