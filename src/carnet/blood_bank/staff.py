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
from carnet.core.navigation import Navigator, Screen
from carnet.data.api import ApiClient, ApiError, AuthError, HttpError
from carnet.data.messages import message_for
from carnet_contract import models as contract

__all__ = ["MIN_REASON_CHARS", "StaffCases", "week_of"]

#: The reason for an out-of-day check-in or an undo: at least this many characters (as the server asks).
MIN_REASON_CHARS = 5
#: The message each staff action leaves once done.
DONE = {"check-in": "staff_checked_in", "no-show": "staff_no_show_done", "undo-check-in": "staff_undone"}


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

    def enter_staff(self, user: contract.UserOut, screen: Screen) -> None: ...


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
        #: The reason being typed for the check-in or undo asked for (``StaffUi.asking``).
        self.reason = ""

    @property
    def _ui(self) -> StaffUi:
        return self._state.staff

    def today(self) -> date:
        return local_date(self._clock())

    async def enter(self, user: contract.UserOut) -> None:
        with self._state.batch():
            self._ui.reset()
            self._state.enter_staff(user, Screen.STAFF)
        await self.load()

    async def load(self) -> None:
        """The banks of the staff member's units, then the chosen bank's list and counts for today."""
        ui = self._ui
        if not self._state.staff_mode or ui.loading:
            return
        ui.start_loading()
        moves = ui.moves
        banks, bank_id, day = ui.banks, ui.bank_id, ui.day
        day_list: tuple[list[contract.StaffBooking], list[tuple[str, int, int, int]]] | None = None
        error = ui.error
        reached = False
        try:
            if not banks:
                me = await self._api.me()
                units = {u.id for u in me.units}
                banks = [b for b in await self._api.blood_banks() if b.unit.id in units]
            if bank_id not in {b.id for b in banks}:
                bank_id = banks[0].id if banks else None
            day = day or self.today()
            if bank_id is not None:
                day_list = await self._load_day(bank_id, day)
            error, reached = None, True
        except AuthError:
            ui.stop_loading()
            await self._session_expired()
            return
        except ApiError as exc:
            error = message_for(self._tr, exc)
        # Tapped on to another day or bank meanwhile (its load waited for this one): what was read is not what is
        # shown now. Keep the banks, not the list, and read the one shown.
        moved = ui.moves != moves
        with self._state.batch():
            if moved:
                ui.loaded(banks=banks, bank_id=ui.bank_id or bank_id, day=ui.day, day_list=None, error=error)
            else:
                ui.loaded(banks=banks, bank_id=bank_id, day=day, day_list=day_list, error=error)
            if reached:
                self._state.set_online(True)
        if moved:
            await self.load()

    async def _load_day(
        self, bank_id: str, day: date
    ) -> tuple[list[contract.StaffBooking], list[tuple[str, int, int, int]]]:
        """The day's bookings (by time, then donor) and the donor counts per child."""
        bookings = await self._api.bank_bookings(bank_id, day)
        monday, sunday = week_of(day)
        week = await self._api.donor_counts(bank_id, monday, sunday)
        today = {c.patient_id: c for c in await self._api.donor_counts(bank_id, day, day)}
        listed = sorted(bookings, key=lambda b: (b.slot.starts_at, b.donor.full_name))
        counts = {c.patient_id: (c.patient_display_name, 0, c.came, c.booked) for c in week}
        for pid, c in today.items():
            name, _, came_week, booked_week = counts.get(pid, (c.patient_display_name, 0, c.came, c.booked))
            counts[pid] = (name, c.came, came_week, booked_week)
        return listed, sorted(counts.values(), key=lambda c: c[0])

    async def move_day(self, days: int) -> None:
        """Another day's list (today by default); the counts follow that day and its week."""
        ui = self._ui
        ui.move_to(day=(ui.day or self.today()) + timedelta(days=days))
        await self.load()

    async def pick_bank(self, bank_id: str) -> None:
        if bank_id in {b.id for b in self._ui.banks}:
            self._ui.move_to(bank_id=bank_id)
            await self.load()

    def booking_day(self, booking: contract.Booking) -> date:
        """The booking's own day, in the unit's local time (Mexico City)."""
        return local_date(booking.slot.starts_at)

    async def check_in(self, booking_id: str) -> None:
        """The donor came. On the booking's own day at once; on any other day the reason is asked first."""
        booking = self._find(booking_id)
        if booking is not None and self.booking_day(booking) != self.today():
            self.ask(booking_id, "override")
            return
        await self._mark(booking_id, "check-in")

    async def no_show(self, booking_id: str) -> None:
        await self._mark(booking_id, "no-show")

    def ask_undo(self, booking_id: str) -> None:
        """A mistaken check-in: ask for the reason (and so for confirmation) before undoing it."""
        booking = self._find(booking_id)
        if booking is not None and booking.status is contract.BookingStatus.ASISTIO:
            self.ask(booking_id, "undo")

    def ask(self, booking_id: str, kind: str, error: str | None = None) -> None:
        self.reason = ""
        self._ui.ask((booking_id, kind), error)

    def stop_asking(self) -> None:
        self.reason = ""
        self._ui.ask(None)

    def set_reason(self, text: str) -> None:
        """What is typed in the reason box (kept here: typing redraws nothing)."""
        self.reason = text

    async def confirm(self) -> None:
        """Send the out-of-day check-in or the undo that was asked for, with its reason."""
        ui = self._ui
        if ui.asking is None:
            return
        booking_id, kind = ui.asking
        reason = " ".join(self.reason.split())
        if len(reason) < MIN_REASON_CHARS:
            ui.reason_refused(self._tr.t("staff_reason_required", chars=MIN_REASON_CHARS))
            return
        if kind == "override":
            await self._mark(booking_id, "check-in", contract.CheckInRequest(override_reason=reason))
        else:
            await self._mark(booking_id, "undo-check-in", contract.UndoCheckInRequest(reason=reason))

    def _find(self, booking_id: str) -> contract.StaffBooking | None:
        return next((b for b in self._ui.bookings if b.id == booking_id), None)

    async def _mark(
        self,
        booking_id: str,
        action: str,
        body: contract.CheckInRequest | contract.UndoCheckInRequest | None = None,
    ) -> None:
        ui = self._ui
        booking = self._find(booking_id)
        wanted = contract.BookingStatus.ASISTIO if action == "undo-check-in" else contract.BookingStatus.CONFIRMADA
        if booking is None or booking_id in ui.busy_ids or booking.status is not wanted:
            return
        ui.start_marking(booking_id)
        other_day: str | None = None
        try:
            answer = await self._api.booking_action(booking_id, action, body)
        except AuthError:
            ui.marked(booking_id, None, message=None, error=None)
            await self._session_expired()
            return
        except ApiError as exc:
            ui.marked(booking_id, None, message=None, error=message_for(self._tr, exc))
            if isinstance(exc, HttpError) and exc.code == "check_in_wrong_day" and body is None:
                other_day = message_for(self._tr, exc)  # the server's day is not this device's: ask why
        else:
            done = contract.StaffBooking(
                **answer.model_dump(), patient_display_name=booking.patient_display_name, notes=booking.notes
            )
            self.reason = ""
            ui.marked(booking_id, done, message=self._tr.t(DONE[action], name=booking.donor.full_name), error=None)
        await self.load()  # the counts follow (and another desk's changes show)
        if other_day is not None:
            self.ask(booking_id, "override", error=other_day)

    def dismiss_message(self) -> None:
        self._ui.dismiss_message()
