"""Enrolment on the app's side against the real server in process: a family's activation code on the login
screen, a temporary password changed first, a guardian linking one more child and seeing who else has access,
and the oncology desk (search, register, guardians' codes). Good and bad input side by side: each refusal is
said beside its field, and nothing is sent, queued or changed."""

from __future__ import annotations

import json

import pytest

from carnet.auth.account import PasswordForm
from carnet.core.navigation import Phase, Screen
from carnet.enrolment.codes import display_code, read_code
from carnet.enrolment.form import ActivationForm, GuardianForm, RegistrationForm, form_of, parse_day
from carnet.shell.session import SESSION_SECRET
from carnet_server.auth.tables import User
from carnet_server.enrolment.tables import GuardianInvitation
from carnet_server.patients.tables import GuardianPatient, Patient
from tests.server.enrolment_support import SOFIA_CURP, SOFIA_NSS, curp
from tests.support.inprocess_server import FaultTransport, InProcessServer, error_response
from tests.support.secret_stores import DictSecretStore

pytestmark = pytest.mark.anyio

DEMO_CODE = "FAM7Y-23HXQ"
NEW_PASSWORD = "una-clave-larga-2026"


def activation(code: str = "fam7y 23hxq", username: str = "ana.mendez", password: str = NEW_PASSWORD,
               repeat: str | None = None) -> ActivationForm:
    return ActivationForm(code=code, username=username, password=password,
                          repeat=password if repeat is None else repeat)


def sofia(unit_id: str = "", **changes: str | bool) -> RegistrationForm:
    values: dict[str, str | bool] = {
        "given_names": "Sofía", "paternal_surname": "Ramírez", "maternal_surname": "Ortega",
        "birth_date": "15/06/2018", "sex": "mujer", "curp": SOFIA_CURP.lower(), "nss": SOFIA_NSS,
        "agregado": "3F2018OR", "unit_id": unit_id, "diagnosis_code": "C91.0", "diagnosed_on": "2026-09-01",
        "treating_oncologist": "Dra. Elena Villaseñor", "blood_group": "O+", "allergies": "Penicilina",
        "central_venous_catheter": True,
    }
    values.update(changes)
    return RegistrationForm(**values)  # type: ignore[arg-type]


# ---- codes as typed --------------------------------------------------------------------------------------


def test_a_code_is_read_as_people_type_it() -> None:
    assert read_code(" fam7y-23hxq ").code == "FAM7Y23HXQ" and read_code("fam7y 23hxq").complete
    assert read_code("FAM0Y-23HOQ").foreign == ("0", "O") and not read_code("FAM0Y-23HOQ").complete
    assert display_code("fam7y23hxq") == DEMO_CODE
    assert parse_day("15/06/2018") == parse_day("2018-06-15") and parse_day("2018-02-30") is None


# ---- "Tengo un código de activación" ---------------------------------------------------------------------


async def test_activation_logs_in_then_the_notice_then_the_child(make_session, server: InProcessServer,
                                                                  net: FaultTransport) -> None:
    secrets = DictSecretStore()
    session = make_session(secrets)
    await session.start()
    session.activation.open()
    assert session.state.enrolment.activating
    assert await session.activation.activate(activation())
    state = session.state
    # Logged in like a login: the tokens kept in the secret store, then the privacy notice first.
    saved = json.loads(await secrets.get(SESSION_SECRET) or "{}")
    assert saved["user"]["display_name"] == "Ana Méndez Ruiz" and saved["refresh_token"]
    assert state.phase is Phase.PRIVACY and not state.enrolment.activating and not state.enrolment.errors
    assert server.count(User, User.username == "ana.mendez") == 1
    await session.privacy.accept()
    assert state.phase is Phase.READY
    assert [c.display_name for c in state.children] == ["Camila Torres"]
    assert state.screen is Screen.CARNET and state.carnet is not None
    # Who else has access: the other guardian(s), and this account marked as "me".
    access = state.enrolment.guardians[state.children[0].id]
    assert any(g.is_me and g.display_name == "Ana Méndez Ruiz" for g in access) and len(access) >= 2
    assert all(g.phone is None for g in access)  # a family never sees the phones
    await session.close()


