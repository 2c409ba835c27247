"""User-facing text of the chemotherapy plan (merged into i18n.MESSAGES)."""

from __future__ import annotations

from typing import Literal

__all__ = ["MESSAGES"]

MESSAGES: dict[str, dict[Literal["es", "en"], str]] = {
    "protocol_not_found": {"es": "No se encontró el protocolo.", "en": "Protocol not found."},
    "cycle_not_found": {"es": "No se encontró el ciclo.", "en": "Cycle not found."},
    "prescription_invalid": {"es": "Revisa la prescripción: {reasons}", "en": "Check the prescription: {reasons}"},
    "measurements_unconfirmed": {
        "es": "Confirma el peso y la talla: {reasons}",
        "en": "Confirm the weight and height: {reasons}",
    },
    "cycle_changed": {
        "es": "Alguien más cambió este ciclo mientras lo veías; revisa la versión actual antes de seguir.",
        "en": "Someone else changed this cycle while you were looking at it; check the current version first.",
    },
    "cycle_transition_invalid": {
        "es": "Un ciclo {status} no puede pasar a {action}.",
        "en": "A cycle that is {status} cannot be moved to {action}.",
    },
}
