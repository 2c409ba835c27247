"""Incidents API: reporting, visibility (404), roles (403), the state flow, photos, idempotency, sync."""

from __future__ import annotations

import io
import re
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from PIL import ExifTags, Image
from sqlalchemy import func, select
from starlette.testclient import TestClient

from carnet_server.audit import AuditEntry
from carnet_server.context import Context
from carnet_server.incidents.tables import Incident, IncidentPhoto, IncidentReply
from tests.server.conftest import assert_error, sync_all
from tests.server.incident_support import INCIDENTS, LEON, RAZA, SXXI, body, case_desk_of, principal, unit_id

Auth = Callable[[str], dict[str, str]]
FOLIO_RE = re.compile(r"CE-\d{4}-\d{6}")
ANSWER = "Se surtió la vincristina en la farmacia de la UMAE; puede recogerla con su carnet en la ventanilla 3."


def counts(ctx: Context) -> tuple[int, int, int]:
    """(incidents, replies, photos): what a refused write must not change."""
    with ctx.sessions() as session:
        return tuple(int(session.scalar(select(func.count()).select_from(t)) or 0)  # type: ignore[return-value]
                     for t in (Incident, IncidentReply, IncidentPhoto))


@pytest.fixture
def s(client: TestClient, auth: Auth, patient_ids: dict[str, str]) -> dict[str, Any]:
    return {"madre": auth("madre.demo"), "luis": auth("luis.torres"), "padre": auth("padre.demo"),
            "casos": auth("casos.demo"), "admin": auth("admin.demo"), "farmacia": auth("farmacia.demo"),
            "mateo": patient_ids["Mateo Hernández"], "valentina": patient_ids["Valentina Hernández"],
            "camila": patient_ids["Camila Torres"], "santiago": patient_ids["Santiago Ramírez"]}


