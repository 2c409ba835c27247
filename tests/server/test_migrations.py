"""The migrations build exactly the models' schema, and downgrade and upgrade cleanly (each step and all the way)."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, select, text

from carnet_server.context import Context
from carnet_server.db import alembic_config, run_migrations, utcnow
from carnet_server.tables import metadata

NEW_TABLES = {"appointments", "idempotency_keys", "sync_counter", "sync_state"}


def _diff(ctx: Context) -> list[object]:
    with ctx.engine.connect() as connection:
        return list(compare_metadata(MigrationContext.configure(connection, opts={"compare_type": True}), metadata))


def _run(ctx: Context, direction: str, target: str) -> None:
    config = alembic_config()
    with ctx.engine.begin() as connection:
        config.attributes["connection"] = connection
        getattr(command, direction)(config, target)


def test_models_match_migrations(ctx: Context) -> None:
    assert _diff(ctx) == []


def test_0002_downgrades_and_upgrades(ctx: Context) -> None:
    with ctx.sessions() as session:  # the demo data lives in the new tables; start from an empty agenda
        for table in ("appointments", "sync_state", "idempotency_keys"):
            session.execute(metadata.tables[table].delete())
        session.commit()
    _run(ctx, "downgrade", "0001")
    assert not NEW_TABLES & set(inspect(ctx.engine).get_table_names())
    _run(ctx, "upgrade", "head")
    assert NEW_TABLES <= set(inspect(ctx.engine).get_table_names())
    assert _diff(ctx) == []
    with ctx.engine.connect() as connection:
        assert connection.execute(metadata.tables["sync_counter"].select()).all() == [(1, 0)]


INCIDENT_TABLES = {"incidents", "incident_replies", "incident_photos", "incident_folio_counters"}


def test_0004_downgrades_and_upgrades_keeping_the_patients(ctx: Context) -> None:
    def count(table: str) -> int:
        with ctx.engine.connect() as connection:
            return int(connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())

    patients, cycles, links = count("patients"), count("cycles"), count("guardian_patients")
    assert count("incidents") > 0  # the demo's
    with ctx.sessions() as session:  # the demo's incident sync rows point at records about to disappear
        session.execute(
            metadata.tables["sync_state"].delete().where(metadata.tables["sync_state"].c.type == "incident")
        )
        session.commit()
    _run(ctx, "downgrade", "0003")
    assert not INCIDENT_TABLES & set(inspect(ctx.engine).get_table_names())
    assert "created_at" not in {c["name"] for c in inspect(ctx.engine).get_columns("patients")}
    assert (count("patients"), count("cycles"), count("guardian_patients")) == (patients, cycles, links)
    _run(ctx, "upgrade", "head")
    assert INCIDENT_TABLES <= set(inspect(ctx.engine).get_table_names())
    assert _diff(ctx) == []
    assert count("patients") == patients and count("incidents") == 0


PHARMACY_TABLES = {"dispensations", "mixing_orders", "mixing_callback_events"}


def test_0005_downgrades_and_upgrades_keeping_the_cycles(ctx: Context) -> None:
    with ctx.engine.connect() as connection:
        cycles = connection.execute(text("SELECT count(*) FROM cycles")).scalar_one()
    _run(ctx, "downgrade", "0004")
    assert not PHARMACY_TABLES & set(inspect(ctx.engine).get_table_names())
    assert "confirmed_at" not in {c["name"] for c in inspect(ctx.engine).get_columns("cycles")}
    _run(ctx, "upgrade", "head")
    assert PHARMACY_TABLES <= set(inspect(ctx.engine).get_table_names())
    assert _diff(ctx) == []
    with ctx.engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM cycles")).scalar_one() == cycles


def test_every_migration_downgrades_to_empty_and_upgrades_again(ctx: Context) -> None:
    _run(ctx, "downgrade", "base")
    assert set(inspect(ctx.engine).get_table_names()) <= {"alembic_version"}
    _run(ctx, "upgrade", "head")
    assert _diff(ctx) == []


def test_a_start_brings_a_database_a_migration_behind_to_the_newest_and_one_there_stays(ctx: Context) -> None:
    """What the server does at each start (``build_context``): a database at the newest revision is left as it is
    after one read of its version; one behind is upgraded."""
    with ctx.engine.connect() as connection:
        newest = MigrationContext.configure(connection).get_current_heads()
    _run(ctx, "downgrade", "-1")
    with ctx.engine.connect() as connection:
        assert MigrationContext.configure(connection).get_current_heads() != newest
    run_migrations(ctx.engine)
    with ctx.engine.connect() as connection:
        assert MigrationContext.configure(connection).get_current_heads() == newest
    assert _diff(ctx) == []
    run_migrations(ctx.engine)  # at the newest: nothing to do
    assert _diff(ctx) == []


def test_0009_downgrades_doses_to_text_and_upgrades_them_to_structured_doses(ctx: Context) -> None:
    def drugs() -> dict[str, dict[str, object]]:
        with ctx.engine.connect() as connection:
            rows = connection.execute(text("SELECT * FROM cycle_drugs")).mappings().all()
        return {str(row["name"]): dict(row) for row in rows}

    def rows() -> tuple[int, int]:
        with ctx.engine.connect() as connection:
            cycles = connection.execute(text("SELECT count(*) FROM cycles")).scalar_one()
            return int(cycles), int(connection.execute(text("SELECT count(*) FROM cycle_drugs")).scalar_one())

    before = rows()
    _run(ctx, "downgrade", "0008")
    assert not {"regimens", "body_measurements"} & set(inspect(ctx.engine).get_table_names())
    assert "version" not in {c["name"] for c in inspect(ctx.engine).get_columns("cycles")}
    legacy = drugs()
    assert "amount" not in legacy["Vincristina"] and "basis" not in legacy["Vincristina"]
    assert (legacy["Metotrexato intratecal"]["dose"], legacy["Metotrexato intratecal"]["unit"]) == ("12", "mg")
    assert (legacy["Vincristina"]["dose"], legacy["Vincristina"]["unit"]) in {("1.5", "mg/m²"), ("0.05", "mg/kg")}
    assert (legacy["Etopósido"]["dose"], legacy["Etopósido"]["unit"]) == ("120", "mg/m²/día × 3 días")
    assert (legacy["Mercaptopurina"]["dose"], legacy["Mercaptopurina"]["unit"]) == ("50", "mg/m²/día")
    _run(ctx, "upgrade", "head")
    assert _diff(ctx) == []
    structured = drugs()
    assert len(structured) == len(legacy) and rows() == before
    intrathecal = structured["Metotrexato intratecal"]
    assert (intrathecal["basis"], intrathecal["amount"], intrathecal["computed"]) == ("fixed", 12, 12)
    assert (intrathecal["dose_unit"], intrathecal["per_basis"], intrathecal["days"]) == ("mg", 12, "1")
    etoposide = structured["Etopósido"]
    assert (etoposide["basis"], etoposide["per_basis"], etoposide["dose_unit"]) == ("m2", 120, "mg")
    assert etoposide["days"] == "1,2,3" and etoposide["amount"] is None and etoposide["computed"] is None


def test_0013_adds_and_drops_the_link_code_lockout_columns(ctx: Context) -> None:
    columns = ("link_failures", "link_failures_since", "link_locked_until")
    _run(ctx, "downgrade", "0012")
    names = {c["name"] for c in inspect(ctx.engine).get_columns("whatsapp_conversations")}
    assert not set(columns) & names
    _run(ctx, "upgrade", "head")
    names = {c["name"] for c in inspect(ctx.engine).get_columns("whatsapp_conversations")}
    assert set(columns) <= names
    assert _diff(ctx) == []


def test_0014_splits_a_stored_appointment_reminder_into_three_and_back(ctx: Context) -> None:
    table = metadata.tables["reminder_preferences"]
    with ctx.engine.connect() as connection:
        users = list(connection.execute(text("SELECT id FROM users WHERE role = 'guardian' ORDER BY id")).scalars())
    assert len(users) >= 3
    _run(ctx, "downgrade", "0013")
    stored = {
        users[0]: ["mezcla_lista", "cita_manana", "donacion_manana"],
        users[1]: ["reporte_respondido"],
        users[2]: [],
    }
    with ctx.engine.begin() as connection:
        connection.execute(table.delete())
        connection.execute(
            table.insert(), [{"user_id": u, "kinds": k, "updated_at": utcnow()} for u, k in stored.items()]
        )

    def kinds() -> dict[str, list[str]]:
        with ctx.engine.connect() as connection:
            return {u: list(k) for u, k in connection.execute(select(table.c.user_id, table.c.kinds))}

    _run(ctx, "upgrade", "head")
    assert kinds() == {
        users[0]: ["mezcla_lista", "quimioterapia_manana", "consulta_manana", "laboratorio_manana", "donacion_manana"],
        users[1]: ["reporte_respondido"],
        users[2]: [],
    }
    assert _diff(ctx) == []
    _run(ctx, "downgrade", "0013")
    assert kinds() == stored
    _run(ctx, "upgrade", "head")
