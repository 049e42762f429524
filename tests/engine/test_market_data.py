"""Market data: the synthetic walk, option pricing, pinned quotes and replayed files."""

from __future__ import annotations

import datetime as dt
import math
import random
from decimal import Decimal
from pathlib import Path

import pytest
from tests.support.market import (
    ACME,
    ACME_CALL,
    ACME_PUT,
    MON,
    PENNY,
    SAT,
    THU,
    WED,
    equity,
    et,
    option,
    resolve,
)

from oems.domain.state import PinnedQuote
from oems.domain.timefmt import parse_iso
from oems.market.calendar import TradingCalendar
from oems.market.manual import ManualSource
from oems.market.market_data import MarketData, make_source
from oems.market.pricing import (
    RISK_FREE_RATE,
    greeks,
    option_greeks,
    smile_volatility,
    theo_value,
    years_to_expiry,
)
from oems.market.quotes import Quote, option_quote
from oems.market.replay import ReplaySource
from oems.market.synthetic import DEFAULT_ANCHOR, SyntheticSource

CENT = Decimal("0.01")


@pytest.fixture(scope="module")
def calendar() -> TradingCalendar:
    return TradingCalendar()


@pytest.fixture
def source(calendar: TradingCalendar) -> SyntheticSource:
    return SyntheticSource(7, calendar, resolve, anchor=WED)


def day_times(day: dt.date, count: int = 40) -> list[int]:
    """Instants spread over a whole day (before, in and after its sessions), ns apart oddly."""
    start = et(day, 0)
    return [start + k * 2_160_000_001_237 for k in range(count)]


# ---- synthetic: determinism ------------------------------------------------------------


def test_same_seed_gives_the_same_quotes_and_another_seed_different(
    calendar: TradingCalendar,
) -> None:
    times = day_times(WED)
    first = SyntheticSource(7, calendar, resolve, anchor=WED)
    second = SyntheticSource(7, calendar, resolve, anchor=WED)
    other = SyntheticSource(8, calendar, resolve, anchor=WED)
    for inst in (ACME, ACME_CALL):
        a = [first.quote(inst, t) for t in times]
        assert a == [second.quote(inst, t) for t in times]
        assert a != [other.quote(inst, t) for t in times]


def test_quote_is_a_pure_function_of_time_whatever_the_query_order(
    calendar: TradingCalendar,
) -> None:
    times = day_times(WED) + day_times(MON) + [et(dt.date(2027, 6, 2), 11), et(WED, 11)]
    in_order = SyntheticSource(3, calendar, resolve, anchor=WED)
    expected = {t: in_order.quote(ACME, t) for t in times}
    shuffled = SyntheticSource(3, calendar, resolve, anchor=WED)
    order = times * 2
    random.Random(1).shuffle(order)
    for t in order:
        assert shuffled.quote(ACME, t) == expected[t]
    # A year's jump forward and back gives the same answers as asking directly.
    assert (
        shuffled.quote(ACME, et(dt.date(2027, 6, 2), 11)) == expected[et(dt.date(2027, 6, 2), 11)]
    )


def test_walk_is_anchored_at_the_reference_price(calendar: TradingCalendar) -> None:
    for seed in range(5):
        src = SyntheticSource(seed, calendar, resolve, anchor=WED)
        quote = src.quote(ACME, et(WED, 4, 0, 1))
        assert quote is not None and quote.last is not None
        assert abs(quote.last - ACME.reference_price) <= Decimal("0.50")
        noon = src.quote(ACME, et(WED, 12))
        assert noon is not None and noon.last is not None
        assert abs(noon.last / ACME.reference_price - 1) < Decimal("0.15")


def test_default_anchor_is_used_by_make_source(calendar: TradingCalendar) -> None:
    src = make_source("synthetic", 1, calendar, resolve)
    assert isinstance(src, SyntheticSource)
    quote = src.quote(ACME, et(DEFAULT_ANCHOR, 4, 0, 1))
    assert quote is not None and quote.last is not None
    assert abs(quote.last - ACME.reference_price) <= Decimal("0.50")