def report(client: TestClient, headers: dict[str, str], patient_id: str, **changes: Any) -> dict[str, Any]:
    response = client.post(INCIDENTS, json=body(patient_id, **changes), headers=headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


def answer(client: TestClient, s: dict[str, Any], incident: str, message: str = "Estamos revisando su caso.",
           resolves: bool = False, who: str = "casos") -> Any:
    return client.post(f"{INCIDENTS}/{incident}/responses", json={"message": message, "resolves": resolves},
                       headers=s[who])


# ---- reporting ---------------------------------------------------------------------------------


def test_guardian_reports_and_reads(client: TestClient, ctx: Context, s: dict[str, Any]) -> None:
    before = datetime.now().astimezone()
    made = report(client, s["madre"], s["mateo"])
    assert FOLIO_RE.fullmatch(made["folio"]) and made["status"] == "recibida"
    assert made["unit"]["name"] == SXXI and made["item_name"] == "Vincristina" and made["responses"] == []
    created = datetime.fromisoformat(made["created_at"])
    assert created >= before - timedelta(seconds=1)
    assert datetime.fromisoformat(made["first_response_due_at"]) - created == timedelta(hours=4)
    assert 14_000 < made["seconds_left"] <= 14_400 and made["overdue"] is False
    me = principal(ctx, "madre.demo")
    assert me.id not in str(made) and "reporter" not in str(made)
    listed = client.get(INCIDENTS, headers=s["madre"]).json()
    assert listed[0]["id"] == made["id"]
    assert [i["created_at"] for i in listed] == sorted((i["created_at"] for i in listed), reverse=True)
    assert {i["patient_id"] for i in listed} <= {s["mateo"], s["valentina"]}
    one = client.get(f"{INCIDENTS}/{made['id']}", headers=s["madre"]).json()
    assert one["folio"] == made["folio"] and one["description"] == made["description"]
    second = report(client, s["madre"], s["mateo"], category="otro", item_name=None)
    assert int(second["folio"][-6:]) == int(made["folio"][-6:]) + 1


def test_unit_defaults_to_the_childs_and_may_not_be_another(client: TestClient, ctx: Context,
                                                           s: dict[str, Any]) -> None:
    """A family reports only to the unit that treats the child: another unit's desk would see the child."""
    made = report(client, s["madre"], s["mateo"], category="atencion_medica", item_name=None)
    assert made["unit"]["name"] == SXXI and made["item_name"] is None
    named = report(client, s["madre"], s["mateo"], unit_id=unit_id(ctx, SXXI))
    assert named["unit"]["name"] == SXXI
    before = counts(ctx)
    for language, text in (("es", "no atiende"), ("en", "does not treat")):
        refused = client.post(INCIDENTS, json=body(s["mateo"], unit_id=unit_id(ctx, RAZA)),
                              headers={**s["madre"], "Accept-Language": language})
        assert_error(refused, 422, "unit_not_treating")
        assert text in refused.text
    assert counts(ctx) == before


@pytest.mark.parametrize(("changes", "code"), [
    ({"category": ...}, "validation_error"),
    ({"category": "farmacia"}, "validation_error"),
    ({"description": "hey"}, "validation_error"),
    ({"description": "x" * 2001}, "validation_error"),
    ({"colour": "red"}, "validation_error"),
    ({"item_name": ...}, "item_name_required"),
    ({"item_name": "   "}, "item_name_required"),
    ({"category": "insumo", "item_name": None}, "item_name_required"),
    ({"unit_id": "nope"}, "unknown_unit"),
    ({"unit_id": "x" * 40}, "unknown_unit"),
])
def test_bad_bodies_are_422_and_change_nothing(client: TestClient, ctx: Context, s: dict[str, Any],
                                               changes: dict[str, Any], code: str) -> None:
    before = counts(ctx)
    assert_error(client.post(INCIDENTS, json=body(s["mateo"], **changes), headers=s["madre"]), 422, code)
    assert counts(ctx) == before


def test_not_json_is_400(client: TestClient, s: dict[str, Any]) -> None:
    assert_error(client.post(INCIDENTS, content=b"{", headers={**s["madre"], "Content-Type": "application/json"}),
                 400, "invalid_json")


def test_only_the_childs_guardian_reports(client: TestClient, ctx: Context, s: dict[str, Any]) -> None:
    before = counts(ctx)
    assert_error(client.post(INCIDENTS, json=body(s["camila"]), headers=s["madre"]), 404, "patient_not_found")
    assert_error(client.post(INCIDENTS, json=body("nope"), headers=s["madre"]), 404, "patient_not_found")
    for who in ("casos", "admin", "farmacia"):
        assert_error(client.post(INCIDENTS, json=body(s["mateo"]), headers=s[who]), 403, "forbidden")
    assert_error(client.post(INCIDENTS, json=body(s["mateo"])), 401)
    assert counts(ctx) == before


def test_idempotent_creation(client: TestClient, ctx: Context, s: dict[str, Any]) -> None:
    before = counts(ctx)[0]
    headers = {**s["madre"], "Idempotency-Key": str(uuid.uuid4())}
    first = client.post(INCIDENTS, json=body(s["mateo"]), headers=headers)
    again = client.post(INCIDENTS, json=body(s["mateo"]), headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.headers.get("Idempotent-Replayed") == "true" and again.json()["id"] == first.json()["id"]
    assert counts(ctx)[0] == before + 1
    assert_error(client.post(INCIDENTS, json=body(s["mateo"], description="Otro texto distinto."),
                             headers=headers), 422, "idempotency_key_reused")


# ---- visibility and roles ---------------------------------------------------------------------------


def test_case_desk_sees_its_units_admin_all(client: TestClient, ctx: Context, s: dict[str, Any], auth: Auth) -> None:
    leon = report(client, s["padre"], s["santiago"], category="licencia_140_bis", item_name=None)
    case_desk_of(ctx, LEON)
    casos = client.get(INCIDENTS, headers=s["casos"]).json()
    assert casos and {i["unit"]["name"] for i in casos} <= {SXXI, RAZA} and leon["id"] not in {i["id"] for i in casos}
    other = client.get(INCIDENTS, headers=auth("casos.leon")).json()
    assert [i["id"] for i in other] == [leon["id"]]
    everything = client.get(INCIDENTS, headers=s["admin"]).json()
    assert {i["id"] for i in casos} | {leon["id"]} == {i["id"] for i in everything}
    assert_error(client.get(f"{INCIDENTS}/{casos[0]['id']}", headers=auth("casos.leon")), 404, "incident_not_found")
    assert client.get(f"{INCIDENTS}/{leon['id']}", headers=auth("casos.leon")).status_code == 200
    assert_error(client.get(INCIDENTS, headers=s["farmacia"]), 403, "forbidden")
    assert_error(client.get(f"{INCIDENTS}/{leon['id']}", headers=s["farmacia"]), 403, "forbidden")


def test_staff_see_which_child_guardians_get_the_familys_view(client: TestClient, ctx: Context, s: dict[str, Any],
                                                               auth: Auth) -> None:
    """Issue #16 item 12: the case desk sees the child's name and unit; guardians' answers stay as they were."""
    made = report(client, s["madre"], s["mateo"])
    leon = report(client, s["padre"], s["santiago"], category="licencia_140_bis", item_name=None)
    url = f"{INCIDENTS}/{made['id']}"
    for who in ("casos", "admin"):
        listed = {i["id"]: i for i in client.get(INCIDENTS, headers=s[who]).json()}
        assert listed[made["id"]]["patient_name"] == "Mateo Hernández López"
        assert listed[made["id"]]["unit"]["name"] == SXXI
        assert all(i["patient_name"] for i in listed.values())
        one = client.get(url, headers=s[who]).json()
        assert (one["patient_name"], one["unit"]["name"]) == ("Mateo Hernández López", SXXI)
    answered = answer(client, s, made["id"]).json()
    assert answered["patient_name"] == "Mateo Hernández López"
    # Guardians: the field is absent from every answer they get.
    assert "patient_name" not in made and "patient_name" not in client.get(url, headers=s["madre"]).json()
    assert all("patient_name" not in i for i in client.get(INCIDENTS, headers=s["madre"]).json())
    reopened = client.post(f"{url}/reopen", json={"reason": "Sigue sin resolverse."}, headers=s["madre"])
    assert reopened.status_code == 409 and "patient_name" not in reopened.text
    photo = client.post(f"{url}/photos", files={"file": ("a.png", png_bytes(), "image/png")}, headers=s["madre"])
    assert photo.status_code == 201 and "patient_name" not in photo.json()
    # A desk of another unit still sees nothing of it, name included.
    case_desk_of(ctx, LEON)
    other = client.get(INCIDENTS, headers=auth("casos.leon")).json()
    assert [(i["id"], i["patient_name"]) for i in other] == [(leon["id"], "Santiago Ramírez Cruz")]
    hidden = client.get(url, headers=auth("casos.leon"))
    assert_error(hidden, 404, "incident_not_found")
    assert "Mateo" not in hidden.text
    # Staff reads stay audited, with ids only (no name in the detail).
    with ctx.sessions() as session:
        rows = list(session.scalars(select(AuditEntry).where(AuditEntry.action.in_(["incident.read",
                                                                                     "incident.list.read"]))))
    assert {r.actor_role for r in rows if r.action == "incident.read" and r.object_id == made["id"]} == {
        "case_desk", "admin"}
    assert not any("Hernández" in str(r.detail) or "Ramírez" in str(r.detail) for r in rows)


def test_filters(client: TestClient, ctx: Context, s: dict[str, Any]) -> None:
    demo = client.get(INCIDENTS, headers=s["casos"]).json()
    assert {i["status"] for i in demo} == {"recibida", "en_atencion", "atendida", "reabierta"}
    for status in ("recibida", "atendida"):
        got = client.get(INCIDENTS, params={"status": status}, headers=s["casos"]).json()
        assert got and all(i["status"] == status for i in got)
    got = client.get(INCIDENTS, params={"category": "insumo", "unit_id": unit_id(ctx, RAZA)}, headers=s["casos"]).json()
    assert got and all(i["category"] == "insumo" and i["unit"]["name"] == RAZA for i in got)
    got = client.get(INCIDENTS, params={"patient_id": s["valentina"]}, headers=s["madre"]).json()
    assert got and all(i["patient_id"] == s["valentina"] for i in got)
    assert_error(client.get(INCIDENTS, params={"patient_id": s["mateo"]}, headers=s["luis"]), 404, "patient_not_found")
    assert_error(client.get(INCIDENTS, params={"status": "cerrada"}, headers=s["casos"]), 422, "validation_error")


def png_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), "blue").save(out, format="PNG")
    return out.getvalue()


