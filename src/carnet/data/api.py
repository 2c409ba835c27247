"""The HTTP client of the Carnet API (the only module that touches httpx).

Every failure leaves this module as one of these exceptions::

    ApiError                      anything that went wrong talking to the API
     ├── NetworkError             no answer: offline, DNS, refused, timeout
     ├── ProtocolError            an answer that isn't the contract (bad JSON)
     └── HttpError                an error answer {"error": {"code", "message"}}
          ├── BadRequest          400 / 422 — ``message`` is the server's, localized
          ├── AuthError           401 — bad credentials, or the session ended
          ├── Forbidden           403 — wrong role
          │    └── PrivacyNoticeRequired  403 ``privacy_notice_required``: accept the privacy notice first
          ├── NotFound            404
          ├── Conflict            409
          ├── RateLimited         429 — ``retry_after`` seconds (Retry-After)
          └── ServerError         5xx — ``retry_after`` too when the server sent one

Every HttpError carries ``retry_after`` (None without a Retry-After header).

A request with a bearer token that gets 401 is refreshed once, transparently,
with the stored refresh token (which rotates: the new pair is handed to
``on_tokens`` to be stored), then repeated once. A 403 ``privacy_notice_required`` (a guardian who has not
accepted the current privacy notice) is handed to ``on_privacy_required``
before it is raised, whichever call met it. Only GETs are retried on
network errors, a bounded number of times with backoff; login is never
repeated behind the user's back. Writes from the outbox (:meth:`ApiClient.send_write`)
are never repeated here either: the sync engine owns their retries, each with
its ``Idempotency-Key``.
"""

from __future__ import annotations

import asyncio
import email.message
import email.utils
import hashlib
import math
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ValidationError

from carnet_contract import chemotherapy as chemo
from carnet_contract import enrolment as wire
from carnet_contract import models as contract

__all__ = [
    "ApiClient",
    "ApiError",
    "AuthError",
    "BadRequest",
    "Conflict",
    "Forbidden",
    "HttpError",
    "NetworkError",
    "NotFound",
    "PrivacyNoticeRequired",
    "ProtocolError",
    "READ_KINDS",
    "REMINDERS_PATH",
    "RateLimited",
    "ServerError",
    "SyncAnswer",
    "Tokens",
    "export_file_name",
]

M = TypeVar("M", bound=BaseModel)


class ApiError(Exception):
    """Base of every error raised by :class:`ApiClient`."""


class NetworkError(ApiError):
    """The server could not be reached or did not answer in time."""


class ProtocolError(ApiError):
    """The server answered something that does not follow the contract."""


class HttpError(ApiError):
    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        retry_after: float | None = None,
        reasons: tuple[contract.ErrorReason, ...] = (),
        dispensation: contract.Dispensation | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.retry_after = retry_after
        #: Every reason when the server gave several (422 ``donor_not_eligible``).
        self.reasons = reasons
        #: 409 ``already_dispensed``: the first dispensation of the cycle (who and when).
        self.dispensation = dispensation
        #: What else the error said beside code and message (422 ``field``/``fields``, 409 ``patient_id``,
        #: ``similar``), as sent.
        self.details: dict[str, Any] = details or {}


class BadRequest(HttpError):
    pass


class AuthError(HttpError):
    pass


class Forbidden(HttpError):
    pass


class PrivacyNoticeRequired(Forbidden):
    """403 ``privacy_notice_required``: the guardian has not accepted the current privacy notice."""


class NotFound(HttpError):
    pass


class Conflict(HttpError):
    pass


class RateLimited(HttpError):
    pass


class ServerError(HttpError):
    pass


_BY_STATUS: dict[int, type[HttpError]] = {
    400: BadRequest,
    422: BadRequest,
    401: AuthError,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
}


@dataclass(frozen=True)
class SyncAnswer:
    """One answer of GET /api/v1/sync: a page, or None when the server said 304."""

    page: contract.SyncPage | None
    etag: str | None


@dataclass(frozen=True)
class Tokens:
    access_token: str
    refresh_token: str


