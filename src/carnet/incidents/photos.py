"""Photos prepared on the phone (Pillow): what a report sends, and the small copies the screens show.

A picked photo is decoded (a real JPEG or PNG, or it is refused), turned upright by its EXIF orientation,
scaled to fit :data:`UPLOAD_SIDE` on its long side and re-encoded as a JPEG with no metadata at all (no
EXIF, GPS, ICC, XMP or text chunks: nothing of where or with what it was taken leaves the phone). That small
JPEG is what waits in the outbox and is uploaded; a :data:`THUMB_SIDE` thumbnail of it is what the screens
draw, so a redraw never sends a whole photo to the UI again.

Decoding is bounded: at most :data:`ORIGINAL_MAX_BYTES` of file, at most :data:`JPEG_MAX_PIXELS` /
:data:`PNG_MAX_PIXELS` pixels (a tiny file claiming huge dimensions — a "decompression bomb" — is refused
before its pixels are decoded). JPEGs are decoded already reduced (libjpeg's DCT scaling, ``Image.draft``),
so a 108-megapixel camera photo needs a few tens of MB, not hundreds.

Everything here is CPU work that takes up to a second or two on a phone: call it through
``asyncio.to_thread`` from the UI. Pure functions, no Flet, no store.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL import Image as PILImage

__all__ = [
    "JPEG_MAX_PIXELS",
    "ORIGINAL_MAX_BYTES",
    "PNG_MAX_PIXELS",
    "PhotoRefused",
    "PreparedPhoto",
    "Refusal",
    "prepare_photo",
    "sniff_image",
    "thumbnail",
]

JPEG, PNG = "image/jpeg", "image/png"
#: The largest picked file accepted (what is sent is the small re-encoded copy, far under the server's 5 MB).
ORIGINAL_MAX_BYTES = 25 * 1024 * 1024
#: JPEGs are decoded at 1/2, 1/4 or 1/8 scale, so this allows 108-MP camera photos at a bounded memory cost.
JPEG_MAX_PIXELS = 120_000_000
#: PNGs are decoded in full (4 bytes a pixel): screenshots and scans, not bombs.
PNG_MAX_PIXELS = 40_000_000
#: The long side of what is uploaded (a prescription stays legible), and its JPEG quality.
UPLOAD_SIDE, UPLOAD_QUALITY = 1600, 80
#: The long side of the copy the screens draw (photos are shown at most 168 px wide, 2× for sharp screens
#: would be 336: the square crop of a 4:3 thumbnail keeps 240 px across), and its JPEG quality.
THUMB_SIDE, THUMB_QUALITY = 240, 70


def sniff_image(data: bytes) -> str | None:
    """JPEG or PNG by the first bytes (as the server decides); None for anything else."""
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    return None


class Refusal(StrEnum):
    """Why a picked file was not attached (each has its message in the catalogue)."""

    EMPTY = "read"
    TOO_BIG = "size"
    NOT_IMAGE = "type"
    TOO_MANY_PIXELS = "pixels"
    DAMAGED = "damaged"


class PhotoRefused(Exception):
    def __init__(self, reason: Refusal) -> None:
        super().__init__(reason.value)
        self.reason = reason


@dataclass(frozen=True)
class PreparedPhoto:
    #: The upright, downscaled JPEG without metadata: what is queued and uploaded.
    data: bytes
    #: Its small copy, for the screens.
    thumb: bytes
    width: int
    height: int


def _fit(size: tuple[int, int], side: int) -> tuple[int, int]:
    width, height = size
    scale = min(1.0, side / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def _decode(data: bytes, side: int) -> PILImage.Image:
    """The picture, upright, as a fresh RGB image at most ``side`` px on its long side (nothing of the file's
    metadata carried over). Raises :class:`PhotoRefused`."""
    from PIL import Image, ImageOps

    if not data:
        raise PhotoRefused(Refusal.EMPTY)
    if len(data) > ORIGINAL_MAX_BYTES:
        raise PhotoRefused(Refusal.TOO_BIG)
    kind = sniff_image(data)
    if kind is None:
        raise PhotoRefused(Refusal.NOT_IMAGE)
    limit = JPEG_MAX_PIXELS if kind == JPEG else PNG_MAX_PIXELS
    # Pillow's own guard (read when the header is opened, before any pixel): it raises above twice this and
    # only warns between; our own check below refuses everything over `limit` before decoding. (No warning
    # filters: they are process-wide and this runs in worker threads.)
    Image.MAX_IMAGE_PIXELS = JPEG_MAX_PIXELS
    try:
        with Image.open(io.BytesIO(data), formats=("JPEG",) if kind == JPEG else ("PNG",)) as opened:
            width, height = opened.size
            if width * height > limit:
                raise PhotoRefused(Refusal.TOO_MANY_PIXELS)
            if kind == JPEG:
                opened.draft(None, _fit(opened.size, side))  # decode already reduced (never below `side`)
            opened.load()
            try:
                upright = ImageOps.exif_transpose(opened)
            except (OSError, ValueError, SyntaxError, TypeError, KeyError, IndexError):
                upright = opened.copy()  # a broken EXIF block: the pixels are still good
            upright.thumbnail((side, side), Image.Resampling.LANCZOS)
            pixels = _flatten(upright)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise PhotoRefused(Refusal.TOO_MANY_PIXELS) from exc
    except (OSError, ValueError, SyntaxError, EOFError, MemoryError, TypeError, IndexError) as exc:
        # Truncated or corrupt data behind a JPEG/PNG signature, an unsupported variant, no memory left.
        raise PhotoRefused(Refusal.DAMAGED) from exc
    fresh = Image.new("RGB", pixels.size)  # a new image: no info (EXIF, ICC, XMP, text) can ride along
    fresh.paste(pixels)
    return fresh


def _flatten(image: PILImage.Image) -> PILImage.Image:
    """RGB; transparency laid on white (a JPEG has none)."""
    from PIL import Image

    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        return Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba).convert("RGB")
    if image.mode.startswith("I"):  # 16/32-bit greyscale PNG: scale to 8 bits first
        image = image.point(lambda v: v / 256).convert("L")
    return image.convert("RGB")


def _jpeg(image: PILImage.Image, quality: int) -> bytes:
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=quality, optimize=True)
    return out.getvalue()


def prepare_photo(data: bytes) -> PreparedPhoto:
    """A picked file as it will be sent, and its thumbnail. Raises :class:`PhotoRefused` with the reason."""
    from PIL import Image

    image = _decode(data, UPLOAD_SIDE)
    width, height = image.size
    sent = _jpeg(image, UPLOAD_QUALITY)
    image.thumbnail((THUMB_SIDE, THUMB_SIDE), Image.Resampling.LANCZOS)
    return PreparedPhoto(data=sent, thumb=_jpeg(image, THUMB_QUALITY), width=width, height=height)


def thumbnail(data: bytes) -> bytes | None:
    """The small copy of a photo (e.g. one fetched from the server) for the screens; None when it cannot be
    decoded (then it is not shown)."""
    try:
        return _jpeg(_decode(data, THUMB_SIDE), THUMB_QUALITY)
    except PhotoRefused:
        return None
