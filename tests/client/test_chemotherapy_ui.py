"""The oncology desk's chemotherapy screens in process, against the real server: the child's plan, writing the
next cycle (doses computed first, a dose by hand needs its reason), a cycle deferred, a stale version."""

from __future__ import annotations

from datetime import timedelta

import flet as ft
import pytest
from sqlalchemy import update

from carnet.core.clock import MX, local_date
from carnet_server.patients.tables import Cycle
from tests.support.inprocess_server import InProcessServer

from .test_account_ui import button
from .test_enrolment_ui import _app, field, touch_targets_are_big
from .test_ui_inprocess import click, find, page, texts  # noqa: F401  (page is a fixture)

pytestmark = pytest.mark.anyio


async def _plan_of_camila(page, session) -> None:  # type: ignore[no-untyped-def]
    await session.login("oncologia.demo", "carnet-demo")
    field(page, "Nombre, CURP o NSS").value = "camila"
    await click(button(page, "Buscar"))
    [open_camila] = [b for b in find(page, ft.OutlinedButton) if (b.tooltip or "").startswith("Abrir el registro")]
    await click(open_camila)
    await click(button(page, "Plan de quimioterapia"))
    assert page.views[0].route == "/oncology/chemo"


async def test_write_a_cycle_with_a_dose_by_hand(page, config, data_dir, server: InProcessServer) -> None:
    ui, session = await _app(page, config, data_dir, server)
    await _plan_of_camila(page, session)
    touch_targets_are_big(page)
    shown = texts(page)
    assert "Camila Torres" in shown and any(t.startswith("Ciclo 1 · ") for t in shown)
    before = len(session.state.chemotherapy.plan.cycles)  # type: ignore[union-attr]
    await click(button(page, "Escribir el siguiente ciclo"))
    assert page.views[0].route == "/oncology/chemo/new"
    await click(button(page, "LLA — inducción (ejemplo)"))
    assert button(page, "Inducción (1 ciclo)").content.semantics_label == "Inducción (1 ciclo), seleccionado"
    assert button(page, "Mantenimiento (8 ciclos)").content.semantics_label == "Mantenimiento (8 ciclos)"
    assert "Protocolo de ejemplo (datos de demostración, no es una guía clínica)" in texts(page)
    # Bad input first: the weight in grams is refused beside its field, nothing computed.
    field(page, "Peso").value = "20000"
    field(page, "Talla").value = "110"
    await click(button(page, "Calcular dosis"))
    assert field(page, "Peso").error == "Escriba el peso en kilogramos, por ejemplo 18.5."
    assert session.state.chemotherapy.preview is None
    # The height in metres: the server's words, beside the field.
    field(page, "Peso").value = "20"
    field(page, "Talla").value = "1.1"
    await click(button(page, "Calcular dosis"))
    assert "metros" in (field(page, "Talla").error or "")
    field(page, "Talla").value = "110"
    await click(button(page, "Calcular dosis"))
    shown = texts(page)
    assert "Vincristina: 1.2 mg, vía IV — días 1, 8, 15 y 22" in shown
    assert "1.5 mg/m² × 0.78 m² = 1.2 mg" in shown
    assert any(t.startswith("Antraciclinas acumuladas:") for t in shown)
    touch_targets_are_big(page)
    # A dose by hand without its reason: said beside the reason, nothing written.
    [dauno] = [f for f in find(page, ft.TextField) if (f.label or "").startswith("Dosis a mano (calculada: 20 mg)")]
    dauno.value = "18"
    await click(button(page, "Escribir ciclo"))
    assert field(page, "Motivo del cambio de Daunorrubicina").error == "Escriba el motivo (al menos 3 letras)."
    field(page, "Motivo del cambio de Daunorrubicina").value = "Fracción de eyección limítrofe"
    await click(button(page, "Escribir ciclo"))
    assert page.views[0].route == "/oncology/chemo"
    plan = session.state.chemotherapy.plan
    assert plan is not None and len(plan.cycles) == before + 1
    written = max(plan.cycles, key=lambda c: c.number)
    dose = next(d.dose for d in written.drugs if d.name == "Daunorrubicina")
    assert dose.amount == 18 and dose.computed == 20 and dose.changed_reason == "Fracción de eyección limítrofe"
    shown = texts(page)
    assert f"Ciclo {written.number} escrito para el {session.tr.date(written.scheduled_for)}." in shown
    assert any("ajustada por el médico: Fracción de eyección limítrofe" in t for t in shown)
    await session.close()


