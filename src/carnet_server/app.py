"""The FastAPI application: ``create_app(settings)``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio.to_thread
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from carnet_server.admin.router import router as admin_router
from carnet_server.agenda import service as agenda
from carnet_server.agenda.router import router as agenda_router
from carnet_server.auth.router import router as auth_router
from carnet_server.blood_bank import bookings as blood_bank
from carnet_server.blood_bank.router import router as blood_bank_router
from carnet_server.chemotherapy.router import router as chemotherapy_router
from carnet_server.context import Context, build_context
from carnet_server.db import utcnow
from carnet_server.enrolment.router import router as enrolment_router
from carnet_server.errors import install_error_handlers
from carnet_server.fever import service as fever
from carnet_server.fever.router import page_router as fever_page_router
from carnet_server.fever.router import router as fever_router
from carnet_server.guardians.router import router as guardian_router
from carnet_server.headers import SecurityHeadersMiddleware
from carnet_server.idempotency.deps import install_idempotency
from carnet_server.incidents import service as incidents
from carnet_server.incidents.router import router as incidents_router
from carnet_server.kept import KeptAnswersMiddleware
from carnet_server.limits import BodyLimitMiddleware, document_limits
from carnet_server.mixing.delivery import DeliveryWorker
from carnet_server.mixing.router import router as mixing_router
from carnet_server.patients import service as patients
from carnet_server.patients.router import router as patients_router
from carnet_server.pharmacy.router import router as pharmacy_router
from carnet_server.privacy.notices import check_notices
from carnet_server.privacy.router import document_privacy_gate
from carnet_server.privacy.router import router as privacy_router
from carnet_server.reminders.due import run_pass
from carnet_server.reminders.router import router as reminders_router
from carnet_server.settings import Settings
from carnet_server.sync.router import router as sync_router
from carnet_server.sync.service import SyncRegistry
from carnet_server.text_guard import ControlCharactersMiddleware
from carnet_server.verification.router import router as verification_router
from carnet_server.whatsapp import links, outbox
from carnet_server.whatsapp.router import router as whatsapp_router
from carnet_server.whatsapp.worker import WhatsAppWorker

__all__ = ["app_from_env", "create_app", "sync_registry"]


def sync_registry() -> SyncRegistry:
    """Each domain's sync loader, registered here (importing a domain registers nothing); every record
    type of the contract must have one."""
    registry = SyncRegistry()
    registry.register("appointment", agenda.load_for_sync)
    registry.register("blood_bank_booking", blood_bank.load_for_sync)
    registry.register("incident", incidents.load_for_sync)
    registry.register("cycle", patients.load_cycles_for_sync)
    registry.register("fever_episode", fever.load_for_sync)
    registry.check_complete()
    return registry


def send_reminders(ctx: Context) -> int:
    """The reminders due now, queued as WhatsApp templates to the linked numbers (reminders/due.py)."""
    with ctx.sessions() as session:
        return run_pass(session, now=utcnow(), tz=ctx.tz, enqueue=outbox.enqueue, linked_phone=links.linked_phone)


def create_app(settings: Settings | None = None, *, context: Context | None = None) -> FastAPI:
    """The API app; migrates the database and makes the keys on first use."""
    ctx = context or build_context(settings or Settings())
    check_notices(ctx.settings)  # never serve without a readable privacy notice

    mixing_worker = DeliveryWorker(ctx)  # one per process; the database queue keeps several safe
    # Likewise (whatsapp/worker.py); it also runs the reminders pass every CARNET_REMINDERS_EVERY_SECONDS.
    whatsapp_worker = WhatsAppWorker(ctx, periodic=send_reminders)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        anyio.to_thread.current_default_thread_limiter().total_tokens = ctx.settings.request_threads
        ctx.commits.start()  # PostgreSQL: hear other workers' commits from the start (memo.py)
        # FastAPI resolves each included router's routes on its first request (~2 ms a route): done here, before
        # anyone waits on it (a late router's first request in each worker took ~150 ms more; #20).
        for _route in iter_route_contexts(_app.routes):
            pass
        mixing_worker.start()
        whatsapp_worker.start()
        yield
        await asyncio.gather(asyncio.to_thread(mixing_worker.stop), asyncio.to_thread(whatsapp_worker.stop))
        ctx.engine.dispose()
        ctx.commits.close()

    app = FastAPI(
        title="Carnet API",
        version="1",
        description="Carnet digital de quimioterapia: API (see API.md).",
        lifespan=lifespan,
        # The interactive docs only with CARNET_DOCS (off in production); /openapi.json stays (tests and
        # schemathesis read it).
        docs_url="/docs" if ctx.settings.docs else None,
        redoc_url="/redoc" if ctx.settings.docs else None,
        # FastAPI's own OpenTelemetry off: nothing here exports traces, metrics or logs, spans would carry the
        # children's ids in their paths, and asking the global providers on every request was a fifth of a kept
        # read's time (#20).
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.ctx = ctx
    app.state.sync_registry = sync_registry()
    app.state.mixing_worker = mixing_worker
    app.state.whatsapp_worker = whatsapp_worker
    # Innermost: the family's frequent reads answered from what this worker keeps, before routing, when the route
    # would send that very answer (kept.py).
    app.add_middleware(KeptAnswersMiddleware, ctx=ctx)
    install_error_handlers(app)
    install_idempotency(app)
    # A too-large body is refused before any route reads it.
    app.add_middleware(
        BodyLimitMiddleware,
        max_bytes=ctx.settings.max_body_bytes,
        photo_max_bytes=ctx.settings.incident_photo_max_bytes,
        body_timeout=ctx.settings.body_timeout_seconds,
    )
    # A path or query parameter with control characters is refused before anything reads it (text_guard.py).
    app.add_middleware(ControlCharactersMiddleware)
    # Outside that: every answer, the refusals above included, gets nosniff, and API answers no-store.
    app.add_middleware(SecurityHeadersMiddleware)
    # Outermost: the client's address from X-Forwarded-For, only when the connection comes from a configured
    # proxy (CARNET_TRUSTED_PROXIES; uvicorn's own proxy handling is off, cli.server_options).
    if ctx.settings.trusted_proxies:
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=ctx.settings.trusted_proxies)

    @app.get("/healthz", tags=["ops"])
    async def healthz() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @app.get("/api/v1/ping", tags=["ops"])
    async def ping() -> dict[str, bool]:
        """Trivial JSON answer without database access (benchmark baseline)."""
        return {"pong": True}

    # The family's frequent reads first (/me, the carnet, the sync): a request is matched against the routes in
    # this order, and each route tried costs a regular expression (#20).
    app.include_router(auth_router)
    app.include_router(patients_router)
    app.include_router(sync_router)
    app.include_router(verification_router)
    app.include_router(pharmacy_router)
    app.include_router(agenda_router)
    app.include_router(blood_bank_router)
    app.include_router(incidents_router)
    app.include_router(mixing_router)
    app.include_router(privacy_router)
    app.include_router(admin_router)
    app.include_router(enrolment_router)
    app.include_router(chemotherapy_router)
    app.include_router(guardian_router)
    app.include_router(whatsapp_router)
    app.include_router(reminders_router)
    app.include_router(fever_router)
    app.include_router(fever_page_router)
    document_limits(app)
    document_privacy_gate(app)
    return app


def app_from_env() -> FastAPI:
    """For ``uvicorn --factory carnet_server.app:app_from_env`` (several workers)."""
    return create_app(Settings())
