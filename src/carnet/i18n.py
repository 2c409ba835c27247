"""Our own string catalogue: Mexican Spanish first, English too.

``Translator(locale).t(key, **kw)`` formats a message; ``set_locale`` switches
at runtime. Dates are formatted here too, so views never build a date string.
A module-level translator and :func:`t` serve code that has no session.
"""

from __future__ import annotations

from datetime import date, datetime

__all__ = ["CATALOG", "LOCALES", "Translator", "t"]

LOCALES = ("es-MX", "en")

_ES: dict[str, str] = {
    "app_title": "Carnet",
    # login
    "login_title": "Carnet de quimioterapia",
    "login_subtitle": "Inicia sesión para ver el carnet de tu hija o hijo.",
    "username": "Usuario",
    "password": "Contraseña",
    "login_button": "Entrar",
    "logging_in": "Entrando…",
    "err_missing_fields": "Escribe tu usuario y tu contraseña.",
    "err_credentials": "Usuario o contraseña incorrectos.",
    "err_rate_limited": "Demasiados intentos. Intenta de nuevo en {minutes} minutos.",
    "err_rate_limited_one": "Demasiados intentos. Intenta de nuevo en 1 minuto.",
    "err_network": "Sin conexión con el servidor. Revisa tu internet e intenta de nuevo.",
    "err_server": "El servidor tuvo un problema. Intenta de nuevo más tarde.",
    "err_unexpected": "Algo salió mal. Intenta de nuevo.",
    "err_staff": ("Esta app es para madres, padres y tutores. Las pantallas para el personal "
                  "(farmacia, banco de sangre, mesa de casos) todavía no están en esta app."),
    "err_session_ended": "Tu sesión terminó. Inicia sesión de nuevo.",
    "err_session_ended_kept": "Tu sesión terminó. Inicia sesión de nuevo: tus cambios sin enviar "
                              "siguen guardados en este teléfono y se enviarán al entrar.",
    "insecure_notice": ("Este dispositivo no tiene almacenamiento seguro: la sesión no se "
                        "guardará al cerrar la app"),
    "cache_wiped": ("No se pudieron leer los datos guardados en este dispositivo y se borraron. "
                    "Conéctate para descargarlos de nuevo."),
    "no_children": "Tu cuenta no tiene pacientes vinculados. Acude a tu unidad médica.",
    "no_data_yet": "Aún no hay datos guardados en este teléfono. Conéctate a internet para descargarlos.",
    # children
    "children_title": "Elige a tu hija o hijo",
    "open_carnet_of": "Ver carnet de {name}",
    # carnet
    "carnet_title": "Carnet digital",
    "nss": "NSS",
    "curp": "CURP",
    "unit": "Unidad",
    "birth_date": "Fecha de nacimiento",
    "diagnosis": "Diagnóstico",
    "protocol": "Protocolo",
    "current_cycle": "Ciclo actual: {number}",
    "next_date": "Próxima quimioterapia: {date}",
    "no_upcoming": "No hay ciclos programados.",
    "cycle_status": "Estado: {status}",
    "drugs": "Medicamentos",
    "drug_line": "{name}: {dose} {unit}, vía {route}",
    "no_drugs": "Sin medicamentos registrados para este ciclo.",
    "mixing": "Mezcla: {status}",
    "cycles": "Ciclos",
    "cycle_line": "Ciclo {number} · {date} · {status}",
    "qr_title": "Código QR para la farmacia",
    "qr_alt": "Código QR del carnet de {name}",
    "qr_valid_until": "Válido hasta {when}",
    "qr_expired": "Este código venció el {when}. Conéctate a internet para renovarlo.",
    "qr_signature_ok": "Firma digital comprobada en este teléfono.",
    "offline_banner": "Sin conexión — datos del {when}",
    "syncing": "Actualizando…",
    "updated_at": "Actualizado: {when}",
    "refresh": "Actualizar",
    "back": "Volver",
    "dismiss": "Cerrar aviso",
    "change_child": "Cambiar de paciente",
    # settings
    "settings": "Ajustes",
    "language": "Idioma",
    "lang_es": "Español",
    "lang_en": "English",
    "signed_in_as": "Sesión iniciada como {name}",
    "logout": "Cerrar sesión",
    "logout_note": "Al cerrar sesión se borran los datos guardados en este teléfono.",
    "storage_secure": "Tus datos se guardan cifrados en este dispositivo.",
    # navigation and agenda
    "tab_carnet": "Carnet",
    "tab_agenda": "Agenda",
    "agenda_title": "Agenda",
    "prev_month": "Mes anterior",
    "next_month": "Mes siguiente",
    "day_with_appointments": "{date}, con citas",
    "day_selected": "{date}, seleccionado",
    "appointments_on": "Citas del {date}",
    "no_appointments_day": "No hay citas este día.",
    "upcoming_title": "Próximas citas",
    "no_upcoming_appointments": "No hay próximas citas.",
    "filter_child": "Paciente",
    "filter_all_children": "Todos",
    "filter_kind": "Tipo de cita",
    "filter_all_kinds": "Todos los tipos",
    "show_child": "Ver citas de {name}",
    "show_all_children": "Ver citas de todos",
    "agenda_offline": "Sin conexión: se muestran las citas guardadas en este teléfono.",
    "agenda_empty": "Aún no hay citas en este teléfono. Conéctate a internet para descargarlas.",
    "open_appointment": "{title}, {when}",
    "kind.quimioterapia": "Quimioterapia",
    "kind.consulta": "Consulta",
    "kind.laboratorio": "Laboratorio",
    "kind.estudio": "Estudio",
    "kind.banco_de_sangre": "Banco de sangre",
    "kind.otro": "Otro",
    "appt_status.programada": "Programada",
    "appt_status.confirmada": "Confirmada",
    "appt_status.reprogramada": "Reprogramada",
    "appt_status.cancelada": "Cancelada",
    "appt_status.realizada": "Realizada",
    "source.hospital": "Registrada por el hospital",
    "source.familia": "Registrada por la familia",
    "mark_pending": "Pendiente de sincronizar",
    "mark_failed": "No se pudo sincronizar",
    # appointment details
    "appointment_title": "Detalle de la cita",
    "appt_kind": "Tipo",
    "appt_title": "Cita",
    "appt_when": "Fecha y hora (hora del centro de México)",
    "appt_time_range": "{date}, {start} a {end}",
    "appt_unit": "Unidad",
    "appt_place": "Lugar",
    "appt_status": "Estado",
    "appt_notes": "Notas",
    "appt_patient": "Paciente",
    "appt_source": "Origen",
    "appt_not_found": "Esta cita ya no está en el teléfono.",
    "add_to_calendar": "Agregar a mi calendario",
    "calendar_saved": "Archivo de calendario listo: ábrelo para agregar la cita a tu calendario.",
    "calendar_failed": "No se pudo guardar el archivo de calendario.",
    "calendar_local_note": "El archivo se crea en este teléfono; funciona sin internet.",
    "add_appointment": "Agregar cita",
    "edit_appointment": "Editar cita",
    "delete_appointment": "Borrar cita",
    "confirm_delete": "¿Borrar esta cita? Se borrará también en el servidor al sincronizar.",
    "confirm_delete_yes": "Sí, borrar",
    "cancel": "Cancelar",
    "save": "Guardar",
    "hospital_readonly": "Las citas del hospital solo las cambia tu unidad médica.",
    "saved_pending": "Cita guardada en este teléfono. Se enviará al servidor al sincronizar.",
    "deleted_pending": "Cita borrada en este teléfono. Se borrará en el servidor al sincronizar.",
    # form
    "form_patient": "Paciente",
    "form_kind": "Tipo de cita",
    "form_title": "Título",
    "form_date": "Fecha (DD/MM/AAAA)",
    "form_start": "Hora de inicio (HH:MM)",
    "form_end": "Hora de fin (HH:MM)",
    "form_place": "Lugar",
    "form_notes": "Notas",
    "form_fix": "Revisa los campos marcados: no se guardó nada.",
    "form_err_patient": "Elige a la o el paciente.",
    "form_err_kind": "Elige consulta, laboratorio, estudio u otro.",
    "form_err_title": "Escribe un título.",
    "form_err_too_long": "Máximo {max} caracteres.",
    "form_err_date": "Escribe la fecha como DD/MM/AAAA, por ejemplo 05/12/2026.",
    "form_err_time": "Escribe la hora como HH:MM, por ejemplo 09:30.",
    "form_err_end_before_start": "La hora de fin debe ser después de la hora de inicio.",
    # carnet: next appointment
    "next_appointment": "Próxima cita",
    "no_next_appointment": "No hay citas próximas guardadas.",
    # sync status
    "sync_status": "Estado de sincronización",
    "sync_status_pending": "Estado de sincronización: {count} pendientes",
    "sync_status_failed": "Estado de sincronización: hay cambios rechazados",
    "last_sync": "Última sincronización: {when}",
    "never_synced": "Todavía no se ha sincronizado.",
    "pending_count": "Cambios pendientes de enviar: {count}",
    "nothing_pending": "No hay cambios pendientes de enviar.",
    "next_retry": "Siguiente intento: {when}",
    "failed_title": "Cambios que el servidor rechazó",
    "no_failed": "Ningún cambio fue rechazado.",
    "failed_reason": "Motivo: {reason}",
    "retry": "Reintentar",
    "discard": "Descartar",
    "retry_item": "Reintentar: {label}",
    "discard_item": "Descartar: {label}",
    "sync_now": "Sincronizar ahora",
    "op.create": "Crear cita",
    "op.update": "Editar cita",
    "op.delete": "Borrar cita",
    "item_line": "{action}: {label}",
    "err_record_gone": "La cita ya no existe en el servidor.",
    "err_bad_answer": "El servidor respondió algo inesperado.",
    # enumerations
    "mixing.no_requerida": "no requiere mezcla",
    "mixing.pendiente": "pendiente",
    "mixing.solicitada": "solicitada al centro de mezclas",
    "mixing.en_preparacion": "en preparación",
    "mixing.lista": "lista para entregar",
    "mixing.entregada": "entregada",
    "mixing.rechazada": "rechazada; acude a tu unidad",
    "cycle.programado": "programado",
    "cycle.aplicado": "aplicado",
    "cycle.diferido": "diferido",
    "cycle.suspendido": "suspendido",
}

