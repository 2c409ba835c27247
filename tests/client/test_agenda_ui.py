"""The agenda screens built in-process (no Flutter): navigation, filters, details, add/edit/delete, sync status."""

from __future__ import annotations

import flet as ft
import pytest
from sqlalchemy import select

from carnet.core.navigation import Screen, Tab
from carnet.data.outbox import OutboxState
from carnet_server.agenda.tables import Appointment
from carnet_server.db import utcnow
from carnet_server.patients.service import due_cycles
from tests.support.inprocess_server import InProcessServer, error_response
from tests.support.secret_stores import DictSecretStore

from .test_ui_inprocess import _ui, click, find, page, texts  # noqa: F401  (page is a fixture)

pytestmark = pytest.mark.anyio


async def _agenda(page, config, data_dir, server):  # type: ignore[no-untyped-def]
    ui, session = await _ui(page, config, data_dir, server, DictSecretStore())
    await session.login("madre.demo", "carnet-demo")
    [bar] = [c for c in find(page, ft.NavigationBar)] or [page.views[0].navigation_bar]
    assert [d.label for d in bar.destinations] == ["Carnet", "Agenda", "Banco de sangre"]
    bar.selected_index = 1
    await bar.on_change(type("E", (), {"control": bar})())
    assert page.views[0].route == "/agenda"
    return ui, session


def _family(server: InProcessServer, title: str) -> list[str]:
    """The places of the family appointments called ``title`` on the server."""
    with server.db() as db:
        return list(db.scalars(select(Appointment.place).where(Appointment.title == title,
                                                               Appointment.source == "familia")))


def _appointment_buttons(page) -> list[ft.OutlinedButton]:  # type: ignore[no-untyped-def]
    return [b for b in find(page, ft.OutlinedButton) if isinstance(b.content, ft.Row)]


async def test_agenda_filters_open_details_and_calendar_file(page, config, data_dir, server) -> None:
    ui, session = await _agenda(page, config, data_dir, server)
    shown = texts(page)
    with server.db() as db:  # Mateo's next chemotherapy session, as the server scheduled it
        mateo_next = due_cycles(db, patient_id=server.patient_id("Mateo Hernández"),
                                today=server.ctx.today(utcnow()))[0].number
    assert "Próximas citas" in shown and f"Quimioterapia, ciclo {mateo_next}" in shown
    assert any(t.startswith("Citas del ") for t in shown)
    # Days with appointments are marked for screen readers too.
    labels = [t.semantics_label for t in find(page, ft.Text) if t.semantics_label]
    assert any(label.endswith(", con citas") for label in labels)
    def children_shown() -> set[str]:
        names = {"Mateo Hernández", "Valentina Hernández"}
        return {t.value for b in _appointment_buttons(page) for t in b.content.controls[1].controls} & names

    assert children_shown() == {"Mateo Hernández", "Valentina Hernández"}  # both children's, unfiltered
    [valentina] = find(page, ft.OutlinedButton, content="Valentina Hernández")
    await click(valentina)
    assert session.state.agenda.patient_id == server.patient_id("Valentina Hernández")
    only = _appointment_buttons(page)
    assert len(only) > 0 and children_shown() == {"Valentina Hernández"}
    assert all("Valentina Hernández" in [t.value for t in b.content.controls[1].controls] for b in only)
    [kind] = find(page, ft.Dropdown, label="Tipo de cita")
    kind.value = "laboratorio"
    kind.on_select(type("E", (), {"control": kind})())
    assert all("Laboratorio" in b.content.controls[1].controls[0].value for b in _appointment_buttons(page))
    await click(_appointment_buttons(page)[0])
    assert page.views[0].route == "/appointment"
    shown = texts(page)
    assert "Biometría hemática y química sanguínea" in shown and "Registrada por el hospital" in shown
    assert "Fecha y hora (hora del centro de México)" in shown
    assert "Las citas del hospital solo las cambia tu unidad médica." in shown
    selected = session.state.agenda.selected_id
    name, data = session.agenda.calendar_file(selected)  # type: ignore[misc,arg-type]
    assert name.endswith(".ics") and b"BEGIN:VEVENT" in data and b"Biometr" in data
    await click(find(page, ft.IconButton, tooltip="Volver")[0])
    assert page.views[0].route == "/agenda"
    await session.close()


