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
from carnet.core.navigation import Navigator, Screen
from carnet.data.api import ApiClient, ApiError, AuthError, BadRequest
from carnet.data.messages import message_for
from carnet.data.online import guarded
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

    def enter_staff(self, user: contract.UserOut, screen: Screen) -> None: ...


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
        #: What the desk typed in "WhatsApp: desvincular un número" (kept across redraws, in memory only).
        self.unlink_phone = ""

    @property
    def _ui(self) -> DeskUi:
        return self._state.desk

    def visible(self) -> list[contract.StaffIncident]:
        ui = self._ui
        return queue_order(
            filter_queue(ui.incidents, category=ui.category, unit_id=ui.unit_id, status=ui.status), self._clock()
        )

    async def enter(self, user: contract.UserOut) -> None:
        with self._state.batch():
            self._ui.reset()
            self._state.enter_staff(user, Screen.DESK)
        await self.load()

    async def _guard(
        self, work: Callable[[], Awaitable[Callable[[], None]]], finish: Callable[[], None] = lambda: None
    ) -> bool:
        return await guarded(
            work,
            state=self._state,
            ui=self._ui,
            tr=self._tr,
            session_expired=self._session_expired,
            finish=finish,
            offline="err_network",
        )

    async def load(self) -> None:
        ui = self._ui
        if not self._state.desk_mode or ui.loading:
            return
        ui.start_loading()

        async def work() -> Callable[[], None]:
            units = ui.units or list((await self._api.me()).units)
            incidents = await self._api.incidents()
            return lambda: ui.show_queue(units, incidents)

        await self._guard(work, ui.stop_loading)

    def set_filter(
        self, *, category: str | None = "keep", unit_id: str | None = "keep", status: str | None = "keep"
    ) -> None:
        ui = self._ui
        ui.filter(
            (contract.IncidentCategory(category) if category else None) if category != "keep" else ui.category,
            (unit_id or None) if unit_id != "keep" else ui.unit_id,
            (contract.IncidentStatus(status) if status else None) if status != "keep" else ui.status,
        )

    async def open(self, incident_id: str) -> None:
        ui = self._ui
        self.photo_data, self.photo_failed = {}, set()
        with self._state.batch():
            ui.open_case(next((i for i in ui.incidents if i.id == incident_id), None))
            self._state.go_to(Screen.DESK_CASE)

        async def work() -> Callable[[], None]:
            incident = await self._api.incident(incident_id)
            return lambda: ui.show_case(incident)

        if await self._guard(work):
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
            ui.photos_changed()

    async def answer(self, message: str, *, resolves: bool) -> bool:
        """Send an answer (online). Marking atendida needs a concrete answer: the server has the last word."""
        ui = self._ui
        incident = ui.selected
        if incident is None or ui.busy:
            return False
        text = (message or "").strip()
        if not text:
            ui.answer_refused(self._tr.t("desk_err_empty"))
            return False
        sent = False
        unsent = ui.unsent_answer
        key = unsent[3] if unsent and unsent[:3] == (incident.id, text, resolves) else str(uuid.uuid4())
        ui.start_answer((incident.id, text, resolves, key))

        async def work() -> Callable[[], None]:
            nonlocal sent
            try:
                answered = await self._api.respond(
                    incident.id, contract.ReplyCreate(message=text, resolves=resolves), idempotency_key=key
                )
            except BadRequest as exc:
                problem = message_for(self._tr, exc)

                def refused() -> None:
                    ui.forget_unsent_answer()  # refused: nothing was written
                    ui.answer_refused(problem)

                return refused
            sent = True
            done = self._tr.t("desk_resolved" if resolves else "desk_answered", folio=incident.folio)
            return lambda: ui.answered(answered, done)

        await self._guard(work, ui.stop_busy)
        return sent

    async def unlink_whatsapp(self) -> bool:
        """End the WhatsApp link of the number typed (online): the family's lost phone gets nothing more."""
        ui, t = self._ui, self._tr.t
        phone = self.unlink_phone.strip()
        if ui.busy:
            return False
        if sum(ch.isdigit() for ch in phone) < 10 or any(ch not in "+0123456789 -" for ch in phone):
            ui.show_error(t("desk_wa_err_number"))
            return False
        done: list[bool] = []
        ui.start_busy()

        async def work() -> Callable[[], None]:
            await self._api.whatsapp_unlink_number(phone)
            done.append(True)

            def show() -> None:
                self.unlink_phone = ""
                ui.show_message(t("desk_wa_unlinked"))

            return show

        await self._guard(work, ui.stop_busy)
        return bool(done)

    def back(self) -> None:
        self.photo_data, self.photo_failed = {}, set()
        with self._state.batch():
            self._ui.close_case()
            self._state.go_to(Screen.DESK)

    async def show_weekly(self, weeks: int = 0) -> None:
        ui = self._ui
        today = local_date(self._clock())
        base = ui.week or monday_of(today)
        week = monday_of(base + timedelta(weeks=weeks))
        with self._state.batch():
            ui.open_week(week)
            self._state.go_to(Screen.DESK_WEEKLY)

        async def work() -> Callable[[], None]:
            figures = await self._api.weekly(week)
            return lambda: ui.show_weekly(week, figures)

        await self._guard(work)

    async def weekly_file(self, kind: str) -> tuple[str, bytes] | None:
        """The shown week's figures as ``csv`` or ``md`` (``casos-semana-<Monday>.<kind>``), fetched with the
        session; None with the reason on screen when it could not be fetched."""
        ui = self._ui
        week: date | None = ui.week
        if week is None or ui.busy:
            return None
        ui.start_busy()
        found: list[bytes] = []

        async def work() -> Callable[[], None]:
            found.append(await self._api.weekly_export(week, kind))
            return lambda: None

        if not await self._guard(work, ui.stop_busy):
            return None
        return (f"casos-semana-{week.isoformat()}.{kind}", found[0]) if found else None

    def file_saved(self, name: str, saved: bool | None) -> None:
        """What the save dialog / download did, in words (None: the person closed the dialog: nothing to say)."""
        ui, t = self._ui, self._tr.t
        if saved:
            ui.file_saved(message=t("desk_downloaded", name=name), error=None)
        elif saved is None:
            ui.file_saved(message=None, error=ui.error)
        else:
            ui.file_saved(message=None, error=t("desk_download_failed", name=name))

    def dismiss_message(self) -> None:
        self._ui.dismiss_message()
