"""The WhatsApp channel on both databases, against a fake Cloud API (httpx.MockTransport): the webhook's
handshake and signatures, the durable queues, linking, the conversation, the desk's answer back in the chat,
the 24-hour window, unlinking, and the per-number limit. The end-to-end run against the real simulator over
HTTP is tests/integration/test_whatsapp_against_sim.py."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import io
import itertools
import json
import logging
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from PIL import Image
from sqlalchemy import func, select, update
from starlette.testclient import TestClient

from carnet_server.app import create_app
from carnet_server.context import Context
from carnet_server.db import utcnow
from carnet_server.incidents.tables import Incident
from carnet_server.whatsapp import conversation, inbound, outbox
from carnet_server.whatsapp.tables import (
    Conversation,
    InboundMessage,
    LinkCode,
    OutboundMessage,
    WhatsAppLink,
)
from tests.server.conftest import assert_error

Auth = Callable[[str], dict[str, str]]
API = "http://cloud.test/v21.0"
SECRET = "app-secret-for-tests"
VERIFY = "verify-token-for-tests"
TOKEN = "access-token-for-tests"
MOTHER_PHONE = "5215511112222"
STRANGER = "5215599998888"
MATEO = "Mateo Hernández"
SANTIAGO = "Santiago Ramírez"
_ids = itertools.count(1)


#: The signed query of a media URL (as Meta's ``lookaside`` URLs carry): it opens the photo, so never in a log.
MEDIA_SIGNATURE = "hash=SIGNED-media-query-4c1d"


class FakeCloud:
    """The Cloud API's messages and media endpoints; ``fail`` plans answers for the next sends; a media id in
    ``media_fail`` answers 500 to its download."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.fail: list[httpx.Response] = []
        self.media: dict[str, bytes] = {}
        self.media_fail: set[str] = set()
        self.downloads = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        assert request.headers["authorization"] == f"Bearer {TOKEN}"
        path = request.url.path
        if request.method == "POST" and path.endswith("/pnid-test/messages"):
            if self.fail:
                return self.fail.pop(0)
            self.sent.append(json.loads(request.content))
            return httpx.Response(200, json={"messages": [{"id": f"wamid.out{len(self.sent)}"}]})
        if request.method == "GET" and path.startswith("/v21.0/media-"):
            media_id = path.rsplit("/", 1)[1]
            return httpx.Response(200, json={"url": f"{API}/_media/{media_id}?mid={media_id}&{MEDIA_SIGNATURE}"})
        if request.method == "GET" and "/_media/" in path:
            media_id = path.rsplit("/", 1)[1]
            self.downloads += 1
            if media_id in self.media_fail:
                return httpx.Response(500)
            return httpx.Response(200, content=self.media[media_id])
        return httpx.Response(404)

    def texts_to(self, phone: str) -> list[str]:
        out = []
        for body in self.sent:
            if body["to"] != phone:
                continue
            if body["type"] == "text":
                out.append(body["text"]["body"])
            elif body["type"] == "interactive":
                out.append(body["interactive"]["body"]["text"])
            else:
                out.append("TEMPLATE " + json.dumps(body["template"], ensure_ascii=False))
        return out


@pytest.fixture
def wa_ctx(ctx: Context) -> Context:
    settings = ctx.settings.model_copy(
        update={
            "whatsapp_app_secret": SECRET,
            "whatsapp_verify_token": VERIFY,
            "whatsapp_api_url": API,
            "whatsapp_phone_number_id": "pnid-test",
            "whatsapp_access_token": TOKEN,
            "whatsapp_bot_number": "+52 55 0000 0000",
            "whatsapp_max_per_minute": 15,
        }
    )
    from pydantic import SecretStr

    settings = settings.model_copy(
        update={
            k: SecretStr(getattr(settings, k))
            for k in ("whatsapp_app_secret", "whatsapp_verify_token", "whatsapp_access_token")
        }
    )
    return dataclasses.replace(ctx, settings=settings)


@pytest.fixture
def app(wa_ctx: Context) -> FastAPI:
    return create_app(context=wa_ctx)


@pytest.fixture
def cloud() -> FakeCloud:
    return FakeCloud()


def webhook_body(phone: str, message: dict[str, Any], message_id: str | None = None) -> bytes:
    message = {"from": phone, "id": message_id or f"wamid.in{next(_ids)}", "timestamp": "1700000000", **message}
    body = {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "waba",
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {"display_phone_number": "5215500000000", "phone_number_id": "pnid-test"},
                            "contacts": [{"profile": {"name": "Alguien"}, "wa_id": phone}],
                            "messages": [message],
                        },
                    }
                ],
            }
        ],
    }
    return json.dumps(body).encode()


def sign(body: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def post(client: TestClient, body: bytes, signature: str | None = None) -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    if signature != "":
        headers["X-Hub-Signature-256"] = signature or sign(body)
    return client.post("/api/v1/whatsapp/webhook", content=body, headers=headers)


def pump(ctx: Context, cloud: FakeCloud) -> None:
    """Run the worker's rounds until both queues are idle (bounded)."""
    with httpx.Client(transport=httpx.MockTransport(cloud)) as http:
        for _ in range(60):  # one message per number and round
            handled = inbound.process_due(ctx, http)
            sent = outbox.send_due(ctx, http)
            if not handled and not sent:
                return
    raise AssertionError("the queues did not settle")


class Chat:
    """A phone writing to the bot through the signed webhook; ``replies`` are what came back since last time."""

    def __init__(self, client: TestClient, ctx: Context, cloud: FakeCloud, phone: str) -> None:
        self.client, self.ctx, self.cloud, self.phone = client, ctx, cloud, phone
        self.seen = 0

    def send(self, message: dict[str, Any], message_id: str | None = None) -> str:
        body = webhook_body(self.phone, message, message_id)
        assert post(self.client, body).status_code == 200
        pump(self.ctx, self.cloud)
        return self.new()

    def new(self) -> str:
        """What the bot sent this number since last time."""
        texts = self.cloud.texts_to(self.phone)
        new, self.seen = texts[self.seen :], len(texts)
        return "\n---\n".join(new)

    def text(self, text: str) -> str:
        return self.send({"type": "text", "text": {"body": text}})

    def choose(self, choice_id: str) -> str:
        """A row of a list message."""
        return self.send(
            {
                "type": "interactive",
                "interactive": {"type": "list_reply", "list_reply": {"id": choice_id, "title": "x"}},
            }
        )

    def button(self, choice_id: str) -> str:
        """A reply button of an interactive message (how ``photos:done``, ``reopen:…``, ``reply:…`` come back)."""
        return self.send(
            {
                "type": "interactive",
                "interactive": {"type": "button_reply", "button_reply": {"id": choice_id, "title": "x"}},
            }
        )

    def image(self, media_id: str, mime_type: str = "image/jpeg") -> str:
        return self.send({"type": "image", "image": {"id": media_id, "mime_type": mime_type}})


def buttons_of(cloud: FakeCloud, phone: str) -> list[list[str]]:
    """The button ids of each interactive button message sent to ``phone``."""
    return [
        [b["reply"]["id"] for b in body["interactive"]["action"]["buttons"]]
        for body in cloud.sent
        if body["to"] == phone and body["type"] == "interactive" and body["interactive"]["type"] == "button"
    ]


def due_now(ctx: Context) -> None:
    """Bring every queued retry (inbound and outbound) forward to now."""
    past = utcnow() - timedelta(seconds=1)
    with ctx.sessions() as session:
        session.execute(
            update(InboundMessage).where(InboundMessage.processed_at.is_(None)).values(next_attempt_at=past)
        )
        session.execute(update(OutboundMessage).where(OutboundMessage.done_at.is_(None)).values(next_attempt_at=past))
        session.commit()


def link(client: TestClient, auth: Auth, chat: Chat, username: str = "madre.demo") -> str:
    code = client.post("/api/v1/me/whatsapp/link-code", headers=auth(username))
    assert code.status_code == 201, code.text
    return chat.text(f"Hola, mi código es {code.json()['code']}")


def jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 30, 30)).save(out, format="JPEG")
    return out.getvalue()


