"""Reminder preferences: the kinds a guardian chose in Ajustes → Recordatorios (no HTTP here).

An account that never chose gets every kind (``DEFAULT_KINDS``): the reminders exist to help, and a family
turns off what it does not want. Choosing replaces the whole set (deduplicated, kept in the enum's order so
the answer does not depend on the order sent). Only guardians have preferences; staff get ``NotAllowed``.
Unknown kinds never reach here: the request model (``ReminderPreferences``) refuses them with 422.
Each change leaves an audit row with the user id and the kind codes only. Functions commit.

The preferences say what may be sent; whether anything goes over WhatsApp also needs a linked number
(whatsapp/links.py), and the phone's own notifications follow the same choice (src/carnet/reminders/).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from carnet_contract.models import ReminderKind, Role, expand_legacy_kinds
from carnet_server import audit
from carnet_server.auth.service import Principal
from carnet_server.db import utcnow
from carnet_server.domain_errors import NotAllowed
from carnet_server.reminders.tables import ReminderPreference

__all__ = ["DEFAULT_KINDS", "chosen_kinds", "get_preferences", "normalize", "set_preferences"]

#: What an account that never chose gets: everything.
DEFAULT_KINDS: tuple[ReminderKind, ...] = tuple(ReminderKind)


def normalize(kinds: Iterable[str]) -> list[ReminderKind]:
    """Known kinds only, each once, in the enum's order (a stored value no longer known is dropped; the old
    ``cita_manana`` counts as the three appointment kinds)."""
    wanted = {str(k) for k in expand_legacy_kinds(str(k) for k in kinds)}
    return [kind for kind in ReminderKind if kind.value in wanted]


def get_preferences(session: Session, user_id: str) -> list[ReminderKind]:
    """The kinds ``user_id`` chose; every kind when the account never chose."""
    stored = session.scalar(select(ReminderPreference.kinds).where(ReminderPreference.user_id == user_id))
    return list(DEFAULT_KINDS) if stored is None else normalize(stored)


def chosen_kinds(session: Session, user_ids: Iterable[str]) -> dict[str, frozenset[ReminderKind]]:
    """The kinds of several accounts in one query (the reminders pass): user id → kinds, defaults included."""
    ids = sorted(set(user_ids))
    found: dict[str, frozenset[ReminderKind]] = dict.fromkeys(ids, frozenset(DEFAULT_KINDS))
    if ids:
        rows = session.execute(
            select(ReminderPreference.user_id, ReminderPreference.kinds).where(ReminderPreference.user_id.in_(ids))
        )
        for user_id, kinds in rows:
            found[user_id] = frozenset(normalize(kinds or ()))
    return found


def set_preferences(
    session: Session,
    principal: Principal,
    kinds: Iterable[ReminderKind],
    ip: str | None,
    *,
    now: datetime | None = None,
) -> list[ReminderKind]:
    """A guardian chooses the kinds (the whole set; an empty list turns every reminder off). Returns them."""
    if principal.role != Role.GUARDIAN:
        raise NotAllowed()
    chosen = normalize(kinds)
    values = [k.value for k in chosen]
    now = now or utcnow()
    row = session.get(ReminderPreference, principal.id)
    if row is None:
        try:
            with session.begin_nested():
                session.add(ReminderPreference(user_id=principal.id, kinds=values, updated_at=now))
        except IntegrityError:  # the same guardian saving twice at once: the other request made the row
            row = session.get_one(ReminderPreference, principal.id, populate_existing=True)
    if row is not None:
        row.kinds, row.updated_at = values, now
    audit.record(
        session,
        action="reminders.preferences.set",
        actor_id=principal.id,
        actor_role=principal.role,
        object_type="user",
        object_id=principal.id,
        ip=ip,
        detail={"kinds": values},
    )
    session.commit()
    return chosen