async def test_bad_activation_input_is_refused_before_sending(make_session, server: InProcessServer,
                                                               net: FaultTransport) -> None:
    session = make_session(DictSecretStore())
    await session.start()
    errors = session.state.enrolment
    cases = session.activation
    for form, field, words in [
        (activation(code=""), "code", "Escribe el código"),
        (activation(code="FAM0Y-23HOQ"), "code", "no lleva estos caracteres: 0 O"),
        (activation(code="FAM7Y-23H"), "code", "tiene 10 caracteres y escribiste 8"),
        (activation(username="Ana Méndez"), "username", "de 3 a 64 caracteres"),
        (activation(password="corta"), "password", "al menos 10 caracteres"),
        (activation(password="ana.mendez1", username="ana.mendez1"), "password", "no puede ser tu usuario"),
        (activation(repeat="otra-clave-larga"), "repeat", "no coinciden"),
    ]:
        assert not await cases.activate(form)
        assert words in errors.errors[field], (field, errors.errors)
    assert net.count("/api/v1/auth/activate") == 0
    assert session.state.phase is Phase.LOGIN and session.api.tokens is None
    await session.close()


async def test_server_refusals_say_why_and_change_nothing(make_session, server: InProcessServer,
                                                          net: FaultTransport) -> None:
    secrets = DictSecretStore()
    session = make_session(secrets)
    await session.start()
    cases, ui = session.activation, session.state.enrolment
    users = server.count(User)
    # A code that is not one (well formed, wrong): the same words for unknown, used, expired and revoked.
    assert not await cases.activate(activation(code="ABCDE-FGHJK"))
    assert "no es válido" in ui.errors["code"]
    # A username that exists: said so, and the code still works.
    assert not await cases.activate(activation(username="madre.demo"))
    assert "ya existe" in ui.errors["username"]
    # Offline: said so.
    net.offline = True
    assert not await cases.activate(activation())
    assert "Sin conexión" in ui.errors["form"]
    net.offline = False
    # Throttled: the wait in minutes.
    net.fail("POST", "/api/v1/auth/activate",
              error_response(429, "rate_limited", "too many", headers={"Retry-After": "120"}))
    assert not await cases.activate(activation())
    assert ui.errors["form"] == "Demasiados intentos. Intenta de nuevo en 2 minutos."
    assert server.count(User) == users and await secrets.get(SESSION_SECRET) is None
    assert session.state.phase is Phase.LOGIN
    # The right input after all that: it works (nothing above used the code up).
    assert await cases.activate(activation())
    await session.close()
    # Used once: the same code again is refused like any wrong code.
    again = make_session(DictSecretStore())
    await again.start()
    assert not await again.activation.activate(activation(username="otra.persona"))
    assert "no es válido" in again.state.enrolment.errors["code"]
    assert server.count(User) == users + 1
    await again.close()


async def test_activation_in_english(make_session, server: InProcessServer) -> None:
    session = make_session(DictSecretStore())
    await session.start()
    await session.set_locale("en")
    assert not await session.activation.activate(activation(code="ABCDE-FGHJK"))
    assert "The code is not valid" in session.state.enrolment.errors["code"]
    assert not await session.activation.activate(activation(repeat="nope-nope-nope"))
    assert session.state.enrolment.errors["repeat"] == "The two new passwords do not match."
    await session.close()


# ---- a temporary password ---------------------------------------------------------------------------------


