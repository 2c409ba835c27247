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
from contextvars import ContextVar
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.datastructures import DefaultPlaceholder
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection

from carnet_server.context import Context

__all__ = ["SessionEndingRoute", "api_router", "before_the_route", "context_of"]


def context_of(request: HTTPConnection) -> Context:
    """The app's context, as a request reaches it (``create_app`` keeps it on ``app.state``)."""
    ctx: Context = request.app.state.ctx
    return ctx


#: Checks a dependency leaves to the route's own thread (the write limits, limits.py): run there first, on the route's
#: session, so that a write takes one thread and one connection, not two of each (#20).
_FIRST: ContextVar[list[Callable[[Session | None], None]] | None] = ContextVar("carnet_route_first", default=None)


async def before_the_route(request: Request, check: Callable[[Session | None], None]) -> None:
    """Run ``check`` in the route's own thread before it (a plain ``def`` route of this module, which runs what is
    left for it with its session, or a session of the check's own when it takes none); for any other route, now,
    in a thread. ``check`` raises to refuse the request, as a dependency would."""
    if getattr(request.scope.get("endpoint"), "runs_checks_first", False):
        first = _FIRST.get()
        if first is None:
            first = []
            _FIRST.set(first)
        first.append(check)
    else:
        await run_in_threadpool(check, None)


def _ending_transactions(endpoint: Callable[..., Any], answer: dict[str, Any]) -> Callable[..., Any]:
    @functools.wraps(endpoint)  # FastAPI reads the wrapped function's signature and annotations
    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            first = _FIRST.get()
            if first:
                session = next((v for v in kwargs.values() if isinstance(v, Session)), None)
                checks, first[:] = list(first), []
                for check in checks:
                    check(session)
            value = endpoint(*args, **kwargs)
            model = answer.get("model")
            if model is not None and type(value) is model:
                return Response(
                    value.model_dump_json(by_alias=True).encode(), status_code=answer["status"], media_type=_JSON
                )
            return value
        finally:
            for value in kwargs.values():
                if isinstance(value, Session) and value.in_transaction():
                    value.rollback()

    call.runs_checks_first = True  # type: ignore[attr-defined]
    return call


_JSON = "application/json"


class SessionEndingRoute(APIRoute):
    """An API route whose plain ``def`` endpoint ends its session's transaction before its thread is given back.

    And that sends the answer it returns, when it is an instance of exactly the route's response model, as JSON
    made in that same thread: FastAPI would take another thread from the pool to validate again what the
    contract's model validated when it was made, and then serialise it (a third of a small read's cost, #20).
    Only for routes that answer the default way: JSON, no include/exclude, no ``Response`` parameter of theirs.
    """

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        answer: dict[str, Any] = {}
        if not inspect.iscoroutinefunction(endpoint):
            endpoint = _ending_transactions(endpoint, answer)
        super().__init__(path, endpoint, **kwargs)
        model = self.response_model
        if (
            isinstance(model, type)
            and issubclass(model, BaseModel)
            and isinstance(self.response_class, DefaultPlaceholder)
            and self.response_class.value is JSONResponse
            and self.dependant.response_param_name is None
            and self.response_model_include is None
            and self.response_model_exclude is None
            and self.response_model_by_alias
            and not (
                self.response_model_exclude_unset
                or self.response_model_exclude_defaults
                or self.response_model_exclude_none
            )
        ):
            answer.update(model=model, status=self.status_code or 200)


def api_router(**kwargs: Any) -> APIRouter:
    """``APIRouter`` with :class:`SessionEndingRoute` routes (unless ``route_class`` says otherwise)."""
    kwargs.setdefault("route_class", SessionEndingRoute)
    return APIRouter(**kwargs)