TokensCallback = Callable[[contract.TokenResponse], Awaitable[None]]
PrivacyCallback = Callable[[], Awaitable[None]]
#: What a privacy export is called when the server names no file.
EXPORT_FALLBACK_NAME = "carnet-mis-datos.json"
#: GET / PUT the reminder kinds a guardian chose (the PUT goes through the outbox: :mod:`carnet.reminders`).
REMINDERS_PATH = "/api/v1/me/reminders"


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds from a Retry-After header: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def _error_from(response: httpx.Response) -> HttpError:
    code, message = "http_error", response.reason_phrase or str(response.status_code)
    reasons: tuple[contract.ErrorReason, ...] = ()
    dispensation: contract.Dispensation | None = None
    details: dict[str, Any] = {}
    try:
        body = contract.ErrorBody.model_validate_json(response.content)
        code, message = body.error.code, body.error.message
        reasons = tuple(body.error.reasons or ())
        dispensation = body.error.dispensation
        raw = response.json().get("error")
        if isinstance(raw, dict):
            details = {k: v for k, v in raw.items() if k not in ("code", "message", "reasons", "dispensation")}
    except (ValidationError, ValueError, AttributeError):
        pass
    status = response.status_code
    retry_after = parse_retry_after(response.headers.get("Retry-After"))
    if status == 429:
        return RateLimited(status, code, message, retry_after)
    if status >= 500:
        return ServerError(status, code, message, retry_after)
    if status == 403 and code == "privacy_notice_required":
        return PrivacyNoticeRequired(status, code, message, retry_after)
    return _BY_STATUS.get(status, BadRequest)(status, code, message, retry_after, reasons, dispensation, details)


def default_backoff(attempt: int) -> float:
    """Seconds to wait before retry number ``attempt`` (1-based): 0.5, 1, 2…"""
    return min(4.0, 0.5 * 2.0 ** (attempt - 1))


