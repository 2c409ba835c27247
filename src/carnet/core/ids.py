"""Ids made on the phone for records born offline (the server gives them their own id later)."""

from __future__ import annotations

import uuid

LOCAL_PREFIX = "local-"


def new_local_id() -> str:
    return f"{LOCAL_PREFIX}{uuid.uuid4()}"


def is_local_id(record_id: str) -> bool:
    return record_id.startswith(LOCAL_PREFIX)
