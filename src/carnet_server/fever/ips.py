"""The emergency card as a FHIR R4 International Patient Summary (IPS) document, for other hospitals.

A ``Bundle`` of type ``document`` (identifier, timestamp) whose first entry is a ``Composition`` typed
LOINC 60591-5 "Patient summary Document", with the three sections the IPS requires, each with its LOINC
code, a narrative and entries (or an ``emptyReason``):

* Problems (11450-4): a ``Condition`` per diagnosis (ICD-10 code when known);
* Allergies and Intolerances (48765-2): an ``AllergyIntolerance`` with the team's text, or the IPS's
  "no known allergies" (SNOMED CT 716186003) only when the whole text, normalised, is one of the phrases
  that say there are none (:data:`NONE_PHRASES`: "Ninguna conocida", "Niega alergias", "NKDA"…), or
  ``emptyReason`` ``unavailable`` when nothing was recorded. A text that names an allergy and then says
  "ninguna otra" ("Penicilina; ninguna otra conocida") is an allergy: matching words anywhere in the text
  would tell another hospital that a child allergic to penicillin has none (a clinical safety bug, fixed);
* Medication Summary (10160-0): a ``MedicationStatement`` per drug of the latest chemotherapy cycle, or
  ``emptyReason`` ``unavailable``.

Every resource has a ``fullUrl`` ``urn:uuid:…`` and every reference points to one of them. Plain dicts: no
FHIR library is needed for this small, fixed shape (tests/server/test_fever.py checks the structure).
"""

from __future__ import annotations

import html
import re
import unicodedata
import uuid
from datetime import datetime
from typing import Any, Literal

from carnet_contract import models as contract

__all__ = ["NONE_PHRASES", "NO_KNOWN_ALLERGIES", "SECTIONS", "AllergyStatus", "allergy_status", "bundle"]

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
ICD10 = "http://hl7.org/fhir/sid/icd-10"
SECTIONS = {"problems": "11450-4", "allergies": "48765-2", "medications": "10160-0"}
NO_KNOWN_ALLERGIES = "716186003"
#: Whole texts (normalised: lower case, no accents, punctuation as spaces) that say the child has no known
#: allergy. Only an exact match counts: anything else is exported as the team wrote it.
NONE_PHRASES = frozenset(
    {
        "no",
        "nada",
        "ninguna",
        "ninguno",
        "ninguna conocida",
        "ninguna alergia",
        "ninguna alergia conocida",
        "sin alergias",
        "sin alergia",
        "sin alergias conocidas",
        "sin alergia conocida",
        "niega",
        "niega alergias",
        "niega alergia",
        "negadas",
        "negada",
        "alergias negadas",
        "interrogadas y negadas",
        "no conocidas",
        "no conocida",
        "alergias no conocidas",
        "no tiene alergias",
        "no tiene alergias conocidas",
        "nkda",
        "nka",
        "none",
        "none known",
        "no known allergies",
        "no known allergy",
        "no known drug allergies",
    }
)
_EMPTY_REASON = {
    "coding": [
        {
            "system": "http://terminology.hl7.org/CodeSystem/list-empty-reason",
            "code": "unavailable",
            "display": "Unavailable",
        }
    ]
}


def _urn() -> str:
    return f"urn:uuid:{uuid.uuid4()}"


def _narrative(lines: list[str]) -> dict[str, str]:
    items = "".join(f"<li>{html.escape(line)}</li>" for line in lines)
    return {"status": "generated", "div": f'<div xmlns="http://www.w3.org/1999/xhtml"><ul>{items}</ul></div>'}


AllergyStatus = Literal["none_known", "no_information", "recorded"]


def _normalised(text: str) -> str:
    """Lower case, no accents, each run of punctuation or space one space ("Ninguna." → "ninguna")."""
    folded = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(ch for ch in folded if not unicodedata.combining(ch))
    return " ".join(re.sub(r"[\W_]+", " ", plain).split())


def allergy_status(text: str | None) -> AllergyStatus:
    """What the team's allergy text says: ``none_known`` only when the whole text is a phrase of
    :data:`NONE_PHRASES`; ``no_information`` when nothing (or only punctuation) was written; else ``recorded``
    (an allergy, or text to be read as written: "Penicilina; ninguna otra conocida" is an allergy)."""
    if text is None:
        return "no_information"
    key = _normalised(text)
    if not key:
        return "no_information"
    # "Alergias: ninguna" is "ninguna" under its label
    unlabelled = {key, key.removeprefix("alergias "), key.removeprefix("alergia ")}
    return "none_known" if unlabelled & NONE_PHRASES else "recorded"


