"""``carnet-server``: migrate, make keys, optionally seed demo data, and serve.

carnet-server [--demo] [--host H] [--port P] [--workers N] [--no-serve]
carnet-server rotate-key
carnet-server revoke-qr PATIENT_ID
carnet-server generate --patients N [--seed S] [--today YYYY-MM-DD]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from typing import TypedDict

from carnet_server.context import build_context
from carnet_server.settings import Settings

__all__ = ["main"]

EXIT_USAGE = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="carnet-server",
        description="Servidor API de Carnet / Carnet API server.",
    )
    parser.add_argument(
        "command",
        nargs="?",
        choices=["serve", "rotate-key", "revoke-qr", "generate"],
        default="serve",
        help="serve (default); rotate-key: make a new QR signing key; "
        "revoke-qr PATIENT_ID: revoke every live QR token of a child; "
        "generate: fill an empty database with synthetic families (scale.py)",
    )
    parser.add_argument("patient_id", nargs="?", help="revoke-qr: the child's id")
    parser.add_argument(
        "--demo", action="store_true", help="seed demo data into an empty database (refuses a used one)"
    )
    parser.add_argument("--host", help="address to listen on (default CARNET_HOST or 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (default CARNET_PORT or 8000)")
    parser.add_argument("--no-serve", action="store_true", help="prepare the database, keys and demo data, then exit")
    parser.add_argument("--workers", type=int, help="worker processes (default CARNET_WORKERS or 1)")
    parser.add_argument("--patients", type=int, help="generate: how many children")
    parser.add_argument("--seed", type=int, default=1, help="generate: random seed (same seed, same data)")
    parser.add_argument("--today", help="generate: the day the data is built around (default today)")
    return parser


def _print_banner(settings: Settings, *, demo: bool) -> None:
    base = f"http://{settings.host}:{settings.port}"
    lines = [
        "",
        "  Carnet API",
        f"  API:   {base}/api/v1",
        f"  Docs:  {base}/docs" if settings.docs else "  Docs:  off (CARNET_DOCS=1 serves /docs and /redoc)",
        f"  JWKS:  {base}/.well-known/jwks.json",
        f"  QR links point to: {settings.base_url}/v/…",
    ]
    if demo:
        from carnet_server.demo import DEMO_ACTIVATION, DEMO_PASSWORD, DEMO_USERS

        lines += ["", "  Cuentas demo / demo logins:", f"  {'usuario':<16}{'rol':<12}contraseña"]
        lines += [f"  {u.username:<16}{u.role.value:<12}{DEMO_PASSWORD}" for u in DEMO_USERS]
        lines += [
            "",
            f"  Código de activación / activation code: {DEMO_ACTIVATION.code}",
            "  (de una madre demo sin cuenta aún / for a demo mother with no account yet: «Tengo un código de",
            f"  activación»; una vez, {settings.activation_code_hours} h desde la carga / once, within "
            f"{settings.activation_code_hours} h of seeding)",
        ]
    print("\n".join(lines) + "\n", flush=True)


def parse_command_line(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line. A child's id may begin with "-" (ids are URL-safe base64), which argparse would take for an
    option: the word after ``revoke-qr`` that is none of ours is the id, passed last, after ``--``."""
    parser = _parser()
    words = list(sys.argv[1:] if argv is None else argv)
    if "revoke-qr" in words:
        at = words.index("revoke-qr") + 1
        ours = {option for action in parser._actions for option in action.option_strings}
        if at < len(words) and words[at].startswith("-") and words[at].split("=")[0] not in ours:
            words = [*words[: at - 1], *words[at + 1 :], "revoke-qr", "--", words[at]]
    return parser.parse_args(words)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_command_line(argv)
    settings = Settings()
    updates: dict[str, object] = {}
    if args.host:
        updates["host"] = args.host
    if args.port:
        updates["port"] = args.port
    if updates:
        settings = settings.model_copy(update=updates)

    if args.command == "rotate-key":
        from carnet_server.signing import rotate_signing_key

        kid = rotate_signing_key(settings)
        print(f"Nueva clave de firma activa / new active signing key: {kid}")
        return 0

    if args.command == "revoke-qr":
        return _revoke_qr(settings, args.patient_id)

    if args.command == "generate":
        return _generate(settings, args)
    if args.workers is not None and args.workers < 1:
        print("--workers: al menos 1 / at least 1", file=sys.stderr)
        return EXIT_USAGE

    ctx = build_context(settings)
    if args.demo:
        from carnet_server.demo import DatabaseNotEmpty, seed

        try:
            with ctx.sessions() as session:
                seed(session, ctx=ctx)
        except DatabaseNotEmpty:
            print(
                "La base de datos ya tiene usuarios: los datos demo solo se cargan en una base vacía.\n"
                "The database already has users: demo data only goes into an empty database.\n"
                f"(data dir: {settings.data_dir})",
                file=sys.stderr,
            )
            ctx.engine.dispose()
            return EXIT_USAGE
    if args.no_serve:
        ctx.engine.dispose()
        return 0

    import uvicorn

    from carnet_server.app import create_app
    from carnet_server.logs import log_config
    from carnet_server.signing import MAX_QR_URL_BYTES, qr_url_max_bytes

    _print_banner(settings, demo=args.demo)
    if qr_url_max_bytes(settings.base_url) > MAX_QR_URL_BYTES:
        print(
            f"AVISO / WARNING: CARNET_PUBLIC_URL is too long for a QR version <= 14 at level M "
            f"(up to {qr_url_max_bytes(settings.base_url)} of {MAX_QR_URL_BYTES} bytes).",
            file=sys.stderr,
        )
    workers = args.workers or settings.workers
    if workers > 1:
        # Each worker process builds its own app (and pool) from the environment: pass the overrides on.
        ctx.engine.dispose()
        os.environ.update(
            {
                "CARNET_HOST": settings.host,
                "CARNET_PORT": str(settings.port),
                "CARNET_HEAD_TIMEOUT_SECONDS": str(settings.head_timeout_seconds),
            }
        )
        uvicorn.run(
            "carnet_server.app:app_from_env",
            factory=True,
            workers=workers,
            host=settings.host,
            port=settings.port,
            log_config=log_config(),
            **server_options(settings, workers=workers),
        )
        return 0
    uvicorn.run(
        create_app(context=ctx),
        host=settings.host,
        port=settings.port,
        log_config=log_config(),
        **server_options(settings),
    )
    return 0