def test_cross_family_is_404_on_every_endpoint(client: TestClient, ctx: Context, s: dict[str, Any]) -> None:
    made = report(client, s["madre"], s["mateo"])
    answer(client, s, made["id"], ANSWER, resolves=True)
    photo = client.post(f"{INCIDENTS}/{made['id']}/photos", files={"file": ("a.png", png_bytes(), "image/png")},
                        headers=s["madre"]).json()["photos"][0]
    before = counts(ctx)
    base = f"{INCIDENTS}/{made['id']}"
    for headers in (s["luis"], s["padre"]):
        assert_error(client.get(base, headers=headers), 404, "incident_not_found")
        assert_error(client.post(f"{base}/responses", json={"message": ANSWER, "resolves": True}, headers=headers),
                     404, "incident_not_found")
        assert_error(client.post(f"{base}/reopen", json={"reason": "No llegó nada."}, headers=headers),
                     404, "incident_not_found")
        assert_error(client.post(f"{base}/photos", files={"file": ("a.png", png_bytes(), "image/png")},
                                 headers=headers), 404, "incident_not_found")
        assert_error(client.get(f"{base}/photos/{photo['id']}", headers=headers), 404, "incident_not_found")
    assert_error(client.get(f"{INCIDENTS}/nope", headers=s["madre"]), 404, "incident_not_found")
    assert_error(client.get(f"{base}/photos/nope", headers=s["madre"]), 404, "photo_not_found")
    assert counts(ctx) == before


