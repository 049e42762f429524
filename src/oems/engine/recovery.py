"""Bringing the state back from disk: the latest snapshot, then the journal after it."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable

from oems.domain import events as ev
from oems.domain.state import TradingState
from oems.market.clock import SIMULATED, WALL, Clock
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


def load_journal(journal: Journal, state: TradingState, clock: Clock) -> int:
    """Fill the empty `state` from the latest snapshot and the journal after it; the event count."""
    apply = apply_recorded(state, clock)
    after = 0
    with collector_paused():
        try:
            snapshot = journal.latest_snapshot()
            if snapshot is not None:
                load_state(snapshot[1], snapshot[0], state)
                after = snapshot[0]
        except Exception:
            log.warning("snapshot unusable; replaying the whole journal", exc_info=True)
        count = after
        for event in journal.replay(after):
            apply(event)
            count += 1
    return count


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
    for event in kept:
        apply(event)
