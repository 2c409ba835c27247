"""The blood-bank screens built in-process (no Flutter): the tab, the donor form, the confirmation, staff."""

from __future__ import annotations

from datetime import UTC, timedelta

import flet as ft
import pytest

from carnet.core.i18n import Translator
from carnet.shell.app import CarnetUI
from carnet.shell.session import AppSession
from carnet_server.blood_bank import bookings
from carnet_server.blood_bank.demo import BANKS, INSTRUCTIONS
from carnet_contract.eligibility import rules
from tests.support.inprocess_server import InProcessServer
from tests.support.secret_stores import DictSecretStore

from .test_blood_bank import CLOCK, DAY, DONOR, QS, SIGLO_XXI, _book, bank_id, made
from .test_ui_inprocess import click, find, page, texts  # noqa: F401  (page is a fixture)

pytestmark = pytest.mark.anyio
TR = Translator()


async def _app(page, config, data_dir, server, username: str, clock=CLOCK):  # type: ignore[no-untyped-def]
    session = AppSession(config, DictSecretStore(), data_dir, transport=server.transport, clock=lambda: clock)
    ui = CarnetUI(page, session)
    ui.render()
    await session.start()
    await session.login(username, "carnet-demo")
    return ui, session


def button(page, name: str):  # type: ignore[no-untyped-def]
    """The button whose text (or its screen-reader label) is ``name``."""
    found = [b for b in find(page, ft.FilledButton) + find(page, ft.OutlinedButton) + find(page, ft.FilledTonalButton)
             if isinstance(b.content, ft.Text) and name in (b.content.value, b.content.semantics_label)
             or b.content == name]
    assert found, name
    return found[0]


LEON = BANKS["leon"][0]  # the bank of Santiago's unit (padre.demo's only child, who has no booking yet)


async def _answer_all(page, fever: bool = False) -> None:  # type: ignore[no-untyped-def]
    """Every question of the server's questionnaire answered as a donor who may give blood (but ``fever``)."""
    for number, question in enumerate(QS, start=1):
        value = fever if question.id == "fever_infection" else question.eligible_answer
        await click(button(page, f"{number}. {question.text} {'Sí' if value else 'No'}"))


async def test_guardian_books_from_the_tab_with_checks_then_confirmation_and_cancel(page, config, data_dir,
                                                                                   server: InProcessServer) -> None:
    ui, session = await _app(page, config, data_dir, server, "padre.demo")
    bar = page.views[0].navigation_bar
    assert [d.label for d in bar.destinations] == ["Carnet", "Agenda", "Banco de sangre"]
    bar.selected_index = 2
    await bar.on_change(type("E", (), {"control": bar})())
    assert page.views[0].route == "/blood-bank"
    assert "Mis citas de donación" in texts(page) and "Aún no hay citas de donación." in texts(page)
    assert "Elige el banco de sangre" in texts(page)  # his only child: no child to choose
    await click(button(page, LEON))
    assert button(page, TR.t("bb_selected", label=TR.long_date(DAY)))  # today (the clock's day) is chosen
    slot = button(page, "07:30 a 08:00, 4 lugares")
    assert any(t.startswith("Lugares actualizados: ") for t in texts(page))
    # Large targets, named controls.
    for control in find(page, ft.FilledButton) + find(page, ft.OutlinedButton) + find(page, ft.FilledTonalButton):
        assert control.height >= 48
    for icon in find(page, ft.IconButton):
        assert icon.icon.semantics_label == icon.tooltip and icon.width >= 48
    await click(slot)
    assert page.views[0].route == "/blood-bank/form"

    await click(button(page, "Reservar"))  # empty: messages, nothing queued
    assert session.scope.outbox is not None and session.scope.outbox.items() == []
    assert "Revisa los campos marcados: no se guardó nada." in texts(page)
    [name] = find(page, ft.TextField, label="Nombre completo de quien dona")
    assert name.error == "Escribe el nombre completo (al menos 3 letras)."
    assert f"Contesta todas las preguntas (faltan {len(QS)})." in texts(page)

    name.value = "Laura Hernández Ruiz"
    find(page, ft.TextField, label="Teléfono (10 dígitos)")[0].value = "55 1234 5678"
    find(page, ft.TextField, label="Fecha de nacimiento (DD/MM/AAAA)")[0].value = "14/02/1990"
    find(page, ft.TextField, label="Peso en kg")[0].value = "62"
    await click(button(page, "Sexo Mujer"))
    await _answer_all(page)
    last = QS[-1]
    assert button(page, f"{len(QS)}. {last.text} {'Sí' if last.eligible_answer else 'No'}, seleccionado")
    assert find(page, ft.TextField, label="Peso en kg")[0].value == "62", "typed text survives the redraws"
    await click(button(page, "Reservar"))
    assert page.views[0].route == "/blood-bank/booking"
    assert "Pendiente de confirmar" in texts(page)
    assert "El folio llega cuando el banco de sangre confirme la cita." in texts(page)

    await session.refresh()
    shown = texts(page)
    [booked] = made(server)
    assert "Confirmada" in shown and booked.folio in shown
    assert BANKS["leon"][1] in shown
    assert INSTRUCTIONS in shown  # the bank's instructions
    await click(button(page, "Cancelar cita"))
    assert "¿Cancelar esta cita de donación? El lugar queda libre para otra persona." in texts(page)
    await click(button(page, "Sí, cancelar"))
    assert "Cancelación pendiente de enviar" in texts(page)
    await session.refresh()
    assert "Cancelada" in texts(page)
    assert [b.status for b in made(server)] == ["cancelada"]
    await session.close()


