"""The real server's output, after a session touching every domain, holds no token, password or personal data.

(test_cli_and_logs.py checks the QR token and one child's data after a carnet read; this walks the whole
API: every demo login, a failed login, a refresh, carnet, sync, booking with a donor, an incident with its
answer, the pharmacy counter, the verification page, Hora Dorada — an alert with its temperature, the steps, the
emergency card with its clinical facts, its page and online check, the IPS, the weekly figures, the admin's
emergency service —, errors.)
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from carnet_server.demo import CHILDREN, DEMO_PASSWORD, DEMO_USERS
from tests.server.blood_bank_support import eligible_answers
from tests.server.enrolment_support import SOFIA_CURP, SOFIA_NSS, curp, nss
from tests.server.enrolment_support import child as child_body
from tests.support.processes import running_server

FAST = {"CARNET_ARGON2_TIME_COST": "1", "CARNET_ARGON2_MEMORY_COST": "8", "CARNET_ARGON2_PARALLELISM": "1"}
WRONG_PASSWORD = "contraseña-equivocada-7781"
DONOR_NAME, DONOR_PHONE = "Eulalia Privada Quintanilla", "55 8123 4567"
DESCRIPTION = "Descripción privada: el niño tuvo fiebre de 39 grados en la sala 4B"
ANSWER = "Respuesta privada: se surtió la vincristina en la farmacia del piso 3"
REOPEN = "Motivo privado de reapertura: sigue faltando"
CLOSURE_REASON = "Motivo privado para cerrar la cuenta"
GUARDIAN_NAME, GUARDIAN_PHONE = "Guadalupe Reservada Íñiguez", "5587654321"
IMPORT_HEADER = ("nombres,primer_apellido,segundo_apellido,fecha_nacimiento,sexo,curp,nss,agregado,unidad,"
                 "diagnostico_cie10,fecha_diagnostico")
IMPORT_CURP, IMPORT_NSS = curp("PAXL170404MDFRXCA"), nss("5566778899")
TEMPERATURE, BAD_TEMPERATURE = 39.7, 43.8  # one decimal each: the client's port or an address never reads so
FEVER_ALLERGY = "Alergia privada a cefalosporinas; ninguna otra conocida"
EMERGENCY_ADDRESS = "Av. Privada de Urgencias 4471, Doctores"
EMERGENCY_AVOID = "Indicacion privada: no le des paracetamol-7730"


def _scenario(url: str) -> dict[str, Any]:
    """Drive the API as the demo users would; returns what must not be logged."""
    secrets: list[str] = [WRONG_PASSWORD, DONOR_NAME, DONOR_PHONE, DESCRIPTION, ANSWER, REOPEN, CLOSURE_REASON]
    with httpx.Client(base_url=url, timeout=30) as http:
        tokens: dict[str, dict[str, Any]] = {}
        for user in DEMO_USERS:  # oncologia.demo among them
            login = http.post("/api/v1/auth/login", json={"username": user.username, "password": DEMO_PASSWORD})
            assert login.status_code == 200, login.text
            tokens[user.username] = login.json()
            secrets += [login.json()["access_token"], login.json()["refresh_token"]]
        assert http.post("/api/v1/auth/login", json={"username": "madre.demo", "password": WRONG_PASSWORD}
                         ).status_code == 401
        refreshed = http.post("/api/v1/auth/refresh", json={"refresh_token": tokens["madre.demo"]["refresh_token"]})
        assert refreshed.status_code == 200, refreshed.text
        secrets += [refreshed.json()["access_token"], refreshed.json()["refresh_token"]]

        def h(user: str) -> dict[str, str]:
            token = refreshed.json()["access_token"] if user == "madre.demo" else tokens[user]["access_token"]
            return {"Authorization": f"Bearer {token}"}

        me = http.get("/api/v1/me", headers=h("madre.demo")).json()
        carnets = []
        for patient in me["patients"]:
            carnet = http.get(f"/api/v1/patients/{patient['id']}/carnet", headers=h("madre.demo")).json()
            carnets.append(carnet)
            secrets += [carnet["qr"]["token"], carnet["patient"]["nss"], carnet["patient"]["curp"]]
        mateo = carnets[0]
        assert http.get("/api/v1/sync", headers=h("madre.demo")).status_code == 200
        # the QR link as a phone camera opens it, with a query string too
        assert http.get(mateo["qr"]["url"]).status_code == 200
        assert http.get(f"/v/{mateo['qr']['token']}", params={"curp": mateo["patient"]["curp"]}).status_code == 200

        # blood bank: a booking with the donor's name and phone, then the staff day list
        bank = next(b for b in http.get("/api/v1/blood-banks", headers=h("madre.demo")).json()
                    if b["unit"]["id"] == mateo["patient"]["unit"]["id"])
        booking = None
        for offset in range(10, 40):
            day = (date.today() + timedelta(days=offset)).isoformat()
            slots = http.get(f"/api/v1/blood-banks/{bank['id']}/slots", params={"date": day},
                             headers=h("madre.demo")).json()
            free = [s for s in slots if s["available"] > 0]
            if free:
                booking = http.post("/api/v1/blood-bank/bookings", headers=h("madre.demo"), json={
                    "slot_id": free[0]["id"], "patient_id": mateo["patient"]["id"], "answers": eligible_answers(),
                    "donor": {"full_name": DONOR_NAME, "phone": DONOR_PHONE, "birth_date": "1988-02-03",
                              "weight_kg": 70, "sex": "mujer"}})
                break
        assert booking is not None and booking.status_code == 201, booking and booking.text
        assert http.get(f"/api/v1/blood-banks/{bank['id']}/bookings", params={"date": day},
                        headers=h("banco.demo")).status_code == 200
        # a refused booking (bad phone) says which field, never echoes the value into the log
        bad = http.post("/api/v1/blood-bank/bookings", headers=h("madre.demo"), json={
            "slot_id": free[0]["id"], "patient_id": mateo["patient"]["id"], "answers": eligible_answers(),
            "donor": {"full_name": DONOR_NAME, "phone": "x" * 300, "birth_date": "1988-02-03",
                      "weight_kg": 70, "sex": "mujer"}})
        assert bad.status_code == 422

        # incidents: report, answer, reopen, read
        incident = http.post("/api/v1/incidents", headers=h("madre.demo"), json={
            "patient_id": mateo["patient"]["id"], "category": "atencion_medica", "description": DESCRIPTION})
        assert incident.status_code == 201, incident.text
        iid = incident.json()["id"]
        assert http.post(f"/api/v1/incidents/{iid}/responses", headers=h("casos.demo"),
                         json={"message": ANSWER, "resolves": True}).status_code == 200
        assert http.post(f"/api/v1/incidents/{iid}/reopen", headers=h("madre.demo"),
                         json={"reason": REOPEN}).status_code == 200
        assert http.get(f"/api/v1/incidents/{iid}", headers=h("casos.demo")).status_code == 200

        # pharmacy counter: verify and dispense
        verify = http.post("/api/v1/pharmacy/verify", headers=h("farmacia.demo"), json={"token": mateo["qr"]["url"]})
        assert verify.status_code == 200 and verify.json()["valid"], verify.text
        due = verify.json()["due"][0]["id"]
        dispensed = http.post("/api/v1/pharmacy/dispensations", headers=h("farmacia.demo"),
                              json={"token": mateo["qr"]["token"], "cycle_id": due})
        assert dispensed.status_code == 201, dispensed.text
        assert http.post("/api/v1/pharmacy/dispensations", headers=h("farmacia.demo"),
                         json={"token": mateo["qr"]["token"], "cycle_id": due}).status_code == 409
        # a forged token and an unknown id
        assert http.post("/api/v1/pharmacy/verify", headers=h("farmacia.demo"),
                         json={"token": mateo["qr"]["token"][:-4] + "AAAA"}).status_code == 200
        assert http.get("/api/v1/patients/nope/carnet", headers=h("padre.demo")).status_code == 404
        # privacy: the family's data export, a closure request with a reason, and its withdrawal
        assert http.get("/api/v1/privacy/export", headers=h("madre.demo")).status_code == 200
        assert http.post("/api/v1/privacy/closure-request", headers=h("madre.demo"),
                         json={"reason": CLOSURE_REASON}).status_code == 201
        assert http.post("/api/v1/privacy/closure-request/cancel", headers=h("madre.demo")).status_code == 200
        # enrolment: register a child, search it, correct it, a code for its guardian who activates an account
        onco = h("oncologia.demo")
        sxxi = mateo["patient"]["unit"]["id"]
        registered = http.post("/api/v1/patients", headers=onco, json=child_body(sxxi))
        assert registered.status_code == 201, registered.text
        pid = registered.json()["id"]
        secrets += ["Sofía", "Ramírez Ortega", SOFIA_CURP, SOFIA_NSS, "3F2018OR", "Penicilina"]
        assert http.post("/api/v1/patients", headers=onco, json=child_body(sxxi)).status_code == 409
        assert http.post("/api/v1/patients", headers=onco, json=child_body(sxxi, curp=SOFIA_CURP[:-1] + "X")
                         ).status_code == 422
        assert http.get("/api/v1/patients", params={"q": SOFIA_CURP}, headers=onco).status_code == 200
        assert http.get("/api/v1/patients", params={"q": "Sofía Ramírez"}, headers=onco).status_code == 200
        assert http.patch(f"/api/v1/patients/{pid}", headers=onco, json={"allergies": "Sulfas privadas"}
                          ).status_code == 200
        secrets.append("Sulfas privadas")
        invitation = http.post(f"/api/v1/patients/{pid}/guardian-invitations", headers=onco,
                               json={"full_name": GUARDIAN_NAME, "relationship": "madre", "phone": GUARDIAN_PHONE})
        assert invitation.status_code == 201, invitation.text
        code = invitation.json()["code"]
        secrets += [code, code.replace("-", ""), GUARDIAN_NAME, GUARDIAN_PHONE]
        assert http.post("/api/v1/auth/activate", json={"code": "ZZZZZ-ZZZZZ", "username": "x.privada",
                                                        "password": "clave-privada-123"}).status_code == 422
        activated = http.post("/api/v1/auth/activate", json={"code": code, "username": "guardiana.privada",
                                                             "password": "clave-privada-123"})
        assert activated.status_code == 201, activated.text
        secrets += ["clave-privada-123", activated.json()["access_token"], activated.json()["refresh_token"]]
        import_file = (f"{IMPORT_HEADER}\nLucía,Privada,,2017-04-04,mujer,{IMPORT_CURP},{IMPORT_NSS},,{sxxi},"
                       "C64,2026-10-01\n")
        imported = http.post("/api/v1/registry/import", headers=onco,
                             files={"file": ("p.csv", import_file.encode("utf-8"), "text/csv")})
        assert imported.status_code == 200, imported.text
        secrets += [IMPORT_CURP, IMPORT_NSS, "Lucía"]

        # Hora Dorada: the unit's emergency service (admin), a fever alert (and a refused one), the unit's steps,
        # the emergency card, its QR page and online check, the IPS document, the week's figures
        mateo_id = mateo["patient"]["id"]
        assert http.patch(f"/api/v1/patients/{mateo_id}", headers=onco, json={"allergies": FEVER_ALLERGY}
                          ).status_code == 200
        emergency = {"phone": "55 5627 6900", "address": EMERGENCY_ADDRESS, "map_url": "https://maps.example/sxxi",
                     "bring": ["Carnet"], "avoid": [EMERGENCY_AVOID], "oncology_phone": "55 5627 6901"}
        assert http.patch(f"/api/v1/admin/units/{sxxi}", headers=h("admin.demo"), json={"emergency": emergency}
                          ).status_code == 200
        assert http.patch(f"/api/v1/admin/units/{sxxi}", headers=h("admin.demo"),
                          json={"emergency": {**emergency, "map_url": "javascript:" + EMERGENCY_AVOID}}
                          ).status_code == 422
        secrets += [EMERGENCY_ADDRESS, EMERGENCY_AVOID]
        fever = http.post(f"/api/v1/patients/{mateo_id}/fever-episodes", headers=h("madre.demo"),
                          json={"temperature_c": TEMPERATURE, "measured_at": datetime.now(UTC).isoformat()})
        assert fever.status_code == 201, fever.text
        assert http.post(f"/api/v1/patients/{mateo_id}/fever-episodes", headers=h("madre.demo"),
                         json={"temperature_c": BAD_TEMPERATURE, "measured_at": datetime.now(UTC).isoformat()}
                         ).status_code == 422
        secrets += [str(TEMPERATURE), str(TEMPERATURE).replace(".", ","), str(BAD_TEMPERATURE)]
        for step in ("arrival", "triage", "antibiotic"):
            assert http.post(f"/api/v1/fever-episodes/{fever.json()['id']}/steps", headers=onco,
                             json={"step": step}).status_code == 200
        card = http.get(f"/api/v1/patients/{mateo_id}/emergency-card", headers=h("madre.demo"))
        assert card.status_code == 200, card.text
        facts = card.json()
        assert facts["allergies"] == FEVER_ALLERGY and facts["blood_group"] and facts["last_chemotherapy_drugs"]
        assert facts["diagnosis"] and facts["diagnosis"]["name"]
        secrets += [facts["qr"]["token"], FEVER_ALLERGY, facts["blood_group"], facts["diagnosis"]["name"],
                    *facts["last_chemotherapy_drugs"], *(v for v in (facts["protocol"], facts["phase"]) if v),
                    *(v for v in (facts["treating_oncologist"],) if v)]
        assert http.get(facts["qr"]["url"].replace(url, "")).status_code == 200
        for user in ("oncologia.demo", "farmacia.demo"):  # with the card, and without it
            verified = http.post("/api/v1/emergency-cards/verify", headers=h(user), json={"token": facts["qr"]["url"]})
            assert verified.status_code == 200 and verified.json()["valid"], verified.text
        assert http.post("/api/v1/emergency-cards/verify", headers=onco,
                         json={"token": facts["qr"]["token"][:-4] + "AAAA"}).status_code == 200
        assert http.get(f"/api/v1/patients/{mateo_id}/ips", headers=h("madre.demo")).status_code == 200
        today = datetime.now(ZoneInfo("America/Mexico_City")).date()
        week = (today - timedelta(days=today.weekday())).isoformat()
        for path in ("/api/v1/fever/weekly", "/api/v1/fever/weekly.csv", "/api/v1/fever/weekly.md"):
            figures = http.get(path, params={"week": week}, headers=h("casos.demo"))
            assert figures.status_code == 200, figures.text
        assert http.get("/api/v1/fever/weekly", params={"week": "2026-13-01"}, headers=h("casos.demo")
                        ).status_code == 422
        # the WhatsApp link code (the webhook itself is walked with a signed body in tests/server/test_whatsapp.py)
        link_code = http.post("/api/v1/me/whatsapp/link-code", headers=h("madre.demo"))
        assert link_code.status_code == 201, link_code.text
        secrets.append(link_code.json()["code"])
        assert http.post("/api/v1/whatsapp/unlink", headers=h("casos.demo"), json={"phone": "55 8123 9999"}
                         ).status_code == 404
        secrets.append("8123 9999")

        # the sync of a staff member and of the other family, and a logout
        assert http.get("/api/v1/sync", headers=h("padre.demo")).status_code == 200
        assert http.post("/api/v1/auth/logout", headers=h("padre.demo")).status_code == 204
    for child in CHILDREN:
        secrets += [child.full_name, child.display_name, child.nss, child.curp]
    return {"secrets": secrets}


def test_server_output_holds_no_personal_data(tmp_path: Path) -> None:
    # the access log is off by default (settings.py): on here, to prove its lines are redacted
    with running_server(tmp_path / "srv", env={**FAST, "CARNET_ACCESS_LOG": "1"}) as server:
        found = _scenario(server.url)
    log = server.log_path.read_text(encoding="utf-8")
    # the demo banner (printed once at start for the person running the demo) lists the demo logins and
    # their shared password; everything after start-up is the server's own log
    assert "Application startup complete" in log
    after_start = log.split("Application startup complete", 1)[1]
    # the log did record the session (so its silence about the data means something)
    for line in ('"POST /api/v1/auth/login HTTP/1.1" 200', '"POST /api/v1/auth/login HTTP/1.1" 401',
                 '"POST /api/v1/pharmacy/dispensations HTTP/1.1" 409', '"GET /v/… HTTP/1.1" 200',
                 '"GET /api/v1/patients/nope/carnet HTTP/1.1" 404', '"GET /e/… HTTP/1.1" 200',
                 '"POST /api/v1/emergency-cards/verify HTTP/1.1" 200', '"GET /api/v1/fever/weekly HTTP/1.1" 200',
                 '"GET /api/v1/fever/weekly.csv HTTP/1.1" 200', '"GET /api/v1/fever/weekly.md HTTP/1.1" 200',
                 '"PATCH /api/v1/admin/units/', '"POST /api/v1/fever-episodes/'):
        assert line in after_start, line
    leaked = [s for s in found["secrets"] if s in log]
    assert not leaked, f"in the server output: {leaked}"
    assert DEMO_PASSWORD not in after_start
