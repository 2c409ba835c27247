"""The wire contract: pydantic models shared by the phone app and the API server.

Both sides import these models, so the JSON the server writes is exactly the
JSON the client parses (see ../shared/API.md). Only pydantic and the standard
library are imported here: this module ships in the phone bundle.

Request models forbid unknown fields; response models ignore them, so an older
app keeps working when the server adds a field.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

__all__ = [
    "has_control_characters",
    "ApiError",
    "BloodBank",
    "Booking",
    "BookingCreate",
    "BookingStatus",
    "CheckInNote",
    "CheckInNoteAction",
    "DonorCount",
    "DonorIn",
    "DonorOut",
    "DonorSex",
    "ErrorReason",
    "Incident",
    "IncidentCategory",
    "IncidentCreate",
    "IncidentPhoto",
    "IncidentReply",
    "IncidentStatus",
    "IncidentChannel",
    "APPOINTMENT_REMINDERS",
    "LEGACY_APPOINTMENT_TOMORROW",
    "ReminderKind",
    "ReminderPreferences",
    "expand_legacy_kinds",
    "WhatsAppLink",
    "WhatsAppLinkCode",
    "WhatsAppUnlink",
    "ReopenRequest",
    "ReplyCreate",
    "ShortageCount",
    "WeeklyFigures",
    "Question",
    "RescheduleRequest",
    "CheckInRequest",
    "UndoCheckInRequest",
    "Slot",
    "SlotUpdate",
    "StaffBooking",
    "StaffIncident",
    "Appointment",
    "AppointmentCreate",
    "AppointmentKind",
    "AppointmentSource",
    "AppointmentStatus",
    "AppointmentUpdate",
    "GUARDIAN_APPOINTMENT_KINDS",
    "SyncChange",
    "SyncPage",
    "SyncType",
    "Carnet",
    "CarnetPatient",
    "Cycle",
    "CycleStatus",
    "Diagnosis",
    "Deferral",
    "Dose",
    "DoseBasis",
    "Drug",
    "ErrorBody",
    "LoginRequest",
    "Me",
    "Mixing",
    "MixingStatus",
    "PatientRef",
    "Protocol",
    "QrCode",
    "RefreshRequest",
    "PasswordChange",
    "Role",
    "TokenResponse",
    "Unit",
    "UnitLevel",
    "UserOut",
    "VerifyPatient",
    "VerifyReason",
    "VerifyRequest",
    "VerifyResponse",
    "TrustBundle",
    "DispensationCreate",
    "Dispensation",
    "QrRevokeResponse",
    "MixingOrder",
    "MixingOrderState",
    "MixingCallback",
    "MIXING_CALLBACK_STATUSES",
    "ClosureRequest",
    "ClosureRequestCreate",
    "ClosureStatus",
    "PrivacyAcceptanceCreate",
    "PrivacyNotice",
    "PrivacySection",
    "PrivacyStatus",
    "StaffClosureRequest",
    "AccessRecordEntry",
    "EXPORT_FORMAT",
    "ExportAcceptance",
    "ExportAccount",
    "ExportBooking",
    "ExportChild",
    "ExportClosureRequest",
    "ExportDispensation",
    "ExportIncident",
    "ExportPhoto",
    "ExportQrToken",
    "ExportSession",
    "FamilyExport",
    "EmergencyCard",
    "EmergencyVerifyRequest",
    "EmergencyVerifyResponse",
    "FeverEpisode",
    "FeverEpisodeCreate",
    "FeverStatus",
    "FeverStep",
    "FeverStepKind",
    "FeverUnitFigures",
    "FeverWeeklyFigures",
    "UnitEmergency",
    "UnitEmergencyUpdate",
]


def has_control_characters(text: str) -> bool:
    """NUL and the other control characters (tab and line breaks aside), and lone surrogates: text that no
    name, identifier or note needs, and that a database refuses (PostgreSQL: NUL)."""
    return _CONTROL.search(text) is not None


_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def _holds_control_characters(value: object) -> bool:
    """Whether a field's value, or a string in its lists, tuples or mappings, has control characters (nested
    request models check their own fields)."""
    if isinstance(value, str):
        return has_control_characters(value)
    if isinstance(value, list | tuple | set | frozenset):
        return any(_holds_control_characters(v) for v in value)
    if isinstance(value, dict):
        return any(_holds_control_characters(k) or _holds_control_characters(v) for k, v in value.items())
    return False


class _Request(BaseModel):
    """Every request body: unknown fields forbidden, text stripped, and no control characters in any text
    field (422 ``validation_error`` naming the field, on every database: PostgreSQL cannot store a NUL)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="after", check_fields=False)
    @classmethod
    def _no_control_characters(cls, value: object) -> object:
        if _holds_control_characters(value):
            raise PydanticCustomError("control_characters", "control characters are not allowed")
        return value


class _Response(BaseModel):
    model_config = ConfigDict(extra="ignore")


# ---- enumerations -----------------------------------------------------------


class Role(StrEnum):
    GUARDIAN = "guardian"
    PHARMACY = "pharmacy"
    BLOOD_BANK = "blood_bank"
    CASE_DESK = "case_desk"
    #: The hospital's paediatric oncology team (physicians, nurses, social work): registers the children.
    ONCOLOGY = "oncology"
    ADMIN = "admin"


class UnitLevel(StrEnum):
    UMAE = "umae"
    SEGUNDO_NIVEL = "segundo_nivel"


class CycleStatus(StrEnum):
    """A cycle's life: programado → confirmado (pharmacy or oncology; its mixture is ordered) → aplicado;
    diferido (with a reason and a new date) or suspendido on the way."""

    PROGRAMADO = "programado"
    CONFIRMADO = "confirmado"
    APLICADO = "aplicado"
    DIFERIDO = "diferido"
    SUSPENDIDO = "suspendido"


