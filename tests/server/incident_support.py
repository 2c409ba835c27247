"""Helpers shared by the incident tests: principals, units, incidents at a given instant."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from carnet_contract import models as contract
from carnet_server.auth.service import Principal, create_user
from carnet_server.auth.tables import User
from carnet_server.context import Context
from carnet_server.demo import DEMO_PASSWORD
from carnet_server.incidents import service
from carnet_server.incidents.tables import Incident
from carnet_server.patients.tables import MedicalUnit, UserUnit

INCIDENTS = "/api/v1/incidents"
SXXI = "UMAE Hospital de Pediatría CMN Siglo XXI"
RAZA = "Hospital General CMN La Raza"
LEON = "UMAE Hospital de Gineco-Pediatría No. 48 León"


def principal(ctx: Context, username: str) -> Principal:
    with ctx.sessions() as session:
        user = session.scalar(select(User).where(User.username == username))
        assert user is not None
        return Principal(id=user.id, role=user.role, display_name=user.display_name, session_id="test",
                         privacy_version=user.privacy_version)


def unit_id(ctx: Context, name: str) -> str:
    with ctx.sessions() as session:
        unit = session.scalar(select(MedicalUnit).where(MedicalUnit.name == name))
        assert unit is not None
        return unit.id


def case_desk_of(ctx: Context, unit_name: str, username: str = "casos.leon") -> None:
    """A case-desk account working only for ``unit_name``."""
    with ctx.sessions() as session:
        user = create_user(session, ctx=ctx, username=username, password=DEMO_PASSWORD, role="case_desk",
                           display_name="Lic. Otra Unidad")
        unit = session.scalar(select(MedicalUnit).where(MedicalUnit.name == unit_name))
        assert unit is not None
        session.add(UserUnit(user_id=user.id, unit_id=unit.id))
        session.commit()


def report_at(ctx: Context, username: str, patient_id: str, now: datetime, category: str = "medicamento",
              item_name: str | None = "Vincristina", description: str = "Falta el medicamento en farmacia.",
              deadline_hours: dict[str, float] | None = None) -> str:
    """An incident created by ``username`` at ``now`` (through the service); returns its id."""
    with ctx.sessions() as session:
        row = service.create(
            session, principal=principal(ctx, username),
            data=contract.IncidentCreate(patient_id=patient_id, category=category, description=description,
                                         item_name=item_name),
            tz=ctx.tz, deadline_hours=deadline_hours or {}, ip=None, now=now)
        session.commit()
        return row.id


def reply_at(ctx: Context, incident_id: str, now: datetime, message: str = "Estamos revisando su caso.",
             resolves: bool = False, username: str = "casos.demo") -> None:
    with ctx.sessions() as session:
        service.reply(session, principal=principal(ctx, username), incident_id=incident_id,
                      data=contract.ReplyCreate(message=message, resolves=resolves), ip=None, now=now)
        session.commit()


def reopen_at(ctx: Context, incident_id: str, now: datetime, username: str = "madre.demo") -> None:
    with ctx.sessions() as session:
        service.reopen(session, principal=principal(ctx, username), incident_id=incident_id,
                       data=contract.ReopenRequest(reason="No se resolvió el problema."), ip=None, now=now)
        session.commit()


def read_at(ctx: Context, incident_id: str, now: datetime) -> contract.Incident:
    with ctx.sessions() as session:
        return service.incident_out(session.get_one(Incident, incident_id), now=now)


def body(patient_id: str, **changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"patient_id": patient_id, "category": "medicamento", "item_name": "Vincristina",
                            "description": "La farmacia de la UMAE no tiene vincristina para el ciclo del jueves."}
    return {k: v for k, v in {**base, **changes}.items() if v is not ...}
