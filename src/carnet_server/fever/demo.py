"""Demo data of the fever domain: each demo unit's emergency service (Hora Dorada), in the hospital's words.

Phones, addresses and map links are illustrative (the public addresses of the IMSS hospitals the demo names;
the numbers are made up in the 55 5555 range so nobody calls a real desk from a demo).
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import quote_plus

from carnet_server.patients.tables import MedicalUnit, UnitEmergency

__all__ = ["AVOID", "BRING", "CLINICAL", "seed_unit_emergency"]

BRING = [
    "El carnet de quimioterapia en la app (o impreso) y la tarjeta de urgencias",
    "La credencial del IMSS o el NSS del niño o la niña",
    "Los medicamentos que toma ahora, en su caja",
    "El termómetro y la hora en que le tomaste la temperatura",
]
AVOID = [
    "No le des medicina para bajar la fiebre antes de que lo revisen, salvo que el equipo te lo haya indicado",
    "No esperes a ver si se le baja la fiebre: ve ya a urgencias",
    "No le pongas supositorios ni le tomes la temperatura por el recto",
    "No le des antibióticos que tengas en casa",
]
# unit key (demo.py) → (24-hour emergency phone, address, oncology team phone)
_UNITS: dict[str, tuple[str, str, str]] = {
    "sxxi": (
        "55 5555 0101",
        "Av. Cuauhtémoc 330, Doctores, Cuauhtémoc, 06720 Ciudad de México (entrada de Urgencias Pediatría)",
        "55 5555 0102",
    ),
    "raza": (
        "55 5555 0201",
        "Calzada Vallejo s/n esq. Av. Jacarandas, La Raza, Azcapotzalco, 02990 Ciudad de México",
        "55 5555 0202",
    ),
    "leon": (
        "477 555 0301",
        "Blvd. Adolfo López Mateos esq. Paseo de los Insurgentes s/n, Los Paraísos, 37320 León, Gto.",
        "477 555 0302",
    ),
    "obregon": (
        "644 555 0401",
        "Calle Guerrero y Calle Sinaloa s/n, Centro, 85000 Cd. Obregón, Son.",
        "644 555 0402",
    ),
}


def seed_unit_emergency(units: Mapping[str, MedicalUnit]) -> None:
    """Write each demo unit's emergency service (the caller flushes)."""
    for key, unit in units.items():
        if key not in _UNITS:
            continue
        phone, address, oncology = _UNITS[key]
        unit.emergency = UnitEmergency(
            phone=phone,
            address=address,
            map_url=f"https://www.google.com/maps/search/?api=1&query={quote_plus(address)}",
            bring=list(BRING),
            avoid=list(AVOID),
            oncology_phone=oncology,
        )


#: What the emergency card shows beyond the carnet, by demo child (display name): blood group, allergies as the
#: team wrote them, central venous catheter, treating oncologist.
CLINICAL: dict[str, tuple[str, str, bool, str]] = {
    "Mateo Hernández": ("O+", "Ninguna conocida", True, "Dra. Elena Villaseñor"),
    "Valentina Hernández": ("O+", "Penicilina (ronchas en la piel)", True, "Dra. Elena Villaseñor"),
    "Santiago Ramírez": ("A+", "Ninguna conocida", False, "Dr. Ricardo Ortega"),
    "Emiliano Valenzuela": ("B+", "Sulfas", True, "Dra. Lucía Campos"),
    "Camila Torres": ("O-", "Ninguna conocida", True, "Dr. Andrés Zamora"),
}
