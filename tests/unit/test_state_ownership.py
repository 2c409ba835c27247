"""Each screen state changes only through its own methods (issue #13, item 2).

- read from the source files (AST): outside the state modules, no code of the app assigns a field of
  the app's state or of a feature's screen state, nor changes a list or set it holds in place;
- at run time: every field of every screen state refuses an assignment from outside, and a change made
  by a use case redraws once.
"""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import pytest

from carnet.core.observable import Observable
from carnet.shell.state import AppState

SRC = Path(__file__).resolve().parents[2] / "src" / "carnet"
#: Where the state classes live, and with them the only code allowed to write their fields.
STATE_MODULES = {SRC / "core" / "observable.py", SRC / "shell" / "state.py", *SRC.glob("*/state.py")}
#: A feature's screen state, as AppState holds it.
PARTS = {f.name for f in dataclasses.fields(AppState) if isinstance(getattr(AppState(), f.name), Observable)}
#: How the app's code names the app's state or a screen state.
STATE_NAMES = {"state", "_state", "ui", "_ui", *PARTS}
MUTATORS = {"append", "extend", "insert", "clear", "add", "discard", "pop", "remove", "update", "setdefault"}


def is_state(node: ast.expr) -> bool:
    """``state``, ``ui``, ``self._state``, ``session.state``, ``state.blood_bank``, ``self._ui``…"""
    if isinstance(node, ast.Name):
        return node.id in STATE_NAMES - PARTS
    return isinstance(node, ast.Attribute) and node.attr in STATE_NAMES


def writes(tree: ast.AST) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = list(node.targets)
        elif isinstance(node, ast.AugAssign | ast.AnnAssign):
            targets = [node.target]
        while targets:
            target = targets.pop(0)
            if isinstance(target, ast.Tuple | ast.List):
                targets.extend(target.elts)
            elif isinstance(target, ast.Starred):
                targets.append(target.value)
            elif isinstance(target, ast.Attribute) and is_state(target.value):
                found.append((target.lineno, ast.unparse(target)))
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in MUTATORS
            and isinstance(node.func.value, ast.Attribute)
            and is_state(node.func.value.value)
        ):
            found.append((node.lineno, ast.unparse(node.func)))
    return found


def test_only_a_state_module_writes_its_fields() -> None:
    offenders = [
        f"{path.relative_to(SRC)}:{line}: {text}"
        for path in sorted(SRC.rglob("*.py"))
        if path not in STATE_MODULES
        for line, text in writes(ast.parse(path.read_text(encoding="utf-8")))
    ]
    assert offenders == []


def test_the_scan_sees_a_write() -> None:
    code = "state.screen = 1\nself._ui.message, x = None, 2\nself._state.blood_bank.day = 3\nui.busy_ids.add(1)\n"
    assert [text for _, text in writes(ast.parse(code))] == [
        "state.screen",
        "self._ui.message",
        "self._state.blood_bank.day",
        "ui.busy_ids.add",
    ]


def states() -> list[Observable]:
    app = AppState()
    return [app, *(getattr(app, name) for name in sorted(PARTS))]


@pytest.mark.parametrize("state", states(), ids=lambda s: type(s).__name__)
def test_every_field_refuses_an_outside_write(state: Observable) -> None:
    for item in dataclasses.fields(state):  # type: ignore[arg-type]
        before = getattr(state, item.name)
        with pytest.raises(AttributeError, match="changes only through"):
            setattr(state, item.name, before)


def test_the_app_state_relays_every_screen_state_once_per_batch() -> None:
    app = AppState()
    calls: list[frozenset[Observable]] = []
    app.subscribe(calls.append)
    with app.batch():
        app.go_to(app.screen)
        app.blood_bank.show_message("x")
        app.agenda.show_message("y")
        app.blood_bank.dismiss_message()
    assert calls == [frozenset({app, app.blood_bank, app.agenda})]
    app.pharmacy.clear()
    assert calls[-1] == frozenset({app.pharmacy})


def test_reset_to_login_keeps_the_screen_states_and_their_listeners() -> None:
    app = AppState()
    blood_bank = app.blood_bank
    blood_bank.show_message("x")
    calls: list[frozenset[Observable]] = []
    app.subscribe(calls.append)
    app.reset_to_login("bye")
    assert app.blood_bank is blood_bank and blood_bank.message is None
    assert app.login_error == "bye" and len(calls) == 1
    blood_bank.show_message("again")
    assert calls[-1] == frozenset({blood_bank})
