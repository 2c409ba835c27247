"""Shared pieces of the enrolment tests: valid identifiers, a child's body, counts of what was written."""

from __future__ import annotations

import warnings
from typing import Any

from sqlalchemy import func, select

with warnings.catch_warnings():  # Starlette 1.x nudges towards httpx2; httpx 0.28 is pinned here
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from carnet_server.auth.tables import User
from carnet_server.context import Context
from carnet_server.enrolment.tables import GuardianInvitation, PatientCorrection
from carnet_server.patients.tables import Diagnosis, GuardianPatient, Patient, curp_check_digit, nss_check_digit


def curp(first17: str) -> str:
    return first17 + curp_check_digit(first17)


def nss(first10: str) -> str:
    return first10 + nss_check_digit(first10)


SOFIA_CURP = curp("RAOS180615MDFMRFA")
SOFIA_NSS = nss("1234567890")


def units(client: TestClient, headers: dict[str, str]) -> dict[str, str]:
    """Unit ids by a short key: sxxi, raza, leon, obregon."""
    keys = {"Siglo XXI": "sxxi", "La Raza": "raza", "León": "leon", "Obregón": "obregon"}
    found = {}
    for unit in client.get("/api/v1/units", headers=headers).json():
        for text, key in keys.items():
            if text in unit["name"]:
                found[key] = unit["id"]
    return found


def child(unit_id: str, **changes: Any) -> dict[str, Any]:
    """A valid registration: Sofía Ramírez Ortega, born 2018-06-15, acute lymphoblastic leukaemia."""
    body = {
        "given_names": "Sofía", "paternal_surname": "Ramírez", "maternal_surname": "Ortega",
        "birth_date": "2018-06-15", "sex": "mujer", "curp": SOFIA_CURP, "nss": SOFIA_NSS, "agregado": "3F2018OR",
        "unit_id": unit_id, "diagnosis_code": "C91.0", "diagnosed_on": "2026-09-01",
        "treating_oncologist": "Dra. Elena Villaseñor", "blood_group": "O+", "allergies": "Penicilina",
        "central_venous_catheter": True,
    }
    body.update(changes)
    return body


def counts(ctx: Context) -> dict[str, int]:
    """Rows of everything enrolment writes."""
    tables = {"patients": Patient, "diagnoses": Diagnosis, "links": GuardianPatient, "users": User,
              "invitations": GuardianInvitation, "corrections": PatientCorrection}
    with ctx.sessions() as session:
        return {name: int(session.scalar(select(func.count()).select_from(table)) or 0)
                for name, table in tables.items()}
