"""Carnet API server: FastAPI + SQLAlchemy 2 + Alembic, split by domain.

Public surface: :func:`carnet_server.app.create_app` and
:class:`carnet_server.settings.Settings`; the console script is
:func:`carnet_server.cli.main`.
"""