# ---- synthetic: shape of a quote -------------------------------------------------------


def test_spread_ticks_and_sizes_are_realistic(source: SyntheticSource) -> None:
    for t in day_times(WED, 200):
        quote = source.quote(ACME, t)
        assert quote is not None
        assert quote.bid is not None and quote.ask is not None and quote.last is not None
        assert quote.bid < quote.ask
        assert quote.ask - quote.bid >= CENT
        assert (quote.ask - quote.bid) / quote.bid < Decimal("0.004")  # a few bps, not percent
        assert quote.bid <= quote.last <= quote.ask
        for price in (quote.bid, quote.ask, quote.last):
            assert price == price.quantize(CENT)
        for size in (quote.bid_size, quote.ask_size, quote.last_size):
            assert 100 <= size <= 3000 and size % 100 == 0
        assert quote.mid == (quote.bid + quote.ask) / 2


def test_sub_dollar_prices_step_by_a_hundredth_of_a_cent(source: SyntheticSource) -> None:
    quote = source.quote(PENNY, et(WED, 11))
    assert quote is not None and quote.bid is not None and quote.ask is not None
    assert quote.bid < Decimal(1)
    assert quote.ask - quote.bid >= Decimal("0.0001")
    assert quote.bid == quote.bid.quantize(Decimal("0.0001"))


def test_price_moves_only_during_sessions(source: SyntheticSource) -> None:
    after_close = source.quote(ACME, et(WED, 20, 0))
    for t in (et(WED, 22), et(THU, 3, 59), et(WED, 23, 59, 59)):
        quote = source.quote(ACME, t)
        assert quote is not None and after_close is not None
        assert (quote.bid, quote.ask, quote.last, quote.volume) == (
            after_close.bid,
            after_close.ask,
            after_close.last,
            after_close.volume,
        )
    friday_close = source.quote(ACME, et(dt.date(2026, 3, 6), 20))
    weekend = source.quote(ACME, et(SAT, 12))
    assert friday_close is not None and weekend is not None
    assert weekend.last == friday_close.last
    assert weekend.ts_ns == friday_close.ts_ns  # the last update: Friday's session end
    # During the session it moves.
    session = {source.quote(ACME, et(WED, 10) + k * 60_000_000_000) for k in range(30)}
    assert len({q.last for q in session if q is not None}) > 5


def test_volume_accumulates_through_the_day_and_restarts_next_day(
    source: SyntheticSource,
) -> None:
    times = [et(WED, 4) + k * 300_000_000_000 for k in range(193)]  # 04:00-20:00 every 5 min
    volumes = [source.quote(ACME, t).volume for t in times]  # type: ignore[union-attr]
    assert volumes == sorted(volumes)
    assert volumes[0] == 0 and volumes[-1] > 100_000
    at_open = source.quote(ACME, et(WED, 9, 30))
    at_close = source.quote(ACME, et(WED, 16))
    assert at_open is not None and at_close is not None
    assert at_close.volume - at_open.volume > 0.8 * volumes[-1]  # most trades in regular hours
    next_morning = source.quote(ACME, et(THU, 4, 1))
    assert next_morning is not None and next_morning.volume < volumes[-1] // 10


def test_index_has_a_level_and_cash_has_no_quote(source: SyntheticSource) -> None:
    index = equity("IDX", "5000.00", "0.15", kind="INDEX")
    quote = source.quote(index, et(WED, 11))
    assert quote is not None
    assert quote.bid is None and quote.ask is None and quote.last_size == 0
    assert quote.last is not None and quote.last > 0
    assert source.quote(equity("USD", "1.00", kind="CASH"), et(WED, 11)) is None


def test_no_quote_before_the_calendar_begins(source: SyntheticSource) -> None:
    assert source.quote(ACME, et(dt.date(2006, 1, 3), 3)) is None


