"""The fever domain's refusals (Spanish first, English too), joined to carnet_server.i18n.

Families and staff read these alike: everyday Spanish with *tú*, no technical words (tests/unit/test_family_words.py).
"""

from __future__ import annotations

from carnet_server.i18n import Lang

__all__ = ["MESSAGES"]

MESSAGES: dict[str, dict[Lang, str]] = {
    "fever_episode_not_found": {
        "es": "No encontramos ese aviso de fiebre.",
        "en": "We could not find that fever episode.",
    },
    "fever_measured_at_out_of_range": {
        "es": "La hora de la toma no puede ser futura ni de hace más de 24 horas. Vuelve a tomar la temperatura.",
        "en": "The time of the reading cannot be in the future or more than 24 hours ago. Take the temperature again.",
    },
    "fever_step_out_of_order": {
        "es": "Ese paso no sigue: primero llegada, luego triage y al final el antibiótico (cada uno una vez).",
        "en": "That step is out of order: arrival first, then triage, then the antibiotic (each once).",
    },
    "fever_episode_closed": {
        "es": "Este aviso de fiebre ya está cerrado.",
        "en": "This fever episode is already closed.",
    },
    "fever_step_time_invalid": {
        "es": "La hora del paso no puede ser futura ni anterior al aviso o al paso previo.",
        "en": "The step's time cannot be in the future or before the episode or the previous step.",
    },
    "fever_arrival_time_invalid": {
        "es": "La hora de llegada no puede ser futura ni de hace más de 24 horas.",
        "en": "The arrival time cannot be in the future or more than 24 hours ago.",
    },
    "fever_episode_already_open": {
        "es": "Este paciente ya tiene un aviso de fiebre abierto: registra la llegada en ese aviso.",
        "en": "This patient already has an open fever episode: record the arrival on that one.",
    },
    "verify.wrong_type": {
        "es": "El código es auténtico pero de otro tipo (carnet o tarjeta de urgencias): escanea el que corresponde.",
        "en": "The code is genuine but of another kind (carnet or emergency card): scan the right one.",
    },
    "verify.emergency_valid": {
        "es": "Tarjeta de urgencias auténtica y vigente.",
        "en": "Genuine and current emergency card.",
    },
}
