"""Incident reports: the app's real services against the real server on loopback.

(a) A missing medicine reported with the server unreachable waits in the outbox
as "Pendiente de enviar"; then syncs twice, the first answer lost on the way
back (the flaky proxy cuts it): the server holds exactly one new incident
(counted through the API) and the phone shows it with the server's folio.

(b) The case desk (real API) resolves it; the phone sees the answer after a
sync, says "No se resolvió" offline, and the reopening reaches the server
(status ``reabierta``, once) on the next sync.

(c) A report with a camera photo (EXIF with GPS and an orientation tag) and a
phone-sized PNG over the server's 5 MB, made offline: each is prepared on the
phone (upright, at most 1600 px, a JPEG without metadata) and waits encrypted,
goes after the report, the first one's answer is lost on the way back, and the
server ends up with exactly two photos, upright and small, with no metadata;
the family's "Mis reportes" shows their thumbnails (its own, or fetched with
its session).
"""

from __future__ import annotations

import io
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from carnet.data.records import Mark
from carnet.core.config import AppConfig
from carnet.data.outbox import Backoff
from carnet.incidents.photos import thumbnail
from carnet.shell.session import AppSession
from carnet.core.navigation import Phase
from carnet_contract import models as contract
from tests.support.flaky_proxy import FlakyProxy
from tests.support.photos import assert_clean_upright_jpeg, camera_jpeg, noisy_png
from tests.support.processes import running_server
from tests.support.secret_stores import DictSecretStore

PASSWORD = "carnet-demo"
QUIET_SECONDS = 60.0

pytestmark = pytest.mark.anyio


def api_login(client: httpx.Client, username: str) -> dict[str, str]:
    answer = client.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def server_incidents(url: str) -> list[dict[str, Any]]:
    """Every incident of madre.demo's children, through the API."""
    with httpx.Client(base_url=url, timeout=15.0) as client:
        answer = client.get("/api/v1/incidents", headers=api_login(client, "madre.demo"))
        assert answer.status_code == 200, answer.text
        return list(answer.json())


async def _session(url: str, home: Path) -> AppSession:
    session = AppSession(AppConfig(api_base_url=url, api_timeout_seconds=5.0), DictSecretStore(), home,
                         backoff=Backoff(base=0.01, cap=0.05))
    await session.start()
    await session.login("madre.demo", PASSWORD)
    assert session.state.phase is Phase.READY, session.state.login_error
    return session


def _report(session: AppSession, text: str) -> str:
    mateo = next(c for c in session.state.children if c.display_name == "Mateo Hernández")
    session.select_child(mateo.id)
    session.report.start()
    form = session.state.incidents.form
    assert form is not None and form.unit_id, "the child's unit comes from the cached carnet"
    session.report.pick_category(contract.IncidentCategory.MEDICAMENTO)
    form.item_name, form.description = "Metotrexato 2.5 mg", text
    assert session.report.submit(form), form.errors
    assert session.state.incidents.selected_id is not None
    return session.state.incidents.selected_id


async def _sync_until_quiet(session: AppSession) -> None:
    deadline = time.monotonic() + QUIET_SECONDS
    while time.monotonic() < deadline:
        await session.refresh()
        assert session.scope.outbox is not None
        if session.scope.outbox.items() == [] and session.state.online:
            return
        session.scope.outbox.network_is_back(session.clock() + timedelta(hours=1))
    raise AssertionError("the outbox did not empty in time")


