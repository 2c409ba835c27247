"""A client process for the crash test: queue family appointments, sync, maybe die on purpose.

    python -m tests.support.sync_driver --api URL --home DIR [--create N --prefix P]
        [--kill-after-push K | --kill-before-page-commit K] [--page-limit L]

Runs the real app services (AppSession, outbox, sync engine) without a UI.
The kill switch is a monkeypatch made here, not a hook in the app: it wraps
the engine's local-commit steps and sends SIGKILL to this very process after
the server has answered but before the local transaction runs. Prints one
JSON line with the outbox and the synced appointments when it survives.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from carnet.core.clock import MX
from carnet.agenda.form import AppointmentForm
from carnet.core.config import AppConfig
from carnet.shell.session import AppSession
from carnet.core.navigation import Phase
from carnet.data.sync import SyncEngine
from tests.support.secret_stores import FileSecretStore

PASSWORD = "carnet-demo"


def _die_on_call(name: str, after: int) -> None:
    """SIGKILL this process at call number ``after`` of SyncEngine.<name>, before it runs."""
    original = getattr(SyncEngine, name)
    calls = {"n": 0}

    def wrapper(self: SyncEngine, *args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == after:
            sys.stdout.flush()
            os.kill(os.getpid(), signal.SIGKILL)
        return original(self, *args, **kwargs)

    setattr(SyncEngine, name, wrapper)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    home = Path(args.home)
    home.mkdir(parents=True, exist_ok=True)
    config = AppConfig(api_base_url=args.api, api_timeout_seconds=10.0)
    session = AppSession(config, FileSecretStore(home / "secrets.json"), home / "data")
    try:
        if not await session.start():
            await session.login(args.username, PASSWORD)
            if session.state.phase is not Phase.READY:
                raise SystemExit(f"login failed: {session.state.login_error}")
        assert session.scope.engine is not None and session.scope.outbox is not None
        session.scope.engine.page_limit = args.page_limit
        patient = session.state.children[0].id
        base = datetime.now(UTC).astimezone(MX).replace(hour=9, minute=0, second=0, microsecond=0)
        for n in range(args.create):
            day = base + timedelta(days=2 + n)
            form = AppointmentForm(record_id=None, patient_id=patient, kind="laboratorio",
                                   title=f"{args.prefix} {n}", date_text=f"{day:%d/%m/%Y}",
                                   start_text="09:00", end_text="09:30", place="Laboratorio central")
            if not session.agenda.save(form):
                raise SystemExit(f"form refused: {form.errors}")
        if args.kill_after_push:
            _die_on_call("_apply_push_result", args.kill_after_push)
        if args.kill_before_page_commit:
            _die_on_call("_apply_page", args.kill_before_page_commit)
        await session.refresh()
        assert session.scope.records is not None
        return {
            "online": session.state.online,
            "sync_error": session.state.sync_error,
            "outbox": [{"id": i.id, "state": i.state.value, "error": i.error} for i in session.scope.outbox.items()],
            "appointments": {k: v.model_dump(mode="json") for k, v in session.scope.records.appointments().items()},
        }
    finally:
        await session.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--api", required=True)
    parser.add_argument("--home", required=True)
    parser.add_argument("--username", default="madre.demo")
    parser.add_argument("--create", type=int, default=0)
    parser.add_argument("--prefix", default="Cita de prueba")
    parser.add_argument("--kill-after-push", type=int, default=0)
    parser.add_argument("--kill-before-page-commit", type=int, default=0)
    parser.add_argument("--page-limit", type=int, default=200)
    args = parser.parse_args(argv)
    print(json.dumps(asyncio.run(run(args))), flush=True)


if __name__ == "__main__":
    main()
