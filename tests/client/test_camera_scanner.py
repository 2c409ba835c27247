"""The camera scanner's own logic (views/scanning.py) with a stand-in camera and permission service: the reason
before the system prompt, a refusal (a clear message, the button back), a phone's streamed frame read and handed
on once (the camera stopped), the torch hidden where the camera has none. The real camera in a browser:
tests/browser/test_camera_browser.py."""

from __future__ import annotations

import asyncio
import io
from dataclasses import dataclass, field
from typing import Any

import flet as ft
import flet_permission_handler as fph
from PIL import Image

from carnet.core.i18n import Translator
from carnet.patients.qr import render_qr
from carnet.views.enrolment.activation import ActivationView
from carnet.views.scanning import CameraScanner, Phase

TR = Translator("es-MX")
URL = "https://carnet.example.mx/v/eyJhbGciOiJFZERTQSJ9.eyJwIjoiMTIzIn0.c2lnbmF0dXJl"


def jpeg_of(text: str) -> bytes:
    canvas = Image.new("RGB", (640, 480), (180, 190, 200))
    with Image.open(io.BytesIO(render_qr(text, scale=4).png)) as qr:
        canvas.paste(qr.convert("RGB"), (120, 60))
    out = io.BytesIO()
    canvas.save(out, "JPEG", quality=85)
    return out.getvalue()


@dataclass
class FakePermissions:
    status: fph.PermissionStatus | None
    answer: fph.PermissionStatus | None
    asked: int = 0

    async def get_status(self, _: Any) -> fph.PermissionStatus | None:
        return self.status

    async def request(self, _: Any) -> fph.PermissionStatus | None:
        self.asked += 1
        return self.answer


@dataclass
class FakeCamera:
    calls: list[str] = field(default_factory=list)

    async def stop_image_stream(self) -> None:
        self.calls.append("stop_image_stream")

    async def set_flash_mode(self, mode: Any) -> None:
        self.calls.append(f"flash {mode}")
        raise RuntimeError("CameraException(torchModeNotSupported)")


def texts(control: ft.Control) -> list[str]:
    """Every text and button label drawn inside ``control``."""
    found: list[str] = []

    def walk(c: Any) -> None:
        if isinstance(c, ft.Text) and c.value:
            found.append(str(c.value))
        for name in ("content", "controls", "icon"):
            child = getattr(c, name, None)
            for item in child if isinstance(child, list) else [child]:
                if isinstance(item, ft.Control):
                    walk(item)
        if isinstance(c, ft.IconButton) and c.tooltip:
            found.append(str(c.tooltip))

    walk(control)
    return found


def scanner_with(permissions: FakePermissions, read: list[str] | None = None) -> CameraScanner:
    scanner = CameraScanner((read if read is not None else []).append)
    scanner._permissions = permissions  # type: ignore[assignment]
    scanner.draw(TR)
    return scanner


def test_the_reason_comes_first_and_a_refusal_says_so_and_leaves_the_button() -> None:
    permissions = FakePermissions(status=fph.PermissionStatus.DENIED, answer=fph.PermissionStatus.DENIED)
    scanner = scanner_with(permissions)
    assert texts(scanner.control) == ["Escanear con la cámara"]
    asyncio.run(scanner._start())
    assert scanner.phase is Phase.REASON and permissions.asked == 0  # nothing asked before the reason
    shown = texts(scanner.control)
    assert TR.t("cam_reason") in shown and "Permitir la cámara" in shown
    asyncio.run(scanner._allow())
    assert permissions.asked == 1
    assert scanner.phase is Phase.CLOSED and scanner._camera is None
    shown = texts(scanner.control)
    assert "Escanear con la cámara" in shown  # try again later; the field beside it never stopped working
    assert TR.t("cam_denied") in shown and "Abrir los ajustes" not in shown
    assert "campo de texto" in TR.t("cam_denied")


def test_refused_for_good_on_a_phone_offers_the_settings() -> None:
    permissions = FakePermissions(status=None, answer=fph.PermissionStatus.PERMANENTLY_DENIED)
    scanner = scanner_with(permissions)
    asyncio.run(scanner._start())
    asyncio.run(scanner._allow())
    shown = texts(scanner.control)
    assert TR.t("cam_denied_settings") in shown and "Abrir los ajustes" in shown


def test_a_streamed_frame_is_read_once_and_the_camera_stops() -> None:
    read: list[str] = []
    scanner = scanner_with(FakePermissions(None, None), read)
    camera = FakeCamera()
    scanner._camera, scanner._streaming, scanner.phase = camera, True, Phase.OPEN  # type: ignore[assignment]

    async def frames() -> None:
        event = type("Event", (), {"bytes": jpeg_of(URL)})()
        # Two frames at once: the second is dropped while the first is decoded; one code handed on.
        await asyncio.gather(scanner._frame(event), scanner._frame(event))  # type: ignore[arg-type]
        await scanner._frame(event)  # type: ignore[arg-type]  # after the read: the camera is closed

    asyncio.run(frames())
    assert read == [URL]
    assert camera.calls == ["stop_image_stream"]
    assert scanner.phase is Phase.CLOSED and scanner._camera is None
    assert scanner._gate.dropped == 1


def test_a_camera_without_a_torch_hides_the_toggle() -> None:
    scanner = scanner_with(FakePermissions(None, None))
    camera = FakeCamera()
    scanner._camera, scanner.phase = camera, Phase.OPEN  # type: ignore[assignment]
    scanner.draw(TR)
    assert "Encender la linterna" in texts(scanner.control)
    asyncio.run(scanner._toggle_torch())
    shown = texts(scanner.control)
    assert "Encender la linterna" not in shown and TR.t("cam_no_torch") in shown
    assert not scanner.torch_supported and scanner.phase is Phase.OPEN  # the camera goes on reading


def test_no_torch_in_a_browser() -> None:
    scanner = scanner_with(FakePermissions(None, None))
    scanner._camera, scanner.phase, scanner._web = FakeCamera(), Phase.OPEN, True  # type: ignore[assignment]
    scanner.draw(TR)
    assert "Encender la linterna" not in texts(scanner.control)
    assert "Cerrar la cámara" in texts(scanner.control)


def test_leaving_the_screen_stops_the_camera() -> None:
    scanner = scanner_with(FakePermissions(None, None))
    scanner._camera, scanner.phase = FakeCamera(), Phase.OPEN  # type: ignore[assignment]
    scanner.control.will_unmount()
    assert scanner.phase is Phase.CLOSED and scanner._camera is None


def test_the_activation_qr_read_fills_the_code_field() -> None:
    """A guardian's phone: the activation sheet's QR, read by the same scanner, lands in the code field."""
    redraws: list[int] = []
    view = ActivationView(object(), lambda: redraws.append(1), camera=True)  # type: ignore[arg-type]
    assert view.camera is not None
    assert ActivationView(object(), lambda: None).camera is None  # a desktop window: no camera
    asyncio.run(_read(view.camera))
    assert view.code.value == "FAM7Y-23HXQ" and redraws == [1]


async def _read(scanner: CameraScanner) -> None:
    scanner._camera, scanner.phase = FakeCamera(), Phase.OPEN  # type: ignore[assignment]
    assert await scanner._decode(jpeg_of("FAM7Y-23HXQ"))