class MixingStatus(StrEnum):
    """Status of a cycle's chemotherapy mixture (mezcla) at the mixing provider."""

    NO_REQUERIDA = "no_requerida"
    PENDIENTE = "pendiente"
    SOLICITADA = "solicitada"
    EN_PREPARACION = "en_preparacion"
    LISTA = "lista"
    ENTREGADA = "entregada"
    RECHAZADA = "rechazada"


class VerifyReason(StrEnum):
    """Why a QR token is not valid (absent when it is)."""

    MALFORMED = "malformed"
    BAD_SIGNATURE = "bad_signature"
    UNKNOWN_KEY = "unknown_key"
    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"
    REVOKED = "revoked"
    UNKNOWN_PATIENT = "unknown_patient"
    #: A genuine token of another type (an emergency card's where a carnet's is expected, or the reverse).
    WRONG_TYPE = "wrong_type"


# ---- errors -----------------------------------------------------------------


class ErrorReason(_Response):
    """One of several reasons behind an error (e.g. each eligibility rule a donor fails)."""

    code: str
    message: str


class ApiError(_Response):
    code: str
    message: str
    #: Present when the error has several reasons (422 ``donor_not_eligible``).
    reasons: list[ErrorReason] | None = None
    #: 409 ``already_dispensed``: the first dispensation of the cycle (who and when).
    dispensation: Dispensation | None = None


class ErrorBody(_Response):
    """Every 4xx/5xx body: {"error": {"code", "message"}}."""

    error: ApiError


# ---- auth -------------------------------------------------------------------

Username = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Password = Annotated[str, StringConstraints(min_length=1, max_length=256)]


class LoginRequest(_Request):
    username: Username
    password: Annotated[str, StringConstraints(min_length=1, max_length=256, strip_whitespace=False)]


class RefreshRequest(_Request):
    refresh_token: Annotated[str, StringConstraints(min_length=1, max_length=512)]


class PasswordChange(_Request):
    """POST /api/v1/auth/password (any role): 204, and every session of the account ends (log in again)."""

    current_password: Annotated[str, StringConstraints(min_length=1, max_length=256, strip_whitespace=False)]
    new_password: Annotated[str, StringConstraints(min_length=1, max_length=256, strip_whitespace=False)]


class UserOut(_Response):
    id: str
    role: Role
    display_name: str


class TokenResponse(_Response):
    access_token: str
    refresh_token: str
    token_type: str = "bearer"
    expires_in: int
    user: UserOut
    #: The account has a temporary password (made by an administrator): until it is changed
    #: (POST /api/v1/auth/password) every other route answers 403 ``password_change_required``.
    password_change_required: bool = False


class PatientRef(_Response):
    id: str
    display_name: str


class UnitEmergency(_Response):
    """What a family needs to reach the unit's emergency service (the hospital writes it, the app shows it as is):
    the 24-hour number, the address, a map link, what to bring, what not to do."""

    phone: str
    address: str
    map_url: str | None = None
    bring: list[str] = Field(default_factory=list)
    avoid: list[str] = Field(default_factory=list)
    #: The oncology team's phone (the emergency card shows it).
    oncology_phone: str | None = None


class Unit(_Response):
    id: str
    name: str
    level: UnitLevel
    state: str
    #: The unit's emergency service (fever: "Hora Dorada"); None while the hospital has not written it. It comes
    #: with every unit the family already has (the carnet's), so the app has it offline.
    emergency: UnitEmergency | None = None


class ClosureStatus(StrEnum):
    """A request to close a guardian's account: asked, withdrawn by the guardian, or carried out."""

    SOLICITADA = "solicitada"
    CANCELADA = "cancelada"
    CERRADA = "cerrada"


class ClosureRequest(_Response):
    id: str
    status: ClosureStatus
    requested_at: AwareDatetime
    #: When the guardian withdrew it or an administrator closed the account.
    decided_at: AwareDatetime | None = None


class PrivacyStatus(_Response):
    """Where a guardian stands with the privacy notice (``Me.privacy``; absent for staff)."""

    current_version: str
    accepted_version: str | None = None
    accepted_at: AwareDatetime | None = None
    #: The open (``solicitada``) closure request, if any.
    closure_request: ClosureRequest | None = None

    @property
    def accepted(self) -> bool:
        return self.accepted_version == self.current_version


class Me(_Response):
    id: str
    role: Role
    display_name: str
    patients: list[PatientRef] = Field(default_factory=list)
    units: list[Unit] = Field(default_factory=list)
    #: Guardians only: until the current notice is accepted, health data answers 403
    #: ``privacy_notice_required``.
    privacy: PrivacyStatus | None = None


# ---- privacy (aviso de privacidad, the family's data, closing the account) ----


class PrivacySection(_Response):
    heading: str
    body: str


class PrivacyNotice(_Response):
    """GET /api/v1/privacy/notice: the current notice in the caller's language (es-MX or en)."""

    version: str
    published_on: date
    lang: str
    title: str
    summary: str
    sections: list[PrivacySection]


class PrivacyAcceptanceCreate(_Request):
    """POST /api/v1/privacy/acceptance: accept this version (409 ``privacy_version_outdated`` if not current)."""

    version: Annotated[str, StringConstraints(min_length=1, max_length=32)]


class ClosureRequestCreate(_Request):
    """POST /api/v1/privacy/closure-request: ask for the account to be closed (reason optional)."""

    reason: Annotated[str, StringConstraints(max_length=1000)] | None = None


# ---- carnet -----------------------------------------------------------------


class CarnetPatient(_Response):
    id: str
    full_name: str
    display_name: str
    nss: str
    curp: str
    birth_date: date
    unit: Unit


class Diagnosis(_Response):
    name: str
    cie10: str | None = None
    diagnosed_on: date | None = None