async def test_offline_report_synced_twice_with_a_lost_answer_exists_once_then_answer_and_reopen(
        tmp_path: Path) -> None:
    text = "En farmacia no hay desde el lunes (prueba de integración)."
    with running_server(tmp_path / "server") as server:
        port = int(server.url.rsplit(":", 1)[1])
        with FlakyProxy(port, seed=3, drop=0.0, lose_answer=0.0, delay=0.0) as proxy:
            session = await _session(proxy.url, tmp_path / "phone")
            try:
                before = len(server_incidents(server.url))
                proxy.fate.drop = 1.0  # offline
                local_id = _report(session, text)
                view = session.state.selected_report
                assert view is not None and view.mark is Mark.PENDING and view.folio is None
                await session.refresh()
                assert session.state.online is False and session.scope.outbox.pending_count() == 1  # type: ignore[union-attr]
                assert len(server_incidents(server.url)) == before

                proxy.fate.drop, proxy.fate.lose_answer = 0.0, 1.0  # back, but the answer is lost
                session.scope.outbox.network_is_back(session.clock())  # type: ignore[union-attr]
                await session.scope.engine.push()  # type: ignore[union-attr]
                proxy.fate.lose_answer = 0.0
                assert session.scope.outbox.pending_count() == 1, "the phone did not hear back"  # type: ignore[union-attr]
                assert len(server_incidents(server.url)) == before + 1, "but the server has it"

                await _sync_until_quiet(session)
                await session.refresh()  # a second full sync changes nothing
                mine = server_incidents(server.url)
                assert len(mine) == before + 1, "exactly one incident on the server"
                assert sum(1 for i in mine if i["description"] == text) == 1
                selected = session.state.incidents.selected_id
                assert selected is not None and selected != local_id, "the pending report got the server's id"
                view = session.state.selected_report
                [server_side] = [i for i in mine if i["id"] == selected]
                assert view is not None and view.mark is Mark.SYNCED and view.folio == server_side["folio"]
                assert view.status is contract.IncidentStatus.RECIBIDA
                assert sum(1 for r in session.state.incidents.reports if r.description == text) == 1

                # The case desk resolves it through the API; the phone sees the answer after a sync.
                answer_text = "Ya llegó el metotrexato: recójalo el jueves en la farmacia de la UMAE."
                with httpx.Client(base_url=server.url, timeout=15.0) as client:
                    answer = client.post(f"/api/v1/incidents/{selected}/responses",
                                         json={"message": answer_text, "resolves": True},
                                         headers={**api_login(client, "casos.demo"), "Idempotency-Key": "k-desk-1"})
                    assert answer.status_code == 200, answer.text
                await session.refresh()
                view = session.state.selected_report
                assert view is not None and view.status is contract.IncidentStatus.ATENDIDA
                assert view.incident is not None and view.incident.responses[-1].message == answer_text

                proxy.fate.drop = 1.0  # "No se resolvió", offline
                assert session.report.reopen(selected, "En farmacia siguen sin tenerlo.")
                assert session.state.selected_report.mark is Mark.PENDING  # type: ignore[union-attr]
                proxy.fate.drop = 0.0
                await _sync_until_quiet(session)
                view = session.state.selected_report
                assert view is not None and view.status is contract.IncidentStatus.REABIERTA
                [server_side] = [i for i in server_incidents(server.url) if i["id"] == selected]
                assert server_side["status"] == "reabierta"
                assert sum(1 for r in server_side["responses"] if r.get("reopens")) == 1
            finally:
                await session.close()


class LosePhotoAnswerOnce(httpx.AsyncHTTPTransport):
    """The phone's HTTP transport, through the flaky proxy: the first photo upload reaches the server but its
    answer is cut on the way back (the proxy's ``lose_answer``, switched on for that one request only)."""

    def __init__(self, proxy: FlakyProxy) -> None:
        super().__init__()
        self.proxy = proxy
        self.lost = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        lose = request.method == "POST" and request.url.path.endswith("/photos") and not self.lost
        if lose:
            self.lost += 1
            self.proxy.fate.lose_answer = 1.0
        try:
            return await super().handle_async_request(request)
        finally:
            if lose:
                self.proxy.fate.lose_answer = 0.0


