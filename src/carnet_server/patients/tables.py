"""Tables of the patients domain: units, patients, the carnet, QR tokens, access links."""

from __future__ import annotations

import re
from datetime import date, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from carnet_server.db import Base, UTCDateTime, new_id, utcnow

__all__ = [
    "CURP_RE",
    "NSS_RE",
    "Cycle",
    "CycleDrug",
    "Diagnosis",
    "GuardianPatient",
    "MedicalUnit",
    "Patient",
    "Protocol",
    "QrToken",
    "UnitEmergency",
    "UserUnit",
    "curp_check_digit",
    "curp_problem",
    "nss_check_digit",
    "nss_problem",
]

# RENAPO's published CURP format (with the state codes and the "NE" of people born abroad).
CURP_RE = re.compile(
    r"^[A-Z][AEIOUX][A-Z]{2}\d{2}(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])[HMX]"
    r"(AS|BC|BS|CC|CL|CM|CS|CH|DF|DG|GT|GR|HG|JC|MC|MN|MS|NT|NL|OC|PL|QT|QR|SP|SL|SR|TC|TS|TL|VZ|YN|ZS|NE)"
    r"[B-DF-HJ-NP-TV-Z]{3}[0-9A-Z]\d$"
)
NSS_RE = re.compile(r"^\d{11}$")

_CURP_ALPHABET = "0123456789ABCDEFGHIJKLMNÑOPQRSTUVWXYZ"


def curp_check_digit(first17: str) -> str:
    """RENAPO's CURP check digit: each of the first 17 characters weighs 18 - position
    (its value is its index in ``0-9 A-N Ñ O-Z``); the digit is (10 - sum % 10) % 10."""
    if len(first17) != 17 or any(ch not in _CURP_ALPHABET for ch in first17):
        raise ValueError("a CURP check digit needs 17 characters of 0-9, A-Z, Ñ")
    total = sum(_CURP_ALPHABET.index(ch) * (18 - i) for i, ch in enumerate(first17))
    return str((10 - total % 10) % 10)


def nss_check_digit(first10: str) -> str:
    """The IMSS NSS check digit: Luhn over the first ten digits (every second digit doubled)."""
    if len(first10) != 10 or not first10.isdigit():
        raise ValueError("an NSS check digit needs 10 digits")
    total = 0
    for i, ch in enumerate(first10):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return str((10 - total % 10) % 10)


def curp_problem(curp: str) -> str | None:
    """Why ``curp`` (already upper-cased) is not a valid CURP, or None when it is."""
    if not CURP_RE.match(curp):
        return "CURP does not match the official format (18 characters: 4 letters, birth date, sex, state, …)"
    if curp[17] != curp_check_digit(curp[:17]):
        return "CURP check digit (18th character) is wrong: the CURP was mistyped"
    return None


def nss_problem(nss: str) -> str | None:
    """Why ``nss`` is not a valid IMSS NSS, or None when it is."""
    if not NSS_RE.match(nss):
        return "NSS must be 11 digits"
    if nss[10] != nss_check_digit(nss[:10]):
        return "NSS check digit (11th digit) is wrong: the NSS was mistyped"
    return None


class MedicalUnit(Base):
    __tablename__ = "medical_units"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    level: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(64))
    #: The unit's emergency service (None: not written yet).
    emergency: Mapped[UnitEmergency | None] = relationship(lazy="joined", uselist=False, cascade="all, delete-orphan")


class UnitEmergency(Base):
    """A unit's emergency service (migration 0012; fever/): a 24-hour phone, the address, a map link, what a
    family brings and what it must not do — the hospital's own words, shown as they are. A table of its own:
    SQLite cannot drop columns of ``medical_units`` on a downgrade without rebuilding a table many others
    reference."""

    __tablename__ = "unit_emergency"

    unit_id: Mapped[str] = mapped_column(ForeignKey("medical_units.id", ondelete="CASCADE"), primary_key=True)
    phone: Mapped[str] = mapped_column(String(40))
    address: Mapped[str] = mapped_column(String(300))
    map_url: Mapped[str | None] = mapped_column(String(500), nullable=True)
    bring: Mapped[list[str]] = mapped_column(JSON, default=list)
    avoid: Mapped[list[str]] = mapped_column(JSON, default=list)
    oncology_phone: Mapped[str | None] = mapped_column(String(40), nullable=True)


