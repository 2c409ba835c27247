"""The fever desk's "Registrar llegada sin aviso" (issue #19), built in-process against the real server and used by
click: staff find a child who came with fever without the family's alert (the oncology desk's search), confirm the
arrival (now by default) and the temperature, and the episode opens at "en urgencias" — it shows in the list with
its 60-minute clock and the week's figures count it as opened by the unit. A child with an open notice gets that
one shown first (409); with no network nothing changes and it says so; a future, too old or unreadable time, or a
bad temperature, is refused on the device and nothing is sent; the server's own refusal is shown in its words."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import flet as ft
import pytest

from carnet.core.clock import UNIT_ZONE, hhmm, unit_time
from carnet.core.config import AppConfig
from carnet.shell.app import CarnetUI
from carnet.shell.session import AppSession
from carnet_contract import enrolment as wire
from carnet_contract.models import FeverOrigin, FeverStatus
from tests.support.inprocess_server import InProcessServer
from tests.support.secret_stores import DictSecretStore

from . import test_ui_inprocess
from .test_account_ui import button
from .test_enrolment_ui import field, touch_targets_are_big
from .test_ui_inprocess import click, texts

pytestmark = pytest.mark.anyio
page = test_ui_inprocess.page  # the fixture: a real flet Page, in process

CHILD = "Mateo Hernández López"
#: The name the episodes carry (the child's display name).
NAME = "Mateo Hernández"
AT_UNIT = "/api/v1/patients/*/fever-episodes/at-unit"
SEARCH = "Buscar al niño (nombre, CURP o NSS)"
TIME = "Hora de llegada (HH:MM; vacío: ahora)"
TEMP = "Temperatura al llegar (°C)"


async def _desk(
    page: ft.Page,
    config: AppConfig,
    data_dir: Path,
    server: InProcessServer,
    who: str = "oncologia.demo",
    clock: Callable[[], datetime] | None = None,
) -> AppSession:
    extra: dict[str, Any] = {"clock": clock} if clock is not None else {}
    session = AppSession(config, DictSecretStore(), data_dir, transport=server.transport, **extra)
    session.api._backoff = lambda attempt: 0.0
    CarnetUI(page, session).render()
    await session.start()
    await session.login(who, "carnet-demo")
    await click(button(page, "Fiebre: Hora Dorada"))
    assert page.views[0].route == "/fever-desk"
    return session


async def _choose_child(page: ft.Page, query: str = "Mateo") -> None:
    """Open "Registrar llegada sin aviso", search and choose the child."""
    await click(button(page, "Registrar llegada sin aviso"))
    field(page, SEARCH).value = query
    await click(button(page, "Buscar niño"))
    [chosen] = test_ui_inprocess.find(page, ft.OutlinedButton, tooltip=f"Elegir a {CHILD}")
    await click(chosen)
    assert f"Niño: {CHILD} (" in " ".join(texts(page))


def _arrival_text(arrived: datetime, now: datetime) -> str:
    """``HH:MM`` of ``arrived`` on the unit's clock, ``ayer HH:MM`` when it was the day before ``now``."""
    yesterday = unit_time(arrived).date() < unit_time(now).date()
    return ("ayer " if yesterday else "") + hhmm(arrived)


def _episodes(server: InProcessServer, who: str = "oncologia.demo") -> list[dict[str, Any]]:
    return list(server.ok(who, "GET", "/api/v1/fever-episodes"))


