"""``carnet [--web [--device]] [--host H] [--port P]``: run the app (a desktop window, or served to a browser).

``--web`` serves many people at once: each browser session has its own secrets and data, in memory, gone when
that browser session ends (online only). ``--web --device`` instead shows ONE phone's app in the browser, with
its data kept in the data folder across restarts (offline use, tested without a phone); one browser at a time.
"""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

__all__ = ["assets_dir", "log_to_stderr", "main"]

#: How long a stopped web app waits for its browsers' connections to end before it closes them.
GRACE_SECONDS = 5

#: The header that makes Flet's page cross-origin isolated; --web drops it (see ``NotCrossOriginIsolated``).
EMBEDDER_POLICY = b"cross-origin-embedder-policy"


def assets_dir() -> Path:
    """``assets/`` at the repo root (next to ``main.py``), where icon and splash live."""
    for folder in Path(__file__).resolve().parents:
        if (folder / "assets" / "icon.png").is_file():
            return folder / "assets"
    return Path.cwd() / "assets"


def log_to_stderr() -> None:
    """The app's own log lines (never personal data) on stderr at INFO, as the API server's: whoever runs the web
    app sees browsers' connections drop and come back, and what failed in the background."""
    logger = logging.getLogger("carnet")
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="carnet", description="Carnet: the chemotherapy carnet app.")
    parser.add_argument("--web", action="store_true", help="serve the app to a web browser")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind in --web mode")
    parser.add_argument("--port", type=int, default=8550, help="port in --web mode (default 8550)")
    parser.add_argument(
        "--device",
        action="store_true",
        help="with --web: one phone's app, data kept in the data folder (one browser at a time)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    import flet as ft

    from carnet.shell.app import main as app_main

    if not args.web:
        ft.run(app_main, assets_dir=str(assets_dir()))
        return 0
    from carnet.shell.app import DEVICE_ENV

    log_to_stderr()
    if args.device:
        os.environ[DEVICE_ENV] = "1"
    else:
        # A browser session that lost its connection may come back for 15 minutes; then it ends, and its
        # secrets and data with it (Flet's default keeps it an hour: too long on a shared desk PC).
        os.environ.setdefault("FLET_SESSION_TIMEOUT", "900")
    shown_host = "127.0.0.1" if args.host in ("0.0.0.0", "") else args.host  # noqa: S104 — compared, not bound
    print(f"Carnet app: http://{shown_host}:{args.port}", flush=True)
    _serve_web(app_main, args.host, args.port)
    return 0


class NotCrossOriginIsolated:
    """ASGI wrapper: Flet's web app without its Cross-Origin-Embedder-Policy header (its opener policy stays).

    Served cross-origin isolated, the page gets Flutter's multi-threaded skwasm renderer, and the Flutter that
    Flet 1.0.5 ships (3.44) shares Skia's glyph cache between skwasm's two threads without a lock: text laid out
    while the last frame is painted can corrupt the heap, and the tab then freezes for good, a core pinned, nothing
    in the console (flutter/flutter#190039, mended in Flutter 3.47). Two CI runs saw a browser test's page stop
    answering for good, as that bug leaves a tab. Not isolated, Flutter draws with skwasm on one thread (or
    CanvasKit, in a browser without WebAssembly GC): measured here, the faster of the two safe choices
    (bench/RESULTS.md). Nothing in the app needs the isolation (Flet wants it for Pyodide, not used).
    """

    def __init__(self, app: Callable[..., Awaitable[None]]) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_without_policy(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (name, value) for name, value in message.get("headers", []) if name.lower() != EMBEDDER_POLICY
                ]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_without_policy)


def _serve_web(app_main: Callable[..., Any], host: str, port: int) -> None:
    """Flet's web app (its FastAPI app, as ``ft.run`` builds it, CDN-free) on uvicorn, until stopped."""
    import flet_web.fastapi as flet_fastapi
    import uvicorn

    web = flet_fastapi.app(app_main, assets_dir=str(assets_dir()), no_cdn=True)
    # Stopped (SIGTERM, Ctrl-C), it waits for the browsers' connections at most GRACE_SECONDS, then closes them.
    uvicorn.run(
        NotCrossOriginIsolated(web),
        host=host,
        port=port,
        ws="websockets-sansio",
        log_level="warning",
        timeout_graceful_shutdown=GRACE_SECONDS,
    )


if __name__ == "__main__":
    raise SystemExit(main())
