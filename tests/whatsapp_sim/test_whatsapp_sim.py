"""The WhatsApp Cloud API simulator against a stand-in for our webhook (a stdlib HTTP server in a thread).

The stand-in records each delivery's headers and raw body; with ``reply_menu`` it answers a text message
the way the bot would, by POSTing a button menu to the simulator's ``/{phone_number_id}/messages`` before
it answers the webhook. Signatures are checked here with ``hmac`` directly, not with the simulator's code.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.support.processes import free_port
from tests.support.whatsapp_sim import WhatsAppSim, running_whatsapp_sim_thread, running_whatsapp_simulator

ROOT = Path(__file__).resolve().parents[2]
APP_SECRET = b"app-secret-for-tests"
TOKEN = "access-token-for-tests"
PHONE = "5215512345678"
OTHER = "5215587654321"
PNG = bytes.fromhex("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d4944415478da63f8cf"
                    "c0f01f0005000201a5f2d8e10000000049454e44ae426082")  # fmt: skip
MENU = {
    "messaging_product": "whatsapp",
    "to": PHONE,
    "type": "interactive",
    "interactive": {
        "type": "button",
        "body": {"text": "¿Qué quieres hacer?"},
        "action": {
            "buttons": [
                {"type": "reply", "reply": {"id": "menu:report", "title": "Reportar un problema"}},
                {"type": "reply", "reply": {"id": "menu:mine", "title": "Mis reportes"}},
            ]
        },
    },
}
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def text(body: str, to: str = PHONE) -> dict[str, Any]:
    return {"messaging_product": "whatsapp", "recipient_type": "individual", "to": to, "type": "text",
            "text": {"body": body, "preview_url": False}}  # fmt: skip


def template(name: str = "carnet_reporte_respondido", params: tuple[str, ...] = ("R-000123",), to: str = PHONE) -> dict:
    parameters = [{"type": "text", "text": p} for p in params]
    return {"messaging_product": "whatsapp", "to": to, "type": "template",
            "template": {"name": name, "language": {"code": "es_MX"},
                         "components": [{"type": "body", "parameters": parameters}]}}  # fmt: skip


class Webhook:
    """Our server's webhook, stood in for: records (headers, raw body) of each POST; answers ``status``."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.status = 200
        self.reply_menu_to: WhatsAppSim | None = None
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                hook.received.append((dict(self.headers.items()), body))
                value = json.loads(body)["entry"][0]["changes"][0]["value"]
                if hook.reply_menu_to is not None and value.get("messages", [{}])[0].get("type") == "text":
                    sim = hook.reply_menu_to
                    request = urllib.request.Request(  # noqa: S310 — the loopback simulator
                        f"{sim.url}/{sim.phone_number_id}/messages", data=json.dumps(MENU).encode(), method="POST",
                        headers={"Authorization": f"Bearer {sim.access_token}", "Content-Type": "application/json"},
                    )  # fmt: skip
                    with _OPENER.open(request, timeout=5) as answer:
                        answer.read()
                self.send_response(hook.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/api/v1/whatsapp/webhook"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def verifies(headers: dict[str, str], body: bytes, secret: bytes = APP_SECRET) -> bool:
    expected = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(headers.get("X-Hub-Signature-256", ""), expected)


def message_of(body: bytes) -> dict[str, Any]:
    payload = json.loads(body)
    assert payload["object"] == "whatsapp_business_account"
    value = payload["entry"][0]["changes"][0]["value"]
    assert value["messaging_product"] == "whatsapp"
    assert value["metadata"]["phone_number_id"] == "carnet-test"
    message: dict[str, Any] = value["messages"][0]
    assert value["contacts"][0]["wa_id"] == message["from"]
    return message


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    hook = Webhook()
    yield hook
    hook.close()


@pytest.fixture
def sim(webhook: Webhook, tmp_path: Path) -> Iterator[WhatsAppSim]:
    with running_whatsapp_sim_thread(
        webhook_url=webhook.url, app_secret=APP_SECRET, access_token=TOKEN, record=tmp_path / "record.sqlite"
    ) as (client, _state):
        yield client


# ---- webhooks -------------------------------------------------------------------------------


def test_the_webhook_is_signed_with_the_app_secret(sim: WhatsAppSim, webhook: Webhook) -> None:
    sent = sim.inbound(from_=PHONE, text="hola", name="Mamá")
    assert sent["statuses"] == [200]
    [(headers, body)] = webhook.received
    assert verifies(headers, body)
    assert not verifies(headers, body, b"another secret")
    message = message_of(body)
    assert message["id"] == sent["message_id"] and message["id"].startswith("wamid.")
    assert (message["from"], message["type"], message["text"]) == (PHONE, "text", {"body": "hola"})
    assert int(message["timestamp"]) == pytest.approx(time.time(), abs=60)


def test_a_forged_webhook_does_not_verify(sim: WhatsAppSim, webhook: Webhook) -> None:
    sim.inbound(from_=PHONE, text="hola", signature="forged")
    [(headers, body)] = webhook.received
    assert headers["X-Hub-Signature-256"].startswith("sha256=")
    assert not verifies(headers, body)


def test_n_deliveries_are_n_identical_bodies_with_one_message_id(sim: WhatsAppSim, webhook: Webhook) -> None:
    webhook.status = 500  # each delivery's own answer is reported
    sent = sim.inbound(from_=PHONE, text="hola", deliveries=3)
    assert sent["statuses"] == [500, 500, 500]
    assert len(webhook.received) == 3
    assert len({body for _, body in webhook.received}) == 1
    assert all(verifies(headers, body) for headers, body in webhook.received)
    assert message_of(webhook.received[0][1])["id"] == sent["message_id"]


def test_a_delivery_that_gets_no_answer_reports_status_0(tmp_path: Path) -> None:
    closed = f"http://127.0.0.1:{free_port()}/api/v1/whatsapp/webhook"
    with running_whatsapp_sim_thread(webhook_url=closed, app_secret=APP_SECRET, access_token=TOKEN) as (sim, _):
        assert sim.inbound(from_=PHONE, text="hola", deliveries=2)["statuses"] == [0, 0]


def test_bad_control_input_is_refused_in_spanish_then_english(sim: WhatsAppSim, webhook: Webhook) -> None:
    for request in (
        {"from": "+52 55", "text": "x"},
        {"from": PHONE},
        {"from": PHONE, "text": " "},
        {"from": PHONE, "text": "x", "deliveries": 0},
        {"from": PHONE, "button": {"title": "sin id"}},
    ):
        response = sim.client.post("/_sim/inbound", json=request)
        assert response.status_code == 400
        assert " / " in response.json()["message"]
    assert sim.client.post("/_sim/fail", json={"count": 1, "status": 404}).status_code == 400
    assert webhook.received == []


# ---- the bot's messages ---------------------------------------------------------------------


def test_a_text_inside_the_window_is_recorded_and_readable(sim: WhatsAppSim) -> None:
    seq = sim.inbound(from_=PHONE, text="hola")["seq"]
    response = sim.send(text("Tu folio es R-000123."))
    assert response.status_code == 200
    answer = response.json()
    assert answer["contacts"] == [{"input": PHONE, "wa_id": PHONE}]
    [message] = sim.messages(to=PHONE, after=seq)
    assert message["id"] == answer["messages"][0]["id"]
    assert (message["seq"], message["type"], message["text"]) == (seq + 1, "text", "Tu folio es R-000123.")
    assert message["body"] == text("Tu folio es R-000123.")
    assert sim.messages(to=PHONE, after=message["seq"]) == []
    assert sim.messages(to=OTHER) == []


def test_outside_the_24_hour_window_only_templates_go_through(sim: WhatsAppSim) -> None:
    never = sim.send(text("hola", to=OTHER))
    assert never.status_code == 400 and never.json()["error"]["code"] == 131047
    sim.inbound(from_=PHONE, text="hola")
    sim.clock(PHONE, 25)
    late = sim.send(text("¿sigues ahí?"))
    assert late.status_code == 400 and late.json()["error"]["code"] == 131047
    assert sim.send(template()).status_code == 200
    assert sim.send(template(to=OTHER)).status_code == 200
    sim.clock(PHONE, 23)
    assert sim.send(text("¿sigues ahí?")).status_code == 200
    assert [m["type"] for m in sim.messages()] == ["template", "template", "text"]
    assert sim.messages(to=OTHER)[0]["text"] == "[plantilla carnet_reporte_respondido]: R-000123"


def test_a_wrong_or_missing_bearer_token_is_401(sim: WhatsAppSim) -> None:
    sim.inbound(from_=PHONE, text="hola")
    for headers in ({"Authorization": "Bearer nope"}, {"Authorization": TOKEN}, {}):
        response = sim.client.post(f"/{sim.phone_number_id}/messages", json=text("x"), headers=headers)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == 190
    assert sim.messages() == []


def _menu(**changes: Any) -> dict[str, Any]:
    body = json.loads(json.dumps(MENU))
    for path, value in changes.items():
        target = body["interactive"]
        *parents, last = path.split("__")
        for key in parents:
            target = target[key]
        target[last] = value
    return body


def _list(rows: int, title: str = "Medicamento") -> dict[str, Any]:
    items = [{"id": f"cat:{n}", "title": title, "description": "Falta de medicamento"} for n in range(rows)]
    action = {"button": "Ver opciones", "sections": [{"title": "Tipo", "rows": items}]}
    return {"messaging_product": "whatsapp", "to": PHONE, "type": "interactive",
            "interactive": {"type": "list", "body": {"text": "Elige"}, "action": action}}  # fmt: skip


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({**text("x"), "messaging_product": "sms"}, 100),
        (text("x", to="55 1234 5678"), 100),
        (text("x" * 4097), 100),
        ({**text("x"), "type": "sticker"}, 100),
        ({"messaging_product": "whatsapp", "to": PHONE, "type": "text"}, 100),
        (_menu(action={"buttons": []}), 100),
        (
            _menu(action={"buttons": [{"type": "reply", "reply": {"id": f"b{n}", "title": "ok"}} for n in range(4)]}),
            100,
        ),
        (_menu(action={"buttons": [{"type": "reply", "reply": {"id": "b", "title": "x" * 21}}]}), 100),
        (_menu(body={"text": ""}), 100),
        (_list(11), 100),
        (_list(2, title="x" * 25), 100),
        (template(params=()), 132000),
        (template(name="carnet_desconocida"), 132001),
        ("not an object", 100),
    ],
)
def test_a_malformed_message_is_400_and_not_recorded(sim: WhatsAppSim, body: Any, code: int) -> None:
    sim.inbound(from_=PHONE, text="hola")
    response = sim.send(body)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == code
    assert sim.messages() == []