# ---- states -------------------------------------------------------------------------------------------------


def test_state_flow(client: TestClient, ctx: Context, s: dict[str, Any]) -> None:
    made = report(client, s["madre"], s["mateo"])
    url = f"{INCIDENTS}/{made['id']}"
    first = answer(client, s, made["id"])
    assert first.status_code == 200, first.text
    got = first.json()
    assert got["status"] == "en_atencion" and got["first_response_at"] and got["seconds_left"] is None
    assert got["overdue"] is False and got["resolved_at"] is None
    assert got["responses"] == [{"author_role": "case_desk", "author_label": "Oficina de atención a casos",
                               "message": "Estamos revisando su caso.", "created_at": got["responses"][0]["created_at"],
                               "resolves": False, "reopens": False}]
    before = counts(ctx)
    for message in ("", "          ", "ok", "  listo   "):
        assert_error(answer(client, s, made["id"], message, resolves=True), 422, "answer_required")
    assert_error(answer(client, s, made["id"], "   "), 422, "message_required")
    assert counts(ctx) == before and client.get(url, headers=s["madre"]).json()["status"] == "en_atencion"
    done = answer(client, s, made["id"], ANSWER, resolves=True).json()
    assert done["status"] == "atendida" and done["resolved_at"] and done["responses"][-1]["resolves"] is True
    assert done["first_response_at"] == got["first_response_at"]
    assert_error(answer(client, s, made["id"], "Otra nota más para la familia."), 409, "already_resolved")
    reopened = client.post(f"{url}/reopen", json={"reason": "En la farmacia siguen sin vincristina."},
                           headers=s["madre"])
    assert reopened.status_code == 200, reopened.text
    r = reopened.json()
    assert r["status"] == "reabierta" and r["resolved_at"] is None
    assert r["responses"][-1] | {"created_at": None} == {
        "author_role": "guardian", "author_label": "Familia", "message": "En la farmacia siguen sin vincristina.",
        "created_at": None, "resolves": False, "reopens": True}
    again = answer(client, s, made["id"], "Lo revisamos de nuevo con el almacén.", who="admin").json()
    assert again["status"] == "en_atencion"
    final = answer(client, s, made["id"], ANSWER, resolves=True).json()
    assert final["status"] == "atendida" and len(final["responses"]) == 5


