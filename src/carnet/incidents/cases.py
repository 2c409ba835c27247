"""Incident use cases: the family's "Reportar un problema" and "Mis reportes" (``session.report``,
offline-first through the outbox; part of a family's login scope). The case desk is
:mod:`carnet.incidents.desk`. No Flet.

Photos: each picked file is prepared on the phone, off the event loop (upright, at most 1600 px, a JPEG
without metadata, and a thumbnail); on "Enviar" the report and one outbox item per photo are queued in
one local transaction (the prepared bytes sealed in the store), and the sync sends the photos once the
report has its server id. A report's screen shows thumbnails only: of the server's photos (fetched with
the person's session, reduced, kept only in the encrypted store — or the phone's own, kept when its
upload was answered), of the ones still waiting, and of a refused one with the server's reason.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Protocol

from carnet.core.clock import Clock
from carnet.core.i18n import Translator
from carnet.core.ids import new_local_id
from carnet.core.navigation import Navigator, Screen
from carnet.data.api import ApiClient, ApiError, AuthError
from carnet.data.outbox import Outbox, WriteOp
from carnet.data.records import Mark, SyncLedger
from carnet.data.store import OfflineStore
from carnet.incidents.form import (
    MAX_PHOTOS,
    ReportForm,
    attach_photos,
    check_photos,
    check_reason,
    check_report,
    remove_photo,
)
from carnet.incidents.photos import thumbnail
from carnet.incidents.repository import (
    INCIDENTS_PATH,
    PHOTO_TYPE,
    PHOTOS_PATH,
    REOPEN_PATH,
    IncidentRepository,
    IncidentView,
    ShownPhoto,
    can_reopen,
    merge,
)
from carnet.incidents.state import IncidentUi
from carnet.patients.repository import CarnetRepository
from carnet_contract import models as contract

__all__ = ["IncidentCases"]

log = logging.getLogger(__name__)


class ReportsHost(Navigator, Protocol):
    """What of the app's state the families' reports read and change besides their own."""

    incidents: IncidentUi
    children: list[contract.PatientRef]
    selected_child_id: str | None

    @property
    def selected_report(self) -> IncidentView | None: ...


class IncidentCases:
    def __init__(
        self,
        *,
        state: ReportsHost,
        api: ApiClient,
        incidents: IncidentRepository,
        outbox: Outbox,
        ledger: SyncLedger,
        store: OfflineStore,
        carnets: CarnetRepository,
        tr: Translator,
        clock: Clock,
        request_sync: Callable[[], None],
    ) -> None:
        self._state = state
        self._api = api
        self._incidents = incidents
        self._outbox = outbox
        self._ledger = ledger
        self._store = store
        self._carnets = carnets
        self._tr = tr
        self._clock = clock
        self._request_sync = request_sync
        #: True once the login that made these cases ended (a late photo is not kept then).
        self._ended = False
        #: The running fetch of the selected report's photos (a strong reference to the task).
        self.photo_task: asyncio.Task[None] | None = None
        #: Photo ids that could not be fetched on the last try (shown as "when there is a connection").
        self.photo_unavailable: set[str] = set()

    @property
    def _ui(self) -> IncidentUi:
        return self._state.incidents

    def reload(self) -> None:
        """Re-read the synced reports with the outbox laid over them (one redraw)."""
        with self._state.batch():
            self._reload()

    def _reload(self) -> None:
        ui = self._ui
        children = {c.id for c in self._state.children}
        synced, items = self._incidents.incidents(), self._outbox.items()
        views = merge(synced, items, self._ledger.server_id)
        selected_id = ui.selected_id
        if selected_id is not None:
            selected_id = self._ledger.server_id(selected_id) or selected_id
        ui.show_reports([v for v in views if not children or v.patient_id in children], selected_id)
        self._incidents.prune_photos(
            keep_photos={p.id for i in synced.values() for p in i.photos},
            keep_drafts={i.id for i in items if i.type == PHOTO_TYPE},
        )
        if selected_id is not None and self._state.screen is Screen.REPORT and self._state.selected_report is None:
            self._state.go_to(Screen.REPORTS)
            ui.close_report()
        selected = self._state.selected_report
        if (
            selected is not None
            and selected.mark is not Mark.PENDING
            and ui.message in (self._tr.t("inc_saved_pending"), self._tr.t("inc_reopen_pending"))
        ):
            ui.dismiss_message()
        if self._state.screen is Screen.REPORT:
            if self._state.online:
                self.photo_unavailable.clear()  # the network answers again: try the missing ones once more
            self._fetch_photos_soon()

    def _unit_of(self, patient_id: str | None) -> tuple[str | None, str]:
        cached = self._carnets.carnet(patient_id) if patient_id else None
        if cached is None:
            return None, ""
        unit = cached[0].patient.unit
        return unit.id, unit.name

    def _back_screen(self) -> Screen:
        came = self._ui.came_from
        return Screen(came) if came in {x.value for x in Screen} else Screen.CHILDREN

    def start(self) -> None:
        """The report button: the form with the selected child (and its unit) already chosen."""
        ui = self._ui
        state = self._state
        came_from = None
        if state.screen not in (Screen.REPORT_FORM, Screen.REPORTS, Screen.REPORT):
            came_from = state.screen.value
        children = state.children
        patient = (
            state.selected_child_id if state.selected_child_id else (children[0].id if len(children) == 1 else None)
        )
        unit_id, unit_name = self._unit_of(patient)
        with state.batch():
            ui.start_report(ReportForm(patient_id=patient, unit_id=unit_id, unit_name=unit_name), came_from=came_from)
            state.go_to(Screen.REPORT_FORM)

    def pick_child(self, patient_id: str) -> None:
        form = self._ui.form
        if form is not None and patient_id in {c.id for c in self._state.children}:
            form.patient_id = patient_id
            form.unit_id, form.unit_name = self._unit_of(patient_id)
            form.errors.pop("patient", None)
            self._ui.form_edited()

    def pick_category(self, category: contract.IncidentCategory) -> None:
        form = self._ui.form
        if form is not None:
            form.category = category
            form.errors.pop("category", None)
            form.errors.pop("item_name", None)
            self._ui.form_edited()

    async def add_photos(self, picked: list[tuple[str, bytes | None]]) -> bool:
        """Files from the picker: the good ones are prepared (off the event loop: the screen says so meanwhile)
        and attached (up to 3); each refused one says why."""
        form = self._ui.form
        if form is None:
            return False
        form.preparing += 1
        self._ui.form_edited()
        try:
            drafts, problems = await asyncio.to_thread(
                check_photos, picked, self._tr, room=MAX_PHOTOS - len(form.photos)
            )
        finally:
            form.preparing -= 1
        if self._ui.form is not form:
            return False  # the form was sent or closed meanwhile
        before = len(form.photos)
        problems += [p for p in attach_photos(form, drafts, self._tr) if p not in problems]
        if problems:
            form.errors["photos"] = "\n".join(problems)
        else:
            form.errors.pop("photos", None)
        self._ui.form_edited()
        return len(form.photos) > before

    def remove_photo(self, photo_id: str) -> None:
        form = self._ui.form
        if form is not None and remove_photo(form, photo_id):
            form.errors.pop("photos", None)
            self._ui.form_edited()

    def submit(self, form: ReportForm) -> bool:
        """Check; on success queue the report (type incident, op create) and its photos behind it, and show
        it as pending."""
        ui = self._ui
        if form.preparing:
            return False  # (the send button is disabled while a photo is being prepared)
        result = check_report(form, self._tr, children={c.id for c in self._state.children})
        if result.body is None:
            form.errors = result.errors
            ui.form_refused(form, self._tr.t("form_fix"))
            return False
        form.errors = {}
        record_id = new_local_id()
        assert form.category is not None
        label = self._tr.t("inc_cat." + form.category.value)
        if form.item_name.strip():
            label += f": {' '.join(form.item_name.split())}"
        repo = self._incidents
        now = self._clock()
        with self._store.transaction():  # the report and its photos are queued together, or not at all
            self._outbox.add(
                type=contract.SyncType.INCIDENT,
                op=WriteOp.CREATE,
                method="POST",
                path=INCIDENTS_PATH,
                body=result.body,
                record_id=record_id,
                patient_id=form.patient_id or "",
                label=label,
                now=now,
            )
            for n, photo in enumerate(form.photos, start=1):
                item_id = self._outbox.add(
                    type=PHOTO_TYPE,
                    op=WriteOp.UPDATE,
                    method="POST",
                    path=PHOTOS_PATH,
                    body={"content_type": photo.content_type, "size": len(photo.data)},
                    record_id=record_id,
                    patient_id=form.patient_id or "",
                    label=self._tr.t("inc_photo_label", n=n, label=label),
                    now=now,
                )
                repo.put_draft(item_id, photo)
        with self._state.batch():
            ui.report_queued(record_id, self._tr.t("inc_saved_pending"))
            self._reload()
            self._state.go_to(Screen.REPORT)
        self._request_sync()
        return True

    def show_list(self) -> None:
        screen = self._state.screen
        with self._state.batch():
            outside = screen not in (Screen.REPORT_FORM, Screen.REPORTS, Screen.REPORT)
            self._ui.show_list(came_from=screen.value if outside else None)
            self._reload()
            self._state.go_to(Screen.REPORTS)
        self._request_sync()  # the case desk's answers since the last sync, without waiting for the interval

    def open(self, report_id: str) -> None:
        ui = self._ui
        if any(r.id == report_id for r in ui.reports):
            self.photo_unavailable.clear()
            with self._state.batch():
                ui.open_report(report_id)
                self._state.go_to(Screen.REPORT)
            self._fetch_photos_soon()

    # ---- photos of a report ------------------------------------------------------------------

    def photos(self, view: IncidentView) -> list[ShownPhoto]:
        """What the report screen shows, as thumbnails: the server's photos (None until fetched), then those
        still queued."""
        repo = self._incidents
        shown = [ShownPhoto(key=p.id, data=repo.thumb(p.id)) for p in (view.incident.photos if view.incident else [])]
        for pending in view.photos:
            draft = repo.draft(pending.item_id)
            thumb = draft.thumb if draft is not None else b""
            shown.append(ShownPhoto(key=pending.item_id, data=thumb or None, mark=pending.mark, error=pending.error))
        return shown

    def _missing_photos(self) -> list[contract.IncidentPhoto]:
        repo, view = self._incidents, self._state.selected_report
        if view is None or view.incident is None:
            return []
        return [p for p in view.incident.photos if p.id not in self.photo_unavailable and repo.thumb(p.id) is None]

    def _fetch_photos_soon(self) -> None:
        """Fetch the selected report's missing photos in the background (when an event loop runs)."""
        if (self.photo_task is not None and not self.photo_task.done()) or not self._missing_photos():
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self.photo_task = loop.create_task(self._load_photos_quietly())

    async def _load_photos_quietly(self) -> None:
        try:
            await self.load_photos()
        except Exception as exc:  # noqa: BLE001 - a background fetch (e.g. the session closed meanwhile)
            log.info("incident photos not fetched: %s", type(exc).__name__)

    async def load_photos(self) -> int:
        """Fetch the selected report's photos that are not on the phone yet (with the person's session);
        their thumbnails are kept in the encrypted store (made off the event loop). How many arrived."""
        got = 0
        while missing := self._missing_photos():  # asked again each time: a sync may bring more meanwhile
            photo, repo = missing[0], self._incidents
            try:
                data = await self._api.incident_photo(photo.url)
            except AuthError:
                self.photo_unavailable.add(photo.id)
                break  # the next sync ends the session
            except ApiError as exc:
                log.info("incident photo not fetched: %s", type(exc).__name__)
                self.photo_unavailable.add(photo.id)
                continue
            thumb = await asyncio.to_thread(thumbnail, data)
            if self._ended:
                break  # another person's session now: not theirs to keep
            if thumb is None:  # not a picture the phone can decode: say it is not available
                self.photo_unavailable.add(photo.id)
                continue
            repo.put_thumb(photo.id, thumb)
            got += 1
        if got or self.photo_unavailable:
            self._ui.photos_changed()
        return got

    def ask_reopen(self, open_box: bool = True) -> None:
        self._ui.ask_reopen(open_box)

    def reopen(self, report_id: str, reason: str) -> bool:
        """ "No se resolvió": the reason goes to the outbox (POST …/reopen with its own Idempotency-Key)."""
        ui = self._ui
        view = next((r for r in ui.reports if r.id == report_id), None)
        if view is None or not can_reopen(view):
            return False
        body, error = check_reason(reason, self._tr)
        if body is None:
            ui.reason_refused(error)
            return False
        self._outbox.add(
            type=contract.SyncType.INCIDENT,
            op=WriteOp.UPDATE,
            method="POST",
            path=REOPEN_PATH,
            body=body,
            record_id=view.id,
            patient_id=view.patient_id,
            label=self._tr.t("inc_reopen_label", folio=view.folio or ""),
            now=self._clock(),
        )
        with self._state.batch():
            ui.reopen_queued(self._tr.t("inc_reopen_pending"))
            self._reload()
        self._request_sync()
        return True

    def end(self) -> None:
        """The login ended: a photo still being fetched is not kept."""
        self._ended = True

    def back(self) -> None:
        ui = self._ui
        with self._state.batch():
            if self._state.screen is Screen.REPORT:
                ui.close_report()
                self._state.go_to(Screen.REPORTS)
            else:
                back = self._back_screen()
                ui.leave()
                self._state.go_to(back)

    def dismiss_message(self) -> None:
        self._ui.dismiss_message()
