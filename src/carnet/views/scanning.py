"""The camera scanner beside a code field: "Escanear con la cámara", the preview, the torch, the permission.

Used by the pharmacy counter (a carnet QR: the same path as a hand-held scanner's URL) and by a family's
activation step (the activation code's QR). The field beside it keeps working whatever the camera does.

- Permission: asked when the camera is first wanted, after our own reason in Spanish/English (the system prompt
  says nothing of why). Refused: a clear message; the field stays the way in.
- Frames: a phone's image stream (``supports_image_streaming()``); where there is none (a browser: camera_web
  has no frame stream) ``take_picture()`` in a loop. Both go through one :class:`~carnet.core.qrscan.FrameGate`:
  decoded in a worker thread, frames dropped while one is decoded.
- The torch: only on a phone (a browser's cameras have none); hidden when the camera says it has no torch.
- The camera stops when a code is read, when it is closed, and when the screen goes (the control unmounts).

The camera exists only in a browser and on Android/iOS (flet-camera refuses a desktop window): the screens get
``camera=False`` elsewhere and show no button.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from enum import Enum
from typing import Any

import flet as ft
import flet_camera as fc
import flet_permission_handler as fph

from carnet.core.i18n import Translator
from carnet.core.qrscan import DecoderUnavailable, FrameGate
from carnet.views.common import MIN_TOUCH, banner, icon_button

log = logging.getLogger(__name__)

#: Pause between two pictures where there is no frame stream (a browser): about four reads a second.
PICTURE_PAUSE_SECONDS = 0.2
#: Pictures that fail one after the other before the camera is given up.
MAX_PICTURE_FAILURES = 5
PREVIEW_HEIGHT = 260


def _current_task() -> asyncio.Task[Any] | None:
    try:
        return asyncio.current_task()
    except RuntimeError:  # no running loop here
        return None


class Phase(Enum):
    CLOSED = "closed"
    REASON = "reason"  # our reason shown; the system prompt comes after "Permitir la cámara"
    OPENING = "opening"
    OPEN = "open"


class _Holder(ft.Column):
    """The scanner's column; when it leaves the page (the screen went), the camera stops with it."""

    on_leave: Callable[[], None] | None = None

    def will_unmount(self) -> None:
        if self.on_leave is not None:
            self.on_leave()
        super().will_unmount()


