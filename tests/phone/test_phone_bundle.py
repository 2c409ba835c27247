"""What ``flet build apk|ipa`` would put in the phone bundle: the app, never the server, tests, data or keys.

The file selection of flet-cli 1.0.5 (``build_base.package_python_app`` and ``utils/app_excludes.py``),
reproduced because flet-cli is only in the ``build`` extra (when it is installed,
:func:`test_default_excludes_agree_with_flet_cli` compares the two):

- the packaged folder is ``[tool.flet.app] path`` under the project root;
- excluded are ``build`` and ``app.exclude`` — ``[tool.flet.<platform>.app] exclude`` replaces the global
  list when set — as exact paths relative to that folder (serious_python compares each entry's relative
  path, no globs);
- and by default (``app.default_excludes``, true unless set): hidden entries at the top, and any
  ``__pycache__`` or virtual environment (a folder holding ``pyvenv.cfg``) at any depth, unless listed in
  ``app.include``.

The tree on disk is read as it is, as the build would: a stray database or key beside the project fails here.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path, PurePosixPath
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
PHONES = ("android", "ios")
PYVENV_CFG = "pyvenv.cfg"

#: Folder names (any depth) that are never the phone app.
_FORBIDDEN_DIRS = {
    "carnet_server": "server code",
    "carnet_mixing_sim": "the mixing provider simulator",
    "carnet_whatsapp_sim": "the WhatsApp Cloud API simulator",
    "server": "the server project",
    "tests": "tests",
    "bench": "benchmarks",
    "keys": "keys",
    "storage": "app data",
}


def setting(pyproject: dict[str, Any], platform: str, key: str, default: Any) -> Any:
    """flet-cli's ``get_platform_setting``: ``tool.flet.<platform>.<key>``, else ``tool.flet.<key>``, else default."""
    flet = pyproject.get("tool", {}).get("flet", {})
    for table in (flet.get(platform, {}), flet):
        value: Any = table
        for part in key.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if value is not None:
            return value
    return default


def default_excludes(app: Path, include: list[str], exclude: list[str]) -> list[str]:
    """flet-cli's ``find_default_excludes`` (POSIX): hidden top-level entries, venvs and ``__pycache__``."""
    keep = {os.path.normpath(p) for p in include}
    skip = {os.path.normpath(p) for p in exclude}
    found: list[str] = []
    subdirs: list[str] = []
    for entry in sorted(os.scandir(app), key=lambda e: e.name):
        if entry.name in skip:
            continue
        if entry.name.startswith(".") and entry.name not in keep:
            found.append(entry.name)
            continue
        if entry.is_dir(follow_symlinks=True):
            subdirs.append(entry.name)
    for subdir in subdirs:
        for dirpath, dirnames, _ in os.walk(app / subdir, followlinks=True):
            rel = os.path.relpath(dirpath, app)
            if (os.path.basename(dirpath) == "__pycache__" or os.path.isfile(os.path.join(dirpath, PYVENV_CFG))) and (
                rel not in keep
            ):
                found.append(rel)
                dirnames.clear()
                continue
            dirnames[:] = sorted(d for d in dirnames if os.path.join(rel, d) not in skip)
    return sorted(found)


def bundle_files(root: Path, pyproject: dict[str, Any], platform: str) -> list[str]:
    """Every file the bundle would carry, relative to the packaged folder (POSIX paths)."""
    app = root / setting(pyproject, platform, "app.path", ".")
    explicit = ["build", *setting(pyproject, platform, "app.exclude", [])]
    excluded = set(explicit)
    if setting(pyproject, platform, "app.default_excludes", True):
        excluded |= set(default_excludes(app, setting(pyproject, platform, "app.include", []), explicit))
    excluded = {os.path.normpath(p) for p in excluded}
    files: list[str] = []
    for dirpath, dirnames, filenames in os.walk(app, followlinks=True):
        rel_dir = os.path.relpath(dirpath, app)
        dirnames[:] = sorted(d for d in dirnames if os.path.normpath(os.path.join(rel_dir, d)) not in excluded)
        for name in filenames:
            rel = os.path.normpath(os.path.join(rel_dir, name))
            if rel not in excluded:
                files.append(PurePosixPath(*Path(rel).parts).as_posix())
    return sorted(files)


