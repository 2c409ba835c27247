"""Alembic environment, configured in code by :func:`carnet_server.db.run_migrations`."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from carnet_server.tables import metadata

config = context.config


def _run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:  # e.g. `alembic revision --autogenerate` with a URL set on the config
    from sqlalchemy import create_engine

    engine = create_engine(config.get_main_option("sqlalchemy.url") or "sqlite://")
    with engine.begin() as conn:
        _run(conn)
