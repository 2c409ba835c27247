"""Staff desks at a desk PC's width (issue #16 item 13), built in-process (no Flutter; ``page.width`` set as the
client sets it): lists as tables with a header row, the detail beside the list (one ResponsiveRow of two
columns); at a phone's width the same screens as before (the list, then the detail on its own screen), and a
resize across the desk width redraws the screen. The browser test measures the boxes
(tests/browser/test_desk_layout_browser.py)."""

from __future__ import annotations

from datetime import UTC
from typing import Any

import flet as ft
import pytest

from carnet.core.i18n import Translator
from carnet.shell.app import CarnetUI
from carnet.shell.session import AppSession
from carnet_server.blood_bank import bookings
from tests.support.inprocess_server import BASE, InProcessServer
from tests.support.secret_stores import DictSecretStore

from .test_blood_bank import CLOCK
from .test_blood_bank_ui import _book_for_valentina
from .test_enrolment_ui import field, touch_targets_are_big
from .test_pharmacy import due_cycles_of, mateo_token
from .test_ui_inprocess import click, find, texts, walk
from .test_ui_inprocess import page as page

pytestmark = pytest.mark.anyio
TR = Translator()
DESK, PHONE = 1366, 390


async def _app(page, config, data_dir, server, username: str, width: int, clock=None):  # type: ignore[no-untyped-def]
    page.width = width  # what the Flutter client reports (and updates on a resize)
    kwargs: dict[str, Any] = {"clock": clock} if clock is not None else {}
    session = AppSession(config, DictSecretStore(), data_dir, transport=server.transport, **kwargs)
    session.api._backoff = lambda attempt: 0.0
    ui = CarnetUI(page, session)
    page.run_task = lambda handler, *args: handler(*args).close()  # the pharmacy's focus request: not here
    ui.render()
    await session.start()
    await session.login(username, "carnet-demo")
    return ui, session


async def _resize(page, ui: CarnetUI, width: int) -> None:  # type: ignore[no-untyped-def]
    page.width = width
    ui.on_resize(None)


def panes(page) -> tuple[list[Any], list[Any]] | None:  # type: ignore[no-untyped-def]
    """The list's and the detail's controls when the screen lays them side by side, else None."""
    rows = [
        r
        for r in find(page, ft.ResponsiveRow)
        if len(r.controls) == 2
        and all(isinstance(c, ft.Column) and isinstance(c.col, dict) and c.col.get("md") for c in r.controls)
    ]
    if not rows:
        return None
    [row] = rows
    left, right = row.controls
    assert left.col["md"] + right.col["md"] == 12 and left.col["xs"] == right.col["xs"] == 12
    return list(walk(left)), list(walk(right))


def words(controls: list[Any]) -> list[str]:
    return [c.value for c in controls if isinstance(c, ft.Text) and c.value]


def has_header(page, *titles: str) -> bool:  # type: ignore[no-untyped-def]
    """A table's header row: the titles, in order, each a header node of its own in one row."""
    return any(
        [c.content.value for c in r.controls if isinstance(c, ft.Semantics) and c.header and c.container]
        == list(titles)
        for r in find(page, ft.Row)
    )


def opener(page, prefix: str) -> Any:  # type: ignore[no-untyped-def]
    found = [b for b in find(page, ft.OutlinedButton) if (b.tooltip or "").startswith(prefix)]
    assert found, prefix
    return found[0]


def button(page, name: str) -> Any:  # type: ignore[no-untyped-def]
    kinds = (ft.FilledButton, ft.OutlinedButton, ft.FilledTonalButton)
    found = [
        b
        for kind in kinds
        for b in find(page, kind)
        if isinstance(b.content, ft.Text) and name in (b.content.value, b.content.semantics_label)
    ]
    assert found, name
    return found[0]


QUEUE = ("Folio", "Niño o niña · unidad", "Categoría", "Estado", "Plazo")


async def test_case_desk_at_a_desk_width_a_table_and_the_case_beside_it(
    page, config, data_dir, server: InProcessServer
) -> None:
    ui, session = await _app(page, config, data_dir, server, "casos.demo", DESK)
    assert page.views[0].route == "/desk"
    assert has_header(page, *QUEUE), "the queue as a table"
    assert panes(page) is None, "the list alone: over the whole width"
    touch_targets_are_big(page)
    first = session.state.desk.incidents[0]
    await click(opener(page, f"Abrir {first.folio}"))
    assert page.views[0].route == "/desk", "the case opens beside the queue, on its screen"
    found = panes(page)
    assert found is not None
    queue, case = found
    assert first.folio in words(queue) and any(isinstance(c, ft.TextField) and c.label == "Respuesta" for c in case)
    assert has_header(page, "Folio", "Niño o niña · unidad", "Plazo")  # fewer columns beside the case
    assert not any(isinstance(c, ft.TextField) and c.label == "Respuesta" for c in queue)
    touch_targets_are_big(page)
    # What is typed in the answer survives a redraw (the panes are grafted, the field kept).
    [answer] = find(page, ft.TextField, label="Respuesta")
    answer.value = "Ya se surtió en farmacia."
    ui.render()
    [again] = find(page, ft.TextField, label="Respuesta")
    assert again is answer and again.value == "Ya se surtió en farmacia."

    # The window narrowed to a phone's: the case on its own screen, as before.
    await _resize(page, ui, PHONE)
    assert page.views[0].route == "/desk/case" and panes(page) is None
    await click(find(page, ft.IconButton, tooltip="Volver")[0])
    assert page.views[0].route == "/desk" and not has_header(page, *QUEUE)
    await session.close()