class Protocol(_Response):
    name: str
    description: str | None = None


class DoseBasis(StrEnum):
    """What a protocol's dose is per: body surface (m²), body weight (kg), or a fixed amount."""

    M2 = "m2"
    KG = "kg"
    FIXED = "fixed"


class Dose(_Response):
    """A prescribed dose, structured: what is given (``amount`` ``unit``) and where it comes from."""

    #: None: never computed (a dose migrated from free text: only ``per_basis`` is known).
    amount: float | None = None
    unit: str
    basis: DoseBasis
    #: The protocol's dose per m² or per kg (``fixed``: the amount itself).
    per_basis: float
    #: The protocol's dose for this child, rounded by the drug's rule and capped (None: written before doses
    #: were computed, e.g. migrated from free text).
    computed: float | None = None
    #: The computed dose hit the protocol's cap (``cap``, in ``unit`` per dose).
    capped: bool = False
    cap: float | None = None
    #: Set when the prescriber changed the dose by hand from the computed one: why.
    changed_reason: str | None = None


class Drug(_Response):
    name: str
    route: str
    dose: Dose
    #: The cycle's days it is given on (1: the cycle's first day).
    days: list[int] = Field(default_factory=list)
    #: Taken at home by mouth: "diario" or "semanal" (None: given at the hospital).
    home_schedule: str | None = None


class Mixing(_Response):
    status: MixingStatus
    updated_at: datetime | None = None


class Deferral(_Response):
    reason: str
    #: The date the cycle had before it was deferred.
    previous_date: date


class Cycle(_Response):
    id: str
    number: int
    scheduled_for: date
    status: CycleStatus
    drugs: list[Drug] = Field(default_factory=list)
    mixing: Mixing
    #: The protocol it was written from (its name), and its phase (e.g. "Inducción"): this is the phase's cycle
    #: ``phase_number`` of ``phase_cycles``.
    protocol: str | None = None
    phase: str | None = None
    phase_number: int | None = None
    phase_cycles: int | None = None
    #: Body surface (Mosteller, m²) and the measurements the doses were computed from.
    bsa_m2: float | None = None
    weight_kg: float | None = None
    height_cm: float | None = None
    #: The days of hospital sessions (the first is ``scheduled_for``).
    sessions: list[date] = Field(default_factory=list)
    deferral: Deferral | None = None
    suspended_reason: str | None = None
    #: Bumped by every change: a change sent with an older version is refused (409) with the current cycle.
    version: int = 1
    #: When the hospital confirmed the cycle (which requests its mixture from the provider).
    confirmed_at: datetime | None = None
    #: When a pharmacy dispensed it (at most once).
    dispensed_at: datetime | None = None


class QrCode(_Response):
    token: str
    url: str
    expires_at: datetime


class Carnet(_Response):
    patient: CarnetPatient
    diagnosis: Diagnosis | None = None
    protocol: Protocol | None = None
    cycles: list[Cycle] = Field(default_factory=list)
    qr: QrCode
    generated_at: datetime


# ---- pharmacy verification --------------------------------------------------


class VerifyRequest(_Request):
    """The bare token, or the full URL a scanner typed (…/v/<token>)."""

    token: Annotated[str, StringConstraints(min_length=1, max_length=4096)]


class VerifyPatient(_Response):
    id: str
    display_name: str
    unit: Unit


class VerifyResponse(_Response):
    valid: bool
    reason: VerifyReason | None = None
    message: str | None = None
    expires_at: datetime | None = None
    patient: VerifyPatient | None = None
    due: list[Cycle] = Field(default_factory=list)
    #: Dispensations already recorded for the due cycles (a signature cannot say that).
    dispensations: list[Dispensation] = Field(default_factory=list)


class TrustBundle(_Response):
    """GET /api/v1/pharmacy/trust (pharmacy, admin): what a counter caches to verify QR codes offline.

    ``keys`` is the JWKS key list (old keys stay after a rotation); ``revoked`` the
    ``jti`` of every revoked token not yet expired. A device refreshes it every
    ``max_age`` seconds when online; a revocation reaches offline counters then.
    """

    issuer: str
    keys: list[dict[str, Any]]
    revoked: list[str] = Field(default_factory=list)
    generated_at: datetime
    max_age: int


DrugName = Annotated[str, StringConstraints(min_length=1, max_length=120)]


class DispensationCreate(_Request):
    """POST /api/v1/pharmacy/dispensations: ``items`` are drug names of the cycle (default: all of them)."""

    token: Annotated[str, StringConstraints(min_length=1, max_length=4096)]
    cycle_id: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    items: Annotated[list[DrugName], Field(min_length=1, max_length=30)] | None = None


class Dispensation(_Response):
    id: str
    patient_id: str
    cycle_id: str
    cycle_number: int
    items: list[Drug]
    dispensed_at: datetime
    #: The staff member's display name (e.g. "Farmacia UMAE Siglo XXI").
    dispensed_by: str


class QrRevokeResponse(_Response):
    """POST /api/v1/patients/{id}/qr/revoke (the child's guardian, admin): tokens revoked; the next read reissues."""

    revoked: int


# ---- mixing orders (central mixing provider, e.g. SAFE) ----------------------


class MixingOrder(_Response):
    """What the server sends to the provider (``POST {provider}/orders``, ``Idempotency-Key: <order_id>``)."""

    order_id: str
    cycle_id: str
    cycle_number: int
    patient_id: str
    #: For the mixture's label.
    patient_name: str
    unit: Unit
    needed_by: date
    drugs: list[Drug]
    created_at: datetime
    #: What the doses were computed from (None: a cycle written before doses were computed).
    bsa_m2: float | None = None
    weight_kg: float | None = None
    height_cm: float | None = None


