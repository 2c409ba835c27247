"""Guardians: activation codes (one use, 72 h, revocable, re-issuable, throttled), activating an account,
linking one more child, who has access, and removing a guardian (access ends at once, sync included)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select, update
from starlette.testclient import TestClient

from carnet_server.cli import server_options
from carnet_server.context import Context
from carnet_server.db import utcnow
from carnet_server.enrolment.codes import ALPHABET
from carnet_server.enrolment.tables import GuardianInvitation
from carnet_server.patients.tables import QrToken
from carnet_server.settings import Settings
from tests.server.blood_bank_support import live_server
from tests.server.conftest import assert_error, bearer, login, sync_all
from tests.server.enrolment_support import counts

CAMILA = "Camila Torres"
ANA = {"full_name": "Ana Méndez Ruiz", "relationship": "madre", "phone": "+52 55 1234 5678"}


def _invite(client: TestClient, auth: Any, patient: str, body: dict[str, str] = ANA) -> dict[str, Any]:
    made = client.post(f"/api/v1/patients/{patient}/guardian-invitations", json=body, headers=auth("oncologia.demo"))
    assert made.status_code == 201, made.text
    answer: dict[str, Any] = made.json()
    return answer


def _activate(client: TestClient, code: str, username: str = "ana.mendez", password: str = "una-clave-larga-1"
              ) -> Any:
    return client.post("/api/v1/auth/activate", json={"code": code, "username": username, "password": password})


def _accept(client: TestClient, headers: dict[str, str]) -> None:
    version = client.get("/api/v1/privacy/notice").json()["version"]
    assert client.post("/api/v1/privacy/acceptance", json={"version": version}, headers=headers).status_code in (
        200, 201, 204)


def test_a_family_activates_its_account_with_the_code(client: TestClient, ctx: Context, auth: Any,
                                                      patient_ids: dict[str, str]) -> None:
    camila = patient_ids[CAMILA]
    invitation = _invite(client, auth, camila)
    code = invitation["code"]
    assert len(code) == 11 and code[5] == "-" and set(code.replace("-", "")) <= set(ALPHABET)
    listed = client.get(f"/api/v1/patients/{camila}/guardian-invitations", headers=auth("oncologia.demo")).json()
    assert [(i["id"], i["status"], i["phone"]) for i in listed][0] == (invitation["id"], "pendiente", "5512345678")
    assert len(listed) == 2 and all("code" not in i for i in listed)  # and the demo's

    answer = _activate(client, f"  {code.lower().replace('-', ' ')} ")  # typed loosely
    assert answer.status_code == 201, answer.text
    assert answer.json()["user"]["role"] == "guardian" and answer.json()["user"]["display_name"] == "Ana Méndez Ruiz"
    headers = bearer(answer.json()["access_token"])
    me = client.get("/api/v1/me", headers=headers).json()
    assert [p["id"] for p in me["patients"]] == [camila] and me["privacy"]["accepted_version"] is None
    assert_error(client.get(f"/api/v1/patients/{camila}/carnet", headers=headers), 403, "privacy_notice_required")
    _accept(client, headers)
    assert client.get(f"/api/v1/patients/{camila}/carnet", headers=headers).status_code == 200
    assert login(client, "ana.mendez", "una-clave-larga-1")["user"]["id"] == me["id"]  # type: ignore[index]

    # each guardian sees who else has access; staff see the phone too
    seen = client.get(f"/api/v1/patients/{camila}/guardians", headers=headers).json()
    assert {g["display_name"] for g in seen} == {"Luis Torres", "Ana Méndez Ruiz"}
    assert all(g["phone"] is None for g in seen) and [g["is_me"] for g in seen].count(True) == 1
    staff = client.get(f"/api/v1/patients/{camila}/guardians", headers=auth("oncologia.demo")).json()
    assert {g["phone"] for g in staff} == {None, "5512345678"}
    assert next(g for g in staff if g["phone"])["relationship"] == "madre"
    assert_error(client.get(f"/api/v1/patients/{camila}/guardians", headers=auth("farmacia.demo")), 403)
    statuses = client.get(f"/api/v1/patients/{camila}/guardian-invitations", headers=auth("oncologia.demo")).json()
    assert [i["status"] for i in statuses] == ["usada", "pendiente"]  # the demo's code is still pending


def test_used_unknown_expired_and_revoked_codes_get_the_same_answer(client: TestClient, ctx: Context, auth: Any,
                                                                    patient_ids: dict[str, str]) -> None:
    camila = patient_ids[CAMILA]
    used = _invite(client, auth, camila)["code"]
    assert _activate(client, used).status_code == 201
    expired = _invite(client, auth, camila)
    with ctx.sessions() as session:
        session.execute(update(GuardianInvitation).where(GuardianInvitation.id == expired["id"])
                        .values(expires_at=utcnow() - timedelta(minutes=1)))
        session.commit()
    revoked = _invite(client, auth, camila)
    assert client.delete(f"/api/v1/patients/{camila}/guardian-invitations/{revoked['id']}",
                         headers=auth("oncologia.demo")).status_code == 204
    before = counts(ctx)
    answers = [_activate(client, code, username=f"otra.persona{i}") for i, code in
               enumerate((used, expired["code"], revoked["code"], "ZZZZZ-ZZZZZ", "no es un código", "0O1IL-22222"))]
    bodies = {a.text for a in answers}
    assert len(bodies) == 1, bodies
    assert_error(answers[0], 422, "activation_code_invalid")
    assert counts(ctx) == before
    statuses = {i["id"]: i["status"] for i in client.get(f"/api/v1/patients/{camila}/guardian-invitations",
                                                        headers=auth("oncologia.demo")).json()}
    assert statuses[expired["id"]] == "vencida" and statuses[revoked["id"]] == "revocada"
    # a revoked or used code cannot be revoked again; a new one can be issued in its place
    assert_error(client.delete(f"/api/v1/patients/{camila}/guardian-invitations/{revoked['id']}",
                               headers=auth("oncologia.demo")), 409, "invitation_not_pending")
    again = client.post(f"/api/v1/patients/{camila}/guardian-invitations/{revoked['id']}/reissue",
                        headers=auth("oncologia.demo"))
    assert again.status_code == 201 and again.json()["code"] != revoked["code"]
    assert _activate(client, again.json()["code"], username="la.misma.ana").status_code == 201


def test_guessing_codes_is_throttled_by_address(client: TestClient, ctx: Context, auth: Any,
                                                patient_ids: dict[str, str]) -> None:
    good = _invite(client, auth, patient_ids[CAMILA])["code"]
    limit = ctx.settings.activation_max_per_address
    for i in range(limit):
        assert _activate(client, f"ABCDE-{ALPHABET[i]}2345").status_code == 422
    throttled = _activate(client, good)  # even the right code waits now
    assert_error(throttled, 429, "too_many_attempts")
    assert int(throttled.headers["Retry-After"]) > 0
    # the code was not spent: after the window it still works
    with ctx.sessions() as session:
        assert session.scalars(select(GuardianInvitation.used_at)).all() == [None, None]  # the demo's too


def test_forwarded_for_cannot_reset_the_code_throttle(app: FastAPI, settings: Settings, ctx: Context, auth: Any,
                                                      patient_ids: dict[str, str]) -> None:
    """Under uvicorn with cli.py's options, a client on this machine that sends a new X-Forwarded-For with each
    guess is still one address: the right code waits like after any other guesses (no proxy is trusted)."""
    good = _invite(TestClient(app), auth, patient_ids[CAMILA])["code"]
    with live_server(app, **server_options(settings)) as base, httpx.Client(base_url=base, timeout=30) as client:
        for i in range(ctx.settings.activation_max_per_address):
            guess = client.post("/api/v1/auth/activate", headers={"X-Forwarded-For": f"198.51.100.{i + 1}"},
                                json={"code": f"ABCDE-{ALPHABET[i]}2345", "username": "ana.mendez",
                                      "password": "una-clave-larga-1"})
            assert_error(guess, 422, "activation_code_invalid")
        throttled = client.post("/api/v1/auth/activate", headers={"X-Forwarded-For": "192.0.2.99"},
                                json={"code": good, "username": "ana.mendez", "password": "una-clave-larga-1"})
    assert_error(throttled, 429, "too_many_attempts")
    with ctx.sessions() as session:
        assert session.scalars(select(GuardianInvitation.used_at)).all() == [None, None]


def test_refusals_after_a_good_code_do_not_spend_it(client: TestClient, ctx: Context, auth: Any,
                                                    patient_ids: dict[str, str]) -> None:
    code = _invite(client, auth, patient_ids[CAMILA])["code"]
    before = counts(ctx)
    assert_error(_activate(client, code, username="madre.demo"), 409, "username_taken")
    assert_error(_activate(client, code, password="corta"), 422, "password_too_short")
    assert_error(_activate(client, code, username="a b c"), 422, "invalid_username")
    assert_error(_activate(client, code, username="ana.mendez", password="ana.mendez"), 422, "password_is_username")
    assert counts(ctx) == before
    assert _activate(client, code).status_code == 201


def test_bad_invitations_are_refused(client: TestClient, ctx: Context, auth: Any,
                                     patient_ids: dict[str, str]) -> None:
    camila = patient_ids[CAMILA]
    url = f"/api/v1/patients/{camila}/guardian-invitations"
    before = counts(ctx)
    assert_error(client.post(url, json={**ANA, "phone": "12345"}, headers=auth("oncologia.demo")), 422,
                 "invalid_phone")
    assert_error(client.post(url, json={**ANA, "full_name": "4n4"}, headers=auth("oncologia.demo")), 422,
                 "invalid_guardian_name")
    assert_error(client.post(url, json=ANA, headers=auth("casos.demo")), 403, "forbidden")
    assert_error(client.post(url, json=ANA, headers=auth("madre.demo")), 403)
    santiago = patient_ids["Santiago Ramírez"]  # León: not oncologia.demo's unit
    assert_error(client.post(f"/api/v1/patients/{santiago}/guardian-invitations", json=ANA,
                             headers=auth("oncologia.demo")), 404, "patient_not_found")
    assert counts(ctx) == before


def test_a_signed_in_guardian_links_another_child(client: TestClient, ctx: Context, auth: Any,
                                                  patient_ids: dict[str, str]) -> None:
    camila = patient_ids[CAMILA]
    code = _invite(client, auth, camila)["code"]
    madre = auth("madre.demo")
    linked = client.post("/api/v1/me/activation", json={"code": code}, headers=madre)
    assert linked.status_code == 200, linked.text
    assert linked.json() == {"id": camila, "display_name": CAMILA}
    assert camila in [p["id"] for p in client.get("/api/v1/me", headers=madre).json()["patients"]]
    # already linked: refused, and the code stays good for someone else
    second = _invite(client, auth, camila)["code"]
    assert_error(client.post("/api/v1/me/activation", json={"code": second}, headers=madre), 409, "already_linked")
    assert_error(client.post("/api/v1/me/activation", json={"code": second}, headers=auth("oncologia.demo")), 403)
    assert client.post("/api/v1/me/activation", json={"code": second}, headers=auth("padre.demo")).status_code == 200
    assert_error(client.post("/api/v1/me/activation", json={"code": second}, headers=madre), 422,
                 "activation_code_invalid")


def test_removing_a_guardian_ends_access_at_once(client: TestClient, ctx: Context, auth: Any,
                                                 patient_ids: dict[str, str]) -> None:
    camila = patient_ids[CAMILA]
    luis = login(client, "luis.torres")
    headers = bearer(luis["access_token"])
    assert client.get(f"/api/v1/patients/{camila}/carnet", headers=headers).status_code == 200
    changes, cursor, _pages = sync_all(client, headers)
    assert changes
    luis_id = luis["user"]["id"]  # type: ignore[index]

    assert_error(client.delete(f"/api/v1/patients/{camila}/guardians/{luis_id}", headers=auth("casos.demo")), 403)
    removed = client.delete(f"/api/v1/patients/{camila}/guardians/{luis_id}", headers=auth("oncologia.demo"))
    assert removed.status_code == 204, removed.text
    # the same token, at once: no carnet, no child in "me", a sync that starts over without the child
    assert_error(client.get(f"/api/v1/patients/{camila}/carnet", headers=headers), 404, "patient_not_found")
    assert client.get("/api/v1/me", headers=headers).json()["patients"] == []
    page = client.get("/api/v1/sync", params={"cursor": cursor}, headers=headers).json()
    assert page["reset"] is True and page["changes"] == []
    with ctx.sessions() as session:
        assert all(r is not None for r in session.scalars(select(QrToken.revoked_at).where(
            QrToken.patient_id == camila)))
    assert_error(client.delete(f"/api/v1/patients/{camila}/guardians/{luis_id}", headers=auth("oncologia.demo")),
                 404, "guardian_not_found")


def test_the_demo_prints_a_code_that_works(client: TestClient, ctx: Context, patient_ids: dict[str, str]) -> None:
    from carnet_server.cli import _print_banner
    from carnet_server.demo import DEMO_ACTIVATION

    answer = _activate(client, DEMO_ACTIVATION.code, username="ana.demo")
    assert answer.status_code == 201, answer.text
    me = client.get("/api/v1/me", headers=bearer(answer.json()["access_token"])).json()
    assert me["display_name"] == DEMO_ACTIVATION.full_name
    assert [p["id"] for p in me["patients"]] == [patient_ids[DEMO_ACTIVATION.child]]
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        _print_banner(ctx.settings, demo=True)
    assert DEMO_ACTIVATION.code in out.getvalue() and "oncologia.demo" in out.getvalue()