def test_who_may_answer_and_reopen(client: TestClient, ctx: Context, s: dict[str, Any], auth: Auth) -> None:
    made = report(client, s["madre"], s["mateo"])
    url = f"{INCIDENTS}/{made['id']}"
    case_desk_of(ctx, LEON)
    before = counts(ctx)
    assert_error(answer(client, s, made["id"], ANSWER, resolves=True, who="madre"), 403, "forbidden")
    assert_error(client.post(f"{url}/responses", json={"message": ANSWER}, headers=auth("casos.leon")),
                 404, "incident_not_found")
    assert_error(answer(client, s, made["id"], who="farmacia"), 403, "forbidden")
    assert_error(client.post(f"{url}/reopen", json={"reason": "No se resolvió."}, headers=s["madre"]),
                 409, "not_resolved")
    assert counts(ctx) == before
    answer(client, s, made["id"], ANSWER, resolves=True)
    before = counts(ctx)
    for who in ("casos", "admin"):
        assert_error(client.post(f"{url}/reopen", json={"reason": "No se resolvió."}, headers=s[who]),
                     403, "forbidden")
    assert_error(client.post(f"{url}/reopen", json={"reason": "no"}, headers=s["madre"]), 422, "validation_error")
    assert counts(ctx) == before
    assert client.get(url, headers=s["madre"]).json()["status"] == "atendida"


def test_staff_access_is_audited_without_personal_data(client: TestClient, ctx: Context, s: dict[str, Any]) -> None:
    made = report(client, s["madre"], s["mateo"], description="Texto privado de la familia López.")
    client.get(f"{INCIDENTS}/{made['id']}", headers=s["casos"])
    client.get(INCIDENTS, headers=s["casos"])
    answer(client, s, made["id"], "Respuesta con datos: Mariana López.")
    with ctx.sessions() as session:
        rows = list(session.scalars(select(AuditEntry).where(AuditEntry.action.like("incident.%"))))
    actions = {(r.action, r.actor_role) for r in rows}
    assert {("incident.read", "case_desk"), ("incident.list.read", "case_desk"), ("incident.reply", "case_desk"),
            ("incident.create", "guardian")} <= actions
    assert not any("López" in str(r.detail) or "privado" in str(r.detail) for r in rows)


# ---- photos ------------------------------------------------------------------------------------------------


def jpeg_with_gps() -> bytes:
    image = Image.new("RGB", (64, 48), "red")
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "TelefonoDemo"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (19.0, 24.0, 30.0)
    gps[ExifTags.GPS.GPSLongitudeRef] = "W"
    gps[ExifTags.GPS.GPSLongitude] = (99.0, 9.0, 15.0)
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif)
    return out.getvalue()


def upload(client: TestClient, headers: dict[str, str], incident: str, data: bytes, name: str = "foto.jpg",
           content_type: str = "image/jpeg") -> Any:
    return client.post(f"{INCIDENTS}/{incident}/photos", files={"file": (name, data, content_type)}, headers=headers)


def test_photo_is_stored_without_exif(client: TestClient, ctx: Context, s: dict[str, Any]) -> None:
    original = jpeg_with_gps()
    with Image.open(io.BytesIO(original)) as check:  # the fixture really carries GPS
        assert check.getexif().get_ifd(ExifTags.IFD.GPSInfo)
    made = report(client, s["madre"], s["mateo"])
    response = upload(client, s["madre"], made["id"], original)
    assert response.status_code == 201, response.text
    photo = response.json()["photos"][0]
    assert photo["content_type"] == "image/jpeg" and photo["url"] == f"{INCIDENTS}/{made['id']}/photos/{photo['id']}"
    with ctx.sessions() as session:
        row = session.get_one(IncidentPhoto, photo["id"])
        stored = (ctx.settings.data_dir / row.path).read_bytes()
    assert row.path.startswith(f"files/incidents/{made['id']}/") and len(stored) == photo["size"]
    assert b"Exif" not in stored and b"TelefonoDemo" not in stored
    with Image.open(io.BytesIO(stored)) as image:
        assert image.format == "JPEG" and image.size == (64, 48)
        assert not image.getexif() and "exif" not in image.info
    for who in ("madre", "casos", "admin"):
        got = client.get(photo["url"], headers=s[who])
        assert got.status_code == 200 and got.content == stored and got.headers["content-type"] == "image/jpeg"
    png = upload(client, s["madre"], made["id"], png_bytes(), "x.png", "image/png").json()["photos"][1]
    assert png["content_type"] == "image/png"


