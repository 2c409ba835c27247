"""Entry point packaged by `flet build apk|ipa` (the bundle root is the repo root)."""

import sys
from pathlib import Path

_SRC = Path(__file__).resolve().parent / "src"
if _SRC.is_dir() and str(_SRC) not in sys.path:
    sys.path.insert(0, str(_SRC))

import flet as ft  # noqa: E402

import carnet.shell.app  # noqa: E402

if __name__ == "__main__":
    ft.run(carnet.shell.app.main, assets_dir="assets")
