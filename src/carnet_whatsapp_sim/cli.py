"""``carnet-whatsapp-sim``: ``serve`` runs the simulator, ``write`` writes to the bot as a phone.

    carnet-whatsapp-sim serve --port P --webhook-url URL [--host 127.0.0.1] [--phone-number-id PNID]
                              [--display-number DIGITS] [--record FILE.sqlite]
        secrets: env CARNET_WHATSAPP_APP_SECRET and CARNET_WHATSAPP_ACCESS_TOKEN,
        or --app-secret-file / --access-token-file.

    carnet-whatsapp-sim write --sim URL --from DIGITS (TEXT | --button ID | --list ID | --image FILE)
                              [--caption TEXT] [--name NAME] [--wait SECONDS] [--settle SECONDS]

``write`` sends through ``POST /_sim/inbound`` and prints the bot's replies to that number, each as
``Bot: <text>`` with the options numbered (``[1] Reportar un problema (id: menu:report)``), until
``--wait`` seconds have passed, or ``--settle`` seconds after the last reply with no other. It never
reads stdin. Exit codes: 0 sent (with or without replies); 2 the simulator is not reachable or
refused the input; 3 the bot's webhook did not accept the message (its HTTP statuses are printed).
"""

from __future__ import annotations

import argparse
import base64
import json
import logging
import os
import signal
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from carnet_whatsapp_sim.server import Simulator, make_server

__all__ = ["main"]

log = logging.getLogger("carnet_whatsapp_sim")

_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
POLL_SECONDS = 0.1


def _secret(name: str, file: str | None, env: str) -> str:
    if file:
        return Path(file).read_text(encoding="utf-8").strip()
    value = os.environ.get(env, "").strip()
    if not value:
        raise SystemExit(f"carnet-whatsapp-sim: falta {name}: --{name}-file o {env} / {name} missing")
    return value


def serve(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="whatsapp-sim: %(message)s", stream=sys.stderr)
    sim = Simulator(
        app_secret=_secret("app-secret", args.app_secret_file, "CARNET_WHATSAPP_APP_SECRET").encode("utf-8"),
        access_token=_secret("access-token", args.access_token_file, "CARNET_WHATSAPP_ACCESS_TOKEN"),
        webhook_url=args.webhook_url,
        phone_number_id=args.phone_number_id,
        display_number=args.display_number,
        record=Path(args.record) if args.record else None,
    )
    try:
        server = make_server(sim, args.host, args.port)
    except OSError as exc:
        raise SystemExit(
            f"carnet-whatsapp-sim: no se pudo escuchar en {args.host}:{args.port} / "
            f"could not listen on {args.host}:{args.port} ({exc.strerror})"
        ) from None

    def _stop(_signum: int, _frame: object) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    log.info("listening on http://%s:%d", *server.server_address[:2])
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
    return 0


# ---- write -----------------------------------------------------------------------------------


class Unreachable(Exception):
    """The simulator did not answer, or refused: the sentence to print."""


def _call(sim: str, path: str, body: dict[str, Any] | None = None) -> Any:
    data = None if body is None else json.dumps(body).encode("utf-8")
    request = urllib.request.Request(  # noqa: S310 — the --sim URL the user gave
        sim.rstrip("/") + path,
        data=data,
        method="GET" if data is None else "POST",
        headers={"Content-Type": "application/json"},
    )
    try:
        with _OPENER.open(request, timeout=30) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        try:
            message = json.loads(exc.read()).get("message") or f"HTTP {exc.code}"
        except (ValueError, AttributeError):
            message = f"HTTP {exc.code}"
        raise Unreachable(f"El simulador rechazó la petición / the simulator refused the request: {message}") from None
    except (OSError, urllib.error.URLError, ValueError) as exc:
        raise Unreachable(
            f"No se pudo conectar con el simulador de WhatsApp en {sim} / "
            f"could not reach the WhatsApp simulator at {sim} ({type(exc).__name__})"
        ) from None