async def test_a_temporary_password_is_changed_before_anything_else(make_session, server: InProcessServer,
                                                                   net: FaultTransport) -> None:
    staff_id = server.user_id("oncologia.demo")
    temporary = server.ok("admin.demo", "POST", f"/api/v1/admin/users/{staff_id}/password-reset")["temporary_password"]
    session = make_session(DictSecretStore())
    await session.start()
    await session.login("oncologia.demo", temporary)
    state = session.state
    assert state.password_change_required and state.screen is Screen.ACCOUNT_PASSWORD
    assert net.count("/api/v1/registry/*") == 0 and net.count("/api/v1/me") == 0
    await session.refresh()  # the periodic sync asks nothing meanwhile
    assert net.count("/api/v1/registry/*") == 0
    # The same rules as any password change: the new one twice.
    assert not await session.account.change_password(PasswordForm(temporary, NEW_PASSWORD, "otra-cosa-larga"))
    assert "no coinciden" in state.account.password_errors["repeat"]
    assert await session.account.change_password(PasswordForm(temporary, NEW_PASSWORD, NEW_PASSWORD))
    assert state.phase is Phase.LOGIN and not state.password_change_required
    assert state.login_info == "Contraseña cambiada. Entra de nuevo con la nueva."
    await session.login("oncologia.demo", NEW_PASSWORD)
    assert state.screen is Screen.ONCOLOGY and state.oncology.diagnoses
    await session.close()


# ---- a guardian links one more child ------------------------------------------------------------------------


async def test_a_guardian_links_another_child_with_a_code(make_session, server: InProcessServer,
                                                         net: FaultTransport) -> None:
    camila = server.patient_id("Camila Torres")
    invitation = server.ok("oncologia.demo", "POST", f"/api/v1/patients/{camila}/guardian-invitations",
                           json={"full_name": "Mariana López", "relationship": "tía", "phone": "5511112222"})
    session = make_session(DictSecretStore())
    await session.start()
    await session.login("madre.demo", "carnet-demo")
    state, cases = session.state, session.activation
    before = [c.display_name for c in state.children]
    cases.show_link()
    assert state.screen is Screen.ACCOUNT_LINK
    # Bad ones first: a character no code has, then a wrong code. Nothing linked.
    assert not await cases.link_child("ABCDE-FGHJ0")
    assert "0" in state.enrolment.link_errors["code"]
    assert not await cases.link_child("ABCDE-FGHJK")
    assert "no es válido" in state.enrolment.link_errors["code"]
    net.offline = True
    assert not await cases.link_child(invitation["code"])
    assert "Sin conexión" in state.enrolment.link_errors["form"]
    net.offline = False
    assert server.count(GuardianPatient, GuardianPatient.patient_id == camila) == 1
    # The right code, typed loosely: linked, synced, the child is there.
    assert await cases.link_child(invitation["code"].lower().replace("-", " "))
    assert sorted(c.display_name for c in state.children) == sorted([*before, "Camila Torres"])
    assert state.screen is Screen.CHILDREN and any("Camila Torres ya está en tu cuenta" in n for n in state.notices)
    assert state.enrolment.guardians[camila]
    # Used: a second time is refused.
    assert not await cases.link_child(invitation["code"])
    assert "no es válido" in state.enrolment.link_errors["code"]
    await session.close()


# ---- the oncology desk ------------------------------------------------------------------------------------------


async def _oncology(make_session):  # type: ignore[no-untyped-def]
    session = make_session(DictSecretStore())
    await session.start()
    await session.login("oncologia.demo", "carnet-demo")
    assert session.state.screen is Screen.ONCOLOGY and session.state.oncology_mode
    return session


