"""Fever during chemotherapy, "Hora Dorada" (issue #19), built in-process against the real server and used by click:
madre.demo presses "Tiene fiebre" with no network, reads where to go (the unit's data, cached with the carnet),
gets clear messages for a bad reading, queues the episode (the outbox, offline), sees "Te esperan en urgencias";
back online the episode reaches the unit once; oncologia.demo records arrival, triage and antibiotic; the family
sees each step; the emergency card opens offline with its QR; the counter verifies the card's QR offline and
refuses it tampered, expired or as a carnet code; the week's figures count the episode."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import flet as ft
import pytest

from carnet.core.i18n import Translator
from carnet.core.navigation import Screen
from carnet.pharmacy.checks import CheckKind, check_offline, describe
from carnet.shell.app import CarnetUI
from carnet.shell.session import AppSession
from carnet_contract import models as contract
from carnet_server.fever.tables import FeverEpisode as EpisodeRow
from tests.support.inprocess_server import InProcessServer
from tests.support.qr_variants import server_key, sign_raw
from tests.support.secret_stores import DictSecretStore

from . import test_ui_inprocess
from .test_ui_inprocess import click, find, texts

pytestmark = pytest.mark.anyio
page = test_ui_inprocess.page  # the fixture: a real flet Page, in process
BUTTON = "Tiene fiebre (38 °C o más)"


def _button(page: ft.Page, kind: type, words: str) -> ft.Control:
    found = [
        c
        for c in test_ui_inprocess.walk(page.views[0])
        if isinstance(c, kind)
        and (
            getattr(c, "tooltip", None) == words
            or getattr(c, "content", None) == words
            or (isinstance(getattr(c, "content", None), ft.Text) and c.content.value == words)
        )
    ]
    assert len(found) == 1, (words, texts(page))
    return found[0]


async def _family(page, config, data_dir, server: InProcessServer) -> tuple[CarnetUI, AppSession]:  # type: ignore[no-untyped-def]
    session = AppSession(config, DictSecretStore(), data_dir, transport=server.transport)
    session.api._backoff = lambda attempt: 0.0
    ui = CarnetUI(page, session)
    ui.render()
    await session.start()
    await session.login("madre.demo", "carnet-demo")
    mateo = [b for b in find(page, ft.FilledTonalButton) if b.tooltip == "Ver carnet de Mateo Hernández"]
    await click(mateo[0])
    assert page.views[0].route == "/carnet"
    return ui, session


async def test_fever_offline_then_the_unit_records_each_step(page, config, data_dir, server) -> None:  # type: ignore[no-untyped-def]
    _ui, session = await _family(page, config, data_dir, server)
    fever = _button(page, ft.FilledButton, BUTTON)
    assert fever.height >= 56  # big, worded, labelled (its tooltip is its words)

    server.transport.offline = True  # no signal from here on
    await click(fever)
    assert page.views[0].route == "/fever"
    shown = texts(page)
    assert "Lleva ya a Mateo Hernández a urgencias" in shown
    assert any(t.startswith("Av. Cuauhtémoc 330") for t in shown)  # the unit's own words, from the phone
    assert any("No le des medicina para bajar la fiebre" in t for t in shown)
    call = _button(page, ft.FilledButton, "Llamar a urgencias (24 horas): 55 5555 0101")
    assert call.url == "tel:5555550101" and call.height >= 48
    assert _button(page, ft.OutlinedButton, "Ver en el mapa").url.startswith("https://")

    [temperature] = find(page, ft.TextField, label="Temperatura (°C)")
    [when] = find(page, ft.TextField, label="Hora en que la tomaste (HH:MM)")
    assert when.value  # now, by default
    send = _button(page, ft.FilledButton, "Avisar al hospital")
    temperature.value = "44"
    await click(send)
    [temperature] = find(page, ft.TextField, label="Temperatura (°C)")
    assert temperature.error == "La temperatura debe estar entre 35 y 43 °C. Revisa el termómetro."
    temperature.value = "treinta y ocho"
    await click(send)
    assert find(page, ft.TextField, label="Temperatura (°C)")[0].error.startswith("Escribe la temperatura con números")
    when.value = "25:61"
    temperature.value = "38,6"  # a decimal comma, as written in Mexico
    await click(send)
    assert find(page, ft.TextField, label="Hora en que la tomaste (HH:MM)")[0].error.startswith("Escribe la hora así")
    assert session.scope.outbox.items() == []  # nothing queued while something is wrong

    when.value = ""  # now
    await click(send)
    shown = texts(page)
    assert "Te esperan en urgencias" in shown
    assert any(t.startswith("Pendiente de enviar") for t in shown)
    [item] = session.scope.outbox.items()
    assert item.body is not None and item.body["temperature_c"] == 38.6
    assert server.count(EpisodeRow) == 0

    # The emergency card opens offline, with its QR.
    await click(_button(page, ft.OutlinedButton, "Tarjeta de urgencias"))
    assert page.views[0].route == "/emergency-card"
    shown = texts(page)
    assert "Mateo Hernández López" in shown and "Grupo sanguíneo" in shown and "Catéter venoso central" in shown
    [qr] = [
        c
        for c in find(page, ft.Image)
        if c.semantics_label == "Código QR de la tarjeta de urgencias de Mateo Hernández López"
    ]
    assert qr.src
    session.back()
    assert page.views[0].route == "/fever"

    # Signal again: the episode reaches the unit, once.
    server.transport.offline = False
    await session.refresh()
    await session.refresh()
    assert server.count(EpisodeRow) == 1
    assert session.scope.outbox.items() == []
    assert any(t.startswith("El hospital recibió el aviso") for t in texts(page))

    # The unit (oncologia.demo, Siglo XXI) records the three times.
    staff = AppSession(config, DictSecretStore(), data_dir.parent / "desk", transport=server.transport)
    await staff.start()
    await staff.login("oncologia.demo", "carnet-demo")
    await staff.fever_desk.open()
    assert staff.state.screen is Screen.FEVER_DESK
    [episode] = staff.state.fever_desk.episodes
    assert episode.patient_name and episode.status is contract.FeverStatus.AVISADA
    for step in (contract.FeverStepKind.ARRIVAL, contract.FeverStepKind.TRIAGE, contract.FeverStepKind.ANTIBIOTIC):
        assert await staff.fever_desk.record(episode.id, step), staff.state.fever_desk.error
    assert staff.state.fever_desk.episodes == []  # over: it leaves the open list
    await staff.fever_desk.show_figures()
    figures = staff.state.fever_desk.figures
    assert figures is not None and figures.episodes == 1 and figures.within_60 == 1 and figures.without_antibiotic == 0

    await session.refresh()
    shown = texts(page)
    assert any(t.startswith("Llegada a urgencias:") for t in shown)
    assert any(t.startswith("Primer antibiótico:") for t in shown)
    await staff.close()
    await session.close()


async def test_staff_desk_by_click_with_a_corrected_time(page, config, data_dir, server) -> None:  # type: ignore[no-untyped-def]
    pid = server.patient_id("Mateo Hernández")
    measured = datetime.now(UTC).replace(microsecond=0)
    server.ok(
        "madre.demo",
        "POST",
        f"/api/v1/patients/{pid}/fever-episodes",
        json={"temperature_c": 38.4, "measured_at": measured.isoformat()},
    )
    session = AppSession(config, DictSecretStore(), data_dir, transport=server.transport)
    ui = CarnetUI(page, session)
    ui.render()
    await session.start()
    await session.login("oncologia.demo", "carnet-demo")
    await click(_button(page, ft.FilledButton, "Fiebre: Hora Dorada"))
    assert page.views[0].route == "/fever-desk"
    assert "Aún no llega a urgencias." in texts(page)
    arrival = _button(page, ft.FilledButton, "Registrar llegada de Mateo Hernández (ahora)")
    assert arrival.height >= 48
    await click(_button(page, ft.TextButton, "Llegada de Mateo Hernández a otra hora…"))
    [at] = find(page, ft.TextField, label="Hora (HH:MM)")
    at.value = "no"
    await click(_button(page, ft.FilledButton, "Guardar con esa hora"))
    assert find(page, ft.TextField, label="Hora (HH:MM)")[0].error.startswith("Escriba la hora")
    await click(_button(page, ft.FilledButton, "Registrar llegada de Mateo Hernández (ahora)"))
    assert any(t.startswith("0 min desde la llegada") for t in texts(page))
    # No antibiotic after all (another diagnosis): closed, with a confirm step.
    await click(_button(page, ft.TextButton, "Cerrar el episodio de Mateo Hernández sin antibiótico"))
    [closing] = find(page, ft.TextField, label="Hora del cierre (HH:MM; vacío: ahora)")
    closing.value = ""
    await click(_button(page, ft.FilledButton, "Cerrar sin antibiótico"))
    assert "Episodio de Mateo Hernández cerrado." in texts(page)
    assert "No hay episodios de fiebre abiertos en sus unidades." in texts(page)
    await click(_button(page, ft.OutlinedButton, "Cifras de fiebre de la semana"))
    assert page.views[0].route == "/fever-desk/figures"
    assert "Episodios de fiebre: 1" in texts(page) and "Sin antibiótico registrado: 1" in texts(page)
    await session.close()


def test_the_counter_verifies_an_emergency_card_offline(server) -> None:  # type: ignore[no-untyped-def]
    tr = Translator()
    pid = server.patient_id("Mateo Hernández")
    card = contract.EmergencyCard.model_validate(
        server.ok("madre.demo", "GET", f"/api/v1/patients/{pid}/emergency-card")
    )
    bundle = contract.TrustBundle.model_validate(server.ok("farmacia.demo", "GET", "/api/v1/pharmacy/trust"))
    now = datetime.now(UTC)
    check = check_offline(card.qr.url, bundle, now=now)
    assert check.kind is CheckKind.EMERGENCY and check.emergency and check.subject == pid
    assert check.expires_at is not None and describe(check, tr) == "Tarjeta de urgencias auténtica"
    assert not check.valid  # nothing to dispense against it
    # Tampered: one character of the signature changed.
    head, payload, signature = card.qr.token.split(".")
    tampered = ".".join([head, payload, ("A" if signature[0] != "A" else "B") + signature[1:]])
    assert check_offline(tampered, bundle, now=now).kind is CheckKind.TAMPERED
    # Expired: genuinely signed, out of date.
    key, kid = server_key(server.ctx.keys)
    issued = int(time.time()) - 5 * 86400
    old = sign_raw(
        key,
        {"alg": "EdDSA", "kid": kid},
        {"iss": bundle.issuer, "sub": pid, "typ": "em", "iat": issued, "exp": issued + 72 * 3600, "jti": "x"},
    )
    expired = check_offline(old, bundle, now=now)
    assert expired.kind is CheckKind.EXPIRED and expired.emergency
    assert describe(expired, tr).startswith("Tarjeta de urgencias vencida el")
    # A carnet's code is still a carnet's.
    assert check_offline(server.qr_token(pid), bundle, now=now).kind is CheckKind.GENUINE


async def test_case_desk_sees_the_units_episodes_and_the_family_saves_the_ips(page, config, data_dir, server) -> None:  # type: ignore[no-untyped-def]
    pid = server.patient_id("Mateo Hernández")
    server.ok(
        "madre.demo",
        "POST",
        f"/api/v1/patients/{pid}/fever-episodes",
        json={"temperature_c": 39.1, "measured_at": datetime.now(UTC).replace(microsecond=0).isoformat()},
    )
    # The case desk (casos.demo: Siglo XXI and La Raza) reaches the same list from its queue.
    desk = AppSession(config, DictSecretStore(), data_dir.parent / "cases", transport=server.transport)
    ui = CarnetUI(page, desk)
    ui.render()
    await desk.start()
    await desk.login("casos.demo", "carnet-demo")
    await click(_button(page, ft.FilledButton, "Fiebre: Hora Dorada"))
    assert page.views[0].route == "/fever-desk"
    assert "Aún no llega a urgencias." in texts(page)
    desk.back()
    assert desk.state.screen is Screen.DESK
    # Beside the case desk's weekly figures: the fever figures, and back to the weekly figures.
    await desk.desk.show_weekly(0)
    await click(_button(page, ft.OutlinedButton, "Cifras de fiebre de la semana"))
    assert page.views[0].route == "/fever-desk/figures"
    assert "Episodios de fiebre: 1" in texts(page)
    desk.back()
    assert desk.state.screen is Screen.DESK_WEEKLY
    await desk.close()

    # The family: the IPS document (online), a FHIR Bundle of type document; offline it says so.
    family = AppSession(config, DictSecretStore(), data_dir, transport=server.transport)
    await family.start()
    await family.login("madre.demo", "carnet-demo")
    family.select_child(pid)
    family.fever.open_card()
    made = await family.fever.ips_file()
    assert made is not None
    name, data = made
    bundle = json.loads(data)
    assert name.endswith(".json") and bundle["resourceType"] == "Bundle" and bundle["type"] == "document"
    server.transport.offline = True
    assert await family.fever.ips_file() is None
    assert family.state.fever.error == "Sin conexión: el resumen médico se puede guardar cuando tengas internet."
    await family.set_locale("en")
    family.fever.open()
    shown_es = family.state.fever.episodes
    assert [round(e.temperature_c, 1) for e in shown_es] == [39.1]  # synced at login, readable offline
    await family.close()


async def test_the_counter_screen_says_genuine_emergency_card_offline(page, config, data_dir, server) -> None:  # type: ignore[no-untyped-def]
    pid = server.patient_id("Mateo Hernández")
    card = server.ok("madre.demo", "GET", f"/api/v1/patients/{pid}/emergency-card")
    session = AppSession(config, DictSecretStore(), data_dir, transport=server.transport)
    ui = CarnetUI(page, session)
    ui.render()
    await session.start()
    await session.login("farmacia.demo", "carnet-demo")
    assert page.views[0].route == "/pharmacy"
    server.transport.offline = True  # the trust bundle is on the device: the check needs no network
    await session.pharmacy.scan(card["qr"]["url"])
    shown = texts(page)
    assert "Tarjeta de urgencias auténtica" in shown
    assert f"Paciente (identificador): {pid}" in shown
    assert "Es la tarjeta de urgencias, no el carnet: no hay nada que surtir con ella." in shown
    head, payload, signature = card["qr"]["token"].split(".")
    await session.pharmacy.scan(".".join([head, payload, ("A" if signature[0] != "A" else "B") + signature[1:]]))
    assert "Tarjeta de urgencias auténtica" not in texts(page)
    assert session.state.pharmacy.check is not None and session.state.pharmacy.check.kind is CheckKind.TAMPERED
    await session.close()
