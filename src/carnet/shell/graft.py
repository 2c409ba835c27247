"""Redraw a screen without moving its fields: what is drawn again is grafted onto the controls on the page.

Screens are drawn afresh on every change, but the fields a person types into are kept (each view owns them),
so what was typed survives. Flet matches a list's children by object identity: a kept field inside a *new*
row, column or autofill group is sent to the browser whole, with the value Python last heard of. Keystrokes
still on their way are then overwritten — characters lost on a slow link (#14).

So before the page is updated, each freshly drawn layout control (row, column, container, …) that stands
where a drawn-before one of the same kind stood takes that one's place: the old object gets the new
description, field by field (Flet sends only what differs), and its children are grafted the same way. Kept
controls are never rewritten, and nothing that holds input is merged: a field is either the same object or a
new one, as Flet would have it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import flet as ft
from flet.controls.base_control import BaseControl
from flet.controls.id_counter import ControlId

#: Controls that only lay others out: safe to re-describe in place.
LAYOUT: tuple[type[BaseControl], ...] = (
    ft.AutofillGroup,
    ft.Card,
    ft.Column,
    ft.Container,
    ft.ListView,
    ft.ResponsiveRow,
    ft.Row,
    ft.SafeArea,
    ft.Stack,
)


class Grafter:
    """One page's redraws. ``start()`` before a screen is drawn, ``graft(live, drawn)`` to put it on the page,
    ``drawn(root)`` after each update."""

    def __init__(self) -> None:
        self._floor = 0  # controls numbered from here on were made by the drawing under way
        self._disposable: set[int] = set()  # on the page and made by a drawing (no view keeps them)
        self._kept: set[int] = set()  # what the drawing being grafted holds again (views' own controls)

    def start(self) -> None:
        self._floor = ControlId.next()

    def drawn(self, root: BaseControl) -> None:
        """What is on the page now that a drawing made (and so may be re-described next time)."""
        self._disposable = {
            c._i for c in _walk(root) if (c._i >= self._floor or c._i in self._disposable) and c._i not in self._kept
        }

    def graft(self, live: list[Any], drawn: list[Any]) -> list[Any]:
        """The list to put on the page: ``drawn``, where each mergeable item is a ``live`` one re-described.

        Whatever this drawing holds again (a view's own controls, even one made lazily during an earlier
        drawing) is never re-described, here or later.
        """
        self._kept = {c._i for item in drawn for c in _walk(item) if c._i < self._floor}
        return self._graft(live, drawn)

    def _graft(self, live: list[Any], drawn: list[Any]) -> list[Any]:
        """``graft`` one level down (the kept controls known).

        A drawn layout control takes the place of the live one holding the same kept controls (a field inside
        a new column replaces the column that held it); one that holds no kept control, of the live one at the
        same place.
        """
        inside = [{c._i for c in _walk(item)} if self._mergeable_old(item) else set() for item in live]
        used: set[int] = set()
        result = []
        for index, item in enumerate(drawn):
            match = None
            if self._mergeable_new(item):
                kept = {c._i for c in _walk(item) if c._i < self._floor}
                if kept:
                    candidates = [i for i, ids in enumerate(inside) if ids & kept]
                else:  # the one at the same place, unless it holds kept controls (another's place then)
                    candidates = [index] if index < len(live) and not inside[index] - self._disposable else []
                match = next(
                    (
                        i
                        for i in candidates
                        if i not in used and type(live[i]) is type(item) and self._mergeable_old(live[i])
                    ),
                    None,
                )
            if match is None or live[match].key != item.key:
                result.append(item)
                continue
            used.add(match)
            result.append(self._merge(live[match], item))
        return result

    def _mergeable_new(self, control: Any) -> bool:
        return isinstance(control, LAYOUT) and control._i >= self._floor

    def _mergeable_old(self, control: Any) -> bool:
        return isinstance(control, LAYOUT) and control._i in self._disposable and control._i not in self._kept

    def _merge(self, old: Any, new: Any) -> Any:
        """``old`` described as ``new`` (only what differs reaches the browser); children grafted likewise."""
        for f in dataclasses.fields(new):
            if f.name.startswith("_") or f.name == "key":
                continue
            value = getattr(new, f.name)
            current = getattr(old, f.name)
            if isinstance(value, list) and any(isinstance(item, BaseControl) for item in value):
                value = self._graft(current if isinstance(current, list) else [], value)
            elif isinstance(value, BaseControl):
                [value] = self._graft([current] if current is not None else [], [value])
            setattr(old, f.name, value)
        return old


def _walk(control: Any) -> Iterator[BaseControl]:
    if not isinstance(control, BaseControl):
        return
    yield control
    for f in dataclasses.fields(control):
        if f.name.startswith("_"):
            continue
        value = getattr(control, f.name, None)
        if isinstance(value, BaseControl):
            yield from _walk(value)
        elif isinstance(value, list):
            for item in value:
                yield from _walk(item)