# ---- the webhook --------------------------------------------------------------------------------------


def test_handshake_answers_the_challenge_only_with_the_verify_token(client: TestClient) -> None:
    ok = client.get(
        "/api/v1/whatsapp/webhook",
        params={"hub.mode": "subscribe", "hub.verify_token": VERIFY, "hub.challenge": "1158201444"},
    )
    assert ok.status_code == 200 and ok.text == "1158201444"
    assert ok.headers["content-type"].startswith("text/plain")
    wrong = client.get(
        "/api/v1/whatsapp/webhook", params={"hub.mode": "subscribe", "hub.verify_token": "nope", "hub.challenge": "1"}
    )
    assert_error(wrong, 403, "whatsapp_verify_failed")


def test_forged_or_missing_signature_changes_nothing(client: TestClient, wa_ctx: Context) -> None:
    body = webhook_body(STRANGER, {"type": "text", "text": {"body": "hola"}})
    assert_error(post(client, body, sign(body, "not-the-secret")), 401, "whatsapp_signature_invalid")
    assert_error(post(client, body, ""), 401, "whatsapp_signature_invalid")
    assert_error(post(client, body + b" ", sign(body)), 401)  # signed another body
    with wa_ctx.sessions() as session:
        assert session.scalar(select(func.count()).select_from(InboundMessage)) == 0


def test_a_signed_body_that_is_not_json_is_refused_and_statuses_are_ignored(
    client: TestClient, wa_ctx: Context
) -> None:
    assert_error(post(client, b"not json"), 400, "whatsapp_body_invalid")
    statuses = json.dumps(
        {
            "object": "whatsapp_business_account",
            "entry": [
                {"changes": [{"field": "messages", "value": {"statuses": [{"id": "wamid.x", "status": "read"}]}}]}
            ],
        }
    ).encode()
    assert post(client, statuses).status_code == 200
    with wa_ctx.sessions() as session:
        assert session.scalar(select(func.count()).select_from(InboundMessage)) == 0


def test_an_unconfigured_server_refuses_the_webhook(ctx: Context) -> None:
    bare = TestClient(create_app(context=ctx))
    assert_error(bare.post("/api/v1/whatsapp/webhook", content=b"{}"), 404, "whatsapp_not_configured")


# ---- who is talking ----------------------------------------------------------------------------------


def test_an_unknown_number_learns_how_to_link_and_nothing_about_any_child(
    client: TestClient, wa_ctx: Context, cloud: FakeCloud
) -> None:
    chat = Chat(client, wa_ctx, cloud, STRANGER)
    for text in ("hola", "1", "Mis reportes", "persona"):
        reply = chat.text(text)
        assert "vincula este número" in reply
        for name in ("Mateo", "Valentina", "Santiago", "CE-"):
            assert name not in reply
    assert "vincula este número" in chat.choose("menu:reports")
    with wa_ctx.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Incident).where(Incident.channel == "whatsapp")) == 0


def test_link_by_code_then_status_and_unlink(client: TestClient, auth: Auth, wa_ctx: Context, cloud: FakeCloud) -> None:
    mother = auth("madre.demo")
    assert client.get("/api/v1/me/whatsapp", headers=mother).json()["linked"] is False
    chat = Chat(client, wa_ctx, cloud, MOTHER_PHONE)
    reply = link(client, auth, chat)
    assert "quedó vinculado" in reply and "Mateo" in reply
    status = client.get("/api/v1/me/whatsapp", headers=mother).json()
    assert status["linked"] is True and status["number"] == "•••• 2222" and status["bot_number"] == "+52 55 0000 0000"
    # The code worked once.
    with wa_ctx.sessions() as session:
        assert session.scalar(select(WhatsAppLink.phone)) == MOTHER_PHONE
    assert client.delete("/api/v1/me/whatsapp", headers=mother).status_code == 204
    assert client.get("/api/v1/me/whatsapp", headers=mother).json()["linked"] is False
    assert "vincula este número" in chat.text("menu")
    # Every link and unlink is audited, with ids and codes only (never the number).
    from carnet_server.audit import AuditEntry

    with wa_ctx.sessions() as session:
        rows = list(
            session.scalars(select(AuditEntry).where(AuditEntry.action.like("whatsapp.%")).order_by(AuditEntry.id))
        )
    assert [r.action for r in rows] == ["whatsapp.link_code.issue", "whatsapp.link", "whatsapp.unlink"]
    assert MOTHER_PHONE not in repr([(r.detail, r.object_id) for r in rows])


def test_a_wrong_or_used_code_links_nothing(client: TestClient, auth: Auth, wa_ctx: Context, cloud: FakeCloud) -> None:
    chat = Chat(client, wa_ctx, cloud, STRANGER)
    assert "no es válido" in chat.text("CARNET-22222")
    code = client.post("/api/v1/me/whatsapp/link-code", headers=auth("madre.demo")).json()["code"]
    assert "vinculado" in chat.text(code)
    other = Chat(client, wa_ctx, cloud, MOTHER_PHONE)
    assert "no es válido" in other.text(code)  # once only
    with wa_ctx.sessions() as session:
        assert list(session.scalars(select(WhatsAppLink.phone))) == [STRANGER]


def test_link_code_is_for_guardians_only(client: TestClient, auth: Auth) -> None:
    assert_error(client.post("/api/v1/me/whatsapp/link-code", headers=auth("casos.demo")), 403)
    assert_error(client.get("/api/v1/me/whatsapp", headers=auth("farmacia.demo")), 403)
    assert_error(client.post("/api/v1/me/whatsapp/link-code"), 401)


