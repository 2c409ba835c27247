"""Administration's use cases (``session.admin``): the units, the staff accounts (create with a role and units,
deactivate or reactivate, reset a password); a new account's or a reset's temporary password is shown once.
Online only, nothing kept on the device. No Flet."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from pydantic import ValidationError

from carnet.admin.state import AdminUi
from carnet.core.i18n import Translator
from carnet.core.navigation import Navigator, Screen
from carnet.data.api import ApiClient, BadRequest, Conflict
from carnet.data.messages import message_for
from carnet.data.online import guarded
from carnet.enrolment.form import USERNAME_RE
from carnet_contract import chemotherapy as chemo
from carnet_contract import enrolment as wire
from carnet_contract import models as contract

__all__ = ["AdminCases", "EmergencyForm"]

log = logging.getLogger(__name__)


class AdminHost(Navigator, Protocol):
    admin: AdminUi
    user: contract.UserOut | None


def _where(loc: tuple[int | str, ...]) -> str:
    """A pydantic error's place as a person reads it: "phases > 1 > drugs > 2 > unit" (counted from 1)."""
    return " > ".join(str(part + 1) if isinstance(part, int) else str(part) for part in loc) or "—"


@dataclass(frozen=True)
class EmergencyForm:
    """The unit's emergency service as typed on the edit form (fever, "Hora Dorada"): ``bring`` and ``avoid``
    hold one item a line."""

    phone: str = ""
    address: str = ""
    map_url: str = ""
    oncology_phone: str = ""
    bring: str = ""
    avoid: str = ""

    @classmethod
    def of(cls, emergency: contract.UnitEmergency | None) -> EmergencyForm:
        """The form filled with what the unit has now (empty when the hospital has not written it)."""
        if emergency is None:
            return cls()
        return cls(
            phone=emergency.phone,
            address=emergency.address,
            map_url=emergency.map_url or "",
            oncology_phone=emergency.oncology_phone or "",
            bring="\n".join(emergency.bring),
            avoid="\n".join(emergency.avoid),
        )

    def blank(self) -> bool:
        return not any(
            v.strip() for v in (self.phone, self.address, self.map_url, self.oncology_phone, self.bring, self.avoid)
        )


#: The contract's limits (``UnitEmergencyUpdate``), checked here first so each problem shows beside its field.
_EM_PHONE, _EM_ADDRESS, _EM_URL, _EM_ITEMS, _EM_BRING, _EM_AVOID = (3, 40), (3, 300), 500, 12, 200, 300


def _lines(text: str) -> list[str]:
    return [" ".join(line.split()) for line in text.splitlines() if line.strip()]


def check_emergency(
    form: EmergencyForm, t: Callable[..., str]
) -> tuple[wire.UnitEmergencyUpdate | None, dict[str, str]]:
    """The emergency service to send, or the problems by field (``em_phone``, ``em_address``, ``em_map_url``,
    ``em_oncology_phone``, ``em_bring``, ``em_avoid``)."""
    phone, address = " ".join(form.phone.split()), " ".join(form.address.split())
    map_url, onc = form.map_url.strip(), " ".join(form.oncology_phone.split())
    bring, avoid = _lines(form.bring), _lines(form.avoid)
    errors: dict[str, str] = {}
    for key, value, (low, high) in (("em_phone", phone, _EM_PHONE), ("em_address", address, _EM_ADDRESS)):
        if not value:
            errors[key] = t("enr_err_required")
        elif not low <= len(value) <= high:
            errors[key] = t("adm_em_err_length", low=low, high=high)
    if onc and not _EM_PHONE[0] <= len(onc) <= _EM_PHONE[1]:
        errors["em_oncology_phone"] = t("adm_em_err_length", low=_EM_PHONE[0], high=_EM_PHONE[1])
    if map_url and (not map_url.startswith("https://") or len(map_url) > _EM_URL or " " in map_url):
        errors["em_map_url"] = t("adm_em_err_map")
    for key, items, longest in (("em_bring", bring, _EM_BRING), ("em_avoid", avoid, _EM_AVOID)):
        if len(items) > _EM_ITEMS:
            errors[key] = t("adm_em_err_items", most=_EM_ITEMS)
        elif any(len(item) > longest for item in items):
            errors[key] = t("adm_em_err_item_long", most=longest)
    if errors:
        return None, errors
    try:
        body = wire.UnitEmergencyUpdate(
            phone=phone,
            address=address,
            map_url=map_url or None,
            oncology_phone=onc or None,
            bring=bring,
            avoid=avoid,
        )
    except ValidationError as exc:  # e.g. a control character pasted in
        for error in exc.errors():
            name = str(error["loc"][0]) if error["loc"] else "phone"
            errors["em_" + name if "em_" + name in _EM_FIELDS else "em_phone"] = t("adm_em_err_invalid")
        return None, errors
    return body, {}


