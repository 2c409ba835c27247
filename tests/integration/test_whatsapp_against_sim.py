"""Mi Chat ONCOIMSS end to end: the real server and the WhatsApp Cloud API simulator as two processes.

A guardian links her number with the app's code; from that number she reports a missing medicine, the
description's webhook delivered twice (as Meta retries), and sends a photo; the folio comes back at once. The
case desk answers in the app (its real services), and the answer arrives in the chat. A forged signature
changes nothing (no answer, no stored message, no report, the chat where it was), and an unknown number
learns nothing about any child: no name, no folio.
"""

from __future__ import annotations

import asyncio
import base64
import io
import re
import secrets
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from PIL import Image

from carnet.core.config import AppConfig
from carnet.shell.session import AppSession
from tests.support.processes import free_port, running_server
from tests.support.secret_stores import DictSecretStore
from tests.support.whatsapp_sim import WhatsAppSim, running_whatsapp_simulator

PASSWORD = "carnet-demo"
MOTHER = "5215511112222"
STRANGER = "5215599998888"
DEADLINE = 30.0


def poll(what: str, check: Callable[[], Any], seconds: float = DEADLINE) -> Any:
    deadline = time.monotonic() + seconds
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.1)  # poll interval, not a wait for state
    raise AssertionError(f"{what}: not within {seconds:.0f} s (last: {last!r})")


class Phone:
    """A WhatsApp number writing to the bot through the simulator, reading the bot's replies."""

    def __init__(self, sim: WhatsAppSim, number: str) -> None:
        self.sim, self.number, self.after = sim, number, 0

    def replies(self) -> list[str]:
        return [m["text"] for m in self.sim.messages(to=self.number, after=self.after)]

    def send(self, expect: str, **message: Any) -> str:
        """Send, then wait for a reply containing ``expect``; returns every reply since the last send."""
        answer = self.sim.inbound(from_=self.number, **message)
        assert set(answer["statuses"]) == {200}, answer
        text = poll(f"a reply with {expect!r}", lambda: "\n".join(r for r in [self._joined()] if expect in r))
        self.after = self.sim.messages(to=self.number)[-1]["seq"]
        return str(text)

    def _joined(self) -> str:
        return "\n---\n".join(self.replies())


def api_login(url: str, username: str) -> dict[str, str]:
    answer = httpx.post(f"{url}/api/v1/auth/login", json={"username": username, "password": PASSWORD}, timeout=30)
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def whatsapp_incidents(url: str) -> list[dict[str, Any]]:
    answer = httpx.get(f"{url}/api/v1/incidents", headers=api_login(url, "madre.demo"), timeout=15)
    assert answer.status_code == 200, answer.text
    return [i for i in answer.json() if i["channel"] == "whatsapp"]


def server_rows(data_dir: Path, query: str, *args: Any) -> list[tuple[Any, ...]]:
    """Read the server's SQLite database (read-only) while it runs."""
    connection = sqlite3.connect(f"file:{data_dir / 'carnet.db'}?mode=ro", uri=True, timeout=10)
    try:
        return list(connection.execute(query, args))
    finally:
        connection.close()


async def desk_answers(url: str, incident_id: str, reply: str, home: Path) -> None:
    """The case desk answers in the app (its real services): resolved."""
    desk = AppSession(AppConfig(api_base_url=url, api_timeout_seconds=5.0), DictSecretStore(), home)
    try:
        await desk.start()
        await desk.login("casos.demo", PASSWORD)
        await desk.desk.load()
        await desk.desk.open(incident_id)
        selected = desk.state.desk.selected
        assert selected is not None and selected.channel == "whatsapp"
        assert await desk.desk.answer(reply, resolves=True)
    finally:
        await desk.close()


def photo_b64() -> str:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (20, 120, 200)).save(out, format="JPEG")
    return base64.b64encode(out.getvalue()).decode()


