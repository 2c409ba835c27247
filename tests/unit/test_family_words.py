"""The words families read (issue #16, item 3): everyday Spanish addressed with *tú*.

Walks every Spanish message of the app's catalogue that a family can see, every Spanish message of the
server's error catalogue (families and staff read those alike, so all of it), the privacy notice and the
blood bank's donor questionnaire, and refuses the technical
words parents do not use and the *usted* forms (the app says *tú*).

Staff-only messages are told by their key's prefix, a naming convention of the app's catalogue:
``staff_`` (blood-bank staff), ``desk_`` (case desk), ``ph_`` (pharmacy), ``onc_`` (oncology desk),
``adm_`` and ``imp_`` (administration), ``chemo_`` (the oncology desk's chemotherapy plan). Staff screens
may keep technical words and *usted*; anything else is a family's.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import pytest

import carnet_contract
from carnet.core.i18n import CATALOG
from carnet_contract.eligibility import RULES_FILE
from carnet_server.i18n import MESSAGES
from carnet_server.privacy.notices import DEFAULT_DIR

STAFF_PREFIXES = ("staff_", "desk_", "ph_", "onc_", "adm_", "imp_", "chemo_")

#: Words a parent does not use (matched case-insensitively, inside words too: "sincroniz" catches every form).
TECHNICAL = ("servidor", "sincroniz", "json", "insumo", "módulo de atención", "modo personal")
#: Telltales of *usted*: the pronoun, "su hijo", "su cuenta"…, and imperatives a form or an error uses (not
#: forms that are also a third-person subjunctive in a family text: "cuando el hospital lo confirme").
USTED = re.compile(
    r"\b(usted(es)?|su hij[oa]s?|sus hij[oa]s?|intente|inténtelo|verifique|comuníquese|ingrese|seleccione|"
    r"escriba|revise|elija|indique|pida|lea|acepte|acuda|corrija|use|llene|asigne|responda|"
    r"escanee|genere|marque|anote|entréguela|restablezca|cámbiela|puede usted|su cuenta|su sesión|"
    r"su contraseña|su usuario|su familia)\b",
    re.IGNORECASE,
)


def _family_app_messages() -> dict[str, str]:
    return {key: text for key, text in CATALOG["es-MX"].items() if not key.startswith(STAFF_PREFIXES)}


def _server_messages() -> dict[str, str]:
    return {key: text["es"] for key, text in MESSAGES.items()}


def _privacy_notice() -> dict[str, str]:
    """Every version of the privacy notice families are asked to accept, in Spanish."""
    found: dict[str, str] = {}
    for path in sorted(DEFAULT_DIR.glob("*.toml")):
        es = tomllib.loads(path.read_text("utf-8"))["es"]
        found[f"{path.stem}:title"], found[f"{path.stem}:summary"] = es["title"], es["summary"]
        for n, part in enumerate(es["sections"]):
            found[f"{path.stem}:{n}"] = f"{part['heading']} {part['body']}"
    return found


def _donor_questionnaire() -> dict[str, str]:
    """The blood bank's questions and refusals, read by the donor on the family's phone."""
    data = json.loads((Path(carnet_contract.__file__).parent / RULES_FILE).read_text("utf-8"))
    texts = {f"q{n}": q["text"]["es"] for n, q in enumerate(data["questions"])}
    return texts | {f"r{n}": r["message"]["es"] for n, r in enumerate(data["rules"])}


def _refused(text: str) -> list[str]:
    lowered = text.lower()
    found = [word for word in TECHNICAL if word in lowered]
    found += [m.group(0) for m in USTED.finditer(text)]
    return found


@pytest.mark.parametrize(
    "catalogue, least",
    [(_family_app_messages, 300), (_server_messages, 100), (_privacy_notice, 9), (_donor_questionnaire, 30)],
    ids=["app", "server", "privacy-notice", "donor-questionnaire"],
)
def test_families_read_everyday_words_and_tu(catalogue, least: int) -> None:  # type: ignore[no-untyped-def]
    messages = catalogue()
    assert len(messages) >= least  # the texts were read, not an empty selection
    bad = {key: found for key, text in messages.items() if (found := _refused(text))}
    assert bad == {}


def test_the_check_catches_what_it_is_for() -> None:
    assert _refused("Sin conexión con el servidor.") == ["servidor"]
    assert _refused("Estado de sincronización") == ["sincroniz"]
    assert _refused("Escriba el motivo. Intente de nuevo.") == ["Escriba", "Intente"]
    assert _refused("Antes de ver los datos de su hijo o hija") == ["su hijo"]
    assert _refused("Escribe el motivo. Intenta de nuevo con tu hija.") == []