def test_photo_limits(client: TestClient, ctx: Context, s: dict[str, Any]) -> None:
    made = report(client, s["madre"], s["mateo"])
    before = counts(ctx)
    assert_error(upload(client, s["madre"], made["id"], b"hola, esto no es una foto", "x.jpg"), 415,
                 "unsupported_media_type")
    assert_error(upload(client, s["madre"], made["id"], b"GIF89a" + b"\0" * 40, "x.gif", "image/gif"), 415,
                 "unsupported_media_type")
    assert_error(upload(client, s["madre"], made["id"], b"\xff\xd8\xff\xe0" + b"\0" * 100), 415,
                 "unsupported_media_type")  # a JPEG header on garbage
    big = b"\xff\xd8\xff\xe0" + b"\0" * (5 * 1024 * 1024)
    assert_error(upload(client, s["madre"], made["id"], big), 413, "photo_too_large")
    assert_error(upload(client, s["casos"], made["id"], png_bytes(), "x.png"), 403, "forbidden")
    assert_error(client.post(f"{INCIDENTS}/{made['id']}/photos", headers=s["madre"]), 422, "validation_error")
    assert counts(ctx) == before
    for _ in range(3):
        assert upload(client, s["madre"], made["id"], png_bytes(), "x.png").status_code == 201
    assert_error(upload(client, s["madre"], made["id"], png_bytes(), "x.png"), 409, "too_many_photos")
    assert counts(ctx)[2] == before[2] + 3
    files = list((ctx.settings.data_dir / "files" / "incidents" / made["id"]).iterdir())
    assert len(files) == 3


def keyed_upload(client: TestClient, headers: dict[str, str], incident: str, data: bytes, key: str,
                 boundary: str | None = None) -> Any:
    """A multipart upload with an ``Idempotency-Key`` and a fixed boundary (the app's: the same bytes on a retry)."""
    boundary = boundary or f"carnet-{key}"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"foto.png\"\r\n"
            f"Content-Type: image/png\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    return client.post(f"{INCIDENTS}/{incident}/photos", content=body, headers={
        **headers, "Idempotency-Key": key, "Content-Type": f"multipart/form-data; boundary={boundary}"})


def test_photo_retry_with_its_key_is_stored_once(client: TestClient, ctx: Context, s: dict[str, Any]) -> None:
    made = report(client, s["madre"], s["mateo"])
    key = str(uuid.uuid4())
    first = keyed_upload(client, s["madre"], made["id"], png_bytes(), key)
    assert first.status_code == 201, first.text
    before = counts(ctx)
    again = keyed_upload(client, s["madre"], made["id"], png_bytes(), key)  # the answer was lost: sent again
    assert again.status_code == 201 and again.headers.get("Idempotent-Replayed") == "true"
    assert again.json() == first.json() and len(again.json()["photos"]) == 1
    assert counts(ctx) == before
    files = list((ctx.settings.data_dir / "files" / "incidents" / made["id"]).iterdir())
    assert len(files) == 1
    other = keyed_upload(client, s["madre"], made["id"], png_bytes(), str(uuid.uuid4()))  # a new photo, a new key
    assert other.status_code == 201 and len(other.json()["photos"]) == 2


def test_photo_key_reused_for_other_bytes_is_422(client: TestClient, ctx: Context, s: dict[str, Any]) -> None:
    made = report(client, s["madre"], s["mateo"])
    key = str(uuid.uuid4())
    assert keyed_upload(client, s["madre"], made["id"], png_bytes(), key).status_code == 201
    before = counts(ctx)
    assert_error(keyed_upload(client, s["madre"], made["id"], png_bytes() + b"\0", key), 422,
                 "idempotency_key_reused")
    assert_error(keyed_upload(client, s["madre"], made["id"], b"\xff\xd8\xff\xe0" + b"\0" * (6 * 1024 * 1024),
                              str(uuid.uuid4())), 413, "photo_too_large")  # refused before it is held whole
    refused_key = str(uuid.uuid4())
    assert_error(keyed_upload(client, s["madre"], made["id"], b"no es una foto", refused_key), 415,
                 "unsupported_media_type")
    assert_error(keyed_upload(client, s["madre"], made["id"], b"no es una foto", refused_key), 415,
                 "unsupported_media_type")  # the refusal is kept under its key too
    assert counts(ctx) == before


# ---- sync -------------------------------------------------------------------------------------------------


def sync_changes(client: TestClient, headers: dict[str, str], cursor: str = "") -> tuple[list[dict[str, Any]], str]:
    changes, cursor, _pages = sync_all(client, headers, cursor)
    return changes, cursor


