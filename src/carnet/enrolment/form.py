"""The enrolment forms as typed, and what the app checks before asking the server. No Flet.

Each check answers ``field → (message key, its values)``: empty means send it. The server checks again (and
more: CURP and NSS check digits, the catalogue); its 422 reasons are put beside their fields by
:func:`reasons_by_field`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from carnet.auth.account import MIN_PASSWORD_LENGTH
from carnet.data.api import HttpError
from carnet.enrolment.codes import ALPHABET, CODE_LENGTH, read_code
from carnet_contract import enrolment as wire

__all__ = [
    "ActivationForm",
    "GuardianForm",
    "Problems",
    "RegistrationForm",
    "check_activation",
    "check_code",
    "check_guardian",
    "check_registration",
    "parse_day",
    "reasons_by_field",
]

Problems = dict[str, tuple[str, dict[str, object]]]

#: The server's usernames: 3–64 of a-z 0-9 . _ -, starting with a letter or digit (stored in lower case).
USERNAME_RE = re.compile(r"[a-z0-9][a-z0-9._-]{2,63}")
PHONE_RE = re.compile(r"(\+?52)?\d{10}")


def check_code(typed: str) -> Problems:
    found = read_code(typed)
    if not found.code:
        return {"code": ("enr_err_code_missing", {})}
    if found.foreign:
        return {"code": ("enr_err_code_chars", {"chars": " ".join(found.foreign), "alphabet": ALPHABET})}
    if len(found.code) != CODE_LENGTH:
        return {"code": ("enr_err_code_length", {"count": len(found.code), "length": CODE_LENGTH})}
    return {}


@dataclass(frozen=True)
class ActivationForm:
    code: str
    username: str
    password: str
    repeat: str

    @property
    def clean_username(self) -> str:
        return self.username.strip().lower()


def check_activation(form: ActivationForm, *, min_length: int = MIN_PASSWORD_LENGTH) -> Problems:
    """The code, the username's form and the password rules of a password change (length, not the username)."""
    problems = check_code(form.code)
    username = form.clean_username
    if not username:
        problems["username"] = ("enr_err_username_missing", {})
    elif not USERNAME_RE.fullmatch(username):
        problems["username"] = ("enr_err_username_form", {})
    if len(form.password) < min_length:
        problems["password"] = ("acct_err_short", {"min": min_length})
    elif username and form.password.strip().lower() == username:
        problems["password"] = ("acct_err_is_username", {})
    if form.repeat != form.password:
        problems["repeat"] = ("acct_err_mismatch", {})
    return problems


def parse_day(text: str) -> date | None:
    """``AAAA-MM-DD`` or ``DD/MM/AAAA`` (as the registry's CSV takes them); None when it is neither."""
    text = text.strip()
    found = re.fullmatch(r"(\d{4})-(\d{1,2})-(\d{1,2})", text)
    if found:
        year, month, day = (int(g) for g in found.groups())
    elif found := re.fullmatch(r"(\d{1,2})[/-](\d{1,2})[/-](\d{4})", text):
        day, month, year = (int(g) for g in found.groups())
    else:
        return None
    try:
        return date(year, month, day)
    except ValueError:
        return None


@dataclass(frozen=True)
class RegistrationForm:
    """A child's registration as typed (text fields as strings; choices as their values, "" for none)."""

    given_names: str = ""
    paternal_surname: str = ""
    maternal_surname: str = ""
    birth_date: str = ""
    sex: str = ""
    curp: str = ""
    nss: str = ""
    agregado: str = ""
    unit_id: str = ""
    diagnosis_code: str = ""
    diagnosed_on: str = ""
    treating_oncologist: str = ""
    blood_group: str = ""
    allergies: str = ""
    central_venous_catheter: bool = False

    def values(self) -> dict[str, object]:
        """The fields as the server takes them (trimmed, upper case where it is; "" → None; dates parsed)."""

        def optional(text: str) -> str | None:
            return text.strip() or None

        return {
            "given_names": self.given_names.strip(),
            "paternal_surname": self.paternal_surname.strip(),
            "maternal_surname": optional(self.maternal_surname),
            "birth_date": parse_day(self.birth_date),
            "sex": self.sex or None,
            "curp": self.curp.strip().replace(" ", "").upper(),
            "nss": re.sub(r"[\s-]", "", self.nss),
            "agregado": optional(self.agregado.replace(" ", "").upper()),
            "unit_id": self.unit_id,
            "diagnosis_code": self.diagnosis_code.upper() or None,
            "diagnosed_on": parse_day(self.diagnosed_on),
            "treating_oncologist": optional(self.treating_oncologist),
            "blood_group": self.blood_group or None,
            "allergies": optional(self.allergies),
            "central_venous_catheter": self.central_venous_catheter,
        }

    def to_request(self, *, confirm_similar: bool = False) -> wire.PatientCreate:
        """The request (call only when :func:`check_registration` found nothing)."""
        return wire.PatientCreate.model_validate({**self.values(), "confirm_similar": confirm_similar})