def test_staff_unlink_a_number_and_bad_input(client: TestClient, auth: Auth, wa_ctx: Context, cloud: FakeCloud) -> None:
    link(client, auth, Chat(client, wa_ctx, cloud, MOTHER_PHONE))
    desk = auth("casos.demo")
    assert_error(client.post("/api/v1/whatsapp/unlink", json={"phone": "55 12"}, headers=desk), 422)
    assert_error(
        client.post("/api/v1/whatsapp/unlink", json={"phone": "55 9999 8888"}, headers=desk),
        404,
        "whatsapp_number_not_linked",
    )
    assert_error(
        client.post("/api/v1/whatsapp/unlink", json={"phone": "55 1111 2222"}, headers=auth("madre.demo")), 403
    )
    with wa_ctx.sessions() as session:
        assert session.scalar(select(func.count()).select_from(WhatsAppLink)) == 1
    assert client.post("/api/v1/whatsapp/unlink", json={"phone": "+52 1 55 1111 2222"}, headers=desk).status_code == 204
    with wa_ctx.sessions() as session:
        assert session.scalar(select(func.count()).select_from(WhatsAppLink)) == 0


# ---- the conversation ----------------------------------------------------------------------------------


def test_report_a_missing_medicine_with_a_photo_and_follow_it(
    client: TestClient, auth: Auth, wa_ctx: Context, cloud: FakeCloud, patient_ids: dict[str, str]
) -> None:
    chat = Chat(client, wa_ctx, cloud, MOTHER_PHONE)
    link(client, auth, chat)
    assert "¿De quién es el reporte?" in chat.text("1")
    # A child of another family is not offered and not accepted.
    assert "No encontré esa opción" in chat.choose(f"child:{patient_ids[SANTIAGO]}")
    chat.choose(f"child:{patient_ids[MATEO]}")
    assert "¿Qué medicamento falta?" in chat.choose("cat:medicamento")
    chat.text("Ondansetrón 8 mg")
    reply = chat.text("En la farmacia de la UMAE no hay ondansetrón desde el lunes.")
    assert "folio CE-" in reply
    cloud.media["media-1"] = jpeg()
    photo = chat.send({"type": "image", "image": {"id": "media-1", "mime_type": "image/jpeg"}})
    assert "Foto 1 recibida" in photo
    assert buttons_of(cloud, MOTHER_PHONE)[-1][0] == "photos:done"  # sent as a button, answered as one
    assert "Gracias" in chat.button("photos:done")
    with wa_ctx.sessions() as session:
        row = session.scalars(select(Incident).where(Incident.channel == "whatsapp")).one()
        assert (row.patient_id, row.category, row.item_name) == (patient_ids[MATEO], "medicamento", "Ondansetrón 8 mg")
        assert len(row.photos) == 1
        incident_id, folio = row.id, row.folio
    # The desk sees the channel; its answer goes back to the chat.
    desk = auth("casos.demo")
    listed = client.get(f"/api/v1/incidents/{incident_id}", headers=desk).json()
    assert listed["channel"] == "whatsapp"
    answer = "Ya surtimos el ondansetrón: pasa hoy a la farmacia de la UMAE con tu receta."
    assert (
        client.post(f"/api/v1/incidents/{incident_id}/responses", json={"message": answer}, headers=desk).status_code
        == 200
    )
    pump(wa_ctx, cloud)
    last = cloud.texts_to(MOTHER_PHONE)[-1]
    assert folio in last and answer in last
    # The family's reply in the chat joins the report's conversation.
    assert "Agregamos tu mensaje" in chat.text("Gracias, ¿también hay granisetrón?")
    chat.seen = len(cloud.texts_to(MOTHER_PHONE))
    responses = client.get(f"/api/v1/incidents/{incident_id}", headers=auth("madre.demo")).json()["responses"]
    assert [r["author_role"] for r in responses] == ["case_desk", "guardian"]
    # Mis reportes shows it with the last answer.
    mine = chat.choose("menu:reports")
    assert folio in mine and "Ya surtimos" in mine


def test_the_same_webhook_twice_makes_one_report(
    client: TestClient, auth: Auth, wa_ctx: Context, cloud: FakeCloud, patient_ids: dict[str, str]
) -> None:
    chat = Chat(client, wa_ctx, cloud, MOTHER_PHONE)
    link(client, auth, chat)
    chat.choose("menu:report")
    chat.choose(f"child:{patient_ids[MATEO]}")
    chat.choose("cat:atencion_medica")
    body = webhook_body(
        MOTHER_PHONE, {"type": "text", "text": {"body": "No nos han dado cita de consulta."}}, "wamid.retried"
    )
    assert post(client, body).status_code == 200
    assert post(client, body).status_code == 200  # Meta's retry
    pump(wa_ctx, cloud)
    assert post(client, body).status_code == 200  # even after it was processed
    pump(wa_ctx, cloud)
    with wa_ctx.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Incident).where(Incident.channel == "whatsapp")) == 1
        processed = session.get_one(InboundMessage, "wamid.retried")
        assert processed.processed_at is not None and processed.payload is None  # the text is not kept


def test_reopen_an_answered_report_with_a_reason(
    client: TestClient, auth: Auth, wa_ctx: Context, cloud: FakeCloud, patient_ids: dict[str, str]
) -> None:
    chat = Chat(client, wa_ctx, cloud, MOTHER_PHONE)
    link(client, auth, chat)
    chat.choose("menu:human")
    chat.choose(f"child:{patient_ids[MATEO]}")
    with wa_ctx.sessions() as session:
        incident_id = session.scalars(select(Incident.id).where(Incident.channel == "whatsapp")).one()
    client.post(
        f"/api/v1/incidents/{incident_id}/responses",
        headers=auth("casos.demo"),
        json={"message": "Te llamamos al número registrado el martes.", "resolves": True},
    )
    pump(wa_ctx, cloud)
    assert buttons_of(cloud, MOTHER_PHONE)[-1][0] == f"reopen:{incident_id}"
    assert "¿Por qué" in chat.button(f"reopen:{incident_id}")
    assert "Reabrimos tu reporte" in chat.text("Nadie nos llamó el martes.")
    assert client.get(f"/api/v1/incidents/{incident_id}", headers=auth("madre.demo")).json()["status"] == "reabierta"


def test_next_appointments_of_each_child(client: TestClient, auth: Auth, wa_ctx: Context, cloud: FakeCloud) -> None:
    chat = Chat(client, wa_ctx, cloud, MOTHER_PHONE)
    link(client, auth, chat)
    reply = chat.text("3")
    assert "Próximas citas" in reply and "Mateo" in reply and "Valentina" in reply
    assert "Santiago" not in reply


def test_what_it_does_not_understand_gets_the_menu(
    client: TestClient, auth: Auth, wa_ctx: Context, cloud: FakeCloud
) -> None:
    chat = Chat(client, wa_ctx, cloud, MOTHER_PHONE)
    link(client, auth, chat)
    reply = chat.text("asdfgh")
    assert "No entendí" in reply and "Reportar un problema" in reply