# ---- synthetic: daily bars ------------------------------------------------------------


def test_daily_bar_agrees_with_the_quotes_and_never_peeks_ahead(
    source: SyntheticSource,
) -> None:
    as_of = et(WED, 11, 17, 3)
    bar = source.daily_bar(ACME, WED, as_of)
    now = source.quote(ACME, as_of)
    assert bar is not None and now is not None
    assert bar.trade_date == WED
    assert bar.close == now.last and bar.volume == now.volume
    assert bar.low is not None and bar.high is not None
    for t in range(et(WED, 4), as_of, 97_000_000_000):
        seen = source.quote(ACME, t)
        assert seen is not None and seen.last is not None
        assert bar.low <= seen.last <= bar.high
    # The bar as of 11:17 does not know the afternoon.
    later = source.daily_bar(ACME, WED, et(WED, 20))
    assert later is not None and later.close != bar.close
    assert source.daily_bar(ACME, WED, et(WED, 3)) is None
    assert source.daily_bar(ACME, SAT, et(SAT, 12)) is None
    # The previous close is the prior day's regular-session close.
    tuesday = dt.date(2026, 3, 3)
    tuesday_close = source.quote(ACME, et(tuesday, 16))
    assert tuesday_close is not None and bar.previous_close == tuesday_close.last


def test_market_data_previous_close_and_session_bar(
    source: SyntheticSource, calendar: TradingCalendar
) -> None:
    market = MarketData(source, calendar)
    thursday_bar = market.daily_bar(ACME, et(THU, 10))
    wednesday_close = source.quote(ACME, et(WED, 16))
    assert thursday_bar is not None and wednesday_close is not None
    assert thursday_bar.previous_close == wednesday_close.last
    assert market.reference(ACME, et(THU, 10)).previous_close == wednesday_close.last
    # On a Saturday (and Monday before 04:00) the session in force is Friday's.
    friday = dt.date(2026, 3, 6)
    weekend_bar = market.daily_bar(ACME, et(SAT, 12))
    assert weekend_bar is not None and weekend_bar.trade_date == friday
    monday_early = market.daily_bar(ACME, et(MON, 3))
    assert monday_early is not None and monday_early.trade_date == friday
    assert market.reference(ACME, et(MON, 3)) == market.reference(ACME, et(SAT, 12))


# ---- options ---------------------------------------------------------------------------


def test_greeks_signs_and_units() -> None:
    call = greeks("CALL", 100.0, 100.0, 0.25, 0.30)
    put = greeks("PUT", 100.0, 100.0, 0.25, 0.30)
    assert Decimal(0) < call.delta < Decimal(1)
    assert Decimal(-1) < put.delta < Decimal(0)
    assert call.gamma > 0 and call.gamma == put.gamma
    assert call.vega > 0 and call.vega == put.vega
    assert call.theta < 0
    assert call.rho > 0 > put.rho
    assert call.iv == Decimal("0.300000")
    # vega per 1.0 vol point, rho per 1.0 rate point, theta per trading day (annual / 252).
    bump = 1e-4
    up = theo_value("CALL", 100.0, 100.0, 0.25, 0.30 + bump)
    down = theo_value("CALL", 100.0, 100.0, 0.25, 0.30 - bump)
    assert math.isclose((up - down) / (2 * bump), float(call.vega), rel_tol=1e-3)
    r_up = theo_value("CALL", 100.0, 100.0, 0.25, 0.30, RISK_FREE_RATE + bump)
    r_down = theo_value("CALL", 100.0, 100.0, 0.25, 0.30, RISK_FREE_RATE - bump)
    assert math.isclose((r_up - r_down) / (2 * bump), float(call.rho), rel_tol=1e-3)
    a_day_later = theo_value("CALL", 100.0, 100.0, 0.25 - 1 / 252, 0.30)
    a_day_earlier = theo_value("CALL", 100.0, 100.0, 0.25 + 1 / 252, 0.30)
    assert math.isclose((a_day_later - a_day_earlier) / 2, float(call.theta), rel_tol=1e-2)