def form_of(record: wire.PatientRecord) -> RegistrationForm:
    """A record as its form, to correct it."""
    return RegistrationForm(
        given_names=record.given_names or "",
        paternal_surname=record.paternal_surname or "",
        maternal_surname=record.maternal_surname or "",
        birth_date=record.birth_date.isoformat(),
        sex=record.sex.value if record.sex else "",
        curp=record.curp,
        nss=record.nss,
        agregado=record.agregado or "",
        unit_id=record.unit.id,
        diagnosis_code=record.diagnosis.code if record.diagnosis else "",
        diagnosed_on=record.diagnosis.diagnosed_on.isoformat()
        if record.diagnosis and record.diagnosis.diagnosed_on
        else "",
        treating_oncologist=record.treating_oncologist or "",
        blood_group=record.blood_group or "",
        allergies=record.allergies or "",
        central_venous_catheter=bool(record.central_venous_catheter),
    )


def changes_of(record: wire.PatientRecord, form: RegistrationForm) -> dict[str, object]:
    """The fields a correction changes (an emptied optional field as None); call after :func:`check_registration`."""
    before, after = form_of(record).values(), form.values()
    return {
        name: after[name]
        for name in wire.PatientUpdate.model_fields
        if name != "confirm_similar" and name in after and after[name] != before[name]
    }


_REQUIRED = (
    "given_names",
    "paternal_surname",
    "birth_date",
    "sex",
    "curp",
    "nss",
    "unit_id",
    "diagnosis_code",
    "diagnosed_on",
)
_LIMITS = {
    "given_names": 60,
    "paternal_surname": 60,
    "maternal_surname": 60,
    "treating_oncologist": 120,
    "allergies": 500,
}


def check_registration(form: RegistrationForm, *, today: date) -> Problems:
    """What is missing or unreadable; the identifiers' check digits are the server's to judge."""
    problems: Problems = {}
    for name in _REQUIRED:
        if not str(getattr(form, name)).strip():
            problems[name] = ("enr_err_required", {})
    for name, limit in _LIMITS.items():
        if len(str(getattr(form, name)).strip()) > limit:
            problems[name] = ("enr_err_too_long", {"max": limit})
    for name in ("birth_date", "diagnosed_on"):
        text = str(getattr(form, name)).strip()
        if text and parse_day(text) is None:
            problems[name] = ("enr_err_date", {})
    born = parse_day(form.birth_date)
    if born is not None and born > today:
        problems["birth_date"] = ("enr_err_future", {})
    if form.curp.strip() and len(form.curp.strip().replace(" ", "")) != 18:
        problems["curp"] = ("enr_err_curp_length", {})
    nss = re.sub(r"[\s-]", "", form.nss)
    if nss and (len(nss) != 11 or not nss.isdigit()):
        problems["nss"] = ("enr_err_nss_length", {})
    return problems


@dataclass(frozen=True)
class GuardianForm:
    full_name: str = ""
    relationship: str = ""
    phone: str = ""

    def to_request(self) -> wire.InvitationCreate:
        return wire.InvitationCreate(
            full_name=self.full_name.strip(), relationship=self.relationship.strip(), phone=_digits(self.phone)
        )


def _digits(phone: str) -> str:
    return re.sub(r"[\s().-]", "", phone)


def check_guardian(form: GuardianForm) -> Problems:
    problems: Problems = {}
    for name in ("full_name", "relationship", "phone"):
        if not getattr(form, name).strip():
            problems[name] = ("enr_err_required", {})
    if len(form.full_name.strip()) > 120:
        problems["full_name"] = ("enr_err_too_long", {"max": 120})
    if len(form.relationship.strip()) > 40:
        problems["relationship"] = ("enr_err_too_long", {"max": 40})
    if form.phone.strip() and not PHONE_RE.fullmatch(_digits(form.phone)):
        problems["phone"] = ("enr_err_phone", {})
    return problems


#: The registration's fields (the server's names): where a server reason goes.
REGISTRATION_FIELDS = frozenset(RegistrationForm.__dataclass_fields__)
#: Server error codes that name one field of the guardian form.
GUARDIAN_CODES = {"invalid_guardian_name": "full_name", "invalid_phone": "phone"}


def reasons_by_field(exc: HttpError, fields: frozenset[str] = REGISTRATION_FIELDS) -> dict[str, str]:
    """A 422's reasons beside their fields: each reason reads ``"curp: el dígito verificador…"`` (the field the
    server names, then the words); a reason naming no known field goes to ``form``, as does a bare message."""
    found: dict[str, list[str]] = {}
    for reason in exc.reasons:
        name, sep, words = reason.message.partition(":")
        target = name.strip() if sep and name.strip() in fields else "form"
        found.setdefault(target, []).append(words.strip() if target != "form" else reason.message)
    if not found:
        named = exc.details.get("field")
        target = named if isinstance(named, str) and named in fields else "form"
        found[target] = [exc.message]
    return {name: " ".join(texts) for name, texts in found.items()}
