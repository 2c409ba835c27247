"""A fake Carnet API behind ``httpx.MockTransport``: a real transport, fake data.

It speaks the contract (same JSON models), signs the QR token with a real
Ed25519 key, rotates refresh tokens, and can be switched offline or made to
answer errors, so client code is tested through its real interface.

The agenda half keeps appointments with a change sequence (tombstones for
deletions), answers ``GET /sync`` in pages with a per-user cursor, an ETag
and 304, refuses a cursor from another user with ``422 invalid_cursor``, and
replays ``Idempotency-Key`` answers like the real server.

The privacy half (:class:`FakePrivacy`) keeps a versioned notice: a guardian who
has not accepted the current version gets ``403 privacy_notice_required`` from
every health-data route (``/me`` is not gated and carries ``privacy``); it also
exports the family's data, takes and withdraws closure requests, and changes
passwords (ending every session of the account) like the server.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from carnet_contract import models as contract
from carnet_contract.qrtoken import verify

BASE = "http://api.test"
ISSUER = BASE
UNIT = contract.Unit(id="u1", name="UMAE Hospital de Pediatría CMN Siglo XXI", level="umae", state="CDMX")

USERS = {
    "madre.demo": ("guardian", "María Hernández", ["p-mateo", "p-valentina"]),
    "padre.demo": ("guardian", "José Ramírez", ["p-santiago"]),
    "farmacia.demo": ("pharmacy", "Farmacia UMAE", []),
    "banco.demo": ("blood_bank", "Banco de Sangre UMAE", []),
    "casos.demo": ("case_desk", "Módulo de atención UMAE", []),
    "admin.demo": ("admin", "Administración", []),
}
PATIENTS = {
    "p-mateo": ("Mateo Hernández López", "Mateo Hernández", "12345678901", "HELM150312HDFRPT09"),
    "p-valentina": ("Valentina Hernández López", "Valentina Hernández", "12345678902", "HELV180704MDFRPL03"),
    "p-santiago": ("Santiago Ramírez Cruz", "Santiago Ramírez", "12345678903", "RACS160101HDFMRN05"),
}
PASSWORD = "carnet-demo"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class FakeApi:
    def __init__(self) -> None:
        self.key = Ed25519PrivateKey.generate()
        self.kid = "k-test"
        self.offline = False
        self.calls: list[tuple[str, str]] = []
        self.access: dict[str, str] = {}  # access token -> username
        self.refresh: dict[str, str] = {}  # refresh token -> username
        self.counter = 0
        self.login_rate_limited: float | None = None
        self.override: Callable[[httpx.Request], httpx.Response | None] | None = None
        self.transport = httpx.MockTransport(self.handle)
        self.agenda = FakeAgenda()
        self.blood_bank = FakeBloodBank(self.agenda)
        self.incidents = FakeIncidents(self.agenda)
        self.pharmacy = FakePharmacy(self)
        self.privacy = FakePrivacy(self)
        self.passwords = {username: PASSWORD for username in USERS}

    # ---- helpers for tests --------------------------------------------------------

    def expire_access_tokens(self) -> None:
        self.access.clear()

    def revoke_all(self) -> None:
        self.access.clear()
        self.refresh.clear()

    def jwks(self) -> dict[str, object]:
        raw = self.key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        return {"keys": [{"kty": "OKP", "crv": "Ed25519", "kid": self.kid, "x": _b64(raw)}]}

    def sign(self, patient_id: str, *, cyc: list[str] | None = None, expires_in: int = 86400 * 7,
             jti: str | None = None, key: Ed25519PrivateKey | None = None, kid: str | None = None,
             issued_ago: int = 0) -> str:
        """A carnet QR token; ``key``/``kid`` sign with another key (e.g. one the server never published)."""
        now = int(time.time()) - issued_ago
        header = _b64(json.dumps({"alg": "EdDSA", "kid": kid or self.kid}).encode())
        claims = _b64(json.dumps({"iss": ISSUER, "sub": patient_id, "cyc": ["c2"] if cyc is None else cyc,
                                  "iat": now, "nbf": now, "exp": now + expires_in,
                                  "jti": jti or f"j{uuid.uuid4().hex[:10]}"}).encode())
        sig = _b64((key or self.key).sign(f"{header}.{claims}".encode()))
        return f"{header}.{claims}.{sig}"

    # ---- the API ---------------------------------------------------------------------

    @staticmethod
    def error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> httpx.Response:
        return httpx.Response(status, json={"error": {"code": code, "message": message}}, headers=headers)

    def _issue(self, username: str) -> httpx.Response:
        self.counter += 1
        access, refresh = f"a{self.counter}-{username}", f"r{self.counter}-{username}"
        self.access[access] = username
        self.refresh[refresh] = username
        role, name, _ = USERS[username]
        body = contract.TokenResponse(access_token=access, refresh_token=refresh, expires_in=900,
                                      user=contract.UserOut(id=f"id-{username}", role=role, display_name=name))
        return httpx.Response(200, json=body.model_dump(mode="json"))

    def _user(self, request: httpx.Request) -> str | None:
        auth = request.headers.get("Authorization", "")
        return self.access.get(auth.removeprefix("Bearer ")) if auth.startswith("Bearer ") else None

    def carnet(self, patient_id: str) -> contract.Carnet:
        full, display, nss, curp = PATIENTS[patient_id]
        today = datetime.now(UTC).date()
        cycles = [
            contract.Cycle(id="c1", number=1, scheduled_for=today - timedelta(days=21), status="aplicado",
                           drugs=[contract.Drug(name="Vincristina", dose="1.5", unit="mg/m²", route="intravenosa")],
                           mixing=contract.Mixing(status="entregada")),
            contract.Cycle(id="c2", number=2, scheduled_for=today + timedelta(days=3), status="programado",
                           drugs=[contract.Drug(name="Vincristina", dose="1.5", unit="mg/m²", route="intravenosa"),
                                  contract.Drug(name="Metotrexato", dose="12", unit="mg", route="intratecal")],
                           mixing=contract.Mixing(status="en_preparacion")),
        ]
        # What a pharmacy dispensed shows on the family's carnet too.
        cycles = [c.model_copy(update={"dispensed_at": done.dispensed_at})
                  if (done := self.pharmacy.dispensed.get((patient_id, c.id))) else c for c in cycles]
        token = self.sign(patient_id)
        return contract.Carnet(
            patient=contract.CarnetPatient(id=patient_id, full_name=full, display_name=display, nss=nss,
                                           curp=curp, birth_date=date(2015, 3, 12), unit=UNIT),
            diagnosis=contract.Diagnosis(name="Leucemia linfoblástica aguda", cie10="C91.0"),
            protocol=contract.Protocol(name="LLA riesgo estándar — mantenimiento"),
            cycles=cycles,
            qr=contract.QrCode(token=token, url=f"{BASE}/v/{token}",
                               expires_at=datetime.now(UTC) + timedelta(days=7)),
            generated_at=datetime.now(UTC),
        )

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.calls.append((request.method, request.url.path))
        if self.offline:
            raise httpx.ConnectError("network is unreachable", request=request)
        if self.override is not None:
            answer = self.override(request)
            if answer is not None:
                return answer
        path, method = request.url.path, request.method
        if path == "/api/v1/auth/login" and method == "POST":
            if self.login_rate_limited is not None:
                return self.error(429, "too_many_attempts", "Demasiados intentos.",
                                  {"Retry-After": str(int(self.login_rate_limited))})
            body = json.loads(request.content)
            if body.get("username") in USERS and body.get("password") == self.passwords[body["username"]]:
                return self._issue(body["username"])
            return self.error(401, "invalid_credentials", "Usuario o contraseña incorrectos.")
        if path == "/api/v1/auth/refresh" and method == "POST":
            token = json.loads(request.content).get("refresh_token")
            username = self.refresh.pop(token, None)  # rotation: each refresh token works once
            if username is None:
                return self.error(401, "invalid_refresh_token", "Sesión terminada.")
            return self._issue(username)
        if path == "/.well-known/jwks.json":
            return httpx.Response(200, json=self.jwks())
        if path == "/api/v1/privacy/notice" and method == "GET":
            return self.privacy.notice(request)
        username = self._user(request)
        if username is None:
            return self.error(401, "unauthorized", "Token inválido o vencido.")
        if path == "/api/v1/auth/logout" and method == "POST":
            for table in (self.access, self.refresh):
                for token, owner in list(table.items()):
                    if owner == username:
                        del table[token]
            return httpx.Response(204)
        role, name, patients = USERS[username]
        if path == "/api/v1/auth/password" and method == "POST":
            return self._change_password(request, username)
        if role == "guardian" and not self.privacy.accepted(username) and self.privacy.gated(path):
            self.privacy.refused.append(path)
            return self.error(403, "privacy_notice_required",
                              "Acepta el aviso de privacidad para ver estos datos.")
        if path.startswith("/api/v1/privacy/"):
            return self.privacy.handle(request, username, role, patients)
        if path.startswith("/api/v1/pharmacy/"):
            return self.pharmacy.handle(request, role, name)
        if path == "/api/v1/me":
            me = contract.Me(id=f"id-{username}", role=role, display_name=name,
                             patients=[contract.PatientRef(id=p, display_name=PATIENTS[p][1]) for p in patients],
                             units=[UNIT] if role in ("blood_bank", "case_desk") else [],
                             privacy=self.privacy.status(username) if role == "guardian" else None)
            return httpx.Response(200, json=me.model_dump(mode="json"))
        if path.startswith("/api/v1/patients/") and path.endswith("/carnet"):
            patient_id = path.split("/")[4]
            if patient_id not in patients:
                return self.error(404, "not_found", "No encontrado.")
            return httpx.Response(200, json=self.carnet(patient_id).model_dump(mode="json"))
        answer = self.agenda.handle(request, username, patients)
        if answer is not None:
            return answer
        answer = self.blood_bank.handle(request, role, patients)
        if answer is not None:
            return answer
        answer = self.incidents.handle(request, role, patients)
        if answer is not None:
            return answer
        return self.error(404, "not_found", "No encontrado.")


    def _change_password(self, request: httpx.Request, username: str) -> httpx.Response:
        """Like the server: 422 for a wrong current password or a weak new one; 204 ends every session."""
        body = contract.PasswordChange.model_validate_json(request.content)
        if body.current_password != self.passwords[username]:
            return self.error(422, "wrong_current_password", "La contraseña actual no es correcta.")
        if len(body.new_password) < 10:
            return self.error(422, "password_too_short", "La nueva contraseña debe tener al menos 10 caracteres.")
        if body.new_password.strip().lower() == username:
            return self.error(422, "password_is_username", "La nueva contraseña no puede ser igual a su usuario.")
        if body.new_password == body.current_password:
            return self.error(422, "password_unchanged", "La nueva contraseña debe ser distinta de la actual.")
        self.passwords[username] = body.new_password
        for table in (self.access, self.refresh):
            for token, owner in list(table.items()):
                if owner == username:
                    del table[token]
        return httpx.Response(204)


class FakePrivacy:
    """The privacy notice (versioned, es-MX / en), acceptances, the export and closure requests."""

    #: Routes a guardian reaches without accepting the notice (the rest answer 403).
    OPEN = ("/api/v1/me", "/api/v1/auth/", "/api/v1/privacy/notice", "/api/v1/privacy/acceptance",
            "/api/v1/privacy/closure-request")

    def __init__(self, api: FakeApi) -> None:
        self.api = api
        self.version = "2025-01"
        #: username -> (version, when); the demo guardians accepted the first version.
        self.acceptances: dict[str, tuple[str, datetime]] = {
            u: ("2025-01", datetime(2025, 1, 15, 16, 30, tzinfo=UTC)) for u, (r, _, _) in USERS.items()
            if r == "guardian"}
        #: username -> the latest closure request
        self.closures: dict[str, contract.ClosureRequest] = {}
        #: Paths refused with 403 privacy_notice_required, in order.
        self.refused: list[str] = []
        self.exports = 0
        self.notices = 0

    # ---- helpers for tests --------------------------------------------------------------------

    def publish(self, version: str) -> None:
        """A new version: every guardian must accept it before seeing data again."""
        self.version = version

    def forget(self, username: str) -> None:
        """The guardian never accepted any version."""
        self.acceptances.pop(username, None)

    def accepted(self, username: str) -> bool:
        found = self.acceptances.get(username)
        return found is not None and found[0] == self.version

    @classmethod
    def gated(cls, path: str) -> bool:
        return not path.startswith(cls.OPEN)

    def status(self, username: str) -> contract.PrivacyStatus:
        version, at = self.acceptances.get(username, (None, None))
        closure = self.closures.get(username)
        return contract.PrivacyStatus(
            current_version=self.version, accepted_version=version, accepted_at=at,
            closure_request=closure if closure is not None and closure.status == "solicitada" else None)

    # ---- HTTP ------------------------------------------------------------------------------------

    def notice(self, request: httpx.Request) -> httpx.Response:
        self.notices += 1
        english = request.headers.get("Accept-Language", "").startswith("en")
        body = contract.PrivacyNotice(
            version=self.version, published_on=date(2025, 1, 10), lang="en" if english else "es-MX",
            title="Privacy notice" if english else "Aviso de privacidad",
            summary=("We use your children's data only for their care." if english
                     else "Usamos los datos de tus hijos solo para su atención."),
            sections=[contract.PrivacySection(heading="Qué datos" if not english else "What data",
                                              body="Nombre, NSS, CURP y tratamiento." if not english
                                              else "Name, NSS, CURP and treatment."),
                      contract.PrivacySection(heading="Tus derechos" if not english else "Your rights",
                                              body="Acceso, rectificación, cancelación y oposición." if not english
                                              else "Access, rectification, cancellation and opposition.")])
        return httpx.Response(200, json=body.model_dump(mode="json"))

    def handle(self, request: httpx.Request, username: str, role: str, patients: list[str]) -> httpx.Response:
        path, method = request.url.path, request.method
        if role != "guardian":
            return FakeApi.error(403, "forbidden", "Solo familias.")
        if path == "/api/v1/privacy/acceptance" and method == "POST":
            body = contract.PrivacyAcceptanceCreate.model_validate_json(request.content)
            if body.version != self.version:
                return FakeApi.error(409, "privacy_version_outdated", "Hay una versión más nueva del aviso.")
            if not self.accepted(username):
                self.acceptances[username] = (body.version, _now())
            return httpx.Response(200, json=self.status(username).model_dump(mode="json"))
        if path == "/api/v1/privacy/export" and method == "GET":
            self.exports += 1
            data = {"account": {"username": username}, "version": self.status(username).model_dump(mode="json"),
                    "children": [self.api.carnet(p).model_dump(mode="json") for p in patients]}
            name = f"carnet-mis-datos-{_now().date().isoformat()}.json"
            return httpx.Response(200, content=json.dumps(data, ensure_ascii=False).encode(),
                                  headers={"Content-Type": "application/json",
                                           "Content-Disposition": f'attachment; filename="{name}"'})
        if path == "/api/v1/privacy/closure-request" and method == "POST":
            contract.ClosureRequestCreate.model_validate_json(request.content or b"{}")
            open_one = self.closures.get(username)
            if open_one is not None and open_one.status == "solicitada":
                return httpx.Response(200, json=open_one.model_dump(mode="json"))
            made = contract.ClosureRequest(id=f"cl-{uuid.uuid4().hex[:8]}", status="solicitada",
                                           requested_at=_now())
            self.closures[username] = made
            return httpx.Response(201, json=made.model_dump(mode="json"))
        if path == "/api/v1/privacy/closure-request/cancel" and method == "POST":
            open_one = self.closures.get(username)
            if open_one is None or open_one.status != "solicitada":
                return FakeApi.error(404, "closure_request_not_found", "No hay una solicitud de cierre abierta.")
            done = open_one.model_copy(update={"status": contract.ClosureStatus.CANCELADA, "decided_at": _now()})
            self.closures[username] = done
            return httpx.Response(200, json=done.model_dump(mode="json"))
        return FakeApi.error(404, "not_found", "No encontrado.")


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


class FakeAgenda:
    """Appointments, their change sequence, GET /sync and idempotent writes."""

    def __init__(self) -> None:
        self.seq = 0
        #: id -> (seq of the last change, Appointment JSON or None for a tombstone, patient id)
        self.rows: dict[str, tuple[int, dict[str, object] | None, str]] = {}
        self.idempotency: dict[str, tuple[str, str, int, object]] = {}
        self.created = 0  # real creations (replays not counted)
        #: Answers (or exceptions) used instead of handling the next writes, first in first out.
        self.write_failures: list[httpx.Response | Exception] = []
        #: Users whose next sync answers from the start with reset=True.
        self.force_reset: set[str] = set()
        self.sync_requests: list[dict[str, str | None]] = []
        #: record id -> sync type (appointments when absent)
        self.types: dict[str, str] = {}
        base = _now().replace(hour=15, minute=0, second=0)
        for patient in PATIENTS:
            self.add(patient, "quimioterapia", "Quimioterapia ciclo 2", base + timedelta(days=3), "hospital")
            self.add(patient, "laboratorio", "Biometría hemática", base + timedelta(days=10), "hospital")
            self.add(patient, "consulta", "Consulta de oncología", base - timedelta(days=5), "hospital")

    def add(self, patient_id: str, kind: str, title: str, starts_at: datetime, source: str, *,
            place: str = "", notes: str = "") -> dict[str, object]:
        appointment = contract.Appointment(
            id=f"a-{uuid.uuid4().hex[:10]}", patient_id=patient_id, kind=kind, title=title, starts_at=starts_at,
            ends_at=starts_at + timedelta(hours=1), unit=UNIT if source == "hospital" else None, place=place,
            status="programada", notes=notes, source=source, revision=0, updated_at=_now())
        self._put(appointment.model_dump(mode="json"))
        return self.rows[appointment.id][1]  # type: ignore[return-value]

    def _put(self, data: dict[str, object]) -> None:
        self.seq += 1
        self.rows[str(data["id"])] = (self.seq, data, str(data["patient_id"]))

    def delete(self, appointment_id: str) -> None:
        _, _, patient = self.rows[appointment_id]
        self.seq += 1
        self.rows[appointment_id] = (self.seq, None, patient)

    def live(self, patients: list[str]) -> dict[str, dict[str, object]]:
        return {rid: data for rid, (_, data, patient) in self.rows.items()
                if data is not None and patient in patients and rid not in self.types}

    def put_record(self, sync_type: str, data: dict[str, object]) -> None:
        """Another record type (a booking) in the same change sequence."""
        self.types[str(data["id"])] = sync_type
        self._put(data)

    # ---- HTTP -----------------------------------------------------------------------------

    def handle(self, request: httpx.Request, username: str, patients: list[str]) -> httpx.Response | None:
        path, method = request.url.path, request.method
        if path == "/api/v1/sync" and method == "GET":
            return self._sync(request, username, patients)
        parts = path.strip("/").split("/")
        if method in ("POST", "PATCH", "DELETE") and (path.startswith("/api/v1/appointments/")
                                                       or path.endswith("/appointments")):
            if self.write_failures:
                failure = self.write_failures.pop(0)
                if isinstance(failure, Exception):
                    raise failure
                return failure
            key = request.headers.get("Idempotency-Key")
            digest = hashlib.sha256(request.content).hexdigest()
            if key and method == "POST":
                stored = self.idempotency.get(key)
                if stored is not None:
                    if stored[:2] != (username, digest):
                        return FakeApi.error(422, "idempotency_key_reused", "La clave ya se usó con otros datos.")
                    return httpx.Response(stored[2], json=stored[3])
            answer = self._write(method, parts, request, patients)
            if key and method == "POST" and answer.status_code < 500:
                self.idempotency[key] = (username, digest, answer.status_code, answer.json())
            return answer
        if method == "GET" and len(parts) == 5 and parts[2] == "patients" and parts[4] == "appointments":
            if parts[3] not in patients:
                return FakeApi.error(404, "not_found", "No encontrado.")
            return httpx.Response(200, json=sorted(self.live([parts[3]]).values(), key=lambda a: str(a["starts_at"])))
        return None

    def _write(self, method: str, parts: list[str], request: httpx.Request, patients: list[str]) -> httpx.Response:
        if method == "POST":
            patient = parts[3] if len(parts) == 5 else ""
            if patient not in patients:
                return FakeApi.error(404, "not_found", "Paciente no encontrado.")
            try:
                body = contract.AppointmentCreate.model_validate_json(request.content)
            except ValueError:
                return FakeApi.error(422, "validation_error", "Datos de la cita no válidos.")
            if body.kind not in contract.GUARDIAN_APPOINTMENT_KINDS:
                return FakeApi.error(422, "kind_not_allowed", "Ese tipo de cita lo registra el hospital.")
            created = self.add(patient, body.kind.value, body.title, body.starts_at.astimezone(UTC), "familia",
                               place=body.place, notes=body.notes)
            created["ends_at"] = body.ends_at.astimezone(UTC).isoformat().replace("+00:00", "Z")
            self.created += 1
            return httpx.Response(201, json=created)
        rid = parts[3] if len(parts) == 4 else ""
        row = self.rows.get(rid)
        if row is None or row[1] is None or row[2] not in patients:
            return FakeApi.error(404, "not_found", "La cita no existe.")
        data = dict(row[1])
        if data["source"] != "familia":
            return FakeApi.error(403, "forbidden", "Solo el hospital cambia esta cita.")
        if method == "DELETE":
            self.delete(rid)
            return httpx.Response(204)
        try:
            update = contract.AppointmentUpdate.model_validate_json(request.content)
        except ValueError:
            return FakeApi.error(422, "validation_error", "Datos de la cita no válidos.")
        for name, value in update.model_dump(mode="json", exclude_unset=True).items():
            data[name] = value
        data["revision"] = int(data["revision"]) + 1
        self._put(data)
        return httpx.Response(200, json=data)

    def _sync(self, request: httpx.Request, username: str, patients: list[str]) -> httpx.Response:
        cursor = request.url.params.get("cursor", "")
        limit = int(request.url.params.get("limit", "100"))
        self.sync_requests.append({"cursor": cursor, "etag": request.headers.get("If-None-Match")})
        after, reset = 0, False
        if username in self.force_reset:
            self.force_reset.discard(username)
            cursor, reset = "", True
        if cursor:
            try:
                owner, number = cursor.rsplit(":", 1)
                after = int(number)
            except ValueError:
                owner = ""
            if owner != username:
                return FakeApi.error(422, "invalid_cursor", "Cursor de sincronización no válido.")
        rows = sorted(((seq, rid, data) for rid, (seq, data, patient) in self.rows.items()
                       if seq > after and patient in patients), key=lambda r: r[0])
        if not cursor:
            rows = [r for r in rows if r[2] is not None]  # from the start: no tombstones needed
        page, more = rows[:limit], len(rows) > limit
        last = page[-1][0] if page else (after if cursor else self.seq)
        changes = [{"type": self.types.get(rid, "appointment"), "id": rid, "op": "upsert" if data else "delete", "data": data}
                   for _, rid, data in page]
        body = {"cursor": f"{username}:{last}", "has_more": more, "reset": reset, "changes": changes}
        # Like the real server: a strong ETag of the body, so an unchanged answer gets 304.
        etag = '"' + hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:32] + '"'
        if request.headers.get("If-None-Match") == etag:
            return httpx.Response(304, headers={"ETag": etag})
        return httpx.Response(200, json=body, headers={"ETag": etag})


BANK = contract.BloodBank(id="bank-1", name="Banco de Sangre UMAE Pediatría", unit=UNIT,
                          address="Av. Cuauhtémoc 330, Doctores, CDMX", phone="55 5627 6900",
                          instructions="Trae identificación oficial. No vengas en ayunas.")
BANK2_UNIT = contract.Unit(id="u2", name="Hospital General de Zona 1", level="segundo_nivel", state="CDMX")
BANK2 = contract.BloodBank(id="bank-2", name="Banco de Sangre HGZ 1", unit=BANK2_UNIT, address="Calle 1, CDMX")
QUESTIONS = {
    "es-MX": [("q-fever", "¿Ha tenido fiebre en los últimos 14 días?", False),
              ("q-well", "¿Se siente bien de salud hoy?", True)],
    "en": [("q-fever", "Have you had a fever in the last 14 days?", False),
           ("q-well", "Do you feel well today?", True)],
}
MX_TZ = __import__("zoneinfo").ZoneInfo("America/Mexico_City")


class FakeBloodBank:
    """Banks, slots (Mon–Sat 07:00–11:00, 30 min, capacity 4), questionnaire, bookings; idempotent writes."""

    def __init__(self, agenda: FakeAgenda) -> None:
        self.agenda = agenda
        self.slots: dict[str, contract.Slot] = {}
        self.bookings: dict[str, contract.Booking] = {}
        self.idempotency: dict[str, tuple[str, int, object]] = {}
        self.created = 0
        self.folio = 0
        #: Answers (or exceptions) used instead of handling the next writes, first in first out.
        self.write_failures: list[httpx.Response | Exception] = []

    def day_slots(self, bank_id: str, day: date) -> list[contract.Slot]:
        if day.weekday() == 6:
            return []
        found = []
        for n in range(8):
            start = datetime(day.year, day.month, day.day, 7, 0, tzinfo=MX_TZ) + timedelta(minutes=30 * n)
            sid = f"s-{bank_id}-{day.isoformat()}-{n}"
            if sid not in self.slots:
                self.slots[sid] = contract.Slot(id=sid, bank_id=bank_id, starts_at=start.astimezone(UTC),
                                                ends_at=(start + timedelta(minutes=30)).astimezone(UTC),
                                                capacity=4, available=4)
            found.append(self.slots[sid])
        return found

    def set_slot(self, slot_id: str, **changes: object) -> None:
        self.slots[slot_id] = self.slots[slot_id].model_copy(update=changes)

    def _taken(self, slot_id: str) -> int:
        return sum(1 for b in self.bookings.values() if b.slot.id == slot_id and b.status == "confirmada")

    def _refresh_slot(self, slot_id: str) -> contract.Slot:
        slot = self.slots[slot_id]
        slot = slot.model_copy(update={"available": max(0, slot.capacity - self._taken(slot_id))})
        self.slots[slot_id] = slot
        return slot

    def _save(self, booking: contract.Booking) -> contract.Booking:
        self.bookings[booking.id] = booking
        self.agenda.put_record("blood_bank_booking", booking.model_dump(mode="json"))
        return booking

    def handle(self, request: httpx.Request, role: str, patients: list[str]) -> httpx.Response | None:
        path, method = request.url.path, request.method
        parts = path.strip("/").split("/")
        if not path.startswith(("/api/v1/blood-bank", "/api/v1/blood-banks")):
            return None
        if method == "POST" and self.write_failures:
            failure = self.write_failures.pop(0)
            if isinstance(failure, Exception):
                raise failure
            return failure
        key = request.headers.get("Idempotency-Key")
        if method == "POST" and key:
            digest = hashlib.sha256(path.encode() + request.content).hexdigest()
            stored = self.idempotency.get(key)
            if stored is not None:
                if stored[0] != digest:
                    return FakeApi.error(422, "idempotency_key_reused", "La clave ya se usó con otros datos.")
                return httpx.Response(stored[1], json=stored[2])
            answer = self._handle(method, parts, request, role, patients)
            if answer.status_code < 500:
                self.idempotency[key] = (digest, answer.status_code, answer.json())
            return answer
        return self._handle(method, parts, request, role, patients)

    def _handle(self, method: str, parts: list[str], request: httpx.Request, role: str,
                patients: list[str]) -> httpx.Response:
        ok = lambda body, status=200: httpx.Response(status, json=body)  # noqa: E731
        dump = lambda items: [i.model_dump(mode="json") for i in items]  # noqa: E731
        banks = {b.id: b for b in (BANK, BANK2)}
        params = request.url.params
        if method == "GET" and parts[2:] == ["blood-banks"]:
            return ok(dump(banks.values()))
        if method == "GET" and parts[2:] == ["blood-bank", "questionnaire"]:
            lang = "en" if request.headers.get("Accept-Language", "").startswith("en") else "es-MX"
            return ok([{"id": i, "text": t, "eligible_answer": e} for i, t, e in QUESTIONS[lang]])
        if method == "GET" and len(parts) == 5 and parts[2] == "blood-banks" and parts[4] == "slots":
            if parts[3] not in banks:
                return FakeApi.error(404, "not_found", "No encontrado.")
            day = date.fromisoformat(params["date"])
            return ok(dump(self._refresh_slot(s.id) for s in self.day_slots(parts[3], day)))
        if method == "POST" and parts[2:] == ["blood-bank", "bookings"]:
            return self._create(request, role, patients)
        if method == "GET" and parts[2:] == ["blood-bank", "bookings"]:
            wanted = params.get("patient_id")
            return ok(dump(b for b in self.bookings.values() if b.patient_id in patients
                           and (wanted is None or b.patient_id == wanted)))
        if method == "POST" and len(parts) == 6 and parts[2] == "blood-bank" and parts[3] == "bookings":
            return self._change(parts[4], parts[5], request, role, patients)
        if method == "GET" and len(parts) == 5 and parts[2] == "blood-banks" and role == "blood_bank":
            bank = banks.get(parts[3])
            if bank is None or bank.unit.id != UNIT.id:
                return FakeApi.error(404, "not_found", "No encontrado.")
            if parts[4] == "bookings":
                day = date.fromisoformat(params["date"])
                rows = [b for b in self.bookings.values()
                        if b.bank.id == bank.id and b.slot.starts_at.astimezone(MX_TZ).date() == day]
                return ok([{**b.model_dump(mode="json"), "patient_display_name": PATIENTS[b.patient_id][1]}
                           for b in sorted(rows, key=lambda b: b.slot.starts_at)])
            if parts[4] == "donor-counts":
                lo, hi = date.fromisoformat(params["from"]), date.fromisoformat(params["to"])
                counts: dict[str, list[int]] = {}
                for b in self.bookings.values():
                    if b.bank.id == bank.id and b.status != "cancelada" and \
                            lo <= b.slot.starts_at.astimezone(MX_TZ).date() <= hi:
                        c = counts.setdefault(b.patient_id, [0, 0])
                        c[0] += 1
                        c[1] += b.status == "asistio"
                return ok([{"patient_id": p, "patient_display_name": PATIENTS[p][1], "booked": c[0], "came": c[1]}
                           for p, c in counts.items()])
        if role != "guardian" and parts[2] in ("blood-banks",):
            return FakeApi.error(403, "forbidden", "Sin permiso.")
        return FakeApi.error(404, "not_found", "No encontrado.")

    def _create(self, request: httpx.Request, role: str, patients: list[str]) -> httpx.Response:
        if role != "guardian":
            return FakeApi.error(403, "forbidden", "Solo familias.")
        try:
            body = contract.BookingCreate.model_validate_json(request.content)
        except ValueError:
            return FakeApi.error(422, "validation_error", "Datos no válidos.")
        if body.patient_id not in patients:
            return FakeApi.error(404, "not_found", "Paciente no encontrado.")
        slot = self.slots.get(body.slot_id)
        if slot is None:
            return FakeApi.error(404, "slot_not_found", "Horario no encontrado.")
        reasons = []
        if body.donor.weight_kg < 50:
            reasons.append({"code": "weight", "message": "Quien dona debe pesar al menos 50 kg."})
        for qid, _, eligible in QUESTIONS["es-MX"]:
            if body.answers.get(qid) is not eligible:
                reasons.append({"code": qid, "message": f"Respuesta que impide donar hoy ({qid})."})
        if reasons:
            return httpx.Response(422, json={"error": {"code": "donor_not_eligible",
                                                       "message": "Quien dona no puede donar por ahora.",
                                                       "reasons": reasons}})
        if slot.closed:
            return FakeApi.error(409, "slot_closed", "Ese horario está cerrado.")
        if self._refresh_slot(slot.id).available <= 0:
            return FakeApi.error(409, "slot_full", "Ese horario ya se llenó. Elige otro.")
        self.folio += 1
        self.created += 1
        now = _now()
        appointment = self.agenda.add(body.patient_id, "banco_de_sangre", "Donación de sangre", slot.starts_at,
                                      "hospital")
        booking = contract.Booking(
            id=f"b-{uuid.uuid4().hex[:10]}", folio=f"BS-2026-{self.folio:06d}", patient_id=body.patient_id,
            bank=BANK if slot.bank_id == BANK.id else BANK2, slot=slot, status="confirmada",
            donor=contract.DonorOut(**body.donor.model_dump(exclude={"last_donation_on"})), created_at=now,
            updated_at=now, appointment_id=str(appointment["id"]))
        self._save(booking)
        booking = self._save(booking.model_copy(update={"slot": self._refresh_slot(slot.id)}))
        return httpx.Response(201, json=booking.model_dump(mode="json"))

    def _change(self, booking_id: str, action: str, request: httpx.Request, role: str,
                patients: list[str]) -> httpx.Response:
        booking = self.bookings.get(booking_id)
        visible = booking is not None and (booking.patient_id in patients or role == "blood_bank")
        if not visible:
            return FakeApi.error(404, "not_found", "No encontrado.")
        assert booking is not None
        if booking.status != "confirmada":
            return FakeApi.error(409, "booking_not_active", "La cita ya no está activa.")
        now = _now()
        if action == "cancel" and role == "guardian":
            changed = booking.model_copy(update={"status": contract.BookingStatus.CANCELADA, "updated_at": now})
        elif action == "reschedule" and role == "guardian":
            slot_id = json.loads(request.content)["slot_id"]
            new = self.slots.get(slot_id)
            if new is None:
                return FakeApi.error(404, "slot_not_found", "Horario no encontrado.")
            if self._refresh_slot(slot_id).available <= 0:
                return FakeApi.error(409, "slot_full", "Ese horario ya se llenó. Elige otro.")
            changed = booking.model_copy(update={"slot": new, "updated_at": now})
        elif action in ("check-in", "no-show") and role == "blood_bank":
            status = contract.BookingStatus.ASISTIO if action == "check-in" else contract.BookingStatus.NO_ASISTIO
            changed = booking.model_copy(update={"status": status, "updated_at": now,
                                                 "checked_in_at": now if action == "check-in" else None})
        else:
            return FakeApi.error(403, "forbidden", "Sin permiso.")
        self._save(changed)
        changed = changed.model_copy(update={"slot": self._refresh_slot(changed.slot.id)})
        self._refresh_slot(booking.slot.id)
        return httpx.Response(200, json=self._save(changed).model_dump(mode="json"))


def _multipart_file(request: httpx.Request) -> bytes | None:
    """The bytes of the multipart field ``file`` (enough of multipart/form-data for one file)."""
    kind = request.headers.get("Content-Type", "")
    if not kind.startswith("multipart/form-data") or "boundary=" not in kind:
        return None
    boundary = kind.split("boundary=", 1)[1].strip().strip('"').encode()
    for part in request.content.split(b"--" + boundary):
        head, sep, rest = part.partition(b"\r\n\r\n")
        if sep and b'name="file"' in head:
            return rest[:-2] if rest.endswith(b"\r\n") else rest
    return None


class FakeIncidents:
    """Incident reports: create (idempotent), list/get, case-desk answers, reopen, weekly figures.

    Like the server: ``item_name`` is required for medicamento/insumo (422 ``item_name_required``), an
    unknown unit is refused (422 ``unknown_unit``), resolving needs a concrete answer (422
    ``answer_required``: at least 10 characters here), reopening needs an ``atendida`` report (409
    ``not_resolved``). Every change goes into the sync's change sequence (type ``incident``).
    """

    UNITS = {UNIT.id: UNIT, BANK2_UNIT.id: BANK2_UNIT}
    FIRST_ANSWER_HOURS = 48

    def __init__(self, agenda: FakeAgenda) -> None:
        self.agenda = agenda
        self.rows: dict[str, contract.Incident] = {}
        self.idempotency: dict[str, tuple[str, int, object]] = {}
        self.created = 0
        self.folio = 122
        self.write_failures: list[httpx.Response | Exception] = []
        #: the weeks asked for (GET /case-desk/weekly)
        self.weeks: list[str] = []
        #: photo id -> bytes as stored (the server's copy); photos really stored (replays not counted)
        self.photo_bytes: dict[str, bytes] = {}
        self.photos_stored = 0
        self.photo_reads: list[str] = []

    def add(self, patient_id: str, category: str, description: str, *, item_name: str | None = None,
            unit: contract.Unit = UNIT, created_at: datetime | None = None,
            status: str = "recibida") -> contract.Incident:
        now = created_at or _now()
        self.folio += 1
        incident = contract.Incident(
            id=f"i-{uuid.uuid4().hex[:10]}", folio=f"CE-2026-{self.folio:06d}", patient_id=patient_id,
            category=category, unit=unit, description=description, item_name=item_name, status=status,
            created_at=now, updated_at=now, first_response_due_at=now + timedelta(hours=self.FIRST_ANSWER_HOURS))
        return self._save(incident)

    def resolve(self, incident_id: str, message: str) -> contract.Incident:
        """The case desk answers and marks it atendida (test helper)."""
        now = _now()
        incident = self.rows[incident_id]
        reply = contract.IncidentReply(author_role="case_desk", author_label="Módulo de atención", message=message,
                                       created_at=now, resolves=True)
        return self._save(self._copy(incident, responses=[*incident.responses, reply], status="atendida",
                                     updated_at=now, resolved_at=now,
                                     first_response_at=incident.first_response_at or now))

    @staticmethod
    def _copy(incident: contract.Incident, **changes: object) -> contract.Incident:
        return contract.Incident.model_validate({**incident.model_dump(), **changes})

    def _save(self, incident: contract.Incident) -> contract.Incident:
        due = incident.first_response_due_at
        left = None if incident.first_response_at else int((due - _now()).total_seconds())
        incident = self._copy(incident, seconds_left=left, overdue=left is not None and left < 0)
        self.rows[incident.id] = incident
        self.agenda.put_record("incident", incident.model_dump(mode="json"))
        return incident

    def handle(self, request: httpx.Request, role: str, patients: list[str]) -> httpx.Response | None:
        path, method = request.url.path, request.method
        parts = path.strip("/").split("/")
        if not (path.startswith("/api/v1/incidents") or path.startswith("/api/v1/case-desk/weekly")):
            return None
        if method == "POST" and self.write_failures:
            failure = self.write_failures.pop(0)
            if isinstance(failure, Exception):
                raise failure
            return failure
        key = request.headers.get("Idempotency-Key")
        if method == "POST" and key:
            digest = hashlib.sha256(path.encode() + request.content).hexdigest()
            stored = self.idempotency.get(key)
            if stored is not None:
                if stored[0] != digest:
                    return FakeApi.error(422, "idempotency_key_reused", "La clave ya se usó con otros datos.")
                return httpx.Response(stored[1], json=stored[2])
            answer = self._handle(method, parts, request, role, patients)
            if answer.status_code < 500:
                self.idempotency[key] = (digest, answer.status_code, answer.json())
            return answer
        return self._handle(method, parts, request, role, patients)

    def _visible(self, incident: contract.Incident, role: str, patients: list[str]) -> bool:
        if role == "guardian":
            return incident.patient_id in patients
        return role == "case_desk" and incident.unit.id == UNIT.id

    def _handle(self, method: str, parts: list[str], request: httpx.Request, role: str,
                patients: list[str]) -> httpx.Response:
        ok = lambda body, status=200: httpx.Response(status, json=body)  # noqa: E731
        params = request.url.params
        if parts[2:] == ["case-desk", "weekly"] and method == "GET":
            if role != "case_desk":
                return FakeApi.error(403, "forbidden", "Sin permiso.")
            self.weeks.append(params["week"])
            return ok(self.weekly(date.fromisoformat(params["week"])).model_dump(mode="json"))
        if parts[2:] in (["case-desk", "weekly.csv"], ["case-desk", "weekly.md"]) and method == "GET":
            if role != "case_desk":
                return FakeApi.error(403, "forbidden", "Sin permiso.")
            self.weeks.append(params["week"])
            figures = self.weekly(date.fromisoformat(params["week"]))
            if parts[3].endswith(".csv"):
                text = "semana,reportes_nuevos\r\n" + f"{figures.week_start},{figures.incidents_new}\r\n"
                return httpx.Response(200, content=text.encode(), headers={"Content-Type": "text/csv; charset=utf-8"})
            text = (f"# Sesión de trabajo — semana del {figures.week_start}\n\n"
                    f"Reportes nuevos: {figures.incidents_new}\n")
            return httpx.Response(200, content=text.encode(), headers={"Content-Type": "text/markdown; charset=utf-8"})
        if parts[2:] == ["incidents"] and method == "POST":
            return self._create(request, role, patients)
        if parts[2:] == ["incidents"] and method == "GET":
            rows = [i for i in self.rows.values() if self._visible(i, role, patients)
                    and all(params.get(k) in (None, "", v) for k, v in
                            (("patient_id", i.patient_id), ("status", i.status.value),
                             ("category", i.category.value), ("unit_id", i.unit.id)))]
            return ok([i.model_dump(mode="json") for i in sorted(rows, key=lambda i: i.created_at, reverse=True)])
        incident = self.rows.get(parts[3]) if len(parts) >= 4 else None
        if incident is None or not self._visible(incident, role, patients):
            return FakeApi.error(404, "not_found", "No encontrado.")
        if len(parts) == 4 and method == "GET":
            return ok(incident.model_dump(mode="json"))
        if len(parts) == 6 and parts[4] == "photos" and method == "GET":
            data = self.photo_bytes.get(parts[5])
            if data is None or parts[5] not in {p.id for p in incident.photos}:
                return FakeApi.error(404, "photo_not_found", "No se encontró la foto.")
            self.photo_reads.append(parts[5])
            kind = "image/png" if data.startswith(b"\x89PNG") else "image/jpeg"
            return httpx.Response(200, content=data, headers={"Content-Type": kind})
        if len(parts) == 5 and parts[4] == "photos" and method == "POST":
            return self._photo(incident, request, role)
        now = _now()
        if len(parts) == 5 and parts[4] == "responses" and method == "POST":
            if role != "case_desk":
                return FakeApi.error(403, "forbidden", "Sin permiso.")
            body = contract.ReplyCreate.model_validate_json(request.content)
            if body.resolves and len(body.message.strip()) < 10:
                return FakeApi.error(422, "answer_required",
                                     "Para marcarlo como atendido escribe una respuesta concreta.")
            reply = contract.IncidentReply(author_role="case_desk", author_label="Módulo de atención",
                                           message=body.message, created_at=now, resolves=body.resolves)
            changes: dict[str, object] = {"responses": [*incident.responses, reply], "updated_at": now,
                                          "status": "atendida" if body.resolves else "en_atencion",
                                          "first_response_at": incident.first_response_at or now}
            if body.resolves:
                changes["resolved_at"] = now
            return ok(self._save(self._copy(incident, **changes)).model_dump(mode="json"))
        if len(parts) == 5 and parts[4] == "reopen" and method == "POST":
            if role != "guardian":
                return FakeApi.error(403, "forbidden", "Sin permiso.")
            body = contract.ReopenRequest.model_validate_json(request.content)
            if incident.status != "atendida":
                return FakeApi.error(409, "not_resolved", "El reporte no está atendido.")
            reply = contract.IncidentReply(author_role="guardian", author_label="Familia", message=body.reason,
                                           created_at=now, reopens=True)
            return ok(self._save(self._copy(incident, responses=[*incident.responses, reply], status="reabierta",
                                            updated_at=now, resolved_at=None)).model_dump(mode="json"))
        return FakeApi.error(404, "not_found", "No encontrado.")

    MAX_PHOTOS, PHOTO_MAX_BYTES = 3, 5 * 1024 * 1024

    def _photo(self, incident: contract.Incident, request: httpx.Request, role: str) -> httpx.Response:
        """Like the server: multipart field ``file``, JPEG/PNG by content, 5 MB, 3 per incident, guardian only."""
        if role != "guardian":
            return FakeApi.error(403, "forbidden", "Sin permiso.")
        data = _multipart_file(request)
        if data is None:
            return FakeApi.error(422, "validation_error", "Falta el archivo.")
        if len(data) > self.PHOTO_MAX_BYTES:
            return FakeApi.error(413, "photo_too_large", "La foto pesa más de 5 MB.")
        if not (data.startswith(b"\xff\xd8\xff") or data.startswith(b"\x89PNG\r\n\x1a\n")):
            return FakeApi.error(415, "unsupported_media_type", "La foto debe ser una imagen JPEG o PNG.")
        if len(incident.photos) >= self.MAX_PHOTOS:
            return FakeApi.error(409, "too_many_photos", "El caso ya tiene 3 fotos, el máximo permitido.")
        photo_id = f"ph-{uuid.uuid4().hex[:10]}"
        kind = "image/png" if data.startswith(b"\x89PNG") else "image/jpeg"
        self.photo_bytes[photo_id] = data
        self.photos_stored += 1
        photo = contract.IncidentPhoto(id=photo_id, content_type=kind, size=len(data),
                                       url=f"/api/v1/incidents/{incident.id}/photos/{photo_id}")
        saved = self._save(self._copy(incident, photos=[*incident.photos, photo], updated_at=_now()))
        return httpx.Response(201, json=saved.model_dump(mode="json"))

    def _create(self, request: httpx.Request, role: str, patients: list[str]) -> httpx.Response:
        if role != "guardian":
            return FakeApi.error(403, "forbidden", "Solo familias.")
        try:
            body = contract.IncidentCreate.model_validate_json(request.content)
        except ValueError:
            return FakeApi.error(422, "validation_error", "Datos no válidos.")
        if body.patient_id not in patients:
            return FakeApi.error(404, "not_found", "Paciente no encontrado.")
        if body.category in ("medicamento", "insumo") and not body.item_name:
            return FakeApi.error(422, "item_name_required", "Escribe qué medicamento o insumo falta.")
        if body.unit_id is not None and body.unit_id not in self.UNITS:
            return FakeApi.error(422, "unknown_unit", "Esa unidad no existe.")
        self.created += 1
        incident = self.add(body.patient_id, body.category.value, body.description, item_name=body.item_name,
                            unit=self.UNITS.get(body.unit_id or UNIT.id, UNIT))
        return httpx.Response(201, json=incident.model_dump(mode="json"))

    def weekly(self, monday: date) -> contract.WeeklyFigures:
        sunday = monday + timedelta(days=6)
        rows = [i for i in self.rows.values() if monday <= i.created_at.astimezone(MX_TZ).date() <= sunday]
        by_category: dict[str, int] = {}
        by_status: dict[str, int] = {}
        shortages: dict[tuple[str, str], int] = {}
        for i in rows:
            by_category[i.category.value] = by_category.get(i.category.value, 0) + 1
            by_status[i.status.value] = by_status.get(i.status.value, 0) + 1
            if i.item_name:
                shortages[(i.unit.name, i.item_name)] = shortages.get((i.unit.name, i.item_name), 0) + 1
        return contract.WeeklyFigures(
            week_start=monday, week_end=sunday, new_patients=0, incidents_new=len(rows), by_category=by_category,
            by_status=by_status, median_hours_to_first_answer=None, median_hours_to_atendida=None,
            overdue=sum(1 for i in rows if i.overdue),
            shortages=[contract.ShortageCount(unit_name=u, item_name=n, count=c) for (u, n), c in shortages.items()])


class FakePharmacy:
    """The pharmacy counter's endpoints: trust bundle, verify (with what was dispensed), dispensations.

    Like the server: a cycle is dispensed at most once (409 ``already_dispensed`` carrying the first
    dispensation: who and when); a revoked, expired or forged token is refused (422 ``token_revoked`` /
    ``token_expired`` / ``token_invalid``), a cycle the token does not cover too (422
    ``cycle_not_in_token``), an item that is not one of the cycle's drugs too (422 ``unknown_item``);
    ``Idempotency-Key`` replays the stored answer. Pharmacy and admin only (403 otherwise).
    """

    MAX_AGE = 3600

    def __init__(self, api: FakeApi) -> None:
        self.api = api
        self.revoked: set[str] = set()
        #: (patient id, cycle id) -> the dispensation
        self.dispensed: dict[tuple[str, str], contract.Dispensation] = {}
        self.idempotency: dict[str, tuple[str, int, object]] = {}
        self.created = 0
        self.trust_fetches = 0
        self.verifies = 0

    def revoke_patient(self, patient_id: str, token: str) -> None:
        """Revoke a token (the test knows which tokens it handed out)."""
        claims = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "==="))
        assert claims["sub"] == patient_id
        self.revoked.add(claims["jti"])

    def bundle(self) -> contract.TrustBundle:
        return contract.TrustBundle(issuer=ISSUER, keys=list(self.api.jwks()["keys"]), revoked=sorted(self.revoked),
                                    generated_at=_now(), max_age=self.MAX_AGE)

    def _check(self, token: str) -> tuple[contract.VerifyReason | None, dict[str, object]]:
        result = verify(token, self.api.jwks(), issuer=ISSUER, revoked_jtis=self.revoked)
        return result.reason, dict(result.claims)

    def handle(self, request: httpx.Request, role: str, name: str) -> httpx.Response:
        if role not in ("pharmacy", "admin"):
            return FakeApi.error(403, "forbidden", "Solo farmacia.")
        path, method = request.url.path, request.method
        if path == "/api/v1/pharmacy/trust" and method == "GET":
            self.trust_fetches += 1
            return httpx.Response(200, json=self.bundle().model_dump(mode="json"))
        if path == "/api/v1/pharmacy/verify" and method == "POST":
            self.verifies += 1
            return self._verify(contract.VerifyRequest.model_validate_json(request.content).token)
        if path == "/api/v1/pharmacy/dispensations" and method == "POST":
            key = request.headers.get("Idempotency-Key")
            digest = hashlib.sha256(request.content).hexdigest()
            if key and key in self.idempotency:
                stored = self.idempotency[key]
                if stored[0] != digest:
                    return FakeApi.error(422, "idempotency_key_reused", "La clave ya se usó con otros datos.")
                return httpx.Response(stored[1], json=stored[2])
            answer = self._dispense(request, name)
            if key and answer.status_code < 500:
                self.idempotency[key] = (digest, answer.status_code, answer.json())
            return answer
        return FakeApi.error(404, "not_found", "No encontrado.")

    def _verify(self, token: str) -> httpx.Response:
        reason, claims = self._check(token)
        exp = claims.get("exp")
        expires_at = datetime.fromtimestamp(exp, UTC) if isinstance(exp, int) else None
        if reason is not None:
            body = contract.VerifyResponse(valid=False, reason=reason, message=f"No válido: {reason.value}",
                                           expires_at=expires_at)
            return httpx.Response(200, json=body.model_dump(mode="json"))
        patient_id = str(claims["sub"])
        carnet = self.api.carnet(patient_id)
        wanted = [str(c) for c in claims["cyc"]]  # type: ignore[union-attr]
        due = []
        for cycle in carnet.cycles:
            if cycle.id in wanted:
                done = self.dispensed.get((patient_id, cycle.id))
                due.append(cycle.model_copy(update={"dispensed_at": done.dispensed_at if done else None}))
        body = contract.VerifyResponse(
            valid=True, message="Carnet auténtico y vigente.", expires_at=expires_at,
            patient=contract.VerifyPatient(id=patient_id, display_name=PATIENTS[patient_id][1], unit=UNIT),
            due=due, dispensations=[d for (p, _), d in self.dispensed.items() if p == patient_id])
        return httpx.Response(200, json=body.model_dump(mode="json"))

    def _dispense(self, request: httpx.Request, name: str) -> httpx.Response:
        try:
            body = contract.DispensationCreate.model_validate_json(request.content)
        except ValueError:
            return FakeApi.error(422, "validation_error", "Datos no válidos.")
        reason, claims = self._check(body.token)
        if reason is contract.VerifyReason.REVOKED:
            return FakeApi.error(422, "token_revoked", "Este código fue revocado: el carnet se reemplazó.")
        if reason is contract.VerifyReason.EXPIRED:
            return FakeApi.error(422, "token_expired", "Este código venció.")
        if reason is not None:
            return FakeApi.error(422, "token_invalid", "Este código no es válido.")
        patient_id = str(claims["sub"])
        if body.cycle_id not in claims["cyc"]:  # type: ignore[operator]
            return FakeApi.error(422, "cycle_not_in_token", "Ese ciclo no está en este código.")
        cycle = next(c for c in self.api.carnet(patient_id).cycles if c.id == body.cycle_id)
        names = body.items or [d.name for d in cycle.drugs]
        unknown = [n for n in names if n not in {d.name for d in cycle.drugs}]
        if unknown:
            return FakeApi.error(422, "unknown_item", f"{unknown[0]} no es de este ciclo.")
        first = self.dispensed.get((patient_id, cycle.id))
        if first is not None:
            return httpx.Response(409, json={"error": {
                "code": "already_dispensed", "message": "Este ciclo ya se surtió.",
                "dispensation": first.model_dump(mode="json")}})
        self.created += 1
        done = contract.Dispensation(id=f"d-{uuid.uuid4().hex[:10]}", patient_id=patient_id, cycle_id=cycle.id,
                                     cycle_number=cycle.number, items=[d for d in cycle.drugs if d.name in names],
                                     dispensed_at=_now(), dispensed_by=name)
        self.dispensed[(patient_id, cycle.id)] = done
        return httpx.Response(201, json=done.model_dump(mode="json"))
