"""Blood-bank staff mode: the day's list of a bank, one-tap check-in / no-show, donors per child.

Online only, on purpose: a counter device is shared, so nothing of it is
written to the phone's store (no outbox, no cache), and the session is kept in
memory only (tokens never leave the API client; a restart asks to log in
again). Part of the session (``session.staff``); no Flet.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from typing import Protocol

from carnet.blood_bank.state import StaffUi
from carnet.core.clock import Clock, local_date
from carnet.core.i18n import Translator
from carnet.core.navigation import Navigator, Phase, Screen
from carnet.data.api import ApiClient, ApiError, AuthError
from carnet.data.messages import message_for
from carnet_contract import models as contract

__all__ = ["StaffCases", "week_of"]


def week_of(day: date) -> tuple[date, date]:
    """Monday to Sunday of ``day``'s week."""
    monday = day - timedelta(days=day.weekday())
    return monday, monday + timedelta(days=6)


class StaffHost(Navigator, Protocol):
    """What of the app's state blood-bank staff mode reads and changes besides its own."""

    staff: StaffUi
    user: contract.UserOut | None
    children: list[contract.PatientRef]
    selected_child_id: str | None

    @property
    def staff_mode(self) -> bool: ...


class StaffCases:
    def __init__(
        self,
        *,
        state: StaffHost,
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

    @property
    def _ui(self) -> StaffUi:
        return self._state.staff

    def today(self) -> date:
        return local_date(self._clock())

    def _redraw(self) -> None:
        self._state.changed()

    async def enter(self, user: contract.UserOut) -> None:
        state = self._state
        state.user, state.staff = user, StaffUi()
        state.phase, state.screen = Phase.READY, Screen.STAFF
        state.children, state.selected_child_id = [], None
        await self.load()

    async def load(self) -> None:
        """The banks of the staff member's units, then the chosen bank's list and counts for today."""
        ui = self._ui
        if not self._state.staff_mode or ui.loading:
            return
        ui.loading = True
        self._redraw()
        ended = False
        try:
            if not ui.banks:
                me = await self._api.me()
                units = {u.id for u in me.units}
                ui.banks = [b for b in await self._api.blood_banks() if b.unit.id in units]
            if ui.bank_id not in {b.id for b in ui.banks}:
                ui.bank_id = ui.banks[0].id if ui.banks else None
            ui.day = ui.day or self.today()
            if ui.bank_id is not None:
                await self._load_day(ui.bank_id, ui.day)
            ui.error = None
            self._state.online = True
        except AuthError:
            ended = True
        except ApiError as exc:
            ui.error = message_for(self._tr, exc)
        finally:
            ui.loading = False
        if ended:
            await self._session_expired()
            return
        self._redraw()

    async def _load_day(self, bank_id: str, day: date) -> None:
        ui = self._ui
        bookings = await self._api.bank_bookings(bank_id, day)
        monday, sunday = week_of(day)
        week = await self._api.donor_counts(bank_id, monday, sunday)
        today = {c.patient_id: c for c in await self._api.donor_counts(bank_id, day, day)}
        ui.bookings = sorted(bookings, key=lambda b: (b.slot.starts_at, b.donor.full_name))
        counts = {c.patient_id: (c.patient_display_name, 0, c.came, c.booked) for c in week}
        for pid, c in today.items():
            name, _, came_week, booked_week = counts.get(pid, (c.patient_display_name, 0, c.came, c.booked))
            counts[pid] = (name, c.came, came_week, booked_week)
        ui.counts = sorted(counts.values(), key=lambda c: c[0])

    async def move_day(self, days: int) -> None:
        """Another day's list (today by default); the counts follow that day and its week."""
        ui = self._ui
        ui.day = (ui.day or self.today()) + timedelta(days=days)
        ui.bookings, ui.counts, ui.message = [], [], None
        await self.load()

    async def pick_bank(self, bank_id: str) -> None:
        if bank_id in {b.id for b in self._ui.banks}:
            self._ui.bank_id, self._ui.bookings, self._ui.counts = bank_id, [], []
            await self.load()

    async def check_in(self, booking_id: str) -> None:
        await self._mark(booking_id, "check-in")

    async def no_show(self, booking_id: str) -> None:
        await self._mark(booking_id, "no-show")

    async def _mark(self, booking_id: str, action: str) -> None:
        ui = self._ui
        booking = next((b for b in ui.bookings if b.id == booking_id), None)
        if booking is None or booking_id in ui.busy_ids or booking.status is not contract.BookingStatus.CONFIRMADA:
            return
        ui.busy_ids.add(booking_id)
        ui.message = ui.error = None
        self._redraw()
        ended = False
        try:
            answer = await self._api.booking_action(booking_id, action)
        except AuthError:
            ended = True
        except ApiError as exc:
            ui.error = message_for(self._tr, exc)
        else:
            done = contract.StaffBooking(**answer.model_dump(), patient_display_name=booking.patient_display_name)
            ui.bookings = [done if b.id == booking_id else b for b in ui.bookings]
            key = "staff_checked_in" if action == "check-in" else "staff_no_show_done"
            ui.message = self._tr.t(key, name=booking.donor.full_name)
        finally:
            ui.busy_ids.discard(booking_id)
        if ended:
            await self._session_expired()
            return
        await self.load()  # the counts follow (and another desk's changes show)

    def dismiss_message(self) -> None:
        self._ui.message = None
        self._redraw()
