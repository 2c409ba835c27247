"""Incident photos: a small file that decodes huge is refused before decoding; decodes are bounded per process."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import func, select
from starlette.testclient import TestClient

from carnet_server.context import Context
from carnet_server.incidents import service
from carnet_server.incidents.tables import IncidentPhoto
from tests.server.conftest import assert_error
from tests.server.incident_support import INCIDENTS, body

Auth = Callable[[str], dict[str, str]]


def bomb_png() -> bytes:
    """A 1-bit 6300×6300 PNG: a few KB on the wire, ~40 MP (and ~160 MB as RGBA) once decoded."""
    out = io.BytesIO()
    Image.new("1", (6300, 6300), 0).save(out, format="PNG", optimize=True)
    return out.getvalue()


def phone_jpeg() -> bytes:
    """What the app sends: at most 1600 px on the longest side."""
    out = io.BytesIO()
    Image.new("RGB", (1600, 1200), "green").save(out, format="JPEG", quality=85)
    return out.getvalue()


def photo_count(ctx: Context) -> int:
    with ctx.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(IncidentPhoto)) or 0)


def new_incident(client: TestClient, headers: dict[str, str], patient_id: str) -> str:
    response = client.post(INCIDENTS, json=body(patient_id), headers=headers)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def post_photo(client: TestClient, headers: dict[str, str], incident: str, data: bytes, name: str, kind: str) -> Any:
    return client.post(f"{INCIDENTS}/{incident}/photos", files={"file": (name, data, kind)}, headers=headers)


def test_small_file_that_decodes_huge_is_refused(client: TestClient, ctx: Context, auth: Auth,
                                                 patient_ids: dict[str, str]) -> None:
    madre = auth("madre.demo")
    incident = new_incident(client, madre, patient_ids["Mateo Hernández"])
    data = bomb_png()
    assert len(data) < 20_000  # small on the wire
    before = photo_count(ctx)
    error = assert_error(post_photo(client, madre, incident, data, "x.png", "image/png"), 413,
                         "photo_too_large_decoded")
    assert "4096" in error["message"] and "píxeles" in error["message"]
    english = post_photo(client, {**madre, "Accept-Language": "en"}, incident, data, "x.png", "image/png")
    assert "pixels" in assert_error(english, 413, "photo_too_large_decoded")["message"]
    assert photo_count(ctx) == before
    assert not (ctx.settings.data_dir / "files" / "incidents" / incident).exists()


def small_png(size: tuple[int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("1", size, 0).save(out, format="PNG", optimize=True)
    return out.getvalue()


@pytest.mark.parametrize("size", [(6300, 6300), (5000, 100), (4000, 4096)])  # past Pillow's bomb error, a long
def test_clean_image_refuses_by_header_before_decoding(size: tuple[int, int]) -> None:  # side, > 16 MP
    with pytest.raises(service.TooLarge) as refused:
        service.clean_image(small_png(size), service.PNG)
    assert refused.value.code == "photo_too_large_decoded"
    assert Image.MAX_IMAGE_PIXELS is not None and Image.MAX_IMAGE_PIXELS <= service.MAX_PIXELS


def test_phone_sized_photo_still_works(client: TestClient, ctx: Context, auth: Auth,
                                       patient_ids: dict[str, str]) -> None:
    madre = auth("madre.demo")
    incident = new_incident(client, madre, patient_ids["Mateo Hernández"])
    response = post_photo(client, madre, incident, phone_jpeg(), "foto.jpg", "image/jpeg")
    assert response.status_code == 201, response.text
    with ctx.sessions() as session:
        row = session.get_one(IncidentPhoto, response.json()["photos"][0]["id"])
        stored = (ctx.settings.data_dir / row.path).read_bytes()
    with Image.open(io.BytesIO(stored)) as image:
        assert image.size == (1600, 1200)


def test_decodes_are_bounded_per_process() -> None:
    inside = peak = 0
    lock = threading.Lock()

    def work() -> None:
        nonlocal inside, peak
        with service.decode_slot():
            with lock:
                inside += 1
                peak = max(peak, inside)
            time.sleep(0.05)
            with lock:
                inside -= 1

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert peak == service.MAX_CONCURRENT_DECODES and 1 <= service.MAX_CONCURRENT_DECODES <= 4
