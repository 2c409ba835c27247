"""GET /api/v1/sync: complete, ordered pages; 304; tamper-proof cursors; resets; tombstones."""

from __future__ import annotations

import base64
import subprocess
import sys
import textwrap
from collections.abc import Callable
from datetime import timedelta

import pytest
from fastapi import FastAPI
from sqlalchemy import func, insert, select
from starlette.testclient import TestClient

from carnet_contract.models import SyncPage, SyncType
from carnet_server.agenda.tables import Appointment
from carnet_server.auth.tables import User
from carnet_server.blood_bank.tables import Booking
from carnet_server.context import Context
from carnet_server.db import new_id, utcnow
from carnet_server.incidents.tables import Incident
from carnet_server.patients.tables import GuardianPatient
from carnet_server.sync import service as sync
from carnet_server.sync.tables import SyncState
from tests.server.conftest import assert_error, sync_all

Auth = Callable[[str], dict[str, str]]


def add_appointments(ctx: Context, patient_id: str, count: int, *, title: str = "Cita masiva") -> list[str]:
    """Bulk rows plus their changes through ``sync.touch_many`` (one counter update)."""
    now = utcnow()
    rows = [{"id": new_id(), "patient_id": patient_id, "kind": "consulta", "title": f"{title} {i}",
             "starts_at": now + timedelta(hours=i), "ends_at": now + timedelta(hours=i, minutes=30),
             "place": "", "status": "programada", "notes": "", "source": "hospital", "revision": 0,
             "created_at": now, "updated_at": now} for i in range(count)]
    with ctx.sessions() as session:
        session.execute(insert(Appointment), rows)
        sync.touch_many(session, type=SyncType.APPOINTMENT, changes=[(r["id"], patient_id, False) for r in rows])
        session.commit()
    return [r["id"] for r in rows]


def visible_ids(ctx: Context, username: str) -> set[str]:
    with ctx.sessions() as session:
        user_id = session.scalar(select(User.id).where(User.username == username))
        linked = select(GuardianPatient.patient_id).where(GuardianPatient.user_id == user_id)
        appointments = set(session.scalars(select(Appointment.id).where(Appointment.patient_id.in_(linked))))
        bookings = set(session.scalars(select(Booking.id).where(Booking.patient_id.in_(linked))))
        return appointments | bookings | set(session.scalars(select(Incident.id).where(Incident.patient_id.in_(linked))))


def test_ten_thousand_changes_page_without_gaps_or_repeats(client: TestClient, ctx: Context, auth: Auth,
                                                           patient_ids: dict[str, str]) -> None:
    mine = add_appointments(ctx, patient_ids["Mateo Hernández"], 10_000)
    add_appointments(ctx, patient_ids["Camila Torres"], 300, title="Otra familia")  # interleaved seqs
    add_appointments(ctx, patient_ids["Valentina Hernández"], 7)
    headers = auth("madre.demo")
    changes, _cursor, pages = sync_all(client, headers, limit=997)
    ids = [str(c["id"]) for c in changes]
    assert len(ids) == len(set(ids)), "a change came twice"
    assert set(ids) == visible_ids(ctx, "madre.demo")
    assert set(mine) <= set(ids)
    assert all(c["op"] == "upsert" and c["type"] in ("appointment", "blood_bank_booking", "incident") for c in changes)
    assert all(isinstance(c["data"], dict) and c["data"]["id"] == c["id"] for c in changes)
    assert not any("Otra familia" in str(c["data"]) for c in changes)
    assert all(p.has_more for p in pages[:-1]) and not pages[-1].has_more
    assert all(len(p.changes) == 997 for p in pages[:-1])