class MixingOrderState(_Response):
    """GET /api/v1/mixing/orders (pharmacy, admin): an order and its delivery to the provider."""

    order_id: str
    cycle_id: str
    patient_id: str
    status: MixingStatus
    created_at: datetime
    attempts: int
    delivered_at: datetime | None = None
    next_attempt_at: datetime | None = None
    last_error: str | None = None


#: The statuses a provider may report.
MIXING_CALLBACK_STATUSES = frozenset(
    {MixingStatus.EN_PREPARACION, MixingStatus.LISTA, MixingStatus.ENTREGADA, MixingStatus.RECHAZADA}
)


class MixingCallback(_Request):
    """POST /api/v1/mixing/callbacks from the provider, signed:
    ``X-Carnet-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>``.
    """

    event_id: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    order_id: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    status: MixingStatus
    occurred_at: AwareDatetime
    reason: Annotated[str, StringConstraints(max_length=500)] | None = None

    @model_validator(mode="after")
    def _provider_status(self) -> MixingCallback:
        if self.status not in MIXING_CALLBACK_STATUSES:
            raise ValueError("status must be en_preparacion, lista, entregada or rechazada")
        return self


# ---- appointments -----------------------------------------------------------


class AppointmentKind(StrEnum):
    QUIMIOTERAPIA = "quimioterapia"
    CONSULTA = "consulta"
    LABORATORIO = "laboratorio"
    ESTUDIO = "estudio"
    BANCO_DE_SANGRE = "banco_de_sangre"
    OTRO = "otro"


class AppointmentStatus(StrEnum):
    PROGRAMADA = "programada"
    CONFIRMADA = "confirmada"
    REPROGRAMADA = "reprogramada"
    CANCELADA = "cancelada"
    REALIZADA = "realizada"


class AppointmentSource(StrEnum):
    """Who owns the record: the hospital's staff, or the family (their own reminders)."""

    HOSPITAL = "hospital"
    FAMILIA = "familia"


#: Kinds a guardian may add as the family's own appointments (chemotherapy
#: sessions come from the hospital, blood-bank ones from bookings).
GUARDIAN_APPOINTMENT_KINDS = frozenset(
    {AppointmentKind.CONSULTA, AppointmentKind.LABORATORIO, AppointmentKind.ESTUDIO, AppointmentKind.OTRO}
)
MAX_APPOINTMENT_LENGTH = timedelta(hours=24)

Title = Annotated[str, StringConstraints(min_length=1, max_length=120)]
Place = Annotated[str, StringConstraints(max_length=200)]
Notes = Annotated[str, StringConstraints(max_length=1000)]


class Appointment(_Response):
    """Times are UTC on the wire; the app shows them in America/Mexico_City."""

    id: str
    patient_id: str
    kind: AppointmentKind
    title: str
    starts_at: datetime
    ends_at: datetime
    unit: Unit | None = None
    place: str = ""
    status: AppointmentStatus
    notes: str = ""
    cycle_id: str | None = None
    source: AppointmentSource
    #: Bumped on every change (the .ics SEQUENCE).
    revision: int = 0
    updated_at: datetime


def _check_times(starts_at: datetime | None, ends_at: datetime | None) -> None:
    if starts_at is not None and ends_at is not None:
        if ends_at <= starts_at:
            raise ValueError("ends_at must be after starts_at")
        if ends_at - starts_at > MAX_APPOINTMENT_LENGTH:
            raise ValueError("an appointment lasts 24 hours at most")


class AppointmentCreate(_Request):
    """POST /api/v1/patients/{id}/appointments (guardian: family kinds only; staff: any)."""

    kind: AppointmentKind
    title: Title
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    unit_id: str | None = None
    place: Place = ""
    notes: Notes = ""
    #: Staff only: the chemotherapy cycle a ``quimioterapia`` session applies.
    cycle_id: str | None = None

    @model_validator(mode="after")
    def _times(self) -> AppointmentCreate:
        _check_times(self.starts_at, self.ends_at)
        return self


class AppointmentUpdate(_Request):
    """PATCH /api/v1/appointments/{id}: only the fields sent change."""

    title: Title | None = None
    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime | None = None
    unit_id: str | None = None
    place: Place | None = None
    notes: Notes | None = None
    status: AppointmentStatus | None = None

    @model_validator(mode="after")
    def _times(self) -> AppointmentUpdate:
        _check_times(self.starts_at, self.ends_at)
        return self


# ---- sync -------------------------------------------------------------------


class SyncType(StrEnum):
    """Record types the sync carries; later issues add bookings and incidents."""

    APPOINTMENT = "appointment"
    BLOOD_BANK_BOOKING = "blood_bank_booking"
    INCIDENT = "incident"
    #: A chemotherapy cycle of a carnet (``Cycle``): its mixing status, confirmation, dispensation.
    CYCLE = "cycle"
    #: A fever episode of a child (``FeverEpisode``): created by the family, its steps recorded by the unit.
    FEVER_EPISODE = "fever_episode"


class SyncChange(_Response):
    type: str  # a SyncType value; unknown types are skipped by older apps
    id: str
    op: Literal["upsert", "delete"]
    #: The record as its response model dumps it (``Appointment`` for appointments); None on delete.
    data: dict[str, Any] | None = None


class SyncPage(_Response):
    """GET /api/v1/sync: changes after ``cursor`` in change order."""

    cursor: str
    has_more: bool
    #: True when the server answered from the beginning (the cursor was from an
    #: older set of linked children): drop every synced record before applying.
    reset: bool = False
    changes: list[SyncChange] = Field(default_factory=list)


# ---- blood bank -------------------------------------------------------------


