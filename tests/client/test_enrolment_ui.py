"""The enrolment screens built in-process (no Flutter): labels, touch sizes and the flows by click — the
activation screen from the login screen, "Agregar un niño con código", the forced password change, and the
oncology desk from search to a guardian's code (large, and a QR that decodes)."""

from __future__ import annotations

import io

import flet as ft
import pytest

from carnet.shell.app import CarnetUI
from carnet.shell.session import AppSession
from tests.server.enrolment_support import SOFIA_CURP, SOFIA_NSS
from tests.support.inprocess_server import InProcessServer
from tests.support.secret_stores import DictSecretStore

from .test_account_ui import button
from .test_ui_inprocess import click, find, page, texts, walk  # noqa: F401  (page is a fixture)

pytestmark = pytest.mark.anyio

NEW_PASSWORD = "una-clave-larga-2026"


async def _app(page, config, data_dir, server):  # type: ignore[no-untyped-def]
    session = AppSession(config, DictSecretStore(), data_dir, transport=server.transport)
    session.api._backoff = lambda attempt: 0.0
    ui = CarnetUI(page, session)
    ui.render()
    await session.start()
    return ui, session


def field(page, label: str) -> ft.TextField:  # type: ignore[no-untyped-def]
    found = find(page, ft.TextField, label=label)
    assert found, f"{label!r} not among {[f.label for f in find(page, ft.TextField)]}"
    return found[0]


def touch_targets_are_big(page) -> None:  # type: ignore[no-untyped-def]
    kinds = (ft.FilledButton, ft.OutlinedButton, ft.FilledTonalButton, ft.TextButton, ft.IconButton)
    small = [c for c in walk(page.views[0]) if isinstance(c, kinds) and c.height is not None and c.height < 48]
    assert not small
    unnamed = [c for c in walk(page.views[0]) if isinstance(c, ft.TextField) and not c.label]
    assert not unnamed


async def test_activation_from_the_login_screen_by_click(page, config, data_dir, server: InProcessServer) -> None:
    ui, session = await _app(page, config, data_dir, server)
    assert page.views[0].route == "/login"
    have = button(page, "Tengo un código de activación")
    assert have.height >= 48
    await click(have)
    assert page.views[0].route == "/activate"
    touch_targets_are_big(page)
    shown = texts(page)
    assert "Se necesita conexión a internet para usar el código." in shown
    # A desktop window has no camera (flet-camera: phones and browsers only): no button, no promise of one.
    assert not any("cámara" in t for t in shown)
    # Mismatched passwords: said beside the repeat field, still here.
    field(page, "Código de activación").value = "fam7y 23hxq"
    field(page, "Elige tu usuario").value = "ana.mendez"
    field(page, "Elige tu contraseña").value = NEW_PASSWORD
    field(page, "Repite la contraseña").value = "otra-cosa-distinta"
    await click(button(page, "Activar mi cuenta"))
    assert page.views[0].route == "/activate"
    assert field(page, "Repite la contraseña").error == "Las dos contraseñas nuevas no coinciden."
    assert field(page, "Código de activación").value == "fam7y 23hxq"  # what was typed stays
    field(page, "Repite la contraseña").value = NEW_PASSWORD
    await click(button(page, "Activar mi cuenta"))
    assert page.views[0].route == "/privacy"
    await click(button(page, "Acepto"))
    assert page.views[0].route == "/carnet"
    shown = texts(page)
    assert "Quién tiene acceso" in shown and "Ana Méndez Ruiz (madre) — tú" in shown
    await session.close()


async def test_back_from_activation_is_the_login_form(page, config, data_dir, server: InProcessServer) -> None:
    ui, session = await _app(page, config, data_dir, server)
    await click(button(page, "Tengo un código de activación"))
    await click(find(page, ft.IconButton, tooltip="Volver")[0])
    assert page.views[0].route == "/login"
    await session.close()