def test_sync_carries_the_incident_with_its_replies(client: TestClient, s: dict[str, Any]) -> None:
    initial, cursor = sync_changes(client, s["madre"])
    demo = [c for c in initial if c["type"] == "incident"]
    assert demo and all(c["data"]["patient_id"] in (s["mateo"], s["valentina"]) for c in demo)
    assert any(c["data"]["status"] == "atendida" and c["data"]["responses"] for c in demo)
    made = report(client, s["madre"], s["mateo"])
    answer(client, s, made["id"], ANSWER, resolves=True)
    changes, cursor = sync_changes(client, s["madre"], cursor)
    mine = [c for c in changes if c["type"] == "incident" and c["id"] == made["id"]]
    assert len(mine) == 1 and mine[0]["op"] == "upsert"
    data = mine[0]["data"]
    assert data["status"] == "atendida" and data["responses"][0]["message"] == ANSWER
    assert data["responses"][0]["author_label"] == "Oficina de atención a casos"
    client.post(f"{INCIDENTS}/{made['id']}/reopen", json={"reason": "Siguen sin surtirla."}, headers=s["madre"])
    upload(client, s["madre"], made["id"], png_bytes(), "x.png")
    changes, _ = sync_changes(client, s["madre"], cursor)
    latest = [c for c in changes if c["id"] == made["id"]]
    assert len(latest) == 1 and latest[0]["data"]["status"] == "reabierta" and len(latest[0]["data"]["photos"]) == 1
    others, _ = sync_changes(client, s["luis"])
    assert made["id"] not in {c["id"] for c in others}


def test_demo_incidents(client: TestClient, s: dict[str, Any]) -> None:
    demo = client.get(INCIDENTS, headers=s["casos"]).json()
    assert len(demo) == 5 and {i["unit"]["name"] for i in demo} == {SXXI, RAZA}
    done = next(i for i in demo if i["status"] == "atendida")
    assert done["item_name"] == "Vincristina" and "Se surtió la vincristina" in done["responses"][-1]["message"]
    assert done["responses"][-1]["resolves"] and done["resolved_at"]
    reopened = next(i for i in demo if i["status"] == "reabierta")
    assert reopened["responses"][-1]["reopens"] and reopened["responses"][-1]["author_label"] == "Familia"
    assert any(i["status"] == "en_atencion" and i["category"] == "licencia_140_bis" for i in demo)
    assert any(i["status"] == "recibida" and i["overdue"] and i["seconds_left"] < 0 for i in demo)
    assert any(i["status"] == "recibida" and not i["overdue"] and i["seconds_left"] > 0 for i in demo)
    assert all(FOLIO_RE.fullmatch(i["folio"]) for i in demo)
    mine = client.get(INCIDENTS, headers=s["madre"]).json()
    assert {i["patient_id"] for i in mine} == {s["mateo"], s["valentina"]} and len(mine) == 4


# ---- concurrency (real server, real connections) -----------------------------------------------------------


def test_concurrent_photos_and_reports_keep_the_limits(app: Any, client: TestClient, ctx: Context,
                                                       s: dict[str, Any]) -> None:
    import asyncio

    import httpx

    from tests.server.blood_bank_support import live_server

    made = report(client, s["madre"], s["mateo"])
    n = 12

    async def main(url: str) -> tuple[list[httpx.Response], list[httpx.Response]]:
        async with httpx.AsyncClient(base_url=url, timeout=120) as http:
            photos = asyncio.gather(*(http.post(f"{INCIDENTS}/{made['id']}/photos", headers=s["madre"],
                                                files={"file": ("x.png", png_bytes(), "image/png")})
                                      for _ in range(n)))
            reports = asyncio.gather(*(http.post(INCIDENTS, json=body(s["mateo"]), headers=s["madre"])
                                       for _ in range(n)))
            return list(await photos), list(await reports)

    with live_server(app) as url:
        photos, reports = asyncio.run(main(url))
    assert sorted(r.status_code for r in photos) == [201] * 3 + [409] * (n - 3)
    assert all(r.status_code == 201 for r in reports)
    folios = [r.json()["folio"] for r in reports]
    assert len(set(folios)) == n
    with ctx.sessions() as session:
        assert session.scalar(select(func.count()).select_from(IncidentPhoto)
                              .where(IncidentPhoto.incident_id == made["id"])) == 3
