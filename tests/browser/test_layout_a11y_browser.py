"""Layout and accessibility on a small phone (360×640), once per key screen, with axe-core (issue #16, 7–8).

A family (madre.demo) and the pharmacy (farmacia.demo) on one web app, each in its own browser context.
On every screen: no axe violation of the naming rules (support.AXE_RULES), nothing wider than the
screen; and what each screen must get right: "Entrar" above the fold with fields as wide as it, the
show-password button named; the QR whole between the app bar and the navigation bar, the child's name
not cut in the app bar; 48 px language choices; report categories over the whole width; "Agregar cita"
covering no day; named dropdowns; the pharmacy verdict in a live region and 48 px checkboxes.
Screenshots: test-artifacts/small-*.png.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from tests.browser.support import (
    ARTIFACTS,
    axe_violations,
    CHROMIUM,
    CHROMIUM_ARGS,
    click_and_wait,
    click_until,
    log_in,
    open_app,
    playwright_api,
    shows,
    start_app,
    stop,
    wait_for,
)
from tests.browser.test_pharmacy_browser import SCANNER, mateo_qr, scan

pytestmark = pytest.mark.browser

WIDTH, HEIGHT = 360, 640
APP_BAR, NAV_BAR = 56, 80
MIN_TARGET = 48

#: Every semantics node's box (label or text, role, box); the widest right edge tells an overflow.
NODES = """() => [...document.querySelectorAll("flt-semantics")].map(e => {
    const b = e.getBoundingClientRect();
    return {label: e.getAttribute("aria-label") || e.innerText || "", role: e.getAttribute("role"),
            x: b.left, y: b.top, width: b.width, height: b.height};
}).filter(n => n.width > 0 && n.height > 0)"""


#: Records every text Flutter web puts in its live-region announcer (flt-announcement-host).
LISTEN = """() => {
    window.carnetAnnounced = [];
    const host = document.querySelector("flt-announcement-host");
    new MutationObserver(() => window.carnetAnnounced.push(host.textContent))
        .observe(host, {subtree: true, childList: true, characterData: true});
}"""


def box(locator, what: str) -> dict[str, float]:  # type: ignore[no-untyped-def]
    found = wait_for(what, lambda: locator.count() and locator.first.bounding_box())
    assert isinstance(found, dict)
    return found


def check_screen(page, name: str) -> None:  # type: ignore[no-untyped-def]
    """No axe violation, nothing wider than the screen; a screenshot for people to look at."""
    assert axe_violations(page) == [], name
    widest = max(n["x"] + n["width"] for n in page.evaluate(NODES))
    assert widest <= WIDTH + 1, f"{name}: something is {widest:.0f} px wide at {WIDTH} px"
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"small-{name}.png"))


def tall_enough(page, role: str, what: str) -> None:  # type: ignore[no-untyped-def]
    heights = [n["height"] for n in page.evaluate(NODES) if n["role"] == role]
    assert heights, what
    assert min(heights) >= MIN_TARGET, f"{what}: {min(heights):.0f} px tall"


def test_small_phone_layout_and_accessibility(api, tmp_path: Path) -> None:
    api_url, _stop_api = api
    app = start_app(api_url, tmp_path / "phone")
    try:
        with playwright_api.sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            try:
                page = browser.new_context(viewport={"width": WIDTH, "height": HEIGHT}).new_page()
                open_app(page, app.url)

                # Login: the web notice shows, yet "Entrar" is on screen; fields as wide as the button.
                user = page.get_by_role("textbox", name="Usuario")
                wait_for("the login form", user.count)
                wait_for("the web notice", lambda: shows(page, "Versión web"))
                enter = box(page.get_by_role("button", name="Entrar"), "Entrar")
                assert enter["y"] + enter["height"] <= HEIGHT, enter
                for name in ("Usuario", "Contraseña"):
                    field = box(page.get_by_role("textbox", name=name), name)
                    assert abs(field["x"] - enter["x"]) <= 2, (name, field, enter)
                    assert field["x"] + field["width"] >= enter["x"] + enter["width"] - 2, (name, field, enter)
                reveal = box(page.get_by_role("button", name="Mostrar contraseña"), "the show-password button")
                assert reveal["height"] >= MIN_TARGET and reveal["width"] >= MIN_TARGET, reveal
                check_screen(page, "login")

                # The carnet: the QR whole between the bars; the child's name whole in the app bar.
                mateo = page.get_by_role("button", name="Mateo Hernández")
                log_in(page, "madre.demo", mateo)
                qr = page.get_by_role("img", name="Código QR del carnet de Mateo Hernández")
                # (scroll=False in this test: a tap as a person's, nothing scrolled before a layout is measured)
                click_until(page, mateo, "Mateo's carnet", qr.count, scroll=False)
                found = box(qr, "the QR")
                assert found["y"] >= APP_BAR and found["y"] + found["height"] <= HEIGHT - NAV_BAR, found

                check_screen(page, "carnet")

                # Settings: the language choices are 48 px targets.
                click_until(page, page.get_by_role("button", name="Ajustes"), "Ajustes",
                            page.get_by_role("radio", name="English").count, scroll=False)
                tall_enough(page, "radio", "the language choices")
                check_screen(page, "settings")
                click_until(page, page.get_by_role("button", name="Volver"), "Volver from settings", qr.count,
                            scroll=False)

                # A new report: the categories two to a row, over the whole width.
                click_and_wait(page, "Reportar un problema", "Medicamento")
                medicine = box(page.get_by_role("button", name="Medicamento", exact=True), "Medicamento")
                supply = box(page.get_by_role("button", name="Material médico", exact=True), "Material médico")
                assert abs(medicine["y"] - supply["y"]) <= 2, (medicine, supply)
                assert supply["x"] + supply["width"] - medicine["x"] >= WIDTH - 2 * 32 - 2, (medicine, supply)
                check_screen(page, "report")
                click_until(page, page.get_by_role("button", name="Volver"), "Volver from the report", qr.count,
                            scroll=False)

                # The agenda: the kind filter named; "Agregar cita" covers no day of the month.
                tab = page.get_by_role("tab", name=re.compile("Agenda"))
                click_until(page, tab, "the Agenda tab", page.get_by_role("button", name=re.compile(r"^28 ")).count,
                            scroll=False)
                assert page.get_by_role("button", name=re.compile("^Tipo de cita")).count() == 1
                add = box(page.get_by_role("button", name="Agregar cita"), "Agregar cita")
                days = [
                    n
                    for n in page.evaluate(NODES)
                    if n["role"] == "button" and re.match(r"^\d{1,2} \w{3} \d{4}", n["label"])
                ]
                assert days
                for day in days:
                    apart = (
                        add["x"] + add["width"] <= day["x"]
                        or day["x"] + day["width"] <= add["x"]
                        or add["y"] + add["height"] <= day["y"]
                        or day["y"] + day["height"] <= add["y"]
                    )
                    assert apart, f"'Agregar cita' covers {day['label']}"
                check_screen(page, "agenda")

                # The appointment form: both dropdowns named.
                click_until(page, page.get_by_role("button", name="Agregar cita"), "Agregar cita",
                            page.get_by_role("textbox", name="Título").count, scroll=False)
                assert page.get_by_role("button", name=re.compile("^Paciente")).count() == 1
                assert page.get_by_role("button", name=re.compile("^Tipo de cita")).count() == 1
                check_screen(page, "appointment-form")

                # The pharmacy: the verdict is announced (a live region); checkboxes are 48 px targets.
                counter = browser.new_context(viewport={"width": WIDTH, "height": HEIGHT}).new_page()
                open_app(counter, app.url)
                log_in(counter, "farmacia.demo", counter.get_by_role("textbox", name=SCANNER))
                # What Flutter web announces (its aria-live element empties itself soon after): recorded.
                counter.evaluate(LISTEN)
                genuine = counter.locator("flt-semantics").get_by_text("Auténtico y vigente")  # not the announcer's
                scan(counter, mateo_qr(api_url), genuine.count)
                wait_for("the server's answer", lambda: shows(counter, "Comprobado también en el servidor."))
                # no cycle is due today in the demo: the pharmacist picks the next one to see its medicines
                click_until(counter, counter.get_by_role("button", name=re.compile(r"^Ciclo \d+")), "a cycle",
                            counter.get_by_role("checkbox").count, scroll=False)
                wait_for("the verdict announced", lambda: any(
                    "Auténtico y vigente" in said for said in counter.evaluate("() => window.carnetAnnounced")))
                tall_enough(counter, "checkbox", "the medicines to check")
                check_screen(counter, "pharmacy")
            except BaseException:
                for n, context in enumerate(browser.contexts):
                    for m, open_page in enumerate(context.pages):
                        ARTIFACTS.mkdir(exist_ok=True)
                        open_page.screenshot(path=str(ARTIFACTS / f"small-failure-{n}-{m}.png"))
                raise
            finally:
                browser.close()
    finally:
        stop(app.proc)