def test_a_linked_number_reports_and_gets_the_desks_answer(tmp_path: Path) -> None:
    app_secret, token = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
    server_port, sim_port = free_port(), free_port()
    webhook = f"http://127.0.0.1:{server_port}/api/v1/whatsapp/webhook"
    with running_whatsapp_simulator(
        tmp_path / "sim", webhook_url=webhook, app_secret=app_secret, access_token=token, port=sim_port
    ) as simulator:
        env = {
            "CARNET_WHATSAPP_APP_SECRET": app_secret,
            "CARNET_WHATSAPP_VERIFY_TOKEN": "verify-me",
            "CARNET_WHATSAPP_API_URL": simulator.sim.url,
            "CARNET_WHATSAPP_PHONE_NUMBER_ID": simulator.sim.phone_number_id,
            "CARNET_WHATSAPP_ACCESS_TOKEN": token,
            "CARNET_WHATSAPP_POLL_SECONDS": "0.2",
            # SQLite in the server's data dir, whatever the environment says: the test reads it (read-only).
            "CARNET_DATABASE_URL": f"sqlite:///{(tmp_path / 'server' / 'carnet.db').resolve()}",
        }
        with running_server(tmp_path / "server", port=server_port, env=env) as server:
            sim = simulator.sim
            # An unknown number learns how to link, and nothing about any child.
            stranger = Phone(sim, STRANGER)
            help_text = stranger.send("vincula este número", text="Hola, ¿cómo va el reporte de mi hijo Mateo?")
            for word in ("Mateo", "Valentina", "Santiago", "CE-", "Hernández"):
                assert word not in help_text  # not even the name the stranger wrote

            # The guardian links her number with the app's code.
            mother = Phone(sim, MOTHER)
            code = httpx.post(
                f"{server.url}/api/v1/me/whatsapp/link-code", headers=api_login(server.url, "madre.demo"), timeout=15
            ).json()["code"]
            assert "Mateo" in mother.send("quedó vinculado", text=f"Mi código: {code}")

            # A forged signature changes nothing: refused, nothing stored, no answer, still at the menu.
            inbound_before = server_rows(server.data_dir, "SELECT count(*) FROM whatsapp_inbound")[0][0]
            forged = sim.inbound(
                from_=MOTHER, list={"id": "menu:report", "title": "Reportar un problema"}, signature="forged"
            )
            assert forged["statuses"] == [401]
            stored = "SELECT count(*) FROM whatsapp_inbound WHERE message_id = ?"
            assert server_rows(server.data_dir, stored, forged["message_id"]) == [(0,)]
            assert server_rows(server.data_dir, "SELECT count(*) FROM whatsapp_inbound")[0][0] == inbound_before
            assert whatsapp_incidents(server.url) == []

            # A missing medicine, with a photo. Had the forged message been read, it would have opened the report
            # first: this one would then be a wrong answer to "¿De quién…?", and there would be two replies.
            children = mother.send("¿De quién", list={"id": "menu:report", "title": "Reportar un problema"})
            since_forged = sim.messages(to=MOTHER, after=forged["seq"])
            assert len(since_forged) == 1 and "¿De quién" in since_forged[0]["text"], since_forged
            assert "No encontré" not in children
            assert server_rows(server.data_dir, "SELECT count(*) FROM whatsapp_inbound")[0][0] == inbound_before + 1
            mateo = re.search(r"child:([A-Za-z0-9_-]+)", str(sim.messages(to=MOTHER)[-1]["body"]))
            assert mateo is not None and "Mateo" in children
            mother.send("¿Qué problema", list={"id": f"child:{mateo.group(1)}", "title": "Mateo"})
            mother.send("¿Qué medicamento", list={"id": "cat:medicamento", "title": "Falta un medicamento"})
            mother.send("cuéntanos qué pasó", text="Ondansetrón 8 mg")
            answer = sim.inbound(from_=MOTHER, text="No hay ondansetrón en la farmacia desde el lunes.", deliveries=2)
            assert answer["statuses"] == [200, 200]  # the same webhook twice, as Meta retries
            folio_text = poll("the folio", lambda: next((r for r in Phone(sim, MOTHER).replies() if "folio" in r), ""))
            folio = re.search(r"CE-\d{4}-\d{6}", folio_text)
            assert folio is not None
            mother.after = sim.messages(to=MOTHER)[-1]["seq"]
            assert "Foto 1 recibida" in mother.send("Foto 1", image_b64=photo_b64(), mime_type="image/jpeg")
            reports = poll(
                "one WhatsApp report with its photo", lambda: [i for i in whatsapp_incidents(server.url) if i["photos"]]
            )
            assert len(whatsapp_incidents(server.url)) == 1
            assert reports[0]["folio"] == folio.group(0) and reports[0]["item_name"] == "Ondansetrón 8 mg"

            # The case desk answers in the app; the answer arrives in the chat.
            reply = "Ya llegó el ondansetrón: pasa hoy a la farmacia de la UMAE con tu receta."
            asyncio.run(desk_answers(server.url, reports[0]["id"], reply, tmp_path / "desk"))
            arrived = poll("the answer in the chat", lambda: next((r for r in mother.replies() if reply in r), ""))
            assert folio.group(0) in arrived

            # The stranger asks about that folio: still only how to link. Nothing the bot ever sent to that number
            # names the child or any folio.
            stranger.send("vincula este número", text=f"Soy la tía de Mateo, ¿qué pasó con el folio {folio.group(0)}?")
            to_stranger = "\n".join(m["text"] for m in sim.messages(to=STRANGER))
            assert to_stranger.count("vincula este número") == 2
            for word in ("Mateo", "Hernández", "Valentina", folio.group(0), "CE-", "Ondansetrón", "ondansetrón"):
                assert word not in to_stranger