_EN: dict[str, str] = {
    "app_title": "Carnet",
    "login_title": "Chemotherapy carnet",
    "login_subtitle": "Log in to see your child's carnet.",
    "username": "Username",
    "password": "Password",
    "login_button": "Log in",
    "logging_in": "Logging in…",
    "err_missing_fields": "Enter your username and password.",
    "err_credentials": "Wrong username or password.",
    "err_rate_limited": "Too many attempts. Try again in {minutes} minutes.",
    "err_rate_limited_one": "Too many attempts. Try again in 1 minute.",
    "err_network": "Can't reach the server. Check your internet connection and try again.",
    "err_server": "The server had a problem. Try again later.",
    "err_unexpected": "Something went wrong. Try again.",
    "err_staff": ("This app is for mothers, fathers and guardians. Staff screens (pharmacy, "
                  "blood bank, case desk) are not in this app yet."),
    "err_session_ended": "Your session ended. Please log in again.",
    "err_session_ended_kept": "Your session ended. Please log in again: your unsent changes are kept "
                              "on this phone and will be sent when you do.",
    "insecure_notice": ("This device has no secure storage: your session will not be kept "
                        "when the app closes"),
    "cache_wiped": ("The data saved on this device could not be read and was erased. "
                    "Connect to download it again."),
    "no_children": "Your account has no linked patients. Please ask at your medical unit.",
    "no_data_yet": "No data saved on this phone yet. Connect to the internet to download it.",
    "children_title": "Choose your child",
    "open_carnet_of": "Open {name}'s carnet",
    "carnet_title": "Digital carnet",
    "nss": "NSS",
    "curp": "CURP",
    "unit": "Unit",
    "birth_date": "Date of birth",
    "diagnosis": "Diagnosis",
    "protocol": "Protocol",
    "current_cycle": "Current cycle: {number}",
    "next_date": "Next chemotherapy: {date}",
    "no_upcoming": "No scheduled cycles.",
    "cycle_status": "Status: {status}",
    "drugs": "Medicines",
    "drug_line": "{name}: {dose} {unit}, {route}",
    "no_drugs": "No medicines recorded for this cycle.",
    "mixing": "Mixture: {status}",
    "cycles": "Cycles",
    "cycle_line": "Cycle {number} · {date} · {status}",
    "qr_title": "QR code for the pharmacy",
    "qr_alt": "Carnet QR code of {name}",
    "qr_valid_until": "Valid until {when}",
    "qr_expired": "This code expired on {when}. Connect to the internet to renew it.",
    "qr_signature_ok": "Digital signature checked on this phone.",
    "offline_banner": "Offline — data from {when}",
    "syncing": "Updating…",
    "updated_at": "Updated: {when}",
    "refresh": "Refresh",
    "back": "Back",
    "dismiss": "Dismiss",
    "change_child": "Change patient",
    "settings": "Settings",
    "language": "Language",
    "lang_es": "Español",
    "lang_en": "English",
    "signed_in_as": "Signed in as {name}",
    "logout": "Log out",
    "logout_note": "Logging out erases the data saved on this phone.",
    "storage_secure": "Your data is stored encrypted on this device.",
    "tab_carnet": "Carnet",
    "tab_agenda": "Agenda",
    "agenda_title": "Agenda",
    "prev_month": "Previous month",
    "next_month": "Next month",
    "day_with_appointments": "{date}, has appointments",
    "day_selected": "{date}, selected",
    "appointments_on": "Appointments on {date}",
    "no_appointments_day": "No appointments this day.",
    "upcoming_title": "Upcoming appointments",
    "no_upcoming_appointments": "No upcoming appointments.",
    "filter_child": "Patient",
    "filter_all_children": "All",
    "filter_kind": "Appointment type",
    "filter_all_kinds": "All types",
    "show_child": "Show {name}'s appointments",
    "show_all_children": "Show everyone's appointments",
    "agenda_offline": "Offline: showing the appointments saved on this phone.",
    "agenda_empty": "No appointments on this phone yet. Connect to the internet to download them.",
    "open_appointment": "{title}, {when}",
    "kind.quimioterapia": "Chemotherapy",
    "kind.consulta": "Consultation",
    "kind.laboratorio": "Laboratory",
    "kind.estudio": "Imaging / test",
    "kind.banco_de_sangre": "Blood bank",
    "kind.otro": "Other",
    "appt_status.programada": "Scheduled",
    "appt_status.confirmada": "Confirmed",
    "appt_status.reprogramada": "Rescheduled",
    "appt_status.cancelada": "Cancelled",
    "appt_status.realizada": "Done",
    "source.hospital": "Set by the hospital",
    "source.familia": "Added by the family",
    "mark_pending": "Waiting to sync",
    "mark_failed": "Could not sync",
    "appointment_title": "Appointment details",
    "appt_kind": "Type",
    "appt_title": "Appointment",
    "appt_when": "Date and time (Mexico City time)",
    "appt_time_range": "{date}, {start} to {end}",
    "appt_unit": "Unit",
    "appt_place": "Place",
    "appt_status": "Status",
    "appt_notes": "Notes",
    "appt_patient": "Patient",
    "appt_source": "Source",
    "appt_not_found": "This appointment is no longer on the phone.",
    "add_to_calendar": "Add to my calendar",
    "calendar_saved": "Calendar file ready: open it to add the appointment to your calendar.",
    "calendar_failed": "The calendar file could not be saved.",
    "calendar_local_note": "The file is made on this phone; it works offline.",
    "add_appointment": "Add appointment",
    "edit_appointment": "Edit appointment",
    "delete_appointment": "Delete appointment",
    "confirm_delete": "Delete this appointment? It will be deleted on the server when the app syncs.",
    "confirm_delete_yes": "Yes, delete",
    "cancel": "Cancel",
    "save": "Save",
    "hospital_readonly": "Hospital appointments can only be changed by your medical unit.",
    "saved_pending": "Appointment saved on this phone. It will be sent to the server when the app syncs.",
    "deleted_pending": "Appointment deleted on this phone. It will be deleted on the server when the app syncs.",
    "form_patient": "Patient",
    "form_kind": "Appointment type",
    "form_title": "Title",
    "form_date": "Date (DD/MM/YYYY)",
    "form_start": "Start time (HH:MM)",
    "form_end": "End time (HH:MM)",
    "form_place": "Place",
    "form_notes": "Notes",
    "form_fix": "Check the marked fields: nothing was saved.",
    "form_err_patient": "Choose the patient.",
    "form_err_kind": "Choose consultation, laboratory, imaging/test or other.",
    "form_err_title": "Enter a title.",
    "form_err_too_long": "At most {max} characters.",
    "form_err_date": "Enter the date as DD/MM/YYYY, for example 05/12/2026.",
    "form_err_time": "Enter the time as HH:MM, for example 09:30.",
    "form_err_end_before_start": "The end time must be after the start time.",
    "next_appointment": "Next appointment",
    "no_next_appointment": "No upcoming appointments saved.",
    "sync_status": "Sync status",
    "sync_status_pending": "Sync status: {count} pending",
    "sync_status_failed": "Sync status: some changes were rejected",
    "last_sync": "Last sync: {when}",
    "never_synced": "Not synced yet.",
    "pending_count": "Changes waiting to be sent: {count}",
    "nothing_pending": "No changes waiting to be sent.",
    "next_retry": "Next attempt: {when}",
    "failed_title": "Changes the server rejected",
    "no_failed": "No change was rejected.",
    "failed_reason": "Reason: {reason}",
    "retry": "Retry",
    "discard": "Discard",
    "retry_item": "Retry: {label}",
    "discard_item": "Discard: {label}",
    "sync_now": "Sync now",
    "op.create": "Create appointment",
    "op.update": "Edit appointment",
    "op.delete": "Delete appointment",
    "item_line": "{action}: {label}",
    "err_record_gone": "The appointment no longer exists on the server.",
    "err_bad_answer": "The server sent an unexpected answer.",
    "mixing.no_requerida": "no mixture needed",
    "mixing.pendiente": "pending",
    "mixing.solicitada": "requested from the mixing centre",
    "mixing.en_preparacion": "being prepared",
    "mixing.lista": "ready for delivery",
    "mixing.entregada": "delivered",
    "mixing.rechazada": "rejected; please ask at your unit",
    "cycle.programado": "scheduled",
    "cycle.aplicado": "given",
    "cycle.diferido": "postponed",
    "cycle.suspendido": "suspended",
}