class BloodBank(_Response):
    id: str
    name: str
    unit: Unit
    address: str
    phone: str = ""
    #: What a donor must bring and do (ayuno, identificación oficial…), in Spanish.
    instructions: str = ""
    #: The weekdays (0 = Monday) the bank has slots, so only those days are offered; None: not said
    #: (a bank inside a booking, or an older server): every day is offered.
    open_weekdays: list[int] | None = None


class Slot(_Response):
    id: str
    bank_id: str
    starts_at: datetime
    ends_at: datetime
    capacity: int
    available: int
    closed: bool = False


class SlotUpdate(_Request):
    """PATCH /api/v1/blood-banks/{id}/slots/{slot_id} (blood-bank staff of the bank's unit)."""

    capacity: Annotated[int, Field(ge=0, le=500)] | None = None
    closed: bool | None = None


class Question(_Response):
    """A yes/no question of the donor questionnaire; ``text`` follows Accept-Language."""

    id: str
    text: str
    eligible_answer: bool


class DonorSex(StrEnum):
    MUJER = "mujer"
    HOMBRE = "hombre"


class DonorIn(_Request):
    full_name: Annotated[str, StringConstraints(min_length=3, max_length=120)]
    #: Mexican phone: 10 digits (spaces and dashes allowed when typed).
    phone: Annotated[str, StringConstraints(min_length=10, max_length=20, pattern=r"^[0-9 \-]+$")]
    birth_date: date
    weight_kg: Annotated[float, Field(gt=0, le=400)]
    sex: DonorSex
    #: The donor's last blood donation, if any (the interval rule of NOM-253-SSA1-2012).
    last_donation_on: date | None = None
    #: The donor agrees to a WhatsApp reminder at ``phone`` the day before the donation.
    reminder_consent: bool = False


class DonorOut(_Response):
    full_name: str
    phone: str
    birth_date: date
    weight_kg: float
    sex: DonorSex
    reminder_consent: bool = False


class BookingCreate(_Request):
    """POST /api/v1/blood-bank/bookings (guardian of ``patient_id``)."""

    slot_id: str
    patient_id: str
    donor: DonorIn
    #: question id → the donor's yes/no answer; every question must be answered.
    answers: dict[str, bool]


class RescheduleRequest(_Request):
    slot_id: str


class CheckInRequest(_Request):
    """POST /api/v1/blood-bank/bookings/{id}/check-in (the bank's staff); the body is optional.

    Check-in is for the booking's own local day; on any other day it is refused (422 ``check_in_wrong_day``)
    unless ``override_reason`` says why (at least 5 characters; stored and audited)."""

    override_reason: Annotated[str, StringConstraints(max_length=500)] | None = None


class UndoCheckInRequest(_Request):
    """POST /api/v1/blood-bank/bookings/{id}/undo-check-in (the bank's staff): why (at least 5 characters)."""

    reason: Annotated[str, StringConstraints(max_length=500)]


class BookingStatus(StrEnum):
    CONFIRMADA = "confirmada"
    CANCELADA = "cancelada"
    ASISTIO = "asistio"
    NO_ASISTIO = "no_asistio"


class Booking(_Response):
    id: str
    #: Readable over the phone, e.g. ``BS-2026-000123``.
    folio: str
    patient_id: str
    bank: BloodBank
    slot: Slot
    status: BookingStatus
    donor: DonorOut
    created_at: datetime
    updated_at: datetime
    checked_in_at: datetime | None = None
    #: The agenda appointment (kind ``banco_de_sangre``) that mirrors this booking.
    appointment_id: str | None = None


class CheckInNoteAction(StrEnum):
    #: Checked in on a day other than the booking's.
    OVERRIDE = "override"
    #: A mistaken check-in undone.
    UNDO = "undo"


class CheckInNote(_Response):
    """Why staff checked a donor in on another day, or undid a check-in: their own words, who and when."""

    action: CheckInNoteAction
    reason: str
    at: datetime
    #: The staff member's name (None once their account is gone).
    by: str | None = None


class StaffBooking(Booking):
    patient_display_name: str
    #: The booking's check-in notes, oldest first (the bank's staff only: never in a family's answer).
    notes: list[CheckInNote] = []


class DonorCount(_Response):
    """Per child, in a bank and a date range: donors booked and donors who came."""

    patient_id: str
    patient_display_name: str
    booked: int
    came: int


# ---- incidents (casos específicos) ------------------------------------------


class IncidentCategory(StrEnum):
    MEDICAMENTO = "medicamento"
    INSUMO = "insumo"
    ATENCION_MEDICA = "atencion_medica"
    LICENCIA_140_BIS = "licencia_140_bis"
    CARNET_DIGITAL = "carnet_digital"
    BANCO_DE_SANGRE = "banco_de_sangre"
    OTRO = "otro"


class IncidentChannel(StrEnum):
    """Where a report came from: the app, or the WhatsApp bot ("Mi Chat ONCOIMSS")."""

    APP = "app"
    WHATSAPP = "whatsapp"


class IncidentStatus(StrEnum):
    RECIBIDA = "recibida"
    EN_ATENCION = "en_atencion"
    ATENDIDA = "atendida"
    REABIERTA = "reabierta"


class IncidentCreate(_Request):
    """POST /api/v1/incidents (guardian of ``patient_id``); ``unit_id``: the child's unit (the default), no other."""

    patient_id: str
    category: IncidentCategory
    unit_id: str | None = None
    description: Annotated[str, StringConstraints(min_length=5, max_length=2000)]
    #: For ``medicamento`` / ``insumo``: the medicine or supply that is missing.
    item_name: Annotated[str, StringConstraints(max_length=120)] | None = None


class IncidentReply(_Response):
    author_role: Role
    #: "Módulo de atención" for staff; the guardian's own name is never shown to others.
    author_label: str
    message: str
    created_at: datetime
    #: True on the answer that made the incident ``atendida``.
    resolves: bool = False
    #: True on a guardian's reopening (the message is the reason).
    reopens: bool = False


