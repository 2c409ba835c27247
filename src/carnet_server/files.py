"""Secret files in the data dir: created once, mode 0600, safe with several workers."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

__all__ = ["read_or_create_secret", "write_private"]


def write_private(path: Path, data: bytes, *, replace: bool = False) -> bool:
    """Write ``data`` to ``path`` with mode 0600, atomically.

    Without ``replace`` an existing file wins (returns False): two processes
    starting at once end up with the same secret.
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if replace:
            os.replace(tmp, path)
            return True
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
        return True
    finally:
        tmp.unlink(missing_ok=True)


def read_or_create_secret(path: Path, *, nbytes: int = 32) -> bytes:
    """The secret stored at ``path``; made on first use."""
    if not path.exists():
        write_private(path, secrets.token_urlsafe(nbytes).encode("ascii"))
    return path.read_bytes().strip()
