"""An online-only screen's requests (the staff desks, the administration): what the server sent shown in one
redraw, or the reason on screen — never a crash, never a half-drawn screen. No Flet."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

from carnet.core.i18n import Translator
from carnet.core.navigation import Navigator
from carnet.data.api import ApiError, AuthError, HttpError, NetworkError
from carnet.data.messages import message_for

__all__ = ["ShowsError", "guarded"]


class ShowsError(Protocol):
    def show_error(self, error: str) -> None: ...


def _nothing() -> None:
    return None


async def guarded(
    work: Callable[[], Awaitable[Callable[[], None]]],
    *,
    state: Navigator,
    ui: ShowsError,
    tr: Translator,
    session_expired: Callable[[], Awaitable[None]],
    finish: Callable[[], None] = _nothing,
    offline: str = "onc_offline",
    refused: Callable[[HttpError], bool] | None = None,
) -> bool:
    """Run ``work()``, then — in one redraw — show what it fetched (the function it returns), note that the server
    answered, and ``finish()``. False when it did not go through: a session that ended goes to
    ``session_expired``; no network is said with the catalogue's ``offline`` (and the app noted offline); any other
    error in words (``refused`` first takes the refusals its caller words itself). ``finish`` runs whatever
    happens, a cancelled request too."""
    try:
        show = await work()
    except AuthError:
        finish()
        await session_expired()
        return False
    except NetworkError:
        with state.batch():
            ui.show_error(tr.t(offline))
            state.set_online(False)
            finish()
        return False
    except ApiError as exc:
        with state.batch():
            if not (refused is not None and isinstance(exc, HttpError) and refused(exc)):
                ui.show_error(message_for(tr, exc))
            finish()
        return False
    except BaseException:
        finish()
        raise
    with state.batch():
        show()
        state.set_online(True)
        finish()
    return True
