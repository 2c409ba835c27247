"""The scale data generator (scale.py): deterministic, consistent, and usable by the real API."""

from __future__ import annotations

import os
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, func, select, text

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from carnet_server.agenda.tables import Appointment
from carnet_server.app import create_app
from carnet_server.auth.tables import User
from carnet_server.blood_bank.tables import Booking, FolioCounter, Slot
from carnet_server.cli import main as cli_main
from carnet_server.context import Context, build_context
from carnet_server.incidents.tables import Incident, IncidentFolioCounter, IncidentReply
from carnet_server.patients.tables import Cycle, GuardianPatient, Patient, curp_problem, nss_problem
from carnet_server.scale import SCALE_PASSWORD, DatabaseNotEmpty, generate, guardian_username
from carnet_server.settings import Settings
from carnet_server.sync.tables import SyncCounter, SyncState
from carnet_server.tables import metadata
from tests.support.databases import SCHEMA_PREFIX, scratch_name

from .conftest import FAST_ARGON2, PG_ENV, assert_error, bearer, sync_all

PATIENTS = 50
DAY = date(2026, 3, 2)


@pytest.fixture
def make_ctx(backend: str, tmp_path: Path) -> Iterator[Callable[[], Context]]:
    """Fresh, empty (migrated) databases on the test's backend, as many as asked for."""
    made: list[tuple[Context, str | None]] = []
    admin = create_engine(os.environ[PG_ENV], isolation_level="AUTOCOMMIT") if backend == "postgresql" else None

    def make() -> Context:
        data_dir = tmp_path / f"data{len(made)}"
        if admin is None:
            settings = Settings(data_dir=data_dir, public_url="https://carnet.example.mx", **FAST_ARGON2)
            schema = None
        else:
            schema = scratch_name(SCHEMA_PREFIX)
            with admin.connect() as conn:
                conn.execute(text(f'CREATE SCHEMA "{schema}"'))
            settings = Settings(data_dir=data_dir, database_url=os.environ[PG_ENV], database_schema=schema,
                                public_url="https://carnet.example.mx", **FAST_ARGON2)
        context = build_context(settings)
        made.append((context, schema))
        return context

    yield make
    for context, schema in made:
        context.engine.dispose()
        if admin is not None and schema:
            with admin.connect() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    if admin is not None:
        admin.dispose()


def _dump(ctx: Context) -> dict[str, list[tuple[Any, ...]]]:
    with ctx.engine.connect() as conn:
        return {table.name: [tuple(r) for r in conn.execute(select(table).order_by(*table.primary_key.columns))]
                for table in metadata.sorted_tables}


def test_same_seed_same_rows_other_seed_other_rows(make_ctx: Callable[[], Context]) -> None:
    first, second, third = make_ctx(), make_ctx(), make_ctx()
    report = generate(first, patients=PATIENTS, seed=7, today=DAY, batch_patients=20)
    generate(second, patients=PATIENTS, seed=7, today=DAY, batch_patients=13)  # batching changes nothing
    generate(third, patients=PATIENTS, seed=8, today=DAY)
    one, two, other = _dump(first), _dump(second), _dump(third)
    assert len(one["patients"]) == report.patients == PATIENTS
    assert one == two
    assert {r[0] for r in one["patients"]}.isdisjoint({r[0] for r in other["patients"]})


def test_generated_data_is_consistent(make_ctx: Callable[[], Context]) -> None:
    ctx = make_ctx()
    report = generate(ctx, patients=PATIENTS, seed=3, today=DAY)
    with ctx.sessions() as s:
        patients = list(s.scalars(select(Patient)))
        assert len(patients) == PATIENTS
        for p in patients:
            assert curp_problem(p.curp) is None and nss_problem(p.nss) is None
        links = list(s.scalars(select(GuardianPatient)))
        per_patient = Counter(link.patient_id for link in links)
        assert set(per_patient) == {p.id for p in patients} and max(per_patient.values()) <= 2
        guardians = set(s.scalars(select(User.id).where(User.role == "guardian")))
        assert guardians == {link.user_id for link in links}
        assert report.guardians == len(guardians)
        per_guardian = Counter(link.user_id for link in links)
        assert max(per_guardian.values()) <= 2

        cycles = Counter(s.scalars(select(Cycle.patient_id)))
        assert all(4 <= n <= 12 for n in cycles.values()) and len(cycles) == PATIENTS
        appointments = Counter(s.scalars(select(Appointment.patient_id)))
        assert 20 <= sum(appointments.values()) / PATIENTS <= 40
        assert min(appointments.values()) >= 10

        # Every synced record has its sync_state row; seqs are unique and the counter is at the last one.
        synced = {(r.type, r.record_id): (r.patient_id, r.seq) for r in s.scalars(select(SyncState))}
        expected = {("cycle", i): p for i, p in s.execute(select(Cycle.id, Cycle.patient_id))}
        expected |= {("appointment", i): p for i, p in s.execute(select(Appointment.id, Appointment.patient_id))}
        expected |= {("blood_bank_booking", i): p for i, p in s.execute(select(Booking.id, Booking.patient_id))}
        expected |= {("incident", i): p for i, p in s.execute(select(Incident.id, Incident.patient_id))}
        assert {k: v[0] for k, v in synced.items()} == expected
        seqs = sorted(seq for _p, seq in synced.values())
        assert seqs == list(range(1, len(seqs) + 1))
        assert s.scalar(select(SyncCounter.value)) == seqs[-1] == report.sync_rows

        # Slots hold exactly their non-cancelled bookings; folio counters match the folios.
        held = Counter(s.scalars(select(Booking.slot_id).where(Booking.status != "cancelada")))
        for slot in s.scalars(select(Slot)):
            assert slot.booked == held.get(slot.id, 0) <= slot.capacity
        bookings = list(s.scalars(select(Booking)))
        assert bookings and all(b.appointment_id for b in bookings)
        folios = Counter(int(b.folio.split("-")[1]) for b in bookings)
        assert {c.year: c.value for c in s.scalars(select(FolioCounter))} == dict(folios)
        incidents = list(s.scalars(select(Incident)))
        assert incidents
        folios = Counter(int(i.folio.split("-")[1]) for i in incidents)
        assert {c.year: c.value for c in s.scalars(select(IncidentFolioCounter))} == dict(folios)
        for incident in incidents:
            assert [r.position for r in incident.replies] == list(range(len(incident.replies)))
            assert (incident.status == "atendida") == (incident.resolved_at is not None)
        assert s.scalar(select(func.count()).select_from(IncidentReply)) == report.replies


