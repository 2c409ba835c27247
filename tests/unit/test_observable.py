"""State that owns its changes: fields written only by the state's own methods, one notification per change."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import pytest

from carnet.agenda.state import AgendaUi
from carnet.blood_bank.state import BloodBankUi, StaffUi
from carnet.core.observable import Observable, change


@dataclass(eq=False)
class Counter(Observable):
    count: int = 0
    seen: list[int] = field(default_factory=list)

    @change
    def add(self, n: int) -> None:
        self.count += n
        self.seen = [*self.seen, n]

    @change
    def add_twice(self, n: int) -> None:
        self.add(n)
        self.add(n)

    @change
    def fail(self) -> None:
        self.count = -1
        raise ValueError("no")


@dataclass(eq=False)
class Root(Observable):
    name: str = ""
    counter: Counter = field(default_factory=Counter)

    def __post_init__(self) -> None:
        super().__post_init__()
        self.relay(self.counter)

    @change
    def rename(self, name: str) -> None:
        self.name = name


def recorder(state: Observable) -> list[frozenset[Observable]]:
    calls: list[frozenset[Observable]] = []
    state.subscribe(calls.append)
    return calls


def test_a_change_method_writes_and_notifies_once() -> None:
    counter = Counter()
    calls = recorder(counter)
    counter.add(2)
    assert counter.count == 2
    assert calls == [frozenset({counter})]


def test_fields_cannot_be_assigned_from_outside() -> None:
    counter = Counter()
    calls = recorder(counter)
    with pytest.raises(AttributeError, match=r"Counter\.count changes only through"):
        counter.count = 5
    with pytest.raises(AttributeError):
        setattr(counter, "count", 5)  # noqa: B010 - the point of the test
    assert counter.count == 0
    assert calls == []


def test_nested_changes_notify_once_when_the_outermost_ends() -> None:
    counter = Counter()
    calls = recorder(counter)
    counter.add_twice(1)
    assert counter.count == 2
    assert len(calls) == 1


def test_a_batch_makes_one_notification() -> None:
    counter = Counter()
    calls = recorder(counter)
    with counter.batch():
        counter.add(1)
        counter.add(2)
        assert calls == []
    assert counter.seen == [1, 2]
    assert len(calls) == 1


def test_a_batch_opens_no_field_to_writes() -> None:
    counter = Counter()
    with counter.batch(), pytest.raises(AttributeError):
        counter.count = 3


def test_an_empty_batch_notifies_nothing() -> None:
    counter = Counter()
    calls = recorder(counter)
    with counter.batch():
        pass
    assert calls == []


def test_a_failed_change_still_notifies_and_closes_writes() -> None:
    counter = Counter()
    calls = recorder(counter)
    with pytest.raises(ValueError, match="no"):
        counter.fail()
    assert len(calls) == 1
    with pytest.raises(AttributeError):
        counter.count = 0


def test_relayed_parts_notify_the_root_with_what_changed() -> None:
    root = Root()
    calls = recorder(root)
    root.counter.add(1)
    assert calls == [frozenset({root.counter})]
    with root.batch():
        root.rename("x")
        root.counter.add(1)
        root.counter.add(1)
    assert calls[1:] == [frozenset({root, root.counter})]


def test_reset_restores_defaults_in_place_and_keeps_listeners() -> None:
    counter = Counter()
    counter.add(4)
    calls = recorder(counter)
    counter.reset()
    assert (counter.count, counter.seen) == (0, [])
    assert len(calls) == 1
    counter.add(1)
    assert len(calls) == 2


def test_an_observable_must_compare_by_identity() -> None:
    @dataclass
    class Equal(Observable):
        n: int = 0

    with pytest.raises(TypeError, match="eq=False"):
        Equal()


@pytest.mark.parametrize("state", [BloodBankUi(), StaffUi()], ids=lambda s: type(s).__name__)
def test_screen_states_refuse_outside_writes(state: Observable) -> None:
    for name in ("message", "bookings"):
        with pytest.raises(AttributeError):
            setattr(state, name, None)


def test_blood_bank_choices_notify() -> None:
    ui = BloodBankUi()
    calls = recorder(ui)
    ui.choose_day(date(2026, 1, 5))
    ui.start_loading_slots()
    ui.stop_loading_slots(cached=True)
    assert (ui.day, ui.loading_slots, ui.slots_cached) == (date(2026, 1, 5), False, True)
    assert len(calls) == 3


def test_agenda_save_moves_to_the_day_in_one_change() -> None:
    ui = AgendaUi()
    calls = recorder(ui)
    ui.saved("a1", date(2026, 3, 9), "ok")
    assert (ui.selected_id, ui.day, ui.month, ui.message) == ("a1", date(2026, 3, 9), date(2026, 3, 1), "ok")
    assert len(calls) == 1
    with pytest.raises(AttributeError):
        ui.day = None