class IncidentPhoto(_Response):
    id: str
    content_type: str
    size: int
    #: Relative to the API base; needs the same authorisation as the incident.
    url: str


class Incident(_Response):
    id: str
    #: Readable over the phone, e.g. ``CE-2026-000123``.
    folio: str
    patient_id: str
    category: IncidentCategory
    unit: Unit
    description: str
    item_name: str | None = None
    status: IncidentStatus
    created_at: datetime
    updated_at: datetime
    first_response_due_at: datetime
    first_response_at: datetime | None = None
    resolved_at: datetime | None = None
    #: Seconds until the first-response deadline (negative when overdue); None once answered.
    seconds_left: int | None = None
    overdue: bool = False
    #: The conversation (API.md: `responses`), oldest first.
    responses: list[IncidentReply] = Field(default_factory=list)
    photos: list[IncidentPhoto] = Field(default_factory=list)
    #: Where it was reported: answers to a WhatsApp report also go back to that chat.
    channel: IncidentChannel = IncidentChannel.APP


class StaffIncident(Incident):
    """An incident as the case desk (or an admin) gets it: which child it is about, by name. Guardians get
    :class:`Incident` (they know their own child); the unit's name is ``unit.name``."""

    #: The child's full name, as registered.
    patient_name: str


class ReplyCreate(_Request):
    """POST /api/v1/incidents/{id}/responses (case desk of the incident's unit, or admin)."""

    message: Annotated[str, StringConstraints(max_length=2000)]
    resolves: bool = False


class ReopenRequest(_Request):
    """POST /api/v1/incidents/{id}/reopen (the child's guardian): why the answer did not solve it."""

    reason: Annotated[str, StringConstraints(min_length=5, max_length=1000)]


class ShortageCount(_Response):
    unit_name: str
    item_name: str
    count: int


class WeeklyFigures(_Response):
    """GET /api/v1/case-desk/weekly?week=YYYY-MM-DD (Monday, Mexico City): the working-group figures."""

    week_start: date
    week_end: date
    new_patients: int
    incidents_new: int
    by_category: dict[str, int]
    by_status: dict[str, int]
    #: ``IncidentChannel`` value → incidents reported that way (every channel present; empty from an older server).
    by_channel: dict[str, int] = Field(default_factory=dict)
    median_hours_to_first_answer: float | None = None
    median_hours_to_atendida: float | None = None
    overdue: int
    shortages: list[ShortageCount] = Field(default_factory=list)


# ---- privacy: the family's data export, closure requests for administrators ------------------------------


class StaffClosureRequest(ClosureRequest):
    """GET /api/v1/privacy/closure-requests (admin): a request with the account it is about."""

    user_id: str
    username: str
    display_name: str
    reason: str | None = None


class ExportAccount(_Response):
    id: str
    username: str
    display_name: str
    role: Role
    created_at: datetime
    active: bool


class ExportAcceptance(_Response):
    version: str
    accepted_at: datetime


class ExportClosureRequest(ClosureRequest):
    reason: str | None = None


class ExportSession(_Response):
    """A sign-in (no tokens): when it started and, if it ended, when."""

    created_at: datetime
    revoked_at: datetime | None = None


class ExportQrToken(_Response):
    """A QR code issued for the child (the token itself is left out)."""

    issued_at: datetime
    expires_at: datetime
    revoked_at: datetime | None = None


class ExportDispensation(_Response):
    cycle_id: str
    cycle_number: int
    items: list[Drug]
    dispensed_at: datetime
    #: Who, as the family sees it: "Farmacia" (never the staff member's name).
    dispensed_by: str


class ExportBooking(Booking):
    """A donor booking with everything kept about the donor, questionnaire answers included."""

    donor_last_donation_on: date | None = None
    answers: dict[str, bool] = Field(default_factory=dict)


class ExportPhoto(IncidentPhoto):
    created_at: datetime


class ExportIncident(Incident):
    photos: list[ExportPhoto] = Field(default_factory=list)  # type: ignore[assignment]  # list is invariant


class AccessRecordEntry(_Response):
    """One audit row about the child: when, which role (no staff ids, no addresses), what."""

    at: datetime
    actor_role: str | None = None
    #: True when the account that made this export did it.
    by_you: bool = False
    action: str
    object_type: str | None = None
    object_id: str | None = None


class ExportChild(_Response):
    patient: CarnetPatient
    diagnoses: list[Diagnosis] = Field(default_factory=list)
    protocols: list[Protocol] = Field(default_factory=list)
    cycles: list[Cycle] = Field(default_factory=list)
    dispensations: list[ExportDispensation] = Field(default_factory=list)
    qr_codes: list[ExportQrToken] = Field(default_factory=list)
    appointments: list[Appointment] = Field(default_factory=list)
    blood_bank_bookings: list[ExportBooking] = Field(default_factory=list)
    incidents: list[ExportIncident] = Field(default_factory=list)
    fever_episodes: list[FeverEpisode] = Field(default_factory=list)
    #: Who saw or changed the child's records, oldest first.
    access_record: list[AccessRecordEntry] = Field(default_factory=list)


EXPORT_FORMAT: Literal["carnet-export/1"] = "carnet-export/1"


class FamilyExport(_Response):
    """GET /api/v1/privacy/export (guardian): everything held about the account and its children."""

    format: Literal["carnet-export/1"] = EXPORT_FORMAT
    generated_at: AwareDatetime
    account: ExportAccount
    privacy_acceptances: list[ExportAcceptance] = Field(default_factory=list)
    closure_requests: list[ExportClosureRequest] = Field(default_factory=list)
    sessions: list[ExportSession] = Field(default_factory=list)
    children: list[ExportChild] = Field(default_factory=list)


ApiError.model_rebuild()
ErrorBody.model_rebuild()


