"""API errors and the handlers that give every 4xx/5xx the same shape.

    ApiException(status, code)          raised by routes and dependencies (HTTP-level refusals)
     ├── NotAuthenticated               401 (+ WWW-Authenticate: Bearer)
     └── Forbidden                      403

The services raise :class:`~carnet_server.domain_errors.DomainError` instead,
and one handler (``_domain_error``) answers every one of them, by kind:

    Unauthenticated 401 · NotAllowed 403 · NotFound 404 · Conflict 409 ·
    TooLarge 413 · Unsupported 415 · Invalid 422 · Throttled 429 (+ Retry-After)

so routes neither catch nor translate them. The body is
``{"error": {"code", "message"}}``; with several ``reasons`` (code + words) it
has ``"reasons": [{"code", "message"}]`` too (422 ``donor_not_eligible``,
``token_invalid``), and an error's ``details`` are added beside them (409
``already_dispensed``: ``"dispensation"``). ``retry_after`` becomes a
``Retry-After`` header, ``scheme`` a ``WWW-Authenticate`` one. A transaction
a refusal interrupts ends when the request's session closes, before the
answer is made (the dependency's exit runs first). Anything else becomes a body
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
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from carnet_server import domain_errors as domain
from carnet_server.db import is_database_unavailable
from carnet_server.i18n import Lang, negotiate, t
from carnet_server.routes import context_of

__all__ = [
    "DATABASE_RETRY_AFTER_SECONDS",
    "ApiException",
    "Forbidden",
    "NotAuthenticated",
    "domain_status",
    "error_response",
    "install_error_handlers",
    "lang_of",
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
    ) -> None:
        super().__init__(code)
        self.status = status
        self.code = code
        self.message_key = message_key or code
        self.params = params or {}
        self.headers = headers or {}


class NotAuthenticated(ApiException):
    def __init__(self, code: str = "not_authenticated") -> None:
        super().__init__(401, code, headers={"WWW-Authenticate": "Bearer"})


class Forbidden(ApiException):
    def __init__(self) -> None:
        super().__init__(403, "forbidden")


#: The status of each kind of domain error (domain_errors.py).
_DOMAIN_STATUS: dict[type[domain.DomainError], int] = {
    domain.Unauthenticated: 401,
    domain.NotAllowed: 403,
    domain.NotFound: 404,
    domain.Conflict: 409,
    domain.TooLarge: 413,
    domain.Unsupported: 415,
    domain.Invalid: 422,
    domain.Throttled: 429,
}


def domain_status(exc: domain.DomainError) -> int | None:
    """The HTTP status of a domain error's kind (None for an error of no kind: a bug)."""
    for cls in type(exc).__mro__:
        if cls in _DOMAIN_STATUS:
            return _DOMAIN_STATUS[cls]
    return None


def lang_of(request: Request) -> Lang:
    """The caller's language, from ``Accept-Language``."""
    return negotiate(request.headers.get("accept-language"))


def error_response(
    request: Request,
    status: int,
    code: str,
    message: str,
    headers: dict[str, str] | None = None,
    reasons: list[dict[str, str]] | None = None,
    details: Mapping[str, Any] | None = None,
) -> JSONResponse:
    error: dict[str, object] = {"code": code, "message": message}
    if reasons is not None:
        error["reasons"] = reasons
    if details:
        error.update(details)
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
    if error_type == "control_characters":
        return "field.control"
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
    message = t(exc.message_key, lang_of(request), **exc.params)
    return error_response(request, exc.status, exc.code, message, exc.headers)


def _shown(value: object, lang: Lang, request: Request) -> object:
    """A message parameter as the caller reads it: a moment in local time, in their language's format."""
    if not isinstance(value, datetime):
        return value
    local = value.astimezone(context_of(request).tz)
    return local.strftime("%d/%m/%Y a las %H:%M") if lang == "es" else local.strftime("%Y-%m-%d at %H:%M")


def _reason_text(reason: domain.Reason, lang: Lang) -> str:
    return reason.messages[lang] if reason.messages else t(reason.message_key or reason.code, lang)


async def _domain_error(request: Request, exc: Exception) -> JSONResponse:
    """Any service's refusal, answered by its kind (the one place domain errors become HTTP)."""
    assert isinstance(exc, domain.DomainError)
    status = domain_status(exc)
    if status is None:
        return await _unexpected(request, exc)
    lang = lang_of(request)
    params = {name: _shown(value, lang, request) for name, value in exc.params.items()}
    reasons = [{"code": r.code, "message": _reason_text(r, lang)} for r in exc.reasons] or None
    if reasons is not None:
        params["reasons"] = " ".join(r["message"] for r in reasons)
    headers: dict[str, str] = {}
    if exc.retry_after is not None:
        headers["Retry-After"] = str(exc.retry_after)
    if exc.scheme is not None:
        headers["WWW-Authenticate"] = exc.scheme
    return error_response(request, status, exc.code, t(exc.message_key, lang, **params), headers, reasons, exc.details)


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
    log.warning(
        "database unavailable (%s%s) on %s %s: answered 503",
        type(orig).__name__,
        f" {sqlstate}" if sqlstate else "",
        request.method,
        route,
    )
    return error_response(
        request,
        503,
        "database_unavailable",
        t("database_unavailable", lang_of(request)),
        {"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)},
    )


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


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiException, _api_exception)
    app.add_exception_handler(domain.DomainError, _domain_error)
    app.add_exception_handler(StarletteHTTPException, _http_exception)
    app.add_exception_handler(RequestValidationError, _validation_exception)
    # Handled (not re-raised by Starlette's last-resort middleware): 503 when unavailable, else the 500.
    app.add_exception_handler(sa_exc.DBAPIError, _unexpected)
    app.add_exception_handler(sa_exc.TimeoutError, _unexpected)
    app.add_exception_handler(Exception, _unexpected)
    app.add_middleware(CatchAllMiddleware)
