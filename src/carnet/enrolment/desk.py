"""The oncology desk's use cases (``session.oncology``): online only like the other staff screens — nothing of
it is written to the device. Find a child (name, CURP, NSS), register one, open a child's record with its
guardians and codes, add a guardian (the activation code shown once, large and as a QR), revoke or re-issue a
code, remove a guardian (a confirm step), the registry figures of a week. No Flet."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Protocol

from carnet.core.clock import Clock, local_date
from carnet.core.i18n import Translator
from carnet.core.navigation import Navigator, Screen
from carnet.data.api import ApiClient, BadRequest, Conflict
from carnet.data.messages import message_for
from carnet.data.online import guarded
from carnet.enrolment.codes import display_code
from carnet.enrolment.form import (
    GUARDIAN_CODES,
    GuardianForm,
    RegistrationForm,
    changes_of,
    check_guardian,
    check_registration,
    reasons_by_field,
)
from carnet.enrolment.state import OncologyUi
from carnet.incidents.repository import monday_of
from carnet.patients.qr import render_qr
from carnet_contract import enrolment as wire
from carnet_contract import models as contract

__all__ = ["OncologyCases", "search_text"]

log = logging.getLogger(__name__)


#: The shortest search the desks send (a name's first letters, a CURP, an NSS).
SEARCH_MIN = 3


def search_text(query: str) -> str | None:
    """The children's search as sent (spaces collapsed), or None when too short (``onc_search_short``). The
    oncology desk's search, and the fever desk's "Registrar llegada sin aviso"."""
    text = " ".join(query.split())
    return text if len(text) >= SEARCH_MIN else None


#: The server's body limit (1 MB): a bigger file is refused before sending.
IMPORT_MAX_BYTES = 1024 * 1024


class OncologyHost(Navigator, Protocol):
    oncology: OncologyUi
    user: contract.UserOut | None

    @property
    def oncology_mode(self) -> bool: ...

    def enter_staff(self, user: contract.UserOut, screen: Screen) -> None: ...


class OncologyCases:
    def __init__(
        self,
        *,
        state: OncologyHost,
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
        #: The registration being sent: its Idempotency-Key is reused while the same form is sent again.
        self._pending: tuple[wire.PatientCreate, str] | None = None

    @property
    def _ui(self) -> OncologyUi:
        return self._state.oncology

    async def enter(self, user: contract.UserOut) -> None:
        with self._state.batch():
            self._ui.reset()
            self._state.enter_staff(user, Screen.ONCOLOGY)
        await self.load()

    async def _guard(self, work: Callable[[], Awaitable[Callable[[], None]]], finish: Callable[[], None]) -> bool:
        return await guarded(
            work, state=self._state, ui=self._ui, tr=self._tr, session_expired=self._session_expired, finish=finish
        )

    async def load(self) -> None:
        """The caller's units and the diagnosis catalogue (the form's choices)."""
        ui = self._ui
        if ui.loading:
            return
        ui.start_loading()

        async def work() -> Callable[[], None]:
            units = list((await self._api.me()).units)
            diagnoses = await self._api.diagnoses()
            return lambda: ui.show_reference(units, diagnoses)

        await self._guard(work, ui.stop_loading)

    async def refresh(self) -> None:
        """The refresh button: the reference lists, and what the screen shows."""
        await self.load()
        screen, ui = self._state.screen, self._ui
        if screen is Screen.ONCOLOGY_CHILD and ui.record is not None:
            await self.open(ui.record.id)
        elif screen is Screen.ONCOLOGY_FIGURES:
            await self.show_figures(0)
        elif screen is Screen.ONCOLOGY and ui.query:
            await self.search(ui.query)

    # ---- search ----------------------------------------------------------------------------------

    async def search(self, query: str) -> None:
        ui, text = self._ui, search_text(query)
        if text is None:
            with self._state.batch():
                ui.show_results(" ".join(query.split()), None)
                ui.show_error(self._tr.t("onc_search_short"))
            return
        ui.start_loading()

        async def work() -> Callable[[], None]:
            found = await self._api.search_patients(text)
            return lambda: ui.show_results(text, found)

        await self._guard(work, ui.stop_loading)

    # ---- a child's page ----------------------------------------------------------------------------

    async def open(self, patient_id: str) -> None:
        ui = self._ui
        known = next((r for r in ui.results or [] if r.id == patient_id), None)
        with self._state.batch():
            ui.open_record(
                known if known is not None else (ui.record if ui.record and ui.record.id == patient_id else None)
            )
            self._state.go_to(Screen.ONCOLOGY_CHILD)
        ui.start_loading()

        async def work() -> Callable[[], None]:
            record = await self._api.patient(patient_id)
            guardians = await self._api.guardians(patient_id)
            invitations = await self._api.invitations(patient_id)
            history = await self._api.corrections(patient_id)

            def show() -> None:
                ui.open_record(record)
                ui.show_access(guardians, invitations)
                ui.show_history(history)

            return show

        await self._guard(work, ui.stop_loading)

    async def _reload_access(self, patient_id: str) -> Callable[[], None]:
        guardians = await self._api.guardians(patient_id)
        invitations = await self._api.invitations(patient_id)
        return lambda: self._ui.show_access(guardians, invitations)

    def back(self) -> None:
        """Back from a child, the form or the figures: the search (a child's new code is not kept)."""
        ui, screen = self._ui, self._state.screen
        with self._state.batch():
            if screen in (Screen.ONCOLOGY_INVITE, Screen.ONCOLOGY_EDIT, Screen.ONCOLOGY_REFER) and ui.record:
                ui.choose_referral(None)
                ui.forget_code()
                self._state.go_to(Screen.ONCOLOGY_CHILD)
                return
            ui.open_record(None)
            self._state.go_to(Screen.ONCOLOGY)

    # ---- registering a child ------------------------------------------------------------------------

    def new_child(self) -> None:
        with self._state.batch():
            self._ui.start_form()
            self._state.go_to(Screen.ONCOLOGY_REGISTER)

    async def register(self, form: RegistrationForm) -> bool:
        """Check, then register. 409 ``patient_exists`` offers the existing record; 409 ``patient_similar`` asks to
        confirm (register again with the same form: it is sent with ``confirm_similar``). True when registered."""
        ui, t = self._ui, self._tr.t
        if ui.busy:
            return False
        if not form.unit_id and len(ui.units) == 1:
            form = RegistrationForm(**{**form.__dict__, "unit_id": ui.units[0].id})
        problems = check_registration(form, today=local_date(self._clock()))
        if problems:
            ui.form_refused({name: t(key, **values) for name, (key, values) in problems.items()})
            return False
        confirm = bool(ui.similar)
        body = form.to_request(confirm_similar=confirm)
        key = self._pending[1] if self._pending is not None and self._pending[0] == body else str(uuid.uuid4())
        self._pending = (body, key)
        ui.start_busy()
        done = False

        async def work() -> Callable[[], None]:
            nonlocal done
            try:
                record = await self._api.register_patient(body, idempotency_key=key)
            except BadRequest as exc:
                self._pending = None
                errors = reasons_by_field(exc)
                return lambda: ui.form_refused(errors)
            except Conflict as exc:
                self._pending = None
                words = message_for(self._tr, exc)
                if exc.code == "patient_similar":
                    similar = [str(i) for i in exc.details.get("similar") or []] or ["?"]
                    return lambda: ui.form_refused({"form": t("onc_similar")}, similar=similar)
                existing = exc.details.get("patient_id")
                return lambda: ui.form_refused(
                    {"form": t("onc_exists") if existing else words},
                    existing_id=str(existing) if existing else None,
                )
            done = True
            self._pending = None
            log.info("child registered")

            def show() -> None:
                ui.registered(record, t("onc_registered", name=record.display_name))
                self._state.go_to(Screen.ONCOLOGY_CHILD)

            return show

        await self._guard(work, ui.stop_busy)
        return done

    def edit_form(self) -> None:
        """A field changed after a similar-name warning: the confirmation no longer holds."""
        if self._ui.similar:
            self._ui.form_refused({})

    # ---- corrections and referral ----------------------------------------------------------------------

    def edit(self) -> None:
        """ "Corregir datos": the record's form (the unit changes by referral only)."""
        if self._ui.record is None:
            return
        with self._state.batch():
            self._ui.start_form()
            self._state.go_to(Screen.ONCOLOGY_EDIT)

    async def correct(self, form: RegistrationForm) -> bool:
        """Send what changed; the same checks as a registration, and a similar name asks to confirm."""
        ui, record, t = self._ui, self._ui.record, self._tr.t
        if record is None or ui.busy:
            return False
        form = RegistrationForm(**{**form.__dict__, "unit_id": record.unit.id})
        problems = check_registration(form, today=local_date(self._clock()))
        if problems:
            ui.form_refused({name: t(key, **values) for name, (key, values) in problems.items()})
            return False
        changes = changes_of(record, form)
        if not changes:
            ui.form_refused({"form": t("onc_nothing_changed")})
            return False
        body = wire.PatientUpdate.model_validate({**changes, "confirm_similar": bool(ui.similar)})
        ui.start_busy()
        done = False

        async def work() -> Callable[[], None]:
            nonlocal done
            try:
                updated = await self._api.correct_patient(record.id, body)
            except BadRequest as exc:
                errors = reasons_by_field(exc)
                return lambda: ui.form_refused(errors)
            except Conflict as exc:
                if exc.code == "patient_similar":
                    similar = [str(i) for i in exc.details.get("similar") or []] or ["?"]
                    return lambda: ui.form_refused({"form": t("onc_similar")}, similar=similar)
                existing = exc.details.get("patient_id")
                words = t("onc_exists") if existing else message_for(self._tr, exc)
                return lambda: ui.form_refused({"form": words}, existing_id=str(existing) if existing else None)
            done = True
            log.info("record corrected")
            history = await self._api.corrections(record.id)

            def show() -> None:
                ui.corrected(updated, t("onc_corrected", count=len(changes)))
                ui.show_history(history)
                self._state.go_to(Screen.ONCOLOGY_CHILD)

            return show

        await self._guard(work, ui.stop_busy)
        return done

    async def start_referral(self) -> None:
        ui = self._ui
        if ui.record is None:
            return
        with self._state.batch():
            ui.choose_referral(None)
            ui.dismiss_message()
            self._state.go_to(Screen.ONCOLOGY_REFER)

        async def work() -> Callable[[], None]:
            units = await self._api.units()
            return lambda: ui.show_all_units(units)

        ui.start_loading()
        await self._guard(work, ui.stop_loading)

    def choose_referral(self, unit_id: str | None) -> None:
        self._ui.choose_referral(unit_id)

    async def refer(self) -> bool:
        """Refer the child to the chosen unit (after its confirm step). When the unit is not one of the caller's,
        the record is no longer theirs to see: back to the search, saying where it went."""
        ui, record = self._ui, self._ui.record
        target = ui.refer_to
        if record is None or target is None or ui.busy:
            return False
        name = next((u.name for u in ui.all_units if u.id == target), "")
        ui.start_busy()
        done = False

        async def work() -> Callable[[], None]:
            nonlocal done
            moved = await self._api.refer(record.id, target)
            done = True
            log.info("child referred")
            stays = any(u.id == target for u in ui.units)
            history = await self._api.corrections(record.id) if stays else []

            def show() -> None:
                if stays:
                    ui.corrected(moved, self._tr.t("onc_referred", unit=name))
                    ui.show_history(history)
                    self._state.go_to(Screen.ONCOLOGY_CHILD)
                else:
                    ui.open_record(None)
                    ui.choose_referral(None)
                    ui.show_message(self._tr.t("onc_referred_away", name=record.display_name, unit=name))
                    self._state.go_to(Screen.ONCOLOGY)

            return show

        await self._guard(work, ui.stop_busy)
        return done

    # ---- guardians and codes --------------------------------------------------------------------------

    def new_guardian(self) -> None:
        with self._state.batch():
            self._ui.forget_code()
            self._ui.guardian_refused({})
            self._ui.dismiss_message()
            self._state.go_to(Screen.ONCOLOGY_INVITE)

    async def invite(self, form: GuardianForm) -> bool:
        ui, record = self._ui, self._ui.record
        if record is None or ui.busy:
            return False
        problems = check_guardian(form)
        if problems:
            ui.guardian_refused({name: self._tr.t(key, **values) for name, (key, values) in problems.items()})
            return False
        ui.start_busy()
        done = False

        async def work() -> Callable[[], None]:
            nonlocal done
            try:
                invitation = await self._api.invite_guardian(record.id, form.to_request())
            except BadRequest as exc:
                field = GUARDIAN_CODES.get(exc.code, "form")
                words = message_for(self._tr, exc)
                return lambda: ui.guardian_refused({field: words})
            done = True
            log.info("activation code issued")
            show_access = await self._reload_access(record.id)
            qr = render_qr(display_code(invitation.code), scale=10)

            def show() -> None:
                ui.code_issued(invitation, form.full_name.strip(), qr)
                show_access()

            return show

        await self._guard(work, ui.stop_busy)
        return done

    async def revoke(self, invitation_id: str) -> None:
        ui, record = self._ui, self._ui.record
        if record is None or ui.busy:
            return
        ui.start_busy()

        async def work() -> Callable[[], None]:
            await self._api.revoke_invitation(record.id, invitation_id)
            show_access = await self._reload_access(record.id)

            def show() -> None:
                if ui.issued is not None and ui.issued.id == invitation_id:
                    ui.forget_code()
                show_access()
                ui.show_message(self._tr.t("onc_revoked"))

            return show

        await self._guard(work, ui.stop_busy)

    async def reissue(self, invitation_id: str) -> None:
        ui, record = self._ui, self._ui.record
        if record is None or ui.busy:
            return
        name = next((i.full_name for i in ui.invitations if i.id == invitation_id), "")
        ui.start_busy()

        async def work() -> Callable[[], None]:
            invitation = await self._api.reissue_invitation(record.id, invitation_id)
            show_access = await self._reload_access(record.id)
            qr = render_qr(display_code(invitation.code), scale=10)

            def show() -> None:
                ui.code_issued(invitation, name, qr)
                show_access()
                self._state.go_to(Screen.ONCOLOGY_INVITE)

            return show

        await self._guard(work, ui.stop_busy)

    def ask_remove(self, user_id: str | None) -> None:
        self._ui.ask_remove(user_id)

    async def remove_guardian(self, user_id: str) -> None:
        ui, record = self._ui, self._ui.record
        if record is None or ui.busy or ui.removing != user_id:
            return
        name = next((g.display_name for g in ui.guardians if g.user_id == user_id), "")
        ui.start_busy()

        async def work() -> Callable[[], None]:
            await self._api.remove_guardian(record.id, user_id)
            show_access = await self._reload_access(record.id)

            def show() -> None:
                ui.ask_remove(None)
                show_access()
                ui.show_message(self._tr.t("onc_removed", name=name))

            return show

        await self._guard(work, ui.stop_busy)

    # ---- registry figures -----------------------------------------------------------------------------

    async def show_figures(self, weeks: int = 0) -> None:
        ui = self._ui
        base = ui.week if ui.week is not None and self._state.screen is Screen.ONCOLOGY_FIGURES else None
        week = monday_of((base or local_date(self._clock())) + timedelta(weeks=weeks))
        with self._state.batch():
            ui.open_week(week)
            self._state.go_to(Screen.ONCOLOGY_FIGURES)
        ui.start_loading()

        async def work() -> Callable[[], None]:
            figures = await self._api.registry_figures(week)
            return lambda: ui.show_figures(week, figures)

        await self._guard(work, ui.stop_loading)

    async def figures_file(self, kind: str) -> tuple[str, bytes] | None:
        """The shown week's figures as ``csv`` or ``md`` (``registro-semana-<Monday>.<kind>``), fetched with the
        session; None with the reason on screen when it could not be fetched."""
        ui = self._ui
        week = ui.week
        if week is None or ui.busy:
            return None
        ui.start_busy()
        found: list[bytes] = []

        async def work() -> Callable[[], None]:
            found.append(await self._api.registry_figures_export(week, kind))
            return lambda: None

        await self._guard(work, ui.stop_busy)
        return (f"registro-semana-{week.isoformat()}.{kind}", found[0]) if found else None

    # ---- bulk CSV import -------------------------------------------------------------------------------

    def open_import(self) -> None:
        """ "Importar pacientes (CSV)": nothing picked yet."""
        with self._state.batch():
            self._ui.open_import()
            self._state.go_to(Screen.ONCOLOGY_IMPORT)

    def clear_import(self) -> None:
        """Nothing picked, nothing said (the administration screen opened: its import section starts empty)."""
        with self._state.batch():
            self._ui.open_import()
            self._ui.dismiss_message()

    async def pick_import(self, name: str, data: bytes | None) -> bool:
        """A picked file: checked at once by a dry run (nothing written). False when it could not be read or
        was refused (the reasons on screen)."""
        ui, t = self._ui, self._tr.t
        if ui.busy:
            return False
        if not data:
            with self._state.batch():
                ui.open_import()
                ui.show_error(t("imp_err_empty"))
            return False
        if len(data) > IMPORT_MAX_BYTES:
            with self._state.batch():
                ui.open_import()
                ui.show_error(t("imp_err_too_big", mb=IMPORT_MAX_BYTES // (1024 * 1024)))
            return False
        with self._state.batch():
            ui.dismiss_message()
            ui.import_picked(name, data)
        return await self._send_import(dry_run=True)

    async def run_import(self) -> bool:
        """ "Importar": only after a dry run of the same file found every row good."""
        ui = self._ui
        checked = ui.import_result
        if ui.busy or ui.import_file is None or checked is None or not checked.dry_run or ui.import_errors:
            return False
        return await self._send_import(dry_run=False)

    async def _send_import(self, *, dry_run: bool) -> bool:
        ui, t = self._ui, self._tr.t
        picked = ui.import_file
        if picked is None:
            return False
        name, data = picked
        ui.start_busy()
        done = False

        async def work() -> Callable[[], None]:
            nonlocal done
            try:
                result = await self._api.import_registry(name, data, dry_run=dry_run)
            except BadRequest as exc:
                reasons = [r.message for r in exc.reasons] or [message_for(self._tr, exc)]
                return lambda: ui.import_checked(None, reasons)
            done = True
            if not dry_run:
                log.info("registry import written")

            def show() -> None:
                ui.import_checked(result, [])
                if not dry_run:
                    ui.show_message(t("imp_done", created=result.created, unchanged=result.unchanged))

            return show

        await self._guard(work, ui.stop_busy)
        return done

    def file_saved(self, name: str, saved: bool | None) -> None:
        """What the download did, in words (None: the save dialog was closed: nothing to say)."""
        if saved:
            self._ui.show_message(self._tr.t("desk_downloaded", name=name))
        elif saved is False:
            self._ui.show_error(self._tr.t("desk_download_failed", name=name))

    def dismiss_message(self) -> None:
        self._ui.dismiss_message()
