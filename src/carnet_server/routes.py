"""Every router of the API is made here: its routes end the request's database transaction in their own thread.

FastAPI runs a plain ``def`` route in the thread pool, then validates and serialises its answer *in the thread pool
again*, after the route returned. A route that only read leaves its session's transaction open, holding a pool
connection while it waits for that second thread. Under load every thread can be waiting for a connection while
every connection is held by a request waiting for a thread: nothing moves until the pool's timeout. So a plain
``def`` route ends the transaction of the session it was given (rolls back what it did not commit: the same as
the session's close would) before its thread is given back. Objects the route returns are expired by that and
loaded again if the answer reads them; routes build their answers from the contract's models.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter
from fastapi.routing import APIRoute
from sqlalchemy.orm import Session

__all__ = ["SessionEndingRoute", "api_router"]


def _ending_transactions(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(endpoint)  # FastAPI reads the wrapped function's signature and annotations
    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return endpoint(*args, **kwargs)
        finally:
            for value in kwargs.values():
                if isinstance(value, Session) and value.in_transaction():
                    value.rollback()

    return call


class SessionEndingRoute(APIRoute):
    """An API route whose plain ``def`` endpoint ends its session's transaction before its thread is given back."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        if not inspect.iscoroutinefunction(endpoint):
            endpoint = _ending_transactions(endpoint)
        super().__init__(path, endpoint, **kwargs)


def api_router(**kwargs: Any) -> APIRouter:
    """``APIRouter`` with :class:`SessionEndingRoute` routes (unless ``route_class`` says otherwise)."""
    kwargs.setdefault("route_class", SessionEndingRoute)
    return APIRouter(**kwargs)
