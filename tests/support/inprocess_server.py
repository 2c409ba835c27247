"""The real server app in process, for the client tests, and a transport that injects faults.

:class:`InProcessServer` is ``carnet_server``'s own app on a temporary SQLite database seeded with the demo
data (a copy of a seeded template, tests/support/databases.py: milliseconds), argon2 at its cheapest, served
to the client through ``httpx.ASGITransport`` — the client's real ``ApiClient`` talks to the real routes,
services and tables. Its lifespan (the mixing delivery worker) is not run: no client test needs it, and the
server tests' ``TestClient(app)`` do without it too.

:class:`FaultTransport` wraps it for what only a hand-made transport can do: be offline (``ConnectError``),
answer a fault instead of the server (5xx, a timeout), lose the server's answer after it processed the request
(a cut connection), and count calls. Checks and staff actions in tests go to the server directly (its
database, or :meth:`InProcessServer.call` as a demo user), never through the faults.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import re
import shutil
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from argon2.exceptions import VerificationError
from fastapi import FastAPI
from joserfc import jwt
from joserfc.jwk import OKPKey
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

with warnings.catch_warnings():  # Starlette 1.x nudges towards httpx2; httpx 0.28 is pinned here
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from carnet_server.app import create_app
from carnet_server.auth.service import ACCESS_ALG, revoke_all_sessions
from carnet_server.auth.tables import AuthSession, RefreshToken, User
from carnet_server.context import Context, build_context
from carnet_server.db import utcnow
from carnet_server.demo import DEMO_PASSWORD
from carnet_server.patients.service import due_cycles
from carnet_server.patients.tables import GuardianPatient, Patient
from carnet_server.privacy.notices import DEFAULT_DIR, current_notice, current_version
from carnet_server.privacy.tables import AccountClosureRequest, PrivacyAcceptance
from carnet_server.settings import Settings
from carnet_server.signing import new_jti, sign_claims
from tests.support.databases import DemoTemplates

__all__ = ["BASE", "DEMO_PASSWORD", "FaultTransport", "InProcessServer", "error_response", "start_server"]

#: The base URL the app is configured with; the server's public URL too (the QR's issuer and link base).
BASE = "http://api.test"
#: argon2id at its cheapest (as in tests/server/conftest.py): the library's default cost outside tests.
FAST_ARGON2 = {"argon2_time_cost": 1, "argon2_memory_cost": 8, "argon2_parallelism": 1}


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> httpx.Response:
    """An answer in the API's error shape (for a fault: a 5xx, a proxy's 429…)."""
    return httpx.Response(status, json={"error": {"code": code, "message": message}}, headers=headers)


def multipart_file(request: httpx.Request) -> bytes | None:
    """The bytes of the multipart field ``file`` of a request (enough of multipart/form-data for one file)."""
    kind = request.headers.get("Content-Type", "")
    if not kind.startswith("multipart/form-data") or "boundary=" not in kind:
        return None
    boundary = kind.split("boundary=", 1)[1].strip().strip('"').encode()
    for part in request.content.split(b"--" + boundary):
        head, sep, rest = part.partition(b"\r\n\r\n")
        if sep and b'name="file"' in head:
            return rest[:-2] if rest.endswith(b"\r\n") else rest
    return None


# ---- faults -------------------------------------------------------------------------------------------------


@dataclass
class _Fault:
    method: str
    path: str  # an fnmatch pattern over the URL path
    outcome: httpx.Response | BaseException
    after_server: bool  # the server processes the request first, then the outcome replaces its answer
    times: int

    def matches(self, request: httpx.Request) -> bool:
        return request.method == self.method and fnmatch.fnmatchcase(request.url.path, self.path)


class FaultTransport(httpx.AsyncBaseTransport):
    """Passes requests to ``inner`` (the server) unless told otherwise; records every request in ``calls``."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        #: No network at all: every request raises ``httpx.ConnectError``.
        self.offline = False
        #: (method, path) of every request, in order, offline ones and faults included.
        self.calls: list[tuple[str, str]] = []
        #: A hand-made answer instead of the server's (None: ask the server); it may raise.
        self.override: Callable[[httpx.Request], httpx.Response | None] | None = None
        #: Every request, in order (bodies read: ``request.content`` works).
        self.requests: list[httpx.Request] = []
        #: (method, path, the answer) of every request answered (by the server, a fault or the override).
        self.answers: list[tuple[str, str, httpx.Response]] = []
        self._faults: list[_Fault] = []

    def fail(
        self,
        method: str,
        path: str,
        outcome: httpx.Response | BaseException,
        *,
        times: int = 1,
        after_server: bool = False,
    ) -> None:
        """The next ``times`` requests matching ``method`` and ``path`` (fnmatch) get ``outcome`` (an answer,
        or an exception raised) — before reaching the server, or with ``after_server`` once it processed them."""
        self._faults.append(_Fault(method, path, outcome, after_server, times))

    def lose_answer(
        self, method: str, path: str, *, times: int = 1, outcome: httpx.Response | BaseException | None = None
    ) -> None:
        """The server processes the next matching request(s), then the answer is lost (the connection is cut
        by default, or ``outcome`` arrives instead)."""
        self.fail(
            method,
            path,
            outcome or httpx.ReadError("connection cut after the request was sent"),
            times=times,
            after_server=True,
        )

    def uploads(self, path: str) -> list[bytes]:
        """The bytes of the multipart field ``file`` of every POST to ``path`` (fnmatch), in order."""
        return [
            data
            for r in self.requests
            if r.method == "POST" and fnmatch.fnmatchcase(r.url.path, path) and (data := multipart_file(r)) is not None
        ]

    def clear_faults(self) -> None:
        self._faults.clear()

    def count(self, path: str, method: str | None = None) -> int:
        """Requests so far to ``path`` (fnmatch), with ``method`` if given."""
        return sum(1 for m, p in self.calls if fnmatch.fnmatchcase(p, path) and method in (None, m))

    def _take(self, request: httpx.Request) -> _Fault | None:
        for fault in self._faults:
            if fault.matches(request):
                fault.times -= 1
                if fault.times <= 0:
                    self._faults.remove(fault)
                return fault
        return None

    @staticmethod
    def _deliver(outcome: httpx.Response | BaseException, request: httpx.Request) -> httpx.Response:
        if isinstance(outcome, BaseException):
            if isinstance(outcome, httpx.RequestError):
                outcome.request = request
            raise outcome
        return httpx.Response(outcome.status_code, headers=outcome.headers, content=outcome.content, request=request)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.calls.append((request.method, request.url.path))
        await request.aread()
        self.requests.append(request)
        response = await self._answer(request)
        self.answers.append((request.method, request.url.path, response))
        return response

    async def _answer(self, request: httpx.Request) -> httpx.Response:
        if self.offline:
            raise httpx.ConnectError("network is unreachable", request=request)
        if self.override is not None:
            answer = self.override(request)
            if answer is not None:
                return answer
        fault = self._take(request)
        if fault is not None and not fault.after_server:
            return self._deliver(fault.outcome, request)
        response = await self.inner.handle_async_request(request)
        if fault is not None:
            await response.aread()
            return self._deliver(fault.outcome, request)
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