_EM_FIELDS = frozenset({"em_phone", "em_address", "em_map_url", "em_oncology_phone", "em_bring", "em_avoid"})


def _same_emergency(body: wire.UnitEmergencyUpdate, now: contract.UnitEmergency | None) -> bool:
    return now is not None and body.model_dump() == {
        "phone": now.phone,
        "address": now.address,
        "map_url": now.map_url,
        "bring": list(now.bring),
        "avoid": list(now.avoid),
        "oncology_phone": now.oncology_phone,
    }


class AdminCases:
    def __init__(
        self, *, state: AdminHost, api: ApiClient, tr: Translator, session_expired: Callable[[], Awaitable[None]]
    ) -> None:
        self._state = state
        self._api = api
        self._tr = tr
        self._session_expired = session_expired

    @property
    def _ui(self) -> AdminUi:
        return self._state.admin

    @property
    def allowed(self) -> bool:
        user = self._state.user
        return user is not None and user.role == contract.Role.ADMIN

    async def _guard(self, work: Callable[[], Awaitable[Callable[[], None]]], finish: Callable[[], None]) -> bool:
        return await guarded(
            work, state=self._state, ui=self._ui, tr=self._tr, session_expired=self._session_expired, finish=finish
        )

    async def open(self) -> None:
        if not self.allowed:
            return
        with self._state.batch():
            self._ui.reset()
            self._state.go_to(Screen.ADMIN)
        await self.load()

    async def load(self) -> None:
        ui = self._ui
        ui.start_loading()

        async def work() -> Callable[[], None]:
            units = await self._api.units()
            staff = await self._api.admin_staff()
            catalogue = await self._api.protocols()

            def show() -> None:
                ui.show(units, staff)
                ui.show_catalogue(catalogue)

            return show

        await self._guard(work, ui.stop_loading)

    async def load_regimen(self, name: str, data: bytes) -> bool:
        """A protocol file (JSON, the catalogue's shape): checked here, then loaded as its code's next version."""
        ui = self._ui
        try:
            regimen = chemo.RegimenIn.model_validate_json(data)
        except ValidationError as exc:
            ui.regimen_refused(
                [
                    self._tr.t("adm_regimen_problem", file=name, where=_where(e["loc"]), what=e["msg"])
                    for e in exc.errors()[:10]
                ]
            )
            return False
        ui.start_busy()

        async def work() -> Callable[[], None]:
            loaded = await self._api.load_regimen(regimen, idempotency_key=uuid.uuid4().hex)
            catalogue = await self._api.protocols()

            def show() -> None:
                ui.show_catalogue(catalogue)
                ui.show_message(self._tr.t("adm_regimen_loaded", name=loaded.name, version=loaded.version))

            return show

        return await self._guard(work, ui.stop_busy)

    def back(self) -> bool:
        """The back button on the administration screen (to settings); False when not on it."""
        if self._state.screen is not Screen.ADMIN:
            return False
        with self._state.batch():
            self._ui.reset()  # no temporary password stays on screen
            self._state.go_to(Screen.SETTINGS)
        return True

    async def create_staff(self, username: str, display_name: str, role: str, unit_ids: list[str]) -> bool:
        ui, t = self._ui, self._tr.t
        if ui.busy:
            return False
        username = username.strip().lower()
        errors: dict[str, str] = {}
        if not USERNAME_RE.fullmatch(username):
            errors["username"] = t("enr_err_username_form")
        if not display_name.strip():
            errors["display_name"] = t("enr_err_required")
        if role not in {r.value for r in wire.StaffRole}:
            errors["role"] = t("enr_err_required")
        elif role != wire.StaffRole.ADMIN.value and not unit_ids:
            errors["units"] = t("adm_err_units")
        if errors:
            ui.staff_refused(errors)
            return False
        body = wire.StaffCreate(
            username=username, display_name=display_name.strip(), role=wire.StaffRole(role), unit_ids=unit_ids
        )
        ui.start_busy()
        done = False

        async def work() -> Callable[[], None]:
            nonlocal done
            try:
                created = await self._api.create_staff(body)
            except (BadRequest, Conflict) as exc:
                where = "username" if exc.code in ("username_taken", "invalid_username") else "form"
                words = message_for(self._tr, exc)
                return lambda: ui.staff_refused({where: words})
            done = True
            log.info("staff account created")
            staff = await self._api.admin_staff()

            def show() -> None:
                ui.password_issued(created, t("adm_created", username=created.account.username))
                ui.show(ui.units, staff)

            return show

        await self._guard(work, ui.stop_busy)
        return done

    def ask(self, staff_id: str | None, action: str = "") -> None:
        self._ui.ask((staff_id, action) if staff_id else None)

    async def reset_password(self, staff_id: str) -> None:
        ui = self._ui
        if ui.busy or ui.confirming != (staff_id, "reset"):
            return
        ui.start_busy()

        async def work() -> Callable[[], None]:
            issued = await self._api.reset_staff_password(staff_id)
            log.info("staff password reset")
            staff = await self._api.admin_staff()

            def show() -> None:
                ui.password_issued(issued, self._tr.t("adm_reset_done", username=issued.account.username))
                ui.show(ui.units, staff)

            return show

        await self._guard(work, ui.stop_busy)

    async def set_active(self, staff_id: str, active: bool) -> None:
        ui = self._ui
        if ui.busy or (not active and ui.confirming != (staff_id, "deactivate")):
            return
        ui.start_busy()

        async def work() -> Callable[[], None]:
            account = await self._api.update_staff(staff_id, wire.StaffUpdate(active=active))
            staff = await self._api.admin_staff()

            def show() -> None:
                key = "adm_reactivated" if active else "adm_deactivated"
                ui.show_message(self._tr.t(key, username=account.username))
                ui.show(ui.units, staff)

            return show

        await self._guard(work, ui.stop_busy)

    async def create_unit(self, name: str, level: str, state: str) -> bool:
        ui, t = self._ui, self._tr.t
        if ui.busy:
            return False
        errors: dict[str, str] = {}
        if not name.strip():
            errors["name"] = t("enr_err_required")
        if level not in {lv.value for lv in contract.UnitLevel}:
            errors["level"] = t("enr_err_required")
        if not state.strip():
            errors["state"] = t("enr_err_required")
        if errors:
            ui.unit_refused(errors)
            return False
        body = wire.UnitCreate(name=name.strip(), level=contract.UnitLevel(level), state=state.strip())
        ui.start_busy()
        done = False

        async def work() -> Callable[[], None]:
            nonlocal done
            try:
                unit = await self._api.create_unit(body)
            except (BadRequest, Conflict) as exc:
                words = message_for(self._tr, exc)
                return lambda: ui.unit_refused({"form": words})
            done = True
            units = await self._api.units()

            def show() -> None:
                ui.unit_created(t("adm_unit_created", name=unit.name))
                ui.show(units, ui.staff)

            return show

        await self._guard(work, ui.stop_busy)
        return done

    # ---- editing a unit or an account ----------------------------------------------------------------

    def edit(self, kind: str | None = None, item_id: str = "") -> None:
        """Open the edit form of a unit (``kind="unit"``) or a staff account (``"staff"``); None closes it."""
        self._ui.start_edit((kind, item_id) if kind in ("unit", "staff") and item_id else None)

    async def update_unit(
        self, unit_id: str, name: str, level: str, state: str, emergency: EmergencyForm | None = None
    ) -> bool:
        """Save a unit's name, level and state, and its emergency service (``emergency``: the address, the 24-hour
        phone, the map link, what to bring, what not to do; sent whole, as the server replaces it): only what
        changed is sent; a problem is refused beside its field and nothing is sent. The server's refusal shows
        on the form in its own words."""
        ui, t = self._ui, self._tr.t
        unit = next((u for u in ui.units if u.id == unit_id), None)
        if ui.busy or unit is None or ui.editing != ("unit", unit_id):
            return False
        name, state = name.strip(), state.strip()
        errors: dict[str, str] = {}
        if not name:
            errors["name"] = t("enr_err_required")
        if level not in {lv.value for lv in contract.UnitLevel}:
            errors["level"] = t("enr_err_required")
        if not state:
            errors["state"] = t("enr_err_required")
        service: wire.UnitEmergencyUpdate | None = None
        if emergency is not None and not (emergency.blank() and unit.emergency is None):
            service, problems = check_emergency(emergency, t)
            errors.update(problems)
        if errors:
            ui.edit_refused(errors)
            return False
        body = wire.UnitUpdate(
            name=name if name != unit.name else None,
            level=contract.UnitLevel(level) if level != unit.level.value else None,
            state=state if state != unit.state else None,
            emergency=service if service is not None and not _same_emergency(service, unit.emergency) else None,
        )
        if not body.model_dump(exclude_none=True):
            ui.edit_refused({"form": t("adm_no_changes")})
            return False
        ui.start_busy()
        done = False

        async def work() -> Callable[[], None]:
            nonlocal done
            try:
                saved = await self._api.update_unit(unit_id, body)
            except (BadRequest, Conflict) as exc:
                words = message_for(self._tr, exc)
                return lambda: ui.edit_refused({"form": words})
            done = True
            units = await self._api.units()
            staff = await self._api.admin_staff()

            def show() -> None:
                ui.edited(t("adm_unit_saved", name=saved.name))
                ui.show(units, staff)

            return show

        await self._guard(work, ui.stop_busy)
        return done

    async def update_account(self, staff_id: str, display_name: str, unit_ids: list[str]) -> bool:
        """Save a staff account's display name and units: only what changed is sent; an empty name, or no unit
        for a role that works at units, is refused and nothing is sent."""
        ui, t = self._ui, self._tr.t
        account = next((a for a in ui.staff if a.id == staff_id), None)
        if ui.busy or account is None or ui.editing != ("staff", staff_id):
            return False
        display_name = " ".join(display_name.split())
        errors: dict[str, str] = {}
        if not display_name:
            errors["display_name"] = t("enr_err_required")
        if account.role != contract.Role.ADMIN and not unit_ids:
            errors["units"] = t("adm_err_units")
        if errors:
            ui.edit_refused(errors)
            return False
        units_now = sorted(u.id for u in account.units)
        body = wire.StaffUpdate(
            display_name=display_name if display_name != account.display_name else None,
            unit_ids=sorted(set(unit_ids)) if sorted(set(unit_ids)) != units_now else None,
        )
        if not body.model_dump(exclude_none=True):
            ui.edit_refused({"form": t("adm_no_changes")})
            return False
        ui.start_busy()
        done = False

        async def work() -> Callable[[], None]:
            nonlocal done
            try:
                saved = await self._api.update_staff(staff_id, body)
            except (BadRequest, Conflict) as exc:
                words = message_for(self._tr, exc)
                return lambda: ui.edit_refused({"form": words})
            done = True
            staff = await self._api.admin_staff()

            def show() -> None:
                ui.edited(t("adm_account_saved", username=saved.username))
                ui.show(ui.units, staff)

            return show

        await self._guard(work, ui.stop_busy)
        return done

    def forget_password(self) -> None:
        self._ui.forget_password()

    def dismiss_message(self) -> None:
        self._ui.dismiss_message()