def _request(args: argparse.Namespace) -> dict[str, Any]:
    request: dict[str, Any] = {"from": args.sender, "deliveries": args.deliveries}
    if args.name:
        request["name"] = args.name
    if args.forged:
        request["signature"] = "forged"
    if args.text is not None:
        request["text"] = args.text
    elif args.button:
        request["button"] = {"id": args.button}
    elif args.list:
        request["list"] = {"id": args.list}
    else:
        path = Path(args.image)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise Unreachable(f"No se pudo leer {path} / could not read {path} ({exc.strerror})") from None
        request["image_b64"] = base64.b64encode(data).decode("ascii")
        request["mime_type"] = "image/png" if path.suffix.lower() == ".png" else "image/jpeg"
        if args.caption:
            request["caption"] = args.caption
    return request


def show(text: str) -> str:
    """``Bot: <first line>`` and the other lines indented."""
    first, *rest = text.split("\n")
    return "\n".join([f"Bot: {first}", *(f"  {line}" for line in rest)])


def write(args: argparse.Namespace) -> int:
    try:
        sent = _call(args.sim, "/_sim/inbound", _request(args))
        statuses = sent.get("statuses", [])
        if not any(200 <= s < 300 for s in statuses):
            print(
                f"El bot no aceptó el mensaje / the bot did not accept the message (webhook: {statuses})",
                file=sys.stderr,
            )
            return 3
        after, start, last_reply = int(sent.get("seq", 0)), time.monotonic(), None
        while True:
            now = time.monotonic()
            if now - start >= args.wait or (last_reply is not None and now - last_reply >= args.settle):
                break
            query = urllib.parse.urlencode({"to": args.sender, "after": after})
            for message in _call(args.sim, f"/_sim/messages?{query}")["messages"]:
                print(show(message["text"]), flush=True)
                after, last_reply = message["seq"], time.monotonic()
            time.sleep(POLL_SECONDS)  # the poll interval
    except Unreachable as exc:
        print(exc, file=sys.stderr)
        return 2
    if last_reply is None:
        print(f"(sin respuesta en {args.wait:g} s / no reply within {args.wait:g} s)", file=sys.stderr)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="carnet-whatsapp-sim", description="Simulador de WhatsApp Cloud API / WhatsApp Cloud API simulator."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("serve", help="run the simulator")
    run.add_argument("--host", default="127.0.0.1")
    run.add_argument("--port", type=int, required=True)
    run.add_argument("--webhook-url", required=True, help="e.g. http://127.0.0.1:8000/api/v1/whatsapp/webhook")
    run.add_argument("--phone-number-id", default="carnet-demo")
    run.add_argument("--display-number", default="5215500000000", help="the bot's number in the webhooks' metadata")
    run.add_argument("--record", help="SQLite file keeping the bot's messages across restarts")
    run.add_argument("--app-secret-file", help="else env CARNET_WHATSAPP_APP_SECRET")
    run.add_argument("--access-token-file", help="else env CARNET_WHATSAPP_ACCESS_TOKEN")
    run.set_defaults(func=serve)

    phone = commands.add_parser("write", help="write to the bot as a phone number and print its replies")
    phone.add_argument("--sim", required=True, help="the simulator's URL, e.g. http://127.0.0.1:8660")
    phone.add_argument("--from", dest="sender", required=True, help="the phone's number, digits: 5215512345678")
    what = phone.add_mutually_exclusive_group(required=True)
    what.add_argument("text", nargs="?", help="a text message")
    what.add_argument("--button", metavar="ID", help="tap the reply button with this id")
    what.add_argument("--list", metavar="ID", help="choose the list row with this id")
    what.add_argument("--image", metavar="FILE", help="send a JPEG or PNG photo")
    phone.add_argument("--caption", help="the photo's caption")
    phone.add_argument("--name", help="the profile name WhatsApp shows")
    phone.add_argument("--wait", type=float, default=5.0, help="seconds to wait for replies (default 5)")
    phone.add_argument("--settle", type=float, default=1.5, help="stop this long after the last reply (1.5)")
    phone.add_argument("--deliveries", type=int, default=1, help="deliver the same webhook N times (Meta's retries)")
    phone.add_argument("--forged", action="store_true", help="sign the webhook with a wrong key")
    phone.set_defaults(func=write)

    args = parser.parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