async def test_link_a_child_from_my_account(page, config, data_dir, server: InProcessServer) -> None:
    camila = server.patient_id("Camila Torres")
    code = server.ok("oncologia.demo", "POST", f"/api/v1/patients/{camila}/guardian-invitations",
                     json={"full_name": "Mariana López", "relationship": "tía", "phone": "5511112222"})["code"]
    ui, session = await _app(page, config, data_dir, server)
    await session.login("madre.demo", "carnet-demo")
    await click(find(page, ft.IconButton, tooltip="Ajustes")[0])
    await click(button(page, "Mi cuenta"))
    await click(button(page, "Agregar un niño con código"))
    assert page.views[0].route == "/account/link"
    touch_targets_are_big(page)
    field(page, "Código de activación").value = code
    await click(button(page, "Agregar"))
    assert page.views[0].route == "/children"
    assert "Ver carnet de Camila Torres" in [b.tooltip for b in find(page, ft.FilledTonalButton)]
    await session.close()


async def test_a_temporary_password_opens_the_change_first(page, config, data_dir, server: InProcessServer) -> None:
    staff_id = server.user_id("farmacia.demo")
    temporary = server.ok("admin.demo", "POST", f"/api/v1/admin/users/{staff_id}/password-reset")["temporary_password"]
    ui, session = await _app(page, config, data_dir, server)
    await session.login("farmacia.demo", temporary)
    assert page.views[0].route == "/account/password"
    assert any("contraseña es temporal" in t for t in texts(page))
    field(page, "Contraseña temporal").value = temporary
    field(page, "Contraseña nueva").value = NEW_PASSWORD
    field(page, "Repite la contraseña nueva").value = NEW_PASSWORD
    await click(button(page, "Cambiar contraseña"))
    assert page.views[0].route == "/login"
    assert "Contraseña cambiada. Entra de nuevo con la nueva." in texts(page)
    await session.close()


async def test_oncology_desk_registers_and_shows_a_code_that_scans(page, config, data_dir,
                                                                 server: InProcessServer) -> None:
    ui, session = await _app(page, config, data_dir, server)
    await session.login("oncologia.demo", "carnet-demo")
    assert page.views[0].route == "/oncology"
    touch_targets_are_big(page)
    await click(button(page, "Registrar paciente"))
    assert page.views[0].route == "/oncology/register"
    touch_targets_are_big(page)
    for label, value in [("Nombre(s)", "Sofía"), ("Primer apellido", "Ramírez"),
                         ("Segundo apellido (opcional)", "Ortega"), ("Fecha de nacimiento", "2018-06-15"),
                         ("CURP", SOFIA_CURP), ("NSS", SOFIA_NSS), ("Fecha de diagnóstico", "2026-09-01")]:
        field(page, label).value = value
    await click(button(page, "Mujer"))
    # Without a diagnosis: said beside the picker, nothing sent.
    await click(button(page, "Registrar"))
    assert "Falta este dato." in texts(page)
    search = field(page, "Buscar diagnóstico")
    search.value = "linfoblástica"
    search.on_change(None)
    choose = [b for b in find(page, ft.OutlinedButton) if (b.tooltip or "").startswith("Elegir C91.0")]
    assert choose and choose[0].height >= 48
    await click(choose[0])
    assert any(t.startswith("C91.0 · ") for t in texts(page))
    await click(button(page, "O+"))
    await click(button(page, "Registrar"))
    assert page.views[0].route == "/oncology/child"
    assert "Sofía Ramírez Ortega" in texts(page) and "Registrado: Sofía Ramírez." in texts(page)
    await click(button(page, "Agregar tutor"))
    assert page.views[0].route == "/oncology/guardian"
    field(page, "Nombre completo del familiar").value = "Lucía Ortega"
    field(page, "Parentesco").value = "madre"
    field(page, "Celular").value = "5512345678"
    await click(button(page, "Generar código"))
    assert page.views[0].route == "/oncology/code"
    issued = session.state.oncology.issued
    assert issued is not None
    [big] = [t for t in find(page, ft.Text) if t.value == issued.code]
    assert big.size >= 40
    [qr] = find(page, ft.Image, semantics_label="Código QR de activación para Lucía Ortega")
    assert qr.width >= 250
    zxingcpp = pytest.importorskip("zxingcpp")
    image = pytest.importorskip("PIL.Image")
    decoded = zxingcpp.read_barcodes(image.open(io.BytesIO(qr.src)).convert("L"))
    assert decoded and decoded[0].text == issued.code
    await click(button(page, "Listo"))
    assert page.views[0].route == "/oncology/child"
    assert "Pendiente" in " ".join(texts(page))
    await session.close()


