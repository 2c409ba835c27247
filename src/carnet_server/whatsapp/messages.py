"""The WhatsApp channel's refusals (Spanish first, English too), joined to carnet_server.i18n."""

from __future__ import annotations

from carnet_server.i18n import Lang

__all__ = ["MESSAGES"]

MESSAGES: dict[str, dict[Lang, str]] = {
    "whatsapp_not_configured": {
        "es": "El canal de WhatsApp no está activo aquí.",
        "en": "The WhatsApp channel is not active here.",
    },
    "whatsapp_signature_invalid": {
        "es": "La firma del mensaje no es válida.",
        "en": "The message signature is not valid.",
    },
    "whatsapp_verify_failed": {
        "es": "El token de verificación no coincide.",
        "en": "The verify token does not match.",
    },
    "whatsapp_body_invalid": {
        "es": "El cuerpo del webhook no es un aviso de WhatsApp válido.",
        "en": "The webhook body is not a valid WhatsApp notification.",
    },
    "whatsapp_number_invalid": {
        "es": "Escribe el número con 10 dígitos, o con la clave del país (52…).",
        "en": "Write the number with 10 digits, or with the country code (52…).",
    },
    "whatsapp_number_not_linked": {
        "es": "Ese número de WhatsApp no está vinculado a ninguna cuenta.",
        "en": "That WhatsApp number is not linked to any account.",
    },
    "whatsapp_code_invalid": {
        "es": "El código no es válido o ya venció: pide uno nuevo en la app.",
        "en": "The code is not valid or has expired: get a new one in the app.",
    },
    "whatsapp_number_taken": {
        "es": "Ese número ya está vinculado a otra cuenta.",
        "en": "That number is already linked to another account.",
    },
}
