"""The agenda in a real browser: a guardian with two children sees the demo appointments in Spanish,
shows one child's, and opens an appointment's details. Screenshots: test-artifacts/agenda.png,
agenda-valentina.png and appointment.png.

Same set-up as test_carnet_browser.py (real server, ``carnet --web``, headless Chromium).
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from tests.browser.support import (
    _painted,
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    click_until,
    Image,
    log_in,
    open_app,
    playwright_api,
    screenshot_when_painted,
    shows,
    start_app,
    stop,
    wait_for,
)

pytestmark = pytest.mark.browser

# Appointment buttons read "<time> · <kind>\n<title>\n<child>…"; the filter buttons have no "·".
APPOINTMENT = re.compile(r"\d{2}:\d{2}.* · ")


def _box_changed(before: bytes, after: bytes, box: dict[str, float], min_fraction: float = 0.1) -> bool:
    """Whether the canvas under ``box`` differs from the earlier screenshot (the new screen is painted)."""
    crop = (int(box["x"]), int(box["y"]), int(box["x"] + box["width"]), int(box["y"] + box["height"]))
    old = Image.open(io.BytesIO(before)).convert("L").crop(crop).tobytes()
    new = Image.open(io.BytesIO(after)).convert("L").crop(crop).tobytes()
    changed = sum(1 for a, b in zip(old, new, strict=True) if abs(a - b) > 8)
    return bool(new) and changed / len(new) > min_fraction


def screenshot_after_change(page, before: bytes, locator, name: str) -> bytes:  # type: ignore[no-untyped-def]
    """Save a screenshot once the area of ``locator`` is painted and differs from ``before``."""
    box = locator.bounding_box()

    def shot() -> bytes | None:
        png = page.screenshot()
        return png if _painted(png, box, 0.05) and _box_changed(before, png, box) else None

    png = wait_for(f"{name} painted", shot)
    assert isinstance(png, bytes)
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / name).write_bytes(png)
    return png


def appointment_buttons(page, child: str):  # type: ignore[no-untyped-def]
    return page.get_by_role("button", name=re.compile(rf"\d{{2}}:\d{{2}}[\s\S]* · [\s\S]*{child}"))


def test_guardian_browses_the_agenda_filters_by_child_and_opens_details(api, tmp_path: Path) -> None:  # noqa: F811
    api_url, _stop_api = api
    app = start_app(api_url, tmp_path / "phone")
    try:
        with playwright_api.sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            try:
                page = browser.new_page(viewport={"width": 390, "height": 844})
                open_app(page, app.url)
                picker = page.get_by_role("button", name="Mateo Hernández")
                log_in(page, "madre.demo", picker)

                # The navigation bar's second destination.
                agenda_tab = page.get_by_role("tab", name=re.compile("Agenda"))
                if not agenda_tab.count():
                    agenda_tab = page.get_by_role("button", name=re.compile("^Agenda"))
                wait_for("the Agenda tab", agenda_tab.count)
                children_png = page.screenshot()
                click_until(page, agenda_tab, "the Agenda tab", lambda: shows(page, "Próximas citas"), scroll=False)
                assert shows(page, "Mes anterior") or page.get_by_role("button", name="Mes anterior").count()
                wait_for("demo appointments of both children",
                         lambda: appointment_buttons(page, "Mateo Hernández").count()
                         and appointment_buttons(page, "Valentina Hernández").count())
                # Spanish words for the kinds (the demo year has chemotherapy and consultations).
                assert shows(page, "Quimioterapia") or shows(page, "Consulta")
                agenda_png = screenshot_after_change(page, children_png,  # "Todos": a filled button where a title was
                                                     page.get_by_role("button", name="Todos", exact=True),
                                                     "agenda.png")

                # Only Valentina's appointments.
                only_valentina = page.get_by_role("button", name="Valentina Hernández", exact=True)
                click_until(page, only_valentina, "Valentina's filter",
                            lambda: appointment_buttons(page, "Mateo Hernández").count() == 0, scroll=False)
                valentina = appointment_buttons(page, "Valentina Hernández")
                assert valentina.count() > 0
                # The "Todos" filter turns from filled to outlined when Valentina's is chosen.
                screenshot_after_change(page, agenda_png, page.get_by_role("button", name="Todos", exact=True),
                                        "agenda-valentina.png")

                # Back to both: Mateo's come back (the list really follows the filter).
                click_until(page, page.get_by_role("button", name="Todos", exact=True), "Todos",
                            appointment_buttons(page, "Mateo Hernández").count, scroll=False)
                click_until(page, only_valentina, "Valentina again",
                            lambda: appointment_buttons(page, "Mateo Hernández").count() == 0, scroll=False)

                # Details of one appointment, in Mexico City time.
                valentina = appointment_buttons(page, "Valentina Hernández")
                wait_for("an appointment to open", valentina.count)
                when = page.get_by_text("Fecha y hora (hora del centro de México)")
                click_until(page, valentina, "Valentina's appointment", when.count)
                assert shows(page, "Detalle de la cita")
                assert shows(page, "Valentina Hernández")
                assert shows(page, "Estado")
                calendar = page.get_by_role("button", name=re.compile("Agregar a mi calendario"))
                assert calendar.count() == 1
                screenshot_when_painted(page, calendar, "appointment.png", min_fraction=0.3)
            finally:
                browser.close()
    finally:
        stop(app.proc)
