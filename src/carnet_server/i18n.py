"""User-facing text in Spanish (es-MX, the default) and English.

``negotiate`` picks the language from ``Accept-Language``; ``t`` looks a
message up by key and formats it.
"""

from __future__ import annotations

from typing import Literal

__all__ = ["Lang", "negotiate", "t"]

Lang = Literal["es", "en"]

MESSAGES: dict[str, dict[Lang, str]] = {
    # errors
    "bad_request": {"es": "La solicitud no es válida.", "en": "The request is not valid."},
    "invalid_json": {
        "es": "La solicitud llegó dañada o incompleta.",
        "en": "The request body is not valid JSON.",
    },
    "validation_error": {
        "es": "Revisa estos datos: {fields}.",
        "en": "Please check these fields: {fields}.",
    },
    "not_authenticated": {
        "es": "Inicia sesión para continuar.",
        "en": "Please sign in to continue.",
    },
    "invalid_token": {
        "es": "Tu sesión terminó o no es válida. Inicia sesión de nuevo.",
        "en": "Your session has ended or is not valid. Please sign in again.",
    },
    "invalid_credentials": {
        "es": "Usuario o contraseña incorrectos.",
        "en": "Wrong username or password.",
    },
    "invalid_refresh_token": {
        "es": "La sesión expiró o se cerró. Inicia sesión de nuevo.",
        "en": "The session expired or was closed. Please sign in again.",
    },
    "too_many_attempts": {
        "es": "Demasiados intentos. Intenta de nuevo en {minutes} min.",
        "en": "Too many attempts. Try again in {minutes} min.",
    },
    "wrong_current_password": {
        "es": "La contraseña actual no es correcta.",
        "en": "The current password is wrong.",
    },
    "password_too_short": {
        "es": "La nueva contraseña debe tener al menos {min} caracteres.",
        "en": "The new password must have at least {min} characters.",
    },
    "password_is_username": {
        "es": "La nueva contraseña no puede ser igual a tu usuario.",
        "en": "The new password cannot be your username.",
    },
    "password_unchanged": {
        "es": "La nueva contraseña debe ser distinta de la actual.",
        "en": "The new password must differ from the current one.",
    },
    "forbidden": {
        "es": "Tu cuenta no tiene permiso para esta acción.",
        "en": "Your account is not allowed to do this.",
    },
    "not_found": {"es": "No se encontró lo solicitado.", "en": "Not found."},
    "patient_not_found": {"es": "No se encontró el paciente.", "en": "Patient not found."},
    "method_not_allowed": {
        "es": "Método no permitido para esta dirección.",
        "en": "Method not allowed for this address.",
    },
    "conflict": {
        "es": "La solicitud choca con el estado actual.",
        "en": "The request conflicts with the current state.",
    },
    "internal_error": {
        "es": "Algo salió mal en el sistema. Intenta de nuevo más tarde.",
        "en": "Something went wrong on the server. Please try again later.",
    },
    "http_error": {"es": "Error en la solicitud.", "en": "Request error."},
    "request_timeout": {
        "es": "La solicitud tardó demasiado en llegar; intenta de nuevo.",
        "en": "The request took too long to arrive; please try again.",
    },
    "headers_too_large": {
        "es": "La línea de la solicitud y sus encabezados son demasiado grandes (máximo {max_kb} KB).",
        "en": "The request line and headers are too large (at most {max_kb} KB).",
    },
    "server_busy": {
        "es": "El sistema está ocupado. Intenta de nuevo en unos segundos.",
        "en": "The server is busy. Please try again in a few seconds.",
    },
    "payload_too_large": {
        "es": "La solicitud es demasiado grande (máximo {max_kb} KB).",
        "en": "The request is too large (at most {max_kb} KB).",
    },
    "rate_limited": {
        "es": "Demasiadas solicitudes seguidas de este tipo. Intenta de nuevo en {seconds} s.",
        "en": "Too many requests of this kind in a row. Try again in {seconds} s.",
    },
    "database_unavailable": {
        "es": "El servicio no está disponible por un momento. Intenta de nuevo en unos segundos.",
        "en": "The service is unavailable for a moment. Please try again in a few seconds.",
    },
    # agenda
    "appointment_not_found": {"es": "No se encontró la cita.", "en": "Appointment not found."},
    "hospital_appointment": {
        "es": "Esta cita la registró el hospital: solo el personal del hospital puede cambiarla.",
        "en": "This appointment was made by the hospital: only hospital staff can change it.",
    },
    "family_appointment": {
        "es": "Esta cita la registró la familia: solo la familia puede cambiarla.",
        "en": "This appointment was made by the family: only the family can change it.",
    },
    "kind_not_allowed": {
        "es": "La familia solo puede registrar consultas, laboratorios, estudios u otras citas.",
        "en": "Families can only add consultations, lab tests, studies or other appointments.",
    },
    "cycle_not_allowed": {
        "es": "Solo el hospital puede ligar una cita a un ciclo de quimioterapia.",
        "en": "Only the hospital can link an appointment to a chemotherapy cycle.",
    },
    "unknown_cycle": {
        "es": "El ciclo indicado no existe o no es de este paciente.",
        "en": "The cycle does not exist or belongs to another patient.",
    },
    "unknown_unit": {"es": "La unidad médica indicada no existe.", "en": "The medical unit does not exist."},
    "unit_not_treating": {
        "es": "Esa unidad médica no atiende a este paciente: solo puedes enviar el reporte a su unidad.",
        "en": "That medical unit does not treat this patient: the report can only go to the patient's unit.",
    },
    "invalid_times": {
        "es": "Revisa el horario: la cita debe terminar después de empezar y durar 24 horas como máximo.",
        "en": "Check the times: the appointment must end after it starts and last 24 hours at most.",
    },
    "null_field": {
        "es": "Título, horario y estado no pueden quedar vacíos.",
        "en": "Title, times and status cannot be empty.",
    },
    "invalid_range": {
        "es": "Revisa las fechas «from» y «to»: usa fechas AAAA-MM-DD o fecha y hora con zona horaria, "
        "y que «to» sea posterior a «from».",
        "en": "Check «from» and «to»: use YYYY-MM-DD dates or date-times with an offset, with «to» after «from».",
    },
    "date_out_of_range": {
        "es": "Las fechas deben estar entre los años {first} y {last}.",
        "en": "Dates must be between the years {first} and {last}.",
    },
    "range_too_long": {
        "es": "El periodo solicitado es demasiado largo (400 días como máximo).",
        "en": "The requested period is too long (400 days at most).",
    },
    # sync and idempotency
    "invalid_cursor": {
        "es": "El punto de partida de la actualización no es válido. Vuelve a descargar todo desde el principio.",
        "en": "The sync cursor is not valid. Sync again from the beginning.",
    },
    "invalid_idempotency_key": {
        "es": "La clave Idempotency-Key no es válida (1 a 200 letras, números o - _ . :).",
        "en": "The Idempotency-Key is not valid (1 to 200 letters, digits or - _ . :).",
    },
    "idempotency_key_reused": {
        "es": "Esta clave Idempotency-Key ya se usó con otra solicitud.",
        "en": "This Idempotency-Key was already used with a different request.",
    },
    "idempotency_in_progress": {
        "es": "Una solicitud con la misma clave sigue en proceso. Intenta de nuevo en un momento.",
        "en": "A request with the same key is still in progress. Try again in a moment.",
    },
    # blood bank
    "blood_bank_not_found": {"es": "No se encontró el banco de sangre.", "en": "Blood bank not found."},
    "slot_not_found": {"es": "No se encontró el horario.", "en": "Time slot not found."},
    "booking_not_found": {"es": "No se encontró la cita de donación.", "en": "Donation booking not found."},
    "donor_not_eligible": {
        "es": "La persona donante no puede donar por ahora: {reasons}",
        "en": "The donor cannot give blood for now: {reasons}",
    },
    "slot_full": {
        "es": "Ese horario ya no tiene lugares. Elige otro horario.",
        "en": "That time slot has no places left. Please choose another one.",
    },
    "slot_closed": {
        "es": "Ese horario ya no recibe citas (ya pasó o el banco de sangre lo cerró). Elige otro horario.",
        "en": "That time slot no longer takes bookings (it is past or the blood bank closed it). "
        "Please choose another one.",
    },
    "daily_limit_reached": {
        "es": "Este niño o niña ya tiene {limit} citas de donación ese día, el máximo. Elige otro día.",
        "en": "This child already has {limit} donation bookings that day, the maximum. Please choose another day.",
    },
    "capacity_below_bookings": {
        "es": "El cupo no puede ser menor que las citas ya confirmadas en ese horario ({booked}).",
        "en": "The capacity cannot be lower than the bookings already held in that slot ({booked}).",
    },
    "booking_not_active": {
        "es": "Esta cita de donación ya no está confirmada (fue cancelada o ya se registró la asistencia).",
        "en": "This donation booking is no longer confirmed (it was cancelled or attendance was recorded).",
    },
    "check_in_wrong_day": {
        "es": "Esta cita es del {day}, no de hoy ({today}). Para registrar la llegada otro día, indica el motivo.",
        "en": "This booking is for {day}, not today ({today}). To check the donor in on another day, give the reason.",
    },
    "reason_required": {
        "es": "Escribe el motivo (al menos {chars} caracteres).",
        "en": "Write the reason (at least {chars} characters).",
    },
    "booking_not_checked_in": {
        "es": "Esta cita no tiene una llegada registrada que deshacer.",
        "en": "This booking has no check-in to undo.",
    },
    "same_slot": {
        "es": "La cita ya está en ese horario. Elige un horario distinto.",
        "en": "The booking is already in that time slot. Please choose a different one.",
    },
    "invalid_date": {
        "es": "Indica una fecha AAAA-MM-DD de hoy en adelante.",
        "en": "Give a YYYY-MM-DD date, today or later.",
    },
    "date_too_far": {
        "es": "Solo se puede reservar hasta {days} días adelante.",
        "en": "Bookings open at most {days} days ahead.",
    },
    "answers_invalid": {
        "es": "Revisa el cuestionario: responde todas las preguntas (faltan: {missing}) y solo esas "
        "(no existen: {unknown}).",
        "en": "Check the questionnaire: answer every question (missing: {missing}) and only those "
        "(unknown: {unknown}).",
    },
    "last_donation_in_future": {
        "es": "La fecha de la última donación no puede ser posterior a hoy.",
        "en": "The date of the last donation cannot be later than today.",
    },
    # incidents (case desk)
    "incident_not_found": {"es": "No se encontró el caso.", "en": "Case not found."},
    "photo_not_found": {"es": "No se encontró la foto.", "en": "Photo not found."},
    "item_name_required": {
        "es": "Indica el nombre del medicamento o material médico que falta.",
        "en": "Give the name of the missing medicine or supply.",
    },
    "answer_required": {
        "es": "Para marcar el caso como atendido escribe una respuesta concreta (al menos {chars} caracteres).",
        "en": "To mark the case as resolved, write a concrete answer (at least {chars} characters).",
    },
    "message_required": {"es": "Escribe un mensaje.", "en": "Write a message."},
    "already_resolved": {
        "es": "El caso ya está atendido; la familia puede reabrirlo si la respuesta no lo resolvió.",
        "en": "The case is already resolved; the family may reopen it if the answer did not solve it.",
    },
    "not_resolved": {
        "es": "Sólo se puede reabrir un caso atendido.",
        "en": "Only a resolved case can be reopened.",
    },
    "unsupported_media_type": {
        "es": "La foto debe ser JPEG o PNG.",
        "en": "The photo must be a JPEG or PNG image.",
    },
    "photo_too_large": {"es": "La foto pesa más de 5 MB.", "en": "The photo is larger than 5 MB."},
    "photo_too_large_decoded": {
        "es": "La foto es demasiado grande en píxeles: como máximo {max} píxeles por lado y {megapixels} megapíxeles.",
        "en": "The photo has too many pixels: at most {max} pixels per side and {megapixels} megapixels.",
    },
    "too_many_photos": {
        "es": "El caso ya tiene {max} fotos, el máximo permitido.",
        "en": "The case already has {max} photos, the most allowed.",
    },
    "invalid_week": {
        "es": "Indica la semana con la fecha de su lunes (AAAA-MM-DD).",
        "en": "Give the week as the date of its Monday (YYYY-MM-DD).",
    },
    # privacy (aviso de privacidad, closing the account)
    "privacy_notice_required": {
        "es": "Antes de ver o guardar los datos de salud de tu familia, lee y acepta el aviso de privacidad.",
        "en": "Before you see or save your family's health data, please read and accept the privacy notice.",
    },
    "privacy_version_outdated": {
        "es": "El aviso de privacidad cambió. Lee la versión actual y acéptala.",
        "en": "The privacy notice has changed. Please read the current version and accept it.",
    },
    "closure_request_not_found": {
        "es": "No hay una solicitud abierta para cerrar la cuenta.",
        "en": "There is no open request to close the account.",
    },
    "closure_request_not_open": {
        "es": "Esta solicitud ya no está abierta: la familia la canceló o la cuenta ya se cerró.",
        "en": "This request is no longer open: the family withdrew it or the account was already closed.",
    },
    # validation reasons
    # mixing orders
    "cycle_not_found": {"es": "No se encontró el ciclo.", "en": "Cycle not found."},
    "cycle_not_confirmable": {
        "es": "Solo se puede confirmar un ciclo programado.",
        "en": "Only a scheduled cycle can be confirmed.",
    },
    "mixing_order_not_found": {"es": "No se encontró la orden de mezcla.", "en": "Mixing order not found."},
    "invalid_signature": {
        "es": "La firma de la notificación falta o no es válida.",
        "en": "The notification's signature is missing or not valid.",
    },
    "stale_signature": {
        "es": "La firma de la notificación es demasiado antigua o adelantada.",
        "en": "The notification's signature is too old or too far in the future.",
    },
    "replayed_callback": {
        "es": "Esta notificación ya se recibió.",
        "en": "This notification was already received.",
    },
    "callback_too_large": {
        "es": "La notificación es demasiado grande.",
        "en": "The notification is too large.",
    },
    "field.missing": {"es": "obligatorio", "en": "required"},
    "field.extra": {"es": "no permitido", "en": "not allowed"},
    "field.short": {"es": "vacío", "en": "empty"},
    "field.long": {"es": "demasiado largo", "en": "too long"},
    "field.type": {"es": "tipo incorrecto", "en": "wrong type"},
    "field.invalid": {"es": "valor no válido", "en": "invalid value"},
    "field.control": {"es": "caracteres de control no permitidos", "en": "control characters are not allowed"},
    "field.body": {"es": "cuerpo", "en": "body"},
    # pharmacy counter
    "token_invalid": {
        "es": "El código QR no es válido. {reasons}",
        "en": "The QR code is not valid. {reasons}",
    },
    "token_expired": {
        "es": "El código QR expiró. Pide a la familia abrir el carnet actualizado.",
        "en": "The QR code has expired. Ask the family to open the updated carnet.",
    },
    "token_revoked": {
        "es": "El código QR fue revocado (carnet reemitido). Pide a la familia abrir el carnet actualizado.",
        "en": "The QR code was revoked (carnet reissued). Ask the family to open the updated carnet.",
    },
    "cycle_not_in_token": {
        "es": "Ese ciclo no está entre los ciclos por aplicar de este código QR.",
        "en": "That cycle is not among the cycles due in this QR code.",
    },
    "cycle_not_dispensable": {
        "es": "Solo se puede surtir un ciclo programado; este ya fue aplicado, diferido o suspendido.",
        "en": "Only a scheduled cycle can be dispensed; this one was given, postponed or suspended.",
    },
    "unknown_item": {
        "es": "Estos medicamentos no son del ciclo: {items}.",
        "en": "These drugs are not part of the cycle: {items}.",
    },
    "duplicate_item": {
        "es": "Cada medicamento va una sola vez; repetido: {items}.",
        "en": "List each drug once; repeated: {items}.",
    },
    "already_dispensed": {
        "es": "El ciclo {number} ya fue surtido el {when} por {who}.",
        "en": "Cycle {number} was already dispensed on {when} by {who}.",
    },
    # verification
    "verify.valid": {
        "es": "Carnet auténtico y vigente.",
        "en": "Genuine and current carnet.",
    },
    "verify.malformed": {
        "es": "El código no es un carnet válido (está dañado o incompleto).",
        "en": "The code is not a valid carnet (it is damaged or incomplete).",
    },
    "verify.bad_signature": {
        "es": "La firma no coincide: el código fue alterado o no es auténtico.",
        "en": "The signature does not match: the code was altered or is not genuine.",
    },
    "verify.unknown_key": {
        "es": "El código no fue firmado por Carnet (clave desconocida).",
        "en": "The code was not signed by Carnet (unknown key).",
    },
    "verify.expired": {
        "es": "El código expiró. Pide a la familia abrir el carnet actualizado.",
        "en": "The code has expired. Ask the family to open the updated carnet.",
    },
    "verify.not_yet_valid": {
        "es": "El código todavía no es válido.",
        "en": "The code is not valid yet.",
    },
    "verify.revoked": {
        "es": "El código fue revocado.",
        "en": "The code has been revoked.",
    },
    "verify.unknown_patient": {
        "es": "El paciente del código no existe.",
        "en": "The patient in the code does not exist.",
    },
}


