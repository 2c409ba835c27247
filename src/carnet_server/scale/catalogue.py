"""What generated families are made of: names, diseases and their protocols, incident texts; ids and CURPs."""

from __future__ import annotations

import base64
import random
import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from carnet_contract.models import AppointmentKind
from carnet_server.patients.tables import curp_check_digit

__all__ = [
    "ADULT_MEN",
    "ADULT_WOMEN",
    "ANSWERS",
    "BANK_INSTRUCTIONS",
    "BOYS",
    "DAY_HOSPITAL",
    "DISEASES",
    "DISEASE_WEIGHTS",
    "FAMILY_ERRANDS",
    "GIRLS",
    "IMAGING",
    "INCIDENTS",
    "INCIDENT_WEIGHTS",
    "LAB",
    "STATES",
    "SURNAMES",
    "Disease",
    "local_time",
    "make_curp",
    "seeded_id",
]


# ---- catalogues ------------------------------------------------------------------------------------

GIRLS = (
    "Valentina",
    "Sofía",
    "Regina",
    "Camila",
    "Ximena",
    "María José",
    "Renata",
    "Romina",
    "Victoria",
    "Natalia",
    "Fernanda",
    "Daniela",
    "Isabella",
    "Mariana",
    "Andrea",
    "Paula",
    "Emilia",
    "Guadalupe",
    "Ana Sofía",
    "Valeria",
    "Lucía",
    "Julieta",
    "Abigail",
    "Aitana",
    "Jimena",
    "Frida",
    "Alondra",
)
BOYS = (
    "Santiago",
    "Mateo",
    "Sebastián",
    "Leonardo",
    "Emiliano",
    "Diego",
    "Miguel Ángel",
    "Daniel",
    "Alexander",
    "Iker",
    "Jesús",
    "Gael",
    "José Luis",
    "Juan Pablo",
    "Tadeo",
    "Ángel",
    "Maximiliano",
    "David",
    "Carlos",
    "Luis Fernando",
    "Axel",
    "Dylan",
    "Rodrigo",
    "Alejandro",
    "Eduardo",
    "Hugo",
)
ADULT_WOMEN = (
    "María",
    "Guadalupe",
    "Rosa",
    "Verónica",
    "Patricia",
    "Claudia",
    "Leticia",
    "Adriana",
    "Alejandra",
    "Gabriela",
    "Laura",
    "Silvia",
    "Araceli",
    "Elizabeth",
    "Norma",
    "Yolanda",
    "Martha",
    "Karina",
)
ADULT_MEN = (
    "José",
    "Juan",
    "Francisco",
    "Antonio",
    "Jorge",
    "Alejandro",
    "Roberto",
    "Ricardo",
    "Fernando",
    "Miguel",
    "Arturo",
    "Javier",
    "Eduardo",
    "Raúl",
    "Sergio",
    "Armando",
    "Enrique",
    "Gerardo",
)
SURNAMES = (
    "Hernández",
    "García",
    "Martínez",
    "López",
    "González",
    "Pérez",
    "Rodríguez",
    "Sánchez",
    "Ramírez",
    "Cruz",
    "Flores",
    "Gómez",
    "Morales",
    "Vázquez",
    "Reyes",
    "Jiménez",
    "Torres",
    "Díaz",
    "Gutiérrez",
    "Ruiz",
    "Mendoza",
    "Aguilar",
    "Ortiz",
    "Moreno",
    "Castillo",
    "Romero",
    "Álvarez",
    "Méndez",
    "Chávez",
    "Rivera",
    "Juárez",
    "Ramos",
    "Domínguez",
    "Herrera",
    "Medina",
    "Castro",
    "Vargas",
    "Guzmán",
    "Velázquez",
    "Muñoz",
    "Rojas",
    "Salazar",
    "Contreras",
    "Luna",
    "Ortega",
    "Estrada",
    "Valenzuela",
    "Cervantes",
    "Soto",
    "Navarro",
    "Ríos",
    "Delgado",
    "Cortés",
    "Campos",
    "Ibarra",
)
# (state, CURP state code, cities)
STATES = (
    ("Ciudad de México", "DF", ("Ciudad de México",)),
    ("Estado de México", "MC", ("Toluca", "Ecatepec", "Naucalpan")),
    ("Jalisco", "JC", ("Guadalajara", "Zapopan")),
    ("Nuevo León", "NL", ("Monterrey",)),
    ("Puebla", "PL", ("Puebla",)),
    ("Guanajuato", "GT", ("León", "Celaya")),
    ("Veracruz", "VZ", ("Veracruz", "Xalapa")),
    ("Sonora", "SR", ("Hermosillo", "Cd. Obregón")),
    ("Chihuahua", "CH", ("Chihuahua", "Cd. Juárez")),
    ("Yucatán", "YN", ("Mérida",)),
    ("Baja California", "BC", ("Tijuana", "Mexicali")),
    ("Coahuila", "CL", ("Torreón", "Saltillo")),
    ("Sinaloa", "SL", ("Culiacán",)),
    ("Oaxaca", "OC", ("Oaxaca",)),
    ("Michoacán", "MN", ("Morelia",)),
    ("Tamaulipas", "TS", ("Tampico", "Reynosa")),
)