async def test_a_donor_who_may_not_donate_gets_the_reasons_as_the_answer_on_the_filled_form(page, config, data_dir,
                                                                                            server) -> None:
    ui, session = await _app(page, config, data_dir, server, "padre.demo")
    await session.blood_bank.open()
    await click(button(page, LEON))
    assert button(page, TR.t("bb_selected", label=TR.long_date(DAY)))  # today (the clock's day) is chosen
    await click(button(page, "07:00 a 07:30, 4 lugares"))
    typed = {"Nombre completo de quien dona": "Luis Ramírez", "Teléfono (10 dígitos)": "5511112222",
             "Fecha de nacimiento (DD/MM/AAAA)": "01/01/1985", "Peso en kg": "45"}
    for label, value in typed.items():
        find(page, ft.TextField, label=label)[0].value = value
    await click(button(page, "Sexo Hombre"))
    await _answer_all(page, fever=True)
    await click(button(page, "Reservar"))
    shown = texts(page)
    why = {r.id: r.message["es"] for r in rules()}  # the same rules the server applies
    assert TR.t("bb_not_eligible_title") in shown
    assert f"• {why['weight']}" in shown and f"• {why['fever_infection']}" in shown
    assert "Rechazada" not in shown and "Reintentar" not in shown
    for label, value in typed.items():  # the form is still filled, to correct and send again
        assert find(page, ft.TextField, label=label)[0].value == value
    assert session.scope.outbox is not None and session.scope.outbox.items() == []
    assert session.state.sync.failed == [] and made(server) == []
    await session.close()


