"""Logging without personal data: the access log never shows query strings or QR tokens."""

from __future__ import annotations

import copy
import logging
import re
from typing import Any

from uvicorn.config import LOGGING_CONFIG

__all__ = ["RedactFilter", "log_config", "redact_path"]

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


def log_config() -> dict[str, Any]:
    """uvicorn's logging config with the redacting filter on the access log."""
    config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["redact"] = {"()": "carnet_server.logs.RedactFilter"}
    config["handlers"]["access"]["filters"] = ["redact"]
    config["loggers"].setdefault("carnet_server", {"handlers": ["default"], "level": "INFO", "propagate": False})
    return config
