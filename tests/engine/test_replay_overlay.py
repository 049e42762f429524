"""Replayed rows loaded into a running server: the overlay between pins and the source, and the
file that keeps them (`<db>.replay.csv`)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from tests.support.market import ACME, ACME_CALL, PENNY, WED, et, resolve

from oems.domain.state import PinnedQuote
from oems.domain.timefmt import format_ns
from oems.market.calendar import TradingCalendar
from oems.market.market_data import MarketData
from oems.market.replay import (
    REPLAY_COLUMNS,
    ReplayOverlay,
    ReplayRow,
    ReplayRowError,
    ReplaySource,
    parse_replay_row,
)
from oems.market.synthetic import SyntheticSource
from oems.store import replay_log


def row(
    ts: int,
    bid: str = "",
    ask: str = "",
    bid_size: str = "",
    ask_size: str = "",
    last: str = "",
    last_size: str = "",
    symbol: str = "ACME",
) -> ReplayRow:
    return parse_replay_row([format_ns(ts), symbol, bid, ask, bid_size, ask_size, last, last_size])


@pytest.fixture(scope="module")
def calendar() -> TradingCalendar:
    return TradingCalendar()


@pytest.fixture
def source(calendar: TradingCalendar) -> SyntheticSource:
    return SyntheticSource(7, calendar, resolve, anchor=WED)


def test_parse_replay_row_names_the_field() -> None:
    parsed = parse_replay_row(
        ["2026-03-04T14:30:00Z", "acme  260320c00100000", "2.10", "", "10", "", "", ""]
    )
    assert parsed.symbol == ACME_CALL.symbol
    assert (parsed.bid, parsed.ask, parsed.bid_size, parsed.ask_size) == (
        Decimal("2.10"),
        None,
        10,
        None,
    )
    for fields, field in [
        (["soon", "ACME", "", "", "", "", "", ""], "ts"),
        (["2026-03-04T14:30:00Z", " ", "", "", "", "", "", ""], "symbol"),
        (["2026-03-04T14:30:00Z", "ACME", "1e", "", "", "", "", ""], "bid"),
        (["2026-03-04T14:30:00Z", "ACME", "", "-1", "", "", "", ""], "ask"),
        (["2026-03-04T14:30:00Z", "ACME", "", "", "-1", "", "", ""], "bid_size"),
        (["2026-03-04T14:30:00Z", "ACME", "", "", "", "", "", "5"], "last_size"),
    ]:
        with pytest.raises(ReplayRowError) as caught:
            parse_replay_row(fields)
        assert caught.value.field == field


def test_overlay_sits_between_pins_and_the_source(
    source: SyntheticSource, calendar: TradingCalendar
) -> None:
    pins: dict[str, PinnedQuote] = {}
    market = MarketData(source, calendar, lambda: pins)
    start = et(WED, 10)
    market.replayed.merge(
        [
            row(start, "150.00", "150.10", "300", "200", "150.05", "100"),
            row(start + 60 * 10**9, last="151.00", last_size="50"),
        ]
    )
    before = start - 1
    assert market.quote(ACME, before) == source.quote(ACME, before)
    assert market.daily_bar(ACME, before) == source.daily_bar(ACME, WED, before)
    assert market.quote(PENNY, start) == source.quote(PENNY, start)  # never replayed
    later = market.quote(ACME, start + 90 * 10**9)
    assert later is not None
    assert (later.bid, later.ask, later.last, later.last_size, later.volume) == (
        Decimal("150.00"),
        Decimal("150.10"),
        Decimal("151.00"),
        50,
        150,
    )
    bar = market.daily_bar(ACME, start + 90 * 10**9)
    assert bar is not None and (bar.open, bar.close, bar.volume) == (
        Decimal("150.05"),
        Decimal("151.00"),
        150,
    )
    # An option without rows of its own is valued from the replayed underlier: deep in the money.
    call = market.quote(ACME_CALL, start)
    assert call is not None and call.bid is not None and call.bid > Decimal(45)
    # A pin still wins; its volume comes from the replayed rows.
    pins["ACME"] = PinnedQuote(Decimal("99.00"), Decimal("99.10"), 1, 1, None, 7)
    pinned = market.quote(ACME, start + 90 * 10**9)
    assert pinned is not None and pinned.bid == Decimal("99.00") and pinned.volume == 150
    del pins["ACME"]
    assert market.quote(ACME, start) == market.replayed.quote(ACME, start)


def test_batches_append_or_rebuild_in_time_order() -> None:
    overlay = ReplayOverlay()
    t = et(WED, 11)
    overlay.merge(
        [row(t, "10.00", "10.10", "100", "100"), row(t + 20, last="10.05", last_size="5")]
    )
    overlay.merge([row(t + 30, ask="10.20")])  # appended
    # A row reaching back before the latest rebuilds: the trade-only row now carries its bid.
    batch = overlay.prepare([row(t + 10, bid="9.90", bid_size="7")])
    assert batch.symbols() == ["ACME"] and "ACME" in batch.rebuilds
    batch.commit()
    trade = overlay.quote(ACME, t + 25)
    assert trade is not None and (trade.bid, trade.bid_size, trade.ask) == (
        Decimal("9.90"),
        7,
        Decimal("10.10"),
    )
    last = overlay.quote(ACME, t + 30)
    assert last is not None and (last.bid, last.ask, last.volume) == (
        Decimal("9.90"),
        Decimal("10.20"),
        5,
    )
    assert overlay.row_count == 4 and overlay.symbols() == ["ACME"]
    # Equal instants keep arrival order.
    overlay.merge([row(t + 30, ask="10.30"), row(t + 30, ask="10.40")])
    final = overlay.quote(ACME, t + 30)
    assert final is not None and final.ask == Decimal("10.40")


def test_a_crossed_row_loads_nothing_and_names_its_index() -> None:
    overlay = ReplayOverlay()
    t = et(WED, 11)
    overlay.merge([row(t, "10.00", "10.10"), row(t + 20, last="10.05", last_size="5")])
    with pytest.raises(ReplayRowError) as caught:
        overlay.prepare([row(t + 30, symbol="PNNY", bid="1"), row(t + 40, bid="10.50")])
    assert (caught.value.index, caught.value.field) == (1, "bid")
    # Reaching back: the earlier ask crosses the bid a later loaded row carries.
    overlay.merge([row(t + 30, bid="10.08")])
    with pytest.raises(ReplayRowError) as caught:
        overlay.prepare([row(t + 10, ask="10.05")])
    assert caught.value.index == 0 and "crossed quote" in caught.value.message
    assert overlay.row_count == 3 and overlay.symbols() == ["ACME"]
    unchanged = overlay.quote(ACME, t + 10)
    assert unchanged is not None and unchanged.ask == Decimal("10.10")


def test_the_log_round_trips_and_a_torn_line_is_cut(tmp_path: Path) -> None:
    path = tmp_path / "oems.db.replay.csv"
    t = et(WED, 11, 0, 1) + 123
    rows = [
        row(t, "10.00", "10.10", "100", "200", "10.05", "5"),
        row(t + 1, last="10.06", last_size="0"),
        row(t + 2, symbol=ACME_CALL.symbol, bid="2.10", ask="2.30"),
    ]
    replay_log.append_rows(path, REPLAY_COLUMNS, [entry.fields() for entry in rows[:2]])
    replay_log.append_rows(path, REPLAY_COLUMNS, [entry.fields() for entry in rows[2:]])
    lines = path.read_text().splitlines()
    assert lines[0] == ",".join(REPLAY_COLUMNS) and len(lines) == 4
    loaded = ReplayOverlay()
    assert replay_log.repair(path) and loaded.load_csv(path) == 3
    direct = ReplayOverlay()
    direct.merge(rows)
    for instrument in (ACME, ACME_CALL):
        for k in range(4):
            assert loaded.quote(instrument, t + k) == direct.quote(instrument, t + k)
    # The file is a replay source of its own.
    assert ReplaySource(path).quote(ACME, t + 1) == direct.quote(ACME, t + 1)
    # A crash while appending leaves a torn last line: cut off, the rest loads.
    with path.open("a") as handle:
        handle.write("2026-03-04T16:00:01Z,ACME,10.0")
    again = ReplayOverlay()
    assert replay_log.repair(path) and again.load_csv(path) == 3
    assert path.read_text().endswith("\n") and len(path.read_text().splitlines()) == 4
    assert not replay_log.repair(tmp_path / "absent.csv")
    (tmp_path / "empty.csv").touch()
    assert not replay_log.repair(tmp_path / "empty.csv")


def test_a_batch_prepared_before_another_commit_is_stale() -> None:
    overlay = ReplayOverlay()
    t = et(WED, 11)
    first = overlay.prepare([row(t, "10.00", "10.10")])
    second = overlay.prepare([row(t, "10.20", "10.30")])
    first.commit()
    with pytest.raises(RuntimeError, match="changed since"):
        second.commit()
    assert overlay.row_count == 1