async def test_a_change_of_time_refused_says_why_and_the_booking_keeps_its_time(page, config, data_dir,
                                                                                 server) -> None:
    """The booking's screen after the blood bank refused a new time (too soon after the donor's last donation):
    the time asked for and every reason, the booking's own time — still confirmed — and the ways on."""
    ui, session = await _app(page, config, data_dir, server, "madre.demo")
    await session.blood_bank.open()
    session.blood_bank.pick_child(server.patient_id("Mateo Hernández"))
    await session.blood_bank.pick_bank(bank_id(server))
    tuesday = DAY + timedelta(days=1)
    await session.blood_bank.pick_day(tuesday)
    assert _book(session, 0, last_donation_text=(tuesday - timedelta(days=56)).strftime("%d/%m/%Y"))
    await session.refresh()
    [booked] = [v for v in session.state.blood_bank.bookings if v.donor_name == DONOR]
    await click(button(page, TR.t("bb_reschedule")))
    await session.blood_bank.pick_day(DAY)
    monday = session.state.blood_bank.slots[2]
    session.blood_bank.pick_slot(monday.id)
    await session.refresh()
    assert page.views[0].route == "/blood-bank/booking"
    shown = texts(page)
    why = next(r.message["es"] for r in rules() if r.id == "donation_interval")
    asked, kept = TR.time_range(monday.starts_at, monday.ends_at), TR.time_range(booked.slot.starts_at,
                                                                                   booked.slot.ends_at)
    assert TR.t("bb_change_refused_title", when=asked) in shown and f"• {why}" in shown
    assert TR.t("bb_change_refused_note", when=kept) in shown
    assert "Confirmada" in shown and kept in shown and asked != kept
    assert TR.t("bb_failed_reschedule") not in shown and "Reintentar" not in shown
    assert button(page, "Cambiar horario") and button(page, "Entendido")
    # In "Mis citas" too, under the booking's own time.
    session.blood_bank.close()
    assert TR.t("bb_change_refused_short") in texts(page)
    session.blood_bank.open_booking(booked.id)
    await click(button(page, "Entendido"))
    shown = texts(page)
    assert TR.t("bb_change_refused_title", when=asked) not in shown and "Confirmada" in shown
    await session.close()


async def _book_for_valentina(config, data_dir, server) -> None:  # type: ignore[no-untyped-def]
    family = AppSession(config, DictSecretStore(), data_dir / "family", transport=server.transport,
                        clock=lambda: CLOCK)
    await family.start()
    await family.login("madre.demo", "carnet-demo")
    await family.blood_bank.open()
    from .test_blood_bank import _book  # the same booking as the use-case tests

    family.blood_bank.pick_child(server.patient_id("Valentina Hernández"))
    await family.blood_bank.pick_bank(bank_id(server, SIGLO_XXI))
    await family.blood_bank.pick_day(DAY)
    assert _book(family)
    await family.refresh()
    await family.close()


async def test_staff_home_lists_the_day_and_checks_in_with_one_tap(page, config, data_dir, server,
                                                                   monkeypatch) -> None:
    monkeypatch.setattr(bookings, "utcnow", lambda: CLOCK.astimezone(UTC))  # the server's day is the booking's
    await _book_for_valentina(config, data_dir, server)

    ui, session = await _app(page, config, data_dir, server, "banco.demo")
    assert page.views[0].route == "/staff"
    assert page.views[0].navigation_bar is None, "no family tabs in staff mode"
    shown = texts(page)
    assert "Pantalla del personal: funciona solo con internet y no guarda datos en este equipo." in shown
    assert "07:00 · Laura Hernández Ruiz" in shown and "Para: Valentina Hernández" in shown
    assert "Valentina Hernández: el día 0 · la semana 0 (de 1 cita)" in shown
    await click(button(page, "Registrar llegada de Laura Hernández Ruiz"))
    shown = texts(page)
    assert "Llegada registrada: Laura Hernández Ruiz." in shown
    assert "Valentina Hernández: el día 1 · la semana 1 (de 1 cita)" in shown
    assert not [b for b in find(page, ft.FilledButton) if isinstance(b.content, ft.Text)
                and b.content.value == "Registrar llegada"]
    assert [b.status for b in made(server)] == ["asistio"]
    await click(find(page, ft.IconButton, tooltip="Día siguiente")[0])
    assert "No hay citas este día en este banco." in texts(page)
    await session.close()


def reason_field(page):  # type: ignore[no-untyped-def]
    [field] = find(page, ft.TextField, label="Motivo")
    return field


def type_reason(page, text: str) -> None:  # type: ignore[no-untyped-def]
    field = reason_field(page)
    field.value = text
    field.on_change(type("E", (), {"control": field})())


def notes_shown(shown: list[str]) -> list[tuple[str, str]]:
    """The check-in notes on screen, each as (its start, its end from the staff member's name): the time between is
    the server's."""
    starts = ("Llegada registrada fuera de su día (", "Llegada deshecha (")
    return [(t[:t.index("(") + 1], t[t.index("Dr. "):]) for t in shown if t and t.startswith(starts)]