def test_a_body_that_is_not_json_or_another_phone_number_id_is_400(sim: WhatsAppSim) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    assert sim.client.post(f"/{sim.phone_number_id}/messages", content=b"{", headers=auth).status_code == 400
    assert sim.client.post("/999/messages", json=text("x"), headers=auth).json()["error"]["code"] == 100
    assert sim.send(_list(10)).status_code == 400  # nobody wrote: the window, after the shape
    sim.inbound(from_=PHONE, text="hola")
    assert sim.send(_list(10)).status_code == 200


def test_fail_answers_the_next_sends_then_recovers(sim: WhatsAppSim) -> None:
    sim.inbound(from_=PHONE, text="hola")
    sim.fail(2, 503)
    assert [sim.send(text("x")).status_code for _ in range(3)] == [503, 503, 200]
    sim.fail(1, 429)
    limited = sim.send(text("y"))
    assert (limited.status_code, limited.headers["Retry-After"]) == (429, "1")
    assert [m["text"] for m in sim.messages()] == ["x"]


# ---- media and replies ----------------------------------------------------------------------


def test_an_image_roundtrips_through_the_media_endpoints(sim: WhatsAppSim, webhook: Webhook) -> None:
    sim.inbound(from_=PHONE, image_b64=base64.b64encode(PNG).decode(), mime_type="image/png", caption="receta")
    image = message_of(webhook.received[0][1])["image"]
    assert image["sha256"] == hashlib.sha256(PNG).hexdigest()
    assert (image["mime_type"], image["caption"]) == ("image/png", "receta")
    auth = {"Authorization": f"Bearer {TOKEN}"}
    meta = sim.client.get(f"/{image['id']}", headers=auth).json()
    assert (meta["id"], meta["file_size"], meta["mime_type"]) == (image["id"], len(PNG), "image/png")
    assert meta["url"] == f"{sim.url}/_media/{image['id']}"
    download = sim.client.get(meta["url"], headers=auth)
    assert (download.content, download.headers["Content-Type"]) == (PNG, "image/png")
    assert sim.client.get(meta["url"]).status_code == 401
    assert sim.client.get(f"/{image['id']}", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert sim.client.get("/1234567890", headers=auth).status_code == 404
    assert sim.client.post("/_sim/inbound", json={"from": PHONE, "image_b64": "%%%"}).status_code == 400


def test_a_button_reply_carries_the_title_the_bot_gave_it(sim: WhatsAppSim, webhook: Webhook) -> None:
    sim.inbound(from_=PHONE, text="hola")
    menu_id = sim.send(MENU).json()["messages"][0]["id"]
    sim.inbound(from_=PHONE, button={"id": "menu:mine"})
    message = message_of(webhook.received[-1][1])
    assert message["interactive"] == {
        "type": "button_reply",
        "button_reply": {"id": "menu:mine", "title": "Mis reportes"},
    }
    assert message["context"]["id"] == menu_id
    sim.inbound(from_=PHONE, list={"id": "cat:1", "title": "Medicamento"})
    assert message_of(webhook.received[-1][1])["interactive"]["list_reply"] == {"id": "cat:1", "title": "Medicamento"}
    assert sim.messages()[0]["text"] == (
        "¿Qué quieres hacer?\n[1] Reportar un problema (id: menu:report)\n[2] Mis reportes (id: menu:mine)"
    )


def test_a_status_webhook_reports_on_a_recorded_message(sim: WhatsAppSim, webhook: Webhook) -> None:
    sim.inbound(from_=PHONE, text="hola")
    wamid = sim.send(text("Tu folio es R-000123.")).json()["messages"][0]["id"]
    assert sim.client.post("/_sim/status", json={"id": wamid, "status": "read"}).json() == {"statuses": [200]}
    headers, body = webhook.received[-1]
    assert verifies(headers, body)
    [status] = json.loads(body)["entry"][0]["changes"][0]["value"]["statuses"]
    assert (status["id"], status["status"], status["recipient_id"]) == (wamid, "read", PHONE)
    assert sim.client.post("/_sim/status", json={"id": "wamid.nope", "status": "read"}).status_code == 404


# ---- the command ----------------------------------------------------------------------------


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")]))}
    return subprocess.run(  # noqa: S603 — this interpreter and our own module
        [sys.executable, "-m", "carnet_whatsapp_sim", *args],
        env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip


def test_write_prints_the_bots_replies_without_stdin(sim: WhatsAppSim, webhook: Webhook) -> None:
    webhook.reply_menu_to = sim
    done = _cli("write", "--sim", sim.url, "--from", PHONE, "hola", "--wait", "10", "--settle", "0.2")
    assert done.returncode == 0, done.stderr
    assert done.stdout == (
        "Bot: ¿Qué quieres hacer?\n  [1] Reportar un problema (id: menu:report)\n  [2] Mis reportes (id: menu:mine)\n"
    )
    assert message_of(webhook.received[0][1])["text"] == {"body": "hola"}


def test_write_taps_buttons_and_sends_photos(sim: WhatsAppSim, webhook: Webhook, tmp_path: Path) -> None:
    sim.inbound(from_=PHONE, text="hola")
    sim.send(MENU)
    tapped = _cli("write", "--sim", sim.url, "--from", PHONE, "--button", "menu:mine", "--wait", "0.2")
    assert (tapped.returncode, tapped.stdout) == (0, "")
    assert "sin respuesta" in tapped.stderr and "no reply" in tapped.stderr
    reply = message_of(webhook.received[-1][1])["interactive"]["button_reply"]
    assert reply == {"id": "menu:mine", "title": "Mis reportes"}
    (tmp_path / "receta.png").write_bytes(PNG)
    photo = _cli("write", "--sim", sim.url, "--from", PHONE, "--image", str(tmp_path / "receta.png"), "--wait", "0")
    assert photo.returncode == 0, photo.stderr
    image = message_of(webhook.received[-1][1])["image"]
    assert (image["mime_type"], image["sha256"]) == ("image/png", hashlib.sha256(PNG).hexdigest())
    webhook.status = 401
    refused = _cli("write", "--sim", sim.url, "--from", PHONE, "hola", "--wait", "0")
    assert refused.returncode == 3 and "[401]" in refused.stderr


def test_write_says_so_when_the_simulator_is_not_reachable() -> None:
    done = _cli("write", "--sim", f"http://127.0.0.1:{free_port()}", "--from", PHONE, "hola")
    assert done.returncode == 2
    assert "No se pudo conectar" in done.stderr and "could not reach" in done.stderr
    assert done.stdout == ""


def test_serve_keeps_its_record_across_a_restart(webhook: Webhook, tmp_path: Path) -> None:
    port = free_port()
    options: dict[str, Any] = {"webhook_url": webhook.url, "app_secret": APP_SECRET.decode(), "access_token": TOKEN,
                               "port": port}  # fmt: skip
    with running_whatsapp_simulator(tmp_path, **options) as running:
        assert running.sim.inbound(from_=PHONE, text="hola")["statuses"] == [200]
        assert verifies(*webhook.received[0])
        assert running.sim.send(text("hola de vuelta")).status_code == 200
    with running_whatsapp_simulator(tmp_path, **options) as running:
        assert [m["seq"] for m in running.sim.messages(to=PHONE)] == [1]
        assert running.sim.send(text("sigue la ventana")).status_code == 200
        assert [m["seq"] for m in running.sim.messages(to=PHONE)] == [1, 2]
    log = (tmp_path / "whatsapp-sim.log").read_text()
    assert "listening" in log and PHONE not in log and "hola" not in log