Drug = tuple[str, str, str, str]
_VCR = ("Vincristina", "1.5", "mg/m²", "IV")


@dataclass(frozen=True)
class Disease:
    name: str
    cie10: str
    weight: int
    protocol: str
    description: str
    interval_days: tuple[int, int]
    regimens: tuple[tuple[Drug, ...], ...]
    studies: tuple[str, ...] = ()


DISEASES = (
    Disease(
        "Leucemia linfoblástica aguda de precursores B",
        "C91.0",
        40,
        "LLA riesgo estándar — consolidación",
        "Metotrexato en dosis altas con rescate de leucovorina, vincristina e intratecal.",
        (14, 21),
        (
            (
                _VCR,
                ("Metotrexato (dosis altas)", "2000", "mg/m²", "IV"),
                ("Leucovorina (rescate)", "15", "mg/m²", "IV"),
                ("Metotrexato intratecal", "12", "mg", "IT"),
            ),
            (_VCR, ("Citarabina intratecal", "30", "mg", "IT"), ("Mercaptopurina", "50", "mg/m²/día", "VO")),
        ),
        ("Aspirado de médula ósea", "Punción lumbar con quimioterapia intratecal"),
    ),
    Disease(
        "Leucemia mieloide aguda",
        "C92.0",
        8,
        "LMA — inducción y consolidación",
        "Citarabina y daunorrubicina; consolidación con citarabina en dosis altas.",
        (21, 28),
        (
            (("Citarabina", "100", "mg/m²/día × 7 días", "IV"), ("Daunorrubicina", "60", "mg/m²", "IV")),
            (("Citarabina (dosis altas)", "3", "g/m²", "IV"),),
        ),
        ("Aspirado de médula ósea", "Ecocardiograma"),
    ),
    Disease(
        "Linfoma de Hodgkin clásico",
        "C81.1",
        6,
        "ABVD",
        "Doxorrubicina, bleomicina, vinblastina y dacarbazina los días 1 y 15 de ciclos de 28 días.",
        (14, 14),
        (
            (
                ("Doxorrubicina", "25", "mg/m²", "IV"),
                ("Bleomicina", "10", "U/m²", "IV"),
                ("Vinblastina", "6", "mg/m²", "IV"),
                ("Dacarbazina", "375", "mg/m²", "IV"),
            ),
        ),
        ("Ecocardiograma", "Espirometría", "TAC de cuello, tórax y abdomen"),
    ),
    Disease(
        "Linfoma no Hodgkin de células B",
        "C83.3",
        6,
        "LMB — ciclos COPADM / CYM",
        "Ciclofosfamida, vincristina, prednisona, doxorrubicina y metotrexato.",
        (21, 21),
        (
            (("Ciclofosfamida", "500", "mg/m²", "IV"), _VCR, ("Doxorrubicina", "60", "mg/m²", "IV")),
            (("Citarabina", "100", "mg/m²/día", "IV"), ("Metotrexato (dosis altas)", "3", "g/m²", "IV")),
        ),
        ("TAC de tórax y abdomen",),
    ),
    Disease(
        "Meduloblastoma",
        "C71.6",
        10,
        "Meduloblastoma — quimioterapia de mantenimiento",
        "Cisplatino, lomustina y vincristina tras la radioterapia craneoespinal.",
        (42, 42),
        ((("Cisplatino", "75", "mg/m²", "IV"), ("Lomustina", "75", "mg/m²", "VO"), _VCR),),
        ("Resonancia magnética de cráneo", "Audiometría"),
    ),
    Disease(
        "Neuroblastoma suprarrenal, riesgo intermedio",
        "C74.9",
        6,
        "Neuroblastoma riesgo intermedio",
        "Carboplatino/etopósido alternando con ciclofosfamida/doxorrubicina cada 21 días.",
        (21, 21),
        (
            (("Carboplatino", "560", "mg/m²", "IV"), ("Etopósido", "120", "mg/m²/día × 3 días", "IV")),
            (("Ciclofosfamida", "1000", "mg/m²", "IV"), ("Doxorrubicina", "30", "mg/m²", "IV")),
        ),
        ("TAC de abdomen contrastada", "Audiometría"),
    ),
    Disease(
        "Tumor de Wilms (nefroblastoma)",
        "C64",
        6,
        "Wilms estadio I–II — régimen EE-4A",
        "Vincristina semanal y dactinomicina cada 3 semanas tras la nefrectomía.",
        (7, 7),
        (
            (("Vincristina", "0.05", "mg/kg", "IV"), ("Dactinomicina", "0.045", "mg/kg", "IV")),
            (("Vincristina", "0.05", "mg/kg", "IV"),),
        ),
        ("Ultrasonido renal", "TAC de abdomen contrastada"),
    ),
    Disease(
        "Retinoblastoma",
        "C69.2",
        5,
        "Retinoblastoma — quimiorreducción VEC",
        "Vincristina, etopósido y carboplatino cada 28 días.",
        (28, 28),
        ((_VCR, ("Etopósido", "150", "mg/m²", "IV"), ("Carboplatino", "560", "mg/m²", "IV")),),
        ("Exploración oftalmológica bajo anestesia",),
    ),
    Disease(
        "Osteosarcoma de fémur distal",
        "C40.2",
        5,
        "MAP — neoadyuvancia",
        "Metotrexato en dosis altas, doxorrubicina y cisplatino antes de la cirugía.",
        (21, 21),
        (
            (("Cisplatino", "60", "mg/m²/día × 2 días", "IV"), ("Doxorrubicina", "37.5", "mg/m²/día × 2 días", "IV")),
            (("Metotrexato (dosis altas)", "12", "g/m²", "IV"), ("Leucovorina (rescate)", "15", "mg", "IV")),
        ),
        ("TAC de tórax", "Ecocardiograma", "Audiometría"),
    ),
    Disease(
        "Rabdomiosarcoma embrionario",
        "C49.9",
        4,
        "VAC",
        "Vincristina, dactinomicina y ciclofosfamida cada 21 días.",
        (21, 21),
        ((_VCR, ("Dactinomicina", "0.045", "mg/kg", "IV"), ("Ciclofosfamida", "1200", "mg/m²", "IV")),),
        ("Resonancia magnética",),
    ),
    Disease(
        "Sarcoma de Ewing",
        "C41.4",
        4,
        "VDC/IE alternantes",
        "Vincristina, doxorrubicina y ciclofosfamida alternando con ifosfamida y etopósido.",
        (14, 21),
        (
            (_VCR, ("Doxorrubicina", "75", "mg/m²", "IV"), ("Ciclofosfamida", "1200", "mg/m²", "IV")),
            (("Ifosfamida", "1800", "mg/m²/día × 5 días", "IV"), ("Etopósido", "100", "mg/m²/día × 5 días", "IV")),
        ),
        ("Gammagrama óseo", "TAC de tórax"),
    ),
)
DISEASE_WEIGHTS = [d.weight for d in DISEASES]