async def test_staff_check_in_on_another_day_asks_why_and_undo_asks_to_confirm(page, config, data_dir,
                                                                              server) -> None:
    """Issue #16 item 11: the day before the booking, a check-in asks for the reason first; a check-in can be
    undone, after a confirmation with the reason; the counts follow."""
    await _book_for_valentina(config, data_dir, server)
    _ui, session = await _app(page, config, data_dir, server, "banco.demo", clock=CLOCK - timedelta(days=1))
    await click(find(page, ft.IconButton, tooltip="Día siguiente")[0])
    assert "07:00 · Laura Hernández Ruiz" in texts(page)
    await click(button(page, "Registrar llegada de Laura Hernández Ruiz"))
    shown = texts(page)
    ask = (f"Esta cita es del {TR.long_date(DAY)}, no de hoy. Para registrar la llegada de Laura Hernández Ruiz "
           "de todos modos, escribe el motivo.")
    assert ask in shown and [b.status for b in made(server)] == ["confirmada"], "nothing sent before the reason"
    await click(button(page, "Registrar llegada con este motivo"))
    assert reason_field(page).error == "Escribe el motivo (al menos 5 caracteres)."
    assert [b.status for b in made(server)] == ["confirmada"]
    await click(button(page, "No, volver"))
    assert not find(page, ft.TextField, label="Motivo") and [b.status for b in made(server)] == ["confirmada"]
    await click(button(page, "Registrar llegada de Laura Hernández Ruiz"))
    type_reason(page, "Viene un día antes: su cirugía se adelantó.")
    await click(button(page, "Registrar llegada con este motivo"))
    shown = texts(page)
    assert "Llegada registrada: Laura Hernández Ruiz." in shown
    assert "Valentina Hernández: el día 1 · la semana 1 (de 1 cita)" in shown
    assert [b.status for b in made(server)] == ["asistio"]
    override = "Dr. Arturo Salinas): «Viene un día antes: su cirugía se adelantó.»"
    assert notes_shown(shown) == [("Llegada registrada fuera de su día (", override)], "why, by whom, on the list"
    # Undo: a confirmation with the reason first.
    await click(button(page, "Deshacer la llegada de Laura Hernández Ruiz"))
    assert ("¿Deshacer la llegada de Laura Hernández Ruiz? La cita vuelve a quedar confirmada y deja de contar como "
            "asistencia. Escribe el motivo.") in texts(page)
    assert reason_field(page).value == "", "the last reason is not offered again"
    assert [b.status for b in made(server)] == ["asistio"]
    type_reason(page, "Se registró a otra persona donante.")
    await click(button(page, "Sí, deshacer llegada"))
    shown = texts(page)
    assert "Llegada deshecha: Laura Hernández Ruiz. La cita vuelve a estar confirmada." in shown
    assert "Valentina Hernández: el día 0 · la semana 0 (de 1 cita)" in shown
    assert [b.status for b in made(server)] == ["confirmada"]
    assert notes_shown(shown) == [("Llegada registrada fuera de su día (", override),
                                  ("Llegada deshecha (", "Dr. Arturo Salinas): «Se registró a otra persona donante.»")]
    assert button(page, "Registrar llegada de Laura Hernández Ruiz")
    await session.close()


async def test_a_check_in_the_server_dates_otherwise_asks_why(page, config, data_dir, server) -> None:
    """The phone's clock says it is the booking's day, the server's does not: its refusal opens the reason box."""
    await _book_for_valentina(config, data_dir, server)
    _ui, session = await _app(page, config, data_dir, server, "banco.demo")  # the phone: the booking's day
    await click(button(page, "Registrar llegada de Laura Hernández Ruiz"))
    assert [b.status for b in made(server)] == ["confirmada"]
    assert session.state.staff.asking is not None and reason_field(page)
    assert any(t and t.startswith(f"Esta cita es del {DAY.isoformat()}, no de hoy") for t in texts(page))
    type_reason(page, "El reloj de este equipo está mal.")
    await click(button(page, "Registrar llegada con este motivo"))
    assert [b.status for b in made(server)] == ["asistio"]
    await session.close()