async def test_add_with_bad_input_changes_nothing_then_add_edit_delete_through_the_outbox(
        page, config, data_dir, server: InProcessServer) -> None:
    ui, session = await _agenda(page, config, data_dir, server)
    [add] = find(page, ft.FilledButton, content="Agregar cita")
    await click(add)
    assert page.views[0].route == "/appointment/new"
    [title] = find(page, ft.TextField, label="Título")
    [end] = find(page, ft.TextField, label="Hora de fin (HH:MM)")
    end.value = "08:00"  # before the 09:00 start
    [save] = find(page, ft.FilledButton, content="Guardar")
    await click(save)
    assert session.scope.outbox is not None and session.scope.outbox.items() == []
    shown = texts(page)
    assert "Revisa los campos marcados: no se guardó nada." in shown
    assert find(page, ft.TextField, label="Título")[0].error == "Escribe un título."
    assert find(page, ft.TextField, label="Hora de fin (HH:MM)")[0].error == \
        "La hora de fin debe ser después de la hora de inicio."
    title.value, end.value = "Consulta de nutrición", "10:30"
    await click(find(page, ft.FilledButton, content="Guardar")[0])
    # Shown at once, marked pending, queued in the outbox.
    assert page.views[0].route == "/appointment"
    assert "Consulta de nutrición" in texts(page) and "Pendiente de enviar" in texts(page)
    assert "Cita guardada en este teléfono. Se enviará cuando haya conexión." in texts(page)
    [item] = session.scope.outbox.items()
    assert item.op.value == "create" and item.body["title"] == "Consulta de nutrición"  # type: ignore[index]
    await session.refresh()
    assert session.scope.outbox.items() == [] and _family(server, "Consulta de nutrición") == [""]
    assert "Pendiente de enviar" not in texts(page)  # the server's version replaced it
    assert "Cita guardada en este teléfono. Se enviará cuando haya conexión." not in texts(page)  # sent: no longer so
    # Edit, then delete.
    await click(find(page, ft.OutlinedButton, content="Editar cita")[0])
    assert page.views[0].route == "/appointment/edit"
    find(page, ft.TextField, label="Lugar")[0].value = "Consultorio 12"
    await click(find(page, ft.FilledButton, content="Guardar")[0])
    assert "Consultorio 12" in texts(page)
    await session.refresh()
    assert _family(server, "Consulta de nutrición") == ["Consultorio 12"]
    await click(find(page, ft.OutlinedButton, content="Borrar cita")[0])
    await click(find(page, ft.FilledButton, content="Sí, borrar")[0])
    assert page.views[0].route == "/agenda"
    deleted = "Cita borrada en este teléfono. El cambio se enviará cuando haya conexión."
    assert deleted in texts(page)
    await session.refresh()
    assert _family(server, "Consulta de nutrición") == []
    assert deleted not in texts(page)
    await session.close()


async def test_sync_status_shows_rejections_with_retry_and_discard(page, config, data_dir, server) -> None:
    ui, session = await _agenda(page, config, data_dir, server)
    await click(find(page, ft.FilledButton, content="Agregar cita")[0])
    find(page, ft.TextField, label="Título")[0].value = "Consulta"
    server.transport.fail("POST", "/api/v1/patients/*/appointments",
                          error_response(422, "slot_taken", "Ese horario ya no está disponible."))
    await click(find(page, ft.FilledButton, content="Guardar")[0])
    await session.refresh()
    assert _family(server, "Consulta") == []
    assert session.state.sync.failed and session.state.sync.failed[0].state is OutboxState.FAILED
    assert "No se pudo guardar" in texts(page)
    await click(find(page, ft.IconButton, tooltip="Volver")[0])
    [status] = find(page, ft.IconButton, tooltip="Estado de envío: hay cambios que no se pudieron guardar")
    await click(status)
    assert page.views[0].route == "/sync"
    shown = texts(page)
    assert "Crear cita: Consulta" in shown and "Motivo: Ese horario ya no está disponible." in shown
    assert any(t.startswith("Últimos datos recibidos: ") for t in shown)
    [retry] = find(page, ft.FilledButton, tooltip="Reintentar: Crear cita: Consulta")
    await click(retry)
    assert session.state.sync.failed == [] and session.state.sync.pending == 1
    await session.refresh()
    assert _family(server, "Consulta") == [""] and session.state.sync.pending == 0
    assert "Ningún cambio quedó sin guardar." in texts(page)
    # Discard: a second rejected creation disappears from the outbox and from the agenda.
    session.back()
    session.show_tab(Tab.AGENDA)
    await click(find(page, ft.FilledButton, content="Agregar cita")[0])
    find(page, ft.TextField, label="Título")[0].value = "Otra"
    server.transport.fail("POST", "/api/v1/patients/*/appointments",
                          error_response(422, "slot_taken", "Ese horario ya no está disponible."))
    await click(find(page, ft.FilledButton, content="Guardar")[0])
    await session.refresh()
    session.show_sync_status()
    await click(find(page, ft.OutlinedButton, tooltip="Descartar: Crear cita: Otra")[0])
    assert session.scope.outbox.items() == [] and not any(i.appointment.title == "Otra" for i in session.state.agenda.items)
    assert _family(server, "Otra") == []
    await session.close()


async def test_carnet_shows_the_childs_next_appointment(page, config, data_dir, server) -> None:
    ui, session = await _ui(page, config, data_dir, server, DictSecretStore())
    await session.login("padre.demo", "carnet-demo")
    assert page.views[0].route == "/carnet" and session.state.screen is Screen.CARNET
    shown = texts(page)
    with server.db() as db:  # Santiago's next appointment on the server
        first = db.scalars(select(Appointment).where(
            Appointment.patient_id == server.patient_id("Santiago Ramírez"), Appointment.starts_at > utcnow(),
            Appointment.status != "cancelada").order_by(Appointment.starts_at).limit(1)).one()
    assert "Próxima cita" in shown and first.title in shown
    assert shown.index(first.title) == shown.index("Próxima cita") + 1
    # It opens the appointment in the agenda tab.
    [button] = [b for b in find(page, ft.TextButton) if isinstance(b.content, ft.Column)]
    await click(button)
    assert page.views[0].route == "/appointment" and session.state.tab is Tab.AGENDA
    await session.close()
