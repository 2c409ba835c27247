"""The children list and the selected child's carnet with its QR, read from the phone's store. No Flet.

Part of a family's login scope (``session.patients``). The carnet and its QR open in airplane mode: the
QR is drawn from the cached carnet and its signature checked against the cached JWKS, offline.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from carnet.core.clock import Clock
from carnet.core.navigation import Navigator, Screen, Tab
from carnet.patients.qr import QrImage, render_qr
from carnet.patients.repository import CarnetRepository
from carnet_contract import models as contract
from carnet_contract import qrtoken
from carnet_contract.qrtoken import Verification

__all__ = ["CarnetCases", "PatientsHost"]


class PatientsHost(Navigator, Protocol):
    """What of the app's state the children list and the carnet screen read and change."""

    @property
    def children(self) -> list[contract.PatientRef]: ...
    @property
    def selected_child_id(self) -> str | None: ...
    @property
    def carnet(self) -> contract.Carnet | None: ...
    @property
    def qr(self) -> QrImage | None: ...

    def show_children(self, children: list[contract.PatientRef]) -> None: ...

    def select_child(self, patient_id: str | None) -> None: ...

    def show_carnet(
        self,
        carnet: contract.Carnet | None,
        fetched_at: datetime | None,
        qr: QrImage | None,
        qr_check: Verification | None,
    ) -> None: ...


class CarnetCases:
    def __init__(
        self,
        *,
        state: PatientsHost,
        carnets: CarnetRepository,
        clock: Clock,
        qr_issuer: str | None,
        accepted_kids: tuple[str, ...],
        child_changed: Callable[[], None],
    ) -> None:
        self._state = state
        self._carnets = carnets
        self._clock = clock
        self._qr_issuer = qr_issuer
        self._accepted_kids = accepted_kids
        #: Told when the selected child (or their carnet) changed: the carnet's next appointment follows.
        self._child_changed = child_changed

    def reload(self) -> None:
        """The children from the cached account; one child is selected at once (one redraw)."""
        state = self._state
        me = self._carnets.me()
        children = list(me.patients) if me else []
        with state.batch():
            state.show_children(children)
            if state.selected_child_id not in {c.id for c in children}:
                state.select_child(None)
                if state.screen is Screen.CARNET:
                    state.go_to(Screen.CHILDREN)
            if len(children) == 1 and state.selected_child_id is None:
                state.select_child(children[0].id)
                if state.screen is Screen.CHILDREN:
                    state.go_to(Screen.CARNET)

    def select_child(self, patient_id: str) -> None:
        state = self._state
        if not any(c.id == patient_id for c in state.children):
            return
        with state.batch():
            state.select_child(patient_id)
            state.go_to(Screen.CARNET, tab=Tab.CARNET)
            self.load_carnet()

    def load_carnet(self) -> None:
        """The selected child's cached carnet, its QR and the QR's offline check (one redraw)."""
        with self._state.batch():
            self._load_carnet()

    def _load_carnet(self) -> None:
        state = self._state
        cached = self._carnets.carnet(state.selected_child_id) if state.selected_child_id else None
        self._child_changed()
        if cached is None:
            state.show_carnet(None, None, None, None)
            return
        carnet, fetched_at = cached
        qr = state.qr
        if qr is None or state.carnet is None or state.carnet.qr.url != carnet.qr.url:
            qr = render_qr(carnet.qr.url)
        jwks = self._carnets.jwks()
        check = qrtoken.verify(
            carnet.qr.token,
            jwks or {"keys": []},
            now=self._clock().timestamp(),
            issuer=self._qr_issuer,
            accepted_kids=self._accepted_kids,
        )
        state.show_carnet(carnet, fetched_at, qr, check)
