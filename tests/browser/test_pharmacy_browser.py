"""The pharmacy counter in a real browser, as farmacia.demo with a hand-held scanner (it types like a keyboard).

The scanner field has the focus on open and after every result; the test types
madre.demo's real carnet QR URL (from the API) and Enter: "Auténtico y vigente";
cycle 4 is chosen, "Registrar surtido", confirm → recorded. Scanned again: cycle 4
shows who dispensed it; cycle 5 is chosen, but another counter (admin.demo, through
the API) records it first → the red 409 words with who and when, nothing recorded.
A tampered URL → "Alterado".

Screenshots: test-artifacts/pharmacy-genuine.png, pharmacy-dispensed.png, pharmacy-409.png,
pharmacy-tampered.png. Same set-up as test_carnet_browser.py (real server, ``carnet --web``, Chromium).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from carnet.core.i18n import Translator
from tests.browser.support import (
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    click_in_view,
    log_in,
    open_app,
    PASSWORD,
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
IS_FOCUSED = "e => e === document.activeElement"


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


def scan(page, text: str, answered: Callable[[], object]) -> None:  # type: ignore[no-untyped-def]
    """What a hand-held scanner does: type into the focused field, then Enter, until ``answered()`` is true.

    Checked and bounded: keys typed into a just-focused Flutter web field can be lost, and a redraw that
    lands between the typing and the Enter can put back the field's older value — the Enter then checks
    nothing, and the person at the counter scans again; so does this helper (at most three times).
    """
    field = page.get_by_role("textbox", name=SCANNER)
    for _ in range(3):
        if not field.first.evaluate(IS_FOCUSED):
            field.first.click()
            try:
                wait_for("the scanner field focused", lambda: field.first.evaluate(IS_FOCUSED), seconds=5.0)
            except AssertionError:
                continue
        page.keyboard.press("Control+A")
        page.keyboard.type(text)
        if field.first.evaluate("e => e.value") != text:
            continue
        page.keyboard.press("Enter")
        try:
            wait_for("the scan's answer", answered, seconds=10.0)
            return
        except AssertionError:
            continue
    raise AssertionError("the scan got no answer")


def focus_is_back(page) -> None:  # type: ignore[no-untyped-def]
    field = page.get_by_role("textbox", name=SCANNER)
    wait_for("the focus back on the scanner field", lambda: field.count() and field.first.evaluate(IS_FOCUSED),
             seconds=15.0)


def test_pharmacy_scans_dispenses_once_and_refuses_a_tampered_code(api, tmp_path: Path) -> None:  # noqa: F811
    api_url, _stop_api = api
    url = mateo_qr(api_url)
    first_cycle, second_cycle = due_cycles(api_url, url)[:2]
    app = start_app(api_url, tmp_path / "counter")
    try:
        with playwright_api.sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            try:
                page = browser.new_page(viewport={"width": 390, "height": 844})
                open_app(page, app.url)
                log_in(page, "farmacia.demo", page.get_by_role("textbox", name=SCANNER))
                wait_for("the keys' age", lambda: shows(page, "Claves actualizadas hace"))
                focus_is_back(page)  # on open

                genuine = page.get_by_text("Auténtico y vigente")
                scan(page, url, genuine.count)
                wait_for("the server's answer", lambda: shows(page, "Comprobado también en el servidor."))
                assert shows(page, "Mateo Hernández")
                label = TR.t("ph_cycle", number=first_cycle["number"],
                             date=TR.date(date.fromisoformat(first_cycle["scheduled_for"])))
                wait_for("the first due cycle chosen",
                         page.get_by_role("button", name=TR.t("ph_selected", label=label)).count)
                focus_is_back(page)  # after the result
                screenshot_when_painted(page, genuine, "pharmacy-genuine.png", min_fraction=0.1)

                click_in_view(page, page.get_by_role("button", name="Registrar surtido"), "Registrar surtido")
                click_in_view(page, page.get_by_role("button", name="Sí, registrar"), "the confirm button")
                done = page.get_by_text(re.compile(rf"^Surtido registrado: ciclo {first_cycle['number']}, el "))
                wait_for("the dispensation recorded", done.count)
                screenshot_when_painted(page, done, "pharmacy-dispensed.png", min_fraction=0.1)

                # Scanned again: cycle 4 says who dispensed it; cycle 5 is chosen, but another counter is faster.
                focus_is_back(page)
                # This scan's answer, the server's included: the last message gone (the dispensation's words
                # name the pharmacist too), the server's list saying who dispensed cycle 4, cycle 5 chosen.
                scan(page, url, lambda: not done.count() and shows(page, "Comprobado también en el servidor.")
                     and shows(page, "por Q.F.B. Laura Méndez"))
                label = TR.t("ph_cycle", number=second_cycle["number"],
                             date=TR.date(date.fromisoformat(second_cycle["scheduled_for"])))
                wait_for("the second due cycle chosen",
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