def test_304_when_nothing_changed_for_this_user(client: TestClient, ctx: Context, auth: Auth,
                                                patient_ids: dict[str, str]) -> None:
    headers = auth("madre.demo")
    _changes, cursor, _pages = sync_all(client, headers)
    first = client.get("/api/v1/sync", params={"cursor": cursor}, headers=headers)
    assert first.status_code == 200 and first.json()["changes"] == []
    etag = first.headers["ETag"]
    assert etag.startswith('"') and not etag.startswith("W/")
    again = client.get("/api/v1/sync", params={"cursor": cursor}, headers={**headers, "If-None-Match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["ETag"] == etag
    # Another family's changes do not show and do not break the 304.
    add_appointments(ctx, patient_ids["Camila Torres"], 5)
    add_appointments(ctx, patient_ids["Santiago Ramírez"], 5)
    still = client.get("/api/v1/sync", params={"cursor": cursor}, headers={**headers, "If-None-Match": etag})
    assert still.status_code == 304
    # A change to one of mine: 200 with it, and a new ETag.
    (new_id_,) = add_appointments(ctx, patient_ids["Valentina Hernández"], 1)
    changed = client.get("/api/v1/sync", params={"cursor": cursor}, headers={**headers, "If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    assert [c["id"] for c in changed.json()["changes"]] == [new_id_]


def test_other_families_changes_never_appear(client: TestClient, ctx: Context, auth: Auth,
                                             patient_ids: dict[str, str]) -> None:
    theirs = set(add_appointments(ctx, patient_ids["Santiago Ramírez"], 20))
    changes, _c, _p = sync_all(client, auth("madre.demo"))
    assert not theirs & {str(c["id"]) for c in changes}
    padre, _c, _p = sync_all(client, auth("padre.demo"))
    assert theirs <= {str(c["id"]) for c in padre}
    assert {str(c["id"]) for c in padre} == visible_ids(ctx, "padre.demo")


def _tamper(cursor: str) -> str:
    prefix, payload, mac = cursor.split(".")
    raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode()
    user, _seq, links = raw.split(":")
    forged = base64.urlsafe_b64encode(f"{user}:0:{links}".encode()).rstrip(b"=").decode()
    return f"{prefix}.{forged}.{mac}"


def test_bad_cursors_are_422(client: TestClient, auth: Auth) -> None:
    madre, padre = auth("madre.demo"), auth("padre.demo")
    _changes, cursor, _pages = sync_all(client, madre)
    _changes, padre_cursor, _pages = sync_all(client, padre)
    bad = [_tamper(cursor), padre_cursor, "garbage", "c1.!!!.???", "c1..", "c1.YQ.YQ", cursor + "x",
           cursor[:-2], "c2" + cursor[2:], "\x00"]
    for value in bad:
        error = assert_error(client.get("/api/v1/sync", params={"cursor": value}, headers=madre), 422, "invalid_cursor")
        assert "punto de partida" in error["message"]
    assert_error(client.get("/api/v1/sync", params={"cursor": "x" * 300}, headers=madre), 422)
    english = client.get("/api/v1/sync", params={"cursor": "garbage"}, headers={**madre, "Accept-Language": "en"})
    assert assert_error(english, 422, "invalid_cursor")["message"].startswith("The sync cursor")


def test_reset_when_a_child_is_linked_later(client: TestClient, ctx: Context, auth: Auth,
                                            patient_ids: dict[str, str]) -> None:
    headers = auth("madre.demo")
    _changes, cursor, _pages = sync_all(client, headers)
    with ctx.sessions() as session:
        user_id = session.scalar(select(User.id).where(User.username == "madre.demo"))
        session.add(GuardianPatient(user_id=user_id, patient_id=patient_ids["Camila Torres"]))
        session.commit()
    changes, _new_cursor, pages = sync_all(client, headers, cursor=cursor)
    assert pages[0].reset is True
    assert {str(c["id"]) for c in changes} == visible_ids(ctx, "madre.demo")
    assert any(c["data"]["patient_id"] == patient_ids["Camila Torres"] for c in changes)  # type: ignore[index]
    assert not any(p.reset for p in pages[1:])


def test_tombstone_after_delete(client: TestClient, ctx: Context, auth: Auth, patient_ids: dict[str, str]) -> None:
    headers = auth("madre.demo")
    _changes, cursor, _pages = sync_all(client, headers)
    created = client.post(f"/api/v1/patients/{patient_ids['Mateo Hernández']}/appointments", headers=headers, json={
        "kind": "otro", "title": "Recoger resultados", "starts_at": "2027-01-10T10:00:00-06:00",
        "ends_at": "2027-01-10T10:30:00-06:00"})
    assert created.status_code == 201, created.text
    appointment_id = created.json()["id"]
    assert client.delete(f"/api/v1/appointments/{appointment_id}", headers=headers).status_code == 204
    changes, _cursor, _pages = sync_all(client, headers, cursor=cursor)
    assert changes == [{"type": "appointment", "id": appointment_id, "op": "delete", "data": None}]
    with ctx.sessions() as session:
        state = session.get(SyncState, ("appointment", appointment_id))
        assert state is not None and state.deleted is True


def test_staff_update_reaches_the_family(client: TestClient, auth: Auth, patient_ids: dict[str, str]) -> None:
    family = auth("madre.demo")
    _changes, cursor, _pages = sync_all(client, family)
    listed = client.get(f"/api/v1/patients/{patient_ids['Mateo Hernández']}/appointments", headers=family).json()
    hospital = next(a for a in listed if a["source"] == "hospital" and a["status"] == "programada")
    patched = client.patch(f"/api/v1/appointments/{hospital['id']}", headers=auth("casos.demo"),
                           json={"status": "confirmada"})
    assert patched.status_code == 200, patched.text
    changes, _cursor, _pages = sync_all(client, family, cursor=cursor)
    assert [c["id"] for c in changes] == [hospital["id"]]
    assert changes[0]["data"]["status"] == "confirmada"  # type: ignore[index]
    assert changes[0]["data"]["revision"] == hospital["revision"] + 1  # type: ignore[index]


@pytest.mark.parametrize("limit", ["0", "1001", "-1", "abc", ""])
def test_limit_bounds(client: TestClient, auth: Auth, limit: str) -> None:
    assert_error(client.get("/api/v1/sync", params={"limit": limit}, headers=auth("madre.demo")), 422)


def test_limit_one_and_thousand(client: TestClient, auth: Auth) -> None:
    headers = auth("madre.demo")
    one = client.get("/api/v1/sync", params={"limit": 1}, headers=headers).json()
    assert len(one["changes"]) == 1 and one["has_more"] is True
    thousand = client.get("/api/v1/sync", params={"limit": 1000}, headers=headers).json()
    assert 1 < len(thousand["changes"]) < 1000 and thousand["has_more"] is False
    default = client.get("/api/v1/sync", headers=headers).json()
    assert len(default["changes"]) == len(thousand["changes"])  # under the default 200


@pytest.mark.parametrize("username", ["farmacia.demo", "banco.demo", "casos.demo", "admin.demo"])
def test_staff_get_403(client: TestClient, auth: Auth, username: str) -> None:
    assert_error(client.get("/api/v1/sync", headers=auth(username)), 403, "forbidden")


def test_needs_login(client: TestClient) -> None:
    assert_error(client.get("/api/v1/sync"), 401)


def test_every_demo_appointment_has_one_change(ctx: Context) -> None:
    with ctx.sessions() as session:
        appointments = session.scalar(select(func.count()).select_from(Appointment))
        states = session.scalar(select(func.count()).select_from(SyncState).where(
            SyncState.deleted.is_(False), SyncState.type == "appointment"))
        distinct = session.scalar(select(func.count(func.distinct(SyncState.seq))))
        bookings = session.scalar(select(func.count()).select_from(Booking))
        incidents = session.scalar(select(func.count()).select_from(Incident))
        assert appointments and appointments == states and distinct == appointments + bookings + incidents


# ---- the registry of loaders -------------------------------------------------------------------


def test_every_record_type_of_the_contract_has_one_loader(app: FastAPI) -> None:
    registry = app.state.sync_registry
    assert isinstance(registry, sync.SyncRegistry)
    assert registry.types() == {t.value for t in SyncType}
    registry.check_complete()


def test_a_type_gets_one_loader_and_must_be_known() -> None:
    registry = sync.SyncRegistry()
    with pytest.raises(RuntimeError, match="appointment"):
        registry.check_complete()
    registry.register("appointment", lambda session, ids: {})
    with pytest.raises(ValueError, match="already has a loader"):
        registry.register(SyncType.APPOINTMENT, lambda session, ids: {})
    with pytest.raises(ValueError):
        registry.register("prescription", lambda session, ids: {})
    assert registry.types() == {"appointment"}


def test_importing_a_domain_registers_nothing() -> None:
    """Registration is create_app's: a fresh interpreter imports every domain (and the app module), and no
    loader is registered anywhere."""
    code = textwrap.dedent("""
        from carnet_server.sync.service import SyncRegistry
        calls = []
        SyncRegistry.register = lambda self, *args: calls.append(args)
        import carnet_server.agenda.service, carnet_server.blood_bank.bookings, carnet_server.incidents.service
        import carnet_server.patients.service, carnet_server.app
        assert calls == [], calls
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