CATALOG: dict[str, dict[str, str]] = {"es-MX": _ES, "en": _EN}

_MONTHS = {
    "es-MX": ("ene", "feb", "mar", "abr", "may", "jun", "jul", "ago", "sep", "oct", "nov", "dic"),
    "en": ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
}

_MONTH_NAMES = {
    "es-MX": ("enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre",
              "octubre", "noviembre", "diciembre"),
    "en": ("January", "February", "March", "April", "May", "June", "July", "August", "September",
           "October", "November", "December"),
}
_WEEKDAY_INITIALS = {"es-MX": ("L", "M", "M", "J", "V", "S", "D"), "en": ("M", "T", "W", "T", "F", "S", "S")}
_WEEKDAYS = {
    "es-MX": ("lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo"),
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
}


class Translator:
    """Messages and dates in one locale, switchable at runtime."""

    def __init__(self, locale: str = "es-MX") -> None:
        self.locale = "es-MX"
        self.set_locale(locale)

    def set_locale(self, locale: str) -> None:
        if locale.lower().startswith("en"):
            self.locale = "en"
        elif locale.lower().startswith("es"):
            self.locale = "es-MX"
        else:
            raise ValueError(f"unsupported locale {locale!r}")

    def t(self, key: str, **kw: object) -> str:
        """The message ``key`` in the current locale (Spanish, then the key, as fallbacks)."""
        text = CATALOG[self.locale].get(key) or _ES.get(key) or key
        return text.format(**kw) if kw else text

    def date(self, value: date) -> str:
        """``22 nov 2026`` / ``22 Nov 2026``."""
        return f"{value.day} {_MONTHS[self.locale][value.month - 1]} {value.year}"

    def datetime(self, value: datetime) -> str:
        """``22 nov 2026, 10:15`` in the device's local time."""
        local = value.astimezone() if value.tzinfo else value
        return f"{self.date(local.date())}, {local:%H:%M}"

    def month_year(self, value: date) -> str:
        """``diciembre 2026`` / ``December 2026``."""
        return f"{_MONTH_NAMES[self.locale][value.month - 1]} {value.year}"

    def long_date(self, value: date) -> str:
        """``martes 1 dic 2026`` / ``Tuesday 1 Dec 2026``."""
        return f"{_WEEKDAYS[self.locale][value.weekday()]} {self.date(value)}"

    def weekday_initials(self) -> tuple[str, ...]:
        """Monday first."""
        return _WEEKDAY_INITIALS[self.locale]


_default = Translator()


def t(key: str, **kw: object) -> str:
    """The message ``key`` in the default translator's locale."""
    return _default.t(key, **kw)


def set_locale(locale: str) -> None:
    _default.set_locale(locale)