# ---- the server ---------------------------------------------------------------------------------------------


class InProcessServer:
    """The real app on a copy of the seeded demo database; :meth:`reset` gives the next test a fresh copy.

    One app, context and engine serve every test of a session (SQLAlchemy keeps its compiled statements per
    engine: a new one per test costs more than the test), each test on a database, data dir and notices
    directory of its own — copied again from the template at the same place — and with a new transport.
    """

    def __init__(self, templates: DemoTemplates, root: Path, **settings: Any) -> None:
        self.templates = templates
        self._wanted = Settings(data_dir=root / "server", public_url=BASE, **FAST_ARGON2, **settings)
        #: The notices directory of this server (a copy of the package's): add a file to publish a version.
        self.notices_dir = root / "notices"
        self._fresh_copy()
        self.ctx: Context = build_context(self._wanted.model_copy(update={"privacy_notices_dir": self.notices_dir}))
        self.app: FastAPI = create_app(context=self.ctx)
        self.http = TestClient(self.app, base_url=BASE)
        self._asgi = httpx.ASGITransport(app=self.app, client=("127.0.0.1", 50000))
        self.transport = FaultTransport(self._asgi)
        self._headers: dict[str, dict[str, str]] = {}
        #: Sessions the helpers below opened (not the app's): :meth:`live_sessions` leaves them out.
        self._own_sessions: set[str] = set()

    def _fresh_copy(self) -> None:
        shutil.rmtree(self._wanted.data_dir, ignore_errors=True)
        with self.templates.copy("sqlite", self._wanted):
            pass  # (SQLite: the template's data dir, database included, copied to ours)
        shutil.rmtree(self.notices_dir, ignore_errors=True)
        shutil.copytree(DEFAULT_DIR, self.notices_dir)

    def reset(self) -> None:
        """A fresh copy of the seeded database (nothing of the last test left) and a new transport."""
        self.ctx.engine.dispose()  # no connection to the old file survives
        self._fresh_copy()
        self.transport = FaultTransport(self._asgi)
        self._headers.clear()
        self._own_sessions.clear()

    # ---- the database ----------------------------------------------------------------------------------

    @contextmanager
    def db(self) -> Iterator[Session]:
        """A session on the server's database (commit yourself when you change something)."""
        with self.ctx.sessions() as session:
            yield session

    def user_id(self, username: str) -> str:
        with self.db() as session:
            return session.scalars(select(User.id).where(User.username == username)).one()

    def patient_id(self, display_name: str) -> str:
        with self.db() as session:
            return session.scalars(select(Patient.id).where(Patient.display_name == display_name)).one()

    def children(self, username: str) -> dict[str, str]:
        """The display name → id of each child linked to a guardian."""
        with self.db() as session:
            rows = session.execute(
                select(Patient.display_name, Patient.id)
                .join(GuardianPatient, GuardianPatient.patient_id == Patient.id)
                .join(User, User.id == GuardianPatient.user_id)
                .where(User.username == username)
            ).all()
        return {str(name): str(pid) for name, pid in rows}

    def count(self, entity: Any, *where: Any) -> int:
        """Rows of a table (an ORM class) matching ``where``."""
        with self.db() as session:
            return int(session.scalar(select(func.count()).select_from(entity).where(*where)) or 0)

    def live_sessions(self, username: str) -> int:
        """Sessions of a user whose tokens still work (not logged out, not revoked), the test helpers' aside."""
        return self.count(
            AuthSession,
            AuthSession.user_id == self.user_id(username),
            AuthSession.revoked_at.is_(None),
            AuthSession.id.not_in(self._own_sessions),
        )

    @contextmanager
    def configured(self, **changes: Any) -> Iterator[None]:
        """The server's settings changed for a while (those it reads on each request: limits, counts)."""
        settings = self.ctx.settings
        before = {name: getattr(settings, name) for name in changes}
        for name, value in changes.items():
            setattr(settings, name, value)
        try:
            yield
        finally:
            for name, value in before.items():
                setattr(settings, name, value)

    def password_is(self, username: str, password: str) -> bool:
        with self.db() as session:
            stored = session.scalars(select(User.password_hash).where(User.username == username)).one()
        try:
            return bool(self.ctx.hasher.verify(stored, password))
        except VerificationError:
            return False

    def revoke_all(self, username: str) -> None:
        """End every session of a user: their access and refresh tokens stop working."""
        with self.db() as session:
            revoke_all_sessions(session, user_id=self.user_id(username))
            session.commit()

    def refresh_token_state(self, token: str) -> RefreshToken | None:
        with self.db() as session:
            digest = hashlib.sha256(token.encode("utf-8")).hexdigest()
            return session.scalars(select(RefreshToken).where(RefreshToken.token_hash == digest)).one_or_none()

    def expired(self, access_token: str) -> str:
        """The same access token (same user and session), signed by the server, expired a minute ago."""
        claims = dict(jwt.decode(access_token, self.ctx.access_key, algorithms=[ACCESS_ALG]).claims)
        claims["exp"] = int(claims["iat"]) - 60
        claims["iat"] = claims["exp"] - int(timedelta(minutes=15).total_seconds())
        return jwt.encode({"alg": ACCESS_ALG}, claims, self.ctx.access_key, algorithms=[ACCESS_ALG])

    # ---- the privacy notice ------------------------------------------------------------------------------

    def notice_version(self) -> str:
        return current_version(self.ctx.settings)

    def publish_notice(self, version: str) -> None:
        """A new version of the privacy notice (a copy of the one in force, published a day after it): every
        guardian must accept it before seeing data again."""
        notice = current_notice(self.ctx.settings)
        text = (self.notices_dir / f"{notice.version}.toml").read_text("utf-8")
        text = re.sub(r'(?m)^version = ".*"$', f'version = "{version}"', text)
        later = notice.published_on + timedelta(days=1)
        text = re.sub(r"(?m)^published_on = .*$", f"published_on = {later.isoformat()}", text)
        before = self.notices_dir.stat().st_mtime_ns
        (self.notices_dir / f"{version}.toml").write_text(text, "utf-8")
        after = self.notices_dir.stat()
        if after.st_mtime_ns <= before:  # a coarse clock: the server looks for a changed directory time
            os.utime(self.notices_dir, ns=(after.st_atime_ns, before + 1_000_000))
        assert self.notice_version() == version

    def forget_acceptance(self, username: str) -> None:
        """The guardian never accepted any version of the notice."""
        with self.db() as session:
            user = session.scalars(select(User).where(User.username == username)).one()
            session.execute(delete(PrivacyAcceptance).where(PrivacyAcceptance.user_id == user.id))
            user.privacy_version = user.privacy_accepted_at = None
            session.commit()

    def closure_statuses(self, username: str) -> list[str]:
        """The statuses of a user's account closure requests, oldest first."""
        with self.db() as session:
            return list(
                session.scalars(
                    select(AccountClosureRequest.status)
                    .where(AccountClosureRequest.user_id == self.user_id(username))
                    .order_by(AccountClosureRequest.requested_at)
                )
            )

    # ---- QR tokens -------------------------------------------------------------------------------------------

    def qr_token(
        self,
        patient_id: str,
        *,
        cyc: list[str] | None = None,
        issued_ago: int = 0,
        expires_in: int = 7 * 86400,
        jti: str | None = None,
        key: OKPKey | None = None,
        kid: str | None = None,
    ) -> str:
        """A carnet QR token for ``patient_id`` with the server's claims (its issuer; the cycles due unless
        ``cyc``), signed with the server's active key — or with ``key``/``kid`` (a key the server never had)."""
        now = int(time.time()) - issued_ago
        with self.db() as session:
            due = [c.id for c in due_cycles(session, patient_id=patient_id, today=self.ctx.today(utcnow()))]
        claims = {
            "iss": self.ctx.settings.base_url,
            "sub": patient_id,
            "cyc": due if cyc is None else cyc,
            "iat": now,
            "exp": now + expires_in,
            "jti": jti or new_jti(),
        }
        if key is None:
            return self.ctx.keys.sign(claims)[0]
        return sign_claims(key, kid or self.ctx.keys.active_kid, claims)

    def guardian_of(self, patient_id: str) -> str:
        """The username of a child's (first) guardian."""
        with self.db() as session:
            return session.scalars(
                select(User.username)
                .join(GuardianPatient, GuardianPatient.user_id == User.id)
                .where(GuardianPatient.patient_id == patient_id)
                .order_by(User.username)
            ).first()

    def carnet_qr(self, patient_id: str) -> dict[str, Any]:
        """The QR of a child's carnet as its guardian's app gets it (``token``, ``url``, ``expires_at``)."""
        carnet = self.ok(self.guardian_of(patient_id), "GET", f"/api/v1/patients/{patient_id}/carnet")
        return dict(carnet["qr"])

    # ---- requests as a demo user (straight to the app, never through the faults) --------------------------

    def headers(self, username: str) -> dict[str, str]:
        if username not in self._headers:
            answer = self.http.post("/api/v1/auth/login", json={"username": username, "password": DEMO_PASSWORD})
            assert answer.status_code == 200, answer.text
            access = answer.json()["access_token"]
            self._own_sessions.add(str(jwt.decode(access, self.ctx.access_key, algorithms=[ACCESS_ALG]).claims["sid"]))
            self._headers[username] = {"Authorization": f"Bearer {access}"}
        return self._headers[username]

    def call(self, username: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """A request as ``username`` (a demo user), straight to the app (logged in again if the test ended the
        helper's session)."""
        answer = self.http.request(method, path, headers=self.headers(username), **kwargs)
        if answer.status_code == 401:
            del self._headers[username]
            answer = self.http.request(method, path, headers=self.headers(username), **kwargs)
        return answer

    def ok(self, username: str, method: str, path: str, **kwargs: Any) -> Any:
        """:meth:`call` that must succeed; its JSON (None for 204)."""
        answer = self.call(username, method, path, **kwargs)
        assert answer.is_success, answer.text
        return answer.json() if answer.content else None

    def close(self) -> None:
        self.ctx.engine.dispose()


@contextmanager
def start_server(templates: DemoTemplates, tmp_path: Path, **settings: Any) -> Iterator[InProcessServer]:
    """A server on a copy of the seeded demo database (its data dir and notices under ``tmp_path``)."""
    server = InProcessServer(templates, tmp_path, **settings)
    try:
        yield server
    finally:
        server.close()
