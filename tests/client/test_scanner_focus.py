"""The counter's scanner field asks for the focus until the client confirms it has held it (bounded).

A hand-held scanner types into whatever has the focus: on a slow desk PC the client may drop the first
requests (the new screen not laid out yet) or lose the focus while it rebuilds the screen. The field's
Flutter client is replaced here by a recorder that answers (or not) as the test says.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from carnet.views.pharmacy import counter
from carnet.views.pharmacy.counter import PharmacyView

pytestmark = pytest.mark.anyio


@pytest.fixture(autouse=True)
def _quick(monkeypatch: pytest.MonkeyPatch) -> None:
    """The same watch, in hundredths of the real seconds."""
    monkeypatch.setattr(counter, "FOCUS_FIRST_PAUSE", 0.0025)
    monkeypatch.setattr(counter, "FOCUS_LAST_PAUSE", 0.02)
    monkeypatch.setattr(counter, "FOCUS_SETTLED_SECONDS", 0.03)
    monkeypatch.setattr(counter, "FOCUS_WATCH_SECONDS", 0.3)


def _view(answer_on: int | None) -> tuple[PharmacyView, list[int]]:
    """A counter view whose client confirms the focus on the ``answer_on``-th request (never, if None)."""
    view = PharmacyView(cases=Any)  # type: ignore[arg-type]  # the watch never touches the cases
    asked: list[int] = []

    async def focus() -> None:
        asked.append(len(asked) + 1)
        if answer_on is not None and len(asked) >= answer_on:
            asyncio.get_running_loop().call_soon(view._focused)

    view.field.focus = focus  # type: ignore[method-assign]
    return view, asked


async def _until(what: str, check: Callable[[], object]) -> None:
    """Poll ``check`` (the watch's progress) with a deadline."""
    deadline = asyncio.get_running_loop().time() + 5
    while not check():
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.001)


async def test_the_field_asks_again_until_the_client_confirms_then_stops() -> None:
    view, asked = _view(answer_on=3)  # the first two requests reached a screen not laid out yet
    await asyncio.wait_for(view.focus(), timeout=5)
    assert asked == [1, 2, 3]
    assert view._has_focus


async def test_a_focus_lost_while_the_screen_settles_is_asked_for_again_at_once() -> None:
    view, asked = _view(answer_on=1)
    watch = asyncio.ensure_future(view.focus())
    await _until("focused", lambda: view._has_focus)
    view._blurred()  # the client rebuilt the screen's nodes: the focus went
    await asyncio.wait_for(watch, timeout=5)
    assert asked == [1, 2]
    assert view._has_focus


async def test_an_unanswered_field_stops_asking_at_the_deadline_with_fewer_and_fewer_requests() -> None:
    view, asked = _view(answer_on=None)
    started = asyncio.get_running_loop().time()
    await asyncio.wait_for(view.focus(), timeout=5)
    assert asyncio.get_running_loop().time() - started >= counter.FOCUS_WATCH_SECONDS
    # Backing off to one request per FOCUS_LAST_PAUSE: far fewer than one per poll.
    polls = counter.FOCUS_WATCH_SECONDS / counter.FOCUS_FIRST_PAUSE
    assert 3 <= len(asked) <= counter.FOCUS_WATCH_SECONDS / counter.FOCUS_LAST_PAUSE + 4 < polls


async def test_a_newer_request_takes_over_from_the_older_watch() -> None:
    view, asked = _view(answer_on=None)
    older = asyncio.ensure_future(view.focus())
    await _until("the older watch's first request", lambda: asked)
    newer = asyncio.ensure_future(view.focus())
    await asyncio.wait_for(older, timeout=counter.FOCUS_WATCH_SECONDS / 2)  # stopped well before its deadline
    assert not newer.done()
    view._focused()
    await asyncio.wait_for(newer, timeout=5)


async def test_a_field_no_longer_on_a_page_stops_the_watch() -> None:
    view = PharmacyView(cases=Any)  # type: ignore[arg-type]

    async def gone() -> None:
        raise RuntimeError("Control must be added to the page first")

    view.field.focus = gone  # type: ignore[method-assign]
    await asyncio.wait_for(view.focus(), timeout=1)
    assert not view._has_focus
