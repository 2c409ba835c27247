"""Which package may import which: read from the source files (AST), nothing is imported.

- ``carnet_server``, the simulators and ``carnet_contract`` never import the
  app (``carnet``) or Flet, nor the app-only packages the server install lacks
  (keyring, segno): ``pip install ./server`` carries neither.
- ``carnet_contract`` ships in the phone bundle too: it imports no server code.
- The app (``carnet``) imports no server code: the phone bundle excludes it.

Every import counts, also one inside a function or under ``if TYPE_CHECKING:``,
and ``importlib.import_module("…")`` / ``__import__("…")`` with a literal name.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.imports import imported_modules

SRC = Path(__file__).resolve().parents[2] / "src"

APP_ONLY = {"carnet", "flet", "keyring", "segno"}
SERVER = {"carnet_server", "carnet_mixing_sim", "carnet_whatsapp_sim"}
FORBIDDEN: dict[str, set[str]] = {
    "carnet_server": APP_ONLY,
    "carnet_mixing_sim": APP_ONLY,
    "carnet_whatsapp_sim": APP_ONLY | {"carnet_server"},
    "carnet_contract": APP_ONLY | SERVER,
    "carnet": SERVER,
}


def is_forbidden(module: str, forbidden: set[str]) -> bool:
    top = module.split(".")[0]
    return top in forbidden or ("flet" in forbidden and top.startswith("flet_"))


def violations(package: str) -> list[str]:
    found = []
    for path in sorted((SRC / package).rglob("*.py")):
        for line, module in imported_modules(path.read_text(encoding="utf-8"), str(path)):
            if is_forbidden(module, FORBIDDEN[package]):
                found.append(f"{path.relative_to(SRC)}:{line} imports {module}")
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_only_what_it_may(package: str) -> None:
    assert (SRC / package / "__init__.py").is_file()
    assert violations(package) == []


def test_the_scan_sees_hidden_imports() -> None:
    """The scanner itself: imports under TYPE_CHECKING, in functions and by name are all found."""
    source = '''
from typing import TYPE_CHECKING
import importlib
if TYPE_CHECKING:
    from carnet.session import AppSession
def later():
    import flet as ft
    from flet_secure_storage import SecureStorage
    importlib.import_module("carnet.contract")
    return __import__("segno")
from carnet_contract import models
from . import sibling
'''
    seen = sorted(module for _, module in imported_modules(source))
    assert seen == ["carnet.contract", "carnet.session", "carnet_contract", "flet", "flet_secure_storage",
                    "importlib", "segno", "typing"]
    flagged = [m for m in seen if is_forbidden(m, FORBIDDEN["carnet_server"])]
    assert sorted(flagged) == ["carnet.contract", "carnet.session", "flet", "flet_secure_storage", "segno"]
    assert not is_forbidden("carnet_contract.models", FORBIDDEN["carnet_server"])
    assert is_forbidden("carnet_server.db", FORBIDDEN["carnet_contract"])
