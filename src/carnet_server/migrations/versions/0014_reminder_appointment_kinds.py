"""Reminders: the appointment reminder ("cita_manana") split into chemotherapy, consultation and laboratory, each
chosen apart. A stored choice of "cita_manana" becomes the three (the family keeps every reminder it had); the
downgrade turns any of the three back into "cita_manana".

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

LEGACY = "cita_manana"
SPLIT = ("quimioterapia_manana", "consulta_manana", "laboratorio_manana")

preferences = sa.table("reminder_preferences", sa.column("user_id", sa.String), sa.column("kinds", sa.JSON))


def _rewrite(change: dict[str, list[str]]) -> None:
    bind = op.get_bind()
    for user_id, kinds in change.items():
        bind.execute(preferences.update().where(preferences.c.user_id == user_id).values(kinds=kinds))


def _rows() -> list[tuple[str, list[str]]]:
    rows = op.get_bind().execute(sa.select(preferences.c.user_id, preferences.c.kinds)).all()
    return [(user_id, list(kinds or [])) for user_id, kinds in rows]


def upgrade() -> None:
    change: dict[str, list[str]] = {}
    for user_id, kinds in _rows():
        if LEGACY not in kinds:
            continue
        out: list[str] = []
        for kind in kinds:
            out += [k for k in (SPLIT if kind == LEGACY else (kind,)) if k not in out]
        change[user_id] = out
    _rewrite(change)


def downgrade() -> None:
    change: dict[str, list[str]] = {}
    for user_id, kinds in _rows():
        if not any(k in SPLIT for k in kinds):
            continue
        out: list[str] = []
        for kind in kinds:
            value = LEGACY if kind in SPLIT else kind
            if value not in out:
                out.append(value)
        change[user_id] = out
    _rewrite(change)