# ---- WhatsApp channel and reminders -------------------------------------------------------


class WhatsAppLinkCode(_Response):
    """POST /api/v1/me/whatsapp/link-code (guardian): the code to send to the bot from the family's phone."""

    code: str
    expires_at: datetime
    #: The bot's number as families dial it (e.g. ``+52 55 1234 5678``), or "" when not configured.
    bot_number: str = ""


class WhatsAppLink(_Response):
    """GET /api/v1/me/whatsapp (guardian): whether a WhatsApp number gets this account's information."""

    linked: bool
    #: Only the last four digits, e.g. ``•••• 5678``.
    number: str | None = None
    linked_at: datetime | None = None
    bot_number: str = ""


class WhatsAppUnlink(_Request):
    """POST /api/v1/whatsapp/unlink (case desk, admin): end a number's link (a lost phone, a family's call)."""

    #: The number as the family says it: 10 digits, or with the country code (52…); spaces and dashes allowed.
    phone: Annotated[str, StringConstraints(min_length=10, max_length=20, pattern=r"^\+?[0-9 \-]+$")]


class ReminderKind(StrEnum):
    """What a family may be reminded of (Ajustes → Recordatorios); each appointment kind is chosen apart."""

    #: A chemotherapy session tomorrow.
    CHEMOTHERAPY_TOMORROW = "quimioterapia_manana"
    #: A consultation tomorrow.
    CONSULTATION_TOMORROW = "consulta_manana"
    #: A laboratory appointment tomorrow.
    LABORATORY_TOMORROW = "laboratorio_manana"
    #: A cycle's mixture is ready (``lista``).
    MIXTURE_READY = "mezcla_lista"
    #: The case desk answered a report.
    REPORT_ANSWERED = "reporte_respondido"
    #: A donor booked for one of the children donates tomorrow.
    DONOR_TOMORROW = "donacion_manana"


#: The kind app versions before the split sent for every appointment tomorrow ("cita_manana"): still accepted
#: (queued offline on an old phone, or kept in a phone's store), meaning all three.
LEGACY_APPOINTMENT_TOMORROW = "cita_manana"
#: The appointment kind each appointment reminder is about.
APPOINTMENT_REMINDERS: dict[AppointmentKind, ReminderKind] = {
    AppointmentKind.QUIMIOTERAPIA: ReminderKind.CHEMOTHERAPY_TOMORROW,
    AppointmentKind.CONSULTA: ReminderKind.CONSULTATION_TOMORROW,
    AppointmentKind.LABORATORIO: ReminderKind.LABORATORY_TOMORROW,
}


def expand_legacy_kinds(kinds: Iterable[Any]) -> list[Any]:
    """``cita_manana`` → the three appointment kinds in its place; each value once, the order kept."""
    out: list[Any] = []
    for kind in kinds:
        values = [k.value for k in APPOINTMENT_REMINDERS.values()] if kind == LEGACY_APPOINTMENT_TOMORROW else [kind]
        out += [v for v in values if v not in out]
    return out


class ReminderPreferences(_Request):
    """GET / PUT /api/v1/me/reminders (guardian): the kinds chosen (WhatsApp to a linked number, and the
    phone's own notifications). ``cita_manana`` (older apps) is read as the three appointment kinds."""

    kinds: list[ReminderKind]

    @field_validator("kinds", mode="before")
    @classmethod
    def _legacy(cls, value: object, info: ValidationInfo) -> object:
        if isinstance(value, list) and isinstance(info.context, dict) and info.context.get(DROP_UNKNOWN_KINDS):
            # a reader (the app) leaves out the kinds a newer server knows and it does not
            known = {k.value for k in ReminderKind} | {LEGACY_APPOINTMENT_TOMORROW}
            value = [k for k in value if k in known]
        if isinstance(value, list) and LEGACY_APPOINTMENT_TOMORROW in value:
            return expand_legacy_kinds(value)
        return value


#: ``ReminderPreferences.model_validate(..., context={DROP_UNKNOWN_KINDS: True})``: how the app reads the
#: server's answer, so that a kind added later does not make an older app refuse the whole answer (the server
#: itself refuses an unknown kind in a request: 422).
DROP_UNKNOWN_KINDS = "drop_unknown_kinds"


# ---- fever (Hora Dorada) ------------------------------------------------------------------------------------

#: The temperature range a thermometer reading may have (°C); 38.0 or more is fever.
FEVER_MIN_C = 35.0
FEVER_MAX_C = 43.0
FEVER_THRESHOLD_C = 38.0
#: How far in the future (a phone's clock ahead) and in the past a reading's time may be.
FEVER_FUTURE_LEEWAY = timedelta(minutes=5)
FEVER_MAX_AGE = timedelta(hours=24)
#: The goal: the first antibiotic within this many minutes of arrival.
GOLDEN_HOUR_MINUTES = 60


class FeverStatus(StrEnum):
    """avisada (the family pressed the button) → en_urgencias (arrival) → triage → antibiotico; or cerrada."""

    AVISADA = "avisada"
    EN_URGENCIAS = "en_urgencias"
    TRIAGE = "triage"
    ANTIBIOTICO = "antibiotico"
    CERRADA = "cerrada"


class FeverStepKind(StrEnum):
    """The steps staff record, in this order, each once; ``close`` ends an open episode without an antibiotic."""

    ARRIVAL = "arrival"
    TRIAGE = "triage"
    ANTIBIOTIC = "antibiotic"
    CLOSE = "close"


class FeverEpisodeCreate(_Request):
    """POST /api/v1/patients/{id}/fever-episodes (the child's guardian; Idempotency-Key: the outbox item's UUID).

    ``measured_at`` may be at most 5 minutes ahead of the server's clock and at most 24 hours old (422
    ``fever_measured_at_out_of_range``)."""

    temperature_c: Annotated[float, Field(ge=FEVER_MIN_C, le=FEVER_MAX_C, allow_inf_nan=False)]
    measured_at: AwareDatetime


