"""The WhatsApp worker of one server process: a daemon thread that processes the inbound queue, sends the
outbound queue and, every ``reminders_every_seconds``, runs the periodic pass: the reminders, and the purge of
both queues' rows past their retention (inbound.py, outbox.py). The queues live in the
database, so several processes may each run one (leases keep them apart) and a restart loses nothing. The
webhook and an answered report wake it (``wake``); without that it still polls every
``whatsapp_poll_seconds``."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import httpx

from carnet_server.context import Context
from carnet_server.db import utcnow
from carnet_server.whatsapp import inbound, outbox

__all__ = ["WhatsAppWorker"]

log = logging.getLogger("carnet_server.whatsapp")


class WhatsAppWorker:
    def __init__(
        self,
        ctx: Context,
        *,
        transport: httpx.BaseTransport | None = None,
        periodic: Callable[[Context], object] | None = None,
    ) -> None:
        self.ctx = ctx
        self._transport = transport  # tests put a fake provider here
        self._periodic = periodic  # the reminders pass (app.py)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="whatsapp", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float | None = None) -> None:
        self._stop.set()
        self._wake.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout if timeout is not None else self.ctx.settings.whatsapp_timeout_seconds * 2 + 5)

    def run_once(self, client: httpx.Client) -> bool:
        """One round of both queues; True when something was done (there may be more)."""
        handled = inbound.process_due(self.ctx, client)
        sent = outbox.send_due(self.ctx, client)
        return bool(handled or any(s.outcome != "retry" for s in sent))

    def periodic_pass(self, client: httpx.Client) -> bool:
        """The reminders (when set), the purge of both queues, then a send round; True when something was sent."""
        if self._periodic is not None:
            self._periodic(self.ctx)
        inbound.purge(self.ctx, now=utcnow())
        outbox.purge(self.ctx, now=utcnow())
        return outbox.send_due(self.ctx, client) != []

    def _run(self) -> None:
        settings = self.ctx.settings
        timeout = httpx.Timeout(settings.whatsapp_timeout_seconds, connect=min(5.0, settings.whatsapp_timeout_seconds))
        next_periodic = 0.0
        with httpx.Client(
            timeout=timeout, follow_redirects=False, transport=self._transport, trust_env=False
        ) as client:
            while not self._stop.is_set():
                self._wake.clear()
                busy = False
                try:
                    busy = self.run_once(client)
                    if time.monotonic() >= next_periodic:
                        next_periodic = time.monotonic() + settings.reminders_every_seconds
                        busy = self.periodic_pass(client) or busy
                except Exception as exc:  # noqa: BLE001 — keep the loop alive (database restarting, …)
                    log.error("whatsapp round failed: %s", type(exc).__name__)
                if not busy:
                    self._wake.wait(settings.whatsapp_poll_seconds)
