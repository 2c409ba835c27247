"""Start the app as a phone would, without Flutter, and print what it imported (JSON on stdout).

Run by tests/phone/test_phone_start.py in a fresh interpreter: ``python phone_start.py android|ios|linux``.

- like a built app: ``FLET_PLATFORM`` and ``FLET_APP_STORAGE_DATA`` set (serious_python sets both), the
  entry module ``flet build`` names (``[tool.flet.app] module``) run as ``__main__`` — its ``ft.run(...)``
  call is caught and the function it names is called on a page reporting the platform, as the Flutter
  client does; on android/ios ``sys.platform`` says so too (Python 3.13 and later do on phones);
- the page is flet's own ``Session`` over a connection that answers every client call with "nothing"
  (an empty secure storage, no connectivity news): the internal API Flet's own tests use, see
  tests/client/test_ui_inprocess.py;
- the API is unreachable (a closed local port): the app starts offline.
"""

from __future__ import annotations

import asyncio
import json
import os
import runpy
import sys
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


async def start(platform: str) -> dict[str, Any]:
    import flet as ft
    import msgpack
    from flet.controls.base_control import BaseControl
    from flet.controls.context import _context_page
    from flet.messaging.connection import Connection
    from flet.messaging.protocol import MessageAction, configure_encode_object_for_msgpack
    from flet.messaging.session import Session
    from flet.pubsub.pubsub_hub import PubSubHub

    apps: list[Any] = []
    real_run = ft.run
    ft.run = lambda target, **_: apps.append(target)  # what the bundle's ft.run would serve
    try:
        pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
        runpy.run_module(pyproject["tool"]["flet"]["app"]["module"], run_name="__main__")
    finally:
        ft.run = real_run
    assert len(apps) == 1, "the entry module calls ft.run once"

    def wire(obj: Any) -> bytes:
        """Encoded as the real transport does (encoding is what marks controls as sent)."""
        return msgpack.packb(obj, default=configure_encode_object_for_msgpack(BaseControl))

    class BlankPhone(Connection):
        """A client that answers every method call with None: nothing stored, nothing to report."""

        def __init__(self) -> None:
            super().__init__()
            self.pubsubhub = PubSubHub()
            self.session: Session | None = None
            self.calls: list[str] = []

        def send_message(self, message: Any) -> None:
            wire([message.action, message.body])
            if message.action == MessageAction.INVOKE_METHOD and self.session is not None:
                body = message.body
                self.calls.append(body.name)
                session = self.session
                self.loop.call_soon(session.handle_invoke_method_results, body.control_id, body.call_id, None, None)

    connection = BlankPhone()
    connection.loop = asyncio.get_running_loop()
    session = Session(connection)
    connection.session = session
    wire(session.get_page_patch())  # the page as the client receives it on connect, before main() runs
    page = session.page
    page.platform = ft.PagePlatform(platform)
    page.web = False
    token = _context_page.set(page)
    try:
        await apps[0](page)
        loaded = sorted(sys.modules)
        ui = page.data["ui"]
        store = ui.session.secrets.name
        await ui.shutdown()
    finally:
        _context_page.reset(token)
    return {"modules": loaded, "secret_store": store, "client_calls": connection.calls}


def run(platform: str) -> None:
    os.environ["FLET_PLATFORM"] = platform
    if platform in ("android", "ios"):
        import sysconfig

        sysconfig.get_config_vars()  # read for this host's build first: it looks its data file up by sys.platform
        sys.platform = platform
    sys.path.insert(0, str(ROOT))
    print(json.dumps(asyncio.run(start(platform))))


if __name__ == "__main__":
    run(sys.argv[1])
