"""The app's runtime profile, read from ``flet.toml``.

Where the file is found, first match wins:

1. ``CARNET_APP_CONFIG`` (a path to a toml file; it must exist);
2. next to the running ``main.py``, or in a folder above this package
   (the repo root in development, the bundle root on a phone);
3. the current working directory.

Without any file the built-in defaults apply. ``CARNET_API_URL`` overrides
``[api] base_url`` whichever file was read.
"""

from __future__ import annotations

import os
import sys
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["AppConfig", "ConfigError", "find_config_file", "load_config"]

CONFIG_NAME = "flet.toml"
SUPPORTED_LOCALES = ("es-MX", "en")


class ConfigError(ValueError):
    """The profile exists but can't be used (bad toml, wrong types)."""


@dataclass(frozen=True)
class AppConfig:
    api_base_url: str = "http://127.0.0.1:8000"
    api_timeout_seconds: float = 10.0
    locale: str = "es-MX"
    sync_interval_seconds: int = 300
    #: While a child's fever episode is open and the family has its fever screen, emergency card or carnet on
    #: screen: the shorter interval, so each step the unit records ("Hora Dorada") shows without "Actualizar".
    fever_sync_interval_seconds: int = 20
    qr_issuer: str | None = None
    accepted_kids: tuple[str, ...] = ()
    source: Path | None = field(default=None, compare=False)


def _candidates(start: Path) -> list[Path]:
    found: list[Path] = []
    main_module = sys.modules.get("__main__")
    main_file = getattr(main_module, "__file__", None)
    if main_file:
        found.append(Path(main_file).resolve().parent / CONFIG_NAME)
    for folder in [start, *start.parents]:
        found.append(folder / CONFIG_NAME)
    return found


def find_config_file(
    env: Mapping[str, str] | None = None, *, start: Path | None = None, cwd: Path | None = None
) -> Path | None:
    """The profile to read, or None when there is none (defaults apply)."""
    env = os.environ if env is None else env
    explicit = env.get("CARNET_APP_CONFIG")
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise ConfigError(f"CARNET_APP_CONFIG points to a missing file: {path}")
        return path
    for candidate in _candidates(start or Path(__file__).resolve().parent):
        if candidate.is_file():
            return candidate
    here = (cwd or Path.cwd()) / CONFIG_NAME
    return here if here.is_file() else None


def _section(data: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = data.get(name, {})
    if not isinstance(value, Mapping):
        raise ConfigError(f"[{name}] must be a table")
    return value


def load_config(
    env: Mapping[str, str] | None = None, *, start: Path | None = None, cwd: Path | None = None
) -> AppConfig:
    """Read the profile and apply environment overrides."""
    env = os.environ if env is None else env
    path = find_config_file(env, start=start, cwd=cwd)
    data: Mapping[str, Any] = {}
    if path is not None:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"cannot read {path}: {exc}") from exc
    api, app, qr = _section(data, "api"), _section(data, "app"), _section(data, "qr")
    defaults = AppConfig()
    try:
        base_url = str(env.get("CARNET_API_URL") or api.get("base_url", defaults.api_base_url))
        timeout = float(api.get("timeout_seconds", defaults.api_timeout_seconds))
        locale = str(app.get("locale", defaults.locale))
        interval = int(app.get("sync_interval_seconds", defaults.sync_interval_seconds))
        fever_interval = int(app.get("fever_sync_interval_seconds", defaults.fever_sync_interval_seconds))
        issuer = str(qr.get("issuer", "")) or None
        kids_raw = qr.get("accepted_kids", [])
        if not isinstance(kids_raw, list):
            raise ConfigError("[qr] accepted_kids must be a list of strings")
        kids = tuple(str(kid) for kid in kids_raw)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"bad value in {path}: {exc}") from exc
    if locale not in SUPPORTED_LOCALES:
        raise ConfigError(f"[app] locale must be one of {SUPPORTED_LOCALES}, not {locale!r}")
    if timeout <= 0 or interval <= 0 or fever_interval <= 0:
        raise ConfigError("timeout_seconds, sync_interval_seconds and fever_sync_interval_seconds must be positive")
    if not base_url.startswith(("http://", "https://")):
        raise ConfigError(f"API base URL must be http(s): {base_url!r}")
    return AppConfig(
        api_base_url=base_url.rstrip("/"),
        api_timeout_seconds=timeout,
        locale=locale,
        sync_interval_seconds=interval,
        fever_sync_interval_seconds=fever_interval,
        qr_issuer=issuer,
        accepted_kids=kids,
        source=path,
    )