class CameraScanner:
    """One scanner on one screen, kept by that screen's view across redraws (:meth:`draw` returns the same
    control every time, so Flet keeps the preview while the rest of the screen changes)."""

    def __init__(self, on_code: Callable[[str], Awaitable[None] | None]) -> None:
        self._on_code = on_code
        self._tr = Translator()
        self.phase = Phase.CLOSED
        #: What the last attempt left to say (refused, no camera …), shown until the next attempt.
        self.message: str | None = None
        self.offer_settings = False
        self.torch_on = False
        self.torch_supported = True
        self._web = False
        self._camera: fc.Camera | None = None
        #: The camera's frame: the same object while it is open (a new parent would make Flutter start the
        #: camera widget afresh, uninitialised).
        self._preview: ft.Container | None = None
        self._permissions: fph.PermissionHandler | None = None
        self._gate = FrameGate()
        self._streaming = False
        self._pictures: asyncio.Task[None] | None = None
        self.control = _Holder(spacing=8, horizontal_alignment=ft.CrossAxisAlignment.STRETCH)
        self.control.on_leave = self.halt

    # ---- drawing --------------------------------------------------------------

    def draw(self, tr: Translator) -> ft.Control:
        """The button, or the reason / the preview; the same control at every redraw."""
        self._tr = tr
        self._fill()
        return self.control

    def _fill(self) -> None:
        tr = self._tr
        items: list[ft.Control] = []
        if self.phase is Phase.CLOSED:
            items.append(
                ft.OutlinedButton(
                    content=ft.Text(tr.t("cam_scan"), size=17),
                    icon=ft.Icons.PHOTO_CAMERA,
                    height=MIN_TOUCH,
                    on_click=self._start,
                )
            )
        elif self.phase is Phase.REASON:
            items += [
                ft.Text(tr.t("cam_reason"), size=16),
                ft.Row(
                    [
                        ft.FilledButton(
                            content=ft.Text(tr.t("cam_allow"), size=16),
                            icon=ft.Icons.PHOTO_CAMERA,
                            height=MIN_TOUCH,
                            on_click=self._allow,
                        ),
                        ft.TextButton(
                            content=ft.Text(tr.t("cam_cancel"), size=16), height=MIN_TOUCH, on_click=self._close
                        ),
                    ],
                    wrap=True,
                    spacing=8,
                ),
            ]
        else:
            if self._preview is not None:
                items.append(self._preview)
            if self.phase is Phase.OPENING:
                label = tr.t("cam_opening")
                items.append(
                    ft.Row(
                        [ft.ProgressRing(width=24, height=24, semantics_label=label), ft.Text(label, size=16)],
                        height=MIN_TOUCH,
                    )
                )
            else:
                items.append(ft.Text(tr.t("cam_aim"), size=15, color=ft.Colors.GREY_800))
            controls: list[ft.Control] = []
            if self.phase is Phase.OPEN and not self._web and self.torch_supported:
                controls.append(
                    icon_button(
                        ft.Icons.FLASHLIGHT_OFF if self.torch_on else ft.Icons.FLASHLIGHT_ON,
                        tr.t("cam_torch_off" if self.torch_on else "cam_torch_on"),
                        self._toggle_torch,
                    )
                )
            controls.append(
                ft.OutlinedButton(
                    content=ft.Text(tr.t("cam_close"), size=16),
                    icon=ft.Icons.CLOSE,
                    height=MIN_TOUCH,
                    on_click=self._close,
                )
            )
            items.append(ft.Row(controls, spacing=8, wrap=True))
        if self.message:
            items.append(
                banner(self.message, icon=ft.Icons.NO_PHOTOGRAPHY, bgcolor=ft.Colors.AMBER_100, color=ft.Colors.BLACK)
            )
            if self.offer_settings:
                items.append(
                    ft.TextButton(
                        content=ft.Text(tr.t("cam_settings"), size=16),
                        icon=ft.Icons.SETTINGS,
                        height=MIN_TOUCH,
                        on_click=self._open_settings,
                    )
                )
        self.control.controls = items

    def _show(self) -> None:
        self._fill()
        with contextlib.suppress(RuntimeError):  # not on a page (any more): nothing to update
            self.control.update()

    # ---- permission -------------------------------------------------------------

    def _handler(self) -> fph.PermissionHandler:
        if self._permissions is None:
            self._permissions = fph.PermissionHandler()  # a service: held here while the screen lives
        return self._permissions

    async def _start(self, _: Any = None) -> None:
        self.message, self.offer_settings = None, False
        with contextlib.suppress(RuntimeError):  # (no page: a test drives the scanner)
            self._web = bool(ft.context.page.web)
        status: fph.PermissionStatus | None = None
        try:
            status = await self._handler().get_status(fph.Permission.CAMERA)
        except Exception as exc:  # noqa: BLE001 - no answer: explain and ask
            log.info("camera permission status unknown: %s", type(exc).__name__)
        if status in (fph.PermissionStatus.GRANTED, fph.PermissionStatus.LIMITED):
            await self._open()
            return
        self.phase = Phase.REASON
        self._show()

    async def _allow(self, _: Any = None) -> None:
        self.phase = Phase.OPENING
        self._show()
        status: fph.PermissionStatus | None = None
        try:
            status = await self._handler().request(fph.Permission.CAMERA)
        except Exception as exc:  # noqa: BLE001 - no permission service: opening the camera asks (a browser)
            log.info("camera permission request failed: %s", type(exc).__name__)
        if status in (
            fph.PermissionStatus.DENIED,
            fph.PermissionStatus.PERMANENTLY_DENIED,
            fph.PermissionStatus.RESTRICTED,
        ):
            self._refused(settings=status is fph.PermissionStatus.PERMANENTLY_DENIED and not self._web)
            return
        await self._open()

    def _refused(self, *, settings: bool) -> None:
        self.halt()
        self.message = self._tr.t("cam_denied_settings" if settings else "cam_denied")
        self.offer_settings = settings
        self._show()

    async def _open_settings(self, _: Any = None) -> None:
        with contextlib.suppress(Exception):
            await self._handler().open_app_settings()

    # ---- the camera ---------------------------------------------------------------

    async def _open(self) -> None:
        self.phase, self.torch_on = Phase.OPENING, False
        camera = self._camera = fc.Camera(
            preview_enabled=True, expand=True, height=PREVIEW_HEIGHT, on_stream_image=self._frame
        )
        self._preview = ft.Container(camera, height=PREVIEW_HEIGHT, alignment=ft.Alignment.CENTER)
        self._show()  # the camera control must be on the page before it is asked anything
        try:
            cameras = await camera.get_available_cameras()
            if not cameras:
                self._failed("cam_none")
                return
            back = [c for c in cameras if c.lens_direction == fc.CameraLensDirection.BACK]
            await camera.initialize((back or cameras)[0], fc.ResolutionPreset.MEDIUM, enable_audio=False)
            if camera is not self._camera:
                return  # closed meanwhile
            try:
                self._streaming = await camera.supports_image_streaming()
            except Exception:  # noqa: BLE001 - no answer: pictures work everywhere
                self._streaming = False
            self.phase = Phase.OPEN
            self._show()
            if self._streaming:
                try:
                    await camera.start_image_stream()
                    return
                except Exception as exc:  # noqa: BLE001 - said it streams but does not: take pictures instead
                    log.info("camera image stream failed: %s", type(exc).__name__)
                    self._streaming = False
            self._pictures = asyncio.create_task(self._take_pictures(camera))
        except Exception as exc:  # noqa: BLE001 - the browser or the phone refused, or no camera works
            text = str(exc).lower()
            log.info("camera not opened: %s", type(exc).__name__)
            if "permission" in text or "notallowed" in text or "denied" in text:
                self._refused(settings=not self._web)
            else:
                self._failed("cam_failed")

    async def _take_pictures(self, camera: fc.Camera) -> None:
        """Where there is no frame stream: a picture, decoded, a short pause, again (until closed or read)."""
        failures = 0
        while self._live(camera):
            try:
                picture = await camera.take_picture()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - one bad picture is retried; many give up
                failures += 1
                if failures >= MAX_PICTURE_FAILURES:
                    log.info("camera pictures failed: %s", type(exc).__name__)
                    if self._live(camera):
                        self._failed("cam_failed")
                    return
            else:
                failures = 0
                if await self._decode(picture):
                    return
            await asyncio.sleep(PICTURE_PAUSE_SECONDS)

    def _live(self, camera: fc.Camera) -> bool:
        """``camera`` is the one open now (not closed, not replaced)."""
        return camera is self._camera and self.phase is Phase.OPEN

    async def _frame(self, e: fc.CameraImageEvent) -> None:
        """A phone's streamed frame (JPEG): decoded unless one is being decoded already."""
        if self.phase is Phase.OPEN and e.bytes:
            await self._decode(e.bytes)

    async def _decode(self, picture: bytes) -> bool:
        """True when a code was read (and handed on)."""
        try:
            code = await self._gate.offer(picture)
        except DecoderUnavailable:
            self._failed("cam_no_decoder")
            return False
        if code is None or self.phase is not Phase.OPEN:
            return False
        await self._stop()
        result = self._on_code(code)
        if result is not None:
            await result
        return True

    async def _toggle_torch(self, _: Any = None) -> None:
        camera = self._camera
        if camera is None:
            return
        try:
            await camera.set_flash_mode(fc.FlashMode.OFF if self.torch_on else fc.FlashMode.TORCH)
            self.torch_on = not self.torch_on
        except Exception as exc:  # noqa: BLE001 - torchModeNotSupported and the like: no torch here
            log.info("no torch: %s", type(exc).__name__)
            self.torch_supported, self.torch_on = False, False
            self.message = self._tr.t("cam_no_torch")
        self._show()

    # ---- stopping -----------------------------------------------------------------

    def _failed(self, key: str) -> None:
        self.halt()
        self.message, self.offer_settings = self._tr.t(key), False
        self._show()

    def halt(self) -> None:
        """Stop at once (the screen is going, or a failure): the picture loop ends and the preview goes; removing
        the camera control disposes of the camera (its stream and torch with it)."""
        self.phase, self.torch_on = Phase.CLOSED, False
        self._camera, self._preview, self._streaming = None, None, False
        pictures, self._pictures = self._pictures, None
        if pictures is not None and pictures is not _current_task():
            pictures.cancel()  # (the loop itself, having read a code, ends by returning)

    async def _stop(self) -> None:
        camera, streaming = self._camera, self._streaming
        self.halt()
        if camera is not None and streaming:
            with contextlib.suppress(Exception):
                await camera.stop_image_stream()
        self._show()

    async def _close(self, _: Any = None) -> None:
        self.message = None
        await self._stop()