@pytest.mark.parametrize("who", ["oncologia.demo", "casos.demo"])
async def test_an_arrival_without_a_notice_opens_the_episode_with_its_clock(  # type: ignore[no-untyped-def]
    page, config, data_dir, server, who: str
) -> None:
    session = await _desk(page, config, data_dir, server, who)
    ui = session.state.fever_desk
    assert not ui.episodes
    await click(button(page, "Registrar llegada sin aviso"))
    touch_targets_are_big(page)
    assert any(
        t.startswith("Para un niño que llegó a urgencias con fiebre sin que la familia avisara") for t in texts(page)
    )

    # The oncology desk's search: too short is said beside the field and asks nothing.
    field(page, SEARCH).value = "Ma"
    await click(button(page, "Buscar niño"))
    assert field(page, SEARCH).error == "Escriba al menos 3 letras del nombre, o la CURP o el NSS."
    assert server.transport.count("/api/v1/patients", "GET") == 0
    field(page, SEARCH).value = "Mateo"
    await click(button(page, "Buscar niño"))
    assert server.transport.count("/api/v1/patients", "GET") == 1
    [chosen] = test_ui_inprocess.find(page, ft.OutlinedButton, tooltip=f"Elegir a {CHILD}")
    await click(chosen)
    now = datetime.now(UTC)
    assert field(page, TIME).value in (hhmm(now - timedelta(minutes=1)), hhmm(now))  # now, on the unit's clock
    touch_targets_are_big(page)

    arrived = now - timedelta(minutes=10)
    field(page, TIME).value = _arrival_text(arrived, now)
    field(page, TEMP).value = "38,6"
    await click(button(page, "Registrar llegada"))
    assert server.transport.count(AT_UNIT, "POST") == 1
    [episode] = ui.episodes
    assert episode.origin is FeverOrigin.UNIDAD and episode.status is FeverStatus.EN_URGENCIAS
    assert episode.temperature_c == 38.6 and episode.patient_name == NAME
    assert episode.arrived_at is not None and hhmm(episode.arrived_at) == hhmm(arrived)
    shown = texts(page)
    assert f"Llegada de {NAME} registrada a las {hhmm(arrived)}: el reloj de 60 minutos ya corre." in shown
    assert any(re.fullmatch(r"1[01] min desde la llegada \(meta: 60\)", t) for t in shown), shown
    assert any(t.startswith("Llegó sin aviso; abierto por la unidad:") for t in shown)
    assert button(page, f"Registrar triage de {NAME} (ahora)").height >= 48  # its next step
    assert button(page, "Registrar llegada sin aviso")  # the form closed
    assert not test_ui_inprocess.find(page, ft.TextField, label=TIME)
    assert ui.open_count == 1
    [kept] = _episodes(server, who)
    assert kept["id"] == episode.id and kept["origin"] == "unidad"

    # The week's figures count it, as opened by the unit.
    await click(button(page, "Cifras de fiebre de la semana"))
    shown = texts(page)
    assert "Episodios de fiebre: 1" in shown
    assert "Abiertos por la unidad (llegaron sin aviso): 1" in shown
    await session.close()


async def test_a_child_with_an_open_notice_gets_that_one_shown_first(page, config, data_dir, server) -> None:  # type: ignore[no-untyped-def]
    pid = server.patient_id(NAME)
    session = await _desk(page, config, data_dir, server)
    ui = session.state.fever_desk
    # The family's notice arrives after the desk's list was fetched.
    notice = server.ok(
        "madre.demo",
        "POST",
        f"/api/v1/patients/{pid}/fever-episodes",
        json={"temperature_c": 38.9, "measured_at": datetime.now(UTC).replace(microsecond=0).isoformat()},
    )
    assert not ui.episodes
    await _choose_child(page)
    field(page, TEMP).value = "39"
    await click(button(page, "Registrar llegada"))
    assert server.transport.count(AT_UNIT, "POST") == 1
    shown = texts(page)
    assert (
        "Ya hay un aviso abierto para este niño: se muestra primero. Registre ahí su llegada; no se abrió otro."
        in shown
    )
    assert ui.focus == notice["id"] and [e.id for e in ui.episodes] == [notice["id"]]
    assert shown.index("Aviso abierto de este niño") < shown.index(NAME)
    assert "Aún no llega a urgencias." in shown
    # Its arrival is recorded there, one tap.
    await click(button(page, f"Registrar llegada de {NAME} (ahora)"))
    [kept] = _episodes(server)
    assert kept["id"] == notice["id"] and kept["origin"] == "familia" and kept["status"] == "en_urgencias"
    await session.close()


async def test_offline_nothing_changes_and_it_says_so(page, config, data_dir, server) -> None:  # type: ignore[no-untyped-def]
    session = await _desk(page, config, data_dir, server)
    ui = session.state.fever_desk
    await _choose_child(page)
    field(page, TEMP).value = "38.4"
    server.transport.offline = True
    await click(button(page, "Registrar llegada"))
    offline = "Sin conexión: no se registró nada. Registrar una llegada necesita internet."
    assert offline in texts(page)
    assert not ui.episodes and ui.arrival_open  # the form stays, filled in, to send again
    assert field(page, TEMP).value == "38.4"
    server.transport.offline = False
    assert _episodes(server) == []

    # The answer lost on the way back: sent again, the same request opens one episode only.
    server.transport.lose_answer("POST", AT_UNIT)
    await click(button(page, "Registrar llegada"))
    if not ui.episodes:  # the client said the network failed: the second tap gets the server's kept answer
        assert offline in texts(page)
        await click(button(page, "Registrar llegada"))
    assert len(ui.episodes) == 1 and len(_episodes(server)) == 1
    assert offline not in texts(page)

    # Searching offline says so too.
    server.transport.offline = True
    await click(button(page, "Registrar llegada sin aviso"))
    field(page, SEARCH).value = "Valentina"
    await click(button(page, "Buscar niño"))
    assert offline in texts(page)
    assert ui.arrival_results is None
    server.transport.offline = False
    await session.close()