class UserUnit(Base):
    """Staff member ↔ the units whose patients they may see."""

    __tablename__ = "user_units"

    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    unit_id: Mapped[str] = mapped_column(ForeignKey("medical_units.id", ondelete="CASCADE"), primary_key=True)


class GuardianPatient(Base):
    """Guardian account ↔ a child it may see."""

    __tablename__ = "guardian_patients"

    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    patient_id: Mapped[str] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"), primary_key=True)
    #: From the activation code that made the link (None for links made before migration 0008).
    relationship: Mapped[str | None] = mapped_column(String(40), nullable=True)
    phone: Mapped[str | None] = mapped_column(String(20), nullable=True)
    linked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Patient(Base):
    """A registered child. ``full_name`` and ``display_name`` are derived from the name parts when the registry
    writes them (enrolment/registry.py); children registered before migration 0008 have no parts."""

    __tablename__ = "patients"
    __table_args__ = (
        # The same NSS + agregado médico is the same beneficiary (siblings share the NSS of the insured parent).
        Index(
            "uq_patients_nss_agregado",
            "nss",
            "agregado",
            unique=True,
            postgresql_where=text("agregado IS NOT NULL"),
            sqlite_where=text("agregado IS NOT NULL"),
        ),
        Index("ix_patients_name_key", "name_key"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    full_name: Mapped[str] = mapped_column(String(200))
    display_name: Mapped[str] = mapped_column(String(120))
    nss: Mapped[str] = mapped_column(String(11))
    curp: Mapped[str] = mapped_column(String(18), unique=True)
    birth_date: Mapped[date] = mapped_column(Date)
    unit_id: Mapped[str] = mapped_column(ForeignKey("medical_units.id"), index=True)
    #: When the child was registered (None for children registered before migration 0004).
    created_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=utcnow, nullable=True)
    # The registry's fields (migration 0008; None for children registered before it).
    given_names: Mapped[str | None] = mapped_column(String(60), nullable=True)
    paternal_surname: Mapped[str | None] = mapped_column(String(60), nullable=True)
    maternal_surname: Mapped[str | None] = mapped_column(String(60), nullable=True)
    #: ``mujer`` or ``hombre``.
    sex: Mapped[str | None] = mapped_column(String(8), nullable=True)
    #: The agregado médico beside the NSS (e.g. ``4M2019OR``; enrolment/identity.py).
    agregado: Mapped[str | None] = mapped_column(String(8), nullable=True)
    treating_oncologist: Mapped[str | None] = mapped_column(String(120), nullable=True)
    blood_group: Mapped[str | None] = mapped_column(String(3), nullable=True)
    allergies: Mapped[str | None] = mapped_column(Text, nullable=True)
    central_venous_catheter: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    #: The full name without accents, case or extra spaces: for search and the similar-name check.
    name_key: Mapped[str | None] = mapped_column(String(200), nullable=True)

    unit: Mapped[MedicalUnit] = relationship(lazy="joined")

    @validates("nss")
    def _check_nss(self, _key: str, value: str) -> str:
        value = value.strip()
        if problem := nss_problem(value):
            raise ValueError(problem)
        return value

    @validates("curp")
    def _check_curp(self, _key: str, value: str) -> str:
        value = value.strip().upper()
        if problem := curp_problem(value):
            raise ValueError(problem)
        return value


class Diagnosis(Base):
    __tablename__ = "diagnoses"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    patient_id: Mapped[str] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    cie10: Mapped[str | None] = mapped_column(String(16), nullable=True)
    diagnosed_on: Mapped[date | None] = mapped_column(Date, nullable=True)


class Protocol(Base):
    __tablename__ = "protocols"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    patient_id: Mapped[str] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text, nullable=True)


