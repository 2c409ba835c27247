"""Synthetic national-scale data: ``carnet-server generate --patients N --seed S``.

Deterministic: the same seed, patient count and day (``--today``) give the
same rows and ids, because every id, name, date and choice comes from one
``random.Random(seed)`` drawn in a fixed order (batching does not change it).

The mix per child, as the platform's first year at IMSS suggests: families
with one or two guardians and sometimes two children under treatment; units
spread over generated IMSS units (UMAEs take more children); a diagnosis from
the common paediatric cancers with its protocol; 4–12 cycles with their drugs
around today; a year of appointments (about 20–40: chemotherapy and the blood
count before it, monthly consultations, studies, the family's own); blood-bank
donor bookings for about one child in eight (with their agenda appointment);
incidents with the case desk's replies for about one in twelve. No QR tokens
(the first carnet read issues them) and no audit rows.

Synced records (cycles, appointments, bookings, incidents) get their
``sync_state`` row with increasing ``seq`` taken from ``sync_counter`` with the
same ``UPDATE … RETURNING`` the services use, so the first sync of a generated
guardian pages through everything, exactly as for real data.

Rows go in with SQLAlchemy Core in batches (executemany) or, on PostgreSQL,
with ``COPY … FROM STDIN``; one transaction per batch of children. Every
account (guardians ``tutor000001``…, case desk ``casos001``… one per unit)
has the password :data:`SCALE_PASSWORD`, hashed once; the guardians have accepted the privacy
notice in force (``users.privacy_version`` and a ``privacy_acceptances`` row). Generate into an empty
database (:class:`DatabaseNotEmpty` otherwise).
"""

from __future__ import annotations

import time as clock
from collections.abc import Callable
from datetime import UTC, date, datetime

from sqlalchemy import func, select

from carnet_server.agenda.tables import Appointment
from carnet_server.auth.tables import User
from carnet_server.blood_bank.tables import Booking, FolioCounter, Slot
from carnet_server.context import Context
from carnet_server.incidents.tables import Incident, IncidentFolioCounter, IncidentReply
from carnet_server.patients.tables import Cycle, CycleDrug, Diagnosis, GuardianPatient, Patient, Protocol
from carnet_server.privacy.tables import PrivacyAcceptance
from carnet_server.scale.families import (
    BATCH_PATIENTS,
    SCALE_PASSWORD,
    Batch,
    DatabaseNotEmpty,
    GenerationReport,
    Generator,
    guardian_username,
)
from carnet_server.scale.writer import Writer, analyze, set_counters, write_changes

__all__ = ["SCALE_PASSWORD", "DatabaseNotEmpty", "GenerationReport", "generate", "guardian_username"]

# Insert order within a batch (foreign keys first).
_ORDER = (
    User,
    PrivacyAcceptance,
    Patient,
    GuardianPatient,
    Diagnosis,
    Protocol,
    Cycle,
    CycleDrug,
    Appointment,
    Incident,
    IncidentReply,
)


def generate(
    ctx: Context,
    *,
    patients: int,
    seed: int,
    today: date | None = None,
    batch_patients: int = BATCH_PATIENTS,
    progress: Callable[[str], None] | None = None,
) -> GenerationReport:
    """Fill an empty (migrated) database with ``patients`` children and their families; one commit per batch."""
    if patients < 1:
        raise ValueError("patients must be at least 1")
    started = clock.perf_counter()
    today = today or ctx.today(datetime.now(UTC))
    gen = Generator(ctx, patients=patients, seed=seed, today=today)
    engine = ctx.engine
    with engine.connect() as conn:
        if conn.execute(select(func.count()).select_from(Patient.__table__)).scalar_one():
            raise DatabaseNotEmpty()
        conn.rollback()
        with conn.begin():
            gen.setup(Writer(conn))
        done = 0
        while done < patients:
            batch = Batch()
            target = min(patients, done + batch_patients)
            while done < target:
                done += gen.family(batch, patients - done)
            with conn.begin():
                writer = Writer(conn)
                for model in _ORDER:
                    writer.write(model.__table__, batch.tables.get(model.__tablename__, []))
                gen.report.sync_rows += write_changes(conn, writer, batch.changes)
            if progress:
                progress(f"{done}/{patients} patients")
        with conn.begin():
            writer = Writer(conn)
            slots = sorted(gen.slots.values(), key=lambda s: s["starts_at"])
            writer.write(Slot.__table__, slots)
            writer.write(Booking.__table__, gen.bookings)
            gen.report.sync_rows += write_changes(conn, writer, gen.booking_changes)
            set_counters(conn, FolioCounter.__table__, gen.booking_folios)
            set_counters(conn, IncidentFolioCounter.__table__, gen.incident_folios)
    analyze(engine)
    gen.report.seconds = clock.perf_counter() - started
    return gen.report
