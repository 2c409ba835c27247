"""The Flet entry point: wire the services to a page and redraw on every state change."""

from __future__ import annotations

import logging
from concurrent.futures import Future
from typing import Any

import flet as ft

from carnet.config import load_config
from carnet.secret_store import SecretStore, select_secret_store
from carnet.session import AppSession
from carnet.state import Phase, Screen
from carnet.store import default_data_dir
from carnet.views import carnet as carnet_view
from carnet.views import children as children_view
from carnet.views import settings as settings_view
from carnet.views.common import GREEN, starting_view
from carnet.views.login import LoginView

__all__ = ["CarnetUI", "main"]

log = logging.getLogger(__name__)


class CarnetUI:
    """Draws the session's state on the page; turns clicks into session calls."""

    def __init__(self, page: ft.Page, session: AppSession) -> None:
        self.page = page
        self.session = session
        self._login: LoginView | None = None
        self._tasks: list[Future[Any]] = []
        session.state.subscribe(self.render)

    # ---- actions (event handlers) -------------------------------------------

    async def _refresh(self, _: Any = None) -> None:
        await self.session.refresh()

    async def _logout(self, _: Any = None) -> None:
        await self.session.logout()

    def _settings(self, _: Any = None) -> None:
        self.session.show(Screen.SETTINGS)

    def _back(self, _: Any = None) -> None:
        self.session.back()

    def _dismiss(self, _: Any = None) -> None:
        self.session.dismiss_notices()

    def _pick(self, patient_id: str) -> None:
        self.session.select_child(patient_id)

    def _locale(self, locale: str | None) -> None:
        if locale:
            self.page.run_task(self.session.set_locale, locale)

    # ---- drawing --------------------------------------------------------------

    def build_view(self) -> ft.View:
        state, tr = self.session.state, self.session.tr
        if state.phase is Phase.STARTING:
            return starting_view(tr)
        if state.phase is Phase.LOGIN:
            if self._login is None:
                self._login = LoginView(self.session.login)
            return self._login.build(state, tr)
        self._login = None
        if state.screen is Screen.SETTINGS:
            return settings_view.build(state, tr, on_back=self._back, on_locale=self._locale,
                                       on_logout=self._logout)
        if state.screen is Screen.CARNET and state.selected_child_id:
            now = self.session.clock()
            return carnet_view.build(
                state, tr, today=now.astimezone().date(), now_ts=now.timestamp(),
                on_back=self._back if len(state.children) > 1 else None,
                on_refresh=self._refresh, on_settings=self._settings, on_dismiss=self._dismiss)
        return children_view.build(state, tr, on_pick=self._pick, on_refresh=self._refresh,
                                   on_settings=self._settings, on_dismiss=self._dismiss)

    def render(self) -> None:
        view = self.build_view()
        self.page.title = self.session.tr.t("app_title")
        self.page.views.clear()
        self.page.views.append(view)
        self.page.update()

    # ---- background work ----------------------------------------------------

    def start_background(self, sync_now: bool) -> None:
        if sync_now:
            self._tasks.append(self.page.run_task(self.session.refresh))
        self._tasks.append(self.page.run_task(self.session.run_periodic_sync))

    async def on_lifecycle(self, e: ft.AppLifecycleStateChangeEvent) -> None:
        # Phones suspend background apps: sync again when the app comes back.
        if e.state == ft.AppLifecycleState.RESUME and self.session.state.phase is Phase.READY:
            await self.session.refresh()

    async def shutdown(self, _: Any = None) -> None:
        for task in self._tasks:
            task.cancel()
        self._tasks.clear()
        await self.session.close()


def _platform(page: ft.Page) -> str | None:
    """The native platform, or None in a browser (the web app's Python runs on the server)."""
    if page.web or page.platform is None:
        return None
    return page.platform.value


async def _secret_store_for(page: ft.Page, holder: dict[str, Any]) -> SecretStore:
    def secure_storage() -> Any:
        from flet_secure_storage import SecureStorage

        holder["secure_storage"] = storage = SecureStorage()  # strong reference
        return storage

    return await select_secret_store(_platform(page), secure_storage_factory=secure_storage)


async def main(page: ft.Page) -> None:
    """Build the app on ``page`` (``ft.run(main)``)."""
    page.title = "Carnet"
    # Screens replace each other (no back stack): no route animation, and
    # screenshots/screen readers never catch two screens at once.
    none = ft.PageTransitionTheme.NONE
    page.theme = ft.Theme(color_scheme_seed=GREEN, page_transitions=ft.PageTransitionsTheme(
        android=none, ios=none, linux=none, macos=none, windows=none))
    page.theme_mode = ft.ThemeMode.LIGHT
    page.padding = 0
    config = load_config()
    page.locale_configuration = ft.LocaleConfiguration(
        supported_locales=[ft.Locale("es", "MX"), ft.Locale("en")],
        current_locale=ft.Locale("es", "MX") if config.locale == "es-MX" else ft.Locale("en"))
    holder: dict[str, Any] = {}
    secrets = await _secret_store_for(page, holder)
    session = AppSession(config, secrets, default_data_dir())
    ui = CarnetUI(page, session)
    holder["ui"] = ui
    page.data = holder  # keep services and the UI referenced for the page's lifetime
    ui.render()
    page.on_app_lifecycle_state_change = ui.on_lifecycle
    page.on_close = ui.shutdown
    sync_now = await session.start()
    ui.start_background(sync_now)

