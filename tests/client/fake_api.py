"""A fake Carnet API behind ``httpx.MockTransport``: a real transport, fake data.

It speaks the contract (same JSON models), signs the QR token with a real
Ed25519 key, rotates refresh tokens, and can be switched offline or made to
answer errors, so client code is tested through its real interface.

The agenda half keeps appointments with a change sequence (tombstones for
deletions), answers ``GET /sync`` in pages with a per-user cursor, an ETag
and 304, refuses a cursor from another user with ``422 invalid_cursor``, and
replays ``Idempotency-Key`` answers like the real server.
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

from carnet import contract
from carnet.qrtoken import verify

BASE = "http://api.test"
ISSUER = BASE
UNIT = contract.Unit(id="u1", name="UMAE Hospital de Pediatría CMN Siglo XXI", level="umae", state="CDMX")

USERS = {
    "madre.demo": ("guardian", "María Hernández", ["p-mateo", "p-valentina"]),
    "padre.demo": ("guardian", "José Ramírez", ["p-santiago"]),
    "farmacia.demo": ("pharmacy", "Farmacia UMAE", []),
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

    # ---- helpers for tests --------------------------------------------------------

    def expire_access_tokens(self) -> None:
        self.access.clear()

    def revoke_all(self) -> None:
        self.access.clear()
        self.refresh.clear()

    def jwks(self) -> dict[str, object]:
        raw = self.key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        return {"keys": [{"kty": "OKP", "crv": "Ed25519", "kid": self.kid, "x": _b64(raw)}]}

    def sign(self, patient_id: str) -> str:
        now = int(time.time())
        header = _b64(json.dumps({"alg": "EdDSA", "kid": self.kid}).encode())
        claims = _b64(json.dumps({"iss": ISSUER, "sub": patient_id, "cyc": ["c2"], "iat": now,
                                  "nbf": now, "exp": now + 86400 * 7, "jti": f"j{now}"}).encode())
        sig = _b64(self.key.sign(f"{header}.{claims}".encode()))
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
            if body.get("username") in USERS and body.get("password") == PASSWORD:
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
        if path == "/api/v1/pharmacy/verify" and method == "POST":
            if role != "pharmacy":
                return self.error(403, "forbidden", "Solo farmacia.")
            result = verify(json.loads(request.content)["token"], self.jwks())
            body = contract.VerifyResponse(valid=result.valid, reason=result.reason)
            return httpx.Response(200, json=body.model_dump(mode="json"))
        if path == "/api/v1/me":
            me = contract.Me(id=f"id-{username}", role=role, display_name=name,
                             patients=[contract.PatientRef(id=p, display_name=PATIENTS[p][1]) for p in patients])
            return httpx.Response(200, json=me.model_dump(mode="json"))
        if path.startswith("/api/v1/patients/") and path.endswith("/carnet"):
            patient_id = path.split("/")[4]
            if patient_id not in patients:
                return self.error(404, "not_found", "No encontrado.")
            return httpx.Response(200, json=self.carnet(patient_id).model_dump(mode="json"))
        answer = self.agenda.handle(request, username, patients)
        if answer is not None:
            return answer
        return self.error(404, "not_found", "No encontrado.")


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
        return {rid: data for rid, (_, data, patient) in self.rows.items() if data is not None and patient in patients}

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
        changes = [{"type": "appointment", "id": rid, "op": "upsert" if data else "delete", "data": data}
                   for _, rid, data in page]
        body = {"cursor": f"{username}:{last}", "has_more": more, "reset": reset, "changes": changes}
        # Like the real server: a strong ETag of the body, so an unchanged answer gets 304.
        etag = '"' + hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:32] + '"'
        if request.headers.get("If-None-Match") == etag:
            return httpx.Response(304, headers={"ETag": etag})
        return httpx.Response(200, json=body, headers={"ETag": etag})
