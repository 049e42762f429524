"""The journal in memory (SQLite's ":memory:"): encoded rows appended, replayed, no file touched."""

from __future__ import annotations

from tests.unit.scenario import AAPL, ACCOUNT, bought

from oems.domain.state import TradingState
from oems.store.journal import Journal, encode_rows


def test_rows_appended_in_memory_replay_to_the_same_state() -> None:
    # The tier's conftest refuses any SQLite database but ":memory:": no file can be written.
    events = bought()
    direct = TradingState()
    for event in events:
        direct.apply(event)

    journal = Journal(":memory:")
    journal.append(encode_rows(events[:3]))
    journal.append(encode_rows(events[3:]))
    assert journal.last_seq == journal.count() == len(events)
    assert journal.last_batch_size == len(events) - 3
    assert journal.first_ts_ns() == events[0].ts_ns
    assert list(journal.replay()) == events
    assert list(journal.replay(after_seq=3)) == events[3:]

    replayed = TradingState()
    for event in journal.replay():
        replayed.apply(event)
    assert replayed.positions[ACCOUNT][AAPL] == direct.positions[ACCOUNT][AAPL]
    assert replayed.accounts[ACCOUNT] == direct.accounts[ACCOUNT]
    assert replayed.orders == direct.orders
    journal.close()


def test_each_memory_journal_is_its_own() -> None:
    first, second = Journal(":memory:"), Journal(":memory:")
    first.append(encode_rows(bought()))
    assert second.count() == 0 and second.last_seq == 0
    assert Journal(":memory:").latest_snapshot() is None
