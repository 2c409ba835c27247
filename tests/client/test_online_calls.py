"""``carnet.data.online.guarded``: how an online-only screen's request ends, whatever the server (or the lack of
one) answers — what it fetched shown with the screen's work finished, or the reason in words."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from carnet.core.i18n import Translator
from carnet.core.observable import OnlineScreenUi
from carnet.data.api import AuthError, HttpError, NetworkError
from carnet.data.online import guarded
from carnet.shell.state import AppState

pytestmark = pytest.mark.anyio
TR = Translator()


class Call:
    """One screen (its state, an online-only part of it) and what ``guarded`` did to it."""

    def __init__(self) -> None:
        self.state, self.ui = AppState(), OnlineScreenUi()
        self.shown: list[str] = []
        self.finished = self.expired = 0

    async def run(self, failure: BaseException | None = None, **options: object) -> bool:
        async def work() -> Callable[[], None]:
            if failure is not None:
                raise failure
            return lambda: self.shown.append("fetched")

        async def expired() -> None:
            self.expired += 1

        def finish() -> None:
            self.finished += 1

        return await guarded(work, state=self.state, ui=self.ui, tr=TR, session_expired=expired, finish=finish,
                             **options)  # type: ignore[arg-type]


async def test_what_was_fetched_is_shown_the_work_finished_and_the_app_online() -> None:
    call = Call()
    assert await call.run()
    assert call.shown == ["fetched"] and call.finished == 1 and call.state.online is True and call.ui.error is None


async def test_an_ended_session_goes_to_the_login_with_nothing_shown() -> None:
    call = Call()
    assert not await call.run(AuthError(401, "token_invalid", "Sesión vencida"))
    assert call.expired == 1 and call.finished == 1 and call.shown == [] and call.ui.error is None


@pytest.mark.parametrize("locale, offline", [("es-MX", "onc_offline"), ("en", "desk_fever_offline")])
async def test_no_network_says_so_in_the_screens_words_and_the_app_is_offline(locale: str, offline: str) -> None:
    call = Call()
    tr = Translator(locale)

    async def work() -> Callable[[], None]:
        raise NetworkError("connection refused")

    async def expired() -> None:  # pragma: no cover - not reached: the session did not end
        raise AssertionError("no network is not an ended session")

    assert not await guarded(work, state=call.state, ui=call.ui, tr=tr, session_expired=expired, offline=offline)
    assert call.ui.error == tr.t(offline) and call.state.online is False


async def test_a_refusal_is_said_in_words_unless_the_caller_words_it() -> None:
    refusal = HttpError(409, "cycle_exists", "Ya existe un ciclo con ese número.")
    call = Call()
    assert not await call.run(refusal)
    assert call.ui.error == "Ya existe un ciclo con ese número." and call.finished == 1 and call.shown == []
    taken: list[str] = []
    call = Call()
    assert not await call.run(refusal, refused=lambda exc: taken.append(exc.code) or True)
    assert taken == ["cycle_exists"] and call.ui.error is None and call.finished == 1


async def test_a_cancelled_request_still_finishes_the_screens_work() -> None:
    call = Call()
    with pytest.raises(asyncio.CancelledError):
        await call.run(asyncio.CancelledError())
    assert call.finished == 1 and call.shown == []
