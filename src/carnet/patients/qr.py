"""Render the carnet QR (its verification URL) as a PNG, in pure Python (segno)."""

from __future__ import annotations

import io
from dataclasses import dataclass

import segno

__all__ = ["QrImage", "render_qr"]

BORDER = 4
MAX_VERSION = 14


@dataclass(frozen=True)
class QrImage:
    png: bytes
    version: int
    #: Modules per side including the quiet zone.
    modules: int
    scale: int

    @property
    def pixels(self) -> int:
        return self.modules * self.scale


def render_qr(text: str, *, scale: int = 8) -> QrImage:
    """PNG bytes of ``text`` as a QR code: error level M, never Micro QR, border 4."""
    code = segno.make(text, error="m", micro=False, boost_error=False)
    buffer = io.BytesIO()
    code.save(buffer, kind="png", scale=scale, border=BORDER, dark="#000000", light="#ffffff")
    modules = int(code.symbol_size(scale=1, border=BORDER)[0])
    return QrImage(png=buffer.getvalue(), version=int(code.version), modules=modules, scale=scale)