def test_generated_guardian_sees_exactly_their_children(make_ctx: Callable[[], Context]) -> None:
    ctx = make_ctx()
    generate(ctx, patients=PATIENTS, seed=11)
    client = TestClient(create_app(context=ctx))
    login = client.post("/api/v1/auth/login", json={"username": guardian_username(1), "password": SCALE_PASSWORD})
    assert login.status_code == 200, login.text
    auth = bearer(login.json()["access_token"])
    with ctx.sessions() as s:
        user_id = s.scalar(select(User.id).where(User.username == guardian_username(1)))
        mine = set(s.scalars(select(GuardianPatient.patient_id).where(GuardianPatient.user_id == user_id)))
        other = s.scalar(select(Patient.id).where(Patient.id.not_in(mine)).limit(1))
        my_records = {r.record_id for r in s.scalars(select(SyncState).where(SyncState.patient_id.in_(mine)))}
    me = client.get("/api/v1/me", headers=auth).json()
    assert {p["id"] for p in me["patients"]} == mine
    assert me["privacy"]["accepted_version"] == me["privacy"]["current_version"]  # else 403 everywhere below
    child = sorted(mine)[0]
    carnet = client.get(f"/api/v1/patients/{child}/carnet", headers=auth)
    assert carnet.status_code == 200 and 4 <= len(carnet.json()["cycles"]) <= 12
    assert carnet.json()["qr"]["token"]  # issued on this first read
    changes, _cursor, _pages = sync_all(client, auth, limit=200)
    assert {c["id"] for c in changes} == my_records
    assert_error(client.get(f"/api/v1/patients/{other}/carnet", headers=auth), 404)
    assert_error(client.get(f"/api/v1/patients/{other}/appointments", headers=auth), 404)
    assert client.get("/api/v1/blood-bank/bookings", params={"patient_id": other}, headers=auth).status_code == 404
    wrong = client.post("/api/v1/auth/login", json={"username": guardian_username(1), "password": "otra-cosa"})
    assert_error(wrong, 401)


def test_generate_refuses_a_used_database_and_bad_arguments(make_ctx: Callable[[], Context],
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    ctx = make_ctx()
    generate(ctx, patients=5, seed=1, today=DAY)
    before = _dump(ctx)
    with pytest.raises(DatabaseNotEmpty):
        generate(ctx, patients=5, seed=2, today=DAY)
    assert _dump(ctx) == before
    with pytest.raises(ValueError):
        generate(ctx, patients=0, seed=1)
    assert cli_main(["generate"]) == 2
    assert cli_main(["generate", "--patients", "3", "--today", "2026-13-01"]) == 2
    assert cli_main(["--workers", "0"]) == 2
    err = capsys.readouterr().err
    assert "--patients" in err and "YYYY-MM-DD" in err and "--workers" in err


@pytest.mark.postgres
def test_pool_settings_reach_the_postgresql_engine(tmp_path: Path) -> None:
    from carnet_server.db import make_engine

    if not os.environ.get(PG_ENV):
        pytest.skip(f"postgres: set {PG_ENV} (the pool settings apply to PostgreSQL only)")
    settings = Settings(data_dir=tmp_path, database_url=os.environ[PG_ENV], db_pool_size=3, db_max_overflow=2,
                        db_pool_timeout_seconds=7)
    engine = make_engine(settings)
    try:
        pool = engine.pool
        assert (pool.size(), pool._max_overflow, pool.timeout()) == (3, 2, 7)  # type: ignore[attr-defined]
    finally:
        engine.dispose()
    with pytest.raises(ValueError):
        Settings(data_dir=tmp_path, db_pool_size=0)