class ApiClient:
    """Async client of the Carnet API; one per app session."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 10.0,
        locale: str = "es-MX",
        tokens: Tokens | None = None,
        on_tokens: TokensCallback | None = None,
        on_privacy_required: PrivacyCallback | None = None,
        get_retries: int = 2,
        backoff: Callable[[int], float] = default_backoff,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.locale = locale
        self.tokens = tokens
        self.on_tokens = on_tokens
        #: Awaited when any call answers 403 ``privacy_notice_required`` (then the error is raised).
        self.on_privacy_required = on_privacy_required
        self._get_retries = get_retries
        self._backoff = backoff
        self._refresh_lock = asyncio.Lock()
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
            transport=transport,
            headers={"Accept": "application/json", "User-Agent": "carnet-app/0.1"},
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    # ---- endpoints ---------------------------------------------------------

    async def login(self, username: str, password: str) -> contract.TokenResponse:
        body = contract.LoginRequest(username=username, password=password)
        response = await self._send("POST", "/api/v1/auth/login", json=body.model_dump(), retry=False)
        tokens = self._parse(response, contract.TokenResponse)
        await self._adopt(tokens)
        return tokens

    async def refresh(self) -> contract.TokenResponse:
        """Trade the refresh token for a new pair (it rotates: the old one dies)."""
        if self.tokens is None:
            raise AuthError(401, "no_session", "no refresh token")
        body = contract.RefreshRequest(refresh_token=self.tokens.refresh_token)
        response = await self._send("POST", "/api/v1/auth/refresh", json=body.model_dump(), retry=False)
        tokens = self._parse(response, contract.TokenResponse)
        await self._adopt(tokens)
        return tokens

    async def logout(self) -> None:
        try:
            await self._authed("POST", "/api/v1/auth/logout")
        finally:
            self.tokens = None

    async def me(self) -> contract.Me:
        return self._parse(await self._authed("GET", "/api/v1/me"), contract.Me)

    async def carnet(self, patient_id: str) -> contract.Carnet:
        path = f"/api/v1/patients/{quote(patient_id, safe='')}/carnet"
        return self._parse(await self._authed("GET", path), contract.Carnet)

    async def sync(self, cursor: str = "", *, limit: int = 200, etag: str | None = None) -> SyncAnswer:
        """One page of changes after ``cursor``; ``etag`` asks for 304 when nothing changed."""
        headers = {"If-None-Match": etag} if etag else None
        response = await self._authed(
            "GET", "/api/v1/sync", params={"cursor": cursor, "limit": limit}, headers=headers, ok_statuses=(304,)
        )
        if response.status_code == 304:
            return SyncAnswer(None, etag)
        return SyncAnswer(self._parse(response, contract.SyncPage), response.headers.get("ETag"))

    async def send_write(self, method: str, path: str, body: dict[str, Any] | None, *, idempotency_key: str) -> Any:
        """One outbox write, sent once (no retry here); the JSON answer, or None (204)."""
        kwargs: dict[str, Any] = {"headers": {"Idempotency-Key": idempotency_key}}
        if body is not None:
            kwargs["json"] = body
        response = await self._authed(method, path, **kwargs)
        if response.status_code == 204 or not response.content:
            return None
        return self._json(response)

    async def appointments(
        self, patient_id: str, *, start: datetime | None = None, end: datetime | None = None
    ) -> list[contract.Appointment]:
        params = {k: v.isoformat() for k, v in (("from", start), ("to", end)) if v is not None}
        path = f"/api/v1/patients/{quote(patient_id, safe='')}/appointments"
        data = self._json(await self._authed("GET", path, params=params))
        if not isinstance(data, list):
            raise ProtocolError(f"{path}: not a list")
        try:
            return [contract.Appointment.model_validate(item) for item in data]
        except ValidationError as exc:
            raise ProtocolError(f"{path}: {exc.error_count()} invalid fields") from exc

    # ---- blood bank --------------------------------------------------------

    async def blood_banks(self) -> list[contract.BloodBank]:
        return await self._list("/api/v1/blood-banks", contract.BloodBank)

    async def slots(self, bank_id: str, day: date) -> list[contract.Slot]:
        path = f"/api/v1/blood-banks/{quote(bank_id, safe='')}/slots"
        return await self._list(path, contract.Slot, params={"date": day.isoformat()})

    async def questionnaire(self) -> list[contract.Question]:
        return await self._list("/api/v1/blood-bank/questionnaire", contract.Question)

    async def bookings(self, patient_id: str) -> list[contract.Booking]:
        return await self._list("/api/v1/blood-bank/bookings", contract.Booking, params={"patient_id": patient_id})

    async def bank_bookings(self, bank_id: str, day: date) -> list[contract.StaffBooking]:
        """Staff: the bank's bookings of one day."""
        path = f"/api/v1/blood-banks/{quote(bank_id, safe='')}/bookings"
        return await self._list(path, contract.StaffBooking, params={"date": day.isoformat()})

    async def donor_counts(self, bank_id: str, start: date, end: date) -> list[contract.DonorCount]:
        """Staff: donors booked and donors who came, per child, from ``start`` to ``end`` (dates, inclusive)."""
        path = f"/api/v1/blood-banks/{quote(bank_id, safe='')}/donor-counts"
        return await self._list(path, contract.DonorCount, params={"from": start.isoformat(), "to": end.isoformat()})

    async def booking_action(
        self,
        booking_id: str,
        action: str,
        body: contract.CheckInRequest | contract.UndoCheckInRequest | None = None,
    ) -> contract.Booking:
        """Staff: ``check-in`` (``body``: the reason for a check-in on another day), ``no-show`` or
        ``undo-check-in`` (``body``: why), online (never queued: a counter device keeps no outbox)."""
        if action not in ("check-in", "no-show", "undo-check-in"):
            raise ValueError(action)
        path = f"/api/v1/blood-bank/bookings/{quote(booking_id, safe='')}/{action}"
        json = body.model_dump(mode="json", exclude_none=True) if body is not None else None
        return self._parse(await self._authed("POST", path, json=json), contract.Booking)

    # ---- incidents (case desk, online) ----------------------------------------

    async def incidents(self, **filters: str | None) -> list[contract.StaffIncident]:
        """``patient_id``, ``status``, ``category``, ``unit_id``: the ones given filter the list (each with the
        child's name: staff only)."""
        params = {k: v for k, v in filters.items() if v}
        return await self._list("/api/v1/incidents", contract.StaffIncident, params=params)

    async def incident(self, incident_id: str) -> contract.StaffIncident:
        path = f"/api/v1/incidents/{quote(incident_id, safe='')}"
        return self._parse(await self._authed("GET", path), contract.StaffIncident)

    async def respond(
        self, incident_id: str, reply: contract.ReplyCreate, *, idempotency_key: str
    ) -> contract.StaffIncident:
        """Case desk: an answer (``resolves`` marks it atendida); sent once, its key makes a retry safe."""
        path = f"/api/v1/incidents/{quote(incident_id, safe='')}/responses"
        response = await self._authed(
            "POST", path, json=reply.model_dump(mode="json"), headers={"Idempotency-Key": idempotency_key}
        )
        return self._parse(response, contract.StaffIncident)

    async def weekly(self, week: date) -> contract.WeeklyFigures:
        response = await self._authed("GET", "/api/v1/case-desk/weekly", params={"week": week.isoformat()})
        return self._parse(response, contract.WeeklyFigures)

    async def weekly_export(self, week: date, kind: str) -> bytes:
        """Case desk: the week's figures as ``csv`` (a table) or ``md`` (the Spanish summary), as sent."""
        if kind not in ("csv", "md"):
            raise ValueError(kind)
        response = await self._authed(
            "GET",
            f"/api/v1/case-desk/weekly.{kind}",
            params={"week": week.isoformat()},
            headers={"Accept": "text/csv" if kind == "csv" else "text/markdown"},
        )
        return response.content

    async def upload_photo(
        self, path: str, data: bytes, *, content_type: str, file_name: str, idempotency_key: str
    ) -> Any:
        """One outbox photo (multipart field ``file``), sent once; the JSON answer (the ``Incident``).

        The multipart boundary is made from the key, so a retry sends the very same bytes and the server's
        ``Idempotency-Key`` check replays its stored answer instead of storing the photo twice.
        """
        boundary = "carnet-" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:40]
        headers = {"Idempotency-Key": idempotency_key, "Content-Type": f"multipart/form-data; boundary={boundary}"}
        response = await self._authed("POST", path, files={"file": (file_name, data, content_type)}, headers=headers)
        return self._json(response)

    async def incident_photo(self, url: str) -> bytes:
        """A photo of an incident (``IncidentPhoto.url``, a path under the API), with the user's authorisation."""
        if not url.startswith("/api/v1/incidents/") or "//" in url or ".." in url:
            raise ProtocolError("photo url outside the API")  # never send the token elsewhere
        response = await self._authed("GET", url, headers={"Accept": "image/jpeg, image/png"})
        if response.headers.get("content-type", "").split(";")[0].strip() not in ("image/jpeg", "image/png"):
            raise ProtocolError(f"{url}: not an image")
        return response.content

    # ---- pharmacy counter (online) --------------------------------------------------

    async def trust_bundle(self) -> contract.TrustBundle:
        """Pharmacy, admin: the keys and revoked token ids to verify QR codes offline."""
        return self._parse(await self._authed("GET", "/api/v1/pharmacy/trust"), contract.TrustBundle)

    async def pharmacy_verify(self, scanned: str) -> contract.VerifyResponse:
        """The server's verdict on a scanned QR (token or URL): the child, the cycles due, what was dispensed."""
        body = contract.VerifyRequest(token=scanned)
        response = await self._authed("POST", "/api/v1/pharmacy/verify", json=body.model_dump())
        return self._parse(response, contract.VerifyResponse)

    async def emergency_verify(self, scanned: str) -> contract.EmergencyVerifyResponse:
        """The server's verdict on an emergency card's QR (token or URL), with the card when the caller may see it."""
        body = contract.EmergencyVerifyRequest(token=scanned)
        response = await self._authed("POST", "/api/v1/emergency-cards/verify", json=body.model_dump())
        return self._parse(response, contract.EmergencyVerifyResponse)

    async def dispense(self, body: contract.DispensationCreate, *, idempotency_key: str) -> contract.Dispensation:
        """Record a cycle as dispensed; sent once (its key makes a retry safe). 409 carries the first one."""
        response = await self._authed(
            "POST",
            "/api/v1/pharmacy/dispensations",
            json=body.model_dump(mode="json", exclude_none=True),
            headers={"Idempotency-Key": idempotency_key},
        )
        return self._parse(response, contract.Dispensation)

    # ---- account and privacy ----------------------------------------------------------

    async def change_password(self, current_password: str, new_password: str) -> None:
        """Any role: 204, and the server ends every session of the account (this one too: log in again).

        422 ``wrong_current_password``, ``password_too_short``, ``password_is_username``,
        ``password_unchanged``; 429 when throttled. Never repeated here.
        """
        body = contract.PasswordChange(current_password=current_password, new_password=new_password)
        await self._authed("POST", "/api/v1/auth/password", json=body.model_dump())
        self.tokens = None

    async def privacy_notice(self) -> contract.PrivacyNotice:
        """The current privacy notice in the app's language (public: no session needed)."""
        response = await self._send("GET", "/api/v1/privacy/notice", retry=True)
        return self._parse(response, contract.PrivacyNotice)

    async def accept_privacy(self, version: str) -> contract.PrivacyStatus:
        """Accept this version of the notice; 409 ``privacy_version_outdated`` when a newer one exists."""
        body = contract.PrivacyAcceptanceCreate(version=version)
        response = await self._authed("POST", "/api/v1/privacy/acceptance", json=body.model_dump())
        return self._parse(response, contract.PrivacyStatus)

    async def privacy_export(self) -> tuple[str, bytes]:
        """Everything the server holds about the guardian and their children, as a JSON file:
        ``(file name, bytes as sent)``. The name comes from ``Content-Disposition`` (reduced to a safe
        base name); bytes that are not JSON are a :class:`ProtocolError`."""
        response = await self._authed("GET", "/api/v1/privacy/export")
        self._json(response)  # it must be the JSON document it claims to be
        return export_file_name(response.headers.get("Content-Disposition")), response.content

    async def request_closure(self, reason: str | None = None) -> contract.ClosureRequest:
        """Ask the hospital to close the account (201 new, 200 the open one again)."""
        body = contract.ClosureRequestCreate(reason=reason or None)
        response = await self._authed(
            "POST", "/api/v1/privacy/closure-request", json=body.model_dump(exclude_none=True)
        )
        return self._parse(response, contract.ClosureRequest)

    async def cancel_closure(self) -> contract.ClosureRequest:
        """Withdraw the open closure request (``cancelada``); 404 ``closure_request_not_found`` if none."""
        response = await self._authed("POST", "/api/v1/privacy/closure-request/cancel")
        return self._parse(response, contract.ClosureRequest)

    # ---- WhatsApp link and reminder preferences (guardians) ------------------------------------

    async def whatsapp_link_code(self) -> contract.WhatsAppLinkCode:
        """A new code to send to the bot from the family's WhatsApp (201; never repeated here)."""
        response = await self._authed("POST", "/api/v1/me/whatsapp/link-code")
        return self._parse(response, contract.WhatsAppLinkCode)

    async def whatsapp_link(self) -> contract.WhatsAppLink:
        """Whether a WhatsApp number gets this account's information (the number masked)."""
        return self._parse(await self._authed("GET", "/api/v1/me/whatsapp"), contract.WhatsAppLink)

    async def whatsapp_unlink(self) -> None:
        """End the link (204; idempotent)."""
        await self._authed("DELETE", "/api/v1/me/whatsapp")

    async def whatsapp_unlink_number(self, phone: str) -> None:
        """Case desk: end a number's WhatsApp link (a lost phone, the family's call); 404 when it is not linked."""
        body = contract.WhatsAppUnlink(phone=phone).model_dump(mode="json")
        await self._authed("POST", "/api/v1/whatsapp/unlink", json=body)

    async def reminder_preferences(self) -> contract.ReminderPreferences:
        """The reminder kinds chosen (every kind for an account that never chose)."""
        response = await self._authed("GET", REMINDERS_PATH)
        try:
            return contract.ReminderPreferences.model_validate_json(response.content, context=READ_KINDS)
        except ValidationError as exc:
            raise ProtocolError(f"{response.request.url.path}: {exc.error_count()} invalid fields") from exc

    # ---- enrolment: activation codes (families), the registry (oncology) ----------------------

    async def activate(self, code: str, username: str, password: str) -> contract.TokenResponse:
        """No session: an activation code and the chosen username and password → a login answer (never repeated)."""
        body = wire.ActivationRequest(code=code, username=username, password=password)
        response = await self._send("POST", "/api/v1/auth/activate", json=body.model_dump(), retry=False)
        tokens = self._parse(response, contract.TokenResponse)
        await self._adopt(tokens)
        return tokens

    async def link_child(self, code: str) -> wire.LinkedPatient:
        """A guardian: link one more child with its activation code."""
        body = wire.ActivationLink(code=code)
        response = await self._authed("POST", "/api/v1/me/activation", json=body.model_dump())
        return self._parse(response, wire.LinkedPatient)

    async def guardians(self, patient_id: str) -> list[wire.GuardianOut]:
        """Who has access to the child (its guardians; staff see the phones too)."""
        return await self._list(f"{self._patient(patient_id)}/guardians", wire.GuardianOut)

    async def diagnoses(self) -> list[wire.DiagnosisEntry]:
        return await self._list("/api/v1/registry/diagnoses", wire.DiagnosisEntry)

    async def units(self) -> list[contract.Unit]:
        return await self._list("/api/v1/units", contract.Unit)

    async def search_patients(self, query: str) -> list[wire.PatientRecord]:
        return await self._list("/api/v1/patients", wire.PatientRecord, params={"q": query})

    async def patient(self, patient_id: str) -> wire.PatientRecord:
        return self._parse(await self._authed("GET", self._patient(patient_id)), wire.PatientRecord)

    async def register_patient(self, body: wire.PatientCreate, *, idempotency_key: str) -> wire.PatientRecord:
        """Register a child; sent once (its key makes a retry safe). 409 ``patient_exists`` / ``patient_similar``."""
        response = await self._authed(
            "POST",
            "/api/v1/patients",
            json=body.model_dump(mode="json", exclude_none=True),
            headers={"Idempotency-Key": idempotency_key},
        )
        return self._parse(response, wire.PatientRecord)

    async def correct_patient(self, patient_id: str, body: wire.PatientUpdate) -> wire.PatientRecord:
        """A correction: only the fields given change (``null`` clears an optional one); each change is kept."""
        response = await self._authed(
            "PATCH", self._patient(patient_id), json=body.model_dump(mode="json", exclude_unset=True)
        )
        return self._parse(response, wire.PatientRecord)

    # ---- the chemotherapy plan ----------------------------------------------------------------------

    async def protocols(self) -> chemo.Catalogue:
        return self._parse(await self._authed("GET", "/api/v1/protocols"), chemo.Catalogue)

    async def load_regimen(self, body: chemo.RegimenIn, *, idempotency_key: str) -> chemo.Regimen:
        """An administrator loads a protocol: a new code, or its code's next version."""
        response = await self._authed(
            "POST", "/api/v1/protocols", json=body.model_dump(mode="json"), headers={"Idempotency-Key": idempotency_key}
        )
        return self._parse(response, chemo.Regimen)

    async def create_appointment(
        self, patient_id: str, body: contract.AppointmentCreate, *, idempotency_key: str
    ) -> contract.Appointment:
        """Staff schedule a hospital appointment for the child (the family's phone gets it at its next sync)."""
        response = await self._authed(
            "POST",
            f"{self._patient(patient_id)}/appointments",
            json=body.model_dump(mode="json", exclude_none=True),
            headers={"Idempotency-Key": idempotency_key},
        )
        return self._parse(response, contract.Appointment)

    async def chemotherapy_plan(self, patient_id: str) -> chemo.ChemotherapyPlan:
        return self._parse(
            await self._authed("GET", f"{self._patient(patient_id)}/chemotherapy"), chemo.ChemotherapyPlan
        )

    async def prescribe(
        self, patient_id: str, body: chemo.CycleCreate, *, idempotency_key: str | None = None
    ) -> chemo.PrescribedCycle:
        """Write a cycle (or, ``dry_run``, compute it). 409 ``measurements_unconfirmed``: confirm and send again."""
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        response = await self._authed(
            "POST", f"{self._patient(patient_id)}/cycles", json=body.model_dump(mode="json"), headers=headers
        )
        return self._parse(response, chemo.PrescribedCycle)

    async def cycle_action(self, cycle_id: str, body: chemo.CycleAction) -> contract.Cycle:
        """A step of a cycle's life on the version seen; 409 ``cycle_changed`` carries the current cycle."""
        response = await self._authed(
            "POST", f"/api/v1/cycles/{quote(cycle_id, safe='')}/actions", json=body.model_dump(mode="json")
        )
        return self._parse(response, contract.Cycle)

    async def corrections(self, patient_id: str) -> list[wire.Correction]:
        return await self._list(f"{self._patient(patient_id)}/corrections", wire.Correction)

    async def refer(self, patient_id: str, unit_id: str) -> wire.PatientRecord:
        """Refer the child to another unit: the record moves with its history."""
        body = wire.ReferralCreate(unit_id=unit_id)
        response = await self._authed("POST", f"{self._patient(patient_id)}/referral", json=body.model_dump())
        return self._parse(response, wire.PatientRecord)

    async def invite_guardian(self, patient_id: str, body: wire.InvitationCreate) -> wire.Invitation:
        """A one-time activation code for a guardian (shown this once)."""
        response = await self._authed(
            "POST", f"{self._patient(patient_id)}/guardian-invitations", json=body.model_dump()
        )
        return self._parse(response, wire.Invitation)

    async def invitations(self, patient_id: str) -> list[wire.InvitationOut]:
        return await self._list(f"{self._patient(patient_id)}/guardian-invitations", wire.InvitationOut)

    async def revoke_invitation(self, patient_id: str, invitation_id: str) -> None:
        path = f"{self._patient(patient_id)}/guardian-invitations/{quote(invitation_id, safe='')}"
        await self._authed("DELETE", path)

    async def reissue_invitation(self, patient_id: str, invitation_id: str) -> wire.Invitation:
        path = f"{self._patient(patient_id)}/guardian-invitations/{quote(invitation_id, safe='')}/reissue"
        return self._parse(await self._authed("POST", path), wire.Invitation)

    async def remove_guardian(self, patient_id: str, user_id: str) -> None:
        await self._authed("DELETE", f"{self._patient(patient_id)}/guardians/{quote(user_id, safe='')}")

    async def registry_figures(self, week: date | None = None) -> wire.RegistryFigures:
        params = {"week": week.isoformat()} if week is not None else None
        return self._parse(await self._authed("GET", "/api/v1/registry/figures", params=params), wire.RegistryFigures)

    async def registry_figures_export(self, week: date, kind: str) -> bytes:
        """The week's registry figures as ``csv`` (a table) or ``md`` (the Spanish summary), as sent."""
        if kind not in ("csv", "md"):
            raise ValueError(kind)
        response = await self._authed(
            "GET",
            f"/api/v1/registry/figures.{kind}",
            params={"week": week.isoformat()},
            headers={"Accept": "text/csv" if kind == "csv" else "text/markdown"},
        )
        return response.content

    async def import_registry(self, file_name: str, data: bytes, *, dry_run: bool) -> wire.ImportResult:
        """Bulk CSV import (multipart field ``file``); ``dry_run`` checks every row and writes nothing. Any
        refused row: 422 ``import_invalid`` with every reason ("Fila N: …")."""
        response = await self._authed(
            "POST",
            "/api/v1/registry/import",
            params={"dry_run": "true" if dry_run else "false"},
            files={"file": (file_name or "pacientes.csv", data, "text/csv")},
        )
        return self._parse(response, wire.ImportResult)

    async def update_unit(self, unit_id: str, body: wire.UnitUpdate) -> contract.Unit:
        path = f"/api/v1/admin/units/{quote(unit_id, safe='')}"
        response = await self._authed("PATCH", path, json=body.model_dump(mode="json", exclude_none=True))
        return self._parse(response, contract.Unit)

    # ---- administration (admin) -------------------------------------------------------------------

    async def admin_staff(self) -> list[wire.StaffAccount]:
        return await self._list("/api/v1/admin/users", wire.StaffAccount)

    async def create_staff(self, body: wire.StaffCreate) -> wire.StaffWithPassword:
        """A staff account; the answer carries its temporary password (shown once)."""
        response = await self._authed("POST", "/api/v1/admin/users", json=body.model_dump(mode="json"))
        return self._parse(response, wire.StaffWithPassword)

    async def update_staff(self, staff_id: str, body: wire.StaffUpdate) -> wire.StaffAccount:
        path = f"/api/v1/admin/users/{quote(staff_id, safe='')}"
        response = await self._authed("PATCH", path, json=body.model_dump(mode="json", exclude_none=True))
        return self._parse(response, wire.StaffAccount)

    async def reset_staff_password(self, staff_id: str) -> wire.StaffWithPassword:
        path = f"/api/v1/admin/users/{quote(staff_id, safe='')}/password-reset"
        return self._parse(await self._authed("POST", path), wire.StaffWithPassword)

    async def create_unit(self, body: wire.UnitCreate) -> contract.Unit:
        response = await self._authed("POST", "/api/v1/admin/units", json=body.model_dump(mode="json"))
        return self._parse(response, contract.Unit)

    # ---- fever (Hora Dorada) ---------------------------------------------------------------------------

    async def emergency_card(self, patient_id: str) -> contract.EmergencyCard:
        response = await self._authed("GET", f"{self._patient(patient_id)}/emergency-card")
        return self._parse(response, contract.EmergencyCard)

    async def ips(self, patient_id: str) -> bytes:
        """The child's FHIR International Patient Summary (a ``Bundle`` document), as sent; not JSON is a
        :class:`ProtocolError`."""
        response = await self._authed(
            "GET", f"{self._patient(patient_id)}/ips", headers={"Accept": "application/fhir+json"}
        )
        self._json(response)
        return response.content

    async def fever_episodes(self, unit_id: str | None = None) -> list[contract.FeverEpisode]:
        """Staff: the open fever episodes of their units, oldest first."""
        params = {"unit_id": unit_id} if unit_id else None
        return await self._list("/api/v1/fever-episodes", contract.FeverEpisode, params=params)

    async def fever_at_unit(
        self, patient_id: str, body: contract.FeverEpisodeAtUnit, *, idempotency_key: str
    ) -> contract.FeverEpisode:
        """Staff: a child came with fever without the family's alert — the episode starts at the arrival. 409
        ``fever_episode_already_open`` carries the open episode's ``episode_id`` in :attr:`HttpError.details`."""
        response = await self._authed(
            "POST",
            f"{self._patient(patient_id)}/fever-episodes/at-unit",
            json=body.model_dump(mode="json", exclude_none=True),
            headers={"Idempotency-Key": idempotency_key},
        )
        return self._parse(response, contract.FeverEpisode)

    async def fever_step(
        self, episode_id: str, body: contract.FeverStep, *, idempotency_key: str
    ) -> contract.FeverEpisode:
        response = await self._authed(
            "POST",
            f"/api/v1/fever-episodes/{quote(episode_id, safe='')}/steps",
            json=body.model_dump(mode="json", exclude_none=True),
            headers={"Idempotency-Key": idempotency_key},
        )
        return self._parse(response, contract.FeverEpisode)

    async def fever_weekly(self, week: date) -> contract.FeverWeeklyFigures:
        response = await self._authed("GET", "/api/v1/fever/weekly", params={"week": week.isoformat()})
        return self._parse(response, contract.FeverWeeklyFigures)

    async def fever_weekly_export(self, week: date, kind: str) -> bytes:
        """The week's fever figures as ``csv`` (a table) or ``md`` (the Spanish summary), as sent."""
        if kind not in ("csv", "md"):
            raise ValueError(kind)
        response = await self._authed(
            "GET",
            f"/api/v1/fever/weekly.{kind}",
            params={"week": week.isoformat()},
            headers={"Accept": "text/csv" if kind == "csv" else "text/markdown"},
        )
        return response.content

    @staticmethod
    def _patient(patient_id: str) -> str:
        return f"/api/v1/patients/{quote(patient_id, safe='')}"

    async def jwks(self) -> dict[str, Any]:
        response = await self._send("GET", "/.well-known/jwks.json", retry=True)
        data = self._json(response)
        if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
            raise ProtocolError("JWKS without a keys list")
        return data

    # ---- plumbing ----------------------------------------------------------

    async def _adopt(self, tokens: contract.TokenResponse) -> None:
        self.tokens = Tokens(tokens.access_token, tokens.refresh_token)
        if self.on_tokens is not None:
            await self.on_tokens(tokens)

    async def _authed(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """A bearer request; on 401 refresh once and repeat once; a 403 ``privacy_notice_required`` is
        reported to ``on_privacy_required`` and raised."""
        try:
            return await self._bearer(method, path, **kwargs)
        except PrivacyNoticeRequired:
            if self.on_privacy_required is not None:
                await self.on_privacy_required()
            raise

    async def _bearer(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        used = self.tokens
        try:
            return await self._send(method, path, bearer=used, retry=method == "GET", **kwargs)
        except AuthError:
            if used is None:
                raise
        async with self._refresh_lock:
            # Another request may have refreshed while this one waited.
            if self.tokens == used:
                await self.refresh()
        return await self._send(method, path, bearer=self.tokens, retry=method == "GET", **kwargs)

    async def _send(
        self,
        method: str,
        path: str,
        *,
        bearer: Tokens | None = None,
        retry: bool,
        headers: dict[str, str] | None = None,
        ok_statuses: tuple[int, ...] = (),
        **kwargs: Any,
    ) -> httpx.Response:
        headers = {**(headers or {}), "Accept-Language": self.locale}
        if bearer is not None:
            headers["Authorization"] = f"Bearer {bearer.access_token}"
        attempts = 1 + (self._get_retries if retry else 0)
        for attempt in range(1, attempts + 1):
            try:
                response = await self._http.request(method, path, headers=headers, **kwargs)
            except (httpx.TransportError, httpx.TimeoutException) as exc:
                if attempt >= attempts:
                    raise NetworkError(str(exc) or type(exc).__name__) from exc
                await asyncio.sleep(self._backoff(attempt))  # backoff between retries
                continue
            if response.is_success or response.status_code in ok_statuses:
                return response
            raise _error_from(response)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _list(self, path: str, model: type[M], *, params: dict[str, str] | None = None) -> list[M]:
        data = self._json(await self._authed("GET", path, params=params))
        if not isinstance(data, list):
            raise ProtocolError(f"{path}: not a list")
        try:
            return [model.model_validate(item) for item in data]
        except ValidationError as exc:
            raise ProtocolError(f"{path}: {exc.error_count()} invalid fields") from exc

    @staticmethod
    def _json(response: httpx.Response) -> Any:
        try:
            return response.json()
        except ValueError as exc:
            raise ProtocolError(f"{response.request.url.path}: not JSON") from exc

    @staticmethod
    def _parse(response: httpx.Response, model: type[M]) -> M:
        try:
            return model.model_validate_json(response.content)
        except ValidationError as exc:
            raise ProtocolError(f"{response.request.url.path}: {exc.error_count()} invalid fields") from exc


#: How the app reads reminder kinds: a kind it does not know yet is left out, not an invalid answer.
READ_KINDS = {contract.DROP_UNKNOWN_KINDS: True}

_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]")


def export_file_name(disposition: str | None) -> str:
    """The file name of a ``Content-Disposition: attachment; filename="…"``, reduced to a safe base name
    (no folders, no odd characters, ``.json``); :data:`EXPORT_FALLBACK_NAME` when there is none."""
    if not disposition:
        return EXPORT_FALLBACK_NAME
    message = email.message.Message()
    message["Content-Disposition"] = disposition
    raw = message.get_filename() or ""
    name = _SAFE_NAME.sub("_", raw.replace("\\", "/").rsplit("/", 1)[-1]).lstrip(".")[:120]
    if not name:
        return EXPORT_FALLBACK_NAME
    return name if name.lower().endswith(".json") else f"{name}.json"


def minutes_to_wait(retry_after: float | None) -> int:
    """Whole minutes to tell a person (at least 1)."""
    return max(1, math.ceil((retry_after or 60) / 60))
