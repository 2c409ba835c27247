"""The app's use cases: start, log in, sync, pick a child, switch language, log out.

:class:`AppSession` owns the :class:`~carnet.state.AppState` and is the only
place that joins the API client, the secret store and the offline store.
Screens show what the repository holds; :meth:`AppSession.refresh` fetches
from the network, writes the store and only then reloads the state, so a
failed sync leaves the cached carnet on screen with an offline banner.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx
from pydantic import ValidationError

from carnet import contract, qrtoken
from carnet.api import (
    ApiClient,
    ApiError,
    AuthError,
    HttpError,
    NetworkError,
    ProtocolError,
    RateLimited,
    ServerError,
    Tokens,
    minutes_to_wait,
)
from carnet.config import AppConfig
from carnet.i18n import Translator
from carnet.qr import render_qr
from carnet.secret_store import SecretStore
from carnet.state import AppState, CarnetRepository, Phase, Screen
from carnet.store import OfflineStore, destroy_store, open_store

__all__ = ["AppSession"]

log = logging.getLogger(__name__)

SESSION_SECRET = "session"
LOCALE_SECRET = "locale"


class AppSession:
    def __init__(self, config: AppConfig, secrets: SecretStore, data_dir: Path, *,
                 transport: httpx.AsyncBaseTransport | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.config = config
        self.secrets = secrets
        self.data_dir = data_dir
        self.clock = clock
        self.tr = Translator(config.locale)
        self.state = AppState(locale=self.tr.locale, secure_storage=secrets.secure)
        self.api = ApiClient(config.api_base_url, timeout=config.api_timeout_seconds,
                             locale=self.tr.locale, on_tokens=self._save_tokens, transport=transport)
        self.store: OfflineStore | None = None
        self.repo: CarnetRepository | None = None
        self._sync_lock = asyncio.Lock()

    # ---- lifecycle ---------------------------------------------------------

    async def start(self) -> bool:
        """Open the store, restore a saved session; True when a sync should follow."""
        saved_locale = await self.secrets.get(LOCALE_SECRET)
        if saved_locale:
            self._apply_locale(saved_locale)
        opened = await open_store(self.secrets, self.data_dir)
        self.store = opened.store
        if opened.wiped:
            self.state.notices.append(self.tr.t("cache_wiped"))
        saved = await self._load_saved_session()
        if saved is None:
            self.state.phase = Phase.LOGIN
            self.state.changed()
            return False
        user, tokens = saved
        self.api.tokens = tokens
        self._enter(user)
        self.state.changed()
        return True

    async def close(self) -> None:
        await self.api.aclose()
        if self.store is not None:
            self.store.close()

    async def run_periodic_sync(self) -> None:
        """Sync every ``sync_interval_seconds`` while logged in (cancel to stop)."""
        while True:
            await asyncio.sleep(self.config.sync_interval_seconds)
            if self.state.phase is Phase.READY:
                await self.refresh()

    # ---- use cases ---------------------------------------------------------

    async def login(self, username: str, password: str) -> None:
        state = self.state
        if state.busy:
            return
        username = username.strip()
        if not username or not password:
            state.login_error = self.tr.t("err_missing_fields")
            state.changed()
            return
        state.busy, state.login_error = True, None
        state.changed()
        try:
            try:
                tokens = await self.api.login(username, password)
            except ValidationError:
                state.login_error = self.tr.t("err_credentials")
                return
            except ApiError as exc:
                state.login_error = self.message_for(exc, login=True)
                return
            if tokens.user.role != contract.Role.GUARDIAN:
                await self._server_logout()
                state.login_error = self.tr.t("err_staff")
                return
            self._enter(tokens.user)
            await self.refresh()
        finally:
            state.busy = False
            state.changed()

    async def refresh(self) -> None:
        """Fetch me, every child's carnet and the JWKS; store them; reload the state."""
        if self.repo is None or self._sync_lock.locked():
            return
        repo, state = self.repo, self.state
        async with self._sync_lock:
            state.syncing = True
            state.changed()
            ended = False
            try:
                me = await self.api.me()
                carnets = [await self.api.carnet(p.id) for p in me.patients]
                try:
                    jwks: dict[str, object] | None = await self.api.jwks()
                except (HttpError, ProtocolError):
                    jwks = None
                now = self.clock()
                repo.save_me(me, fetched_at=now)
                for carnet in carnets:
                    repo.save_carnet(carnet, fetched_at=now)
                if jwks is not None:
                    repo.save_jwks(jwks, fetched_at=now)
                state.online, state.sync_error = True, None
            except NetworkError:
                state.online = False
            except AuthError:
                ended = True
            except ApiError as exc:
                state.online, state.sync_error = True, self.message_for(exc)
            finally:
                state.syncing = False
        if ended:
            await self._end_session(self.tr.t("err_session_ended"))
            return
        self._load_from_repo()
        state.changed()

    def select_child(self, patient_id: str) -> None:
        if not any(c.id == patient_id for c in self.state.children):
            return
        self.state.selected_child_id = patient_id
        self.state.screen = Screen.CARNET
        self._load_carnet()
        self.state.changed()

    def show(self, screen: Screen) -> None:
        self.state.screen = screen
        self.state.changed()

    def back(self) -> None:
        """From settings to the carnet (or the picker); from a carnet to the picker."""
        state = self.state
        if state.screen is Screen.SETTINGS and state.selected_child_id:
            state.screen = Screen.CARNET
        elif len(state.children) > 1 or state.screen is Screen.SETTINGS:
            state.screen = Screen.CHILDREN
        state.changed()

    async def set_locale(self, locale: str) -> None:
        self._apply_locale(locale)
        self.state.login_error = self.state.sync_error = None
        await self.secrets.set(LOCALE_SECRET, self.tr.locale)
        self.state.changed()

    async def logout(self) -> None:
        await self._server_logout()
        await self._end_session(None)

    def dismiss_notices(self) -> None:
        self.state.notices.clear()
        self.state.changed()

    # ---- messages ----------------------------------------------------------

    def message_for(self, exc: ApiError, *, login: bool = False) -> str:
        """One sentence for a person, in the app's language."""
        t = self.tr.t
        if isinstance(exc, RateLimited):
            minutes = minutes_to_wait(exc.retry_after)
            return t("err_rate_limited_one") if minutes == 1 else t("err_rate_limited", minutes=minutes)
        if isinstance(exc, AuthError):
            return t("err_credentials") if login else t("err_session_ended")
        if isinstance(exc, NetworkError):
            return t("err_network")
        if isinstance(exc, ServerError):
            return t("err_server")
        if isinstance(exc, HttpError) and exc.message:
            return exc.message  # already localized by the server (Accept-Language)
        return t("err_unexpected")

    # ---- internals ---------------------------------------------------------

    def _apply_locale(self, locale: str) -> None:
        try:
            self.tr.set_locale(locale)
        except ValueError:
            return
        self.api.locale = self.state.locale = self.tr.locale

    def _enter(self, user: contract.UserOut) -> None:
        assert self.store is not None
        self.state.user = user
        self.repo = CarnetRepository(self.store, user.id)
        self.state.phase = Phase.READY
        self.state.screen = Screen.CHILDREN
        self._load_from_repo()

    def _load_from_repo(self) -> None:
        state, repo = self.state, self.repo
        if repo is None:
            return
        me = repo.me()
        state.children = list(me.patients) if me else []
        ids = {c.id for c in state.children}
        if state.selected_child_id not in ids:
            state.selected_child_id = None
            if state.screen is Screen.CARNET:
                state.screen = Screen.CHILDREN
        if len(state.children) == 1 and state.selected_child_id is None:
            state.selected_child_id = state.children[0].id
            if state.screen is Screen.CHILDREN:
                state.screen = Screen.CARNET
        self._load_carnet()

    def _load_carnet(self) -> None:
        state, repo = self.state, self.repo
        cached = repo.carnet(state.selected_child_id) if repo and state.selected_child_id else None
        if cached is None:
            state.carnet = state.carnet_fetched_at = state.qr = state.qr_check = None
            return
        carnet, fetched_at = cached
        if state.qr is None or state.carnet is None or state.carnet.qr.url != carnet.qr.url:
            state.qr = render_qr(carnet.qr.url)
        state.carnet, state.carnet_fetched_at = carnet, fetched_at
        jwks = repo.jwks() if repo else None
        state.qr_check = qrtoken.verify(
            carnet.qr.token, jwks or {"keys": []}, now=self.clock().timestamp(),
            issuer=self.config.qr_issuer, accepted_kids=self.config.accepted_kids,
        )

    async def _save_tokens(self, tokens: contract.TokenResponse) -> None:
        if tokens.user.role != contract.Role.GUARDIAN:
            return  # staff sessions are not kept: this app has no staff screens yet
        payload = {"user": tokens.user.model_dump(mode="json"),
                   "access_token": tokens.access_token, "refresh_token": tokens.refresh_token}
        await self.secrets.set(SESSION_SECRET, json.dumps(payload))

    async def _load_saved_session(self) -> tuple[contract.UserOut, Tokens] | None:
        raw = await self.secrets.get(SESSION_SECRET)
        if not raw:
            return None
        try:
            data = json.loads(raw)
            user = contract.UserOut.model_validate(data["user"])
            return user, Tokens(str(data["access_token"]), str(data["refresh_token"]))
        except (ValueError, KeyError, TypeError):
            await self.secrets.delete(SESSION_SECRET)
            return None

    async def _server_logout(self) -> None:
        if self.api.tokens is None:
            return
        try:
            await self.api.logout()
        except ApiError as exc:  # offline: the local session ends anyway
            log.info("logout not confirmed by the server: %s", type(exc).__name__)
        self.api.tokens = None

    async def _end_session(self, message: str | None) -> None:
        """Forget tokens and every cached record; back to the login screen."""
        self.api.tokens = None
        await self.secrets.delete(SESSION_SECRET)
        if self.store is not None:
            await destroy_store(self.store, self.secrets)
            self.store.close()
            self.store = (await open_store(self.secrets, self.data_dir)).store
        self.repo = None
        self.state.reset_to_login(message)
        self.state.changed()