async def test_correction_and_referral_screens(page, config, data_dir, server: InProcessServer) -> None:
    ui, session = await _app(page, config, data_dir, server)
    await session.login("oncologia.demo", "carnet-demo")
    field(page, "Nombre, CURP o NSS").value = "camila"
    await click(button(page, "Buscar"))
    [open_camila] = [b for b in find(page, ft.OutlinedButton) if (b.tooltip or "").startswith("Abrir el registro")]
    await click(open_camila)
    assert page.views[0].route == "/oncology/child"
    touch_targets_are_big(page)
    assert "Historial de cambios" in texts(page)
    await click(button(page, "Corregir datos"))
    assert page.views[0].route == "/oncology/edit"
    assert field(page, "CURP").value == session.state.oncology.record.curp  # type: ignore[union-attr]
    assert "La unidad cambia solo por referencia." in texts(page)
    touch_targets_are_big(page)
    await click(find(page, ft.IconButton, tooltip="Volver")[0])
    assert page.views[0].route == "/oncology/child"
    await click(button(page, "Referir a otra unidad"))
    assert page.views[0].route == "/oncology/referral"
    raza = [b for b in find(page, ft.OutlinedButton) if "Raza" in str(getattr(b.content, "value", ""))]
    await click(raza[0])
    assert any(t.startswith("¿Referir a Camila Torres a") for t in texts(page))
    touch_targets_are_big(page)
    await click(button(page, "Cancelar"))
    assert not any(t.startswith("¿Referir a") for t in texts(page))
    await session.close()


async def test_admin_screen_from_settings(page, config, data_dir, server: InProcessServer) -> None:
    ui, session = await _app(page, config, data_dir, server)
    await session.login("admin.demo", "carnet-demo")
    await click(find(page, ft.IconButton, tooltip="Ajustes")[0])
    await click(button(page, "Administración"))
    assert page.views[0].route == "/admin"
    touch_targets_are_big(page)
    field(page, "Usuario").value = "q.f.b.soto"
    field(page, "Nombre para mostrar").value = "Q.F.B. Soto"
    await click(button(page, "Farmacia"))
    await click(button(page, "Crear cuenta"))
    assert "Asigne al menos una unidad médica a la cuenta." in texts(page)
    assert field(page, "Usuario").value == "q.f.b.soto"  # kept across the redraw
    await click(button(page, session.state.admin.units[0].name))
    await click(button(page, "Crear cuenta"))
    issued = session.state.admin.issued
    assert issued is not None
    [big] = [t for t in find(page, ft.Text) if t.value == issued.temporary_password]
    assert big.size >= 30
    await click(button(page, "Restablecer contraseña de farmacia.demo"))
    assert "¿Restablecer la contraseña de farmacia.demo? Sus sesiones terminan ahora." in texts(page)
    await click(button(page, "Cancelar"))
    await click(find(page, ft.IconButton, tooltip="Volver")[0])
    assert page.views[0].route == "/settings"
    await session.close()


def _picked(name: str, data: bytes) -> object:
    return type("E", (), {"files": [ft.FilePickerFile(id=0, name=name, size=len(data), bytes=data)]})()


