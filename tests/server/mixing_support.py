"""Helpers of the mixing tests: demo cycles, signed callbacks, orders in the database."""

from __future__ import annotations

import json
import secrets
import time
from datetime import datetime
from typing import Any

from sqlalchemy import select
from starlette.testclient import TestClient

from carnet_server.context import Context
from carnet_server.mixing import service
from carnet_server.mixing.tables import MixingOrder
from carnet_server.patients.tables import Cycle

CALLBACKS = "/api/v1/mixing/callbacks"


def cycle_id(ctx: Context, patient_id: str, number: int) -> str:
    with ctx.sessions() as session:
        return session.scalar(select(Cycle.id).where(Cycle.patient_id == patient_id, Cycle.number == number)) or ""


def cycle_row(ctx: Context, cycle_id_: str) -> Cycle:
    with ctx.sessions() as session:
        return session.get_one(Cycle, cycle_id_)


def orders_of(ctx: Context, cycle_id_: str) -> list[MixingOrder]:
    with ctx.sessions() as session:
        return list(session.scalars(select(MixingOrder).where(MixingOrder.cycle_id == cycle_id_)))


def confirm_url(cycle_id_: str) -> str:
    return f"/api/v1/cycles/{cycle_id_}/confirm"


def event(order_id: str, status: str, occurred_at: datetime, *, event_id: str | None = None) -> dict[str, Any]:
    return {"event_id": event_id or secrets.token_hex(8), "order_id": order_id, "status": status,
            "occurred_at": occurred_at.isoformat()}


def signed_post(client: TestClient, ctx: Context, body: dict[str, Any] | bytes, *, timestamp: int | None = None,
                secret: bytes | None = None, signature: str | None = None,
                headers: dict[str, str] | None = None) -> Any:
    """POST a callback signed with the server's secret (or the given one / a given header)."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode("utf-8")
    if signature is None:
        signature = service.sign(secret or service.mixing_secret(ctx.settings), raw,
                                 timestamp=int(time.time()) if timestamp is None else timestamp)
    sent = {"Content-Type": "application/json", **(headers or {})}
    if signature:
        sent[service.SIGNATURE_HEADER] = signature
    return client.post(CALLBACKS, content=raw, headers=sent)
