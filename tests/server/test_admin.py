"""Administration: units and staff accounts, temporary passwords that must be changed, every change audited."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from starlette.testclient import TestClient

from carnet_server.audit import AuditEntry
from carnet_server.auth.tables import User
from carnet_server.context import Context
from carnet_server.demo import DEMO_PASSWORD
from carnet_server.enrolment.codes import ALPHABET
from tests.server.conftest import assert_error, bearer, login

UNITS, USERS = "/api/v1/admin/units", "/api/v1/admin/users"


def _audit(ctx: Context, action: str) -> list[AuditEntry]:
    with ctx.sessions() as session:
        return list(session.scalars(select(AuditEntry).where(AuditEntry.action == action)))


def _users(ctx: Context) -> int:
    with ctx.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(User)) or 0)


def _sxxi(client: TestClient, headers: dict[str, str]) -> str:
    units = client.get("/api/v1/units", headers=headers).json()
    return next(u["id"] for u in units if "Siglo XXI" in u["name"])


def test_admin_creates_lists_and_changes_units(client: TestClient, ctx: Context, auth: Any) -> None:
    admin = auth("admin.demo")
    made = client.post(UNITS, headers=admin, json={"name": "HGZ No. 2 Hermosillo", "level": "segundo_nivel",
                                                   "state": "Sonora"})
    assert made.status_code == 201, made.text
    unit = made.json()
    assert unit["level"] == "segundo_nivel" and unit["state"] == "Sonora"
    changed = client.patch(f"{UNITS}/{unit['id']}", headers=admin, json={"level": "umae", "name": "UMAE Hermosillo"})
    assert changed.status_code == 200 and changed.json()["level"] == "umae", changed.text
    listed = client.get("/api/v1/units", headers=auth("madre.demo")).json()
    assert any(u["id"] == unit["id"] and u["name"] == "UMAE Hermosillo" for u in listed)
    # bad input side by side: nothing written
    assert_error(client.post(UNITS, headers=admin, json={"name": "X", "level": "tercer_nivel", "state": "Sonora"}),
                 422, "validation_error")
    assert_error(client.patch(f"{UNITS}/nope", headers=admin, json={"name": "Y"}), 404, "unit_not_found")
    assert_error(client.post(UNITS, headers=auth("oncologia.demo"), json={"name": "X", "level": "umae",
                                                                          "state": "Sonora"}), 403, "forbidden")
    assert len(_audit(ctx, "admin.unit.create")) == 1
    assert _audit(ctx, "admin.unit.update")[0].detail == {"fields": ["name", "level"]}


def test_new_staff_account_must_change_its_temporary_password(client: TestClient, ctx: Context, auth: Any) -> None:
    admin = auth("admin.demo")
    sxxi = _sxxi(client, admin)
    made = client.post(USERS, headers=admin, json={"username": "Dra.Ruiz", "display_name": "Dra. Ana Ruiz",
                                                   "role": "oncology", "unit_ids": [sxxi]})
    assert made.status_code == 201, made.text
    account, temporary = made.json()["account"], made.json()["temporary_password"]
    assert account["username"] == "dra.ruiz" and account["role"] == "oncology"
    assert account["password_change_required"] and [u["id"] for u in account["units"]] == [sxxi]
    assert len(temporary) == 14 and set(temporary.replace("-", "")) <= set(ALPHABET)

    answer = login(client, "dra.ruiz", temporary)
    assert answer["password_change_required"] is True
    headers = {**bearer(answer["access_token"]), "Accept-Language": "en"}
    # until changed, only "who am I", log out and the password change answer
    error = assert_error(client.get("/api/v1/units", headers=headers), 403, "password_change_required")
    assert "temporary" in error["message"]
    assert assert_error(client.get("/api/v1/units", headers=bearer(answer["access_token"])), 403)["message"].startswith(
        "Tu contraseña es temporal")
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    assert client.post("/api/v1/auth/password", headers=headers,
                       json={"current_password": temporary, "new_password": "mi-clave-nueva-2026"}).status_code == 204
    again = login(client, "dra.ruiz", "mi-clave-nueva-2026")
    assert again["password_change_required"] is False
    assert client.get("/api/v1/units", headers=bearer(again["access_token"])).status_code == 200
    assert login(client, "madre.demo")["password_change_required"] is False
    assert _audit(ctx, "admin.staff.create")[0].detail == {"role": "oncology", "units": [sxxi]}


def test_bad_staff_accounts_are_refused_and_write_nothing(client: TestClient, ctx: Context, auth: Any) -> None:
    admin = {**auth("admin.demo"), "Accept-Language": "en"}
    sxxi = _sxxi(client, admin)
    before = _users(ctx)
    good = {"username": "enfermeria.sxxi", "display_name": "Enf. Rosa", "role": "oncology", "unit_ids": [sxxi]}
    for body, status, code in (
        ({**good, "username": "madre.demo"}, 409, "username_taken"),
        ({**good, "username": "a b"}, 422, "invalid_username"),
        ({**good, "unit_ids": ["nope"]}, 422, "unknown_unit"),
        ({**good, "unit_ids": []}, 422, "units_required"),
        ({**good, "role": "guardian"}, 422, "validation_error"),  # guardians come in with an activation code
    ):
        assert_error(client.post(USERS, headers=admin, json=body), status, code)
    assert _users(ctx) == before
    assert client.post(USERS, headers=admin, json={**good, "role": "admin", "unit_ids": []}).status_code == 201
    assert _users(ctx) == before + 1
    staff = client.get(USERS, headers=admin).json()
    assert "madre.demo" not in {s["username"] for s in staff} and "oncologia.demo" in {s["username"] for s in staff}


def test_deactivating_and_resetting_end_sessions_at_once(client: TestClient, ctx: Context, auth: Any) -> None:
    admin = auth("admin.demo")
    staff = {s["username"]: s for s in client.get(USERS, headers=admin).json()}
    target = staff["farmacia.demo"]["id"]
    session = login(client, "farmacia.demo")
    headers = bearer(session["access_token"])
    assert client.get("/api/v1/me", headers=headers).status_code == 200

    off = client.patch(f"{USERS}/{target}", headers=admin, json={"active": False})
    assert off.status_code == 200 and off.json()["active"] is False
    assert client.get("/api/v1/me", headers=headers).status_code == 401
    assert client.post("/api/v1/auth/refresh", json={"refresh_token": session["refresh_token"]}).status_code == 401
    assert client.post("/api/v1/auth/login", json={"username": "farmacia.demo", "password": DEMO_PASSWORD}
                       ).status_code == 401
    assert client.patch(f"{USERS}/{target}", headers=admin, json={"active": True}).status_code == 200

    headers = bearer(login(client, "farmacia.demo")["access_token"])
    reset = client.post(f"{USERS}/{target}/password-reset", headers=admin)
    assert reset.status_code == 200, reset.text
    assert client.get("/api/v1/me", headers=headers).status_code == 401  # the old session ended
    assert client.post("/api/v1/auth/login", json={"username": "farmacia.demo", "password": DEMO_PASSWORD}
                       ).status_code == 401
    assert login(client, "farmacia.demo", reset.json()["temporary_password"])["password_change_required"] is True
    # units: changed, and checked
    units = [u["id"] for u in client.get("/api/v1/units", headers=admin).json()]
    moved = client.patch(f"{USERS}/{target}", headers=admin, json={"unit_ids": units[:1], "display_name": "Q.F.B. L."})
    assert moved.status_code == 200 and [u["id"] for u in moved.json()["units"]] == units[:1]
    assert_error(client.patch(f"{USERS}/{target}", headers=admin, json={"unit_ids": ["nope"]}), 422, "unknown_unit")
    # not on guardians, not on oneself
    guardian = login(client, "madre.demo")["user"]["id"]  # type: ignore[index]
    assert_error(client.patch(f"{USERS}/{guardian}", headers=admin, json={"active": False}), 404, "staff_not_found")
    me = client.get("/api/v1/me", headers=admin).json()["id"]
    assert_error(client.patch(f"{USERS}/{me}", headers=admin, json={"active": False}), 409, "own_account")
    actions = [e.action for e in _audit(ctx, "admin.staff.update")] + [e.action for e in
                                                                        _audit(ctx, "admin.staff.password_reset")]
    assert actions.count("admin.staff.update") == 3 and actions.count("admin.staff.password_reset") == 1