def _generate(settings: Settings, args: argparse.Namespace) -> int:
    """Synthetic families for load tests (see scale.py); refuses a database that has patients."""
    from datetime import date

    from carnet_server.scale import SCALE_PASSWORD, DatabaseNotEmpty, generate

    if not args.patients or args.patients < 1:
        print("Indique cuántos pacientes / give the number of patients: --patients N", file=sys.stderr)
        return EXIT_USAGE
    try:
        today = date.fromisoformat(args.today) if args.today else None
    except ValueError:
        print("--today: fecha AAAA-MM-DD / date YYYY-MM-DD", file=sys.stderr)
        return EXIT_USAGE
    ctx = build_context(settings)
    try:
        report = generate(
            ctx, patients=args.patients, seed=args.seed, today=today, progress=lambda line: print(line, flush=True)
        )
    except DatabaseNotEmpty:
        print("La base de datos ya tiene pacientes / the database already has patients.", file=sys.stderr)
        return EXIT_USAGE
    finally:
        ctx.engine.dispose()
    print("\n".join(report.lines()))
    print(f"Contraseña de todas las cuentas / password of every account: {SCALE_PASSWORD}")
    return 0


class ServerOptions(TypedDict):
    """The keyword arguments of ``uvicorn.run`` that ``server_options`` sets."""

    http: type[asyncio.Protocol] | str
    server_header: bool
    access_log: bool
    proxy_headers: bool
    timeout_keep_alive: int
    limit_concurrency: int | None
    h11_max_incomplete_event_size: int


def server_options(settings: Settings, *, workers: int = 1) -> ServerOptions:
    """uvicorn's limits for slow or greedy clients (see limits.py and http_protocol.py).

    A request's line and headers must arrive within ``head_timeout_seconds`` (else 408 and the
    connection closes); idle keep-alive connections close after ``keep_alive_seconds``; past
    ``max_connections`` concurrent connections new requests get 503; a request line and headers over
    64 KB get 431 (h11, if chosen, refuses them at 64 KB too); uvicorn's own refusals answer in the API's
    error shape (http_protocol.py). Spawned worker processes import the protocol by name and read its
    deadline from the environment (``serve`` sets it).

    uvicorn's own ``X-Forwarded-For`` handling is off: it would believe any local connection (127.0.0.1 by
    default), so a proxy on this machine would let anyone pick the address the login throttle counts. The app
    believes the header only from ``CARNET_TRUSTED_PROXIES`` (app.py).
    """
    from carnet_server.http_protocol import head_timeout_protocol

    protocol: type[asyncio.Protocol] | str = (
        head_timeout_protocol(settings.head_timeout_seconds)
        if workers == 1
        else "carnet_server.http_protocol:EnvironmentHeadTimeoutProtocol"
    )
    return {
        "http": protocol,
        "server_header": False,
        "access_log": settings.access_log,
        "proxy_headers": False,
        "timeout_keep_alive": settings.keep_alive_seconds,
        "limit_concurrency": settings.max_connections,
        "h11_max_incomplete_event_size": 64 * 1024,
    }


def _revoke_qr(settings: Settings, patient_id: str | None) -> int:
    """Revoke a child's live QR tokens (carnet reissued, phone lost); prints how many."""
    from carnet_server.patients.tables import Patient
    from carnet_server.pharmacy.service import revoke

    if not patient_id:
        print("Indique el id del paciente / give the patient id: carnet-server revoke-qr PATIENT_ID", file=sys.stderr)
        return EXIT_USAGE
    ctx = build_context(settings)
    try:
        with ctx.sessions() as session:
            patient = session.get(Patient, patient_id)
            if patient is None:
                print("No existe ese paciente / no such patient.", file=sys.stderr)
                return EXIT_USAGE
            count = revoke(session, ctx=ctx, patient=patient, actor_id=None, actor_role="cli", ip=None)
            session.commit()
    finally:
        ctx.engine.dispose()
    print(f"Códigos QR revocados / QR tokens revoked: {count}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