# ---- the outbound queue --------------------------------------------------------------------------------


def answered_report(client: TestClient, auth: Auth, ctx: Context, cloud: FakeCloud, mateo: str) -> str:
    chat = Chat(client, ctx, cloud, MOTHER_PHONE)
    link(client, auth, chat)
    chat.choose("menu:human")
    chat.choose(f"child:{mateo}")
    with ctx.sessions() as session:
        return session.scalars(select(Incident.id).where(Incident.channel == "whatsapp")).one()


def test_outside_the_window_the_answer_goes_as_the_template(
    client: TestClient, auth: Auth, wa_ctx: Context, cloud: FakeCloud, patient_ids: dict[str, str]
) -> None:
    incident_id = answered_report(client, auth, wa_ctx, cloud, patient_ids[MATEO])
    with wa_ctx.sessions() as session:
        session.execute(update(Conversation).values(last_inbound_at=utcnow() - timedelta(hours=25)))
        session.commit()
    client.post(
        f"/api/v1/incidents/{incident_id}/responses",
        headers=auth("casos.demo"),
        json={"message": "Tu licencia 140-Bis está lista\nen ventanilla."},
    )
    pump(wa_ctx, cloud)
    last = cloud.sent[-1]
    assert last["type"] == "template" and last["template"]["name"] == "carnet_respuesta_reporte"
    params = [p["text"] for p in last["template"]["components"][0]["parameters"]]
    assert params[1] == "Tu licencia 140-Bis está lista en ventanilla."  # one line, as Meta requires


def test_provider_says_window_closed_falls_back_to_the_template(
    client: TestClient, auth: Auth, wa_ctx: Context, cloud: FakeCloud, patient_ids: dict[str, str]
) -> None:
    incident_id = answered_report(client, auth, wa_ctx, cloud, patient_ids[MATEO])
    cloud.fail.append(httpx.Response(400, json={"error": {"code": 131047, "message": "Re-engagement message"}}))
    client.post(f"/api/v1/incidents/{incident_id}/responses", headers=auth("casos.demo"), json={"message": "Listo."})
    pump(wa_ctx, cloud)
    assert cloud.sent[-1]["type"] == "template"
    with wa_ctx.sessions() as session:
        assert session.scalars(select(OutboundMessage.outcome).where(OutboundMessage.purpose == "answer")).one() == (
            "template"
        )


def test_provider_failures_are_retried_with_backoff(
    client: TestClient, auth: Auth, wa_ctx: Context, cloud: FakeCloud, patient_ids: dict[str, str]
) -> None:
    incident_id = answered_report(client, auth, wa_ctx, cloud, patient_ids[MATEO])
    cloud.fail.extend([httpx.Response(503), httpx.Response(429, headers={"Retry-After": "30"})])
    client.post(f"/api/v1/incidents/{incident_id}/responses", headers=auth("casos.demo"), json={"message": "Listo."})
    before = len(cloud.sent)
    for expected_attempts in (1, 2):
        pump(wa_ctx, cloud)
        with wa_ctx.sessions() as session:
            row = session.scalars(select(OutboundMessage).where(OutboundMessage.purpose == "answer")).one()
            assert row.attempts == expected_attempts and row.done_at is None
            assert row.next_attempt_at is not None and row.next_attempt_at > utcnow()
            if expected_attempts == 2:
                assert row.next_attempt_at > utcnow() + timedelta(seconds=25)  # Retry-After honoured
            session.execute(update(OutboundMessage).values(next_attempt_at=utcnow() - timedelta(seconds=1)))
            session.commit()
    pump(wa_ctx, cloud)
    assert len(cloud.sent) == before + 1


def test_unlinking_stops_what_is_queued(
    client: TestClient, auth: Auth, wa_ctx: Context, cloud: FakeCloud, patient_ids: dict[str, str]
) -> None:
    incident_id = answered_report(client, auth, wa_ctx, cloud, patient_ids[MATEO])
    sent = len(cloud.sent)
    client.post(f"/api/v1/incidents/{incident_id}/responses", headers=auth("casos.demo"), json={"message": "Listo."})
    assert client.delete("/api/v1/me/whatsapp", headers=auth("madre.demo")).status_code == 204
    pump(wa_ctx, cloud)
    assert len(cloud.sent) == sent
    with wa_ctx.sessions() as session:
        row = session.scalars(select(OutboundMessage).where(OutboundMessage.purpose == "answer")).one()
        assert (row.outcome, row.last_error) == ("dropped", "unlinked")


def test_a_number_over_its_limit_is_not_read_and_told_once(
    client: TestClient, auth: Auth, wa_ctx: Context, cloud: FakeCloud
) -> None:
    for n in range(20):
        assert post(client, webhook_body(STRANGER, {"type": "text", "text": {"body": f"hola {n}"}})).status_code == 200
    pump(wa_ctx, cloud)
    texts = cloud.texts_to(STRANGER)
    assert sum("muchos mensajes" in t for t in texts) == 1
    assert sum("vincula este número" in t for t in texts) == 15


