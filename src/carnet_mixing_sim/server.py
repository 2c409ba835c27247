"""The mixing provider simulator: ``POST /orders`` in, signed progress callbacks out.

    carnet-mixing-sim --port P (--secret-file F | --secret S | env CARNET_MIXING_SECRET)
                      --callback-url URL --record FILE [--step-seconds X] [--host H]

``POST /orders`` (JSON order, ``Idempotency-Key``, ``X-Carnet-Signature``):
    bad or missing signature → 401; no key → 400; not JSON → 400; ``order_id`` ≠ the key → 422;
    during an outage → 503 (``Retry-After``);
    a key seen before with the same body → 200 with the same receipt, with another body → 422;
    else the order is appended once to the durable record (SQLite, synchronous=FULL) → 201
    ``{provider_ref, order_id}``.

Then, ``step-seconds`` apart, it reports ``en_preparacion``, ``lista`` and ``entregada`` to the
callback URL, signed the same way. Each step has its own event id, kept in the record: a step
whose callback got no answer (our server down) is retried with the same event id (a fresh
signature), and a ``401 replayed_callback`` answer means it had arrived after all.

Control endpoints (tests, demo): ``POST /_control/outage {"seconds": N}`` answers 503 to
orders for N seconds; ``GET /_control/orders`` lists the record: per order id, how many signed
requests were received and how many times it was recorded (must be 1), the callbacks
acknowledged and the callback attempts that failed, and what the mixture is made of (each drug's
name, amount and unit, and the child's BSA: an order without structured doses is refused with 422,
as a provider could not mix it). ``GET /healthz``. Logs carry order ids and
HTTP codes only, never the payload.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import logging
import os
import secrets
import signal
import sqlite3
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

__all__ = ["Simulator", "main", "sign", "verify"]

log = logging.getLogger("carnet_mixing_sim")

SIGNATURE_HEADER = "X-Carnet-Signature"
STEPS = ("en_preparacion", "lista", "entregada")
MAX_BODY = 256 * 1024
MAX_SKEW = 300
#: Callbacks go straight to the server (no proxy from the environment).
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))

_SCHEMA = """
CREATE TABLE IF NOT EXISTS received (order_id TEXT PRIMARY KEY, count INTEGER NOT NULL);
-- Append-only on purpose (no unique key): a dedup fault would show as two rows.
CREATE TABLE IF NOT EXISTS record (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, order_id TEXT NOT NULL, body_sha256 TEXT NOT NULL,
    provider_ref TEXT NOT NULL, recorded_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS progress (
    order_id TEXT PRIMARY KEY, step INTEGER NOT NULL, event_id TEXT NOT NULL, occurred_at TEXT NOT NULL,
    due_at REAL NOT NULL, sent TEXT NOT NULL DEFAULT '', failures INTEGER NOT NULL DEFAULT 0);
-- What the mixture is made of, as the order said: each drug's dose (name, amount, unit) and the child's BSA.
CREATE TABLE IF NOT EXISTS doses (order_id TEXT PRIMARY KEY, drugs TEXT NOT NULL, bsa_m2 REAL);
"""


def _doses(body: bytes) -> tuple[list[dict[str, Any]], float | None] | None:
    """The order's structured doses and BSA; None when the order does not carry them (it cannot be mixed)."""
    try:
        order = json.loads(body)
    except ValueError:
        return None
    drugs = order.get("drugs") if isinstance(order, dict) else None
    if not isinstance(drugs, list):
        return None
    found = []
    for drug in drugs:
        dose = drug.get("dose") if isinstance(drug, dict) else None
        if not isinstance(dose, dict) or not isinstance(dose.get("unit"), str):
            return None
        amount = dose.get("amount")
        if amount is not None and not isinstance(amount, int | float):
            return None
        found.append({"name": drug.get("name"), "amount": amount, "unit": dose["unit"], "basis": dose.get("basis")})
    bsa = order.get("bsa_m2")
    return found, bsa if isinstance(bsa, int | float) else None


def _mac(secret: bytes, timestamp: int, body: bytes) -> str:
    return hmac.new(secret, str(timestamp).encode("ascii") + b"." + body, hashlib.sha256).hexdigest()


def sign(secret: bytes, body: bytes, timestamp: int | None = None) -> str:
    """``t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>``."""
    t = int(time.time()) if timestamp is None else timestamp
    return f"t={t},v1={_mac(secret, t, body)}"


def verify(header: str | None, body: bytes, secret: bytes, *, now: float | None = None) -> bool:
    if not header or len(header) > 512:
        return False
    fields: dict[str, str] = {}
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        fields.setdefault(key, value)
    try:
        timestamp = int(fields.get("t", ""))
    except ValueError:
        return False
    good = hmac.compare_digest(
        fields.get("v1", "").encode("ascii", "replace"), _mac(secret, timestamp, body).encode("ascii")
    )
    return good and abs((time.time() if now is None else now) - timestamp) <= MAX_SKEW


class Simulator:
    """The provider's state: the durable record, the outage window, the callback sender."""

    def __init__(
        self, *, secret: bytes, record: Path, callback_url: str, step_seconds: float, retry_seconds: float = 1.0
    ) -> None:
        self.secret = secret
        self.callback_url = callback_url
        self.step_seconds = step_seconds
        self.retry_seconds = retry_seconds
        self.outage_until = 0.0
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopped = threading.Event()
        record.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(record, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # a recorded order survives a crash
        self._db.executescript(_SCHEMA)

    # ---- orders --------------------------------------------------------------------

    def take_order(self, key: str, body: bytes) -> tuple[int, dict[str, Any]]:
        """(status, answer) for a signed order with its idempotency key."""
        digest = hashlib.sha256(body).hexdigest()
        doses = _doses(body)
        with self._lock:
            self._db.execute(
                "INSERT INTO received (order_id, count) VALUES (?, 1) "
                "ON CONFLICT(order_id) DO UPDATE SET count = count + 1",
                (key,),
            )
            if time.time() < self.outage_until:
                return 503, {"error": "outage"}
            row = self._db.execute(
                "SELECT body_sha256, provider_ref FROM record WHERE order_id = ? ORDER BY seq LIMIT 1", (key,)
            ).fetchone()
            if row is not None:
                if row[0] != digest:
                    return 422, {"error": "idempotency_key_reused"}
                return 200, {"provider_ref": row[1], "order_id": key}
            if doses is None:
                return 422, {"error": "order_without_structured_doses"}
            ref = f"SAFE-{secrets.token_hex(4).upper()}"
            now = time.time()
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute(
                "INSERT INTO record (order_id, body_sha256, provider_ref, recorded_at) VALUES (?, ?, ?, ?)",
                (key, digest, ref, now),
            )
            self._db.execute(
                "INSERT INTO progress (order_id, step, event_id, occurred_at, due_at) VALUES (?, 0, ?, '', ?)",
                (key, secrets.token_hex(16), now + self.step_seconds),
            )
            self._db.execute(
                "INSERT INTO doses (order_id, drugs, bsa_m2) VALUES (?, ?, ?)", (key, json.dumps(doses[0]), doses[1])
            )
            self._db.execute("COMMIT")
        log.info("order %s recorded as %s", key, ref)
        self._wake.set()
        return 201, {"provider_ref": ref, "order_id": key}

    def orders(self) -> list[dict[str, Any]]:
        with self._lock:
            received = dict(self._db.execute("SELECT order_id, count FROM received").fetchall())
            recorded: dict[str, int] = {}
            refs: dict[str, str] = {}
            for order_id, ref in self._db.execute("SELECT order_id, provider_ref FROM record ORDER BY seq"):
                recorded[order_id] = recorded.get(order_id, 0) + 1
                refs.setdefault(order_id, ref)
            progress = {row[0]: row[1:] for row in self._db.execute("SELECT order_id, sent, failures FROM progress")}
            doses = {row[0]: (json.loads(row[1]), row[2]) for row in self._db.execute("SELECT * FROM doses")}
        return [
            {
                "order_id": key,
                "received": received.get(key, 0),
                "recorded": recorded.get(key, 0),
                "provider_ref": refs.get(key),
                "callbacks": [s for s in progress.get(key, ("", 0))[0].split(",") if s],
                "callback_failures": progress.get(key, ("", 0))[1],
                "doses": doses.get(key, ([], None))[0],
                "bsa_m2": doses.get(key, ([], None))[1],
            }
            for key in sorted(set(received) | set(recorded))
        ]

    # ---- callbacks -------------------------------------------------------------------

    def _due(self) -> list[tuple[str, int, str, str]]:
        with self._lock:
            return self._db.execute(
                "SELECT order_id, step, event_id, occurred_at FROM progress WHERE step < ? AND due_at <= ? "
                "ORDER BY due_at",
                (len(STEPS), time.time()),
            ).fetchall()

    def _next_wait(self) -> float:
        with self._lock:
            row = self._db.execute("SELECT MIN(due_at) FROM progress WHERE step < ?", (len(STEPS),)).fetchone()
        return 5.0 if row[0] is None else max(0.0, min(5.0, row[0] - time.time()))

    def _post_callback(self, order_id: str, status: str, event_id: str, occurred_at: str) -> str:
        """'done', 'retry' or 'give_up'."""
        body = json.dumps(
            {"event_id": event_id, "order_id": order_id, "status": status, "occurred_at": occurred_at}
        ).encode("utf-8")
        request = urllib.request.Request(  # noqa: S310 — our own --callback-url
            self.callback_url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                SIGNATURE_HEADER: sign(self.secret, body),
            },
        )
        try:
            with _OPENER.open(request, timeout=10) as response:
                response.read()
                return "done"
        except urllib.error.HTTPError as exc:
            code, text = exc.code, exc.read(2048).decode("utf-8", "replace")
            if code == 401 and "replayed_callback" in text:
                return "done"  # it arrived before; the answer was lost
            if code in (404, 422, 400):
                log.warning("callback %s for order %s refused (HTTP %d): giving up", status, order_id, code)
                return "give_up"
            log.warning("callback %s for order %s: HTTP %d, will retry", status, order_id, code)
            return "retry"
        except (OSError, urllib.error.URLError) as exc:
            log.warning("callback %s for order %s: no answer (%s), will retry", status, order_id, type(exc).__name__)
            return "retry"

    def run_callbacks(self) -> None:
        while not self._stopped.is_set():
            for order_id, step, event_id, stored_at in self._due():
                if self._stopped.is_set():
                    return
                status = STEPS[step]
                occurred_at = stored_at
                if not occurred_at:
                    occurred_at = datetime.now(UTC).isoformat()
                    with self._lock:
                        self._db.execute(
                            "UPDATE progress SET occurred_at = ? WHERE order_id = ?", (occurred_at, order_id)
                        )
                outcome = self._post_callback(order_id, status, event_id, occurred_at)
                with self._lock:
                    if outcome == "retry":
                        self._db.execute(
                            "UPDATE progress SET due_at = ?, failures = failures + 1 WHERE order_id = ?",
                            (time.time() + self.retry_seconds, order_id),
                        )
                    elif outcome == "give_up":
                        self._db.execute("UPDATE progress SET step = ? WHERE order_id = ?", (len(STEPS), order_id))
                    else:
                        log.info("order %s reported %s", order_id, status)
                        self._db.execute(
                            "UPDATE progress SET step = step + 1, event_id = ?, occurred_at = '', due_at = ?, "
                            "sent = CASE WHEN sent = '' THEN ? ELSE sent || ',' || ? END WHERE order_id = ?",
                            (secrets.token_hex(16), time.time() + self.step_seconds, status, status, order_id),
                        )
            self._wake.wait(self._next_wait())
            self._wake.clear()

    def stop(self) -> None:
        self._stopped.set()
        self._wake.set()


def _handler(sim: Simulator) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "carnet-mixing-sim"
        sys_version = ""

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 — the stdlib's name
            pass  # the request line holds no personal data, but keep the output to our own lines

        def _answer(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
            data = json.dumps(body).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def _body(self) -> bytes | None:
            try:
                length = int(self.headers.get("Content-Length", "0"))
            except ValueError:
                return None
            if length < 0 or length > MAX_BODY:
                return None
            return self.rfile.read(length)

        def do_GET(self) -> None:  # the stdlib's name
            if self.path == "/healthz":
                self._answer(200, {"status": "ok"})
            elif self.path == "/_control/orders":
                self._answer(200, {"orders": sim.orders(), "outage": time.time() < sim.outage_until})
            else:
                self._answer(404, {"error": "not_found"})

        def do_POST(self) -> None:
            body = self._body()
            if body is None:
                self._answer(413, {"error": "too_large"})
                return
            if self.path == "/_control/outage":
                try:
                    seconds = float(json.loads(body or b"{}").get("seconds", 0))
                except (ValueError, AttributeError):
                    self._answer(400, {"error": "seconds"})
                    return
                sim.outage_until = time.time() + max(0.0, seconds)
                log.info("outage for %.1f s", max(0.0, seconds))
                self._answer(200, {"outage_seconds": max(0.0, seconds)})
            elif self.path == "/orders":
                if not verify(self.headers.get(SIGNATURE_HEADER), body, sim.secret):
                    log.warning("order refused: bad signature")
                    self._answer(401, {"error": "invalid_signature"})
                    return
                key = (self.headers.get("Idempotency-Key") or "").strip()
                if not key or len(key) > 64:
                    self._answer(400, {"error": "idempotency_key_required"})
                    return
                try:
                    order = json.loads(body)
                except ValueError:
                    self._answer(400, {"error": "invalid_json"})
                    return
                if not isinstance(order, dict) or order.get("order_id") != key:
                    self._answer(422, {"error": "order_id_mismatch"})
                    return
                status, answer = sim.take_order(key, body)
                if status == 503:
                    log.info("order %s: 503 (outage)", key)
                    self._answer(503, answer, {"Retry-After": "1"})
                    return
                self._answer(status, answer)
            else:
                self._answer(404, {"error": "not_found"})

    return Handler


def _read_secret(args: argparse.Namespace) -> bytes:
    if args.secret:
        secret: str = args.secret
        return secret.strip().encode("utf-8")
    if args.secret_file:
        return Path(args.secret_file).read_bytes().strip()
    env = os.environ.get("CARNET_MIXING_SECRET", "").strip()
    if env:
        return env.encode("utf-8")
    raise SystemExit("carnet-mixing-sim: give --secret-file, --secret or CARNET_MIXING_SECRET")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="carnet-mixing-sim", description="Simulador del proveedor de mezclas / mixing provider simulator."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--secret-file")
    parser.add_argument("--secret", help="prefer --secret-file or CARNET_MIXING_SECRET (not shown in ps)")
    parser.add_argument(
        "--callback-url",
        required=True,
        help="the server's callback endpoint, e.g. http://127.0.0.1:8000/api/v1/mixing/callbacks",
    )
    parser.add_argument("--record", required=True, help="SQLite file of the provider's own record")
    parser.add_argument("--step-seconds", type=float, default=5.0)
    parser.add_argument("--retry-seconds", type=float, default=1.0, help="wait before resending a callback")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="mixing-sim: %(message)s", stream=sys.stderr)

    sim = Simulator(
        secret=_read_secret(args),
        record=Path(args.record),
        callback_url=args.callback_url,
        step_seconds=args.step_seconds,
        retry_seconds=args.retry_seconds,
    )
    server = ThreadingHTTPServer((args.host, args.port), _handler(sim))
    server.daemon_threads = True
    sender = threading.Thread(target=sim.run_callbacks, name="callbacks", daemon=True)
    sender.start()

    def _stop(_signum: int, _frame: object) -> None:
        sim.stop()
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    log.info("listening on http://%s:%d", args.host, args.port)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
        sim.stop()
        sender.join(timeout=5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
