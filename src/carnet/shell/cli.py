"""``carnet [--web [--device]] [--host H] [--port P]``: run the app (a desktop window, or served to a browser).

``--web`` serves many people at once: each browser session has its own secrets and data, in memory, gone when
that browser session ends (online only). ``--web --device`` instead shows ONE phone's app in the browser, with
its data kept in the data folder across restarts (offline use, tested without a phone); one browser at a time.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

__all__ = ["assets_dir", "log_to_stderr", "main"]


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
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY") and sys.platform.startswith("linux"):
        os.environ.setdefault("FLET_FORCE_WEB_SERVER", "true")  # no display: don't try to open a browser
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
    ft.run(
        app_main, view=ft.AppView.WEB_BROWSER, host=args.host, port=args.port, no_cdn=True, assets_dir=str(assets_dir())
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
