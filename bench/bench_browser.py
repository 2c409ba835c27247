"""What a person waits for, measured in the browser: login → the carnet on screen, scan → the verdict.

Starts ``carnet-server --demo`` and the web app (``carnet --web``) on loopback, opens the app once in Chromium (the
first load: assets in the browser's cache), then, each round in a new tab of the same browser:

* madre.demo types her password and taps "Entrar": from that tap to her children's list; then from the tap on
  Mateo to his carnet's QR; the sum is "login → carnet".
* farmacia.demo (one tab) scans Mateo's QR URL and a tampered one in turn, the way a hand-held scanner types:
  from the Enter key to the verdict.

Times are taken inside the page: ``performance.now()`` at the tap (pointer up) or the Enter key, and again when the
accessibility tree shows the awaited text, then two animation frames later (the frame that paints it). Written to
bench/RESULTS.md. Not part of the test suite.

    .venv/bin/python bench/bench_browser.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from common import RESULTS, write_section  # also puts the repo on sys.path

from tests.browser.support import CHROMIUM, CHROMIUM_ARGS, open_app, playwright_api, start_app, tamper, type_into
from tests.browser.test_pharmacy_browser import SCANNER, mateo_qr
from tests.support.processes import running_server, stop

#: Arms a one-shot stopwatch in the page: started by the next ``event`` (pointer up, or the Enter key), stopped
#: when a node of the accessibility tree (outside the live-region announcer) shows ``text``; resolves to
#: [ms until the node, ms until two animation frames later].
ARM = """([text, event]) => {
    window.__carnetBench = new Promise(resolve => {
        let started = null;
        const shown = () => [...document.querySelectorAll("flt-semantics, flt-semantics span, [role]")].some(e =>
            !e.closest("flt-announcement-host") && ((e.getAttribute("aria-label") || "").includes(text)
                || [...e.childNodes].some(n => n.nodeType === Node.TEXT_NODE && n.textContent.includes(text))));
        const start = ev => {
            if (started === null && (event !== "keydown" || ev.key === "Enter")) started = performance.now();
        };
        window.addEventListener(event, start, {capture: true});  // before Flutter's own listeners
        setTimeout(() => resolve(null), 60000);
        const check = () => {
            if (started === null || !shown()) return;
            observer.disconnect();
            window.removeEventListener(event, start, {capture: true});
            const seen = performance.now() - started;
            requestAnimationFrame(() => requestAnimationFrame(() => resolve([seen, performance.now() - started])));
        };
        const observer = new MutationObserver(check);
        observer.observe(document.documentElement, {subtree: true, childList: true, attributes: true,
                                                    characterData: true});
    });
}"""


def timed(page: Any, text: str, event: str, act: Any) -> float:
    """Milliseconds from ``act``'s tap or Enter until ``text`` is painted."""
    page.evaluate(ARM, [text, event])
    act()
    found = page.evaluate("() => window.__carnetBench")
    if found is None:
        raise RuntimeError(f"{text!r} did not show within 60 s")
    return float(found[1])


def summary(values: list[float]) -> str:
    return f"{statistics.median(values):.0f} | {max(values):.0f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--output", type=Path, default=RESULTS)
    opts = parser.parse_args()
    home_ms: list[float] = []
    carnet_ms: list[float] = []
    genuine_ms: list[float] = []
    tampered_ms: list[float] = []
    with tempfile.TemporaryDirectory() as tmp, running_server(Path(tmp) / "server") as server:
        url = mateo_qr(server.url)
        forged = url.rsplit("/v/", 1)[0] + "/v/" + tamper(url.rsplit("/v/", 1)[1])
        app = start_app(server.url, Path(tmp) / "web")
        try:
            with playwright_api.sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
                context = browser.new_context(viewport={"width": 390, "height": 844})
                context.set_default_timeout(60_000)
                first = context.new_page()
                open_app(first, app.url)  # the first load: the app's files now in the browser's cache
                first.get_by_role("textbox", name="Usuario").wait_for(state="attached")
                first.close()
                for _ in range(opts.rounds):
                    page = context.new_page()
                    open_app(page, app.url)
                    type_into(page, "Usuario", "madre.demo")
                    type_into(page, "Contraseña", "carnet-demo")
                    enter = page.get_by_role("button", name="Entrar")
                    home_ms.append(timed(page, "Mateo Hernández", "pointerup", enter.first.click))
                    mateo = page.get_by_role("button", name="Mateo Hernández")
                    carnet_ms.append(timed(page, "Código QR del carnet de Mateo Hernández", "pointerup",
                                           mateo.first.click))
                    page.close()
                page = context.new_page()
                open_app(page, app.url)
                type_into(page, "Usuario", "farmacia.demo")
                type_into(page, "Contraseña", "carnet-demo")
                page.get_by_role("button", name="Entrar").first.click()
                field = page.get_by_role("textbox", name=SCANNER)
                field.wait_for(state="attached")
                for _ in range(opts.rounds):
                    for scanned, verdict, into in ((url, "Auténtico y vigente", genuine_ms),
                                                   (forged, "Alterado: la firma no corresponde", tampered_ms)):
                        type_into(page, SCANNER, scanned)
                        into.append(timed(page, verdict, "keydown", lambda: page.keyboard.press("Enter")))
                browser.close()
        finally:
            stop(app.proc)

    logins = [a + b for a, b in zip(home_ms, carnet_ms, strict=True)]
    rows = [
        ("login → children's list (tap on Entrar)", home_ms, None),
        ("children's list → carnet QR (tap on the child)", carnet_ms, None),
        ("login → carnet, the sum", logins, 1000),
        ("scan → verdict, genuine", genuine_ms, 500),
        ("scan → verdict, tampered", tampered_ms, 500),
    ]
    for name, values, goal in rows:
        print(f"{name:<50} median {statistics.median(values):6.0f} ms  max {max(values):6.0f} ms  goal {goal}")
    lines = [
        "## In the browser: login → carnet, scan → verdict",
        "",
        f"Command: `.venv/bin/python bench/bench_browser.py --rounds {opts.rounds}`  ",
        f"Run: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {os.cpu_count()} cores (server, web app, Chromium on the same "
        f"machine); `carnet-server --demo` (SQLite) and `carnet --web`, Chromium headless at 390×844. The app opened "
        f"once first (its files in the browser's cache); then {opts.rounds} logins, each in a new tab, and "
        f"{opts.rounds} scans of each kind at the counter. Timed in the page, from the tap (pointer up) or the "
        "Enter key to two animation frames after the accessibility tree shows the awaited text.",
        "",
        "| step | median ms | slowest ms | goal ms |",
        "|---|---:|---:|---:|",
        *(f"| {name} | {summary(values)} | {goal or '—'} |" for name, values, goal in rows),
    ]
    write_section(opts.output, "\n".join(lines))


if __name__ == "__main__":
    main()
