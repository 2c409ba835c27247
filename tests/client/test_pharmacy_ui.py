"""The pharmacy counter built in-process (no Flutter): scanner field, verdicts, dispensing, languages.

Also the family's carnet: a dispensed cycle says so ("Surtido el …").
"""

from __future__ import annotations

import flet as ft
import pytest

from carnet.core.i18n import Translator
from carnet.shell.app import CarnetUI
from carnet.shell.session import AppSession
from tests.support.inprocess_server import BASE, InProcessServer
from tests.support.secret_stores import DictSecretStore

from .test_pharmacy import dispensations, due_cycles_of, mateo_token, tamper_signature
from .test_ui_inprocess import click, find, page, texts  # noqa: F401  (page is a fixture)

pytestmark = pytest.mark.anyio
TR = Translator()
#: Background tasks the app asked the page to run (here: handing the focus back to the scanner field).
focus_requests: list[str] = []


async def _app(page, config, data_dir, server, username: str):  # type: ignore[no-untyped-def]
    session = AppSession(config, DictSecretStore(), data_dir, transport=server.transport)
    ui = CarnetUI(page, session)
    focus_requests.clear()

    def run_task(handler, *args):  # type: ignore[no-untyped-def]
        # The focus request awaits the Flutter client, which this recording page has not: note it instead.
        focus_requests.append(getattr(handler, "__name__", ""))
        handler(*args).close()

    page.run_task = run_task
    ui.render()
    await session.start()
    await session.login(username, "carnet-demo")
    return ui, session


def button(page, name: str):  # type: ignore[no-untyped-def]
    """The button whose text (or its screen-reader label) is ``name``."""
    found = [b for b in find(page, ft.FilledButton) + find(page, ft.OutlinedButton)
             if isinstance(b.content, ft.Text) and name in (b.content.value, b.content.semantics_label)]
    assert found, name
    return found[0]


def scanner(page) -> ft.TextField:  # type: ignore[no-untyped-def]
    [field] = find(page, ft.TextField, label="Escanee o pegue el código QR")
    return field


async def scan(page, text: str) -> None:  # type: ignore[no-untyped-def]
    """What a hand-held scanner does: type the text, then Enter."""
    field = scanner(page)
    field.value = text
    await field.on_submit(None)


def register_button(page):  # type: ignore[no-untyped-def]
    [found] = [b for b in find(page, ft.FilledButton)
               if isinstance(b.content, ft.Text) and b.content.value == "Registrar surtido"]
    return found


async def pick(page, session: AppSession) -> None:  # type: ignore[no-untyped-def]
    """The pharmacist taps the first open cycle (the demo's next cycles are days away: none is chosen by itself)."""
    cycle = session.pharmacy.open_cycles()[0]
    label = TR.t("ph_cycle", number=cycle.number, date=TR.date(cycle.scheduled_for))
    await click(button(page, label))
    assert button(page, f"{label}, seleccionado")


