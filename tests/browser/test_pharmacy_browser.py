"""The pharmacy counter in a real browser, as farmacia.demo with a hand-held scanner (it types like a keyboard).

The scanner field has the focus on open and after every result; the test types
madre.demo's real carnet QR URL (from the API) and Enter: "Auténtico y vigente";
cycle 4 (in three days: not due today) is shown unchosen with its date and "Registrar surtido"
disabled; the pharmacist picks it: every drug name and its dose (e.g. "Metotrexato (dosis altas,
infusión 24 h)" over its dose) are whole inside the 390 px screen; "Registrar surtido", confirm →
recorded, and cycle 5 (weeks away) is not chosen by itself. Scanned again: cycle 4
shows who dispensed it; cycle 5 is picked, but another counter (admin.demo, through
the API) records it first → the red 409 words with who and when, nothing recorded.
A tampered URL → "Alterado".

Screenshots: test-artifacts/pharmacy-genuine.png, pharmacy-dispensed.png, pharmacy-409.png,
pharmacy-tampered.png. Same set-up as test_carnet_browser.py (real server, ``carnet --web``, Chromium).
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from carnet.chemotherapy.doses import days_text, dose_text
from carnet.core.clock import local_date
from carnet.core.i18n import Translator
from carnet.views.pharmacy.counter import FOCUS_WATCH_SECONDS
from carnet_contract import models as contract
from tests.browser.support import (
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    EDITOR,
    PASSWORD,
    UI_SECONDS,
    _enabled,
    click_in_view,
    into_view,
    log_in,
    open_app,
    playwright_api,
    screenshot_when_painted,
    shows,
    start_app,
    stop,
    tamper,
    wait_for,
)

pytestmark = pytest.mark.browser

TR = Translator("es-MX")
SCANNER = "Escanee o pegue el código QR"
WIDTH = 390
#: The longest drug name of the demo (Mateo's cycles), whose dose was cut at 390 px.
LONG_DRUG = "Metotrexato (dosis altas, infusión 24 h)"
IS_FOCUSED = f"e => ({EDITOR})(e) !== null"
HOLDS = f"e => (({EDITOR})(e) || e).value"
ACTIVE = """() => { const a = document.activeElement; if (!a) return "nothing";
    const b = a.getBoundingClientRect();
    return [a.tagName, a.className, a.getAttribute("aria-label"), [b.left, b.top, b.width, b.height].map(Math.round)]
        .join(" | "); }"""


def _login(client: httpx.Client, username: str) -> dict[str, str]:
    answer = client.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def mateo_qr(api_url: str) -> str:
    """The QR URL of Mateo's carnet, as madre.demo's phone shows it."""
    with httpx.Client(base_url=api_url, timeout=15.0) as client:
        headers = _login(client, "madre.demo")
        me = client.get("/api/v1/me", headers=headers).json()
        mateo = next(p for p in me["patients"] if p["display_name"] == "Mateo Hernández")
        return str(client.get(f"/api/v1/patients/{mateo['id']}/carnet", headers=headers).json()["qr"]["url"])


def due_cycles(api_url: str, scanned: str) -> list[dict[str, Any]]:
    with httpx.Client(base_url=api_url, timeout=15.0) as client:
        answer = client.post("/api/v1/pharmacy/verify", json={"token": scanned},
                             headers=_login(client, "farmacia.demo"))
        assert answer.status_code == 200 and answer.json()["valid"], answer.text
        return list(answer.json()["due"])


def dispense_elsewhere(api_url: str, scanned: str, cycle_id: str) -> dict[str, Any]:
    """Another counter (admin.demo) records the cycle first."""
    with httpx.Client(base_url=api_url, timeout=15.0) as client:
        answer = client.post("/api/v1/pharmacy/dispensations", json={"token": scanned, "cycle_id": cycle_id},
                             headers={**_login(client, "admin.demo"), "Idempotency-Key": "browser-other-counter"})
        assert answer.status_code == 201, answer.text
        return dict(answer.json())


def scan(page, text: str, answered: Callable[[], object],  # type: ignore[no-untyped-def]
         *, keyed: bool = False) -> None:
    """Paste the code into the focused field (``keyed``: type it key by key, as a hand-held scanner does), then
    Enter, until ``answered()`` is true. (Each key is a frame Chromium paints on the page's thread here: a
    scanner's 300 keys take seconds; one keyed scan per journey proves that path.)

    Checked and bounded (UI_SECONDS in all): keys typed into a just-focused Flutter web field can be lost, and a
    redraw that lands between the typing and the Enter can put back the field's older value — the Enter then
    checks nothing, and the person at the counter scans again; so does this helper, waiting longer each time
    for the answer on a slow machine, and never again once an earlier scan's answer has come.
    """
    field = page.get_by_role("textbox", name=SCANNER)
    deadline = time.monotonic() + UI_SECONDS
    seen: list[str] = []  # what each attempt found, for the failure's message
    patience = 10.0
    while time.monotonic() < deadline:
        if seen and answered():
            return  # an earlier attempt's answer came late
        left = deadline - time.monotonic()
        if not field.count():
            seen.append("no scanner field on screen")
            with contextlib.suppress(AssertionError):
                wait_for("the scanner field", field.count, seconds=min(5.0, left))
            continue
        if not field.first.evaluate(IS_FOCUSED):
            field.first.click()
            try:
                wait_for("the scanner field focused", lambda: field.first.evaluate(IS_FOCUSED), seconds=min(5.0, left))
            except AssertionError:
                seen.append(f"the field did not take the focus (it is on {page.evaluate(ACTIVE)})")
                continue
        page.keyboard.press("Control+A")
        if keyed:
            page.keyboard.type(text)
        else:
            page.keyboard.insert_text(text)
        if (value := field.first.evaluate(HOLDS)) != text:
            seen.append(f"typed, the field held {value[:40]!r}…")
            continue
        page.keyboard.press("Enter")
        try:
            wait_for("the scan's answer", answered, seconds=min(patience, max(deadline - time.monotonic(), 0.1)))
            return
        except AssertionError:
            seen.append(f"scanned, no answer in {patience:.0f} s")
            patience *= 2
    raise AssertionError("the scan got no answer: " + "; ".join(seen))


def cycle_label(cycle: dict[str, Any]) -> str:
    return TR.t("ph_cycle", number=cycle["number"], date=TR.date(date.fromisoformat(cycle["scheduled_for"])))


def literal(text: str) -> str:
    """``text`` inside a regular expression Playwright sends to the page (a JavaScript /…/ literal)."""
    return re.escape(text).replace("/", r"\/")


def dose_line(drug: contract.Drug) -> str:
    """The dose line the counter shows under a drug's name (the screen's own words)."""
    dose = TR.t("ph_dose_line", dose=dose_text(TR, drug.dose), route=drug.route)
    when = days_text(TR, drug)
    return f"{dose} — {when}" if when else dose


def inside_the_screen(page, locator, what: str) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """``locator``'s node, scrolled into view: its box wholly inside the screen's width."""
    into_view(page, locator, what)
    box = locator.first.bounding_box()
    assert box is not None and box["width"] > 0 and box["height"] > 0, what
    assert box["x"] >= 0 and box["x"] + box["width"] <= WIDTH, (what, box)
    return dict(box)


def focus_is_back(page) -> None:  # type: ignore[no-untyped-def]
    field = page.get_by_role("textbox", name=SCANNER)
    # The app asks for the focus for up to FOCUS_WATCH_SECONDS on a slow machine; a little more to see it.
    wait_for("the focus back on the scanner field", lambda: field.count() and field.first.evaluate(IS_FOCUSED),
             seconds=FOCUS_WATCH_SECONDS + 10.0)


def test_pharmacy_scans_dispenses_once_and_refuses_a_tampered_code(api, tmp_path: Path) -> None:
    api_url, _stop_api = api
    url = mateo_qr(api_url)
    first_cycle, second_cycle = due_cycles(api_url, url)[:2]
    app = start_app(api_url, tmp_path / "counter")
    try:
        with playwright_api.sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            try:
                page = browser.new_page(viewport={"width": WIDTH, "height": 844})
                open_app(page, app.url)
                log_in(page, "farmacia.demo", page.get_by_role("textbox", name=SCANNER))
                wait_for("the keys' age", lambda: shows(page, "Claves actualizadas hace"))
                focus_is_back(page)  # on open

                # the verdict, not its copy in Flutter's live-region announcer (flt-announcement-host)
                genuine = page.locator("flt-semantics").get_by_text("Auténtico y vigente")
                scan(page, url, genuine.count, keyed=True)
                wait_for("the server's answer", lambda: shows(page, "Comprobado también en el servidor."))
                assert shows(page, "Mateo Hernández")
                # Cycle 4 is in three days: shown with its date, not chosen, "Registrar surtido" disabled.
                label = cycle_label(first_cycle)
                wait_for("the first cycle shown, not chosen", page.get_by_role("button", name=label, exact=True).count)
                assert date.fromisoformat(first_cycle["scheduled_for"]) > local_date(datetime.now(UTC))
                assert not page.get_by_role("button", name=TR.t("ph_selected", label=label)).count()
                register = page.get_by_role("button", name="Registrar surtido")
                wait_for("Registrar surtido, disabled", lambda: register.count() and not register.first.is_enabled())
                focus_is_back(page)  # after the result
                screenshot_when_painted(page, genuine, "pharmacy-genuine.png", min_fraction=0.1)

                # The pharmacist picks it: each drug's name, and its whole dose on the line under it.
                click_in_view(page, page.get_by_role("button", name=label, exact=True), "cycle 4")
                wait_for("cycle 4 chosen", page.get_by_role("button", name=TR.t("ph_selected", label=label)).count)
                drugs = contract.Cycle.model_validate(first_cycle).drugs
                assert LONG_DRUG in [d.name for d in drugs]
                for drug in drugs:
                    # One checkbox per drug, named by its lines: the name, then the whole dose.
                    box = page.get_by_role("checkbox", name=re.compile(
                        rf"^{literal(drug.name)}\s+{literal(dose_line(drug))}(\s|$)"))
                    inside_the_screen(page, box, f"{drug.name} and its dose")
                # The long name wraps, and its dose and the 2000 mg/m² it comes from are lines of their own.
                long = page.get_by_role("checkbox",
                                        name=re.compile(literal(LONG_DRUG) + r"[\s\S]*" + literal("2000 mg/m²")))
                assert long.count() == 1
                box = inside_the_screen(page, long, "the long drug name and its dose")
                assert box["height"] >= 4 * 16, box  # two lines of name, the dose, the figure: nothing cut
                screenshot_when_painted(page, long, "pharmacy-doses.png", min_fraction=0.05)

                click_in_view(page, page.get_by_role("button", name="Registrar surtido"), "Registrar surtido")
                click_in_view(page, page.get_by_role("button", name="Sí, registrar"), "the confirm button")
                done = page.get_by_text(re.compile(rf"^Surtido registrado: ciclo {first_cycle['number']}, el "))
                wait_for("the dispensation recorded", done.count)
                screenshot_when_painted(page, done, "pharmacy-dispensed.png", min_fraction=0.1)
                # Cycle 5 is weeks away: not chosen by itself; its date is said; nothing can be sent.
                label = cycle_label(second_cycle)
                assert page.get_by_role("button", name=label, exact=True).count()
                assert not page.get_by_role("button", name=TR.t("ph_selected", label=label)).count()
                later = TR.date(date.fromisoformat(second_cycle["scheduled_for"]))
                assert shows(page, f"Todavía no toca: es para el {later}.")
                assert register.count() and not _enabled(register)

                # Scanned again: cycle 4 says who dispensed it; cycle 5 is picked, but another counter is faster.
                focus_is_back(page)
                # This scan's answer, the server's included: the last message gone (the dispensation's words
                # name the pharmacist too), the server's list saying who dispensed cycle 4, cycle 5 chosen.
                scan(page, url, lambda: not done.count() and shows(page, "Comprobado también en el servidor.")
                     and shows(page, "por Q.F.B. Laura Méndez"))
                click_in_view(page, page.get_by_role("button", name=label, exact=True), "cycle 5")
                wait_for("the second cycle chosen",
                         page.get_by_role("button", name=TR.t("ph_selected", label=label)).count)
                other = dispense_elsewhere(api_url, url, second_cycle["id"])
                click_in_view(page, page.get_by_role("button", name="Registrar surtido"), "Registrar surtido")
                click_in_view(page, page.get_by_role("button", name="Sí, registrar"), "the confirm button")
                refused = page.get_by_text(re.compile(r"^Este ciclo ya se surtió el .* por Administración Carnet\."))
                wait_for("the 409 words with who and when", refused.count)
                when = TR.datetime(datetime.fromisoformat(other["dispensed_at"]))
                assert shows(page, f"Este ciclo ya se surtió el {when} por Administración Carnet")
                screenshot_when_painted(page, refused, "pharmacy-409.png", min_fraction=0.1)

                # A tampered code: refused at once (offline check), in plain words.
                token = url.rsplit("/v/", 1)[1]
                focus_is_back(page)
                # the verdict, not its copy in Flutter's live-region announcer (flt-announcement-host)
                tampered = page.locator("flt-semantics").get_by_text("Alterado: la firma no corresponde")
                scan(page, url.rsplit("/v/", 1)[0] + "/v/" + tamper(token), tampered.count)
                # the last patient's card goes with the new verdict (the tree may lag the verdict by a frame)
                wait_for("no patient shown for a tampered code", lambda: not shows(page, "Mateo Hernández"))
                screenshot_when_painted(page, tampered, "pharmacy-tampered.png", min_fraction=0.1)
            except BaseException:
                for n, open_page in enumerate(browser.contexts[-1].pages if browser.contexts else []):
                    ARTIFACTS.mkdir(exist_ok=True)  # what was on screen, for whoever reads the failure
                    open_page.screenshot(path=str(ARTIFACTS / f"pharmacy-failure-{n}.png"))
                raise
            finally:
                browser.close()
    finally:
        stop(app.proc)