async def test_csv_import_screen_labels_sizes_and_flow(page, config, data_dir, server: InProcessServer) -> None:
    from tests.server.test_registry_import import HEADER, LUCAS, SOFIA

    ui, session = await _app(page, config, data_dir, server)
    await session.login("oncologia.demo", "carnet-demo")
    await click(button(page, "Importar pacientes (CSV)"))
    assert page.views[0].route == "/oncology/import"
    touch_targets_are_big(page)
    pick = button(page, "Elegir archivo CSV")
    assert pick.height >= 48
    action = pick.action
    assert isinstance(action, ft.PickFiles) and action.with_data and action.allowed_extensions == ["csv"]
    bad = ("\n".join((HEADER, SOFIA, LUCAS.replace("2016-02-10", "2016-02-30"))) + "\n").encode()
    await action.file_picker.on_result(_picked("malo.csv", bad))
    shown = texts(page)
    assert "No se importó nada. Corrija el archivo y vuelva a elegirlo." in shown
    assert any(t.startswith("Fila 3:") for t in shown)
    assert not [b for b in find(page, ft.FilledButton) if b.content.value == "Importar"]
    touch_targets_are_big(page)
    good = ("\n".join((HEADER, SOFIA, LUCAS)) + "\n").encode()
    await button(page, "Elegir archivo CSV").action.file_picker.on_result(_picked("pacientes.csv", good))
    assert "Pacientes nuevos que se crearían: 2" in texts(page)
    run = button(page, "Importar")
    assert run.height >= 48
    touch_targets_are_big(page)
    await click(run)
    shown = texts(page)
    assert "Pacientes nuevos creados: 2" in shown and any(t.startswith("Fila 2: código de Ana Ortega") for t in shown)
    await click(find(page, ft.IconButton, tooltip="Volver")[0])
    assert page.views[0].route == "/oncology"
    await session.close()


async def test_admin_edits_a_unit_and_an_account_on_screen(page, config, data_dir, server: InProcessServer) -> None:
    ui, session = await _app(page, config, data_dir, server)
    await session.login("admin.demo", "carnet-demo")
    await session.admin.open()
    assert page.views[0].route == "/admin"
    unit = session.state.admin.units[0]
    await click(button(page, f"Editar {unit.name}"))
    touch_targets_are_big(page)
    assert "Editar unidad" in texts(page)
    name = [f for f in find(page, ft.TextField, label="Nombre de la unidad") if f.value == unit.name]
    assert name, [f.value for f in find(page, ft.TextField)]
    name[0].value = ""
    await click(button(page, "Guardar cambios"))
    assert name[0].error == "Falta este dato."
    name[0].value = "UMAE Pediatría Siglo XXI"
    await click(button(page, "Guardar cambios"))
    assert "Unidad guardada: UMAE Pediatría Siglo XXI." in texts(page)
    await click(button(page, "Editar oncologia.demo"))
    touch_targets_are_big(page)
    display = [f for f in find(page, ft.TextField, label="Nombre para mostrar") if f.value]
    assert display
    display[0].value = "Dra. Elena Villaseñor Ruiz"
    await click(button(page, "Guardar cambios"))
    assert "Cuenta guardada: oncologia.demo." in texts(page)
    assert any(t.startswith("Dra. Elena Villaseñor Ruiz (oncologia.demo)") for t in texts(page))
    await session.close()


async def test_admin_imports_a_csv_from_the_administration_screen(page, config, data_dir,
                                                                   server: InProcessServer) -> None:
    from tests.server.test_registry_import import HEADER, LUCAS, SOFIA

    ui, session = await _app(page, config, data_dir, server)
    await session.login("admin.demo", "carnet-demo")
    await click(find(page, ft.IconButton, tooltip="Ajustes")[0])
    await click(button(page, "Administración"))
    assert page.views[0].route == "/admin" and "Importar pacientes (CSV)" in texts(page)
    pick = button(page, "Elegir archivo CSV")
    assert pick.height >= 48 and isinstance(pick.action, ft.PickFiles)
    bad = ("\n".join((HEADER, LUCAS.replace("2016-02-10", "2016-02-30"))) + "\n").encode()
    await pick.action.file_picker.on_result(_picked("malo.csv", bad))
    assert any(t.startswith("Fila 2:") for t in texts(page))
    good = ("\n".join((HEADER, SOFIA, LUCAS)) + "\n").encode()
    await button(page, "Elegir archivo CSV").action.file_picker.on_result(_picked("pacientes.csv", good))
    assert "Pacientes nuevos que se crearían: 2" in texts(page)
    touch_targets_are_big(page)
    await click(button(page, "Importar"))
    assert "Pacientes nuevos creados: 2" in texts(page)
    assert "Importación terminada: 2 nuevos, 0 ya registrados." in texts(page)
    await session.close()
