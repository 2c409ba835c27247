"""The camera's QR decoder and its frame gate (carnet.core.qrscan), on pictures made here like a camera's frames."""

from __future__ import annotations

import asyncio
import io
import threading

import pytest
from PIL import Image, ImageOps

from carnet.core import qrscan
from carnet.patients.qr import render_qr

URL = "https://carnet.example.mx/v/eyJhbGciOiJFZERTQSJ9.eyJwIjoiMTIzIn0.c2lnbmF0dXJl"


def frame(text: str | None, *, mirrored: bool = False, size: tuple[int, int] = (640, 480)) -> bytes:
    """A camera-like JPEG: a grey background with the QR of ``text`` in the middle (or nothing)."""
    canvas = Image.new("RGB", size, (180, 190, 200))
    if text is not None:
        with Image.open(io.BytesIO(render_qr(text, scale=4).png)) as qr:
            code = qr.convert("RGB")
        canvas.paste(code, ((size[0] - code.width) // 2, (size[1] - code.height) // 2))
    if mirrored:
        canvas = ImageOps.mirror(canvas)
    buffer = io.BytesIO()
    canvas.save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


def test_reads_the_url_in_a_frame() -> None:
    assert qrscan.decode_qr(frame(URL)) == URL


def test_reads_a_mirrored_frame() -> None:
    """A browser's picture from a camera facing the user is mirrored."""
    assert qrscan.decode_qr(frame(URL, mirrored=True)) == URL


def test_reads_an_activation_code() -> None:
    assert qrscan.decode_qr(frame("FAM7Y-23HXQ")) == "FAM7Y-23HXQ"


def test_a_frame_without_a_code_reads_nothing() -> None:
    assert qrscan.decode_qr(frame(None)) is None


def test_bytes_that_are_no_picture_read_nothing() -> None:
    assert qrscan.decode_qr(b"not a jpeg") is None
    assert qrscan.decode_qr(b"") is None


def test_frames_are_dropped_while_one_is_decoded(monkeypatch: pytest.MonkeyPatch) -> None:
    """Twenty frames while the first one is still being decoded: one decode, nineteen dropped."""
    release = threading.Event()
    calls: list[bytes] = []

    def slow_decode(picture: bytes) -> str | None:
        calls.append(picture)
        assert release.wait(5)
        return "found"

    monkeypatch.setattr(qrscan, "decode_qr", slow_decode)

    async def run() -> list[str | None]:
        gate = qrscan.FrameGate()
        first = asyncio.create_task(gate.offer(b"frame 0"))
        await asyncio.sleep(0)  # the first offer takes the gate and goes to its thread
        assert gate.busy
        others = [await gate.offer(f"frame {i}".encode()) for i in range(1, 20)]
        release.set()
        results = [await first, *others]
        assert not gate.busy
        assert (gate.decoded, gate.dropped) == (1, 19)
        assert await gate.offer(b"frame 20") == "found"  # free again after the decode
        return results

    results = asyncio.run(run())
    assert results == ["found"] + [None] * 19
    assert calls == [b"frame 0", b"frame 20"]


def test_decoding_runs_off_the_event_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    threads: list[int] = []

    def record(picture: bytes) -> str | None:
        threads.append(threading.get_ident())
        return None

    monkeypatch.setattr(qrscan, "decode_qr", record)

    async def run() -> int:
        await qrscan.FrameGate().offer(b"x")
        return threading.get_ident()

    loop_thread = asyncio.run(run())
    assert threads and threads[0] != loop_thread
