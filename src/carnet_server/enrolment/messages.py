"""User-facing text of enrolment and administration (merged into i18n.MESSAGES)."""

from __future__ import annotations

from typing import Literal

__all__ = ["MESSAGES"]

MESSAGES: dict[str, dict[Literal["es", "en"], str]] = {
    # administration
    "password_change_required": {
        "es": "Tu contraseña es temporal: cámbiala antes de continuar.",
        "en": "Your password is a temporary one: change it before you go on.",
    },
    "unit_not_found": {"es": "No se encontró la unidad médica.", "en": "Medical unit not found."},
    "staff_not_found": {"es": "No se encontró la cuenta de personal.", "en": "Staff account not found."},
    "username_taken": {
        "es": "Ese nombre de usuario ya existe; elige otro.",
        "en": "That username is taken; choose another one.",
    },
    "invalid_username": {
        "es": "El usuario debe tener de 3 a 64 caracteres: letras a-z sin acentos, números, punto, guion o "
        "guion bajo, y empezar con letra o número.",
        "en": "The username must have 3 to 64 characters: letters a-z, digits, dot, dash or underscore, "
        "starting with a letter or digit.",
    },
    "units_required": {
        "es": "Asigna al menos una unidad médica a la cuenta.",
        "en": "Give the account at least one medical unit.",
    },
    "own_account": {
        "es": "No puedes desactivar tu propia cuenta.",
        "en": "You cannot deactivate your own account.",
    },
    # the registry
    "unit_not_yours": {
        "es": "Solo puedes registrar o referir pacientes desde las unidades en que trabajas.",
        "en": "You can only register or refer patients from the units you work at.",
    },
    "patient_invalid": {"es": "Revisa los datos del paciente: {reasons}", "en": "Check the patient's data: {reasons}"},
    "patient_exists": {
        "es": "El paciente ya está registrado (misma CURP, o mismo NSS y agregado médico).",
        "en": "The patient is already registered (same CURP, or same NSS and agregado médico).",
    },
    "patient_similar": {
        "es": "Ya hay un paciente registrado con un nombre parecido y la misma fecha de nacimiento. "
        "Revisa que no sea el mismo niño; si no lo es, confirma el registro.",
        "en": "A patient with a similar name and the same birth date is already registered. Check it is not "
        "the same child; if it is not, confirm the registration.",
    },
    "same_unit": {"es": "El paciente ya está en esa unidad.", "en": "The patient is already at that unit."},
    "search_query_too_short": {
        "es": "Escribe al menos 3 letras del nombre, o la CURP o el NSS.",
        "en": "Type at least 3 letters of the name, or the CURP or the NSS.",
    },
    # the reasons of patient_invalid, each naming its field
    "reason.invalid_name": {
        "es": "{field}: usa solo letras, espacios, apóstrofo, punto o guion.",
        "en": "{field}: use letters, spaces, apostrophes, dots or hyphens only.",
    },
    "reason.required_field": {"es": "{field}: no puede quedar vacío.", "en": "{field}: cannot be empty."},
    "reason.birth_date_in_future": {
        "es": "{field}: la fecha de nacimiento no puede ser futura.",
        "en": "{field}: the birth date cannot be in the future.",
    },
    "reason.curp_format": {
        "es": "{field}: la CURP no tiene el formato oficial (18 caracteres: 4 letras, fecha de nacimiento, sexo, "
        "entidad, 3 consonantes, homoclave y dígito verificador).",
        "en": "{field}: the CURP does not have the official format (18 characters: 4 letters, birth date, sex, "
        "state, 3 consonants, homoclave and check digit).",
    },
    "reason.curp_check_digit": {
        "es": "{field}: el dígito verificador de la CURP (carácter 18) no corresponde; revisa que esté bien escrita.",
        "en": "{field}: the CURP's check digit (character 18) does not match; check it was typed right.",
    },
    "reason.curp_birth_date_mismatch": {
        "es": "{field}: la fecha de la CURP (caracteres 5 a 10) no coincide con la fecha de nacimiento.",
        "en": "{field}: the CURP's date (characters 5 to 10) does not match the birth date.",
    },
    "reason.curp_sex_mismatch": {
        "es": "{field}: el sexo de la CURP (carácter 11) no coincide con el sexo indicado.",
        "en": "{field}: the CURP's sex (character 11) does not match the sex given.",
    },
    "reason.nss_format": {
        "es": "{field}: el NSS debe tener 11 dígitos.",
        "en": "{field}: the NSS must have 11 digits.",
    },
    "reason.nss_check_digit": {
        "es": "{field}: el dígito verificador del NSS (dígito 11) no corresponde; revisa que esté bien escrito.",
        "en": "{field}: the NSS check digit (digit 11) does not match; check it was typed right.",
    },
    "reason.agregado_format": {
        "es": "{field}: el agregado médico tiene 8 caracteres: un dígito, F o M, el año de nacimiento y el "
        "régimen (por ejemplo 1F2010OR).",
        "en": "{field}: the agregado médico has 8 characters: a digit, F or M, the year of birth and the "
        "regime (for example 1F2010OR).",
    },
    "reason.agregado_sex_mismatch": {
        "es": "{field}: el sexo del agregado médico (F o M) no coincide con el sexo indicado.",
        "en": "{field}: the agregado médico's sex (F or M) does not match the sex given.",
    },
    "reason.agregado_year_mismatch": {
        "es": "{field}: el año del agregado médico no coincide con el año de nacimiento.",
        "en": "{field}: the agregado médico's year does not match the year of birth.",
    },
    "reason.unknown_diagnosis": {
        "es": "{field}: el diagnóstico no está en el catálogo (clave CIE-10 de cáncer infantil).",
        "en": "{field}: the diagnosis is not in the catalogue (a CIE-10 code of childhood cancer).",
    },
    "reason.diagnosed_in_future": {
        "es": "{field}: la fecha de diagnóstico no puede ser futura.",
        "en": "{field}: the date of diagnosis cannot be in the future.",
    },
    "reason.diagnosed_before_birth": {
        "es": "{field}: la fecha de diagnóstico es anterior al nacimiento.",
        "en": "{field}: the date of diagnosis is before the birth date.",
    },
    # guardians
    "invitation_not_found": {"es": "No se encontró el código de activación.", "en": "Activation code not found."},
    "invitation_not_pending": {
        "es": "Ese código ya se usó, venció o fue revocado.",
        "en": "That code was already used, has expired or was revoked.",
    },
    "invitation_used": {
        "es": "Ese código ya se usó: el familiar ya tiene acceso.",
        "en": "That code was already used: the guardian already has access.",
    },
    "invalid_guardian_name": {
        "es": "Escribe el nombre del familiar con letras, espacios, apóstrofo, punto o guion.",
        "en": "Write the guardian's name with letters, spaces, apostrophes, dots or hyphens.",
    },
    "invalid_phone": {
        "es": "El celular debe tener 10 dígitos (puede empezar con +52).",
        "en": "The mobile number must have 10 digits (it may start with +52).",
    },
    "guardian_not_found": {"es": "No se encontró a ese familiar.", "en": "Guardian not found."},
    "activation_code_invalid": {
        "es": "El código de activación no es válido: revisa que esté bien escrito, o pide uno nuevo al "
        "hospital (vale 72 horas y una sola vez).",
        "en": "The activation code is not valid: check how it was typed, or ask the hospital for a new one "
        "(it works once, for 72 hours).",
    },
    "already_linked": {
        "es": "Tu cuenta ya tiene acceso a este paciente.",
        "en": "Your account already has access to this patient.",
    },
    # registry figures and import
    "import_invalid": {
        "es": "No se importó nada: corrige estas filas y vuelve a intentarlo. {reasons}",
        "en": "Nothing was imported: correct these rows and try again. {reasons}",
    },
    "import_missing_columns": {
        "es": "Faltan columnas en el encabezado: {columns}.",
        "en": "Columns missing from the header: {columns}.",
    },
    "import_unknown_columns": {
        "es": "Columnas desconocidas en el encabezado (revisa cómo están escritas): {columns}.",
        "en": "Unknown columns in the header (check their spelling): {columns}.",
    },
    "import_bad_values": {
        "es": "valores vacíos o no válidos en {columns}.",
        "en": "empty or invalid values in {columns}.",
    },
    "import_repeated_curp": {
        "es": "la CURP ya aparece en la fila {other} de este archivo.",
        "en": "the CURP already appears on row {other} of this file.",
    },
    "import_guardian_incomplete": {
        "es": "llena las tres columnas del tutor (nombre, parentesco y celular) o ninguna.",
        "en": "fill the three guardian columns (name, relationship and mobile) or none.",
    },
    "import_conflicting_record": {
        "es": "ya hay un paciente registrado con esta CURP y otros datos; corrígelo en su expediente.",
        "en": "a patient with this CURP is already registered with other data; correct it in the record.",
    },
    "import_not_csv": {
        "es": "El archivo debe ser un CSV en UTF-8 con la fila de encabezados.",
        "en": "The file must be a UTF-8 CSV with its header row.",
    },
    "import_too_many_rows": {
        "es": "El archivo tiene demasiadas filas (máximo {max}); divídelo en varios.",
        "en": "The file has too many rows (at most {max}); split it into several.",
    },
}