async def test_scan_verify_and_dispense_on_the_screen(page, config, data_dir, server: InProcessServer) -> None:
    ui, session = await _app(page, config, data_dir, server, "farmacia.demo")
    assert page.views[0].route == "/pharmacy"
    field = scanner(page)
    assert field.autofocus and field.on_submit is not None
    assert "Claves actualizadas hace menos de 1 min" in texts(page)
    assert button(page, "Actualizar claves").height >= 48

    first_due = due_cycles_of(server, "Mateo Hernández")[0]
    token = mateo_token(server, cyc=[first_due.id])  # a QR naming Mateo's next cycle only
    unit = server.ok("madre.demo", "GET", f"/api/v1/patients/{first_due.patient_id}/carnet")["patient"]["unit"]
    asked = focus_requests.count("focus")
    assert asked >= 1  # on open
    ui.render()
    assert focus_requests.count("focus") == asked  # a redraw alone doesn't take the focus
    await scan(page, f"{BASE}/v/{token}")
    assert scanner(page).value == ""  # ready for the next code
    assert focus_requests.count("focus") >= asked + 2  # the offline verdict, then the server's answer
    shown = texts(page)
    assert "Auténtico y vigente" in shown and "Comprobado también en el servidor." in shown
    assert "Mateo Hernández" in shown and f"Unidad: {unit['name']}" in shown
    label = TR.t("ph_cycle", number=first_due.number, date=TR.date(first_due.scheduled_for))
    # In three days: shown with its date, not chosen; "Registrar surtido" there but disabled.
    assert button(page, label).content.semantics_label == label and not find(page, ft.Checkbox)
    assert f"Todavía no toca: es para el {TR.date(first_due.scheduled_for)}." in shown
    assert register_button(page).disabled
    await click(button(page, label))
    assert button(page, f"{label}, seleccionado")
    assert f"Este ciclo es para el {TR.date(first_due.scheduled_for)}: hoy se surtiría antes de su fecha." in texts(
        page)
    boxes = find(page, ft.Checkbox)
    drugs = sorted(first_due.drugs, key=lambda d: d.position)
    # each dose as given: "Vincristina: 1.2 mg, vía IV", computed from the child's BSA
    doses = [f"{d.amount:g} {d.dose_unit}, vía {d.route}" + (" — en casa, cada día" if d.home_schedule else "")
             for d in drugs]
    # each box in one row with (and named by) the drug's name and, on a line of its own under it, its dose
    rows = [m for m in find(page, ft.MergeSemantics)  # (the verdict is one too: a live region)
            if isinstance(m.content, ft.Row) and isinstance(m.content.controls[0], ft.Checkbox)]
    assert len(rows) == len(boxes) == len(drugs)
    for row, box, d, dose in zip(rows, boxes, drugs, doses, strict=True):
        assert row.content.controls[0] is box
        lines = [t for t in row.content.controls[1].content.controls if isinstance(t, ft.Text)]
        assert [t.value for t in lines[:2]] == [d.name, dose]
        assert all(t.max_lines is None and not t.no_wrap for t in lines)  # every line wraps, none is cut
    shown = texts(page)
    assert any(t.startswith(f"{drugs[0].per_basis:g} mg/") and " = " in t for t in shown)  # where it came from
    assert all(b.value for b in boxes) and "Mezcla: en preparación" in shown
    # Every button is a large target; every icon button has a name.
    for control in find(page, ft.FilledButton) + find(page, ft.OutlinedButton):
        assert control.height >= 48
    for icon in find(page, ft.IconButton):
        assert icon.icon.semantics_label == icon.tooltip and icon.width >= 48

    await click(button(page, "Registrar surtido"))
    question = f"¿Registrar el surtido del ciclo {first_due.number} ({len(drugs)} de {len(drugs)} medicamentos)?"
    assert any(t.startswith(question) for t in texts(page))
    assert dispensations(server) == []
    await click(button(page, "Sí, registrar"))
    [done] = dispensations(server)
    assert done.cycle_id == first_due.id and len(done.items) == len(drugs)
    shown = texts(page)
    assert f"Surtido registrado: ciclo {first_due.number}, el {TR.datetime(done.dispensed_at)}." in shown
    assert f"Surtido el {TR.datetime(done.dispensed_at)} por Q.F.B. Laura Méndez" in shown
    assert "Todos los ciclos de este código ya se surtieron." in shown
    assert not find(page, ft.Checkbox)

    # A tampered code: red, plain words, nothing about the patient.
    await scan(page, tamper_signature(token))
    shown = texts(page)
    assert "Alterado: la firma no corresponde" in shown and "Mateo Hernández" not in shown
    [verdict] = [t for t in find(page, ft.Text) if t.value == "Alterado: la firma no corresponde"]
    assert verdict.color == "#B71C1C"
    await session.close()


async def test_second_counter_sees_the_409_words_and_english(page, config, data_dir, server: InProcessServer) -> None:
    ui, session = await _app(page, config, data_dir, server, "farmacia.demo")
    url = server.carnet_qr(server.patient_id("Valentina Hernández"))["url"]
    await scan(page, url)
    await pick(page, session)
    # Another counter records it first.
    other = AppSession(session.config, DictSecretStore(), data_dir.parent / "other", transport=server.transport)
    await other.start()
    await other.login("admin.demo", "carnet-demo")
    await other.pharmacy.scan(url)
    other.pharmacy.pick_cycle(other.pharmacy.open_cycles()[0].id)
    other.pharmacy.ask_confirm()
    await other.pharmacy.dispense()
    assert len(dispensations(server)) == 1

    await click(button(page, "Registrar surtido"))
    await click(button(page, "Sí, registrar"))
    [first] = dispensations(server)
    expected = (f"Este ciclo ya se surtió el {TR.datetime(first.dispensed_at)} por Administración Carnet. "
                "No se registró nada.")
    assert expected in texts(page) and len(dispensations(server)) == 1

    await session.set_locale("en")
    assert find(page, ft.TextField, label="Scan or paste the QR code")
    assert "Genuine and current" in texts(page)
    await other.close()
    await session.close()


async def test_offline_counter_says_so_and_offers_no_dispensing(page, config, data_dir, server: InProcessServer) -> None:
    ui, session = await _app(page, config, data_dir, server, "farmacia.demo")
    server.transport.offline = True
    await scan(page, server.carnet_qr(server.patient_id("Mateo Hernández"))["url"])
    shown = texts(page)
    assert "Auténtico y vigente" in shown and "Comprobado en este equipo con las claves guardadas." in shown
    assert TR.t("ph_offline") in shown
    assert not find(page, ft.Checkbox) and not [b for b in find(page, ft.FilledButton)
                                                if isinstance(b.content, ft.Text)
                                                and b.content.value == "Registrar surtido"]
    await click(button(page, "Actualizar claves"))
    assert TR.t("ph_keys_offline") in texts(page)
    await click(button(page, "Siguiente paciente"))
    assert "Auténtico y vigente" not in texts(page)
    await session.close()


