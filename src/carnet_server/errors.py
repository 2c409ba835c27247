"""API errors and the handlers that give every 4xx/5xx the same shape.

    ApiException(status, code)          raised by routes and dependencies
     ├── NotAuthenticated               401 (+ WWW-Authenticate: Bearer)
     ├── Forbidden                      403
     ├── NotFound                       404
     └── TooManyRequests                429 (+ Retry-After)

An ``ApiException`` may carry several ``reasons`` (code + text per language):
the body then has ``"reasons": [{"code", "message"}]`` beside code and message
(422 ``donor_not_eligible``). Anything else becomes a body
``{"error": {"code", "message"}}`` too:
Starlette's HTTP errors (unknown route 404, 405, …), FastAPI's validation
errors (422, or 400 for a body that is not JSON), and — without details — any
unexpected exception (500). ``message`` follows ``Accept-Language``.

A database that cannot be used just now (restarting, unreachable, pool
exhausted: ``db.is_database_unavailable``) is not a 500 but a 503
``database_unavailable`` with ``Retry-After``: the client retries the same
request (a write with the same ``Idempotency-Key``). One log line without the
error's message (it may quote SQL parameters).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from carnet_server.db import is_database_unavailable
from carnet_server.i18n import Lang, negotiate, t

__all__ = [
    "DATABASE_RETRY_AFTER_SECONDS",
    "ApiException",
    "mapped_errors",
    "Forbidden",
    "NotAuthenticated",
    "NotFound",
    "TooManyRequests",
    "error_response",
    "install_error_handlers",
]

log = logging.getLogger("carnet_server.errors")

_STATUS_CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "too_many_attempts",
}


#: Retry-After of a 503 ``database_unavailable``: PostgreSQL restarts in about a second, a failover in more.
DATABASE_RETRY_AFTER_SECONDS = 3


class ApiException(Exception):
    """An expected error with an HTTP status, a machine code and a message key."""

    def __init__(
        self,
        status: int,
        code: str,
        *,
        message_key: str | None = None,
        params: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        reasons: Sequence[tuple[str, Mapping[str, str]]] | None = None,
    ) -> None:
        super().__init__(code)
        self.status = status
        self.code = code
        self.message_key = message_key or code
        self.params = params or {}
        self.headers = headers or {}
        #: (code, {"es": text, "en": text}) for each reason, when there are several.
        self.reasons = list(reasons) if reasons else None


class NotAuthenticated(ApiException):
    def __init__(self, code: str = "not_authenticated") -> None:
        super().__init__(401, code, headers={"WWW-Authenticate": "Bearer"})


class Forbidden(ApiException):
    def __init__(self) -> None:
        super().__init__(403, "forbidden")


class NotFound(ApiException):
    def __init__(self, code: str = "not_found") -> None:
        super().__init__(404, code)


class TooManyRequests(ApiException):
    def __init__(self, retry_after: int) -> None:
        super().__init__(
            429,
            "too_many_attempts",
            params={"minutes": max(1, -(-retry_after // 60))},
            headers={"Retry-After": str(retry_after)},
        )


def lang_of(request: Request) -> Lang:
    return negotiate(request.headers.get("accept-language"))


def error_response(
    request: Request, status: int, code: str, message: str, headers: dict[str, str] | None = None,
    reasons: list[dict[str, str]] | None = None,
) -> JSONResponse:
    error: dict[str, object] = {"code": code, "message": message}
    if reasons is not None:
        error["reasons"] = reasons
    return JSONResponse(
        {"error": error},
        status_code=status,
        headers={"Content-Language": "en" if lang_of(request) == "en" else "es-MX", **(headers or {})},
    )


def _field_name(loc: Sequence[Any], lang: Lang) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header", "cookie")]
    return ".".join(parts) if parts else t("field.body", lang)


def _reason(error_type: str) -> str:
    if error_type == "missing":
        return "field.missing"
    if error_type == "extra_forbidden":
        return "field.extra"
    if error_type in ("string_too_short", "too_short"):
        return "field.short"
    if error_type in ("string_too_long", "too_long"):
        return "field.long"
    if error_type.endswith(("_type", "_parsing")):
        return "field.type"
    return "field.invalid"


async def _api_exception(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiException)
    lang = lang_of(request)
    if exc.reasons is None:
        return error_response(request, exc.status, exc.code, t(exc.message_key, lang, **exc.params), exc.headers)
    reasons = [{"code": code, "message": texts[lang]} for code, texts in exc.reasons]
    message = t(exc.message_key, lang, **exc.params, reasons=" ".join(r["message"] for r in reasons))
    return error_response(request, exc.status, exc.code, message, exc.headers, reasons)


async def _http_exception(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _STATUS_CODES.get(exc.status_code, "http_error")
    if exc.status_code == 400 and exc.detail == "There was an error parsing the body":
        code = "invalid_json"  # FastAPI's answer to a body json cannot parse, e.g. nested too deep
    headers = dict(exc.headers or {})
    return error_response(request, exc.status_code, code, t(code, lang_of(request)), headers)


async def _validation_exception(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    lang = lang_of(request)
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        return error_response(request, 400, "invalid_json", t("invalid_json", lang))
    fields: list[str] = []
    for error in errors:
        item = f"{_field_name(error.get('loc', ()), lang)} ({t(_reason(str(error.get('type', ''))), lang)})"
        if item not in fields:
            fields.append(item)
    message = t("validation_error", lang, fields=", ".join(fields))
    return error_response(request, 422, "validation_error", message)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    if is_database_unavailable(exc):
        return _database_unavailable(request, exc)
    # The type and the route template only: messages and URLs may carry personal data.
    route = getattr(request.scope.get("route"), "path", "?")
    log.error("unhandled %s on %s %s", type(exc).__name__, request.method, route)
    return error_response(request, 500, "internal_error", t("internal_error", lang_of(request)))


def _database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    # The driver's error class and SQLSTATE only (e.g. AdminShutdown 57P01): the message may quote SQL
    # parameters.
    orig = getattr(exc, "orig", None) or exc
    sqlstate = getattr(orig, "sqlstate", None)
    route = getattr(request.scope.get("route"), "path", "?")
    log.warning("database unavailable (%s%s) on %s %s: answered 503", type(orig).__name__,
                f" {sqlstate}" if sqlstate else "", request.method, route)
    return error_response(request, 503, "database_unavailable", t("database_unavailable", lang_of(request)),
                          {"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)})


class CatchAllMiddleware:
    """Turns an unexpected exception into the 500 error body, and stops it there.

    Starlette's own last-resort handler re-raises after answering, and the
    server then logs the traceback with the exception's message — which may
    hold personal data (an SQL parameter, say). Here only the type is logged.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_tracking(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, send_tracking)
        except Exception as exc:  # noqa: BLE001 — the last line of defence
            response = await _unexpected(Request(scope), exc)
            if not started:
                await response(scope, receive, send)


@contextmanager
def mapped_errors(session: Session, to_http: Callable[[Exception], Exception]) -> Iterator[None]:
    """Turn a domain's service errors into HTTP errors with ``to_http``; on any error end the
    transaction at once, so its connection goes back to the pool before the answer is made."""
    try:
        yield
    except Exception as exc:
        session.rollback()
        mapped = to_http(exc)
        if mapped is exc:
            raise
        raise mapped from exc


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiException, _api_exception)
    app.add_exception_handler(StarletteHTTPException, _http_exception)
    app.add_exception_handler(RequestValidationError, _validation_exception)
    # Handled (not re-raised by Starlette's last-resort middleware): 503 when unavailable, else the 500.
    app.add_exception_handler(sa_exc.DBAPIError, _unexpected)
    app.add_exception_handler(sa_exc.TimeoutError, _unexpected)
    app.add_exception_handler(Exception, _unexpected)
    app.add_middleware(CatchAllMiddleware)