async def test_case_desk_on_a_phone_is_a_list_then_the_case(page, config, data_dir, server: InProcessServer) -> None:
    ui, session = await _app(page, config, data_dir, server, "casos.demo", PHONE)
    assert not has_header(page, *QUEUE) and panes(page) is None
    first = session.state.desk.incidents[0]
    await click(opener(page, f"Abrir {first.folio}"))
    assert page.views[0].route == "/desk/case" and panes(page) is None
    await _resize(page, ui, DESK)  # now a desk PC's window: the queue beside the case
    assert page.views[0].route == "/desk" and panes(page) is not None
    await click(button(page, "Cerrar el reporte"))
    assert panes(page) is None and has_header(page, *QUEUE)
    await session.close()


async def test_blood_bank_staff_at_a_desk_width(page, config, data_dir, server: InProcessServer, monkeypatch) -> None:
    monkeypatch.setattr(bookings, "utcnow", lambda: CLOCK.astimezone(UTC))  # the server's day is the booking's
    await _book_for_valentina(config, data_dir, server)
    ui, session = await _app(page, config, data_dir, server, "banco.demo", DESK, clock=lambda: CLOCK)
    found = panes(page)
    assert found is not None, "the day's list and the donor counts side by side"
    day, counts = found
    assert "Citas del día" in words(day) and "Laura Hernández Ruiz" in words(day)
    assert any(t.startswith("Donadores que asistieron") for t in words(counts))
    assert has_header(page, "Hora", "Donador", "Para", "Estado", "Acciones")
    assert has_header(page, "Paciente", "Ese día", "Semana", "Citas")
    touch_targets_are_big(page)
    await click(button(page, "Registrar llegada de Laura Hernández Ruiz"))
    assert "Llegada registrada: Laura Hernández Ruiz." in texts(page)
    assert button(page, "Deshacer la llegada de Laura Hernández Ruiz").height >= 48

    await _resize(page, ui, PHONE)  # a phone: one under the other, cards and lines as before
    assert panes(page) is None and not has_header(page, "Hora", "Donador", "Para", "Estado", "Acciones")
    assert "Valentina Hernández: el día 1 · la semana 1 (de 1 cita)" in texts(page)
    await session.close()


async def test_pharmacy_at_a_desk_width_scanner_beside_the_cycles(
    page, config, data_dir, server: InProcessServer
) -> None:
    ui, session = await _app(page, config, data_dir, server, "farmacia.demo", DESK)
    [scanner] = find(page, ft.TextField, label="Escanee o pegue el código QR")
    found = panes(page)
    assert found is not None and scanner in found[0]
    first_due = due_cycles_of(server, "Mateo Hernández")[0]
    scanner.value = f"{BASE}/v/{mateo_token(server, cyc=[first_due.id])}"
    await scanner.on_submit(None)
    found = panes(page)
    assert found is not None
    scanning, dispensing = found
    assert scanner in scanning and "Auténtico y vigente" in words(scanning)
    label = TR.t("ph_cycle", number=first_due.number, date=TR.date(first_due.scheduled_for))
    assert "Ciclos que toca surtir" in words(dispensing) and label in words(dispensing)
    assert "Mateo Hernández" in words(dispensing)
    touch_targets_are_big(page)
    # The scanner stays the same control across redraws (its focus is kept).
    ui.render()
    assert find(page, ft.TextField, label="Escanee o pegue el código QR") == [scanner]

    await _resize(page, ui, PHONE)  # a phone: one column, as before
    assert panes(page) is None
    column = page.views[0].controls[0].content
    assert scanner in column.controls
    await session.close()


async def test_oncology_desk_and_plan_at_a_desk_width(page, config, data_dir, server: InProcessServer) -> None:
    ui, session = await _app(page, config, data_dir, server, "oncologia.demo", DESK)
    field(page, "Nombre, CURP o NSS").value = "camila"
    await click(button(page, "Buscar"))
    assert has_header(page, "Nombre", "Nacimiento", "CURP", "Unidad"), "the results as a table"
    assert panes(page) is None
    await click(opener(page, "Abrir el registro"))
    assert page.views[0].route == "/oncology", "the record beside the results, on the desk's screen"
    found = panes(page)
    assert found is not None
    results, record = found
    assert any(isinstance(c, ft.TextField) and c.label == "Nombre, CURP o NSS" for c in results)
    assert any(t.startswith("Camila Torres") for t in words(results)) and "Datos del registro" in words(record)
    assert "Cerrar el expediente" in words(record) and "Plan de quimioterapia" in words(record)
    assert has_header(page, "Nombre", "CURP")
    touch_targets_are_big(page)
    await click(button(page, "Plan de quimioterapia"))
    assert page.views[0].route == "/oncology/chemo"
    found = panes(page)
    assert found is not None, "the cycles and the appointment form side by side"
    cycles, form = found
    assert any(t.startswith("Ciclo ") for t in words(cycles)) and any(isinstance(c, ft.TextField) for c in form)
    touch_targets_are_big(page)

    await _resize(page, ui, PHONE)
    assert panes(page) is None
    session.back()
    assert page.views[0].route == "/oncology/child" and panes(page) is None
    await session.close()


async def test_admin_at_a_desk_width_accounts_beside_units(page, config, data_dir, server: InProcessServer) -> None:
    ui, session = await _app(page, config, data_dir, server, "admin.demo", DESK)
    await session.admin.open()
    assert page.views[0].route == "/admin"
    found = panes(page)
    assert found is not None, "the staff accounts beside the units"
    people, places = found
    assert "Cuentas del personal" in words(people) and "Unidades médicas" in words(places)
    touch_targets_are_big(page)
    await _resize(page, ui, PHONE)
    assert panes(page) is None
    await session.close()