async def test_offline_report_with_a_photo_reaches_the_server_once_without_exif(tmp_path: Path) -> None:
    from PIL import Image

    text = "Falta el metotrexato; foto de la receta (prueba de integración)."
    original, large = camera_jpeg(), noisy_png()
    assert len(large) > 5 * 1024 * 1024, "the server would refuse it as it is"
    with running_server(tmp_path / "server") as server:
        port = int(server.url.rsplit(":", 1)[1])
        with FlakyProxy(port, seed=5, drop=0.0, lose_answer=0.0, delay=0.0) as proxy:
            transport = LosePhotoAnswerOnce(proxy)
            session = AppSession(AppConfig(api_base_url=proxy.url, api_timeout_seconds=5.0), DictSecretStore(),
                                 tmp_path / "phone", backoff=Backoff(base=0.01, cap=0.05), transport=transport)
            try:
                await session.start()
                await session.login("madre.demo", PASSWORD)
                assert session.state.phase is Phase.READY, session.state.login_error
                proxy.fate.drop = 1.0  # offline
                mateo = next(c for c in session.state.children if c.display_name == "Mateo Hernández")
                session.select_child(mateo.id)
                session.report.start()
                assert await session.report.add_photos([("receta.jpg", original), ("caja.png", large)])
                form = session.state.incidents.form
                assert form is not None and len(form.photos) == 2, form.errors
                thumbs = [p.thumb for p in form.photos]
                session.report.pick_category(contract.IncidentCategory.MEDICAMENTO)
                form.item_name, form.description = "Metotrexato 2.5 mg", text
                assert session.report.submit(form), form.errors
                await session.refresh()
                assert session.state.online is False and len(session.scope.outbox.items()) == 3  # type: ignore[union-attr]
                phone_db = (tmp_path / "phone" / "carnet-cache.sqlite3").read_bytes()
                assert b"TelefonoDeLaMama" not in phone_db and original[-48:] not in phone_db

                proxy.fate.drop = 0.0  # back: the report goes, the first photo's answer is lost once
                session.scope.outbox.network_is_back(session.clock())  # type: ignore[union-attr]
                await session.scope.engine.push()  # type: ignore[union-attr]
                assert transport.lost == 1
                waiting = session.scope.outbox.items()  # type: ignore[union-attr]
                assert [w.type for w in waiting] == ["incident_photo"] * 2, "no answer about the first photo"
                [on_server] = [i for i in server_incidents(server.url) if i["description"] == text]
                assert len(on_server["photos"]) == 1, "but the server has it"
                await _sync_until_quiet(session)
                await session.refresh()  # a second full sync changes nothing
                mine = [i for i in server_incidents(server.url) if i["description"] == text]
                assert len(mine) == 1, "one incident"
                [incident] = mine
                assert len(incident["photos"]) == 2, "two photos, although the first was sent twice"
                assert [p["content_type"] for p in incident["photos"]] == ["image/jpeg"] * 2
                assert all(p["size"] < 1024 * 1024 for p in incident["photos"]), "small copies went"

                stored: list[bytes] = []
                with httpx.Client(base_url=server.url, timeout=15.0) as client:
                    for photo in incident["photos"]:
                        got = client.get(photo["url"], headers=api_login(client, "madre.demo"))
                        assert got.status_code == 200
                        stored.append(got.content)
                        for other in ("padre.demo",):  # another family: it does not exist for them
                            assert client.get(photo["url"], headers=api_login(client, other)).status_code == 404
                        desk = client.get(photo["url"], headers=api_login(client, "casos.demo"))
                        assert desk.status_code == 200 and desk.content == got.content
                assert [assert_clean_upright_jpeg(data).size for data in stored] == [(300, 400), (1600, 1200)]
                with Image.open(io.BytesIO(stored[0])) as image:  # upright: the red half on top
                    top, bottom = image.convert("RGB").getpixel((150, 40)), image.convert("RGB").getpixel((150, 360))
                    assert top[0] > 200 and bottom[2] > 200, (top, bottom)

                # "Mis reportes": the phone's own thumbnails stand for the server's photos (nothing fetched)…
                view = session.state.selected_report
                assert view is not None and view.id == incident["id"] and view.photos == ()
                session.report.open(view.id)
                if session.report.photo_task is not None:
                    await session.report.photo_task
                shown = session.report.photos(session.state.selected_report)  # type: ignore[arg-type]
                assert [s.data for s in shown] == thumbs
                # … and a phone without them fetches the photos with its session and keeps thumbnails only.
                session.scope.incidents.prune_photos(keep_photos=set(), keep_drafts=set())  # type: ignore[union-attr]
                assert await session.report.load_photos() == 2
                shown = session.report.photos(session.state.selected_report)  # type: ignore[arg-type]
                assert [s.data for s in shown] == [thumbnail(data) for data in stored]
                phone_db = (tmp_path / "phone" / "carnet-cache.sqlite3").read_bytes()
                assert all(data[-48:] not in phone_db for data in stored)
            finally:
                await session.close()