DAY_HOSPITAL = "Hospital de Día de Oncología Pediátrica"
LAB = "Laboratorio clínico, planta baja"
IMAGING = "Imagenología, planta baja"
BANK_INSTRUCTIONS = (
    "Traiga identificación oficial vigente y el folio de su cita. Ayuno de 4 a 8 horas, sin grasas "
    "24 horas antes ni alcohol 72 horas antes. Llegue 15 minutos antes."
)
FAMILY_ERRANDS = (
    (AppointmentKind.CONSULTA, "Dentista: revisión", "Consultorio dental particular"),
    (AppointmentKind.OTRO, "Vacuna de influenza en la UMF", "UMF, módulo de vacunación"),
    (AppointmentKind.LABORATORIO, "Biometría hemática en laboratorio cercano", "Laboratorio particular"),
    (AppointmentKind.OTRO, "Trabajo social: trámite de Licencia 140-Bis", "Trabajo social, piso 1"),
)
# (category, weight, item names, description)
INCIDENTS = (
    (
        "medicamento",
        35,
        ("Vincristina", "Metotrexato", "Mercaptopurina", "Ondansetrón", "Filgrastim"),
        "En la farmacia de la unidad no hay {item} para el ciclo programado de mi hijo o hija.",
    ),
    (
        "insumo",
        15,
        ("Bomba de infusión", "Catéter venoso central", "Equipo de venoclisis"),
        "No había {item} disponible para la aplicación y nos pidieron regresar otro día.",
    ),
    ("atencion_medica", 12, (), "La consulta se retrasó más de cuatro horas y no nos informaron el motivo."),
    ("licencia_140_bis", 12, (), "Necesito orientación para el trámite de la Licencia 140-Bis en mi trabajo."),
    ("carnet_digital", 10, (), "El carnet digital no muestra el siguiente ciclo que ya está programado."),
    ("banco_de_sangre", 8, (), "El banco de sangre no tenía lugares para los donadores de mi hijo o hija."),
    ("otro", 8, (), "Solicito información sobre el apoyo de traslado a la UMAE para el tratamiento."),
)
INCIDENT_WEIGHTS = [c[1] for c in INCIDENTS]
ANSWERS = (
    "Recibimos su reporte. Estamos verificando con el área responsable y le informamos hoy mismo.",
    "Se resolvió: puede acudir a la ventanilla de oncopediatría de 8:00 a 14:00 con su carnet digital; "
    "la aplicación se mantiene en la fecha programada.",
    "Nos presentamos de nuevo y el problema sigue igual.",
)


