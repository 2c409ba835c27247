"""Everything held about a guardian's family, as one JSON document (``FamilyExport``; no HTTP here).

The account (never the password hash), its privacy acceptances, closure requests and sessions (times
only, no tokens); and for each linked child: the carnet data (no live QR token: the QR codes issued
appear with their dates only), every cycle with its mixing status, the dispensations (by "Farmacia",
never a staff member's name), appointments, blood-bank bookings with the donors' data and
questionnaire answers, incidents with the replies and the photos' metadata (not the bytes), fever episodes, and the
access record — the audit rows about the child or one of its records, with the actor's role but no
staff ids or addresses.

Each kind of record is read for all the children at once (``IN`` the linked ids), so the number of
queries does not grow with the records: about twenty, whatever the family holds. The output models
are the ones the app already reads (``cycle_out``, ``appointment_out``, ``booking_out``,
``incident_out``), extended where the export holds more.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Protocol as TypingProtocol
from typing import TypeVar

from sqlalchemy import and_, select, union_all
from sqlalchemy.orm import Session

from carnet_contract import models as contract
from carnet_server import audit
from carnet_server.agenda.service import appointment_out
from carnet_server.agenda.tables import Appointment
from carnet_server.audit import AuditEntry
from carnet_server.auth.service import Principal
from carnet_server.auth.tables import AuthSession, User
from carnet_server.blood_bank.service import booking_out
from carnet_server.blood_bank.tables import Booking, Slot
from carnet_server.db import utcnow
from carnet_server.domain_errors import NotAllowed
from carnet_server.fever.service import episode_out
from carnet_server.fever.tables import FeverEpisode
from carnet_server.incidents.service import incident_out
from carnet_server.incidents.tables import Incident
from carnet_server.patients.service import cycle_out, patients_of_guardian, unit_out
from carnet_server.patients.tables import Cycle, Diagnosis, Patient, Protocol, QrToken
from carnet_server.pharmacy.ledger import dispensed_at_of
from carnet_server.pharmacy.tables import Dispensation
from carnet_server.privacy.tables import AccountClosureRequest, PrivacyAcceptance
from carnet_server.sync.tables import SyncState

__all__ = ["PHARMACY_LABEL", "family_export"]

PHARMACY_LABEL = "Farmacia"


class _OfPatient(TypingProtocol):  # (Protocol is the chemotherapy table here)
    @property
    def patient_id(self) -> str: ...


T = TypeVar("T", bound=_OfPatient)


def _by_patient(rows: Sequence[T]) -> dict[str, list[T]]:
    grouped: dict[str, list[T]] = defaultdict(list)
    for row in rows:
        grouped[row.patient_id].append(row)
    return grouped


def _access_record(
    session: Session, *, patient_ids: list[str], user_id: str
) -> dict[str, list[contract.AccessRecordEntry]]:
    """Audit rows about each child: on the patient itself, or on one of its synced records (cycles,
    appointments — deleted ones too —, bookings, incidents), whose ids ``sync_state`` keeps."""
    about_patient = select(AuditEntry.id, AuditEntry.object_id.label("patient_id")).where(
        AuditEntry.object_type == "patient", AuditEntry.object_id.in_(patient_ids)
    )
    about_record = (
        select(AuditEntry.id, SyncState.patient_id)
        .join(SyncState, and_(SyncState.record_id == AuditEntry.object_id, SyncState.type == AuditEntry.object_type))
        .where(SyncState.patient_id.in_(patient_ids))
    )
    found = union_all(about_patient, about_record).subquery()
    rows = session.execute(
        select(
            found.c.patient_id,
            AuditEntry.at,
            AuditEntry.actor_id,
            AuditEntry.actor_role,
            AuditEntry.action,
            AuditEntry.object_type,
            AuditEntry.object_id,
        )
        .join(AuditEntry, AuditEntry.id == found.c.id)
        .order_by(AuditEntry.at, AuditEntry.id)
    ).all()
    out: dict[str, list[contract.AccessRecordEntry]] = defaultdict(list)
    for patient_id, at, actor_id, role, action, object_type, object_id in rows:
        out[patient_id].append(
            contract.AccessRecordEntry(
                at=at,
                actor_role=role,
                by_you=actor_id == user_id,
                action=action,
                object_type=object_type,
                object_id=object_id,
            )
        )
    return out


def _children(session: Session, *, patients: list[Patient], user_id: str, now: datetime) -> list[contract.ExportChild]:
    ids = [p.id for p in patients]
    if not ids:
        return []
    diagnoses = _by_patient(
        list(
            session.scalars(
                select(Diagnosis).where(Diagnosis.patient_id.in_(ids)).order_by(Diagnosis.diagnosed_on, Diagnosis.id)
            )
        )
    )
    protocols = _by_patient(
        list(session.scalars(select(Protocol).where(Protocol.patient_id.in_(ids)).order_by(Protocol.id)))
    )
    cycle_rows = list(session.scalars(select(Cycle).where(Cycle.patient_id.in_(ids)).order_by(Cycle.number)))
    dispensed = dispensed_at_of(session, [c.id for c in cycle_rows])
    cycles = _by_patient(cycle_rows)
    numbers = {c.id: c.number for c in cycle_rows}
    dispensations = _by_patient(
        list(
            session.scalars(
                select(Dispensation).where(Dispensation.patient_id.in_(ids)).order_by(Dispensation.dispensed_at)
            )
        )
    )
    qr_codes = _by_patient(
        list(
            session.execute(  # their dates only: the tokens stay out of the export
                select(QrToken.patient_id, QrToken.issued_at, QrToken.expires_at, QrToken.revoked_at)
                .where(QrToken.patient_id.in_(ids))
                .order_by(QrToken.issued_at)
            )
        )
    )
    appointments = _by_patient(
        list(
            session.scalars(
                select(Appointment)
                .where(Appointment.patient_id.in_(ids))
                .order_by(Appointment.starts_at, Appointment.id)
            )
        )
    )
    bookings = _by_patient(
        list(
            session.scalars(
                select(Booking)
                .join(Slot, Slot.id == Booking.slot_id)
                .where(Booking.patient_id.in_(ids))
                .order_by(Slot.starts_at, Booking.folio)
            )
        )
    )
    incidents = _by_patient(
        list(
            session.scalars(
                select(Incident).where(Incident.patient_id.in_(ids)).order_by(Incident.created_at, Incident.folio)
            )
        )
    )
    fever = _by_patient(
        list(
            session.scalars(
                select(FeverEpisode)
                .where(FeverEpisode.patient_id.in_(ids))
                .order_by(FeverEpisode.created_at, FeverEpisode.id)
            )
        )
    )
    access = _access_record(session, patient_ids=ids, user_id=user_id)

    out = []
    for patient in patients:
        pid = patient.id
        out.append(
            contract.ExportChild(
                patient=contract.CarnetPatient(
                    id=pid,
                    full_name=patient.full_name,
                    display_name=patient.display_name,
                    nss=patient.nss,
                    curp=patient.curp,
                    birth_date=patient.birth_date,
                    unit=unit_out(patient.unit),
                ),
                diagnoses=[
                    contract.Diagnosis(name=d.name, cie10=d.cie10, diagnosed_on=d.diagnosed_on) for d in diagnoses[pid]
                ],
                protocols=[contract.Protocol(name=p.name, description=p.description) for p in protocols[pid]],
                cycles=[cycle_out(c, dispensed_at=dispensed.get(c.id)) for c in cycles[pid]],
                dispensations=[
                    contract.ExportDispensation(
                        cycle_id=d.cycle_id,
                        cycle_number=numbers.get(d.cycle_id, 0),
                        items=[contract.Drug.model_validate(i) for i in d.items],
                        dispensed_at=d.dispensed_at,
                        dispensed_by=PHARMACY_LABEL,
                    )
                    for d in dispensations[pid]
                ],
                qr_codes=[
                    contract.ExportQrToken(issued_at=q.issued_at, expires_at=q.expires_at, revoked_at=q.revoked_at)
                    for q in qr_codes[pid]
                ],
                appointments=[appointment_out(a) for a in appointments[pid]],
                blood_bank_bookings=[
                    contract.ExportBooking(
                        **booking_out(b, now=now).model_dump(),
                        donor_last_donation_on=b.donor_last_donation_on,
                        answers={str(k): bool(v) for k, v in (b.answers or {}).items()},
                    )
                    for b in bookings[pid]
                ],
                incidents=[_incident(i, now=now) for i in incidents[pid]],
                fever_episodes=[episode_out(e) for e in fever[pid]],
                access_record=access.get(pid, []),
            )
        )
    return out


def _incident(row: Incident, *, now: datetime) -> contract.ExportIncident:
    data = incident_out(row, now=now).model_dump()
    created = {p.id: p.created_at for p in row.photos}
    data["photos"] = [{**photo, "created_at": created[photo["id"]]} for photo in data["photos"]]
    return contract.ExportIncident.model_validate(data)


def family_export(
    session: Session, *, principal: Principal, ip: str | None, now: datetime | None = None
) -> contract.FamilyExport:
    """Everything held about the guardian's account and linked children; audited (``privacy.export``). Commits."""
    if principal.role != contract.Role.GUARDIAN:
        raise NotAllowed()
    now = now or utcnow()
    user = session.get_one(User, principal.id)
    acceptances = session.scalars(
        select(PrivacyAcceptance)
        .where(PrivacyAcceptance.user_id == user.id)
        .order_by(PrivacyAcceptance.accepted_at, PrivacyAcceptance.id)
    )
    closures = session.scalars(
        select(AccountClosureRequest)
        .where(AccountClosureRequest.user_id == user.id)
        .order_by(AccountClosureRequest.requested_at, AccountClosureRequest.id)
    )
    sessions = session.scalars(
        select(AuthSession).where(AuthSession.user_id == user.id).order_by(AuthSession.created_at, AuthSession.id)
    )
    export = contract.FamilyExport(
        generated_at=now,
        account=contract.ExportAccount(
            id=user.id,
            username=user.username,
            display_name=user.display_name,
            role=contract.Role(user.role),
            created_at=user.created_at,
            active=user.active,
        ),
        privacy_acceptances=[
            contract.ExportAcceptance(version=a.version, accepted_at=a.accepted_at) for a in acceptances
        ],
        closure_requests=[
            contract.ExportClosureRequest(
                id=c.id,
                status=contract.ClosureStatus(c.status),
                requested_at=c.requested_at,
                decided_at=c.decided_at,
                reason=c.reason,
            )
            for c in closures
        ],
        sessions=[contract.ExportSession(created_at=s.created_at, revoked_at=s.revoked_at) for s in sessions],
        children=_children(session, patients=patients_of_guardian(session, user_id=user.id), user_id=user.id, now=now),
    )
    audit.record(
        session,
        action="privacy.export",
        actor_id=user.id,
        actor_role=user.role,
        ip=ip,
        object_type="user",
        object_id=user.id,
        detail={"children": len(export.children)},
    )
    session.commit()
    return export
