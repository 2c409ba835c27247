"""QR codes in camera frames: ``decode_qr`` reads one picture, ``FrameGate`` drops frames while one is decoded.

Frames arrive as JPEG (flet-camera's image stream on a phone, ``take_picture()`` in a browser). Decoding runs in a
worker thread (``asyncio.to_thread``), so the UI loop keeps drawing the preview and answering taps; while one frame
is being decoded, the next ones are dropped rather than queued: a scan reads the code now in view, not a backlog.

pyzbar needs the zbar library: ``libzbar0`` on a desk PC or the web server (Debian 13: ``libzbar0t64``); on a phone
the mobile package index's pyzbar brings it (flet-libzbar). Pictures taken in a browser are mirrored unless the
camera faces away from the user; zbar reads a mirrored QR as well.
"""

from __future__ import annotations

import asyncio
import io
import logging

from PIL import Image, UnidentifiedImageError

log = logging.getLogger(__name__)

__all__ = ["DecoderUnavailable", "FrameGate", "decode_qr"]

#: Nothing longer is a code we read (a carnet URL is a few hundred characters).
MAX_TEXT = 4096


class DecoderUnavailable(RuntimeError):
    """The zbar library is missing on this machine: the camera cannot read codes here."""


def decode_qr(picture: bytes) -> str | None:
    """The text of the first QR code in ``picture`` (JPEG/PNG bytes), or None: no code, or not a picture."""
    try:
        from pyzbar import pyzbar  # loads libzbar: only when a camera is used
    except ImportError as exc:  # pyzbar raises ImportError when the zbar shared library is absent
        raise DecoderUnavailable(str(exc)) from exc
    try:
        with Image.open(io.BytesIO(picture)) as image:
            gray = image.convert("L")
    except (UnidentifiedImageError, OSError, ValueError):
        return None
    for found in pyzbar.decode(gray, symbols=[pyzbar.ZBarSymbol.QRCODE]):
        try:
            text = str(found.data.decode("utf-8")).strip()
        except UnicodeDecodeError:
            continue
        if text and len(text) <= MAX_TEXT:
            return text
    return None


class FrameGate:
    """One frame decoded at a time; frames that come meanwhile are dropped (counted in ``dropped``).

    Each camera event is its own asyncio task, so handlers overlap: the busy flag is checked and set before the
    first ``await``, which makes check-and-set atomic on the event loop.
    """

    def __init__(self) -> None:
        self.busy = False
        self.decoded = 0
        self.dropped = 0

    async def offer(self, picture: bytes) -> str | None:
        """The code in ``picture``; None when there is none or the frame was dropped (a decode is under way)."""
        if self.busy:
            self.dropped += 1
            return None
        self.busy = True
        try:
            return await asyncio.to_thread(decode_qr, picture)
        finally:
            self.decoded += 1
            self.busy = False
