"""Retry timing shared by the durable delivery queues (mixing orders, WhatsApp messages)."""

from __future__ import annotations

import random

import httpx

__all__ = ["backoff_seconds", "retry_after"]


def backoff_seconds(attempts: int, *, base: float, maximum: float, rng: random.Random | None = None) -> float:
    """Delay before the next try after ``attempts`` failures: min(max, base · 2^(attempts-1)), jittered
    to between half and all of it, so many messages failing together don't retry in step."""
    delay = min(maximum, base * (2.0 ** min(max(attempts - 1, 0), 30)))
    return delay * (0.5 + 0.5 * (rng or random).random())


def retry_after(response: httpx.Response) -> float | None:
    """The provider's ``Retry-After`` in seconds, when it gave one as a number."""
    value = response.headers.get("retry-after", "")
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None
