"""The message templates Meta approved for this business number (language ``es_MX``).

Outside the 24-hour customer-service window the Cloud API accepts only these. Each takes its body
parameters in order; a parameter may not be empty nor hold new lines (Meta's rule), so :func:`clean`
flattens them. The texts below are what was submitted for approval, kept here so the simulator and the
docs show the family what they will read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["LANGUAGE", "TEMPLATES", "Template", "clean"]

LANGUAGE = "es_MX"
#: Longest parameter Meta takes in a body variable (and a sane bound for ours).
MAX_PARAM = 900

#: name → the approved body, ``{{n}}`` being the n-th parameter.
TEMPLATES: dict[str, str] = {
    "carnet_respuesta_reporte": (
        "Mi Chat ONCOIMSS: tu reporte {{1}} tiene respuesta: {{2}}. Escribe MENÚ para ver tus opciones."
    ),
    "carnet_reporte_respondido": (
        "Mi Chat ONCOIMSS: tu reporte {{1}} tiene una respuesta nueva. Ábrela en la app o escribe MENÚ."
    ),
    "carnet_cita_manana": "Recordatorio: {{1}} tiene {{2}} mañana a las {{3}} en {{4}}.",
    "carnet_mezcla_lista": "La mezcla del ciclo {{2}} de {{1}} ya está lista en la farmacia.",
    "carnet_donacion_manana": "Hola {{1}}: mañana a las {{3}} te esperamos para donar sangre en {{2}}. ¡Gracias!",
    "carnet_menu": "Mi Chat ONCOIMSS tiene un mensaje para ti. Escribe MENÚ para verlo.",
}


def clean(value: str) -> str:
    """A template parameter: one line, no tabs or runs of 4+ spaces (Meta refuses them), bounded, never empty."""
    flat = " ".join(str(value).split())
    return (flat[: MAX_PARAM - 1] + "…") if len(flat) > MAX_PARAM else (flat or "-")


@dataclass(frozen=True)
class Template:
    name: str
    params: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.name not in TEMPLATES:
            raise ValueError(f"unknown WhatsApp template {self.name!r}")
        expected = TEMPLATES[self.name].count("{{")
        if len(self.params) != expected:
            raise ValueError(f"template {self.name!r} takes {expected} parameters, got {len(self.params)}")

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "params": [clean(p) for p in self.params]}

    @staticmethod
    def body(stored: dict[str, Any]) -> dict[str, Any]:
        """The Cloud API ``template`` object for a stored ``{"name", "params"}``."""
        params = [{"type": "text", "text": p} for p in stored.get("params", [])]
        template: dict[str, Any] = {"name": stored["name"], "language": {"code": LANGUAGE}}
        if params:
            template["components"] = [{"type": "body", "parameters": params}]
        return {"type": "template", "template": template}
