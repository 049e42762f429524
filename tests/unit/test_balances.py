"""Balances alone: equity, Reg T requirements and buying power, figures worked out by hand.

The rules are the README's ("Balances and buying power", "Options and multi-leg strategies");
every expected figure below is computed in the comment next to it, never read off the code.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest

from oems.domain.accounts import Account, AccountHolder
from oems.domain.balances import (
    AccountValue,
    MarginRates,
    naked_per_share,
    value_account,
)
from oems.domain.positions import Position

D = Decimal
STOCK = MarginRates(
    marginable=True, long_maintenance=D("0.25"), short_maintenance=D("0.30"), is_option=False
)
XYZ = uuid.UUID(int=1)


def account(subtype: str, trade_cash: str, hold: str = "0") -> Account:
    """An account holding `trade_cash`, with `hold` of buying power held by open orders."""
    return Account(
        id=100001,
        owner_id=1,
        short_name="T",
        full_name="Test",
        subtype=subtype,
        options_level=4,
        open_date=dt.date(2025, 10, 1),
        holder=AccountHolder(entity_id=1),
        trade_cash=D(trade_cash),
        settled_cash=D(trade_cash),
        open_order_hold=D(hold),
    )


def position(
    quantity: str,
    price: str,
    *,
    instrument: uuid.UUID = XYZ,
    multiplier: str = "1",
    underlying: uuid.UUID | None = None,
) -> Position:
    """A position opened by one fill of `quantity` (signed) at `price`."""
    held = Position(
        account_id=100001,
        instrument_id=instrument,
        symbol=str(instrument),
        instrument_type="OPTION" if underlying else "COMMON_STOCK",
        multiplier=D(multiplier),
        underlying_instrument_id=underlying,
    )
    held.apply_fill(D(quantity), D(price))
    return held


def value(
    acct: Account,
    held: list[tuple[Position, str, MarginRates]],
    regular_session: bool = True,
) -> AccountValue:
    """Value `acct` with each position at its mark under its rates."""
    marks = {id(p): D(mark) for p, mark, _ in held}
    rates = {id(p): r for p, _, r in held}
    return value_account(
        acct,
        [p for p, _, _ in held],
        lambda p: marks[id(p)],
        lambda p: rates[id(p)],
        regular_session,
    )


def option(contract_type: str, strike: str, spot: str) -> MarginRates:
    """The rates of an option contract on an underlier marked at `spot`."""
    return MarginRates(
        marginable=False,
        long_maintenance=D(1),
        short_maintenance=D(1),
        is_option=True,
        contract_type=contract_type,
        strike=D(strike),
        underlying_price=D(spot),
    )


def test_cash_account_buys_with_its_trade_cash_less_open_order_holds() -> None:
    # Bought 50 XYZ at 100.00 out of 15,000.00: 10,000.00 cash left; open buys hold 1,500.00.
    acct = account("CASH", "10000.00", hold="1500.00")
    for session in (True, False):
        result = value(acct, [(position("50", "100.00"), "110.00", STOCK)], session)
        assert result.long_market_value == D("5500.00")  # 50 x 110
        assert result.equity == D("15500.00")  # 10,000 + 5,500
        assert result.unrealized_pnl == D("500.00")  # 5,500 - 5,000
        assert result.buying_power == D("8500.00")  # 10,000 - 1,500, in and out of session
        assert result.multiplier == 1


def test_reg_t_long_stock() -> None:
    # 400 XYZ bought at 120.00, marked at 125.37: long market value 400 x 125.37 = 50,148.00.
    acct = account("MARGIN", "20000.00", hold="1000.00")
    held = [(position("400", "120.00"), "125.37", STOCK)]
    session, overnight = value(acct, held, True), value(acct, held, False)
    assert session.equity == D("70148.00")  # 20,000 + 50,148
    assert session.initial_requirement == D("25074.00")  # 50% of 50,148
    assert session.maintenance_requirement == D("12537.00")  # 25% of 50,148
    assert session.overnight_buying_power == D("90148.00")  # 2 x (70,148 - 25,074)
    assert session.intraday_buying_power == D("230444.00")  # 4 x (70,148 - 12,537)
    assert session.buying_power == D("229444.00")  # intraday less the 1,000 hold
    assert session.multiplier == 4
    assert overnight.buying_power == D("89148.00")  # overnight less the 1,000 hold
    assert overnight.multiplier == 2
    assert session.unrealized_pnl == D("2148.00")  # 50,148 - 48,000


def test_reg_t_long_at_a_house_maintenance_rate() -> None:
    house = MarginRates(
        marginable=True, long_maintenance=D("0.40"), short_maintenance=D("0.30"), is_option=False
    )
    result = value(account("MARGIN", "20000.00"), [(position("400", "120.00"), "125.37", house)])
    assert result.initial_requirement == D("25074.00")  # Reg T stays 50%
    assert result.maintenance_requirement == D("20059.20")  # 40% of 50,148
    assert result.intraday_buying_power == D("200355.20")  # 4 x (70,148 - 20,059.20)


def test_reg_t_short_stock() -> None:
    # Sold short 200 XYZ at 50.00 (proceeds in the 60,000.00 cash), marked at 50.25.
    result = value(account("MARGIN", "60000.00"), [(position("-200", "50.00"), "50.25", STOCK)])
    assert result.short_market_value == D("-10050.00")  # -200 x 50.25
    assert result.long_market_value == 0
    assert result.equity == D("49950.00")  # 60,000 - 10,050
    assert result.initial_requirement == D("5025.00")  # 50% of 10,050
    assert result.maintenance_requirement == D("3015.00")  # 30% of 10,050
    assert result.overnight_buying_power == D("89850.00")  # 2 x (49,950 - 5,025)
    assert result.intraday_buying_power == D("187740.00")  # 4 x (49,950 - 3,015)
    assert result.unrealized_pnl == D("-50.00")  # -10,050 against -10,000 received


def test_a_security_that_is_not_marginable_needs_all_of_its_value() -> None:
    plain = MarginRates(
        marginable=False, long_maintenance=D("0.25"), short_maintenance=D("0.30"), is_option=False
    )
    result = value(account("MARGIN", "30000.00"), [(position("100", "8.00"), "8.00", plain)])
    assert result.initial_requirement == D("800.00")  # 100% of 100 x 8
    assert result.overnight_buying_power == D("60000.00")  # 2 x (30,800 - 800)


@pytest.mark.parametrize(
    ("cash", "overnight", "intraday", "multiplier"),
    [
        ("25000.00", "50000.00", "100000.00", 4),  # at the line: 4 x equity intraday
        ("24999.99", "49999.98", "49999.98", 2),  # a cent below: the overnight figure
    ],
)
def test_intraday_buying_power_starts_at_the_pattern_day_trader_minimum(
    cash: str, overnight: str, intraday: str, multiplier: int
) -> None:
    result = value(account("MARGIN", cash), [])
    assert result.overnight_buying_power == D(overnight)  # 2 x equity
    assert result.intraday_buying_power == D(intraday)
    assert result.intraday_multiplier == multiplier
    assert result.buying_power == D(intraday)  # in the regular session
    assert value(account("MARGIN", cash), [], False).buying_power == D(overnight)


@pytest.mark.parametrize(
    ("cash", "overnight", "intraday"),
    [
        # 200 XYZ at 100.00: initial 10,000.00, maintenance 5,000.00.
        ("5000.00", "30000.00", "80000.00"),  # equity 25,000: 2 x 15,000, 4 x 20,000
        ("4999.99", "29999.98", "29999.98"),  # equity 24,999.99: 2 x 14,999.99 both
    ],
)
def test_the_line_counts_equity_not_cash(cash: str, overnight: str, intraday: str) -> None:
    result = value(account("MARGIN", cash), [(position("200", "100.00"), "100.00", STOCK)])
    assert result.overnight_buying_power == D(overnight)
    assert result.intraday_buying_power == D(intraday)


def test_buying_power_never_goes_negative() -> None:
    # 200 XYZ on 30,000.00 of debit, marked at 100.00: equity -10,000.00.
    result = value(account("MARGIN", "-30000.00"), [(position("200", "100.00"), "100.00", STOCK)])
    assert result.equity == D("-10000.00")
    assert result.overnight_buying_power == 0
    assert result.intraday_buying_power == 0
    held = value(account("MARGIN", "1000.00", hold="5000.00"), [])
    assert held.buying_power == 0  # 2 x 1,000 raw, less a 5,000 hold


def test_long_options_are_paid_in_full() -> None:
    # 2 calls bought at 3.45 x 100: market value 690.00, all of it required.
    underlier = uuid.UUID(int=7)
    calls = position(
        "2", "3.45", instrument=uuid.UUID(int=8), multiplier="100", underlying=underlier
    )
    result = value(account("MARGIN", "10000.00"), [(calls, "3.45", option("CALL", "100", "101"))])
    assert result.long_market_value == D("690.00")
    assert result.initial_requirement == D("690.00")
    assert result.maintenance_requirement == D("690.00")
    assert result.overnight_buying_power == D("20000.00")  # 2 x (10,690 - 690)
    assert result.intraday_buying_power == D("20000.00")  # equity below 25,000: overnight


@pytest.mark.parametrize(
    ("contract_type", "strike", "spot", "per_share"),
    [
        ("CALL", "110", "100", "10"),  # 20% of 100 = 20, less 10 out of the money
        ("CALL", "90", "100", "20"),  # in the money: 20% of 100
        ("CALL", "150", "100", "10"),  # 20 - 50 < floor: 10% of the underlier
        ("PUT", "95", "100", "15"),  # 20 - 5 out of the money
        ("PUT", "105", "100", "20"),  # in the money: 20% of 100
        ("PUT", "60", "100", "6"),  # 20 - 40 < floor: 10% of the strike, 6
    ],
)
def test_naked_margin_per_share(contract_type: str, strike: str, spot: str, per_share: str) -> None:
    assert naked_per_share(contract_type, D(strike), D(spot)) == D(per_share)


def short_option(premium: str, n: int) -> Position:
    """One contract of instrument `n` (an option on underlier 7) sold at `premium`."""
    return position(
        "-1",
        premium,
        instrument=uuid.UUID(int=n),
        multiplier="100",
        underlying=uuid.UUID(int=7),
    )


Held = list[tuple[Position, str, MarginRates]]


def covered_call() -> Held:
    """100 shares of underlier 7 at 100.00 and the 110 call sold at 2.00 against them."""
    shares = position("100", "100.00", instrument=uuid.UUID(int=7))
    call = short_option("2.00", 8)
    return [(shares, "100.00", STOCK), (call, "2.00", option("CALL", "110", "100"))]


def put_credit_spread() -> Held:
    """The 100 put sold at 3.00, the 95 put bought at 1.50, the underlier at 102: width 500."""
    short_put = short_option("3.00", 8)
    long_put = position(
        "1", "1.50", instrument=uuid.UUID(int=9), multiplier="100", underlying=uuid.UUID(int=7)
    )
    return [
        (short_put, "3.00", option("PUT", "100", "102")),
        (long_put, "1.50", option("PUT", "95", "102")),
    ]


def test_an_uncovered_short_call_needs_premium_plus_naked_margin() -> None:
    call = short_option("2.00", 8)
    result = value(account("MARGIN", "50000.00"), [(call, "2.00", option("CALL", "110", "100"))])
    assert result.short_market_value == D("-200.00")
    assert result.initial_requirement == D("1200.00")  # 200 premium + 100 x 10
    assert result.maintenance_requirement == D("1200.00")
    assert result.equity == D("49800.00")
    assert result.overnight_buying_power == D("97200.00")  # 2 x (49,800 - 1,200)
    assert result.intraday_buying_power == D("194400.00")  # 4 x (49,800 - 1,200)


def test_a_covered_call_needs_nothing_beyond_its_shares() -> None:
    held = covered_call()
    result = value(account("MARGIN", "40200.00"), held)
    assert result.initial_requirement == D("5000.00")  # 50% of 10,000; the call adds nothing
    assert result.maintenance_requirement == D("2500.00")  # 25% of 10,000


def test_a_credit_spread_needs_its_width_less_its_value() -> None:
    held = put_credit_spread()
    result = value(account("MARGIN", "50150.00"), held)
    # Separately: 150 long premium + 300 + 100 x max(20.40 - 2, 10.20) = 2,290; together the
    # width 500 less the spread's value -150 (150 - 300) = 350.
    assert result.initial_requirement == D("350.00")
    assert result.maintenance_requirement == D("350.00")


def test_a_cash_account_keeps_a_short_puts_strike_secured() -> None:
    # Sold one 95 put at 1.50 out of 20,000.00: 20,150.00 cash, of which 9,500.00 (the strike x
    # 100, the whole loss at expiry) secures the put while it is held.
    put = short_option("1.50", 8)
    for session in (True, False):
        result = value(
            account("CASH", "20150.00"), [(put, "1.50", option("PUT", "95", "100"))], session
        )
        assert result.buying_power == D("10650.00")  # 20,150 - 9,500


def test_a_cash_account_secures_a_credit_spread_by_its_width() -> None:
    held = put_credit_spread()
    result = value(account("CASH", "20150.00"), held)
    assert result.buying_power == D("19650.00")  # 20,150 - the 500 width


def test_a_cash_accounts_covered_call_secures_nothing_more() -> None:
    held = covered_call()
    result = value(account("CASH", "10200.00", hold="200.00"), held)
    assert result.buying_power == D("10000.00")  # its cash less the open-order hold


def test_unsettled_cash_keeps_one_credit_and_one_debit_per_settlement_date() -> None:
    acct = account("MARGIN", "1000")
    monday, tuesday = dt.date(2025, 10, 20), dt.date(2025, 10, 21)
    for settles_on, amount in [
        (monday, "-100.25"),
        (monday, "40.10"),
        (monday, "-0.75"),
        (tuesday, "-5"),
        (monday, "9.90"),
        (tuesday, "3"),
    ]:
        acct.add_unsettled(settles_on, Decimal(amount))
    assert acct.unsettled == [
        (monday, Decimal("-101.00")),
        (monday, Decimal("50.00")),
        (tuesday, Decimal("-5")),
        (tuesday, Decimal("3")),
    ]