async def test_bad_input_is_refused_on_the_device_and_nothing_is_sent(page, config, data_dir, server) -> None:  # type: ignore[no-untyped-def]
    today = unit_time(datetime.now(UTC)).date()
    noon = datetime(today.year, today.month, today.day, 12, 0, tzinfo=UNIT_ZONE)
    session = await _desk(page, config, data_dir, server, clock=lambda: noon)
    ui = session.state.fever_desk
    await _choose_child(page)
    assert field(page, TIME).value == "12:00"
    cases = [
        ("13:00", "38,5", "time", "La hora de llegada no puede ser futura: ahora son las 12:00."),
        ("ayer 11:00", "38,5", "time", "La llegada no puede ser de hace más de 24 horas."),
        ("mañana", "38,5", "time", "Escriba la hora de llegada como 12:00 (o «ayer 23:50» si llegó ayer)."),
        ("25:99", "38,5", "time", "Escriba la hora de llegada como 12:00 (o «ayer 23:50» si llegó ayer)."),
        ("11:30", "", "temperature", "Escriba la temperatura, por ejemplo 38,5."),
        ("11:30", "cuarenta", "temperature", "Escriba la temperatura con números, por ejemplo 38,5."),
        ("11:30", "45", "temperature", "La temperatura debe estar entre 35 y 43 °C."),
    ]
    for time_text, temperature, name, message in cases:
        field(page, TIME).value, field(page, TEMP).value = time_text, temperature
        await click(button(page, "Registrar llegada"))
        label = TIME if name == "time" else TEMP
        assert field(page, label).error == message, (time_text, temperature)
        assert ui.arrival_errors.get(name) == message
    assert server.transport.count(AT_UNIT) == 0
    assert not ui.episodes and _episodes(server) == []
    # "Cancelar" closes the form, nothing sent.
    await click(button(page, "Cancelar"))
    assert not ui.arrival_open and server.transport.count(AT_UNIT) == 0
    await session.close()


async def test_the_servers_refusal_is_shown_in_its_words(page, config, data_dir, server) -> None:  # type: ignore[no-untyped-def]
    # The desk's clock three hours ahead: its "now" is in the server's future.
    session = await _desk(page, config, data_dir, server, clock=lambda: datetime.now(UTC) + timedelta(hours=3))
    ui = session.state.fever_desk
    await _choose_child(page)
    field(page, TIME).value = ""  # now, on the desk's clock
    field(page, TEMP).value = "38,5"
    await click(button(page, "Registrar llegada"))
    assert server.transport.count(AT_UNIT, "POST") == 1
    # The reading is taken at the arrival: the server refuses its time first, in its own words.
    refusal = "La hora de la toma no puede ser futura ni de hace más de 24 horas. Vuelve a tomar la temperatura."
    assert ui.error == refusal and refusal in texts(page)
    assert not ui.episodes and ui.arrival_open and _episodes(server) == []
    await session.close()


async def test_another_units_child_is_refused_in_the_servers_words(page, config, data_dir, server) -> None:  # type: ignore[no-untyped-def]
    # Valentina is at La Raza, not the oncology desk's unit: its search never finds her; were she chosen (a
    # stale result), the server answers 404 and the desk says it in the server's words, opening nothing.
    other = server.ok("casos.demo", "GET", f"/api/v1/patients/{server.patient_id('Valentina Hernández')}")
    session = await _desk(page, config, data_dir, server)
    ui = session.state.fever_desk
    await click(button(page, "Registrar llegada sin aviso"))
    ui.arrival_found([wire.PatientRecord.model_validate(other)])
    ui.choose_child(ui.arrival_results[0] if ui.arrival_results else None)
    field(page, TEMP).value = "38,5"
    await click(button(page, "Registrar llegada"))
    assert server.transport.count(AT_UNIT, "POST") == 1
    assert ui.error == "No se encontró el paciente." and "No se encontró el paciente." in texts(page)
    assert not ui.episodes and ui.arrival_open
    assert _episodes(server, "casos.demo") == []
    await session.close()


async def test_an_empty_time_sent_again_after_a_lost_answer_is_the_first_tries_arrival(  # type: ignore[no-untyped-def]
    page, config, data_dir, server
) -> None:
    """An empty time means "now" — the first try's now: the retry, minutes later, is the same request with the same
    key, so the server answers the first try's 201 again (not 409 "already open") and one episode exists."""
    # the desk's clock from the real one (the server checks the arrival against its own), then moved on
    start = unit_time(datetime.now(UTC)).replace(second=0, microsecond=0)
    now = [start]
    session = await _desk(page, config, data_dir, server, clock=lambda: now[0])
    ui = session.state.fever_desk
    await _choose_child(page)
    field(page, TIME).value = ""
    field(page, TEMP).value = "38.4"
    server.transport.lose_answer("POST", AT_UNIT)
    await click(button(page, "Registrar llegada"))
    assert not ui.episodes and _episodes(server) != []  # opened, but the answer was lost
    now[0] += timedelta(minutes=3)
    await click(button(page, "Registrar llegada"))
    assert len(ui.episodes) == 1 and len(_episodes(server)) == 1
    assert "Ya hay un aviso abierto" not in " ".join(texts(page))
    assert hhmm(ui.episodes[0].arrived_at) == hhmm(start)
    await session.close()