def why_forbidden(path: str) -> str | None:
    """Why ``path`` must not be in the phone bundle, or None."""
    parts = PurePosixPath(path).parts
    name = parts[-1].lower()
    for part in parts[:-1]:
        lowered = part.lower()
        for folder, what in _FORBIDDEN_DIRS.items():
            if lowered == folder or lowered.startswith(folder + "."):  # also carnet_server.egg-info
                return what
        if lowered.startswith("test"):  # tests/, test-artifacts/
            return "test code or output"
        if lowered in {".venv", "venv", "site-packages"}:
            return "a virtual environment"
    if name.startswith(("test_", "bench_")) or name in {"conftest.py", PYVENV_CFG}:
        return "test, bench or venv file"
    if name.endswith((".db", ".db-wal", ".db-shm", ".db-journal")) or ".sqlite" in name:
        return "a database"
    if name.endswith((".pem", ".key", ".p12", ".pfx", ".jwk")) or name in {"jwks.json", "secrets.json"}:
        return "a key"
    return None


def load_pyproject(root: Path = ROOT) -> dict[str, Any]:
    return tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))


@pytest.mark.parametrize("platform", PHONES)
def test_the_bundle_holds_the_app_and_nothing_else(platform: str) -> None:
    files = bundle_files(ROOT, load_pyproject(), platform)
    assert sorted(f"{path}: {why_forbidden(path)}" for path in files if why_forbidden(path)) == []
    # what the phone needs: the entry point, its runtime profile, icons, the app and the wire contract
    assert {
        "main.py",
        "flet.toml",
        "assets/icon.png",
        "assets/splash.png",
        "src/carnet/shell/app.py",
        "src/carnet/data/secret_store.py",
        "src/carnet_contract/qrtoken.py",
    } <= set(files)
    assert not any(path.startswith(("src/carnet_server/", "server/", "tests/", ".venv/")) for path in files)


def test_the_rules_catch_what_must_stay_out(tmp_path: Path) -> None:
    """The check itself, on a made-up tree with this project's settings: excluded, kept, and flagged."""
    pyproject = load_pyproject()
    made = [
        "main.py",
        "flet.toml",
        "assets/icon.png",
        "src/carnet/app.py",
        "src/carnet/__pycache__/app.pyc",
        "src/carnet_server/api.py",
        "server/pyproject.toml",
        "tests/test_api.py",
        "bench/bench_sync.py",
        ".venv/pyvenv.cfg",
        ".env",
        "env2/pyvenv.cfg",
        "env2/lib/x.py",
        "build/app.zip",
        "storage/outbox.bin",
        # strays nobody excluded: the check must name them
        "carnet.db",
        "keys/signing.pem",
        "src/carnet/cache.sqlite3",
        "deploy/server.key",
        "var/outbox.db-wal",
        "src/carnet/tests/test_x.py",
    ]
    for path in made:
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text("x", encoding="utf-8")
    files = bundle_files(tmp_path, pyproject, "android")
    assert {"main.py", "flet.toml", "assets/icon.png", "src/carnet/app.py"} <= set(files)
    for gone in (
        "src/carnet_server/api.py",
        "server/pyproject.toml",
        "tests/test_api.py",
        "bench/bench_sync.py",
        ".venv/pyvenv.cfg",
        ".env",
        "env2/pyvenv.cfg",
        "build/app.zip",
        "storage/outbox.bin",
        "src/carnet/__pycache__/app.pyc",
    ):
        assert gone not in files
    flagged = sorted(path for path in files if why_forbidden(path))
    assert flagged == [
        "carnet.db",
        "deploy/server.key",
        "keys/signing.pem",
        "src/carnet/cache.sqlite3",
        "src/carnet/tests/test_x.py",
        "var/outbox.db-wal",
    ]
    # a platform's own exclude list replaces the global one (flet-cli's get_platform_setting)
    pyproject["tool"]["flet"]["ios"] = {"app": {"exclude": ["tests"]}}
    assert "src/carnet_server/api.py" in bundle_files(tmp_path, pyproject, "ios")


def test_default_excludes_agree_with_flet_cli(tmp_path: Path) -> None:
    """Where flet-cli is installed (``pip install -e ".[build]"``), its own rule gives the same list."""
    app_excludes = pytest.importorskip("flet_cli.utils.app_excludes", reason="flet-cli is not installed")
    for path in (".hidden/a", ".env", "venv1/pyvenv.cfg", "src/pkg/__pycache__/m.pyc", "src/pkg/m.py", "keep/.x"):
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text("x", encoding="utf-8")
    for include, exclude in (([], ["build"]), ([".env"], ["build", "src"])):
        ours = default_excludes(tmp_path, include, exclude)
        assert ours == app_excludes.find_default_excludes(tmp_path, include, exclude)
    assert default_excludes(tmp_path, [], ["build"]) == [".env", ".hidden", "src/pkg/__pycache__", "venv1"]
    explicit = ["build", *setting(load_pyproject(), "android", "app.exclude", [])]
    assert default_excludes(ROOT, [], explicit) == app_excludes.find_default_excludes(ROOT, [], explicit)
