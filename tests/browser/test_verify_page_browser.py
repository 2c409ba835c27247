"""The /v/<token> page (what a phone camera opens from the QR) in a real Chromium, phone sizes first.

Mateo's real QR (from madre.demo's carnet), one of its cycles dispensed (the longest cell: "Surtido <date> <time>"):
at 390×844 and 360×640 the page has no horizontal scroll and every cell's text is inside the viewport and not
clipped; at a desk width (1280×800) the cycles are a table again (a header row, one row per cycle).
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.browser.support import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, PASSWORD, playwright_api

pytestmark = pytest.mark.browser

PHONES = ({"width": 390, "height": 844}, {"width": 360, "height": 640})
DESK = {"width": 1280, "height": 800}

#: Each cell of the cycles: its box, whether its text is cut (scroll sizes beyond its box), the viewport width.
CELLS = """() => [...document.querySelectorAll('td, dd, dt, .verdict .word')].map(e => {
  const r = e.getBoundingClientRect();
  return {text: e.textContent.trim(), left: r.left, right: r.right, width: r.width, height: r.height,
          clipped: e.scrollWidth > e.clientWidth + 1, label: e.dataset.label || null};
})"""


def _login(client: httpx.Client, username: str) -> dict[str, str]:
    answer = client.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def mateo_qr_with_a_dispensed_cycle(api_url: str) -> tuple[str, dict[str, Any]]:
    """Mateo's QR URL (as his mother's phone shows it), and its first cycle after a counter dispensed it."""
    with httpx.Client(base_url=api_url, timeout=15.0) as client:
        headers = _login(client, "madre.demo")
        me = client.get("/api/v1/me", headers=headers).json()
        mateo = next(p for p in me["patients"] if p["display_name"] == "Mateo Hernández")
        url = str(client.get(f"/api/v1/patients/{mateo['id']}/carnet", headers=headers).json()["qr"]["url"])
        counter = _login(client, "farmacia.demo")
        due = client.post("/api/v1/pharmacy/verify", json={"token": url}, headers=counter).json()["due"]
        answer = client.post(
            "/api/v1/pharmacy/dispensations",
            json={"token": url, "cycle_id": due[0]["id"]},
            headers={**counter, "Idempotency-Key": "browser-verify-page"},
        )
        assert answer.status_code == 201, answer.text
        return url, dict(answer.json())


def test_the_verification_page_fits_a_phone_and_is_a_table_at_a_desk(api) -> None:
    api_url, _stop_api = api
    url, done = mateo_qr_with_a_dispensed_cycle(api_url)
    assert "/v/" in url
    with playwright_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            for size in PHONES:
                page = browser.new_page(viewport=size, locale="es-MX")
                page.goto(url)
                assert page.get_by_text("AUTÉNTICO", exact=True).count() == 1
                width = page.evaluate("window.innerWidth")
                assert width == size["width"]
                assert page.evaluate("document.documentElement.scrollWidth") <= width, size
                cells = page.evaluate(CELLS)
                surtido = [c for c in cells if c["label"] == "Surtido"]
                assert len(surtido) >= 2 and any(c["text"].startswith("Surtido ") for c in surtido), surtido
                assert f"Ciclo{done['cycle_number']}" in [c["label"] + c["text"] for c in cells if c["label"]]
                for cell in cells:
                    assert cell["text"], cell
                    assert cell["width"] > 0 and cell["height"] > 0, cell
                    assert cell["left"] >= 0 and cell["right"] <= width, (size, cell)
                    assert not cell["clipped"], (size, cell)
                # Each value sits beside its label (a card per cycle): the label is painted by the cell itself.
                label = page.evaluate("getComputedStyle(document.querySelector('td'), '::before').content")
                assert label == '"Ciclo"'
                ARTIFACTS.mkdir(exist_ok=True)
                page.screenshot(path=str(ARTIFACTS / f"verify-page-{size['width']}.png"), full_page=True)
                page.close()

            page = browser.new_page(viewport=DESK, locale="es-MX")
            page.goto(url)
            assert page.evaluate("document.documentElement.scrollWidth") <= DESK["width"]
            header = page.locator("thead th")
            assert header.count() == 5 and all(header.nth(i).is_visible() for i in range(5))
            rows = page.evaluate("[...document.querySelectorAll('tbody tr')].map(r => getComputedStyle(r).display)")
            assert rows and set(rows) == {"table-row"}
            for cell in page.evaluate(CELLS):
                assert cell["left"] >= 0 and cell["right"] <= DESK["width"] and not cell["clipped"], cell
            page.close()
        finally:
            browser.close()