def test_no_message_text_or_number_in_the_logs(
    client: TestClient,
    auth: Auth,
    wa_ctx: Context,
    cloud: FakeCloud,
    caplog: pytest.LogCaptureFixture,
    patient_ids: dict[str, str],
) -> None:
    """Report → photo → the desk's answer (retried, then another given up) → a reminders pass, everything logged
    at DEBUG (httpx and httpcore included): no number, text, child's or guardian's name, folio or signed URL."""
    from carnet_server.agenda.tables import Appointment
    from carnet_server.auth.tables import User
    from carnet_server.reminders.due import run_pass
    from carnet_server.whatsapp import links

    caplog.set_level(logging.DEBUG)
    for name in ("httpx", "httpcore", "carnet_server", "carnet_server.whatsapp", "carnet_server.reminders"):
        caplog.set_level(logging.DEBUG, logger=name)
    chat = Chat(client, wa_ctx, cloud, MOTHER_PHONE)
    link(client, auth, chat)
    chat.choose("menu:report")
    chat.choose(f"child:{patient_ids[MATEO]}")
    chat.choose("cat:medicamento")
    chat.text("Ondansetrón secreto 8 mg")
    made = chat.text("Texto privado de la familia 12345")
    found = re.search(r"CE-\d{4}-\d{6}", made)
    assert found is not None
    folio = found.group(0)
    cloud.media["media-log"] = jpeg()
    assert "Foto 1 recibida" in chat.image("media-log")
    chat.button("photos:done")
    with wa_ctx.sessions() as session:
        incident_id = session.scalars(select(Incident.id).where(Incident.channel == "whatsapp")).one()
        guardian = session.scalars(select(User.display_name).where(User.username == "madre.demo")).one()
    desk = auth("casos.demo")
    # The desk's answer: the first send fails (503) and is retried.
    cloud.fail.append(httpx.Response(503))
    answer = "Respuesta privada del módulo 67890"
    reply_url = f"/api/v1/incidents/{incident_id}/responses"
    assert client.post(reply_url, json={"message": answer}, headers=desk).status_code == 200
    pump(wa_ctx, cloud)
    due_now(wa_ctx)
    pump(wa_ctx, cloud)
    assert answer in chat.new()
    # Another answer fails and is given up (one attempt allowed).
    stingy = dataclasses.replace(wa_ctx, settings=wa_ctx.settings.model_copy(update={"whatsapp_max_attempts": 1}))
    cloud.fail.append(httpx.Response(503))
    assert client.post(reply_url, json={"message": "Otra respuesta privada 24680"}, headers=desk).status_code == 200
    pump(stingy, cloud)
    with wa_ctx.sessions() as session:
        given_up = session.scalars(select(OutboundMessage).where(OutboundMessage.last_error.like("gave up%"))).one()
        assert given_up.outcome == "dropped" and given_up.session_body is None and given_up.template is None
    # A reminders pass the evening before Mateo's next chemotherapy.
    with wa_ctx.sessions() as session:
        first = session.scalars(
            select(Appointment)
            .where(
                Appointment.patient_id == patient_ids[MATEO],
                Appointment.kind == "quimioterapia",
                Appointment.starts_at > utcnow(),
            )
            .order_by(Appointment.starts_at)
        ).first()
        assert first is not None
        eve = first.starts_at.astimezone(wa_ctx.tz).replace(hour=18, minute=30) - timedelta(days=1)
        assert run_pass(session, now=eve, tz=wa_ctx.tz, enqueue=outbox.enqueue, linked_phone=links.linked_phone) >= 1
    due_now(wa_ctx)
    pump(wa_ctx, cloud)
    assert any(b["type"] == "template" and b["to"] == MOTHER_PHONE for b in cloud.sent)

    logged = "\n".join(r.getMessage() + (r.exc_text or "") for r in caplog.records)
    assert "whatsapp message" in logged and "given up" in logged
    assert "HTTP Request: GET" in logged and "/_media/" in logged  # httpx did log, the media URL among it
    secrets = [MOTHER_PHONE, "11112222", "Texto privado", "12345", "Ondansetrón secreto", answer, "24680"]
    secrets += ["Mateo", "Hernández", guardian, *guardian.split(), folio, MEDIA_SIGNATURE, "SIGNED-media"]
    for secret in secrets:
        assert secret not in logged, secret


def test_a_number_verified_at_enrolment_is_linked_on_activation(
    client: TestClient, auth: Auth, wa_ctx: Context, cloud: FakeCloud, patient_ids: dict[str, str]
) -> None:
    from carnet_server.audit import AuditEntry
    from carnet_server.auth.tables import User

    camila = patient_ids["Camila Torres"]
    for verified, phone, username in ((False, "55 3333 4444", "tia.sin"), (True, "55 1234 5678", "ana.mendez")):
        body = {"full_name": "Ana Méndez Ruiz", "relationship": "madre", "phone": phone, "whatsapp_verified": verified}
        made = client.post(f"/api/v1/patients/{camila}/guardian-invitations", json=body, headers=auth("oncologia.demo"))
        assert made.status_code == 201, made.text
        activated = client.post(
            "/api/v1/auth/activate",
            json={"code": made.json()["code"], "username": username, "password": "una-clave-larga-1"},
        )
        assert activated.status_code == 201, activated.text
    with wa_ctx.sessions() as session:
        rows = session.execute(select(WhatsAppLink.phone, WhatsAppLink.method)).all()
        users = {u.username: u.id for u in session.scalars(select(User))}
        audited = list(session.scalars(select(AuditEntry).where(AuditEntry.action == "whatsapp.link")))
    assert [tuple(r) for r in rows] == [("525512345678", "enrolment")]
    # One audit row, for the verified number only: the guardian's account, the staff user who verified it in
    # person and the invitation — never the number.
    assert len(audited) == 1
    entry = audited[0]
    assert (entry.actor_id, entry.actor_role, entry.object_type, entry.object_id) == (
        users["ana.mendez"],
        "guardian",
        "user",
        users["ana.mendez"],
    )
    assert entry.detail is not None
    assert entry.detail["method"] == "enrolment" and entry.detail["verified_by"] == users["oncologia.demo"]
    assert entry.detail["invitation_id"]
    assert "5512345678" not in repr(entry.detail)


def test_reminders_go_out_as_approved_templates(
    client: TestClient, auth: Auth, wa_ctx: Context, cloud: FakeCloud, patient_ids: dict[str, str]
) -> None:
    from carnet_server.agenda.tables import Appointment
    from carnet_server.app import send_reminders
    from carnet_server.reminders.due import run_pass
    from carnet_server.whatsapp import links

    link(client, auth, Chat(client, wa_ctx, cloud, MOTHER_PHONE))
    assert send_reminders(wa_ctx) >= 0  # the worker's hook runs against the real outbox
    with wa_ctx.sessions() as session:
        first = session.scalars(
            select(Appointment)
            .where(
                Appointment.patient_id == patient_ids[MATEO],
                Appointment.kind == "quimioterapia",
                Appointment.starts_at > utcnow(),
            )
            .order_by(Appointment.starts_at)
        ).first()
        assert first is not None
        eve = first.starts_at.astimezone(wa_ctx.tz).replace(hour=18, minute=30) - timedelta(days=1)
        assert run_pass(session, now=eve, tz=wa_ctx.tz, enqueue=outbox.enqueue, linked_phone=links.linked_phone) >= 1
        assert run_pass(session, now=eve, tz=wa_ctx.tz, enqueue=outbox.enqueue, linked_phone=links.linked_phone) == 0
        session.execute(update(OutboundMessage).values(next_attempt_at=utcnow() - timedelta(seconds=1)))
        session.commit()
    pump(wa_ctx, cloud)
    templates = [b["template"] for b in cloud.sent if b["type"] == "template" and b["to"] == MOTHER_PHONE]
    assert any(t["name"] == "carnet_cita_manana" for t in templates)
    params = [
        p["text"]
        for p in next(t for t in templates if t["name"] == "carnet_cita_manana")["components"][0]["parameters"]
    ]
    assert params[0] == "Mateo" and len(params) == 4


# ---- photos ------------------------------------------------------------------------------------------