class FeverOrigin(StrEnum):
    """Who opened the episode: the family's button, or the unit's staff for a child who arrived without it."""

    FAMILIA = "familia"
    UNIDAD = "unidad"


class FeverEpisodeAtUnit(_Request):
    """POST /api/v1/patients/{id}/fever-episodes/at-unit (oncology, case desk of the child's unit; admin): a child
    with fever arrived without the family's alert. The episode starts ``en_urgencias`` at ``arrived_at`` (default
    now), so the 60-minute clock runs and the week's figures count it. ``measured_at`` as for the family's alert;
    ``arrived_at`` at most 5 minutes ahead and 24 hours old (422 ``fever_arrival_time_invalid``). A child with an
    open episode gets 409 ``fever_episode_already_open``: its arrival is recorded on that one."""

    temperature_c: Annotated[float, Field(ge=FEVER_MIN_C, le=FEVER_MAX_C, allow_inf_nan=False)]
    measured_at: AwareDatetime
    arrived_at: AwareDatetime | None = None


class FeverEpisodeEmergency(_Response):
    phone: str
    address: str
    map_url: str | None = None


class FeverEpisode(_Response):
    """A fever episode as the family and the unit see it (also the ``fever_episode`` sync record)."""

    id: str
    patient_id: str
    status: FeverStatus
    temperature_c: float
    measured_at: datetime
    created_at: datetime
    arrived_at: datetime | None = None
    triage_at: datetime | None = None
    antibiotic_at: datetime | None = None
    #: Arrival → first antibiotic, in whole minutes (None until both are recorded).
    minutes_to_antibiotic: int | None = None
    unit: Unit
    #: The unit's emergency service (None while the hospital has not written it).
    emergency: FeverEpisodeEmergency | None = None
    #: Staff lists only: the child's name.
    patient_name: str | None = None
    #: ``familia``: the family's button; ``unidad``: opened by the unit's staff (the child came without it).
    origin: FeverOrigin = FeverOrigin.FAMILIA


class FeverStep(_Request):
    """POST /api/v1/fever-episodes/{id}/steps (oncology, case desk of the child's unit; admin): each step once,
    in order; ``at`` defaults to now, may not be in the future nor before the family's reading (or the previous
    step)."""

    step: FeverStepKind
    at: AwareDatetime | None = None


class EmergencyCard(_Response):
    """GET /api/v1/patients/{id}/emergency-card: what the emergency team must know without asking, and a signed
    QR of its own type (``typ`` ``em``, valid 72 hours) that a counter verifies offline."""

    patient_id: str
    full_name: str
    birth_date: date
    age_years: int
    sex: str | None = None
    weight_kg: float | None = None
    diagnosis: Diagnosis | None = None
    protocol: str | None = None
    phase: str | None = None
    last_chemotherapy_date: date | None = None
    last_chemotherapy_drugs: list[str] = Field(default_factory=list)
    central_venous_catheter: bool | None = None
    #: As the team wrote them; None: not recorded.
    allergies: str | None = None
    blood_group: str | None = None
    treating_oncologist: str | None = None
    unit: Unit
    oncology_phone: str | None = None
    qr: QrCode
    generated_at: datetime


class EmergencyVerifyRequest(_Request):
    """POST /api/v1/emergency-cards/verify (staff): the scanned token or URL."""

    token: Annotated[str, StringConstraints(min_length=1, max_length=4096)]


class EmergencyVerifyResponse(_Response):
    valid: bool
    reason: VerifyReason | None = None
    message: str | None = None
    expires_at: datetime | None = None
    #: Valid, and the caller works at the child's unit: the current card (without its QR).
    patient_id: str | None = None
    card: EmergencyCard | None = None


class UnitEmergencyUpdate(_Request):
    """Part of PATCH /api/v1/admin/units/{id}: the unit's emergency service, replaced as a whole."""

    phone: Annotated[str, StringConstraints(min_length=3, max_length=40)]
    address: Annotated[str, StringConstraints(min_length=3, max_length=300)]
    map_url: Annotated[str, StringConstraints(max_length=500, pattern=r"^https://")] | None = None
    bring: Annotated[list[Annotated[str, StringConstraints(min_length=1, max_length=200)]], Field(max_length=12)] = (
        Field(default_factory=list)
    )
    avoid: Annotated[list[Annotated[str, StringConstraints(min_length=1, max_length=300)]], Field(max_length=12)] = (
        Field(default_factory=list)
    )
    oncology_phone: Annotated[str, StringConstraints(min_length=3, max_length=40)] | None = None


class FeverUnitFigures(_Response):
    unit_id: str
    unit_name: str
    episodes: int
    with_antibiotic: int
    within_60: int
    #: within_60 / episodes with an arrival (0–1, 3 decimals); None when none arrived.
    share_within_60: float | None = None
    median_minutes_to_antibiotic: float | None = None
    without_antibiotic: int
    #: Of ``episodes``, those the unit's staff opened (the child came without the family's alert).
    opened_at_unit: int = 0


class FeverWeeklyFigures(_Response):
    """GET /api/v1/fever/weekly?week=YYYY-MM-DD (oncology, case desk: their units; admin: all); ``.csv``, ``.md``."""

    week_start: date
    week_end: date
    episodes: int
    arrived: int
    within_60: int
    share_within_60: float | None = None
    median_minutes_to_antibiotic: float | None = None
    without_antibiotic: int
    #: Of ``episodes``, those the unit's staff opened (the child came without the family's alert).
    opened_at_unit: int = 0
    by_unit: list[FeverUnitFigures] = Field(default_factory=list)