async def test_register_a_child_and_give_a_guardian_a_code(make_session, server: InProcessServer,
                                                          net: FaultTransport) -> None:
    session = await _oncology(make_session)
    state, desk, ui = session.state, session.oncology, session.state.oncology
    assert ui.units and any(d.code == "C91.0" for d in ui.diagnoses)
    patients = server.count(Patient)
    desk.new_child()
    assert state.screen is Screen.ONCOLOGY_REGISTER
    # Bad input beside the field, nothing sent: missing fields, an unreadable date, a short NSS.
    assert not await desk.register(sofia(given_names="", birth_date="15 de junio", nss="123"))
    assert set(ui.form_errors) == {"given_names", "birth_date", "nss"}
    assert net.count("/api/v1/patients", "POST") == 0
    # A CURP whose check digit is wrong: the server's reason beside the CURP.
    wrong = SOFIA_CURP[:-1] + ("0" if SOFIA_CURP[-1] != "0" else "1")
    assert not await desk.register(sofia(curp=wrong))
    assert "dígito verificador" in ui.form_errors["curp"] and set(ui.form_errors) == {"curp"}
    assert server.count(Patient) == patients
    # Right: registered, its page opens.
    assert await desk.register(sofia())
    assert state.screen is Screen.ONCOLOGY_CHILD and ui.record is not None
    assert ui.record.full_name == "Sofía Ramírez Ortega" and ui.record.curp == SOFIA_CURP
    assert ui.record.central_venous_catheter and ui.record.blood_group == "O+"
    assert server.count(Patient) == patients + 1
    # The same child again: it exists, and its record can be opened.
    desk.new_child()
    assert not await desk.register(sofia())
    assert ui.existing_id == ui.record.id and "ya está registrado" in ui.form_errors["form"]
    # A similar name, same birth date, other identifiers: confirm, then it is registered.
    other = sofia(given_names="Sofia", maternal_surname="Ortiz", curp=curp("RAOS180615MDFMRTA").lower(),
                  nss="", agregado="")
    other = RegistrationForm(**{**other.__dict__, "nss": _other_nss()})
    assert not await desk.register(other)
    assert ui.similar and "nombre parecido" in ui.form_errors["form"]
    assert await desk.register(other)
    assert server.count(Patient) == patients + 2
    # A guardian for the child: bad phone beside the field, then the code (large, and a QR).
    desk.new_guardian()
    assert not await desk.invite(GuardianForm("Lucía Ortega", "madre", "55 12"))
    assert "10 dígitos" in ui.guardian_errors["phone"]
    assert server.count(GuardianInvitation) == 1  # the demo's
    assert await desk.invite(GuardianForm("Lucía Ortega", "madre", "55 1234 5678"))
    assert ui.issued is not None and read_code(ui.issued.code).complete and ui.issued_qr is not None
    assert [i.status.value for i in ui.invitations] == ["pendiente"]
    code = ui.issued.code
    # Re-issue: a new code, the old one revoked.
    await desk.reissue(ui.invitations[0].id)
    assert ui.issued is not None and ui.issued.code != code
    assert sorted(i.status.value for i in ui.invitations) == ["pendiente", "revocada"]
    await session.close()


def _other_nss() -> str:
    from tests.server.enrolment_support import nss

    return nss("9876543210")


async def test_search_open_and_remove_a_guardian_with_a_confirm_step(make_session, server: InProcessServer) -> None:
    session = await _oncology(make_session)
    desk, ui = session.oncology, session.state.oncology
    await desk.search("ca")
    assert ui.results is None and "al menos 3 letras" in (ui.error or "")
    await desk.search("camila")
    assert [r.display_name for r in ui.results or []] == ["Camila Torres"]
    await desk.open(ui.results[0].id)  # type: ignore[index]
    assert session.state.screen is Screen.ONCOLOGY_CHILD and ui.guardians
    guardian = ui.guardians[0]
    links = server.count(GuardianPatient)
    await desk.remove_guardian(guardian.user_id)  # without its confirm step: nothing happens
    assert server.count(GuardianPatient) == links
    desk.ask_remove(guardian.user_id)
    await desk.remove_guardian(guardian.user_id)
    assert server.count(GuardianPatient) == links - 1 and guardian.user_id not in [g.user_id for g in ui.guardians]
    assert "ya no tiene acceso" in (ui.message or "")
    await desk.show_figures()
    assert session.state.screen is Screen.ONCOLOGY_FIGURES and ui.figures is not None and ui.figures.total >= 1
    made = await desk.figures_file("md")
    assert made is not None and made[0].startswith("registro-semana-") and "pacientes registrados" in made[1].decode()
    made = await desk.figures_file("csv")
    assert made is not None and made[0].endswith(".csv") and made[1]
    await session.close()


