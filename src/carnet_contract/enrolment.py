"""The wire contract of enrolment: units and staff accounts (admin), the registry of children, guardians'
activation codes, the registry figures and the bulk import (see ../shared/API.md, "Enrolment").

Same rules as ``models``: requests forbid unknown fields, responses ignore them; only pydantic and the
standard library. Identifiers (CURP, NSS, agregado médico) are checked by the server, which answers
422 naming the field; their formats are described in docs/enrolment.md.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from carnet_contract.models import Role, Unit, UnitEmergencyUpdate, UnitLevel, has_control_characters
from carnet_contract.models import _Request as _BaseRequest

__all__ = [
    "ActivationLink",
    "has_control_characters",
    "ActivationRequest",
    "BloodGroup",
    "Correction",
    "CorrectionKind",
    "DiagnosisEntry",
    "GuardianOut",
    "ImportResult",
    "ImportedInvitation",
    "Invitation",
    "InvitationCreate",
    "InvitationOut",
    "InvitationStatus",
    "LinkedPatient",
    "PatientCreate",
    "PatientDiagnosis",
    "PatientRecord",
    "PatientUpdate",
    "ReferralCreate",
    "RegistryFigures",
    "Sex",
    "StaffAccount",
    "StaffCreate",
    "StaffRole",
    "StaffUpdate",
    "StaffWithPassword",
    "UnitCreate",
    "UnitFigures",
    "UnitUpdate",
    "UnitsByLevel",
]


class _Request(_BaseRequest):
    pass


class _Response(BaseModel):
    model_config = ConfigDict(extra="ignore")


Name = Annotated[str, StringConstraints(min_length=1, max_length=60)]
Text200 = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Id = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Username = Annotated[str, StringConstraints(min_length=3, max_length=64)]


# ---- units and staff accounts (admin) -------------------------------------------------------------


class UnitCreate(_Request):
    """POST /api/v1/admin/units (admin)."""

    name: Text200
    level: UnitLevel
    state: Annotated[str, StringConstraints(min_length=1, max_length=64)]


class UnitUpdate(_Request):
    """PATCH /api/v1/admin/units/{unit_id} (admin): the fields given change."""

    name: Text200 | None = None
    level: UnitLevel | None = None
    state: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None
    #: The unit's emergency service (fever, "Hora Dorada"), replaced as a whole; the families' apps get it
    #: with the unit.
    emergency: UnitEmergencyUpdate | None = None


class StaffRole(StrEnum):
    """The roles an administrator may give an account (guardians come in through an activation code)."""

    PHARMACY = Role.PHARMACY.value
    BLOOD_BANK = Role.BLOOD_BANK.value
    CASE_DESK = Role.CASE_DESK.value
    ONCOLOGY = Role.ONCOLOGY.value
    ADMIN = Role.ADMIN.value


class StaffCreate(_Request):
    """POST /api/v1/admin/users (admin): the answer carries a temporary password, shown once."""

    username: Username
    display_name: Annotated[str, StringConstraints(min_length=1, max_length=120)]
    role: StaffRole
    unit_ids: Annotated[list[Id], Field(max_length=100)] = Field(default_factory=list)


class StaffUpdate(_Request):
    """PATCH /api/v1/admin/users/{staff_id} (admin); ``active: false`` ends every session at once."""

    display_name: Annotated[str, StringConstraints(min_length=1, max_length=120)] | None = None
    unit_ids: Annotated[list[Id], Field(max_length=100)] | None = None
    active: bool | None = None


class StaffAccount(_Response):
    id: str
    username: str
    role: Role
    display_name: str
    active: bool
    password_change_required: bool
    units: list[Unit] = Field(default_factory=list)
    created_at: datetime | None = None


class StaffWithPassword(_Response):
    """A new account, or a password reset: the temporary password is shown this once, never stored in clear."""

    account: StaffAccount
    temporary_password: str


# ---- the registry of children ---------------------------------------------------------------------


class Sex(StrEnum):
    MUJER = "mujer"
    HOMBRE = "hombre"


BloodGroup = Literal["A+", "A-", "B+", "B-", "AB+", "AB-", "O+", "O-"]
Curp = Annotated[str, StringConstraints(min_length=1, max_length=18, to_upper=True)]
Nss = Annotated[str, StringConstraints(min_length=1, max_length=11)]
Agregado = Annotated[str, StringConstraints(min_length=1, max_length=8, to_upper=True)]
DiagnosisCode = Annotated[str, StringConstraints(min_length=1, max_length=8, to_upper=True)]
Oncologist = Annotated[str, StringConstraints(min_length=1, max_length=120)]
Allergies = Annotated[str, StringConstraints(max_length=500)]


class PatientCreate(_Request):
    """POST /api/v1/patients (oncology of the unit, admin). 409 ``patient_exists`` for the same CURP or the same
    NSS + agregado; 409 ``patient_similar`` for a similar name with the same birth date, unless
    ``confirm_similar`` is true."""

    given_names: Name
    paternal_surname: Name
    maternal_surname: Name | None = None
    birth_date: date
    sex: Sex
    curp: Curp
    nss: Nss
    agregado: Agregado | None = None
    unit_id: Id
    diagnosis_code: DiagnosisCode
    diagnosed_on: date
    treating_oncologist: Oncologist | None = None
    blood_group: BloodGroup | None = None
    allergies: Allergies | None = None
    central_venous_catheter: bool = False
    confirm_similar: bool = False


class PatientUpdate(_Request):
    """PATCH /api/v1/patients/{patient_id} (oncology of the unit, admin): a correction; the fields given change and
    each change is kept (who, what, old → new, when). The unit changes only by referral. ``null`` clears an
    optional field (maternal surname, agregado, oncologist, blood group, allergies)."""

    given_names: Name | None = None
    paternal_surname: Name | None = None
    maternal_surname: Name | None = None
    birth_date: date | None = None
    sex: Sex | None = None
    curp: Curp | None = None
    nss: Nss | None = None
    agregado: Agregado | None = None
    diagnosis_code: DiagnosisCode | None = None
    diagnosed_on: date | None = None
    treating_oncologist: Oncologist | None = None
    blood_group: BloodGroup | None = None
    allergies: Allergies | None = None
    central_venous_catheter: bool | None = None
    confirm_similar: bool = False


class PatientDiagnosis(_Response):
    code: str
    name: str
    group: str
    group_name: str
    diagnosed_on: date | None = None


class PatientRecord(_Response):
    """The child's registry record (staff of the unit, admin)."""

    id: str
    given_names: str | None = None
    paternal_surname: str | None = None
    maternal_surname: str | None = None
    full_name: str
    display_name: str
    birth_date: date
    sex: Sex | None = None
    curp: str
    nss: str
    agregado: str | None = None
    unit: Unit
    diagnosis: PatientDiagnosis | None = None
    treating_oncologist: str | None = None
    blood_group: str | None = None
    allergies: str | None = None
    central_venous_catheter: bool | None = None
    created_at: datetime | None = None