def test_listed_options_are_priced_on_a_smile() -> None:
    base, spot, years = 0.30, 100.0, 30 / 365
    at_the_money = smile_volatility(base, 100.0, spot, years)
    low, high = (
        smile_volatility(base, 80.0, spot, years),
        smile_volatility(base, 120.0, spot, years),
    )
    assert at_the_money == base
    assert low > high > at_the_money  # the put skew, and both wings above the money
    assert smile_volatility(base, 10.0, spot, years) == base * 3  # capped
    expiry = dt.date(2026, 3, 20)
    wing = option_greeks(
        "PUT",
        Decimal(80),
        expiry,
        Decimal(100),
        Decimal("0.3"),
        et(expiry, 10) - 30 * 86_400 * 10**9,
    )
    assert wing.iv > Decimal("0.3")


def test_put_call_parity_holds() -> None:
    for spot in (80.0, 100.0, 125.0):
        years = 0.4
        call = greeks("CALL", spot, 100.0, years, 0.35).theo_price
        put = greeks("PUT", spot, 100.0, years, 0.35).theo_price
        forward = Decimal(repr(spot - 100.0 * math.exp(-RISK_FREE_RATE * years)))
        assert abs((call - put) - forward) < Decimal("0.001")


def test_expiry_is_at_four_pm_eastern_and_time_is_floored() -> None:
    expiry = dt.date(2026, 3, 20)
    assert years_to_expiry(expiry, et(expiry, 16)) == pytest.approx(1e-6)
    assert years_to_expiry(expiry, et(expiry, 15)) == pytest.approx(1 / (365 * 24))
    expired = option_greeks(
        "CALL", Decimal(90), expiry, Decimal(100), Decimal("0.3"), et(expiry, 17)
    )
    assert expired.theo_price == Decimal("10.0000")  # intrinsic value
    assert expired.delta == Decimal("1.000000")


def test_option_quotes_follow_the_underlier(source: SyntheticSource) -> None:
    now = et(WED, 11)
    spots = (90.0, 95.0, 100.0, 105.0, 110.0)
    values = [option_quote(ACME_CALL, spot, now).mid or Decimal(0) for spot in spots]
    assert values == sorted(values) and len(set(values)) == len(values)
    puts = [option_quote(ACME_PUT, spot, now).mid or Decimal(0) for spot in spots]
    assert puts == sorted(puts, reverse=True)
    for t in day_times(WED, 60):
        quote = source.quote(ACME_CALL, t)
        assert quote is not None and quote.bid is not None and quote.ask is not None
        assert Decimal("0.01") <= quote.bid < quote.ask
        assert quote.ask - quote.bid >= Decimal("0.05") or quote.bid == Decimal("0.01")
        if quote.bid >= 3:
            assert quote.bid % Decimal("0.05") == 0 and quote.ask % Decimal("0.05") == 0
        assert 1 <= quote.bid_size <= 200 and 1 <= quote.ask_size <= 200
    # Synthetic option prices roughly satisfy put-call parity through the underlier's mid.
    t = et(WED, 13)
    under = source.quote(ACME, t)
    call, put = source.quote(ACME_CALL, t), source.quote(ACME_PUT, t)
    assert under is not None and call is not None and put is not None
    assert under.mid is not None and call.mid is not None and put.mid is not None
    years = years_to_expiry(ACME_CALL.option.expiry, t)  # type: ignore[union-attr]
    forward = float(under.mid) - 100.0 * math.exp(-RISK_FREE_RATE * years)
    assert abs(float(call.mid - put.mid) - forward) < 0.25


def test_deep_out_of_the_money_options_floor_at_a_cent() -> None:
    far = option(ACME, dt.date(2026, 3, 20), "CALL", "300")
    quote = option_quote(far, 100.0, et(WED, 11))
    assert quote.bid == Decimal("0.01") and quote.ask is not None and quote.ask > quote.bid
    assert quote.last == Decimal("0.01")