async def test_defer_a_cycle_and_a_stale_version(page, config, data_dir, server: InProcessServer) -> None:
    ui, session = await _app(page, config, data_dir, server)
    await _plan_of_camila(page, session)
    plan = session.state.chemotherapy.plan
    assert plan is not None
    pending = [c for c in plan.cycles if c.status.value == "programado"]
    assert pending
    cycle = min(pending, key=lambda c: c.scheduled_for)
    [defer] = [b for b in find(page, ft.OutlinedButton) if b.tooltip == f"Diferir el ciclo {cycle.number}"]
    await click(defer)
    # Without a reason: said beside it, nothing changed.
    field(page, "Motivo").value = ""
    await click(button(page, "Diferir"))
    assert field(page, "Motivo").error == "Escriba el motivo (al menos 3 letras)."
    field(page, "Motivo").value = "Neutrófilos bajos"
    new_date = cycle.scheduled_for + timedelta(days=7)
    assert field(page, "Nueva fecha").value == new_date.isoformat()
    await click(button(page, "Diferir"))
    changed = next(c for c in session.state.chemotherapy.plan.cycles if c.id == cycle.id)  # type: ignore[union-attr]
    assert changed.status.value == "diferido" and changed.scheduled_for == new_date and changed.version == 2
    assert f"Ciclo {cycle.number}: diferido." in texts(page)
    assert any(t.endswith("Neutrófilos bajos") and t.startswith("Se cambió del") for t in texts(page))
    # Someone else changes the cycle meanwhile: suspending on the old version shows the cycle as it is now.
    with server.db() as db:
        db.execute(update(Cycle).where(Cycle.id == cycle.id).values(version=Cycle.version + 1))
        db.commit()
    [suspend] = [b for b in find(page, ft.OutlinedButton) if b.tooltip == f"Suspender el ciclo {cycle.number}"]
    await click(suspend)
    field(page, "Motivo").value = "Cambio de plan"
    await click(button(page, "Suspender"))
    assert "Alguien más cambió este ciclo; así está ahora. Revise y vuelva a intentar." in texts(page)
    now = next(c for c in session.state.chemotherapy.plan.cycles if c.id == cycle.id)  # type: ignore[union-attr]
    assert now.version == 3 and now.status.value == "diferido"  # nothing lost, nothing suspended
    assert local_date(session.clock()) <= now.scheduled_for
    await session.close()


async def test_admin_loads_a_protocol_file_as_a_new_version(page, config, data_dir, server: InProcessServer) -> None:
    from carnet_server.chemotherapy.catalogue import CATALOGUE_DIR

    from .test_enrolment_ui import _picked

    ui, session = await _app(page, config, data_dir, server)
    await session.login("admin.demo", "carnet-demo")
    await session.admin.open()
    assert "Protocolos de quimioterapia" in texts(page)
    assert "LLA — inducción (ejemplo) · versión 1 · Inducción, Mantenimiento" in texts(page)
    picker = ui._admin.regimen_picker  # type: ignore[union-attr]
    good = (CATALOGUE_DIR / "lla-induccion.json").read_bytes()
    # A file with a bad unit: every problem said with its place, nothing loaded.
    await picker.on_result(_picked("mal.json", good.replace(b'"unit": "mg"', b'"unit": "mg/m2"', 1)))
    assert any(t.startswith("mal.json: phases > 1 > drugs > 1 > unit: ") for t in texts(page)), texts(page)
    assert "LLA — inducción (ejemplo) · versión 1 · Inducción, Mantenimiento" in texts(page)
    # Not JSON at all: said too.
    await picker.on_result(_picked("notas.json", b"no es json"))
    assert any(t.startswith("notas.json: ") for t in texts(page))
    # The good file: the code's next version.
    await picker.on_result(_picked("lla.json", good))
    assert "Protocolo cargado: LLA — inducción (ejemplo), versión 2." in texts(page)
    assert "LLA — inducción (ejemplo) · versión 2 · Inducción, Mantenimiento" in texts(page)
    assert not any(t.startswith(("mal.json", "notas.json")) for t in texts(page))
    await session.close()