class CorrectionKind(StrEnum):
    CORRECCION = "correccion"
    REFERENCIA = "referencia"


class Correction(_Response):
    """One change to a registry record: a correction of a field, or a referral (field ``unit_id``)."""

    id: str
    kind: CorrectionKind
    field: str
    old_value: str | None = None
    new_value: str | None = None
    changed_by: str
    changed_by_role: str | None = None
    changed_at: datetime


class ReferralCreate(_Request):
    """POST /api/v1/patients/{patient_id}/referral (oncology of the current unit, admin): the record moves to
    ``unit_id`` with its history; staff of the old unit lose access at once, the family keeps everything."""

    unit_id: Id


class DiagnosisEntry(_Response):
    """One code of the diagnosis catalogue (GET /api/v1/registry/diagnoses)."""

    code: str
    name: str
    group: str
    group_name: str


# ---- guardians and activation codes ---------------------------------------------------------------


class InvitationCreate(_Request):
    """POST /api/v1/patients/{patient_id}/guardian-invitations (oncology of the unit, admin)."""

    full_name: Annotated[str, StringConstraints(min_length=1, max_length=120)]
    relationship: Annotated[str, StringConstraints(min_length=1, max_length=40)]
    phone: Annotated[str, StringConstraints(min_length=1, max_length=20)]
    #: Staff checked in person that this phone is the guardian's WhatsApp (e.g. the guardian showed the chat):
    #: on activation the number is linked to the new account for "Mi Chat ONCOIMSS".
    whatsapp_verified: bool = False


class Invitation(_Response):
    """The activation code, shown this once (also as a QR): one use, 72 hours."""

    id: str
    code: str
    expires_at: datetime


class InvitationStatus(StrEnum):
    PENDIENTE = "pendiente"
    USADA = "usada"
    VENCIDA = "vencida"
    REVOCADA = "revocada"


class InvitationOut(_Response):
    """An invitation as staff list it (never the code: only its hash is stored)."""

    id: str
    full_name: str
    relationship: str
    phone: str
    status: InvitationStatus
    created_at: datetime
    expires_at: datetime


class ActivationRequest(_Request):
    """POST /api/v1/auth/activate (no sign-in): the code, and the username and password the guardian chooses."""

    code: Annotated[str, StringConstraints(min_length=1, max_length=32)]
    username: Username
    password: Annotated[str, StringConstraints(min_length=1, max_length=256, strip_whitespace=False)]


class ActivationLink(_Request):
    """POST /api/v1/me/activation (a signed-in guardian): link one more child with its code."""

    code: Annotated[str, StringConstraints(min_length=1, max_length=32)]


class LinkedPatient(_Response):
    """The answer to /me/activation: the child now linked."""

    id: str
    display_name: str


class GuardianOut(_Response):
    """Someone with access to the child (GET /api/v1/patients/{patient_id}/guardians). ``phone`` only for staff."""

    user_id: str
    display_name: str
    relationship: str | None = None
    phone: str | None = None
    linked_at: datetime | None = None
    #: True for the caller's own account (a guardian reading the list).
    is_me: bool = False


# ---- registry figures and bulk import ---------------------------------------------------------------


class UnitFigures(_Response):
    unit_id: str
    name: str
    level: UnitLevel
    state: str
    total: int
    new_this_week: int


class UnitsByLevel(_Response):
    umae: int
    segundo_nivel: int


class RegistryFigures(_Response):
    """GET /api/v1/registry/figures?week=YYYY-MM-DD (oncology, case desk: their units; admin: all)."""

    week_start: date
    week_end: date
    total: int
    new_this_week: int
    previous_total: int
    by_unit: list[UnitFigures] = Field(default_factory=list)
    #: Units with at least one registered child at the week's end, by level.
    units_by_level: UnitsByLevel


class ImportedInvitation(_Response):
    row: int
    patient_id: str
    guardian_name: str
    code: str
    expires_at: datetime


class ImportResult(_Response):
    """POST /api/v1/registry/import: every row valid, all written (or, with ``dry_run``, nothing)."""

    rows: int
    created: int
    unchanged: int
    invitations: list[ImportedInvitation] = Field(default_factory=list)
    dry_run: bool = False