def test_a_fourth_photo_a_document_and_a_failed_download_each_get_a_message_and_change_nothing(
    client: TestClient, auth: Auth, wa_ctx: Context, cloud: FakeCloud, patient_ids: dict[str, str]
) -> None:
    chat = Chat(client, wa_ctx, cloud, MOTHER_PHONE)
    link(client, auth, chat)
    chat.choose("menu:report")
    chat.choose(f"child:{patient_ids[MATEO]}")
    chat.choose("cat:insumo")
    chat.text("Jeringas de 10 ml")
    assert "folio CE-" in chat.text("No hay jeringas de 10 ml en la farmacia.")

    def photos_and_notes() -> tuple[int, int]:
        with wa_ctx.sessions() as session:
            row = session.scalars(select(Incident).where(Incident.channel == "whatsapp")).one()
            return len(row.photos), len(row.replies)

    # A file that is not an image: not downloaded, not taken as a message to the report.
    pdf = {"id": "media-doc", "mime_type": "application/pdf", "filename": "receta.pdf"}
    reply = chat.send({"type": "document", "document": pdf})
    assert "no es una foto" in reply and "cámara o de tu galería" in reply
    assert photos_and_notes() == (0, 0) and cloud.downloads == 0
    # An "image" whose bytes are not one.
    cloud.media["media-fake"] = b"%PDF-1.4 no es una foto"
    assert "No pudimos abrir esa foto" in chat.image("media-fake")
    assert photos_and_notes() == (0, 0)
    # A download that keeps failing: retried quietly, then the family is told; nothing is attached.
    cloud.media_fail.add("media-broken")
    downloads = cloud.downloads
    reply = chat.image("media-broken")
    assert reply == ""  # the first failure is retried before anyone is told
    for _ in range(inbound.MAX_ATTEMPTS):
        if reply:
            break
        due_now(wa_ctx)
        pump(wa_ctx, cloud)
        reply = chat.new()
    assert "No pudimos recibir esa foto" in reply
    assert cloud.downloads - downloads == inbound.MAX_ATTEMPTS
    assert photos_and_notes() == (0, 0)
    # Still collecting photos: three go in, the fourth is refused as over the limit.
    for n in range(1, 5):
        cloud.media[f"media-ok{n}"] = jpeg()
    assert "Foto 1 recibida" in chat.image("media-ok1")
    assert "Foto 2 recibida" in chat.image("media-ok2")
    assert "Recibimos 3 fotos" in chat.image("media-ok3")
    fourth = chat.image("media-ok4")
    assert "ya tiene 3 fotos" in fourth and "no agregamos esta" in fourth
    assert "primero haz un reporte" not in fourth
    assert photos_and_notes() == (3, 0)
    # A voice note at the menu: what the bot can read, and nothing else changes.
    assert "solo podemos leer mensajes de texto y fotos" in chat.send(
        {"type": "audio", "audio": {"id": "media-voice", "mime_type": "audio/ogg"}}
    )
    assert photos_and_notes() == (3, 0)
    with wa_ctx.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Incident).where(Incident.channel == "whatsapp")) == 1


def test_a_photo_sent_as_a_document_is_read_as_a_photo(
    client: TestClient, auth: Auth, wa_ctx: Context, cloud: FakeCloud, patient_ids: dict[str, str]
) -> None:
    chat = Chat(client, wa_ctx, cloud, MOTHER_PHONE)
    link(client, auth, chat)
    chat.choose("menu:report")
    chat.choose(f"child:{patient_ids[MATEO]}")
    chat.choose("cat:otro")
    chat.text("La receta no trae el sello de la farmacia.")
    cloud.media["media-asdoc"] = jpeg()
    reply = chat.send({"type": "document", "document": {"id": "media-asdoc", "mime_type": "image/jpeg"}})
    assert "Foto 1 recibida" in reply


# ---- buttons ---------------------------------------------------------------------------------------


def test_the_reply_button_and_a_templates_quick_reply(
    client: TestClient, auth: Auth, wa_ctx: Context, cloud: FakeCloud, patient_ids: dict[str, str]
) -> None:
    incident_id = answered_report(client, auth, wa_ctx, cloud, patient_ids[MATEO])
    chat = Chat(client, wa_ctx, cloud, MOTHER_PHONE)
    url = f"/api/v1/incidents/{incident_id}/responses"
    assert client.post(url, json={"message": "¿Qué necesitas?"}, headers=auth("casos.demo")).status_code == 200
    pump(wa_ctx, cloud)
    assert buttons_of(cloud, MOTHER_PHONE)[-1] == [f"reply:{incident_id}", "menu"]
    chat.new()
    assert "¿Qué quieres hacer?" in chat.button("menu")
    assert "Escribe tu mensaje" in chat.button(f"reply:{incident_id}")
    assert "Agregamos tu mensaje" in chat.text("Que nos llamen por la tarde, por favor.")
    responses = client.get(f"/api/v1/incidents/{incident_id}", headers=auth("madre.demo")).json()["responses"]
    assert [r["author_role"] for r in responses] == ["case_desk", "guardian"]
    # A template's quick-reply button comes as type "button" with a payload: the same choice as the menu's.
    quick = {"type": "button", "button": {"payload": "menu:reports", "text": "Mis reportes"}}
    assert conversation.parse_message(quick) == conversation.Inbound(choice="menu:reports")
    assert conversation.parse_message({"type": "button", "button": {"payload": 7}}) == conversation.Inbound()
    assert "Tus reportes" in chat.send(quick)


# ---- unlinking and the audit -------------------------------------------------------------------------


def test_a_staff_unlink_drops_what_is_queued_and_the_number_gets_only_general_help(
    client: TestClient, auth: Auth, wa_ctx: Context, cloud: FakeCloud, patient_ids: dict[str, str]
) -> None:
    from carnet_server.audit import AuditEntry
    from carnet_server.auth.tables import User

    incident_id = answered_report(client, auth, wa_ctx, cloud, patient_ids[MATEO])
    chat = Chat(client, wa_ctx, cloud, MOTHER_PHONE)
    chat.new()
    sent = len(cloud.sent)
    desk = auth("casos.demo")
    answer = {"message": "Mateo ya tiene su cita de consulta."}
    assert client.post(f"/api/v1/incidents/{incident_id}/responses", json=answer, headers=desk).status_code == 200
    assert client.post("/api/v1/whatsapp/unlink", json={"phone": "55 1111 2222"}, headers=desk).status_code == 204
    pump(wa_ctx, cloud)
    assert len(cloud.sent) == sent
    with wa_ctx.sessions() as session:
        row = session.scalars(select(OutboundMessage).where(OutboundMessage.purpose == "answer")).one()
        assert (row.outcome, row.last_error, row.session_body, row.template) == ("dropped", "unlinked", None, None)
        users = {u.username: u.id for u in session.scalars(select(User))}
        unlinked = session.scalars(select(AuditEntry).where(AuditEntry.action == "whatsapp.unlink")).one()
        assert (unlinked.actor_id, unlinked.actor_role) == (users["casos.demo"], "case_desk")
        assert (unlinked.object_type, unlinked.object_id) == ("user", users["madre.demo"])
        assert unlinked.detail == {"by": "staff"} and MOTHER_PHONE not in repr(unlinked.detail)
    # The chat was waiting for a follow-up to that report; now it gets general help, and the text joins nothing.
    reply = chat.text("¿Ya llegó la respuesta de Mateo?")
    assert "vincula este número" in reply
    for word in ("Mateo", "Valentina", "CE-"):
        assert word not in reply
    responses = client.get(f"/api/v1/incidents/{incident_id}", headers=auth("madre.demo")).json()["responses"]
    assert [r["author_role"] for r in responses] == ["case_desk"]