async def test_the_desk_offline_says_so_and_changes_nothing(make_session, server: InProcessServer,
                                                            net: FaultTransport) -> None:
    session = await _oncology(make_session)
    desk, ui = session.oncology, session.state.oncology
    patients = server.count(Patient)
    net.offline = True
    desk.new_child()
    assert not await desk.register(sofia())
    assert "Sin conexión" in (ui.error or "") and server.count(Patient) == patients
    net.offline = False
    assert await desk.register(sofia())  # the same form once back: one child
    assert server.count(Patient) == patients + 1
    await session.close()


async def test_a_lost_answer_registers_once(make_session, server: InProcessServer, net: FaultTransport) -> None:
    session = await _oncology(make_session)
    desk = session.oncology
    patients = server.count(Patient)
    net.lose_answer("POST", "/api/v1/patients")
    desk.new_child()
    assert not await desk.register(sofia())
    assert await desk.register(sofia())  # sent again with the same Idempotency-Key
    assert server.count(Patient) == patients + 1
    keys = {r.headers["Idempotency-Key"] for r in net.requests if r.method == "POST" and r.url.path == "/api/v1/patients"}
    assert len(keys) == 1
    await session.close()


async def test_correct_a_record_then_refer_the_child_away(make_session, server: InProcessServer,
                                                          net: FaultTransport) -> None:
    session = await _oncology(make_session)
    state, desk, ui = session.state, session.oncology, session.state.oncology
    desk.new_child()
    assert await desk.register(sofia())
    assert ui.record is not None
    record_id = ui.record.id
    desk.edit()
    assert state.screen is Screen.ONCOLOGY_EDIT
    form = form_of(ui.record)
    assert form.given_names == "Sofía" and form.curp == SOFIA_CURP and form.central_venous_catheter
    # Nothing changed: said so, nothing sent. A wrong CURP: beside the field, nothing written.
    assert not await desk.correct(form)
    assert "No cambió" in ui.form_errors["form"] and net.count(f"/api/v1/patients/{record_id}", "PATCH") == 0
    wrong = SOFIA_CURP[:-1] + ("0" if SOFIA_CURP[-1] != "0" else "1")
    assert not await desk.correct(RegistrationForm(**{**form.__dict__, "curp": wrong}))
    assert "dígito verificador" in ui.form_errors["curp"]
    assert not ui.corrections
    # Right: the allergies and the oncologist's name emptied; both in the history.
    assert await desk.correct(RegistrationForm(**{**form.__dict__, "allergies": "Ninguna conocida",
                                                  "treating_oncologist": ""}))
    assert state.screen is Screen.ONCOLOGY_CHILD and ui.record.allergies == "Ninguna conocida"
    assert ui.record.treating_oncologist is None
    assert {c.field for c in ui.corrections} == {"allergies", "treating_oncologist"}
    # Referral to a unit where this account does not work: confirm, then the record is no longer shown.
    await desk.start_referral()
    assert state.screen is Screen.ONCOLOGY_REFER and len(ui.all_units) > 1
    raza = next(u for u in ui.all_units if "Raza" in u.name)
    assert not await desk.refer()  # nothing chosen: nothing sent
    desk.choose_referral(raza.id)
    assert await desk.refer()
    assert state.screen is Screen.ONCOLOGY and ui.record is None and "ya no está en sus unidades" in (ui.message or "")
    with server.db() as db:
        assert db.get(Patient, record_id).unit_id == raza.id  # type: ignore[union-attr]
    await desk.search("Sofía Ramírez")
    assert ui.results == []  # this account's units no longer have her
    await session.close()


# ---- administration ----------------------------------------------------------------------------------------------


