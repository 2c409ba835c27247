"""Privacy notice and "Mi cuenta": the app's services (no Flet) against the real server on loopback.

A new notice version is published by adding a file to the server's notices directory while it runs:
the next sync closes the gate, a version published while the person reads is refused with 409 and the
newer one is shown, accepting opens the app again. Then "Descargar mis datos" (the JSON holds the child's
data), a closure request withdrawn, and a password change that ends the session (the new password logs in,
the old one no longer does).
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import httpx
import pytest

from carnet.auth.account import PasswordForm
from carnet.core.config import AppConfig
from carnet.shell.session import AppSession
from carnet.core.navigation import Phase, Screen
from carnet_server.privacy.notices import DEFAULT_DIR
from tests.support.processes import running_server
from tests.support.secret_stores import DictSecretStore

pytestmark = pytest.mark.anyio
NEW_PASSWORD = "otra-clave-segura-2026"


def publish(notices: Path, version: str, published_on: str) -> None:
    """A new version of the notice: the shipped one's texts under a new version and date."""
    shipped = sorted(DEFAULT_DIR.glob("*.toml"))[-1].read_text(encoding="utf-8")
    text = re.sub(r'(?m)^version = ".*"$', f'version = "{version}"', shipped, count=1)
    text = re.sub(r"(?m)^published_on = .*$", f"published_on = {published_on}", text, count=1)
    (notices / f"{version}.toml").write_text(text, encoding="utf-8")


async def test_notice_gate_export_closure_and_password(tmp_path: Path) -> None:
    notices = tmp_path / "notices"
    shutil.copytree(DEFAULT_DIR, notices, ignore=shutil.ignore_patterns("__pycache__"))
    env = {"CARNET_PRIVACY_NOTICES_DIR": str(notices)}
    with running_server(tmp_path / "server", env=env) as server:
        config = AppConfig(api_base_url=server.url, api_timeout_seconds=5.0, qr_issuer=server.url)
        session = AppSession(config, DictSecretStore(), tmp_path / "app")
        try:
            await session.start()
            await session.login("madre.demo", "carnet-demo")
            state = session.state
            assert state.phase is Phase.READY and len(state.children) == 2  # the demo accepted the notice
            assert state.account.status is not None and state.account.status.accepted

            # A new version: the next sync asks for it, and nothing else is fetched meanwhile.
            publish(notices, "2099-01", "2099-01-01")
            await session.refresh()
            assert state.phase is Phase.PRIVACY
            assert state.privacy.notice is not None and state.privacy.notice.version == "2099-01"
            assert state.privacy.notice.lang == "es-MX" and state.privacy.notice.sections
            assert state.privacy.can_continue_offline
            publish(notices, "2099-02", "2099-02-01")  # published while the person reads 2099-01
            await session.privacy.accept()
            assert state.phase is Phase.PRIVACY and state.privacy.message
            assert state.privacy.notice is not None and state.privacy.notice.version == "2099-02"
            await session.privacy.accept()
            assert state.phase is Phase.READY and state.online is True and state.sync_error is None
            assert state.account.status is not None and state.account.status.accepted_version == "2099-02"
            mateo = next(c for c in state.children if c.display_name.startswith("Mateo"))
            session.select_child(mateo.id)
            assert state.carnet is not None and state.carnet.patient.id == mateo.id

            # Descargar mis datos.
            await session.account.open()
            made = await session.rights.export_file()
            assert made is not None, state.account.error
            name, data = made
            assert re.fullmatch(r"carnet-mis-datos-\d{4}-\d{2}-\d{2}\.json", name)
            exported = json.loads(data)
            assert exported["account"]["username"] == "madre.demo"
            child = next(c for c in exported["children"] if c["patient"]["id"] == mateo.id)
            assert child["patient"]["nss"] == state.carnet.patient.nss and child["cycles"]
            assert [a["version"] for a in exported["privacy_acceptances"]][-1] == "2099-02"

            # Ask to close the account, then withdraw it.
            session.account.show(Screen.ACCOUNT_CLOSURE)
            session.rights.ask_closure(True)
            await session.rights.request_closure("Prueba de cierre")
            status = state.account.status
            assert state.screen is Screen.ACCOUNT and status is not None and status.closure_request is not None
            asked = status.closure_request
            await session.account.open()  # read again from the server: the request is there
            assert state.account.status is not None and state.account.status.closure_request is not None
            assert state.account.status.closure_request.id == asked.id
            await session.rights.withdraw_closure()
            assert state.account.status is not None and state.account.status.closure_request is None
            assert state.account.message == "Retiraste la solicitud. Tu cuenta sigue activa."
            await session.rights.withdraw_closure()  # nothing open any more: 404, said plainly
            assert state.account.error == "No hay una solicitud de cierre abierta."

            # Change the password: bad input first, then the session ends everywhere.
            session.account.show(Screen.ACCOUNT_PASSWORD)
            assert not await session.account.change_password(PasswordForm("not-it", NEW_PASSWORD, NEW_PASSWORD))
            assert state.account.password_errors == {"current": "La contraseña actual no es correcta."}
            assert not await session.account.change_password(PasswordForm("carnet-demo", "madre.demo", "madre.demo"))
            assert state.account.password_errors == {"new": "La contraseña nueva no puede ser tu usuario."}
            old_tokens = session.api.tokens
            assert old_tokens is not None
            assert await session.account.change_password(PasswordForm("carnet-demo", NEW_PASSWORD, NEW_PASSWORD))
            assert state.phase is Phase.LOGIN
            assert state.login_info == "Contraseña cambiada. Entra de nuevo con la nueva."
            with httpx.Client(base_url=server.url, timeout=5.0) as client:
                headers = {"Authorization": f"Bearer {old_tokens.access_token}"}
                assert client.get("/api/v1/me", headers=headers).status_code == 401
                refreshed = client.post("/api/v1/auth/refresh", json={"refresh_token": old_tokens.refresh_token})
                assert refreshed.status_code == 401
            await session.login("madre.demo", "carnet-demo")
            assert state.phase is Phase.LOGIN and state.login_error
            await session.login("madre.demo", NEW_PASSWORD)
            assert state.phase is Phase.READY and len(state.children) == 2
        finally:
            await session.close()