# ---- deterministic values ----------------------------------------------------------------------------


def seeded_id(rng: random.Random) -> str:
    """A 12-character opaque id like :func:`carnet_server.db.new_id`, drawn from the seeded generator."""
    return base64.urlsafe_b64encode(rng.getrandbits(72).to_bytes(9, "big")).decode("ascii")


def _plain(word: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", word.upper()) if c.isalpha() and ord(c) < 128)


def _inner(word: str, wanted: str) -> str:
    return next((c for c in word[1:] if c in wanted), "X")


_VOWELS, _CONSONANTS = "AEIOU", "BCDFGHJKLMNPQRSTVWXYZ"


def make_curp(first: str, surname1: str, surname2: str, birth: date, sex: str, state_code: str, homoclave: str) -> str:
    s1, s2, name = _plain(surname1), _plain(surname2), _plain(first.split()[0])
    head = f"{s1[0]}{_inner(s1, _VOWELS)}{s2[0]}{name[0]}{birth:%y%m%d}{sex}{state_code}"
    first17 = head + _inner(s1, _CONSONANTS) + _inner(s2, _CONSONANTS) + _inner(name, _CONSONANTS) + homoclave
    return first17 + curp_check_digit(first17)


def local_time(day: date, hour: int, minute: int, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=tz).astimezone(UTC)
