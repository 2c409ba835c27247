"""State that owns its changes: :class:`Observable` and the :func:`change` decorator. No Flet.

A screen state is a dataclass (``@dataclass(eq=False)``) that subclasses :class:`Observable`. Its fields
are read by anyone and written only inside its own methods marked ``@change``; an assignment from outside
raises :class:`AttributeError`. When the outermost change ends, the listeners are told once, with the
parts that changed (the state itself, or parts it relays: :meth:`Observable.relay`). Several changes
make one notification when they run inside :meth:`Observable.batch`, or inside another change::

    @dataclass(eq=False)
    class Counter(Observable):
        count: int = 0

        @change
        def add(self, n: int) -> None:
            self.count += n

    counter.subscribe(redraw)
    with counter.batch():
        counter.add(1)
        counter.add(2)  # redraw runs once, after the block
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Concatenate, ParamSpec, TypeVar

__all__ = ["Listener", "Observable", "OnlineScreenUi", "change"]

#: Told the parts that changed (each an :class:`Observable`), once per outermost change or batch.
Listener = Callable[[frozenset["Observable"]], None]

P = ParamSpec("P")
R = TypeVar("R")
S = TypeVar("S", bound="Observable")


class Observable:
    """A state whose public fields change only inside its ``@change`` methods, which notify by themselves."""

    #: Open changes and batches: notifications wait until it is back to 0.
    _held: int = 0
    #: Change methods running: public fields may be written only meanwhile.
    _writing: int = 0
    #: False until the dataclass ``__init__`` has set the fields.
    _sealed: bool = False

    def __post_init__(self) -> None:
        if type(self).__hash__ is None:
            raise TypeError(f"{type(self).__name__}: declare it with @dataclass(eq=False) (identity, hashable)")
        self._listeners: list[Listener] = []
        self._pending: set[Observable] = set()
        self._sealed = True

    def __setattr__(self, name: str, value: Any) -> None:
        if name.startswith("_") or self._writing or not self._sealed:
            object.__setattr__(self, name, value)
            return
        raise AttributeError(f"{type(self).__name__}.{name} changes only through the methods of {type(self).__name__}")

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Hold the notifications of every change made in the block (here and in relayed parts): one at the end."""
        self._held += 1
        try:
            yield
        finally:
            self._held -= 1
            self._flush()

    def relay(self, part: Observable) -> None:
        """Tell this state's listeners about ``part``'s changes too (a screen state inside the app's state)."""
        part.subscribe(self._absorb)

    def _absorb(self, parts: frozenset[Observable]) -> None:
        self._pending |= parts
        self._flush()

    def _flush(self) -> None:
        if self._held or not self._pending:
            return
        parts, self._pending = frozenset(self._pending), set()
        for listener in list(self._listeners):
            listener(parts)

    @contextmanager
    def _change(self) -> Iterator[None]:
        self._held += 1
        self._writing += 1
        self._pending.add(self)
        try:
            yield
        finally:
            self._writing -= 1
            self._held -= 1
            self._flush()

    def reset(self) -> None:
        """Every field back to its default (a new login, a staff screen entered again)."""
        with self._change():
            fresh = type(self)()
            for item in dataclasses.fields(self):  # type: ignore[arg-type]
                setattr(self, item.name, getattr(fresh, item.name))


def change(method: Callable[Concatenate[S, P], R]) -> Callable[Concatenate[S, P], R]:
    """Mark a method of an :class:`Observable` as one that changes it: it may write the fields, and its
    listeners are told when the outermost change (or batch) ends."""

    @functools.wraps(method)
    def changing(self: S, /, *args: P.args, **kwargs: P.kwargs) -> R:
        with self._change():
            return method(self, *args, **kwargs)

    return changing


@dataclasses.dataclass(eq=False)
class OnlineScreenUi(Observable):
    """What every online-only staff screen shows besides its own data: loading, a request being sent, the last
    use case's message and error."""

    loading: bool = False
    busy: bool = False
    message: str | None = None
    error: str | None = None

    @change
    def start_loading(self) -> None:
        self.loading, self.error = True, None

    @change
    def stop_loading(self) -> None:
        self.loading = False

    @change
    def start_busy(self) -> None:
        self.busy, self.error = True, None

    @change
    def stop_busy(self) -> None:
        self.busy = False

    @change
    def show_error(self, error: str | None) -> None:
        self.error = error

    @change
    def dismiss_message(self) -> None:
        self.message = self.error = None
