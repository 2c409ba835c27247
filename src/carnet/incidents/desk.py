"""The case desk's use cases (``session.desk``: online only, like blood-bank staff mode — nothing of it is
written to the device): the queue, a case, the weekly report. It sees thumbnails of the photos too
(fetched, held in memory only). No Flet."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from typing import Protocol

from carnet.core.clock import Clock, local_date
from carnet.core.i18n import Translator
from carnet.core.navigation import Navigator, Phase, Screen
from carnet.data.api import ApiClient, ApiError, AuthError, BadRequest
from carnet.data.messages import message_for
from carnet.incidents.photos import thumbnail
from carnet.incidents.repository import filter_queue, monday_of, queue_order
from carnet.incidents.state import DeskUi
from carnet_contract import models as contract

log = logging.getLogger(__name__)


class DeskHost(Navigator, Protocol):
    """What of the app's state the case desk reads and changes besides its own."""

    desk: DeskUi
    user: contract.UserOut | None
    children: list[contract.PatientRef]
    selected_child_id: str | None

    @property
    def desk_mode(self) -> bool: ...


class DeskCases:
    """The case desk: queue by deadline, filters, answer / mark atendida, weekly figures. Online only."""

    def __init__(
        self,
        *,
        state: DeskHost,
        api: ApiClient,
        tr: Translator,
        clock: Clock,
        session_expired: Callable[[], Awaitable[None]],
    ) -> None:
        self._state = state
        self._api = api
        self._tr = tr
        self._clock = clock
        self._session_expired = session_expired
        #: The open incident's photos as thumbnails (photo id → bytes), in memory only; ids that could not be
        #: fetched (or decoded).
        self.photo_data: dict[str, bytes] = {}
        self.photo_failed: set[str] = set()

    @property
    def _ui(self) -> DeskUi:
        return self._state.desk

    def _redraw(self) -> None:
        self._state.changed()

    def visible(self) -> list[contract.Incident]:
        ui = self._ui
        return queue_order(
            filter_queue(ui.incidents, category=ui.category, unit_id=ui.unit_id, status=ui.status), self._clock()
        )

    async def enter(self, user: contract.UserOut) -> None:
        state = self._state
        state.user, state.desk = user, DeskUi()
        state.phase, state.screen = Phase.READY, Screen.DESK
        state.children, state.selected_child_id = [], None
        await self.load()

    async def _guard(self, work: Callable[[], Awaitable[None]]) -> bool:
        """Run ``work()``; errors become the screen's message. False when the session ended."""
        ui = self._ui
        try:
            await work()
            self._state.online = True
            return True
        except AuthError:
            await self._session_expired()
            return False
        except ApiError as exc:
            ui.error = message_for(self._tr, exc)
            return True

    async def load(self) -> None:
        ui = self._ui
        if not self._state.desk_mode or ui.loading:
            return
        ui.loading, ui.error = True, None
        self._redraw()

        async def work() -> None:
            if not ui.units:
                ui.units = list((await self._api.me()).units)
            ui.incidents = await self._api.incidents()
            if ui.selected is not None:
                ui.selected = next((i for i in ui.incidents if i.id == ui.selected.id), ui.selected)

        try:
            alive = await self._guard(work)
        finally:
            ui.loading = False
        if alive:
            self._redraw()

    def set_filter(
        self, *, category: str | None = "keep", unit_id: str | None = "keep", status: str | None = "keep"
    ) -> None:
        ui = self._ui
        if category != "keep":
            ui.category = contract.IncidentCategory(category) if category else None
        if unit_id != "keep":
            ui.unit_id = unit_id or None
        if status != "keep":
            ui.status = contract.IncidentStatus(status) if status else None
        self._redraw()

    async def open(self, incident_id: str) -> None:
        ui = self._ui
        self.photo_data, self.photo_failed = {}, set()
        ui.selected = next((i for i in ui.incidents if i.id == incident_id), None)
        ui.answer_error, ui.message, ui.error = None, None, None
        self._state.screen = Screen.DESK_CASE
        self._redraw()

        async def work() -> None:
            ui.selected = await self._api.incident(incident_id)

        if await self._guard(work):
            self._redraw()
            await self.load_photos()

    async def load_photos(self) -> None:
        """The open incident's photos, fetched with the staff session and held in memory only."""
        ui = self._ui
        incident = ui.selected
        if incident is None:
            return
        wanted = [p for p in incident.photos if p.id not in self.photo_data]
        for photo in wanted:
            try:
                data = await self._api.incident_photo(photo.url)
            except AuthError:
                await self._session_expired()
                return
            except ApiError as exc:
                log.info("incident photo not fetched: %s", type(exc).__name__)
                self.photo_failed.add(photo.id)
                continue
            thumb = await asyncio.to_thread(thumbnail, data)
            if ui.selected is None or ui.selected.id != incident.id:
                return  # another case was opened meanwhile
            if thumb is None:
                self.photo_failed.add(photo.id)
                continue
            self.photo_data[photo.id] = thumb
            self.photo_failed.discard(photo.id)
        if wanted:
            self._redraw()

    async def answer(self, message: str, *, resolves: bool) -> bool:
        """Send an answer (online). Marking atendida needs a concrete answer: the server has the last word."""
        ui = self._ui
        incident = ui.selected
        if incident is None or ui.busy:
            return False
        text = (message or "").strip()
        if not text:
            ui.answer_error = self._tr.t("desk_err_empty")
            self._redraw()
            return False
        ui.busy, ui.answer_error, ui.message, ui.error = True, None, None, None
        self._redraw()
        sent = False
        unsent = ui.unsent_answer
        key = unsent[3] if unsent and unsent[:3] == (incident.id, text, resolves) else str(uuid.uuid4())
        ui.unsent_answer = (incident.id, text, resolves, key)

        async def work() -> None:
            nonlocal sent
            try:
                ui.selected = await self._api.respond(
                    incident.id, contract.ReplyCreate(message=text, resolves=resolves), idempotency_key=key
                )
            except BadRequest as exc:
                ui.unsent_answer = None  # refused: nothing was written
                ui.answer_error = message_for(self._tr, exc)
                return
            ui.unsent_answer = None
            sent = True
            ui.sent += 1
            ui.incidents = [ui.selected if i.id == incident.id else i for i in ui.incidents]
            ui.message = self._tr.t("desk_resolved" if resolves else "desk_answered", folio=incident.folio)

        try:
            alive = await self._guard(work)
        finally:
            ui.busy = False
        if alive:
            self._redraw()
        return sent

    def back(self) -> None:
        ui = self._ui
        ui.selected, ui.answer_error = None, None
        self.photo_data, self.photo_failed = {}, set()
        self._state.screen = Screen.DESK
        self._redraw()

    async def show_weekly(self, weeks: int = 0) -> None:
        ui = self._ui
        today = local_date(self._clock())
        base = ui.week or monday_of(today)
        ui.week = monday_of(base + timedelta(weeks=weeks))
        self._state.screen = Screen.DESK_WEEKLY
        ui.weekly, ui.error = None, None
        self._redraw()
        week = ui.week

        async def work() -> None:
            figures = await self._api.weekly(week)
            if ui.week == week:
                ui.weekly = figures

        if await self._guard(work):
            self._redraw()

    async def weekly_file(self, kind: str) -> tuple[str, bytes] | None:
        """The shown week's figures as ``csv`` or ``md`` (``casos-semana-<Monday>.<kind>``), fetched with the
        session; None with the reason on screen when it could not be fetched."""
        ui = self._ui
        week: date | None = ui.week
        if week is None or ui.busy:
            return None
        ui.busy, ui.error, ui.message = True, None, None
        self._redraw()
        found: list[bytes] = []

        async def work() -> None:
            found.append(await self._api.weekly_export(week, kind))

        try:
            alive = await self._guard(work)
        finally:
            ui.busy = False
        if not alive:
            return None
        self._redraw()
        return (f"casos-semana-{week.isoformat()}.{kind}", found[0]) if found else None

    def file_saved(self, name: str, saved: bool | None) -> None:
        """What the save dialog / download did, in words (None: the person closed the dialog: nothing to say)."""
        ui, t = self._ui, self._tr.t
        if saved:
            ui.message, ui.error = t("desk_downloaded", name=name), None
        elif saved is None:
            ui.message = None
        else:
            ui.message, ui.error = None, t("desk_download_failed", name=name)
        self._redraw()

    def dismiss_message(self) -> None:
        self._ui.message = None
        self._redraw()
