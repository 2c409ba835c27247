"""User-facing text of enrolment and administration (merged into i18n.MESSAGES)."""

from __future__ import annotations

from typing import Literal

__all__ = ["MESSAGES"]

MESSAGES: dict[str, dict[Literal["es", "en"], str]] = {
    # administration
    "password_change_required": {
        "es": "Su contraseña es temporal: cámbiela antes de continuar.",
        "en": "Your password is a temporary one: change it before you go on.",
    },
    "unit_not_found": {"es": "No se encontró la unidad médica.", "en": "Medical unit not found."},
    "staff_not_found": {"es": "No se encontró la cuenta de personal.", "en": "Staff account not found."},
    "username_taken": {
        "es": "Ese nombre de usuario ya existe; elija otro.",
        "en": "That username is taken; choose another one.",
    },
    "invalid_username": {
        "es": "El usuario debe tener de 3 a 64 caracteres: letras a-z sin acentos, números, punto, guion o "
        "guion bajo, y empezar con letra o número.",
        "en": "The username must have 3 to 64 characters: letters a-z, digits, dot, dash or underscore, "
        "starting with a letter or digit.",
    },
    "units_required": {
        "es": "Asigne al menos una unidad médica a la cuenta.",
        "en": "Give the account at least one medical unit.",
    },
    "own_account": {
        "es": "No puede desactivar su propia cuenta.",
        "en": "You cannot deactivate your own account.",
    },
    # the registry
    "unit_not_yours": {
        "es": "Solo puede registrar o referir pacientes desde las unidades en que trabaja.",
        "en": "You can only register or refer patients from the units you work at.",
    },
    "patient_invalid": {"es": "Revise los datos del paciente: {reasons}", "en": "Check the patient's data: {reasons}"},
    "patient_exists": {
        "es": "El paciente ya está registrado (misma CURP, o mismo NSS y agregado médico).",
        "en": "The patient is already registered (same CURP, or same NSS and agregado médico).",
    },
    "patient_similar": {
        "es": "Ya hay un paciente registrado con un nombre parecido y la misma fecha de nacimiento. "
        "Revise que no sea el mismo niño; si no lo es, confirme el registro.",
        "en": "A patient with a similar name and the same birth date is already registered. Check it is not "
        "the same child; if it is not, confirm the registration.",
    },
    "same_unit": {"es": "El paciente ya está en esa unidad.", "en": "The patient is already at that unit."},
    "search_query_too_short": {
        "es": "Escriba al menos 3 letras del nombre, o la CURP o el NSS.",
        "en": "Type at least 3 letters of the name, or the CURP or the NSS.",
    },
    # guardians
    "invitation_not_found": {"es": "No se encontró el código de activación.", "en": "Activation code not found."},
    "invitation_not_pending": {
        "es": "Ese código ya se usó, venció o fue revocado.",
        "en": "That code was already used, has expired or was revoked.",
    },
    "guardian_not_found": {"es": "No se encontró a ese familiar.", "en": "Guardian not found."},
    "activation_code_invalid": {
        "es": "El código de activación no es válido: revise que esté bien escrito, o pida uno nuevo al "
        "hospital (vale 72 horas y una sola vez).",
        "en": "The activation code is not valid: check how it was typed, or ask the hospital for a new one "
        "(it works once, for 72 hours).",
    },
    "already_linked": {
        "es": "Su cuenta ya tiene acceso a este paciente.",
        "en": "Your account already has access to this patient.",
    },
    # registry figures and import
    "import_invalid": {
        "es": "No se importó nada: corrija estas filas y vuelva a intentarlo. {reasons}",
        "en": "Nothing was imported: correct these rows and try again. {reasons}",
    },
    "import_not_csv": {
        "es": "El archivo debe ser un CSV en UTF-8 con la fila de encabezados.",
        "en": "The file must be a UTF-8 CSV with its header row.",
    },
    "import_too_many_rows": {
        "es": "El archivo tiene demasiadas filas (máximo {max}); divídalo en varios.",
        "en": "The file has too many rows (at most {max}); split it into several.",
    },
}
