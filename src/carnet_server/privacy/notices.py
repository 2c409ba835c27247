"""The privacy notice (aviso de privacidad) as versioned data files, and the current version.

Each version is one TOML file in the notices directory (``privacy/notices/`` in the package, or
``CARNET_PRIVACY_NOTICES_DIR``), named after its version (``2026-11.toml``), with the texts in
Spanish (es-MX) and English::

    version = "2026-11"
    published_on = 2026-11-26
    [es]
    title = "…"
    summary = "…"
    [[es.sections]]
    heading = "…"
    body = "…"
    [en]
    …

The current notice is the newest one: latest ``published_on``, then highest version. Publishing a
new version is adding a file — no code change, no restart: :func:`current_notice` looks at the
directory's modification time on each call (one ``stat``, the gate runs it on every guardian
request) and reads the files again when it changed. A file that does not parse is refused with
:class:`NoticeError` at start (``check_notices``); found later, it is logged (its name only) and
the notices read before stay in force.
"""

from __future__ import annotations

import logging
import re
import threading
import tomllib
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from carnet_contract import models as contract
from carnet_server.i18n import Lang
from carnet_server.settings import Settings

__all__ = [
    "DEFAULT_DIR",
    "Notice",
    "NoticeError",
    "check_notices",
    "current_notice",
    "current_version",
    "notice_out",
    "notices_dir",
]

log = logging.getLogger("carnet_server.privacy")

DEFAULT_DIR = Path(__file__).parent / "notices"
VERSION_RE = re.compile(r"[0-9A-Za-z][0-9A-Za-z._-]{0,31}")


class NoticeError(Exception):
    """The notices directory holds no valid notice, or a file that is not one."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Text = Annotated[str, StringConstraints(min_length=1, strip_whitespace=True)]


class _Section(_Strict):
    heading: Text
    body: Text


class _Texts(_Strict):
    title: Text
    summary: Text
    sections: Annotated[list[_Section], Field(min_length=1)]


class Notice(_Strict):
    """One version of the notice, in both languages."""

    version: Annotated[str, StringConstraints(pattern=VERSION_RE.pattern, max_length=32)]
    published_on: date
    es: _Texts
    en: _Texts


def notices_dir(settings: Settings) -> Path:
    return settings.privacy_notices_dir or DEFAULT_DIR


def _read(path: Path) -> Notice:
    try:
        notice = Notice.model_validate(tomllib.loads(path.read_text(encoding="utf-8")))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, ValidationError) as exc:
        raise NoticeError(f"privacy notice {path.name} is not valid: {exc}") from exc
    if notice.version != path.stem:
        raise NoticeError(f"privacy notice {path.name} says version {notice.version!r}: name the file after it")
    return notice


def _newest(directory: Path) -> Notice:
    try:
        files = sorted(directory.glob("*.toml"))
    except OSError as exc:
        raise NoticeError(f"privacy notices directory {directory} cannot be read") from exc
    notices = [_read(path) for path in files]
    if not notices:
        raise NoticeError(f"no privacy notice (*.toml) in {directory}")
    return max(notices, key=lambda n: (n.published_on, n.version))


@dataclass(frozen=True)
class _Cached:
    stamp: int
    notice: Notice


_cache: dict[Path, _Cached] = {}
_lock = threading.Lock()


def _stamp(directory: Path) -> int:
    try:
        return directory.stat().st_mtime_ns
    except OSError:
        return -1


def current_notice(settings: Settings) -> Notice:
    """The notice in force (see the module docstring for how a new version is picked up)."""
    directory = notices_dir(settings)
    stamp = _stamp(directory)
    cached = _cache.get(directory)
    if cached is not None and cached.stamp == stamp:
        return cached.notice
    with _lock:
        cached = _cache.get(directory)
        if cached is not None and cached.stamp == stamp:
            return cached.notice
        try:
            notice = _newest(directory)
        except NoticeError:
            if cached is None:
                raise
            log.error("privacy notices changed but cannot be read; version %s stays in force", cached.notice.version)
            notice = cached.notice
        _cache[directory] = _Cached(stamp, notice)
        return notice


def current_version(settings: Settings) -> str:
    return current_notice(settings).version


def check_notices(settings: Settings) -> Notice:
    """Read every notice file now: a server never starts with a broken or missing notice."""
    directory = notices_dir(settings)
    notice = _newest(directory)
    with _lock:
        _cache[directory] = _Cached(_stamp(directory), notice)
    return notice


def notice_out(notice: Notice, lang: Lang) -> contract.PrivacyNotice:
    texts = notice.en if lang == "en" else notice.es
    return contract.PrivacyNotice(
        version=notice.version,
        published_on=notice.published_on,
        lang="en" if lang == "en" else "es-MX",
        title=texts.title,
        summary=texts.summary,
        sections=[contract.PrivacySection(heading=s.heading, body=s.body) for s in texts.sections],
    )