def test_options_stop_quoting_after_expiry(source: SyntheticSource) -> None:
    expiry = ACME_CALL.option.expiry  # type: ignore[union-attr]
    assert source.quote(ACME_CALL, et(expiry, 15)) is not None
    assert source.quote(ACME_CALL, et(expiry, 21)) is not None  # the expiry day's last quote
    assert source.quote(ACME_CALL, et(expiry + dt.timedelta(days=3), 10)) is None
    assert source.daily_bar(ACME_CALL, expiry + dt.timedelta(days=3), et(MON, 10)) is None


def test_option_bar_has_open_interest(source: SyntheticSource) -> None:
    bar = source.daily_bar(ACME_CALL, WED, et(WED, 12))
    now = source.quote(ACME_CALL, et(WED, 12))
    assert bar is not None and now is not None
    assert bar.open_interest is not None and bar.open_interest > 0
    assert bar.close == now.last and bar.volume == now.volume
    assert bar.low is not None and bar.high is not None and bar.close is not None
    assert bar.low <= bar.close <= bar.high
    assert bar.previous_close is not None
    assert source.daily_bar(ACME, WED, et(WED, 12)).open_interest is None  # type: ignore[union-attr]


def test_market_data_greeks(source: SyntheticSource, calendar: TradingCalendar) -> None:
    market = MarketData(source, calendar)
    now = et(WED, 11)
    result = market.greeks(ACME_CALL, ACME, now)
    assert result is not None
    assert Decimal(0) < result.delta < Decimal(1)
    # near the money the smile is at the underlier's 30% volatility
    assert Decimal("0.29") < result.iv < Decimal("0.32")
    assert market.greeks(ACME, ACME, now) is None  # not an option
    assert market.greeks(ACME_CALL, ACME, et(MON, 10) + 86_400_000_000_000 * 14) is None


# ---- pins ------------------------------------------------------------------------------


def test_pins_override_the_source_and_release(
    source: SyntheticSource, calendar: TradingCalendar
) -> None:
    pins: dict[str, PinnedQuote] = {}
    market = MarketData(source, calendar, lambda: pins)
    now = et(WED, 11)
    assert market.quote(ACME, now) == source.quote(ACME, now)
    pins["ACME"] = PinnedQuote(
        Decimal("150.00"), Decimal("150.10"), 500, 700, Decimal("150.05"), 42
    )
    pinned = market.quote(ACME, now)
    assert pinned is not None
    assert (pinned.bid, pinned.ask, pinned.bid_size, pinned.ask_size, pinned.last) == (
        Decimal("150.00"),
        Decimal("150.10"),
        500,
        700,
        Decimal("150.05"),
    )
    assert pinned.ts_ns == 42
    # The option is now valued from the pinned underlier: deep in the money.
    call = market.quote(ACME_CALL, now)
    assert call is not None and call.bid is not None and call.bid > Decimal(45)
    greeks_now = market.greeks(ACME_CALL, ACME, now)
    assert greeks_now is not None and greeks_now.delta > Decimal("0.95")
    del pins["ACME"]
    assert market.quote(ACME, now) == source.quote(ACME, now)
    assert market.quote(ACME_CALL, now) == source.quote(ACME_CALL, now)


def test_manual_source_has_only_pins(calendar: TradingCalendar) -> None:
    pins: dict[str, PinnedQuote] = {}
    market = MarketData(
        make_source("manual", 0, calendar, resolve), calendar, lambda: pins, resolve
    )
    now = et(WED, 11)
    assert market.quote(ACME, now) is None
    assert market.quote(ACME_CALL, now) is None
    assert market.daily_bar(ACME, now) is None
    assert market.reference(ACME, now).previous_close is None
    pins["ACME"] = PinnedQuote(None, Decimal("101.00"), 0, 100, None, now)
    one_sided = market.quote(ACME, now)
    assert one_sided is not None and one_sided.mid is None and one_sided.volume == 0
    option_quote_now = market.quote(ACME_CALL, now)
    assert option_quote_now is not None and option_quote_now.bid is not None


