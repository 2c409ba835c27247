"""Bulk import of a hospital's children and guardians from a CSV file: every row checked, all or nothing,
safe to run twice (no HTTP here).

The file is UTF-8 (a BOM is fine), comma-separated, with a header row; its columns (any order, extra
columns refused so a typo is not silently ignored):

    nombres, primer_apellido, segundo_apellido, fecha_nacimiento, sexo, curp, nss, agregado, unidad,
    diagnostico_cie10, fecha_diagnostico, oncologo_tratante, grupo_sanguineo, alergias,
    cateter_venoso_central, confirmar_similar, tutor_nombre, tutor_parentesco, tutor_celular

``unidad`` is a unit's id or its exact name; dates are ``AAAA-MM-DD`` or ``DD/MM/AAAA``; ``sexo`` is
``mujer``/``hombre`` (or M/H); yes/no columns take ``si``/``no`` (empty is no). The three ``tutor_`` columns
are all filled or all empty: filled, the row's guardian gets an activation code, returned once in the answer.

Each row goes through the same checks as ``POST /api/v1/patients`` (registry.py), in one transaction. Any
refusal is kept as a reason "Fila N: …" (N is the line in the file: the header is line 1) and checking goes
on; at the end, one refusal or more rolls everything back and answers 422 ``import_invalid`` with every
reason. A row whose CURP is already registered with the same data is *unchanged* (not a refusal), and its
guardian gets no second code when a pending or used code, or a link, with that phone exists: running the
same file twice writes nothing the second time.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date, datetime

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from carnet_contract import enrolment as wire
from carnet_server import audit
from carnet_server.auth.service import Principal
from carnet_server.context import Context
from carnet_server.db import utcnow
from carnet_server.domain_errors import DomainError, Invalid, Reason
from carnet_server.enrolment import invitations, registry
from carnet_server.enrolment.identity import clean_name, name_problem
from carnet_server.enrolment.tables import GuardianInvitation
from carnet_server.i18n import Lang, t
from carnet_server.patients.tables import GuardianPatient, MedicalUnit

__all__ = ["COLUMNS", "MAX_ROWS", "REQUIRED", "ImportInvalid", "run"]

MAX_ROWS = 2000
COLUMNS = (
    "nombres",
    "primer_apellido",
    "segundo_apellido",
    "fecha_nacimiento",
    "sexo",
    "curp",
    "nss",
    "agregado",
    "unidad",
    "diagnostico_cie10",
    "fecha_diagnostico",
    "oncologo_tratante",
    "grupo_sanguineo",
    "alergias",
    "cateter_venoso_central",
    "confirmar_similar",
    "tutor_nombre",
    "tutor_parentesco",
    "tutor_celular",
)
REQUIRED = (
    "nombres",
    "primer_apellido",
    "fecha_nacimiento",
    "sexo",
    "curp",
    "nss",
    "unidad",
    "diagnostico_cie10",
    "fecha_diagnostico",
)
_FIELDS = {
    "nombres": "given_names",
    "primer_apellido": "paternal_surname",
    "segundo_apellido": "maternal_surname",
    "fecha_nacimiento": "birth_date",
    "sexo": "sex",
    "curp": "curp",
    "nss": "nss",
    "agregado": "agregado",
    "unidad": "unit_id",
    "diagnostico_cie10": "diagnosis_code",
    "fecha_diagnostico": "diagnosed_on",
    "oncologo_tratante": "treating_oncologist",
    "grupo_sanguineo": "blood_group",
    "alergias": "allergies",
    "cateter_venoso_central": "central_venous_catheter",
    "confirmar_similar": "confirm_similar",
}
_YES = {
    "si": True,
    "sí": True,
    "s": True,
    "1": True,
    "true": True,
    "no": False,
    "n": False,
    "0": False,
    "false": False,
    "": False,
}
_SEX = {"mujer": "mujer", "m": "mujer", "f": "mujer", "hombre": "hombre", "h": "hombre"}
_ROW: dict[str, str] = {"es": "Fila {row}: {text}", "en": "Row {row}: {text}"}


class ImportInvalid(Invalid):
    """422 ``import_invalid``: every refusal of the file, each a reason naming its row."""

    code = "import_invalid"

    def __init__(self, reasons: list[Reason]) -> None:
        super().__init__()
        self.reasons = reasons


@dataclass
class _Outcome:
    created: int = 0
    unchanged: int = 0
    invitations: list[wire.ImportedInvitation] = field(default_factory=list)
    reasons: list[Reason] = field(default_factory=list)

    def refuse(self, row: int, code: str, texts: dict[str, str]) -> None:
        self.reasons.append(Reason(code, {lang: _ROW[lang].format(row=row, text=texts[lang]) for lang in _ROW}))


def _date(text: str) -> str:
    """``DD/MM/AAAA`` as ``AAAA-MM-DD``; anything else as it is (pydantic judges it)."""
    parts = text.split("/")
    if len(parts) == 3 and all(p.isdigit() for p in parts):
        return f"{parts[2]}-{parts[1].zfill(2)}-{parts[0].zfill(2)}"
    return text


def _texts(code: str, **params: object) -> dict[str, str]:
    langs: tuple[Lang, ...] = ("es", "en")
    return {lang: t(code, lang, **params) for lang in langs}


def _error_texts(exc: DomainError) -> dict[str, str]:
    if exc.reasons:
        langs: tuple[Lang, ...] = ("es", "en")
        return {
            lang: " ".join(r.messages[lang] if r.messages else t(r.code, lang) for r in exc.reasons) for lang in langs
        }
    return _texts(exc.message_key, **exc.params)


def _units(session: Session) -> dict[str, str]:
    """Unit id by id and by name (case and spaces ignored)."""
    found: dict[str, str] = {}
    for unit in session.scalars(select(MedicalUnit)):
        found[unit.id] = unit.id
        found.setdefault(" ".join(unit.name.split()).casefold(), unit.id)
    return found


def _read(content: bytes) -> list[dict[str, str]]:
    try:
        text = content.decode("utf-8-sig")
        reader = csv.DictReader(io.StringIO(text, newline=""))
        header = [h.strip().lower() for h in (reader.fieldnames or [])]
        raw = list(reader)
        if any(None in r for r in raw):  # more values than columns on a line
            raise Invalid("import_not_csv")
        rows = [{k.strip().lower(): (v or "").strip() for k, v in r.items() if k is not None} for r in raw]
    except (UnicodeDecodeError, csv.Error) as exc:
        raise Invalid("import_not_csv") from exc
    missing = [c for c in REQUIRED if c not in header]
    unknown = [c for c in header if c not in COLUMNS]
    if missing or unknown or not header:
        reasons = []
        if missing:
            reasons.append(
                Reason("import_missing_columns", _texts("import_missing_columns", columns=", ".join(missing)))
            )
        if unknown:
            reasons.append(
                Reason("import_unknown_columns", _texts("import_unknown_columns", columns=", ".join(unknown)))
            )
        raise ImportInvalid(reasons or [Reason("import_not_csv", _texts("import_not_csv"))])
    if len(rows) > MAX_ROWS:
        raise Invalid("import_too_many_rows", max=MAX_ROWS)
    return rows


def _body(row: dict[str, str], units: dict[str, str]) -> wire.PatientCreate:
    values: dict[str, object] = {}
    for column, name in _FIELDS.items():
        value = row.get(column, "")
        if name in ("central_venous_catheter", "confirm_similar"):
            values[name] = _YES.get(value.casefold(), value)
        elif name == "sex":
            values[name] = _SEX.get(value.casefold(), value)
        elif name in ("birth_date", "diagnosed_on"):
            values[name] = _date(value)
        elif name == "unit_id":
            values[name] = units.get(" ".join(value.split()).casefold(), value or "-")
        elif value:
            values[name] = value
    return wire.PatientCreate.model_validate(values)


def _same(existing: registry.Fields, new: registry.Fields) -> bool:
    return all(getattr(existing, f) == getattr(new, f) for f in registry.EDITABLE)


def _guardian(row: dict[str, str]) -> tuple[str, str, str] | str | None:
    """(name, relationship, phone), None when the row has no guardian, or the code of what is wrong."""
    trio = (row.get("tutor_nombre", ""), row.get("tutor_parentesco", ""), row.get("tutor_celular", ""))
    if not any(trio):
        return None
    if not all(trio):
        return "import_guardian_incomplete"
    name = clean_name(trio[0])
    if name_problem("tutor_nombre", name) or len(name) > 120 or len(trio[1]) > 40:
        return "invalid_guardian_name"
    phone = invitations.normalize_phone(trio[2])
    if phone is None:
        return "invalid_phone"
    return name, clean_name(trio[1]), phone


def _has_guardian(session: Session, *, patient_id: str, phone: str, now: datetime) -> bool:
    """A link, or a pending or used code, with this phone: the guardian needs no new code."""
    if session.scalar(
        select(GuardianPatient.user_id).where(GuardianPatient.patient_id == patient_id, GuardianPatient.phone == phone)
    ):
        return True
    for row in session.scalars(
        select(GuardianInvitation).where(GuardianInvitation.patient_id == patient_id, GuardianInvitation.phone == phone)
    ):
        if invitations.invitation_status(row, now) in (wire.InvitationStatus.PENDIENTE, wire.InvitationStatus.USADA):
            return True
    return False


def run(
    session: Session,
    *,
    ctx: Context,
    principal: Principal,
    content: bytes,
    dry_run: bool,
    ip: str | None,
    today: date,
    now: datetime | None = None,
) -> wire.ImportResult:
    """Import the file (see the module docstring). Commits, or rolls back and raises :class:`ImportInvalid`."""
    now = now or utcnow()
    rows = _read(content)
    units = _units(session)
    outcome = _Outcome()
    seen: dict[str, int] = {}
    for number, row in enumerate(rows, start=2):
        try:
            body = _body(row, units)
        except ValidationError as exc:
            columns = sorted(
                {
                    next((c for c, f in _FIELDS.items() if f == e["loc"][0]), str(e["loc"][0]))
                    for e in exc.errors()
                    if e.get("loc")
                }
            )
            outcome.refuse(number, "import_bad_values", _texts("import_bad_values", columns=", ".join(columns)))
            continue
        if body.curp in seen:
            outcome.refuse(number, "import_repeated_curp", _texts("import_repeated_curp", other=seen[body.curp]))
            continue
        seen[body.curp] = number
        guardian = _guardian(row)
        if isinstance(guardian, str):
            outcome.refuse(number, guardian, _texts(guardian))
            continue
        fields = registry.Fields.of(body)
        existing = registry.find_duplicate(session, fields)
        try:
            if existing is not None and existing.curp == fields.curp:
                registry.check_unit(session, principal=principal, unit_id=body.unit_id)
                current = registry.record_fields(session, existing)
                if not _same(current, fields) or existing.unit_id != body.unit_id:
                    raise Invalid("import_conflicting_record")
                patient, outcome.unchanged = existing, outcome.unchanged + 1
            else:
                patient = registry.register(
                    session, principal=principal, body=body, ip=ip, today=today, now=now, action="patient.import"
                )
                outcome.created += 1
        except DomainError as exc:
            outcome.refuse(number, exc.code, _error_texts(exc))
            continue
        if guardian is not None and not _has_guardian(session, patient_id=patient.id, phone=guardian[2], now=now):
            invitation, code = invitations.issue(
                session,
                ctx=ctx,
                patient_id=patient.id,
                full_name=guardian[0],
                relationship=guardian[1],
                phone=guardian[2],
                created_by_id=principal.id,
                now=now,
            )
            outcome.invitations.append(
                wire.ImportedInvitation(
                    row=number,
                    patient_id=patient.id,
                    guardian_name=guardian[0],
                    code=code,
                    expires_at=invitation.expires_at,
                )
            )
    if outcome.reasons:
        session.rollback()
        raise ImportInvalid(outcome.reasons)
    result = wire.ImportResult(
        rows=len(rows),
        created=outcome.created,
        unchanged=outcome.unchanged,
        invitations=[] if dry_run else outcome.invitations,
        dry_run=dry_run,
    )
    if dry_run:
        session.rollback()
        return result
    audit.record(
        session,
        action="registry.import",
        actor_id=principal.id,
        actor_role=principal.role,
        object_type="registry_import",
        object_id="-",
        ip=ip,
        detail={
            "rows": len(rows),
            "created": outcome.created,
            "unchanged": outcome.unchanged,
            "invitations": len(outcome.invitations),
        },
    )
    session.commit()
    return result