async def test_admin_creates_an_account_whose_temporary_password_must_be_changed(make_session,
                                                                               server: InProcessServer) -> None:
    admin = make_session(DictSecretStore())
    await admin.start()
    await admin.login("admin.demo", "carnet-demo")
    await admin.admin.open()
    state, cases, ui = admin.state, admin.admin, admin.state.admin
    assert state.screen is Screen.ADMIN and any(a.username == "oncologia.demo" for a in ui.staff) and ui.units
    users = server.count(User)
    # Bad input beside its field, nothing sent.
    assert not await cases.create_staff("Dra Ruiz", "", "oncology", [])
    assert set(ui.staff_errors) == {"username", "display_name", "units"}
    assert not await cases.create_staff("oncologia.demo", "Dra. Ruiz", "oncology", [ui.units[0].id])
    assert "ya existe" in ui.staff_errors["username"] and server.count(User) == users
    # Right: the temporary password, shown once.
    assert await cases.create_staff("dra.ruiz", "Dra. Ruiz", "oncology", [ui.units[0].id])
    assert ui.issued is not None and ui.issued.account.username == "dra.ruiz" and ui.issued.temporary_password
    temporary = ui.issued.temporary_password
    admin.back()
    assert state.screen is Screen.SETTINGS and state.admin.issued is None  # not left on screen
    # The new account logs in: the password change first.
    staff = make_session(DictSecretStore())
    await staff.start()
    await staff.login("dra.ruiz", temporary)
    assert staff.state.screen is Screen.ACCOUNT_PASSWORD and staff.state.password_change_required
    await staff.close()
    # Deactivate it: only after the confirm step.
    await cases.open()
    account = next(a for a in ui.staff if a.username == "dra.ruiz")
    await cases.set_active(account.id, False)
    assert next(a for a in ui.staff if a.username == "dra.ruiz").active
    cases.ask(account.id, "deactivate")
    await cases.set_active(account.id, False)
    assert not next(a for a in ui.staff if a.username == "dra.ruiz").active
    # A unit: its level is required.
    assert not await cases.create_unit("HGZ 1 Tapachula", "", "Chiapas")
    assert "level" in ui.unit_errors
    assert await cases.create_unit("HGZ 1 Tapachula", "segundo_nivel", "Chiapas")
    assert any(u.name == "HGZ 1 Tapachula" for u in ui.units)
    await admin.close()


# ---- bulk CSV import ----------------------------------------------------------------------------------------


def _csv(*lines: str) -> bytes:
    from tests.server.test_registry_import import HEADER

    return ("\n".join((HEADER, *lines)) + "\n").encode("utf-8")


async def test_bulk_import_checks_first_then_imports_and_a_bad_file_writes_nothing(
        make_session, server: InProcessServer, net: FaultTransport) -> None:
    from tests.server.test_registry_import import LUCAS, SOFIA

    session = await _oncology(make_session)
    cases, ui, state = session.oncology, session.state.oncology, session.state
    cases.open_import()
    assert state.screen is Screen.ONCOLOGY_IMPORT and ui.import_file is None
    patients, invitations = server.count(Patient), server.count(GuardianInvitation)
    # A bad file beside a good one: every bad row said with its number, nothing written, "Importar" refused.
    bad_lucas = LUCAS.replace("2016-02-10", "2016-02-30")
    assert not await cases.pick_import("malo.csv", _csv(SOFIA, bad_lucas, "Solo,un,nombre"))
    assert ui.import_result is None and len(ui.import_errors) >= 2
    assert all(reason.startswith("Fila ") for reason in ui.import_errors)
    assert any(reason.startswith("Fila 3:") for reason in ui.import_errors)
    assert any(reason.startswith("Fila 4:") for reason in ui.import_errors)
    assert not await cases.run_import()
    assert (server.count(Patient), server.count(GuardianInvitation)) == (patients, invitations)
    # An empty file: refused before sending.
    assert not await cases.pick_import("vacio.csv", b"")
    assert ui.error == "El archivo está vacío o no se pudo leer." and ui.import_file is None
    # The good file: the dry run counts, writes nothing; then "Importar" writes, with the guardian's code.
    assert await cases.pick_import("pacientes.csv", _csv(SOFIA, LUCAS))
    checked = ui.import_result
    assert checked is not None and checked.dry_run and (checked.rows, checked.created, checked.unchanged) == (2, 2, 0)
    assert not ui.import_errors and not ui.error
    assert (server.count(Patient), server.count(GuardianInvitation)) == (patients, invitations)
    assert await cases.run_import()
    done = ui.import_result
    assert done is not None and not done.dry_run and done.created == 2
    assert [i.guardian_name for i in done.invitations] == ["Ana Ortega"]
    assert ui.message == "Importación terminada: 2 nuevos, 0 ya registrados."
    assert (server.count(Patient), server.count(GuardianInvitation)) == (patients + 2, invitations + 1)
    assert not await cases.run_import()  # once
    # The same file again: all already there.
    assert await cases.pick_import("pacientes.csv", _csv(SOFIA, LUCAS))
    again = ui.import_result
    assert again is not None and (again.created, again.unchanged) == (0, 2)
    # Offline: said, nothing changed.
    net.offline = True
    assert not await cases.pick_import("pacientes.csv", _csv(SOFIA, LUCAS))
    assert ui.error == "Sin conexión con el servidor: no se hizo ningún cambio. Intente de nuevo."
    net.offline = False
    cases.back()
    assert state.screen is Screen.ONCOLOGY
    await session.close()