async def test_family_carnet_shows_mixing_and_dispensed(page, config, data_dir, server: InProcessServer) -> None:
    counter = AppSession(config, DictSecretStore(), data_dir.parent / "counter", transport=server.transport)
    await counter.start()
    await counter.login("admin.demo", "carnet-demo")  # (Santiago's unit, León, is no unit of farmacia.demo)
    await counter.pharmacy.scan(server.carnet_qr(server.patient_id("Santiago Ramírez"))["url"])
    counter.pharmacy.pick_cycle(counter.pharmacy.open_cycles()[0].id)
    counter.pharmacy.ask_confirm()
    await counter.pharmacy.dispense()
    [done] = dispensations(server)
    cycle = next(c for c in due_cycles_of(server, "Santiago Ramírez") if c.id == done.cycle_id)
    assert cycle.mixing_status == "lista"

    ui, session = await _app(page, config, data_dir, server, "padre.demo")
    assert page.views[0].route == "/carnet"
    shown = texts(page)
    when = TR.datetime(done.dispensed_at)
    assert f"Surtido el {when}" in shown  # the current cycle's block
    assert f"Mezcla: lista para entregar · Surtido el {when}" in shown  # the history line of that cycle
    assert "Mezcla: entregada" in shown  # cycle 1's mixture, in the history
    await counter.close()
    await session.close()


async def test_the_counter_confirms_a_cycle_and_its_mixture_is_ordered(page, config, data_dir,
                                                                       server: InProcessServer) -> None:
    ui, session = await _app(page, config, data_dir, server, "farmacia.demo")
    first_due = due_cycles_of(server, "Mateo Hernández")[0]
    assert first_due.confirmed_at is None
    await scan(page, f"{BASE}/v/{mateo_token(server, cyc=[first_due.id])}")
    await pick(page, session)
    confirm = button(page, f"Confirmar el ciclo {first_due.number} y pedir la mezcla")
    assert confirm.height >= 48 and not confirm.disabled
    await click(confirm)
    mixing = TR.t(f"mixing.{first_due.mixing_status}")  # as it was: this demo mixture was already asked for
    assert f"Ciclo {first_due.number} confirmado; mezcla: {mixing}." in texts(page)
    assert not [b for b in find(page, ft.OutlinedButton) if isinstance(b.content, ft.Text)
                and (b.content.value or "").startswith("Confirmar el ciclo")]  # confirmed: the button is gone
    carnet = server.ok("madre.demo", "GET", f"/api/v1/patients/{first_due.patient_id}/carnet")
    row = next(c for c in carnet["cycles"] if c["id"] == first_due.id)
    assert row["status"] == "confirmado" and row["confirmed_at"] and row["version"] == first_due.version + 1
    # Dispensing it still works once confirmed.
    await click(button(page, "Registrar surtido"))
    await click(button(page, "Sí, registrar"))
    assert [d.cycle_id for d in dispensations(server)] == [first_due.id]
    await session.close()


async def test_only_the_cycle_due_today_is_chosen_and_after_it_nothing(page, config, data_dir,
                                                                        server: InProcessServer) -> None:
    """Mateo's next cycle moved to today, the one after in two weeks: scanned, today's is chosen with all its
    medicines; once dispensed, the next one is shown with its date, unchosen, and nothing can be sent."""
    from datetime import timedelta

    from carnet_server.db import utcnow
    from carnet_server.patients.tables import Cycle

    today = server.ctx.today(utcnow())
    first, second = due_cycles_of(server, "Mateo Hernández")[:2]
    with server.db() as db:
        db.get_one(Cycle, first.id).scheduled_for = today
        db.get_one(Cycle, second.id).scheduled_for = today + timedelta(days=14)
        db.commit()
    _ui, session = await _app(page, config, data_dir, server, "farmacia.demo")
    await scan(page, f"{BASE}/v/{mateo_token(server, cyc=[first.id, second.id])}")
    today_label = TR.t("ph_cycle", number=first.number, date=TR.date(today))
    later = today + timedelta(days=14)
    later_label = TR.t("ph_cycle", number=second.number, date=TR.date(later))
    assert button(page, f"{today_label}, seleccionado")
    assert button(page, later_label).content.semantics_label == later_label  # shown, not chosen
    assert f"Todavía no toca: es para el {TR.date(later)}." in texts(page)
    boxes = find(page, ft.Checkbox)
    assert len(boxes) == len(first.drugs) and all(b.value for b in boxes)
    assert not register_button(page).disabled

    await click(register_button(page))
    await click(button(page, "Sí, registrar"))
    assert [d.cycle_id for d in dispensations(server)] == [first.id]
    shown = texts(page)
    assert any(t.startswith(f"Surtido registrado: ciclo {first.number}") for t in shown)
    # The next cycle is two weeks away: not chosen, its date said, "Registrar surtido" disabled.
    assert session.state.pharmacy.cycle_id is None and not session.state.pharmacy.items
    assert button(page, later_label).content.semantics_label == later_label
    assert f"Todavía no toca: es para el {TR.date(later)}." in shown and TR.t("ph_pick_cycle") in shown
    assert not find(page, ft.Checkbox) and register_button(page).disabled
    await click(register_button(page))  # (a click that gets through anyway asks nothing)
    assert not session.state.pharmacy.confirming and len(dispensations(server)) == 1
    await session.close()
