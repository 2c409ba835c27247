"""A tap redraws what changed, not the whole screen: a long screen keeps its scroll position.

On the blood-bank tab (the day chips) and on the report form (the categories), madre.demo scrolls down
and taps a choice: the choice is marked chosen and stays where the finger was, instead of the screen
jumping back to its top.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from carnet.core.clock import MX
from carnet.core.i18n import Translator
from tests.browser.support import (
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    click_and_wait,
    click_until,
    log_in,
    open_app,
    playwright_api,
    reveal,
    shows,
    start_app,
    stop,
    wait_for,
)

pytestmark = pytest.mark.browser

TR = Translator("es-MX")


def _top(locator) -> float | None:  # type: ignore[no-untyped-def]
    box = locator.first.bounding_box() if locator.count() else None
    return box["y"] if box else None


def tap_keeps_place(page, name: str, *, what: str, top) -> None:  # type: ignore[no-untyped-def]
    """Scroll until the button ``name`` sits low on the screen, scrolled down; tap it; it is chosen, in place.

    ``top``: the screen's first control, which must have scrolled up out of its place before the tap.
    """
    button = page.get_by_role("button", name=name, exact=True)
    chosen = page.get_by_role("button", name=TR.t("bb_selected", label=name), exact=True)
    reveal(page, button, what)

    def low_and_scrolled() -> bool:
        top = _top(button)
        if top is None:
            return False
        if 380 <= top <= 640:
            return True
        page.mouse.move(195, 420)
        page.mouse.wheel(0, top - 500)
        return False

    wait_for(f"{what} low on the screen", low_and_scrolled)
    before = _top(button)
    assert before is not None
    first = _top(top)
    assert first is None or first < 60, f"the screen did not scroll (its top control at y={first})"
    page.mouse.move(195, 420)
    page.mouse.wheel(0, 0)
    click_until(page, button, what, chosen.count, scroll=False)  # tapped where it is: no scrolling here

    def settled() -> float | None:  # the redraw may land a frame after the label changes
        top = _top(chosen)
        return top if top is not None and abs(top - before) < 24 else None

    try:
        wait_for(f"{what} still where it was tapped (y={before:.0f})", settled)
    except AssertionError:
        raise AssertionError(f"{what} moved from y={before:.0f} to y={_top(chosen)} after the tap") from None


def test_a_tap_keeps_the_scroll_position(api, tmp_path: Path) -> None:
    api_url, _stop_api = api
    app = start_app(api_url, tmp_path / "phone")
    try:
        with playwright_api.sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            try:
                page = browser.new_page(viewport={"width": 390, "height": 844})
                open_app(page, app.url)
                log_in(page, "madre.demo", page.get_by_role("button", name="Mateo Hernández"))

                # Blood bank: the child, a bank, then a day chip far down the list.
                tab = page.get_by_role("tab", name=re.compile("Banco de sangre"))
                wait_for("the blood-bank tab", tab.count)
                click_until(page, tab, "the blood-bank tab", lambda: shows(page, "Mis citas de donación"), scroll=False)
                click_and_wait(page, "Donación para Mateo Hernández", "Donación para Mateo Hernández, seleccionado")
                bank = page.get_by_role("button", name=re.compile("Banco de Sangre"))
                wait_for("the banks", bank.count)
                bank_name = bank.first.get_attribute("aria-label") or bank.first.inner_text()
                click_and_wait(page, bank_name.strip(), TR.t("bb_selected", label=bank_name.strip()))
                day = datetime.now(MX).date() + timedelta(days=12)
                day = day + timedelta(days=1) if day.weekday() == 6 else day
                tap_keeps_place(page, TR.long_date(day), what="a day chip",
                                top=page.get_by_text("Mis citas de donación"))

                # The report form: a category low on the screen.
                chip = page.get_by_role("button", name=TR.t("bb_selected", label=TR.long_date(day)), exact=True)
                click_until(page, page.get_by_role("tab", name=re.compile("Carnet")), "the Carnet tab",
                            lambda: not chip.count(), scroll=False)  # the blood-bank screen left
                click_and_wait(page, "Reportar un problema", "Medicamento")
                tap_keeps_place(page, "Otro", what="the category Otro",
                                top=page.get_by_role("button", name="Mis reportes"))
            except BaseException:
                ARTIFACTS.mkdir(exist_ok=True)
                page.screenshot(path=str(ARTIFACTS / "scroll-failure.png"))
                raise
            finally:
                browser.close()
    finally:
        stop(app.proc)
