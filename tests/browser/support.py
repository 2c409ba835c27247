"""What every browser test shares: the web app as a child process, polling, screenshots, reading the
screen through Flutter's accessibility tree, logging in.

Importing this module skips the importing test module when Playwright, zxing-cpp, Pillow or Chromium
are missing (CI requires them: CARNET_REQUIRE_BROWSER turns those skips into failures).
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest

# The web app as a child process: tests.support.processes (re-exported here for the browser tests).
from tests.support.processes import ROOT, WebApp, start_app, stop  # noqa: F401

ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = os.environ.get("CARNET_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
UI_SECONDS = 60.0
PASSWORD = "carnet-demo"

playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
zxingcpp = pytest.importorskip("zxingcpp", reason="zxing-cpp is not installed")
Image = pytest.importorskip("PIL.Image", reason="pillow is not installed")
if not Path(CHROMIUM).exists():
    pytest.skip(f"browser: no Chromium at {CHROMIUM}", allow_module_level=True)


# ---- browser helpers --------------------------------------------------------------------------


def wait_for(what: str, check: Callable[[], object], seconds: float = UI_SECONDS) -> object:
    """Poll ``check`` until it returns something truthy; fail after ``seconds`` (checked at least once)."""
    deadline = time.monotonic() + seconds
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() >= deadline:
            break
        time.sleep(0.1)  # poll interval, not a wait for state
    raise AssertionError(f"timed out waiting for {what}")


def open_app(page, url: str) -> None:  # type: ignore[no-untyped-def]
    watch_console(page)
    page.goto(url)
    page.wait_for_selector("flt-semantics-placeholder", state="attached", timeout=UI_SECONDS * 1000)
    # The web app draws with skwasm on one thread: the page is not cross-origin isolated, which would make it
    # multi-threaded skwasm, which can freeze a tab for good (carnet.shell.cli.NotCrossOriginIsolated).
    drawn = page.evaluate("""() => [self.crossOriginIsolated,
        window._flutter_skwasmInstance ? 'skwasm' : window.flutterCanvasKit ? 'canvaskit' : '?']""")
    assert drawn == [False, "skwasm"], f"the web app is drawn by (cross-origin isolated, renderer) {drawn}"
    # Flutter draws on a canvas; this turns on its accessibility tree (DOM nodes with roles/names).
    page.evaluate("document.querySelector('flt-semantics-placeholder').click()")


def _painted(png: bytes, box: dict[str, float], min_fraction: float = 0.5) -> bool:
    """Whether the canvas under ``box`` is filled by the control (not the blank loading page).

    The accessibility tree is updated a few frames before the canvas: a node can
    exist while the old frame (or the loading spinner) is still on screen.
    """
    image = Image.open(io.BytesIO(png)).convert("L")
    histogram = image.histogram()
    background = max(range(256), key=histogram.__getitem__)
    crop = image.crop((int(box["x"]), int(box["y"]), int(box["x"] + box["width"]),
                       int(box["y"] + box["height"])))
    pixels = crop.tobytes()
    differing = sum(1 for value in pixels if abs(value - background) > 8)
    return bool(pixels) and differing / len(pixels) > min_fraction


def screenshot_when_painted(page, locator, name: str,  # type: ignore[no-untyped-def]
                            min_fraction: float = 0.5) -> bytes:
    """Save a screenshot once the canvas has painted what the accessibility tree already shows."""
    def shot() -> bytes | None:
        box = locator.bounding_box()  # None while the node is not laid out (yet, or again after a redraw)
        if box is None:
            return None
        png = page.screenshot()
        return png if _painted(png, box, min_fraction) else None

    png = wait_for(f"{name} painted", shot)
    assert isinstance(png, bytes)
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / name).write_bytes(png)
    return png


def read_qr(png: bytes) -> str | None:
    image = Image.open(io.BytesIO(png)).convert("L")
    found = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
    return found[0].text if found else None


def qr_from_screen(page, name: str, *, also_painted=None) -> str:  # type: ignore[no-untyped-def]
    """Screenshots until the QR on screen decodes (and ``also_painted`` shows); saves that one."""
    holder: dict[str, bytes] = {}

    def decoded() -> str | None:
        box = also_painted.bounding_box() if also_painted is not None else None
        if also_painted is not None and box is None:  # not laid out (yet, or again after a redraw)
            return None
        png = page.screenshot()
        if box is not None and not _painted(png, box):
            return None
        text = read_qr(png)
        if text:
            holder["png"] = png
        return text

    text = wait_for("a readable QR on screen", decoded)
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / name).write_bytes(holder["png"])
    assert isinstance(text, str)
    return text


def shows(page, text: str) -> int:  # type: ignore[no-untyped-def]
    """How many nodes show ``text``: as text, or inside a merged accessible label (cards)."""
    return page.get_by_text(text, exact=False).count() + page.get_by_label(text, exact=False).count()


def tamper(token: str) -> str:
    """Change one character in the middle of the signature."""
    head, payload, signature = token.split(".")
    i = len(signature) // 2
    swapped = "B" if signature[i] != "B" else "C"
    return ".".join([head, payload, signature[:i] + swapped + signature[i + 1:]])


def _enabled(locator) -> bool:  # type: ignore[no-untyped-def]
    """Shown and enabled now (a node replaced by a redraw meanwhile: not yet)."""
    try:
        return bool(locator.count()) and locator.first.is_enabled(timeout=1_000)
    except playwright_api.TimeoutError:
        return False


def log_in(page, username: str, arrived, password: str = PASSWORD) -> None:  # type: ignore[no-untyped-def]
    """Type the credentials (checking what each field holds) and log in until ``arrived`` shows.

    Tried again until a deadline (``UI_SECONDS``): a tap on "Entrar" lost in a redraw is tapped again, after a
    wait for its effect that grows each time. Right after a refused login (a test's wrong password) its message
    may still be on screen while the next attempt runs, so a message seen then is not yet a refusal; a login
    still running keeps the form disabled, and no new attempt starts until it is enabled again.
    """
    wait_for("the login form", page.get_by_role("textbox", name="Usuario").count)
    deadline = time.monotonic() + UI_SECONDS
    problem = page.get_by_text(re.compile("Usuario o contraseña incorrectos|Escribe tu usuario"))
    enter = page.get_by_role("button", name="Entrar")
    seen: list[str] = []
    taps = 0
    while time.monotonic() < deadline:
        # A login still running keeps the form disabled (and may show the last attempt's message).
        try:
            wait_for("home, or the login form ready", lambda: arrived.count() or _enabled(enter),
                     seconds=_left(deadline))
        except AssertionError:
            seen.append("the form stayed disabled")
            break
        if arrived.count():
            return
        try:
            type_into(page, "Usuario", username)
            type_into(page, "Contraseña", password)
        except AssertionError as error:
            # The last attempt's message was still on screen while that attempt went through: home, not a form.
            if arrived.count():
                return
            seen.append(str(error))
            break
        try:
            enter.first.click(timeout=_tap_ms(deadline))
        except playwright_api.TimeoutError:
            seen.append("Entrar not tappable (a redraw replacing it)")
            continue
        taps += 1
        try:
            wait_for(f"{username}: home or a login message", lambda: arrived.count() or problem.count(),
                     seconds=_step(taps, deadline))
        except AssertionError:
            seen.append(f"tap {taps}: neither home nor a message")
            continue
        if arrived.count():
            return
        seen.append(f"tap {taps}: a login message")
    if arrived.count():
        return
    _failure_screenshot(page, f"login-{username}")
    raise AssertionError(f"{username} not logged in after {taps} taps on Entrar in {UI_SECONDS:.0f} s: "
                         + "; ".join(seen) + f"; on screen: {_screen(page)}")


def _left(deadline: float) -> float:
    """Seconds left before ``deadline`` (never negative)."""
    return max(0.0, deadline - time.monotonic())


def _tap_ms(deadline: float) -> float:
    """Playwright's timeout for one tap (it waits for the control to hold still): 10 s at most, 1 s at least
    (0 would mean no timeout)."""
    return max(1_000.0, min(10_000.0, _left(deadline) * 1000))


def _step(taps: int, deadline: float) -> float:
    """How long to wait for the effect of tap number ``taps``: 5 s, 10 s, 15 s…, capped by what is left (but a
    tap made just before the deadline still gets 2 s)."""
    return min(5.0 * taps, max(2.0, _left(deadline)))


def _failure_screenshot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    ARTIFACTS.mkdir(exist_ok=True)
    with contextlib.suppress(playwright_api.Error):  # the message matters more than the picture
        page.screenshot(path=str(ARTIFACTS / f"failure-{re.sub(r'[^A-Za-z0-9_-]+', '-', name)[:60]}.png"))


#: What each page's console said that was an error, and its uncaught exceptions (Flutter's own errors land
#: there), kept for a failure's message: an empty accessibility tree alone does not say why.
_CONSOLE: dict[int, list[str]] = {}


def watch_console(page) -> None:  # type: ignore[no-untyped-def]
    """Keep ``page``'s console errors and uncaught exceptions (the last 20) for ``_screen``."""
    said = _CONSOLE.setdefault(id(page), [])

    def keep(text: str) -> None:
        said.append(text.replace("\n", " ")[:300])
        del said[:-20]

    page.on("console", lambda message: keep(f"console.{message.type}: {message.text}")
            if message.type in ("error", "warning") else None)
    page.on("pageerror", lambda error: keep(f"uncaught: {error}"))
    page.on("crash", lambda _page: keep("the page crashed"))


def _screen(page) -> str:  # type: ignore[no-untyped-def]
    """What the accessibility tree shows, in short (names and texts of its nodes), for a failure's message;
    then what the page's console said that was an error, if anything."""
    said = _CONSOLE.get(id(page))
    return _tree(page) + (f"; the page's console: {' / '.join(said)}" if said else "")


def _tree(page) -> str:  # type: ignore[no-untyped-def]
    try:
        texts = page.evaluate("""() => {
            const out = [];
            for (const e of document.querySelectorAll("flt-semantics")) {
                const label = e.getAttribute("aria-label");
                const own = [...e.childNodes].filter(n => n.nodeType === 3).map(n => n.textContent).join("").trim();
                const text = label || own || (e.tagName === "INPUT" ? e.value : "");
                if (text && !out.includes(text)) out.push(text);
            }
            return out;
        }""")
    except playwright_api.Error as error:
        return f"(could not read the screen: {type(error).__name__})"
    line = " | ".join(str(t).replace("\n", " ") for t in texts)
    return line[:600] + ("…" if len(line) > 600 else "")


def reveal(page, locator, what: str, *, down: bool = True,  # type: ignore[no-untyped-def]
           seconds: float = UI_SECONDS) -> None:
    """Scroll the screen (mouse wheel over the canvas) until ``locator`` is in the accessibility tree.

    Flutter leaves controls far outside the viewport out of the tree; the wait is bounded and polls.
    """
    def found() -> bool:
        if locator.count():
            return True
        page.mouse.move(195, 420)
        page.mouse.wheel(0, 350 if down else -350)
        return bool(locator.count())

    wait_for(what, found, seconds=seconds)


def into_view(page, locator, what: str, *, seconds: float = UI_SECONDS) -> None:  # type: ignore[no-untyped-def]
    """Scroll until ``locator`` sits clear of the app bar and the navigation bar (bounded, polls).

    At the end of a screen that can't scroll further, a control wholly inside the viewport will do.
    """
    last: list[float] = []

    def placed() -> bool:
        try:  # briefly: absent for now (a redraw under load) is "not yet", and the deadline is wait_for's
            box = locator.first.bounding_box(timeout=2000)
        except playwright_api.TimeoutError:
            return False
        if box is None:
            return False
        if 80 <= box["y"] <= 660:
            return True
        if last and abs(last[-1] - box["y"]) < 1 and box["y"] + box["height"] <= 844:
            return True  # nothing left to scroll
        last.append(box["y"])
        page.mouse.move(195, 420)
        page.mouse.wheel(0, box["y"] - 340)
        return False

    wait_for(what, placed, seconds=seconds)


#: The element a field's keys go to: the field's own node, or the input Flutter lays over the field to edit it (a
#: field with autofill hints, or one focused before its accessibility node existed: a slow machine); null if neither.
EDITOR = """e => {
    const active = document.activeElement;
    if (active === e) return e;
    if (!active || !active.classList.contains("flt-text-editing")) return null;
    const a = active.getBoundingClientRect(), f = e.getBoundingClientRect();
    const x = a.left + a.width / 2, y = a.top + a.height / 2;
    return f.left <= x && x <= f.right && f.top <= y && y <= f.bottom ? active : null;
}"""


def type_into(page, name: str, text: str, *, seconds: float = UI_SECONDS,  # type: ignore[no-untyped-def]
              paste: bool = False) -> None:
    """Click a text field, wait until *that* field has the focus, type; check what it holds, else type again.

    ``paste``: the text goes in at once, as a paste does (a long code: each typed key is a frame to paint).

    Tried again until a deadline (``seconds``): a click lost in a redraw is made again, after a wait for the
    focus that grows each time (5 s, 10 s, …); a field already holding ``text`` is not typed into again.
    """
    deadline = time.monotonic() + seconds
    field = page.get_by_role("textbox", name=name)
    reveal(page, field, f"the field {name}", seconds=_left(deadline))
    into_view(page, field, f"the field {name} on screen", seconds=_left(deadline))
    # Where the text goes: the field itself, or the input Flutter lays over it to edit it (a field with autofill
    # hints is edited through an input of its own, placed where the field is painted, whose value the field's
    # node does not always show).
    editor = EDITOR
    is_focused = f"e => ({editor})(e) !== null"
    holds = f"(e, text) => {{ const editing = ({editor})(e); return (editing || e).value === text || e.value === text; }}"
    seen: list[str] = []  # what each attempt found, for the failure's message
    clicks = 0
    while time.monotonic() < deadline:
        try:
            if field.first.evaluate(holds, text):
                return
            # A redraw may replace the field's node while Playwright waits for it to hold still: try again.
            field.first.click(timeout=_tap_ms(deadline))
            clicks += 1
            wait_for(f"{name} focused", lambda: field.first.evaluate(is_focused), seconds=_step(clicks, deadline))
        except (AssertionError, playwright_api.TimeoutError) as error:
            seen.append(f"not focused ({type(error).__name__}; focus on {_active(page)})")
            continue  # the click did not reach the field (Flutter was still laying out): click again
        page.keyboard.press("Control+A")
        if paste:
            page.keyboard.insert_text(text)
        else:
            page.keyboard.type(text)
        if field.first.evaluate(holds, text):
            return
        seen.append(f"typed, the field holds {field.first.evaluate('e => e.value')!r} (focus on {_active(page)})")
    _failure_screenshot(page, f"type-{name}")
    raise AssertionError(f"could not type into {name} after {clicks} clicks in {seconds:.0f} s: " + "; ".join(seen))


def _active(page) -> str:  # type: ignore[no-untyped-def]
    """The focused element, in short (tag, class, name, value, box)."""
    return str(page.evaluate("""() => { const a = document.activeElement; if (!a) return null;
        const b = a.getBoundingClientRect();
        return [a.tagName, a.className, a.getAttribute("aria-label") || a.name, a.value,
                [b.left, b.top, b.width, b.height].map(Math.round)].join(" | "); }"""))


def click_and_wait(page, name: str, done: str) -> None:  # type: ignore[no-untyped-def]
    """Click the button ``name`` (scrolled into view) until the button ``done`` shows; see ``click_until``."""
    button = page.get_by_role("button", name=name, exact=True)
    target = page.get_by_role("button", name=done, exact=True)
    click_until(page, button, name, target.count)


def click_until(page, locator, what: str, done: Callable[[], object],  # type: ignore[no-untyped-def]
                seconds: float = UI_SECONDS, *, scroll: bool = True) -> None:
    """Click ``locator`` (scrolled into view) until ``done()`` holds, or fail after ``seconds``.

    A tap that lands while Flutter replaces the node (a redraw under load, a list updated in place) is lost,
    as a person's would be; like them, tap again. Each tap's effect is waited for a little longer than the
    last one's (5 s, 10 s, 15 s…, capped by what is left), and ``done()`` is checked before every tap: a tap
    whose effect came late is not repeated. So a tap that is not idempotent (it sends or creates something)
    is safe here provided ``done`` detects its effect.

    ``scroll=False``: tap where the control is, without scrolling the screen first (a navigation bar's tab,
    a control whose position the test checks).
    """
    deadline = time.monotonic() + seconds
    seen: list[str] = []
    taps = 0
    while True:
        if done():
            return
        if time.monotonic() >= deadline:
            break
        try:
            # The control may be off screen (scroll to it), or gone because the last tap's effect came meanwhile.
            wait_for(f"{what}, or its effect", lambda: done() or (_found(page, locator) if scroll else locator.count()),
                     seconds=_left(deadline))
            if done():
                return
            if scroll:
                into_view(page, locator, f"{what} on screen", seconds=min(10.0, _left(deadline)))
            locator.first.click(timeout=_tap_ms(deadline))
        except (AssertionError, playwright_api.TimeoutError) as error:
            seen.append(f"not tapped ({type(error).__name__}: {str(error).splitlines()[0][:120]})")
            continue
        taps += 1
        try:
            wait_for(f"{what}: its effect", done, seconds=_step(taps, deadline))
            return
        except AssertionError:
            seen.append(f"tap {taps}: no effect, {locator.count()} such control(s) on screen")
    _failure_screenshot(page, what)
    raise AssertionError(f"{what}: no effect after {taps} taps in {seconds:.0f} s: " + "; ".join(seen)
                         + f"; on screen: {_screen(page)}")


def _found(page, locator) -> bool:  # type: ignore[no-untyped-def]
    """One step of ``reveal``: whether ``locator`` is in the tree, scrolling down once if not."""
    if locator.count():
        return True
    page.mouse.move(195, 420)
    page.mouse.wheel(0, 350)
    return bool(locator.count())


def click_in_view(page, locator, what: str) -> None:  # type: ignore[no-untyped-def]
    reveal(page, locator, what)
    into_view(page, locator, f"{what} on screen")
    locator.first.click()


# ---- accessibility: axe-core ------------------------------------------------------------------

#: axe-core from npm (tests/browser/package.json, installed by .ci/run and scripts/test).
AXE_JS = Path(__file__).resolve().parent / "node_modules" / "axe-core" / "axe.min.js"
#: The rules that make sense on Flutter's semantics tree: every control has a name, images have a text.
#: Left out, as false positives on Flutter web (checked on this app with axe-core 4.10):
#: ``region`` (Flutter's tree has no landmarks: every node is "outside a landmark"), ``meta-viewport``
#: (Flutter's own index.html turns zoom off: the engine handles scaling itself), and every rule about
#: colours or what is drawn (``color-contrast`` and others): the pixels are on a canvas axe cannot see.
AXE_RULES = (
    "button-name",
    "aria-command-name",
    "input-button-name",
    "label",
    "aria-input-field-name",
    "aria-toggle-field-name",
    "select-name",
    "link-name",
    "image-alt",
    "role-img-alt",
)


def axe_violations(page, rules: tuple[str, ...] = AXE_RULES) -> list[str]:  # type: ignore[no-untyped-def]
    """axe-core's violations of ``rules`` on the page (Flutter's semantics on), one line each."""
    if not AXE_JS.exists():
        raise AssertionError(f"no {AXE_JS}: run `npm install --no-audit --no-fund` in tests/browser")
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(AXE_JS.read_text(encoding="utf-8"))
    # Left out: the engine's text-editing inputs (class ``transparentTextEditing``) that hold no focus. Flutter makes
    # one when a field is focused from the canvas rather than from its accessibility node (a click that lands while
    # the node is being replaced, under load) and leaves it behind; it is not part of the accessibility tree, and
    # the field's own node is checked. One that holds the focus is checked: a screen reader would be on it.
    found = page.evaluate(
        """async rules => {
            for (const e of document.querySelectorAll(".transparentTextEditing")) {
                const active = document.activeElement;
                if (e !== active && !e.contains(active)) e.setAttribute("data-axe-skip", "");
            }
            return (await axe.run({exclude: [["[data-axe-skip]"]]}, {runOnly: {type: "rule", values: rules},
                                                                      resultTypes: ["violations"]})).violations
                .map(v => v.nodes.map(n => `${v.id}: ${n.html.slice(0, 160)}`)).flat();
        }""",
        list(rules),
    )
    return [str(line) for line in found]