# ---- replay ----------------------------------------------------------------------------

REPLAY = """ts,symbol,bid,ask,bid_size,ask_size,last,last_size
2026-03-04T14:30:00Z,ACME,99.90,100.10,300,200,100.00,100
2026-03-04T14:30:05.123456789Z,ACME,,,,,100.05,50
2026-03-04T14:30:02Z,ACME  260320C00100000,2.10,2.30,10,12,,
2026-03-04T14:31:00Z,ACME,99.95,100.15,400,,,
2026-03-04T15:00:00Z,acme,,,,,101.50,25
2026-03-05T14:30:00Z,ACME,101.00,101.20,100,100,101.10,10
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "replay.csv"
    path.write_text(text)
    return path


def test_replay_plays_the_file_against_the_clock(tmp_path: Path) -> None:
    src = ReplaySource(write(tmp_path, REPLAY), resolve)
    assert src.quote(ACME, parse_iso("2026-03-04T14:29:59Z")) is None
    first = src.quote(ACME, parse_iso("2026-03-04T14:30:00Z"))
    assert first == Quote(
        Decimal("99.90"),
        Decimal("100.10"),
        300,
        200,
        Decimal("100.00"),
        100,
        100,
        parse_iso("2026-03-04T14:30:00Z"),
    )
    trade_only = src.quote(ACME, parse_iso("2026-03-04T14:30:30Z"))
    assert trade_only is not None
    assert (trade_only.bid, trade_only.ask) == (Decimal("99.90"), Decimal("100.10"))
    assert (trade_only.last, trade_only.last_size, trade_only.volume) == (
        Decimal("100.05"),
        50,
        150,
    )
    requote = src.quote(ACME, parse_iso("2026-03-04T14:45:00Z"))
    assert requote is not None
    assert (requote.bid, requote.bid_size, requote.ask_size) == (Decimal("99.95"), 400, 200)
    assert requote.last == Decimal("100.05")
    next_day = src.quote(ACME, parse_iso("2026-03-05T20:00:00Z"))
    assert next_day is not None and next_day.volume == 10
    # Unpadded or padded OSI, any case: the same series.
    call = src.quote(ACME_CALL, parse_iso("2026-03-04T14:30:03Z"))
    assert call is not None and call.bid == Decimal("2.10")
    # A put absent from the file is valued from the replayed underlier.
    put = src.quote(ACME_PUT, parse_iso("2026-03-04T14:45:00Z"))
    assert put is not None and put.bid is not None and put.bid > 0


def test_replay_daily_bars(tmp_path: Path) -> None:
    src = ReplaySource(write(tmp_path, REPLAY), resolve)
    bar = src.daily_bar(ACME, WED, parse_iso("2026-03-04T14:40:00Z"))
    assert bar is not None
    assert (bar.open, bar.high, bar.low, bar.close, bar.volume) == (
        Decimal("100.00"),
        Decimal("100.05"),
        Decimal("100.00"),
        Decimal("100.05"),
        150,
    )
    assert bar.previous_close is None
    full = src.daily_bar(ACME, WED, parse_iso("2026-03-06T00:00:00Z"))
    assert full is not None and full.close == Decimal("101.50") and full.volume == 175
    thursday = src.daily_bar(ACME, THU, parse_iso("2026-03-05T21:00:00Z"))
    assert thursday is not None and thursday.previous_close == Decimal("101.50")
    assert src.daily_bar(ACME, THU, parse_iso("2026-03-05T14:00:00Z")) is None
    assert src.daily_bar(ACME_CALL, WED, parse_iso("2026-03-05T14:00:00Z")) is None


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("yesterday,ACME,1,2,1,1,,", "replay.csv:3: invalid timestamp `yesterday`"),
        ("2026-03-04T14:30:00Z,ACME,abc,2,1,1,,", "replay.csv:3: invalid bid `abc`"),
        ("2026-03-04T14:30:00Z,ACME,1,2,-5,1,,", "replay.csv:3: bid_size must not be negative"),
        ("2026-03-04T14:30:00Z,ACME,1,2,1.5,1,,", "replay.csv:3: invalid bid_size `1.5`"),
        ("2026-03-04T14:30:00Z,ACME,3,2,1,1,,", "replay.csv:3: crossed quote"),
        ("2026-03-04T14:30:00Z,,1,2,1,1,,", "replay.csv:3: missing symbol"),
        ("2026-03-04T14:30:00Z,ACME,0,2,1,1,,", "replay.csv:3: bid must be positive"),
    ],
)
def test_a_bad_replay_row_names_its_line(tmp_path: Path, row: str, message: str) -> None:
    good = "2026-03-04T14:29:00Z,ACME,1,2,1,1,1.5,1"
    path = write(tmp_path, f"{REPLAY.splitlines()[0]}\n{good}\n{row}\n")
    with pytest.raises(ValueError, match=message.replace("`", ".")):
        ReplaySource(path)


def test_replay_header_must_name_the_columns(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"replay\.csv:1: header lacks column"):
        ReplaySource(write(tmp_path, "ts,symbol,bid\n"))
    with pytest.raises(ValueError, match="empty replay file"):
        ReplaySource(write(tmp_path, ""))


def test_make_source_parses_its_setting(tmp_path: Path, calendar: TradingCalendar) -> None:
    assert isinstance(make_source("synthetic", 1, calendar, resolve), SyntheticSource)
    assert isinstance(make_source("manual", 1, calendar), ManualSource)
    path = write(tmp_path, REPLAY)
    assert isinstance(make_source(f"replay:{path}", 1, calendar, resolve), ReplaySource)
    for bad in ("random", "replay:", ""):
        with pytest.raises(ValueError, match="unknown market data source"):
            make_source(bad, 1, calendar)


# ---- definition figures (previous close, average daily volume, open interest) ---------------


def test_reference_figures_from_the_synthetic_model(
    source: SyntheticSource, calendar: TradingCalendar
) -> None:
    market = MarketData(source, calendar)
    now = et(THU, 11)
    figures = market.reference(ACME, now)
    yesterday = source.daily_bar(ACME, WED, et(WED, 16))
    assert yesterday is not None and figures.previous_close == yesterday.close
    assert figures.previous_close == source.daily_bar(ACME, THU, now).previous_close  # type: ignore[union-attr]
    assert figures.adv is not None and 300_000 <= figures.adv <= 30_000_000
    assert figures.open_interest is None
    contract = market.reference(ACME_CALL, now)
    bar = source.daily_bar(ACME_CALL, THU, now)
    assert bar is not None and contract.previous_close == bar.previous_close
    assert contract.open_interest == bar.open_interest and contract.open_interest
    assert MarketData(ManualSource(), calendar).reference(ACME, now).adv is None


def test_reference_figures_measured_from_replayed_days(
    tmp_path: Path, calendar: TradingCalendar
) -> None:
    path = tmp_path / "replay.csv"
    rows = ["ts,symbol,bid,ask,bid_size,ask_size,last,last_size"]
    for day, last, size in (
        (dt.date(2026, 3, 2), "10.00", 300),
        (dt.date(2026, 3, 3), "11.00", 500),
    ):
        stamp = dt.datetime.combine(day, dt.time(15, 0), dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        rows.append(f"{stamp},ACME,,,,,{last},{size}")
    path.write_text("\n".join(rows) + "\n")
    market = MarketData(ReplaySource(path, resolve), calendar)
    figures = market.reference(ACME, et(WED, 11))
    assert figures.previous_close == Decimal("11.00")  # Tuesday's last trade
    assert figures.adv == 400  # (300 + 500) / 2 days with trades
    assert market.reference(PENNY, et(WED, 11)).previous_close is None  # never replayed
