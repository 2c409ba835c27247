"""Demo incidents for the demo children (all in units casos.demo works for: Siglo XXI and La Raza).

One per state: ``atendida`` with a concrete answer (vincristina), ``reabierta``
(infusion pump), ``en_atencion`` (Licencia 140-Bis), ``recibida`` and overdue
(the digital carnet does not show a cycle), and a fresh ``recibida`` (catheter).
Times are relative to now, so the overdue one is always overdue.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from carnet_contract.models import IncidentStatus, Role, SyncType
from carnet_server.incidents import deadlines
from carnet_server.incidents.service import next_folio
from carnet_server.incidents.tables import Incident, IncidentReply
from carnet_server.sync import service as sync

__all__ = ["seed_incidents"]


@dataclass(frozen=True)
class _Reply:
    hours: float  # after the report
    staff: bool
    message: str
    resolves: bool = False
    reopens: bool = False


@dataclass(frozen=True)
class _Case:
    child: str
    category: str
    item_name: str | None
    hours_ago: float
    description: str
    replies: tuple[_Reply, ...] = ()


def _cases(now: datetime, tz: ZoneInfo) -> tuple[_Case, ...]:
    served = (now - timedelta(hours=96 - 20)).astimezone(tz)
    return (
        _Case(
            "Mateo Hernández",
            "medicamento",
            "Vincristina",
            96,
            "En la farmacia de la UMAE nos dijeron que no hay vincristina para el ciclo de consolidación de "
            "Mateo. Su aplicación está programada esta semana y no queremos que se retrase.",
            (
                _Reply(
                    2.5,
                    True,
                    "Recibimos su reporte. Estamos verificando existencias con el almacén de la "
                    "UMAE y la delegación; le informamos hoy mismo.",
                ),
                _Reply(
                    20,
                    True,
                    f"Se surtió la vincristina el {served:%d/%m} en la farmacia de la UMAE; puede "
                    "recogerla con su carnet digital en la ventanilla de oncopediatría, de 8:00 a "
                    "14:00. La aplicación se mantiene en la fecha programada.",
                    resolves=True,
                ),
            ),
        ),
        _Case(
            "Valentina Hernández",
            "insumo",
            "Bomba de infusión",
            72,
            "Para la aplicación de dactinomicina de Valentina no había bomba de infusión disponible en el "
            "servicio y nos pidieron regresar otro día.",
            (
                _Reply(
                    5,
                    True,
                    "Se asignó una bomba de infusión del servicio de Oncopediatría para su próxima "
                    "aplicación; preséntese a las 8:00 con su carnet.",
                    resolves=True,
                ),
                _Reply(
                    30,
                    False,
                    "Nos presentamos a las 8:00 y la bomba asignada seguía ocupada; la aplicación "
                    "se retrasó cinco horas.",
                    reopens=True,
                ),
            ),
        ),
        _Case(
            "Camila Torres",
            "licencia_140_bis",
            None,
            30,
            "Necesito orientación para el trámite de la Licencia 140-Bis: en mi trabajo me piden el formato "
            "firmado por el médico tratante y en la UMAE no saben quién lo expide.",
            (
                _Reply(
                    6,
                    True,
                    "Recibimos su solicitud. Trabajo Social de la UMAE revisa con el médico tratante "
                    "la expedición del formato y le llamará para indicarle cuándo recogerlo.",
                ),
            ),
        ),
        _Case(
            "Mateo Hernández",
            "carnet_digital",
            None,
            30,
            "El carnet digital de Mateo no muestra el ciclo 5 que ya está programado; en la farmacia no "
            "pudieron verificar el medicamento con el código QR.",
        ),
        _Case(
            "Valentina Hernández",
            "insumo",
            "Catéter venoso central (puerto)",
            1,
            "Nos indicaron que Valentina necesita recambio de catéter puerto y en la unidad no hay catéteres "
            "de su medida; pidieron que lo consiguiéramos por fuera.",
        ),
    )


def seed_incidents(
    session: Session, *, patients: dict[str, tuple[str, str, str]], staff_id: str, tz: ZoneInfo, now: datetime
) -> None:
    """``patients``: display name → (patient id, unit id, guardian user id)."""
    hours = deadlines.deadline_hours()
    for case in _cases(now, tz):
        patient_id, unit_id, guardian_id = patients[case.child]
        created = now - timedelta(hours=case.hours_ago)
        row = Incident(
            folio=next_folio(session, created.astimezone(tz).year),
            patient_id=patient_id,
            unit_id=unit_id,
            reporter_id=guardian_id,
            category=case.category,
            description=case.description,
            item_name=case.item_name,
            status=IncidentStatus.RECIBIDA.value,
            created_at=created,
            updated_at=created,
            first_response_due_at=deadlines.due_at(created, case.category, hours),
        )
        session.add(row)
        session.flush()
        for position, reply in enumerate(case.replies):
            at = created + timedelta(hours=reply.hours)
            session.add(
                IncidentReply(
                    incident_id=row.id,
                    position=position,
                    author_id=staff_id if reply.staff else guardian_id,
                    author_role=(Role.CASE_DESK if reply.staff else Role.GUARDIAN).value,
                    message=reply.message,
                    resolves=reply.resolves,
                    reopens=reply.reopens,
                    created_at=at,
                )
            )
            if reply.staff and row.first_response_at is None:
                row.first_response_at = at
            if reply.reopens:
                row.status, row.resolved_at = IncidentStatus.REABIERTA.value, None
            elif reply.resolves:
                row.status, row.resolved_at = IncidentStatus.ATENDIDA.value, at
            else:
                row.status = IncidentStatus.EN_ATENCION.value
            row.updated_at = at
        sync.touch(session, type=SyncType.INCIDENT, record_id=row.id, patient_id=patient_id)