# ---- Mis reportes -------------------------------------------------------------------------------------


def test_my_reports_state_deadline_last_answer_and_what_is_left_out(
    client: TestClient, auth: Auth, wa_ctx: Context, cloud: FakeCloud, patient_ids: dict[str, str]
) -> None:
    from datetime import datetime

    chat = Chat(client, wa_ctx, cloud, MOTHER_PHONE)
    link(client, auth, chat)
    mother, desk = auth("madre.demo"), auth("casos.demo")

    def report(n: int) -> tuple[str, str]:
        body = {"patient_id": patient_ids[MATEO], "category": "otro", "description": f"Reporte de prueba {n}"}
        made = client.post("/api/v1/incidents", json=body, headers=mother)
        assert made.status_code == 201, made.text
        return made.json()["id"], made.json()["folio"]

    def answer(incident: str, message: str, resolves: bool = False) -> None:
        body = {"message": message, "resolves": resolves}
        assert client.post(f"/api/v1/incidents/{incident}/responses", json=body, headers=desk).status_code == 200

    waiting, overdue, answered, resolved, old, reopened = (report(n) for n in range(6))
    answer(answered[0], "Estamos revisando la receta con farmacia.")
    answer(resolved[0], "La licencia 140-Bis ya está en ventanilla.", resolves=True)
    answer(old[0], "Resuelto hace mucho.", resolves=True)
    answer(reopened[0], "Te llamamos el martes.", resolves=True)
    reason = {"reason": "Nadie nos llamó el martes."}
    assert client.post(f"/api/v1/incidents/{reopened[0]}/reopen", json=reason, headers=mother).status_code == 200
    with wa_ctx.sessions() as session:
        session.execute(update(Incident).where(Incident.id == old[0]).values(resolved_at=utcnow() - timedelta(days=40)))
        session.execute(
            update(Incident)
            .where(Incident.id == overdue[0])
            .values(first_response_due_at=utcnow() - timedelta(hours=2))
        )
        session.commit()
        due = session.get_one(Incident, waiting[0]).first_response_due_at
    pump(wa_ctx, cloud)  # nothing of an app report goes to the chat
    chat.new()

    reply = chat.choose("menu:reports")
    assert reply.startswith("Tus reportes:")
    blocks = {b.split(" ", 1)[0]: b for b in reply.split("\n• ")[1:]}
    local = due.astimezone(wa_ctx.tz)
    assert isinstance(local, datetime)
    assert "Otro problema, recibido; respuesta a más tardar el " in blocks[waiting[1]]
    assert f"{local.day:02d}/{local.month:02d} a las {local:%H:%M}" in blocks[waiting[1]]
    assert "(Mateo)" in blocks[waiting[1]] and "venció" not in blocks[waiting[1]]
    assert "el plazo de respuesta venció el " in blocks[overdue[1]] and "prioridad" in blocks[overdue[1]]
    assert "más tardar" not in blocks[overdue[1]]
    assert "en atención" in blocks[answered[1]]
    assert "Última respuesta: Estamos revisando la receta con farmacia." in blocks[answered[1]]
    assert "más tardar" not in blocks[answered[1]] and "venció" not in blocks[answered[1]]
    assert "atendido" in blocks[resolved[1]]
    assert "Última respuesta: La licencia 140-Bis ya está en ventanilla." in blocks[resolved[1]]
    assert "reabierto" in blocks[reopened[1]]
    assert old[1] not in reply  # answered more than 30 days ago: left out
    rows = cloud.sent[-1]["interactive"]["action"]["sections"][0]["rows"]
    ids = [r["id"] for r in rows]
    assert f"reopen:{resolved[0]}" in ids and f"reply:{waiting[0]}" in ids and f"reply:{reopened[0]}" in ids
    assert not any(old[0] in i for i in ids) and ids[-1] == "menu"

    # Reopen from the list, with a reason (too short first).
    assert "¿Por qué" in chat.choose(f"reopen:{resolved[0]}")
    assert "al menos 5 letras" in chat.text("no")
    assert f"Reabrimos tu reporte {resolved[1]}" in chat.text("Sigue sin estar en ventanilla.")
    assert client.get(f"/api/v1/incidents/{resolved[0]}", headers=mother).json()["status"] == "reabierta"
    # A report that is not answered cannot be reopened; it stays as it was.
    assert "¿Por qué" in chat.choose(f"reopen:{waiting[0]}")
    assert "no se puede reabrir" in chat.text("Quiero reabrirlo de todos modos.")
    assert client.get(f"/api/v1/incidents/{waiting[0]}", headers=mother).json()["status"] == "recibida"


# ---- keeping little ----------------------------------------------------------------------------------


def test_done_messages_keep_no_text_and_old_inbound_rows_are_purged(
    client: TestClient, wa_ctx: Context, cloud: FakeCloud
) -> None:
    from carnet_server.whatsapp.worker import WhatsAppWorker

    assert "vincula este número" in Chat(client, wa_ctx, cloud, STRANGER).text("hola")
    with wa_ctx.sessions() as session:
        rows = list(session.scalars(select(OutboundMessage)))
        assert rows and all(r.done_at is not None and r.outcome == "sent" for r in rows)
        assert all(r.session_body is None and r.template is None for r in rows)
    now = utcnow()
    with wa_ctx.sessions() as session:
        for key, days, processed in (("wamid.old", 31, True), ("wamid.recent", 29, True), ("wamid.stuck", 31, False)):
            at = now - timedelta(days=days)
            session.add(
                InboundMessage(
                    message_id=key,
                    phone=STRANGER,
                    received_at=at,
                    payload=None if processed else {"type": "text"},
                    attempts=0,
                    next_attempt_at=now + timedelta(days=1),
                    processed_at=at if processed else None,
                )
            )
        session.commit()
    with httpx.Client(transport=httpx.MockTransport(cloud)) as http:
        WhatsAppWorker(wa_ctx).periodic_pass(http)  # the worker's pass purges past the retention (30 days)
    with wa_ctx.sessions() as session:
        kept = set(session.scalars(select(InboundMessage.message_id)))
    assert "wamid.old" not in kept and {"wamid.recent", "wamid.stuck"} <= kept
    assert inbound.purge(wa_ctx, now=now) == 0
    week = dataclasses.replace(
        wa_ctx, settings=wa_ctx.settings.model_copy(update={"whatsapp_inbound_retention_days": 7})
    )
    assert inbound.purge(week, now=now) == 1  # the 29-day-old row; the unprocessed one stays
    with wa_ctx.sessions() as session:
        assert "wamid.stuck" in set(session.scalars(select(InboundMessage.message_id)))

    # The outbound rows (the number they went to) go too once finished that long ago; a waiting one stays.
    with wa_ctx.sessions() as session:
        sent = session.scalars(select(OutboundMessage)).first()
        assert sent is not None and sent.done_at is not None
        sent.done_at = now - timedelta(days=31)
        waiting = OutboundMessage(
            phone=STRANGER, purpose="reply", session_body={"type": "text"}, attempts=0, next_attempt_at=now,
            created_at=now - timedelta(days=40),
        )
        session.add(waiting)
        session.commit()
        old_id, waiting_id = sent.id, waiting.id
    assert outbox.purge(wa_ctx, now=now) >= 1
    with wa_ctx.sessions() as session:
        left = set(session.scalars(select(OutboundMessage.id)))
    assert old_id not in left and waiting_id in left


