"""On a phone the app starts without desktop or server modules: the secure store, never keyring.

tests/phone/phone_start.py starts the app in a fresh interpreter as Android or iOS would run it (the entry
module ``main``, ``FLET_PLATFORM``, the page's platform, ``sys.platform``) and reports ``sys.modules`` after
``main(page)`` has returned and the first sync has been tried (the API is unreachable here). None of the
server's stack or the desktop's secret store may be among them: keyring has no backend on phones, and the
server's packages are neither bundled nor installed there. The same start as a Linux desktop does import
keyring — the check sees it when it is there.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).resolve().parent / "phone_start.py"

#: Top-level modules that must not load on a phone: desktop secret stores, the server and its stack,
#: Flet's desktop/web/CLI sides, test tools.
NOT_ON_A_PHONE = {
    "keyring", "keyrings", "secretstorage", "jeepney",
    "carnet_server", "carnet_mixing_sim", "carnet_whatsapp_sim",
    "sqlalchemy", "alembic", "fastapi", "starlette", "uvicorn", "uvloop", "httptools", "watchfiles",
    "argon2", "_argon2_cffi_bindings", "psycopg", "psycopg_binary", "joserfc", "pydantic_settings", "jinja2",
    "multipart", "python_multipart",
    "flet_web", "flet_desktop", "flet_cli",
    "zxingcpp", "playwright", "pytest", "hypothesis", "schemathesis", "tests",
}  # fmt: skip


def start(platform: str, tmp_path: Path) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")])),
        "FLET_APP_STORAGE_DATA": str(tmp_path / "data"),
        "CARNET_API_URL": "http://127.0.0.1:9",  # nothing listens: the app starts offline
        "HOME": str(tmp_path),
        "XDG_DATA_HOME": str(tmp_path / "xdg"),
    }
    env.pop("CARNET_APP_CONFIG", None)
    return subprocess.Popen(  # noqa: S603 - this interpreter and a script of this repository
        [sys.executable, str(SCRIPT), platform],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


@pytest.fixture(scope="module")
def started(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, dict[str, Any]]]:
    """The three starts at once (each is a second or two of imports), platform → what it reported."""
    running = {platform: start(platform, tmp_path_factory.mktemp(platform)) for platform in ("android", "ios", "linux")}
    reports: dict[str, dict[str, Any]] = {}
    try:
        for platform, process in running.items():
            out, err = process.communicate(timeout=120)
            assert process.returncode == 0, f"{platform}: {err[-3000:]}"
            reports[platform] = json.loads(out.strip().splitlines()[-1])
        yield reports
    finally:
        for process in running.values():
            if process.poll() is None:
                process.kill()
                process.wait()


def top_level(modules: list[str]) -> set[str]:
    return {name.split(".")[0] for name in modules}


@pytest.mark.parametrize("platform", ["android", "ios"])
def test_a_phone_start_loads_no_desktop_or_server_module(platform: str, started: dict[str, dict[str, Any]]) -> None:
    report = started[platform]
    loaded = top_level(report["modules"])
    assert sorted(loaded & NOT_ON_A_PHONE) == []
    # it did start: the app, the phone's secure storage holding the secrets
    assert {"carnet", "carnet_contract", "flet", "flet_secure_storage"} <= loaded
    assert report["secret_store"] == "flet-secure-storage"
    assert "get" in report["client_calls"]  # the secure storage was asked, through the Flet client


def test_a_desktop_start_uses_keyring(started: dict[str, dict[str, Any]]) -> None:
    """The control: the same start as a Linux desktop loads keyring, and no secure-storage call is made."""
    report = started["linux"]
    assert "keyring" in top_level(report["modules"])
    assert report["secret_store"] != "flet-secure-storage"
    assert report["client_calls"] == []
