"""Installing the server (``pip install ./server``, distribution ``carnet-server``) installs no Flet.

Walks the installed dependency closure of ``carnet-server`` with importlib.metadata:
each requirement whose marker holds (for the extras asked of it, e.g.
``uvicorn[standard]``), then that distribution's own requirements, and so on.
"""

from __future__ import annotations

import re
from importlib import metadata

from packaging.requirements import Requirement

SERVER = "carnet-server"
APP_ONLY = {"flet", "flet-web", "flet-secure-storage", "keyring", "segno"}


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def closure(root: str) -> dict[str, set[str]]:
    """Every distribution ``root`` needs, installed: canonical name → the extras asked of it."""
    seen: dict[str, set[str]] = {}
    todo: list[tuple[str, frozenset[str]]] = [(root, frozenset())]
    while todo:
        name, extras = todo.pop()
        key = canonical(name)
        if key in seen and extras <= seen[key]:
            continue
        seen.setdefault(key, set()).update(extras)
        dist = metadata.distribution(name)  # PackageNotFoundError: a needed distribution is missing
        for line in dist.requires or []:
            requirement = Requirement(line)
            marker = requirement.marker
            if marker is None or any(marker.evaluate({"extra": extra}) for extra in {"", *seen[key]}):
                todo.append((requirement.name, frozenset(requirement.extras)))
    return seen


def test_the_server_install_carries_no_flet() -> None:
    needed = closure(SERVER)
    assert {"fastapi", "sqlalchemy", "pydantic", "cryptography", "icalendar", "uvloop"} <= needed.keys()
    assert sorted(name for name in needed if name in APP_ONLY or name.startswith("flet")) == []
    assert "carnet" not in needed


def test_the_server_distribution_holds_no_app_code() -> None:
    top_level = (metadata.distribution(SERVER).read_text("top_level.txt") or "").split()
    assert sorted(top_level) == ["carnet_contract", "carnet_mixing_sim", "carnet_server", "carnet_whatsapp_sim"]
    scripts = {ep.name: ep.value for ep in metadata.distribution(SERVER).entry_points}
    assert scripts == {
        "carnet-server": "carnet_server.cli:main",
        "carnet-mixing-sim": "carnet_mixing_sim.server:main",
        "carnet-whatsapp-sim": "carnet_whatsapp_sim.cli:main",
    }