# ---- edges -------------------------------------------------------------------------------------------


def test_an_expired_code_is_refused(client: TestClient, auth: Auth, wa_ctx: Context, cloud: FakeCloud) -> None:
    code = client.post("/api/v1/me/whatsapp/link-code", headers=auth("madre.demo")).json()["code"]
    with wa_ctx.sessions() as session:
        session.execute(update(LinkCode).values(expires_at=utcnow() - timedelta(minutes=1)))
        session.commit()
    reply = Chat(client, wa_ctx, cloud, MOTHER_PHONE).text(code)
    assert "no es válido o ya venció" in reply and "Pide uno nuevo en la app" in reply
    with wa_ctx.sessions() as session:
        assert session.scalar(select(func.count()).select_from(WhatsAppLink)) == 0
    assert client.get("/api/v1/me/whatsapp", headers=auth("madre.demo")).json()["linked"] is False


def test_a_message_outside_the_window_without_a_template_is_dropped(
    client: TestClient, wa_ctx: Context, cloud: FakeCloud
) -> None:
    Chat(client, wa_ctx, cloud, STRANGER).text("hola")
    sent = len(cloud.sent)
    with wa_ctx.sessions() as session:
        outbox.enqueue(session, phone=STRANGER, purpose="reply", text="Una respuesta que llegó tarde")
        session.execute(update(Conversation).values(last_inbound_at=utcnow() - timedelta(hours=25)))
        session.commit()
    pump(wa_ctx, cloud)
    assert len(cloud.sent) == sent
    with wa_ctx.sessions() as session:
        row = session.scalars(select(OutboundMessage).where(OutboundMessage.last_error == "window_closed")).one()
        assert (row.outcome, row.session_body, row.attempts) == ("dropped", None, 0)


def test_a_linked_number_asking_for_a_person_opens_a_report_for_the_desk(
    client: TestClient, auth: Auth, wa_ctx: Context, cloud: FakeCloud, patient_ids: dict[str, str]
) -> None:
    from carnet_server.auth.tables import User

    chat = Chat(client, wa_ctx, cloud, MOTHER_PHONE)
    link(client, auth, chat)
    assert "¿Sobre cuál de tus hijas o hijos" in chat.text("Persona")
    made = chat.choose(f"child:{patient_ids[MATEO]}")
    assert "folio CE-" in made and "Una persona del módulo de atención a casos te escribirá" in made
    assert "¿Sobre cuál" in chat.text("humano")
    chat.text("2")  # the second child of the list (by name): Valentina
    with wa_ctx.sessions() as session:
        mother_id = session.scalars(select(User.id).where(User.username == "madre.demo")).one()
        rows = list(session.scalars(select(Incident).where(Incident.channel == "whatsapp").order_by(Incident.folio)))
    assert [(r.category, r.reporter_id) for r in rows] == [("otro", mother_id)] * 2
    assert {r.patient_id for r in rows} == {patient_ids[MATEO], patient_ids["Valentina Hernández"]}
    queue = client.get("/api/v1/incidents", headers=auth("casos.demo")).json()
    assert {r.id for r in rows} <= {i["id"] for i in queue if i["channel"] == "whatsapp"}


def test_queued_messages_to_a_deactivated_guardian_are_not_sent(
    client: TestClient, auth: Auth, wa_ctx: Context, cloud: FakeCloud, patient_ids: dict[str, str]
) -> None:
    from carnet_server.auth.tables import User

    incident_id = answered_report(client, auth, wa_ctx, cloud, patient_ids[MATEO])
    sent = len(cloud.sent)
    body = {"message": "Listo, ya está."}
    assert client.post(f"/api/v1/incidents/{incident_id}/responses", json=body, headers=auth("casos.demo")).is_success
    with wa_ctx.sessions() as session:
        session.execute(update(User).where(User.username == "madre.demo").values(active=False))
        session.commit()
    pump(wa_ctx, cloud)
    assert len(cloud.sent) == sent
    with wa_ctx.sessions() as session:
        row = session.scalars(select(OutboundMessage).where(OutboundMessage.purpose == "answer")).one()
        assert (row.outcome, row.last_error, row.session_body) == ("dropped", "inactive", None)


def test_five_wrong_codes_lock_the_number_out_for_fifteen_minutes(
    client: TestClient, auth: Auth, wa_ctx: Context, cloud: FakeCloud
) -> None:
    from carnet_server.audit import AuditEntry

    chat = Chat(client, wa_ctx, cloud, STRANGER)
    for wrong in ("CARNET-22222", "CARNET-33333", "CARNET-44444", "CARNET-55555"):
        assert "no es válido" in chat.text(wrong)
    fifth = chat.text("CARNET-66666")
    assert "demasiados códigos incorrectos" in fifth and "espera 15 minutos" in fifth
    code = client.post("/api/v1/me/whatsapp/link-code", headers=auth("madre.demo")).json()["code"]
    assert "demasiados códigos incorrectos" in chat.text(code)  # even the right one, while locked
    with wa_ctx.sessions() as session:
        assert session.scalar(select(func.count()).select_from(WhatsAppLink)) == 0
        assert session.scalar(select(func.count()).select_from(LinkCode)) == 1  # the codes tried are not kept
        chat_row = session.get_one(Conversation, STRANGER)
        assert chat_row.link_locked_until is not None
        assert chat_row.link_locked_until > utcnow() + timedelta(minutes=14)
        lockouts = list(session.scalars(select(AuditEntry).where(AuditEntry.action == "whatsapp.link_code.lockout")))
        assert len(lockouts) == 1 and STRANGER not in repr((lockouts[0].detail, lockouts[0].object_id))
        chat_row.link_locked_until = utcnow() - timedelta(seconds=1)  # fifteen minutes later
        session.commit()
    assert "quedó vinculado" in chat.text(code)
    # Another number was never locked.
    assert "no es válido" in Chat(client, wa_ctx, cloud, MOTHER_PHONE).text("CARNET-77777")