from carnet_server.enrolment.messages import MESSAGES as _ENROLMENT  # noqa: E402 — after the dict it joins

MESSAGES.update(_ENROLMENT)

from carnet_server.chemotherapy.messages import MESSAGES as _CHEMOTHERAPY  # noqa: E402

MESSAGES.update(_CHEMOTHERAPY)

from carnet_server.whatsapp.messages import MESSAGES as _WHATSAPP  # noqa: E402

MESSAGES.update(_WHATSAPP)

from carnet_server.fever.messages import MESSAGES as _FEVER  # noqa: E402

MESSAGES.update(_FEVER)


def negotiate(accept_language: str | None) -> Lang:
    """``en`` when English is preferred over Spanish in ``Accept-Language``, else ``es``."""
    if not accept_language:
        return "es"
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate(accept_language.split(",")):
        pieces = part.strip().split(";")
        tag = pieces[0].strip().lower()
        q = 1.0
        for param in pieces[1:]:
            name, _, value = param.strip().partition("=")
            if name.strip() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if tag and q > 0:
            ranked.append((-q, index, tag))
    for _q, _i, tag in sorted(ranked):
        if tag.startswith("es"):
            return "es"
        if tag.startswith("en"):
            return "en"
    return "es"


def t(key: str, lang: Lang, **params: object) -> str:
    entry = MESSAGES.get(key) or MESSAGES["http_error"]
    text = entry[lang]
    return text.format(**params) if params else text
