"""The seeded instrument master: reference data, option chains, resolution and search."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from decimal import Decimal

import pytest

from oems.domain.ids import stable_uuid
from oems.domain.instruments import Instrument, OptionTerms, normalize_osi, osi_symbol, parse_osi
from oems.market.calendar import TradingCalendar
from oems.market.instrument_master import (
    EQUITY,
    OPTION,
    InstrumentMaster,
    build_instrument_master,
    listed_expiries,
    strike_increment,
)

AS_OF = dt.date(2025, 10, 15)  # a Wednesday; the date the API tests' simulated clock shows
GOOD_FRIDAY_WEEK = dt.date(2026, 3, 30)  # Friday 2026-04-03 is Good Friday, an exchange holiday


@pytest.fixture(scope="module")
def calendar() -> TradingCalendar:
    return TradingCalendar()


@pytest.fixture(scope="module")
def master(calendar: TradingCalendar) -> InstrumentMaster:
    return build_instrument_master(AS_OF, calendar)


def _terms(inst: Instrument) -> OptionTerms:
    assert inst.option is not None
    return inst.option


def test_seed_has_the_usual_names_and_enough_of_them(master: InstrumentMaster) -> None:
    symbols = {e.symbol for e in master.equities()}
    assert len(symbols) >= 55
    for symbol in ("AAPL", "MSFT", "GOOG", "GOOGL", "AMZN", "TSLA", "NVDA", "META", "SPY", "QQQ"):
        assert symbol in symbols
    assert [e.symbol for e in master.equities()] == sorted(symbols)
    assert master.by_symbol("AAPL") is not None
    assert master.by_symbol("AAPL").name == "Apple Inc."  # type: ignore[union-attr]


def test_reference_data_is_realistic(master: InstrumentMaster) -> None:
    for equity in master.equities():
        assert equity.instrument_type in ("COMMON_STOCK", "PREFERRED_STOCK")
        assert equity.venue in {"XNMS", "XNYS", "ARCX"}
        assert isinstance(equity.reference_price, Decimal) and equity.reference_price > 0
        assert isinstance(equity.volatility, Decimal) and 0 < equity.volatility < 2
        assert equity.option is None
        if equity.is_marginable:
            assert equity.long_margin_rate is not None and equity.short_margin_rate is not None
            assert Decimal("0.25") <= equity.long_margin_rate < 1
        else:
            assert equity.long_margin_rate in (None, Decimal(1))
    spy = master.by_symbol("SPY")
    assert spy is not None and spy.is_etf and spy.venue == "ARCX"
    assert master.by_symbol("JPM").venue == "XNYS"  # type: ignore[union-attr]
    preferred = [e.symbol for e in master.equities() if e.instrument_type == "PREFERRED_STOCK"]
    assert preferred == ["BAC.PRL", "JPM.PRC"]  # the seeds' newer security type


def test_flags_cover_every_case(master: InstrumentMaster) -> None:
    equities = master.equities()
    count: Counter[str] = Counter()
    for e in equities:
        for flag in (
            "is_short_prohibited",
            "is_liquidation_only",
            "is_ptp",
            "is_threshold_security",
        ):
            count[flag] += getattr(e, flag)
        count["not_tradable"] += not e.is_tradable
        count["hard_to_borrow"] += not e.easy_to_borrow
        count["fractionable"] += e.is_fractionable
        count["non_marginable"] += not e.is_marginable
    assert count["is_short_prohibited"] == 1
    assert count["is_liquidation_only"] == 1
    assert count["not_tradable"] == 1
    assert count["is_ptp"] == 1
    assert count["is_threshold_security"] >= 2
    assert count["hard_to_borrow"] >= 3
    assert count["non_marginable"] >= 2
    assert len(equities) // 2 < count["fractionable"] < len(equities)
    assert master.by_symbol("ET").is_ptp  # type: ignore[union-attr]
    assert not master.by_symbol("GME").easy_to_borrow  # type: ignore[union-attr]
    volatile, steady = master.by_symbol("TSLA"), master.by_symbol("KO")
    assert volatile is not None and steady is not None
    assert volatile.long_margin_rate > steady.long_margin_rate  # type: ignore[operator]


def test_chains_listed_for_the_big_underliers(master: InstrumentMaster) -> None:
    roots = {u.symbol for u in master.underliers()}
    assert len(roots) >= 12
    assert {"SPY", "QQQ", "AAPL", "MSFT", "NVDA", "TSLA", "AMZN", "META", "GOOG", "AMD"} <= roots
    options = [i for i in master.all() if i.is_option]
    assert 2000 <= len(options) <= 10000
    assert master.all()[: len(master.equities())] == master.equities()
    assert len(master) == len(master.equities()) + len(options)


def test_osi_round_trip_and_option_fields(master: InstrumentMaster) -> None:
    for option in master.options():
        terms = _terms(option)
        assert option.symbol == osi_symbol(
            terms.root, terms.expiry, terms.contract_type, terms.strike
        )
        assert parse_osi(option.symbol) == (
            terms.root,
            terms.expiry,
            terms.contract_type,
            terms.strike,
        )
        assert normalize_osi(option.symbol.replace(" ", "")) == option.symbol
        assert option.id == stable_uuid("option", option.symbol)
        assert option.instrument_type == "OPTION"
        assert terms.multiplier == 100 and terms.exercise_style == "AMERICAN"
        underlier = master.get(terms.underlying_id)
        assert underlier is not None and underlier.symbol == terms.root
        assert option.volatility == underlier.volatility
        assert option.reference_price >= Decimal("0.01")
    aapl = master.by_symbol("AAPL")
    assert aapl is not None
    sample = next(o for o in master.options_of(aapl.id) if _terms(o).strike == 250)
    month = f"{_terms(sample).expiry:%b} {_terms(sample).expiry.day} {_terms(sample).expiry.year}"
    assert sample.name == f"AAPL {month} 250 Call"


def test_resolve_accepts_uuid_ticker_and_osi(master: InstrumentMaster) -> None:
    aapl = master.by_symbol("AAPL")
    assert aapl is not None
    assert master.resolve(str(aapl.id)) is aapl
    assert master.resolve(str(aapl.id).upper()) is aapl
    assert master.get(aapl.id) is aapl
    assert master.resolve("aapl") is aapl
    assert master.resolve(" AAPL ") is aapl
    option = master.options_of(aapl.id)[0]
    padded = option.symbol
    assert " " in padded and len(padded) == 21
    assert master.resolve(padded) is option
    assert master.resolve(padded.replace(" ", "")) is option
    assert master.resolve(padded.lower()) is option
    assert master.resolve(str(option.id)) is option
    assert master.by_symbol("BRK/B") is master.by_symbol("brk.b") is not None
    for unknown in (
        "AAP",
        "",
        "   ",
        "AAPL  991231C00150000",
        "00000000-0000-0000-0000-000000000000",
    ):
        assert master.resolve(unknown) is None


def test_ids_are_stable_across_builds(calendar: TradingCalendar, master: InstrumentMaster) -> None:
    again = build_instrument_master(AS_OF, calendar)
    assert [i.id for i in again.all()] == [i.id for i in master.all()]
    for equity in master.equities():
        assert equity.id == stable_uuid("equity", equity.symbol)
    later = build_instrument_master(AS_OF + dt.timedelta(days=7), calendar)
    shared = {i.symbol for i in master.all()} & {i.symbol for i in later.all()}
    assert len(shared) > 1000
    for symbol in shared:
        assert later.by_symbol(symbol).id == master.by_symbol(symbol).id  # type: ignore[union-attr]


def test_chain_shape(master: InstrumentMaster) -> None:
    for underlier in master.underliers():
        chain = master.options_of(underlier.id)
        keys = [(_terms(o).expiry, _terms(o).strike, _terms(o).contract_type) for o in chain]
        assert keys == sorted(keys, key=lambda k: (k[0], k[1], k[2] != "CALL"))
        assert len(set(keys)) == len(keys)
        per_strike = Counter((k[0], k[1]) for k in keys)
        assert set(per_strike.values()) == {2}  # a CALL and a PUT at every strike
        step = strike_increment(underlier.reference_price)
        for _, strike, _ in keys:
            assert strike % step == 0
            assert abs(strike - underlier.reference_price) <= underlier.reference_price / 4
        expiries = master.expiry_dates(underlier.id)
        assert expiries == sorted({k[0] for k in keys})
        assert expiries[0] >= AS_OF and len(expiries) >= 9
        assert expiries[-1] >= AS_OF + dt.timedelta(days=150)
    spy = master.by_symbol("SPY")
    assert spy is not None
    # Standard monthlies: the third Friday of the month.
    for third_friday in (dt.date(2025, 10, 17), dt.date(2025, 11, 21), dt.date(2025, 12, 19)):
        assert third_friday in master.expiry_dates(spy.id)
    assert master.options_of(stable_uuid("equity", "NOPE")) == []
    assert master.expiry_dates(master.by_symbol("KO").id) == []  # type: ignore[union-attr]


def test_expiries_avoid_exchange_holidays(calendar: TradingCalendar) -> None:
    expiries = [day for day, _ in listed_expiries(GOOD_FRIDAY_WEEK, calendar)]
    assert dt.date(2026, 4, 3) not in expiries
    assert dt.date(2026, 4, 2) in expiries  # moved to the Thursday before Good Friday
    assert all(calendar.day(day).is_trading_day for day in expiries)
    assert all(day >= GOOD_FRIDAY_WEEK for day in expiries)
    monthly = [day for day, is_monthly in listed_expiries(GOOD_FRIDAY_WEEK, calendar) if is_monthly]
    assert len(monthly) == 6 and monthly[0] == dt.date(2026, 4, 17)
    # Juneteenth 2026 falls on the June monthly's Friday.
    assert dt.date(2026, 6, 18) in monthly


def test_search_ranks_exact_then_prefix_then_name(master: InstrumentMaster) -> None:
    assert [i.symbol for i in master.search("GOOG", {EQUITY})] == ["GOOG", "GOOGL"]
    assert [i.symbol for i in master.search("apple", {EQUITY})] == ["AAPL"]
    assert master.search("aapl", {EQUITY})[0].symbol == "AAPL"
    found = [i.symbol for i in master.search("SP", {EQUITY})]
    assert found[0] == "SPY"
    first_name_hit = next(n for n, s in enumerate(found) if not s.startswith("SP"))
    assert all(s.startswith("SP") for s in found[:first_name_hit])
    assert [i.symbol for i in master.search("energy", {EQUITY})] == ["XLE", "ET"]  # PTP last
    assert "ET" not in {i.symbol for i in master.search("energy", {EQUITY}, include_ptp=False)}
    assert master.search("twitter", {EQUITY}) == []
    assert [i.symbol for i in master.search("twitter", {EQUITY}, include_inactive=True)] == ["TWTR"]
    assert [i.symbol for i in master.search("taiwan", {EQUITY}, country="tw")] == ["TSM"]
    assert master.search("taiwan", {EQUITY}, country="US") == []
    assert master.search("apple", {EQUITY}, currency="EUR") == []
    assert master.search("AAPL", {OPTION})[0].is_option
    assert master.search("", {EQUITY}) == []


def test_search_options_by_osi_prefix_and_phrase(master: InstrumentMaster) -> None:
    aapl = master.by_symbol("AAPL")
    assert aapl is not None
    option = master.options_of(aapl.id)[10]
    assert master.search(option.symbol, {OPTION}) == [option]
    assert master.search(option.symbol.replace(" ", "").lower(), {OPTION}) == [option]
    assert master.search(option.symbol, {EQUITY}) == []
    expiry = _terms(option).expiry
    prefix = f"AAPL  {expiry:%y%m%d}"
    by_prefix = master.search(prefix, {OPTION})
    assert by_prefix == [o for o in master.options_of(aapl.id) if _terms(o).expiry == expiry]
    assert master.search(prefix.replace(" ", ""), {OPTION}) == by_prefix
    phrase = master.search("AAPL Dec 250 call", {OPTION})
    assert [o.symbol for o in phrase] == ["AAPL  251219C00250000"]
    assert [o.symbol for o in master.search("aapl dec 19 2025 250 put", {OPTION})] == [
        "AAPL  251219P00250000"
    ]
    assert master.search("AAPL Dec 251 call", {OPTION}) == []
    assert master.search("ZZZZ Dec 250 call", {OPTION}) == []
    both = master.search("AAPL", {EQUITY, OPTION})
    assert both[0] is aapl and all(o.is_option for o in both[1:])


def test_build_lists_thousands_of_instruments(calendar: TradingCalendar) -> None:
    # How long the build takes is a benchmark's business (bench/), never a timed test's.
    assert len(build_instrument_master(AS_OF, calendar)) > 2000
