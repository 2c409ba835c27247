"""The oncology desk's chemotherapy use cases (``session.chemotherapy``): a child's plan, writing the next
cycle (its doses computed by the server first, then written), and a cycle's life. Online only, like the other
staff screens: nothing of it is kept on the device. No Flet."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import date, datetime, time
from typing import Protocol

from carnet.chemotherapy.form import PrescriptionForm, check_prescription
from carnet.chemotherapy.state import ChemoUi, Step
from carnet.core.clock import MX, Clock, local_date
from carnet.core.i18n import Translator
from carnet.core.navigation import Navigator, Screen
from carnet.data.api import ApiClient, Conflict, HttpError
from carnet.data.online import guarded
from carnet_contract import chemotherapy as chemo
from carnet_contract import models as contract

__all__ = ["ChemotherapyCases"]

#: What the oncology team schedules besides the cycles' sessions.
STAFF_KINDS = (
    contract.AppointmentKind.CONSULTA,
    contract.AppointmentKind.LABORATORIO,
    contract.AppointmentKind.ESTUDIO,
)

#: The server's reason codes that name a form field (others are shown above the form).
FIELDS = frozenset({"protocol_id", "phase", "scheduled_for", "weight_kg", "height_cm", "measured_on"})


class ChemoHost(Navigator, Protocol):
    chemotherapy: ChemoUi


def _by_field(exc: HttpError) -> dict[str, str]:
    found: dict[str, list[str]] = {}
    for reason in exc.reasons:
        target = reason.code if reason.code in FIELDS else "form"
        found.setdefault(target, []).append(reason.message)
    return {name: " ".join(texts) for name, texts in found.items()} or {"form": exc.message}


class ChemotherapyCases:
    def __init__(
        self,
        *,
        state: ChemoHost,
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
        #: The cycle being written: its Idempotency-Key is reused while the same request is sent again.
        self._pending: tuple[chemo.CycleCreate, str] | None = None

    @property
    def _ui(self) -> ChemoUi:
        return self._state.chemotherapy

    def _today(self) -> date:
        return local_date(self._clock())

    async def _call(
        self, work: Callable[[], Awaitable[Callable[[], None]]], *, refused: Callable[[HttpError], bool] | None = None
    ) -> bool:
        """Run ``work()`` busy, then show what it fetched in one redraw; ``refused`` takes the errors it knows."""
        ui = self._ui
        ui.start_busy()
        return await guarded(
            work,
            state=self._state,
            ui=ui,
            tr=self._tr,
            session_expired=self._session_expired,
            finish=ui.stop_busy,
            refused=refused,
        )

    # ---- the plan -----------------------------------------------------------------------------------

    async def open(self, patient_id: str, name: str) -> None:
        """The child's plan: its cycles, measurements and lifetime anthracyclines, and the catalogue."""
        with self._state.batch():
            self._ui.open_patient(patient_id, name)
            self._state.go_to(Screen.CHEMO_PLAN)
        await self.reload()

    async def reload(self) -> None:
        patient_id = self._ui.patient_id
        if patient_id is None:
            return

        async def work() -> Callable[[], None]:
            catalogue = await self._api.protocols()
            plan = await self._api.chemotherapy_plan(patient_id)
            return lambda: self._ui.show_plan(catalogue, plan)

        await self._call(work)

    def back(self) -> bool:
        """Back from the form: the plan; from the plan: the child's record. False when not on these screens."""
        screen = self._state.screen
        if screen is Screen.CHEMO_PRESCRIBE:
            self._state.go_to(Screen.CHEMO_PLAN)
        elif screen is Screen.CHEMO_PLAN:
            with self._state.batch():
                self._ui.ask_step(None)
                self._state.go_to(Screen.ONCOLOGY_CHILD)
        else:
            return False
        return True

    # ---- writing a cycle ----------------------------------------------------------------------------

    def new_cycle(self) -> None:
        with self._state.batch():
            self._ui.start_form()
            self._state.go_to(Screen.CHEMO_PRESCRIBE)

    async def compute(self, form: PrescriptionForm) -> bool:
        """The doses as the server computes them for this child (nothing written)."""
        return await self._send(form, dry_run=True, confirm=False)

    async def write(self, form: PrescriptionForm) -> bool:
        """Write the cycle; confirming the measurements when the server asked to (the second click)."""
        return await self._send(form, dry_run=False, confirm=bool(self._ui.confirm_reasons))

    async def _send(self, form: PrescriptionForm, *, dry_run: bool, confirm: bool) -> bool:
        ui, patient_id = self._ui, self._ui.patient_id
        if patient_id is None or ui.busy:
            return False
        body, errors = check_prescription(self._tr, form, today=self._today(), dry_run=dry_run, confirm=confirm)
        if body is None:
            ui.refused(errors)
            return False
        key = None
        if not dry_run:
            if self._pending is None or self._pending[0] != body:
                self._pending = (body, uuid.uuid4().hex)
            key = self._pending[1]

        def refused(exc: HttpError) -> bool:
            if isinstance(exc, Conflict) and exc.code == "measurements_unconfirmed":
                ui.needs_confirmation([r.message for r in exc.reasons] or [exc.message])
                return True
            if exc.status == 422 and exc.reasons:
                ui.refused(_by_field(exc))
                return True
            return False

        async def work() -> Callable[[], None]:
            cycle = await self._api.prescribe(patient_id, body, idempotency_key=key)
            if dry_run:
                return lambda: ui.previewed(cycle)
            self._pending = None
            plan = await self._api.chemotherapy_plan(patient_id)
            catalogue = ui.catalogue or await self._api.protocols()

            def show() -> None:
                ui.written(self._tr.t("chemo_written", number=cycle.number, date=self._tr.date(cycle.scheduled_for)))
                ui.show_plan(catalogue, plan)
                self._state.go_to(Screen.CHEMO_PLAN)

            return show

        return await self._call(work, refused=refused)

    # ---- other hospital appointments ----------------------------------------------------------------

    async def schedule(self, kind: str, title: str, day: str, start: str, end: str, place: str) -> bool:
        """A consultation, laboratory or study for the child: on the family's agenda at its next sync."""
        ui, patient_id = self._ui, self._ui.patient_id
        if patient_id is None or ui.busy:
            return False
        errors: dict[str, str] = {}
        try:
            chosen = contract.AppointmentKind(kind)
            if chosen not in STAFF_KINDS:
                raise ValueError(kind)
        except ValueError:
            errors["kind"] = self._tr.t("chemo_appt_kind")
        try:
            date_ = date.fromisoformat(day.strip())
        except ValueError:
            errors["date"] = self._tr.t("chemo_date_format")
        times = []
        for name, text in (("start", start), ("end", end)):
            try:
                times.append(time.fromisoformat(text.strip()))
            except ValueError:
                errors[name] = self._tr.t("chemo_time_format")
        if not errors:
            starts, ends = (datetime.combine(date_, t, tzinfo=MX) for t in times)
            if ends <= starts:
                errors["end"] = self._tr.t("chemo_time_order")
            elif starts < self._clock():
                errors["date"] = self._tr.t("chemo_date_past")
        if errors:
            ui.appointment_refused(errors)
            return False
        body = contract.AppointmentCreate(
            kind=chosen,
            title=title.strip() or self._tr.t(f"kind.{chosen.value}"),
            starts_at=starts,
            ends_at=ends,
            place=place.strip(),
        )

        def refused(exc: HttpError) -> bool:
            if exc.status == 422:
                ui.appointment_refused({"form": exc.message})
                return True
            return False

        async def work() -> Callable[[], None]:
            made = await self._api.create_appointment(patient_id, body, idempotency_key=uuid.uuid4().hex)
            when = self._tr.datetime(made.starts_at)
            return lambda: ui.appointment_scheduled(self._tr.t("chemo_appt_done", title=made.title, when=when))

        return await self._call(work, refused=refused)

    # ---- a cycle's life -----------------------------------------------------------------------------

    def ask_step(self, cycle_id: str | None, action: chemo.CycleActionKind | None = None) -> None:
        self._ui.ask_step(Step(cycle_id, action) if cycle_id and action else None)

    async def step(
        self, cycle: contract.Cycle, action: chemo.CycleActionKind, *, reason: str = "", new_date: str = ""
    ) -> bool:
        """Confirm, apply, defer or suspend ``cycle`` as the screen shows it (its version)."""
        ui = self._ui
        errors: dict[str, str] = {}
        needs_reason = action in (chemo.CycleActionKind.DEFER, chemo.CycleActionKind.SUSPEND)
        if needs_reason and len(reason.strip()) < 3:
            errors["reason"] = self._tr.t("chemo_reason_needed")
        moved: date | None = None
        if action is chemo.CycleActionKind.DEFER:
            try:
                moved = date.fromisoformat(new_date.strip())
                if moved <= cycle.scheduled_for:
                    errors["new_date"] = self._tr.t("chemo_defer_later")
            except ValueError:
                errors["new_date"] = self._tr.t("chemo_date_format")
        if errors:
            ui.step_refused(errors)
            return False
        body = chemo.CycleAction(action=action, version=cycle.version, reason=reason.strip() or None, new_date=moved)

        def refused(exc: HttpError) -> bool:
            current = exc.details.get("cycle") if isinstance(exc, Conflict) else None
            if exc.code == "cycle_changed" and isinstance(current, dict):
                ui.stepped(contract.Cycle.model_validate(current), self._tr.t("chemo_changed_meanwhile"))
                return True
            if exc.status == 422:
                ui.step_refused({"form": " ".join(r.message for r in exc.reasons) or exc.message})
                return True
            return False

        async def work() -> Callable[[], None]:
            changed = await self._api.cycle_action(cycle.id, body)
            word = self._tr.t(f"cycle.{changed.status.value}")
            return lambda: ui.stepped(changed, self._tr.t("chemo_stepped", number=changed.number, status=word))

        return await self._call(work, refused=refused)
