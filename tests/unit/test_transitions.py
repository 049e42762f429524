"""The order and instruction lifecycles: each transition table and the move function over it."""

from __future__ import annotations

import itertools
from types import ModuleType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from oems.domain import instructions as pi
from oems.domain import orders as o

TABLES = [
    pytest.param(o, o.IllegalTransition, id="orders"),
    pytest.param(pi, pi.IllegalInstructionTransition, id="instructions"),
]


def statuses(module: ModuleType) -> set[str]:
    """Every status the table moves from or to."""
    table: dict[tuple[str, str], str] = module.TRANSITIONS
    return {status for status, _ in table} | set(table.values())


def happenings(module: ModuleType) -> set[str]:
    """Every happening the table knows."""
    return {happening for _, happening in module.TRANSITIONS}


def legal(module: ModuleType) -> list[tuple[str, str, str]]:
    """(status, happening, target) for every pair in the table."""
    return [(s, h, t) for (s, h), t in module.TRANSITIONS.items()]


def illegal(module: ModuleType) -> list[tuple[str, str]]:
    """Every (status, happening) pair the table leaves out."""
    pairs = itertools.product(sorted(statuses(module)), sorted(happenings(module)))
    return [pair for pair in pairs if pair not in module.TRANSITIONS]


@pytest.mark.parametrize(("module", "error"), TABLES)
def test_every_legal_pair_gives_its_target(module: ModuleType, error: type[Exception]) -> None:
    for status, happening, target in legal(module):
        assert module.next_status(status, happening) == target


@pytest.mark.parametrize(("module", "error"), TABLES)
def test_every_illegal_pair_raises_naming_it(module: ModuleType, error: type[Exception]) -> None:
    pairs = illegal(module)
    assert pairs, "a table that allows everything is no lifecycle"
    for status, happening in pairs:
        with pytest.raises(error) as raised:
            module.next_status(status, happening)
        assert status in str(raised.value) and happening in str(raised.value)


@pytest.mark.parametrize(("module", "error"), TABLES)
def test_unknown_status_or_happening_raises(module: ModuleType, error: type[Exception]) -> None:
    status, happening, _ = legal(module)[0]
    with pytest.raises(error):
        module.next_status("NO_SUCH_STATUS", happening)
    with pytest.raises(error):
        module.next_status(status, "no_such_happening")


@pytest.mark.parametrize(("module", "error"), TABLES)
def test_terminal_statuses_have_no_way_out(module: ModuleType, error: type[Exception]) -> None:
    for status in module.TERMINAL:
        assert not [pair for pair in module.TRANSITIONS if pair[0] == status]
        for happening in happenings(module):
            with pytest.raises(error):
                module.next_status(status, happening)


@pytest.mark.parametrize(("module", "error"), TABLES)
def test_every_status_without_a_way_out_is_terminal(
    module: ModuleType, error: type[Exception]
) -> None:
    sources = {status for status, _ in module.TRANSITIONS}
    assert statuses(module) - sources <= module.TERMINAL


@pytest.mark.parametrize(("module", "error"), TABLES)
def test_the_table_speaks_the_modules_enums(module: ModuleType, error: type[Exception]) -> None:
    known = set(o.TERMINAL) | {
        o.PENDING_NEW,
        o.NEW,
        o.PARTIALLY_FILLED,
        o.PENDING_CANCEL,
        o.PENDING_REPLACE,
    }
    assert statuses(module) <= (known if module is o else set(pi.STATUSES))


def reachable(module: ModuleType, start: str) -> set[str]:
    """The statuses the table can lead to from `start` (itself included)."""
    seen, frontier = {start}, [start]
    while frontier:
        status = frontier.pop()
        for (source, _), target in module.TRANSITIONS.items():
            if source == status and target not in seen:
                seen.add(target)
                frontier.append(target)
    return seen


def test_every_order_status_is_reachable_from_pending_new() -> None:
    assert reachable(o, o.PENDING_NEW) == statuses(o)
    for status in statuses(o) - o.TERMINAL:
        assert reachable(o, status) & o.TERMINAL, f"{status} can never finish"


def test_every_instruction_status_is_reachable_from_sent() -> None:
    assert reachable(pi, pi.SENT) == statuses(pi)
    for status in statuses(pi) - pi.TERMINAL:
        assert reachable(pi, status) & pi.TERMINAL, f"{status} can never finish"


def test_order_lifecycle_rules_the_readme_states() -> None:
    # The venue acknowledges before anything fills; a fill that beats a cancel or replace stands.
    assert (o.PENDING_NEW, o.FILL_PART) not in o.TRANSITIONS
    assert (o.PENDING_NEW, o.FILL_ALL) not in o.TRANSITIONS
    assert o.next_status(o.PENDING_CANCEL, o.FILL_ALL) == o.FILLED
    assert o.next_status(o.PENDING_REPLACE, o.FILL_ALL) == o.FILLED
    assert o.next_status(o.PENDING_REPLACE, o.REPLACE_DONE_PARTIAL) == o.PARTIALLY_FILLED
    # A replace waits for the venue: no second replace on top of it.
    assert (o.PENDING_REPLACE, o.REPLACE_REQUEST) not in o.TRANSITIONS


def test_instruction_lifecycle_the_docstring_states() -> None:
    assert pi.next_status(pi.SENT, pi.ACCEPT) == pi.ACCEPTED
    assert pi.next_status(pi.SENT, pi.REJECT) == pi.REJECTED
    after_cancel = pi.next_status(pi.SENT, pi.CANCEL_REQUEST)
    assert after_cancel == pi.CANCEL_REQUESTED
    assert pi.next_status(after_cancel, pi.CANCEL) == pi.CANCELLED
    assert pi.next_status(after_cancel, pi.CANCEL_FAIL) == pi.CANCEL_FAILED
    # Refused before acceptance, never stored: no transition leads to or from it.
    assert pi.ENGINE_REJECTED not in statuses(pi)
    assert pi.ENGINE_REJECTED in pi.TERMINAL


@pytest.mark.parametrize(("module", "error"), TABLES)
@settings(database=None, max_examples=100)
@given(data=st.data())
def test_any_walk_stays_in_the_table_and_ends_for_good(
    module: ModuleType, error: type[Exception], data: st.DataObject
) -> None:
    """Whatever happens in whatever order, the status is always one the table knows, it moves
    only along the table, and once terminal nothing moves it again."""
    start = o.PENDING_NEW if module is o else pi.SENT
    status = start
    for happening in data.draw(st.lists(st.sampled_from(sorted(happenings(module))), max_size=12)):
        expected = module.TRANSITIONS.get((status, happening))
        if expected is None:
            with pytest.raises(error):
                module.next_status(status, happening)
            continue
        assert status not in module.TERMINAL
        status = module.next_status(status, happening)
        assert status == expected
        assert status in statuses(module)