# ---- administration: editing a unit and an account ------------------------------------------------------------


async def test_admin_edits_a_unit_and_an_account_bad_input_sends_nothing(
        make_session, server: InProcessServer, net: FaultTransport) -> None:
    admin = make_session(DictSecretStore())
    await admin.start()
    await admin.login("admin.demo", "carnet-demo")
    await admin.admin.open()
    cases, ui = admin.admin, admin.state.admin
    unit = ui.units[0]
    patches = net.count("/api/v1/admin/*", "PATCH")
    # Not being edited: nothing happens.
    assert not await cases.update_unit(unit.id, "Otro nombre", unit.level.value, unit.state)
    cases.edit("unit", unit.id)
    assert ui.editing == ("unit", unit.id)
    # An empty name and state: said beside each, nothing sent.
    assert not await cases.update_unit(unit.id, "  ", unit.level.value, "")
    assert ui.edit_errors == {"name": "Falta este dato.", "state": "Falta este dato."}
    # Nothing changed: said, nothing sent.
    assert not await cases.update_unit(unit.id, unit.name, unit.level.value, unit.state)
    assert ui.edit_errors == {"form": "No hay cambios que guardar."}
    assert net.count("/api/v1/admin/*", "PATCH") == patches
    # Right: saved on the server, the form closed, the list shows it.
    other = "segundo_nivel" if unit.level.value == "umae" else "umae"
    assert await cases.update_unit(unit.id, unit.name + " (Norte)", other, "Ciudad de México")
    assert net.count("/api/v1/admin/*", "PATCH") == patches + 1
    saved = next(u for u in ui.units if u.id == unit.id)
    assert (saved.name, saved.level.value, saved.state) == (unit.name + " (Norte)", other, "Ciudad de México")
    assert ui.editing is None and ui.message == f"Unidad guardada: {unit.name} (Norte)."
    # A staff account: an empty display name or no units refused, nothing sent.
    account = next(a for a in ui.staff if a.username == "oncologia.demo")
    cases.edit("staff", account.id)
    patches = net.count("/api/v1/admin/*", "PATCH")
    assert not await cases.update_account(account.id, "   ", [])
    assert ui.edit_errors == {"display_name": "Falta este dato.",
                              "units": "Asigne al menos una unidad médica a la cuenta."}
    assert net.count("/api/v1/admin/*", "PATCH") == patches
    assert next(a for a in ui.staff if a.id == account.id).display_name == account.display_name
    # Right: a new name and one more unit.
    more = [u.id for u in account.units] + [u.id for u in ui.units if u.id not in {x.id for x in account.units}][:1]
    assert await cases.update_account(account.id, "Dra. Elena Villaseñor Ruiz", more)
    changed = next(a for a in ui.staff if a.id == account.id)
    assert changed.display_name == "Dra. Elena Villaseñor Ruiz" and sorted(u.id for u in changed.units) == sorted(more)
    assert ui.message == "Cuenta guardada: oncologia.demo." and ui.editing is None
    # Offline: said, nothing changed.
    cases.edit("staff", account.id)
    net.offline = True
    assert not await cases.update_account(account.id, "Otra", more)
    assert ui.error == "Sin conexión con el servidor: no se hizo ningún cambio. Intente de nuevo."
    net.offline = False
    await admin.close()
