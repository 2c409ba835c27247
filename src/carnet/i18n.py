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


_default = Translator()


def t(key: str, **kw: object) -> str:
    """The message ``key`` in the default translator's locale."""
    return _default.t(key, **kw)


def set_locale(locale: str) -> None:
    _default.set_locale(locale)