def bundle(card: contract.EmergencyCard, *, base_url: str, now: datetime) -> dict[str, Any]:
    """The IPS document for ``card`` (a new identifier on every export)."""
    patient_url = _urn()
    subject = {"reference": patient_url}
    names = card.full_name.split()
    patient: dict[str, Any] = {
        "resourceType": "Patient",
        "identifier": [{"system": f"{base_url}/patients", "value": card.patient_id}],
        "name": [{"text": card.full_name, "family": " ".join(names[1:]) or card.full_name, "given": names[:1]}],
        "birthDate": card.birth_date.isoformat(),
    }
    if card.sex in ("mujer", "hombre"):
        patient["gender"] = "female" if card.sex == "mujer" else "male"
    entries: list[dict[str, Any]] = [{"fullUrl": patient_url, "resource": patient}]

    def add(resource: dict[str, Any]) -> dict[str, str]:
        url = _urn()
        entries.append({"fullUrl": url, "resource": resource})
        return {"reference": url}

    # Problems
    problem_refs: list[dict[str, str]] = []
    problem_lines: list[str] = []
    if card.diagnosis is not None:
        code: dict[str, Any] = {"text": card.diagnosis.name}
        if card.diagnosis.cie10:
            code["coding"] = [{"system": ICD10, "code": card.diagnosis.cie10, "display": card.diagnosis.name}]
        condition: dict[str, Any] = {
            "resourceType": "Condition",
            "clinicalStatus": {
                "coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}]
            },
            "code": code,
            "subject": subject,
        }
        if card.diagnosis.diagnosed_on:
            condition["onsetDateTime"] = card.diagnosis.diagnosed_on.isoformat()
        problem_refs.append(add(condition))
        problem_lines.append(card.diagnosis.name + (f" ({card.diagnosis.cie10})" if card.diagnosis.cie10 else ""))
    if card.central_venous_catheter:
        problem_lines.append("Catéter venoso central")

    # Allergies
    allergy_refs: list[dict[str, str]] = []
    status = allergy_status(card.allergies)
    if card.allergies is not None and status != "no_information":
        if status == "none_known":
            allergy_code = {
                "coding": [{"system": SNOMED, "code": NO_KNOWN_ALLERGIES, "display": "No known allergy"}],
                "text": card.allergies,
            }
        else:
            allergy_code = {"text": card.allergies}
        allergy_refs.append(
            add(
                {
                    "resourceType": "AllergyIntolerance",
                    "clinicalStatus": {
                        "coding": [
                            {
                                "system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical",
                                "code": "active",
                            }
                        ]
                    },
                    "code": allergy_code,
                    "patient": subject,
                }
            )
        )

    # Medications
    medication_refs = [
        add(
            {
                "resourceType": "MedicationStatement",
                "status": "active",
                "medicationCodeableConcept": {"text": name},
                "subject": subject,
                **(
                    {"effectiveDateTime": card.last_chemotherapy_date.isoformat()}
                    if card.last_chemotherapy_date
                    else {}
                ),
            }
        )
        for name in card.last_chemotherapy_drugs
    ]

    def section(key: str, title: str, refs: list[dict[str, str]], lines: list[str]) -> dict[str, Any]:
        out: dict[str, Any] = {
            "title": title,
            "code": {"coding": [{"system": LOINC, "code": SECTIONS[key]}]},
            "text": _narrative(lines or ["Sin información registrada"]),
        }
        if refs:
            out["entry"] = refs
        else:
            out["emptyReason"] = _EMPTY_REASON
        return out

    medication_lines = [
        f"{name} (último ciclo: {card.last_chemotherapy_date.isoformat()})" if card.last_chemotherapy_date else name
        for name in card.last_chemotherapy_drugs
    ]
    if card.protocol:
        medication_lines.insert(0, f"Protocolo: {card.protocol}" + (f", fase {card.phase}" if card.phase else ""))
    organization = add({"resourceType": "Organization", "name": card.unit.name})
    composition = {
        "resourceType": "Composition",
        "status": "final",
        "type": {"coding": [{"system": LOINC, "code": "60591-5", "display": "Patient summary Document"}]},
        "subject": subject,
        "date": now.isoformat(),
        "author": [organization],
        "title": f"Resumen del paciente — {card.full_name}",
        "section": [
            section("problems", "Problemas", problem_refs, problem_lines),
            section(
                "allergies",
                "Alergias e intolerancias",
                allergy_refs,
                [card.allergies] if card.allergies is not None and allergy_refs else [],
            ),
            section("medications", "Medicamentos", medication_refs, medication_lines),
        ],
    }
    composition_url = _urn()
    return {
        "resourceType": "Bundle",
        "identifier": {"system": "urn:ietf:rfc:3986", "value": _urn()},
        "type": "document",
        "timestamp": now.isoformat(),
        "entry": [{"fullUrl": composition_url, "resource": composition}, *entries],
    }