class Cycle(Base):
    __tablename__ = "cycles"
    __table_args__ = (UniqueConstraint("patient_id", "number", name="uq_cycles_patient_number"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    patient_id: Mapped[str] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"), index=True)
    protocol_id: Mapped[str] = mapped_column(ForeignKey("protocols.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    scheduled_for: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16))
    mixing_status: Mapped[str] = mapped_column(String(16))
    mixing_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: When the hospital confirmed the cycle; confirming creates its mixing order.
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: The catalogue regimen (one version of it) the cycle was written from; None: written before the catalogue.
    #: No foreign key (as ``prescribed_by``): SQLite cannot drop such a column on a downgrade without rebuilding
    #: ``cycles``, and regimen versions and users are never deleted.
    regimen_id: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    phase: Mapped[str | None] = mapped_column(String(120), nullable=True)
    phase_code: Mapped[str | None] = mapped_column(String(40), nullable=True)
    #: Cycle n of N within the phase.
    phase_number: Mapped[int | None] = mapped_column(Integer, nullable=True)
    phase_cycles: Mapped[int | None] = mapped_column(Integer, nullable=True)
    bsa_m2: Mapped[float | None] = mapped_column(Float, nullable=True)
    weight_kg: Mapped[float | None] = mapped_column(Float, nullable=True)
    height_cm: Mapped[float | None] = mapped_column(Float, nullable=True)
    #: The hospital session days, ISO dates comma-separated (the first is ``scheduled_for``).
    sessions: Mapped[str] = mapped_column(Text, default="", server_default="")
    deferred_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    previous_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    suspended_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: Optimistic lock: every change bumps it; a change made on an older version is refused (409).
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    prescribed_by: Mapped[str | None] = mapped_column(String(32), nullable=True)

    drugs: Mapped[list[CycleDrug]] = relationship(
        order_by="CycleDrug.position", lazy="selectin", cascade="all, delete-orphan"
    )
    protocol: Mapped[Protocol | None] = relationship(lazy="selectin")


class CycleDrug(Base):
    __tablename__ = "cycle_drugs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    cycle_id: Mapped[str] = mapped_column(ForeignKey("cycles.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    route: Mapped[str] = mapped_column(String(16))
    position: Mapped[int] = mapped_column(Integer)
    #: The catalogue's drug code (None: written before the catalogue).
    code: Mapped[str | None] = mapped_column(String(40), nullable=True)
    #: The dose, structured (``carnet_contract.models.Dose``): what is given, in ``dose_unit``; None when it
    #: was never computed (free text migrated: only the per-m²/kg figure is known).
    amount: Mapped[float | None] = mapped_column(Float, nullable=True)
    dose_unit: Mapped[str] = mapped_column(String(8))
    basis: Mapped[str] = mapped_column(String(8))
    per_basis: Mapped[float] = mapped_column(Float)
    computed: Mapped[float | None] = mapped_column(Float, nullable=True)
    capped: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    cap: Mapped[float | None] = mapped_column(Float, nullable=True)
    changed_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    family: Mapped[str | None] = mapped_column(String(40), nullable=True)
    #: The cycle's days it is given on, comma-separated (1: the first day).
    days: Mapped[str] = mapped_column(String(1200), default="", server_default="")
    home_schedule: Mapped[str | None] = mapped_column(String(16), nullable=True)


class QrToken(Base):
    """A signed QR token as issued; kept to reuse it and to revoke it by ``jti``."""

    __tablename__ = "qr_tokens"

    jti: Mapped[str] = mapped_column(String(32), primary_key=True)
    patient_id: Mapped[str] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"), index=True)
    kid: Mapped[str] = mapped_column(String(64))
    cycle_ids: Mapped[str] = mapped_column(String(200))  # the "cyc" claim, comma-separated
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    token: Mapped[str] = mapped_column(Text)

    __table_args__ = (
        # The pharmacy trust bundle lists revoked tokens not yet expired: a small partial index.
        Index(
            "ix_qr_tokens_revoked_expires_at",
            "expires_at",
            postgresql_where=text("revoked_at IS NOT NULL"),
            sqlite_where=text("revoked_at IS NOT NULL"),
        ),
    )
