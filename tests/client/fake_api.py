"""A fake Carnet API behind ``httpx.MockTransport``: a real transport, fake data.

It speaks the contract (same JSON models), signs the QR token with a real
Ed25519 key, rotates refresh tokens, and can be switched offline or made to
answer errors, so client code is tested through its real interface.
"""

from __future__ import annotations

import base64
import json
import time
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
        return self.error(404, "not_found", "No encontrado.")
