"""Medical units and staff accounts, changed only by administrators; every change audited (no HTTP here).

    UnknownUnit(Invalid)          a unit id that does not exist (422 ``unknown_unit``)
    StaffNotFound(NotFound)       not a staff account (guardians are not managed here)
    UsernameTaken(Conflict)       409 ``username_taken``
    Invalid("invalid_username")   3–64 of a–z, 0–9, ``.``, ``_``, ``-``, starting with a letter or digit
    Invalid("units_required")     a staff account other than an administrator needs at least one unit
    Conflict("own_account")       an administrator may not deactivate their own account

Accounts are made with a temporary password (codes.py), returned once and never stored in clear: the
account has ``must_change_password`` until its owner changes it, and until then every route but "who am
I", log out and change the password answers 403 ``password_change_required`` (auth/deps.py). A reset
does the same to an existing account and ends its sessions; so does deactivating it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from carnet_contract import enrolment as wire
from carnet_contract.models import Role
from carnet_server import audit
from carnet_server.auth.service import Principal, create_user, revoke_all_sessions
from carnet_server.auth.tables import User
from carnet_server.context import Context
from carnet_server.domain_errors import Conflict, Invalid, NotFound
from carnet_server.enrolment.codes import temporary_password
from carnet_server.patients.service import unit_out
from carnet_server.patients.tables import MedicalUnit, UnitEmergency, UserUnit

__all__ = [
    "USERNAME_RE",
    "StaffNotFound",
    "UnknownUnit",
    "UsernameTaken",
    "check_username",
    "create_staff",
    "create_unit",
    "list_staff",
    "list_units",
    "reset_password",
    "staff_out",
    "update_staff",
    "update_unit",
]

USERNAME_RE = re.compile(r"[a-z0-9][a-z0-9._-]{2,63}")


class UnknownUnit(Invalid):
    code = "unknown_unit"


class StaffNotFound(NotFound):
    code = "staff_not_found"


class UsernameTaken(Conflict):
    code = "username_taken"


def check_username(session: Session, username: str) -> str:
    """The username as stored (lower case), if well formed and free."""
    username = username.strip().lower()
    if not USERNAME_RE.fullmatch(username):
        raise Invalid("invalid_username")
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise UsernameTaken()
    return username


def _audit(
    session: Session,
    principal: Principal,
    action: str,
    object_type: str,
    object_id: str,
    ip: str | None,
    **detail: object,
) -> None:
    audit.record(
        session,
        action=action,
        actor_id=principal.id,
        actor_role=principal.role,
        object_type=object_type,
        object_id=object_id,
        ip=ip,
        detail=dict(detail) or None,
    )


# ---- units --------------------------------------------------------------------------------------------


def list_units(session: Session) -> list[MedicalUnit]:
    return list(session.scalars(select(MedicalUnit).order_by(MedicalUnit.name)))


def create_unit(session: Session, *, principal: Principal, body: wire.UnitCreate, ip: str | None) -> MedicalUnit:
    """A new unit. Commits."""
    unit = MedicalUnit(name=body.name, level=body.level.value, state=body.state)
    session.add(unit)
    session.flush()
    _audit(session, principal, "admin.unit.create", "unit", unit.id, ip, level=unit.level)
    session.commit()
    return unit


def update_unit(
    session: Session, *, principal: Principal, unit_id: str, body: wire.UnitUpdate, ip: str | None
) -> MedicalUnit:
    """Change the fields given. Commits."""
    unit = session.get(MedicalUnit, unit_id)
    if unit is None:
        raise NotFound("unit_not_found")
    changed = []
    for name in ("name", "level", "state"):
        value = getattr(body, name)
        if value is not None and value != getattr(unit, name):
            setattr(unit, name, str(value))
            changed.append(name)
    if body.emergency is not None:
        data = body.emergency
        if unit.emergency is None:
            unit.emergency = UnitEmergency(unit_id=unit.id, phone=data.phone, address=data.address)
        row = unit.emergency
        row.phone, row.address, row.map_url = data.phone, data.address, data.map_url
        row.bring, row.avoid, row.oncology_phone = list(data.bring), list(data.avoid), data.oncology_phone
        changed.append("emergency")
    _audit(session, principal, "admin.unit.update", "unit", unit.id, ip, fields=changed)
    session.commit()
    return unit


# ---- staff accounts -------------------------------------------------------------------------------------


def _units(session: Session, user_id: str) -> list[MedicalUnit]:
    return list(
        session.scalars(
            select(MedicalUnit)
            .join(UserUnit, UserUnit.unit_id == MedicalUnit.id)
            .where(UserUnit.user_id == user_id)
            .order_by(MedicalUnit.name)
        )
    )


def staff_out(session: Session, user: User) -> wire.StaffAccount:
    return wire.StaffAccount(
        id=user.id,
        username=user.username,
        role=Role(user.role),
        display_name=user.display_name,
        active=user.active,
        password_change_required=user.must_change_password,
        units=[unit_out(u) for u in _units(session, user.id)],
        created_at=user.created_at,
    )


def list_staff(session: Session) -> list[wire.StaffAccount]:
    users = session.scalars(select(User).where(User.role != Role.GUARDIAN.value).order_by(User.username))
    return [staff_out(session, u) for u in users]


def _check_units(session: Session, unit_ids: Sequence[str], role: str) -> list[str]:
    ids = list(dict.fromkeys(unit_ids))
    if ids:
        found = set(session.scalars(select(MedicalUnit.id).where(MedicalUnit.id.in_(ids))))
        if len(found) != len(ids):
            raise UnknownUnit()
    if not ids and role != Role.ADMIN.value:
        raise Invalid("units_required")
    return ids


def _staff(session: Session, staff_id: str) -> User:
    user = session.get(User, staff_id)
    if user is None or user.role == Role.GUARDIAN.value:
        raise StaffNotFound()
    return user


def create_staff(
    session: Session, *, ctx: Context, principal: Principal, body: wire.StaffCreate, ip: str | None
) -> tuple[User, str]:
    """A staff account with a temporary password (returned, not stored in clear). Commits."""
    username = check_username(session, body.username)
    unit_ids = _check_units(session, body.unit_ids, body.role.value)
    password = temporary_password()
    user = create_user(
        session,
        ctx=ctx,
        username=username,
        password=password,
        role=body.role.value,
        display_name=body.display_name,
        must_change_password=True,
    )
    for unit_id in unit_ids:
        session.add(UserUnit(user_id=user.id, unit_id=unit_id))
    _audit(session, principal, "admin.staff.create", "user", user.id, ip, role=user.role, units=unit_ids)
    session.commit()
    return user, password


def update_staff(
    session: Session, *, principal: Principal, staff_id: str, body: wire.StaffUpdate, ip: str | None
) -> User:
    """Change the name, the units or whether the account is active (deactivating ends its sessions). Commits."""
    user = _staff(session, staff_id)
    changed: list[str] = []
    if body.display_name is not None and body.display_name != user.display_name:
        user.display_name = body.display_name
        changed.append("display_name")
    if body.unit_ids is not None:
        unit_ids = _check_units(session, body.unit_ids, user.role)
        session.execute(delete(UserUnit).where(UserUnit.user_id == user.id))
        for unit_id in unit_ids:
            session.add(UserUnit(user_id=user.id, unit_id=unit_id))
        changed.append("units")
    if body.active is not None and body.active != user.active:
        if user.id == principal.id and not body.active:
            raise Conflict("own_account")
        user.active = body.active
        if not body.active:
            revoke_all_sessions(session, user_id=user.id)
        changed.append("active")
    detail: dict[str, object] = {"fields": changed}
    if body.unit_ids is not None:
        detail["units"] = list(dict.fromkeys(body.unit_ids))
    if body.active is not None:
        detail["active"] = user.active
    _audit(session, principal, "admin.staff.update", "user", user.id, ip, **detail)
    session.commit()
    return user


def reset_password(
    session: Session, *, ctx: Context, principal: Principal, staff_id: str, ip: str | None
) -> tuple[User, str]:
    """A new temporary password for a staff account; its sessions end. Commits."""
    user = _staff(session, staff_id)
    password = temporary_password()
    user.password_hash = ctx.hasher.hash(password)
    user.must_change_password = True
    revoke_all_sessions(session, user_id=user.id)
    _audit(session, principal, "admin.staff.password_reset", "user", user.id, ip)
    session.commit()
    return user, password