async def test_the_oncology_team_schedules_a_consultation(page, config, data_dir, server: InProcessServer) -> None:
    ui, session = await _app(page, config, data_dir, server)
    await _plan_of_camila(page, session)
    assert "Citar consulta, laboratorio o estudio" in texts(page)
    tomorrow = (local_date(session.clock()) + timedelta(days=1)).isoformat()
    field(page, "Fecha").value = tomorrow
    field(page, "Hora de inicio (HH:MM)").value = "09:30"
    field(page, "Hora de fin (HH:MM)").value = "9"
    # No kind chosen, an end time that is not a time: each said, nothing sent.
    await click(button(page, "Agendar"))
    assert "Elija si es consulta, laboratorio o estudio." in texts(page)
    assert field(page, "Hora de fin (HH:MM)").error == "Escriba la hora como HH:MM, por ejemplo 09:30."
    await click(button(page, "Laboratorio"))
    field(page, "Hora de fin (HH:MM)").value = "09:00"  # before the start
    await click(button(page, "Agendar"))
    assert field(page, "Hora de fin (HH:MM)").error == "La hora de fin debe ser después de la de inicio."
    field(page, "Hora de fin (HH:MM)").value = "10:00"
    await click(button(page, "Agendar"))
    assert any(t.startswith("Agendado: Laboratorio,") for t in texts(page)), texts(page)
    assert field(page, "Fecha").value == ""  # an empty form for the next one
    camila = session.state.chemotherapy.patient_id
    with server.db() as db:
        from carnet_server.agenda.tables import Appointment
        from sqlalchemy import select

        [row] = db.scalars(select(Appointment).where(Appointment.patient_id == camila,
                                                     Appointment.kind == "laboratorio",
                                                     Appointment.title == "Laboratorio")).all()
    assert row.source == "hospital" and row.starts_at.astimezone(MX).strftime("%Y-%m-%d %H:%M") == f"{tomorrow} 09:30"
    await session.close()


async def test_an_old_or_changed_weight_is_confirmed_before_writing(page, config, data_dir,
                                                                   server: InProcessServer) -> None:
    ui, session = await _app(page, config, data_dir, server)
    await _plan_of_camila(page, session)
    await click(button(page, "Escribir el siguiente ciclo"))
    await click(button(page, "LLA — inducción (ejemplo)"))
    field(page, "Peso").value, field(page, "Talla").value = "20", "110"
    # Weighed a month ago: the server asks first, nothing is written until confirmed.
    field(page, "Fecha de peso y talla").value = (local_date(session.clock()) - timedelta(days=30)).isoformat()
    await click(button(page, "Calcular dosis"))
    await click(button(page, "Escribir ciclo"))
    assert page.views[0].route == "/oncology/chemo/new"
    assert any(t.startswith("Revise antes de escribir: El peso es de hace 30 días") for t in texts(page)), texts(page)
    # A date ahead is refused beside the field.
    field(page, "Fecha de peso y talla").value = (local_date(session.clock()) + timedelta(days=1)).isoformat()
    await click(button(page, "Confirmar peso y talla, y escribir ciclo"))
    assert field(page, "Fecha de peso y talla").error == "La fecha de medición no puede ser futura."
    field(page, "Fecha de peso y talla").value = (local_date(session.clock()) - timedelta(days=30)).isoformat()
    await click(button(page, "Confirmar peso y talla, y escribir ciclo"))
    assert page.views[0].route == "/oncology/chemo"
    plan = session.state.chemotherapy.plan
    assert plan is not None and plan.measurements[0].weight_kg == 20
    assert any(t.startswith("Última medición: 20 kg, 110 cm") for t in texts(page))
    await session.close()
