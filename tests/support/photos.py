"""Pictures for the photo tests, made with Pillow: small ones, a phone-sized noisy one, a camera JPEG with
GPS EXIF and an orientation tag, and a decompression bomb."""

from __future__ import annotations

import io
import random
from functools import lru_cache

from PIL import ExifTags, Image


def encode(image: Image.Image, kind: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, format=kind, **options)
    return out.getvalue()


def png(colour: str = "blue", size: tuple[int, int] = (16, 12)) -> bytes:
    return encode(Image.new("RGB", size, colour), "PNG")


def jpeg(colour: str = "red", size: tuple[int, int] = (16, 12)) -> bytes:
    return encode(Image.new("RGB", size, colour), "JPEG")


@lru_cache(maxsize=2)
def noisy_png(size: tuple[int, int] = (4000, 3000), seed: int = 5) -> bytes:
    """A phone-sized PNG that does not compress (grey noise): well over the server's 5 MB."""
    noise = random.Random(seed).randbytes(size[0] * size[1])
    return encode(Image.frombytes("L", size, noise).convert("RGB"), "PNG", compress_level=1)


def camera_jpeg(size: tuple[int, int] = (400, 300)) -> bytes:
    """A photo as a phone camera writes it: stored landscape, left half red and right half blue, with EXIF
    saying "turn 90° clockwise to show" (Orientation 6), the camera's make and where it was taken (GPS)."""
    image = Image.new("RGB", size, "blue")
    image.paste((255, 0, 0), (0, 0, size[0] // 2, size[1]))
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "TelefonoDeLaMama"
    exif[ExifTags.Base.Orientation] = 6
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (19.0, 24.0, 30.0)
    gps[ExifTags.GPS.GPSLongitudeRef] = "W"
    gps[ExifTags.GPS.GPSLongitude] = (99.0, 9.0, 20.0)
    return encode(image, "JPEG", exif=exif, quality=95)


def bomb_png(side: int = 20_000) -> bytes:
    """A few KB of PNG that claims 400 million pixels."""
    return encode(Image.new("1", (side, side)), "PNG")


def opened(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def assert_clean_upright_jpeg(data: bytes, *, max_side: int = 1600) -> Image.Image:
    """A JPEG no larger than ``max_side`` with no metadata at all (no EXIF/GPS, ICC, XMP, comment)."""
    image = opened(data)
    assert image.format == "JPEG" and max(image.size) <= max_side, (image.format, image.size)
    assert not image.getexif() and b"Exif" not in data and b"TelefonoDeLaMama" not in data
    assert not ({"exif", "icc_profile", "xmp", "comment"} & set(image.info)), sorted(image.info)
    return image
