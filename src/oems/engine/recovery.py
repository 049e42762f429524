"""Bringing the state back from disk: the latest snapshot, then the journal after it."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable

from oems.domain import events as ev
from oems.domain.orders import Order
from oems.domain.state import TradingState
from oems.market.clock import SIMULATED, WALL, Clock
from oems.store.history import history_rows
from oems.store.journal import Journal
from oems.store.snapshots import collector_paused, load_state

log = logging.getLogger("oems.engine")


def apply_recorded(state: TradingState, clock: Clock) -> Callable[[ev.Event], None]:
    """The applier of recorded events: the state, and the clock a `ClockSet` moves."""

    def apply(event: ev.Event) -> None:
        state.apply(event)
        if isinstance(event, ev.ClockSet):
            clock.set(event.mode, event.now_ns, event.speed)

    return apply


SETTLE_EVERY = 4096  # events between two moves of replayed closed orders to the history


def load_journal(journal: Journal, state: TradingState, clock: Clock) -> int:
    """Fill the empty `state` from the latest snapshot and the journal after it; the event count.

    Closed orders leave the state as they do live (see `_Settler`); the history rows of closings
    the history tables do not hold yet (a journal written before them) are written on the way.
    """
    apply = apply_recorded(state, clock)
    after = 0
    through = journal.history_through_seq()
    with collector_paused():
        try:
            snapshot = journal.latest_snapshot()
            # A snapshot holds no closed order: usable only if the history holds those before it.
            if snapshot is not None and snapshot[0] <= through:
                load_state(snapshot[1], snapshot[0], state)
                after = snapshot[0]
        except Exception:
            log.warning("snapshot unusable; replaying the whole journal", exc_info=True)
        settler = _Settler(journal, state, through)
        count = after
        for event in journal.replay(after):
            apply(event)
            count += 1
            if count == through or count % SETTLE_EVERY == 0:
                settler.settle(count)
        settler.finish(count)
    journal.history.forget()
    return count


class _Settler:
    """Moves replayed closed orders and executions out of the state, as the writer does live.

    At each settle point the executions booked and the orders closed since the previous point are
    taken; the orders are dropped one point later (a live batch may still name an order it
    closed, so a replay never drops one at a point a batch could straddle). Closings and
    executions past `through` are not in the history yet: their rows are written here.
    """

    def __init__(self, journal: Journal, state: TradingState, through: int) -> None:
        self._journal = journal
        self._state = state
        self._through = through
        self._held: list[Order] = []
        self._settled = -1

    def settle(self, seq: int) -> None:
        """Take what closed up to event `seq`; drop what the previous point took."""
        if seq == self._settled:
            return
        self._settled = seq
        state = self._state
        closed, executions, reset = state.closed_orders, state.new_executions(), state.history_reset
        state.closed_orders = self._held
        state.retire()  # the orders held since the previous point; also clears `executions`
        self._held = closed
        if seq > self._through:
            self._journal.rebuild_history(history_rows(closed, executions, reset, seq), seq)

    def finish(self, seq: int) -> None:
        """The end of the journal: everything closed leaves the state."""
        self.settle(seq)
        self._state.closed_orders, self._held = self._held, []
        self._state.retire()


def recover(journal: Journal, state: TradingState, clock: Clock) -> int:
    """Rebuild the empty `state` and the clock from disk; returns the event count."""
    count = load_journal(journal, state, clock)
    setting = state.clock_setting
    if setting is not None:
        if setting.mode == SIMULATED:
            # A simulated clock resumes where the journal last saw time, never earlier.
            clock.set(SIMULATED, max(setting.now_ns, state.last_event_ns), setting.speed)
        else:
            clock.set(WALL, setting.now_ns, 1.0)
    return count


def reload(journal: Journal, state: TradingState, clock: Clock, kept: list[ev.Event]) -> None:
    """Make `state` (in place: readers hold it) the journal's plus the events `kept`."""
    fresh = TradingState()
    for f in dataclasses.fields(fresh):
        setattr(state, f.name, getattr(fresh, f.name))
    load_journal(journal, state, clock)
    apply = apply_recorded(state, clock)
    # `kept` are events of the batch in progress: what they close waits for its commit.
    for event in kept:
        apply(event)
