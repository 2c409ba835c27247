"""Logging without personal data: the access log never shows query strings or QR tokens, nor do httpx's request
lines (a provider's media URL carries a signed query that opens a family's photo)."""

from __future__ import annotations

import copy
import logging
import re
from typing import Any

from uvicorn.config import LOGGING_CONFIG

__all__ = ["RedactFilter", "UrlQueryFilter", "log_config", "quiet_httpx_urls", "redact_path"]

#: The public pages whose path carries a signed token: the carnet QR's ``/v/`` and the emergency card's ``/e/``.
_TOKEN_PATH = re.compile(r"^/([ve])/[^/?#\s]+")


def redact_path(path: str) -> str:
    """``/v/<token>?x=1`` → ``/v/…`` (and ``/e/…``): drop the query string and the token."""
    return _TOKEN_PATH.sub(r"/\1/…", path.split("?", 1)[0])


class RedactFilter(logging.Filter):
    """Rewrites uvicorn access-log records (args: client, method, path, version, status)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], redact_path(args[2]), *args[3:])
        return True


def _without_query(value: object) -> object:
    text = str(value)
    if text.startswith(("http://", "https://")) and ("?" in text or "#" in text):
        return text.split("?", 1)[0].split("#", 1)[0] + "?…"
    return value


class UrlQueryFilter(logging.Filter):
    """Drops the query string of every URL among a record's arguments (httpx: ``HTTP Request: %s %s …``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple):
            record.args = tuple(_without_query(a) for a in args)
        return True


def quiet_httpx_urls() -> None:
    """Put :class:`UrlQueryFilter` on httpx's logger (once)."""
    logger = logging.getLogger("httpx")
    if not any(isinstance(f, UrlQueryFilter) for f in logger.filters):
        logger.addFilter(UrlQueryFilter())


def log_config() -> dict[str, Any]:
    """uvicorn's logging config with the redacting filter on the access log."""
    config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["redact"] = {"()": "carnet_server.logs.RedactFilter"}
    config["handlers"]["access"]["filters"] = ["redact"]
    config["loggers"].setdefault("carnet_server", {"handlers": ["default"], "level": "INFO", "propagate": False})
    return config
