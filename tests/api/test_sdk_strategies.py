"""Multi-leg option strategies over a real socket with the official `clearstreet` SDK (0.11.0),
against one server with only pinned quotes (`--market-data manual`), in the margin account
(Reg T, options level 4, $1,000,000):

1. a call debit spread and a put credit spread on AAPL (2025-10-17 weekly, legs by OSI symbol)
   fill as packages: the orders' legs, executions per leg newest first, positions per leg, and
   cash, buying power and margin details to the cent, computed here by hand;
2. the submit-orders page's butterfly sent as written (legs by UUID, `ratio` strings, LIMIT DAY,
   no `limit_price`, no `quantity`) rests at its midpoint limit, then fills as one package when
   the middle leg's quote moves;
3. a resting strategy replaced (price and quantity), another canceled, then every resulting
   position closed with `DELETE …/positions`: the account ends flat, cash to the cent;
4. a naked call sale in the cash account (options level 1) is refused: OPTIONS_LEVEL, level 4.

The SDK has no multi-leg request type (`NewOrderRequestParam` has no `legs`), so strategies go
through the typed `client.v1.orders.with_raw_response.submit_orders(account_id, orders=[...])`
with plain dicts: the SDK's transform passes the unknown `legs` key through unchanged (its
`extra_body` cannot help, the body being a JSON array). The raw responses are parsed by the
SDK's own models too.

The scenarios run in that order on one server, each a module-scoped fixture that records what
it observed; the tests assert on those records, one aspect each. The clock stays frozen at
2025-10-15 10:30 US/Eastern (regular session) but for one `POST /admin/v1/clock/advance`;
nothing waits on the wall clock.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import ROUND_FLOOR
from typing import Any

import pytest
from clearstreet import BadRequestError
from tests.support.servers import ServerProcess, start_server
from tests.support.trading_helpers import CENT, D, Desk, cents

MARGIN = 100001
CASH = 100002
START_CASH = D("1000000")
MULTIPLIER = D(100)
INTRADAY = D(4)  # Reg T intraday buying power: 4 x (equity - maintenance requirement)
OVERNIGHT = D(2)  # 2 x (equity - initial requirement)
HOLD_WEIGHT = D(4)  # an option order holds its max loss times the multiplier in force (4x)
OPEN_STATUSES = ("PENDING_NEW", "NEW", "PARTIALLY_FILLED", "PENDING_CANCEL", "PENDING_REPLACE")


def osi(kind: str, strike: int) -> str:
    """The OSI symbol of an AAPL 2025-10-17 weekly contract."""
    return f"AAPL  251017{kind}{strike * 1000:08d}"


C280, C290, P270, P260 = osi("C", 280), osi("C", 290), osi("P", 270), osi("P", 260)
C295, C300, C305 = osi("C", 295), osi("C", 300), osi("C", 305)
C310, C315, P250, P240 = osi("C", 310), osi("C", 315), osi("P", 250), osi("P", 240)

# The quotes in force: pinned through the admin API, changed only through `Market.pin`.
SPOT = ("279.99", "280.01")  # AAPL, midpoint 280.00


class Quotes:
    """Quotes as pinned: touches and marks (midpoints) computed from what the server was given."""

    def __init__(self, quotes: dict[str, tuple[D, D]]) -> None:
        self.quotes = dict(quotes)

    def bid(self, symbol: str) -> D:
        return self.quotes[symbol][0]

    def ask(self, symbol: str) -> D:
        return self.quotes[symbol][1]

    def mid(self, symbol: str) -> D:
        bid, ask = self.quotes[symbol]
        return (bid + ask) / 2


class Market(Quotes):
    """The quotes in force, pinned through the admin API only here."""

    def __init__(self, desk: Desk) -> None:
        super().__init__({})
        self.desk = desk

    def pin(self, symbol: str, bid: str, ask: str, size: int = 100) -> None:
        self.desk.pin(symbol, bid, ask, bid_size=size, ask_size=size)
        self.quotes[symbol] = (D(bid), D(ask))

    def snapshot(self) -> Quotes:
        """The quotes in force now, kept for the tests that check what was seen then."""
        return Quotes(self.quotes)


def leg(security: str, side: str, ratio: str = "1") -> dict[str, str]:
    return {"security": security, "side": side, "ratio": ratio}


def strategy(
    client_id: str, legs: list[dict[str, str]], quantity: str, limit_price: str
) -> dict[str, Any]:
    """A LIMIT DAY strategy order in the wire shape (net limit: debit positive, credit negative)."""
    return {
        "id": client_id,
        "legs": legs,
        "order_type": "LIMIT",
        "time_in_force": "DAY",
        "quantity": quantity,
        "limit_price": limit_price,
    }


def market_value(quantity: int, price: D) -> D:
    return quantity * MULTIPLIER * price


# ---- the server and the desk ----------------------------------------------------------------


@pytest.fixture(scope="module")
def manual_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One server for the file: no market data but the quotes pinned here."""
    proc = start_server(
        tmp_path_factory.mktemp("strategies") / "oems.db", "--market-data", "manual"
    )
    yield proc
    proc.stop()
    log = proc.log_path.read_text()
    assert "Traceback" not in log and " 500 " not in log, log[-4000:]


@pytest.fixture(scope="module")
def desk(manual_server: ServerProcess, vendor_spec: dict[str, Any]) -> Iterator[Desk]:
    trading_desk = Desk(manual_server, vendor_spec, MARGIN)
    yield trading_desk
    trading_desk.close()


@pytest.fixture(scope="module")
def market(desk: Desk) -> Market:
    quotes = Market(desk)
    quotes.pin("AAPL", *SPOT, size=1000)
    return quotes


# ---- 1. vertical spreads ------------------------------------------------------------------------


@dataclass
class Vertical:
    call_submitted: dict[str, Any]
    call: dict[str, Any]
    after_call: dict[str, Any]
    put: dict[str, Any]
    executions: list[dict[str, Any]]
    positions: dict[str, dict[str, Any]]
    balances: dict[str, Any]
    aapl_id: str
    ids: dict[str, str]
    quotes: Quotes


@pytest.fixture(scope="module")
def vertical(desk: Desk, market: Market) -> Vertical:
    """2 x 280/290 call debit spread at a 3.20 limit (touch net 5.10 - 1.95 = 3.15), then, a
    minute later, 3 x 270/260 put credit spread at a -0.95 limit (touch net -2.00 + 1.00 = -1.00).
    Both are marketable: they fill on arrival at the legs' touches."""
    market.pin(C280, "5.00", "5.10")
    market.pin(C290, "1.95", "2.00")
    (call_submitted,) = desk.submit(
        strategy("call-debit", [leg(C280, "BUY"), leg(C290, "SELL")], "2", "3.20")
    )
    desk.settle()
    call = desk.order(call_submitted["id"])
    after_call = desk.balances()

    desk.advance(60)
    market.pin(P270, "2.00", "2.10")
    market.pin(P260, "0.90", "1.00")
    (put_submitted,) = desk.submit(
        strategy("put-credit", [leg(P270, "SELL"), leg(P260, "BUY")], "3", "-0.95")
    )
    desk.settle()
    put = desk.order(put_submitted["id"])
    listed = desk.sdk.v1.instruments.with_raw_response.get_option_contracts(
        contract_ids=[C280, C290, P270, P260]
    )
    body = listed.json()
    desk.check_schema("GET", "/v1/instruments/options/contracts", body, listed.status_code)
    ids = {c["symbol"]: c["id"] for c in body["data"]}
    assert set(ids) == {C280, C290, P270, P260}
    (aapl_id,) = {c["underlying_instrument_id"] for c in body["data"]}
    return Vertical(
        call_submitted=call_submitted,
        call=call,
        after_call=after_call,
        put=put,
        executions=desk.executions(),
        positions=desk.positions(),
        balances=desk.balances(),
        aapl_id=aapl_id,
        ids=ids,
        quotes=market.snapshot(),
    )


def test_vertical_spreads_are_accepted_pending_new(vertical: Vertical) -> None:
    order = vertical.call_submitted
    assert order["status"] == "PENDING_NEW"
    assert order["client_order_id"] == "call-debit"
    assert (order["quantity"], order["filled_quantity"], order["leaves_quantity"]) == (
        "2",
        "0",
        "2",
    )
    assert order["average_fill_price"] is None
    assert (order["instrument_id"], order["symbol"], order["instrument_type"]) == (None,) * 3
    assert [(x["symbol"], x["side"], x["ratio"]) for x in order["legs"]] == [
        (C280, "BUY", "1"),
        (C290, "SELL", "1"),
    ]


def test_submit_response_legs_are_as_of_the_response(vertical: Vertical) -> None:
    """The submit response is the order as accepted: its legs do not show the package fill the
    venue makes right after (the order's snapshot copies its legs; fixed in 27d2491)."""
    legs = vertical.call_submitted["legs"]
    assert [(x["filled_quantity"], x["average_fill_price"]) for x in legs] == [("0", None)] * 2


def test_vertical_spreads_fill_as_packages_at_the_net_of_the_touches(vertical: Vertical) -> None:
    quotes = vertical.quotes
    call, put = vertical.call, vertical.put
    assert (call["status"], call["filled_quantity"], call["leaves_quantity"]) == (
        "FILLED",
        "2",
        "0",
    )
    assert (put["status"], put["filled_quantity"], put["leaves_quantity"]) == ("FILLED", "3", "0")
    # The net price per unit: sum of side x ratio x leg price (debit positive, credit negative).
    call_net = quotes.ask(C280) - quotes.bid(C290)  # 3.15, within the 3.20 limit
    put_net = -quotes.bid(P270) + quotes.ask(P260)  # -1.00, a credit beyond the -0.95 limit
    assert (call["average_fill_price"], call["limit_price"], call["side"]) == (
        cents(call_net),
        "3.20",
        "BUY",
    )
    assert (put["average_fill_price"], put["limit_price"], put["side"]) == (
        cents(put_net),
        "-0.95",
        "SELL",
    )
    for order in (call, put):
        assert (order["instrument_id"], order["symbol"], order["instrument_type"]) == (None,) * 3
        assert (order["order_type"], order["time_in_force"]) == ("LIMIT", "DAY")
        assert order["underlying_instrument_id"] == vertical.aapl_id


def test_vertical_orders_report_each_leg(vertical: Vertical) -> None:
    ids = vertical.ids

    def expected(symbol: str, side: str, quantity: str, price: str) -> dict[str, str]:
        return {
            "instrument_id": ids[symbol],
            "symbol": symbol,
            "instrument_type": "OPTION",
            "side": side,
            "ratio": "1",
            "quantity": quantity,
            "filled_quantity": quantity,
            "average_fill_price": price,
        }

    assert vertical.call["legs"] == [
        expected(C280, "BUY", "2", "5.10"),
        expected(C290, "SELL", "2", "1.95"),
    ]
    assert vertical.put["legs"] == [
        expected(P270, "SELL", "3", "2.00"),
        expected(P260, "BUY", "3", "1.00"),
    ]


def test_vertical_executions_are_per_leg_newest_first(vertical: Vertical) -> None:
    call_id, put_id = vertical.call["id"], vertical.put["id"]
    rows = [
        (e["order_id"], e["symbol"], e["instrument_id"], e["side"], e["quantity"], e["price"])
        for e in vertical.executions
    ]
    ids = vertical.ids
    assert rows == [
        (put_id, P260, ids[P260], "BUY", "3", "1.00"),
        (put_id, P270, ids[P270], "SELL", "3", "2.00"),
        (call_id, C290, ids[C290], "SELL", "2", "1.95"),
        (call_id, C280, ids[C280], "BUY", "2", "5.10"),
    ]
    times = [e["transaction_time"] for e in vertical.executions]
    assert times == ["2025-10-15T14:31:00.000000000Z"] * 2 + ["2025-10-15T14:30:00.000000000Z"] * 2
    assert {e["underlying_instrument_id"] for e in vertical.executions} == {vertical.aapl_id}
    assert {e["venue"] for e in vertical.executions} == {"BATO"}


def test_vertical_positions_are_per_leg(vertical: Vertical) -> None:
    quotes = vertical.quotes
    fills = {
        C280: (2, D("5.10")),
        C290: (-2, D("1.95")),
        P270: (-3, D("2.00")),
        P260: (3, D("1.00")),
    }
    assert list(vertical.positions) == sorted(fills)
    for symbol, (quantity, price) in fills.items():
        row = vertical.positions[symbol]
        cost = market_value(quantity, price)
        value = market_value(quantity, quotes.mid(symbol))
        assert (row["instrument_id"], row["instrument_type"]) == (vertical.ids[symbol], "OPTION")
        assert (row["quantity"], row["available_quantity"]) == (str(quantity), str(abs(quantity)))
        assert row["position_type"] == ("LONG" if quantity > 0 else "SHORT")
        assert D(row["avg_price"]) == price
        assert row["cost_basis"] == cents(cost), symbol
        assert row["market_value"] == cents(value), symbol
        assert row["unrealized_pnl"] == cents(value - cost), symbol
        assert row["unrealized_pnl_pct"] == str(((value - cost) / abs(cost) * 100).quantize(CENT))
        assert row["underlying_instrument_id"] == vertical.aapl_id


def _balances_picture(balances: dict[str, Any]) -> dict[str, Any]:
    margin = balances["margin_details"]
    return {
        "trade_cash": balances["trade_cash"],
        "equity": balances["equity"],
        "long_market_value": balances["long_market_value"],
        "short_market_value": balances["short_market_value"],
        "open_order_adjustment": balances["open_order_adjustment"],
        "buying_power": balances["buying_power"],
        "multiplier": balances["multiplier"],
        "initial_margin_requirement": margin["initial_margin_requirement"],
        "initial_margin_excess": margin["initial_margin_excess"],
        "maintenance_margin_requirement": margin["maintenance_margin_requirement"],
        "maintenance_margin_excess": margin["maintenance_margin_excess"],
        "intraday_buying_power": margin["intraday_details"]["buying_power"],
        "overnight_buying_power": margin["overnight_details"]["buying_power"],
    }


def _expected_balances(cash: D, longs: D, shorts: D, requirement: D) -> dict[str, Any]:
    """Reg T figures in the regular session with no open orders (options: the initial and the
    maintenance requirement are the same)."""
    equity = cash + longs + shorts
    return {
        "trade_cash": cents(cash),
        "equity": cents(equity),
        "long_market_value": cents(longs),
        "short_market_value": cents(shorts),
        "open_order_adjustment": "0.00",
        "buying_power": cents(INTRADAY * (equity - requirement)),
        "multiplier": "4",
        "initial_margin_requirement": cents(requirement),
        "initial_margin_excess": cents(equity - requirement),
        "maintenance_margin_requirement": cents(requirement),
        "maintenance_margin_excess": cents(equity - requirement),
        "intraday_buying_power": cents(INTRADAY * (equity - requirement)),
        "overnight_buying_power": cents(OVERNIGHT * (equity - requirement)),
    }


def test_debit_spread_cash_buying_power_and_margin(vertical: Vertical) -> None:
    quotes = vertical.quotes
    cash = START_CASH - market_value(2, quotes.ask(C280)) + market_value(2, quotes.bid(C290))
    long_call = market_value(2, quotes.mid(C280))  # 2 x 100 x 5.05 = 1,010.00
    short_call = market_value(-2, quotes.mid(C290))  # -2 x 100 x 1.975 = -395.00
    # Held together the spread can lose no more than its value now (it is worth at least 0 at
    # expiry): 615.00, far below the long premium plus naked margin on the short call.
    requirement = long_call + short_call
    assert _balances_picture(vertical.after_call) == _expected_balances(
        cash, long_call, short_call, requirement
    )
    assert vertical.after_call["trade_cash"] == "999370.00"
    assert vertical.after_call["buying_power"] == "3997480.00"


def test_both_spreads_cash_buying_power_and_margin(vertical: Vertical) -> None:
    quotes = vertical.quotes
    cash = (
        START_CASH
        - market_value(2, quotes.ask(C280))
        + market_value(2, quotes.bid(C290))
        + market_value(3, quotes.bid(P270))
        - market_value(3, quotes.ask(P260))
    )
    values = {
        C280: market_value(2, quotes.mid(C280)),
        C290: market_value(-2, quotes.mid(C290)),
        P270: market_value(-3, quotes.mid(P270)),
        P260: market_value(3, quotes.mid(P260)),
    }
    longs = values[C280] + values[P260]
    shorts = values[C290] + values[P270]
    # The AAPL options are margined together by their maximum loss at expiry from their value
    # now. The call spread is worth 0 to 2,000 at expiry; the put spread -3,000 below 260, where
    # the calls are worthless: the worst is -3,000, so the requirement is 3,000 + the net value
    # (the debit spread's value 615.00 plus the credit spread's width less its credit, 2,670.00).
    requirement = 3 * MULTIPLIER * (270 - 260) + sum(values.values())
    assert requirement == D("3285")
    assert _balances_picture(vertical.balances) == _expected_balances(
        cash, longs, shorts, requirement
    )
    assert vertical.balances["settled_cash"] == cents(START_CASH)  # T+1
    debits = market_value(2, quotes.ask(C280)) + market_value(3, quotes.ask(P260))
    credits = market_value(2, quotes.bid(C290)) + market_value(3, quotes.bid(P270))
    assert vertical.balances["unsettled_debits"] == cents(debits)
    assert vertical.balances["unsettled_credits"] == cents(credits)


# ---- 2. the submit-orders page's butterfly ------------------------------------------------------


@dataclass
class Butterfly:
    ids: dict[str, str]
    mid_limit: D
    cash_before: D
    submitted: dict[str, Any]
    resting: dict[str, Any]
    resting_positions: dict[str, dict[str, Any]]
    resting_executions: list[dict[str, Any]]
    resting_balances: dict[str, Any]
    filled: dict[str, Any]
    positions: dict[str, dict[str, Any]]
    executions: list[dict[str, Any]]
    balances: dict[str, Any]
    touches: dict[str, D]
    quotes: Quotes


@pytest.fixture(scope="module")
def butterfly(desk: Desk, market: Market, vertical: Vertical) -> Butterfly:
    """The 295/300/305 call butterfly sent exactly as the page's CLI example: legs by UUID
    (found through GET /v1/instruments/options/contracts) with `instrument_type` OPTION and
    `ratio` strings, LIMIT DAY, no limit price (the legs' net midpoint, rounded down to the
    cent) and no quantity (1). Net mid 2.55 - 2 x 1.45 + 0.785 = 0.435 -> limit 0.43; the net
    at the touches 2.60 - 2 x 1.40 + 0.81 = 0.61 rests; with the 300 call at 1.50 / 1.60 it is
    2.60 - 3.00 + 0.81 = 0.41 and the package fills."""
    listed = desk.sdk.v1.instruments.with_raw_response.get_option_contracts(
        underlier="AAPL", expiry="2025-10-17", contract_type="CALL", page_size=1000
    )
    body = listed.json()
    desk.check_schema("GET", "/v1/instruments/options/contracts", body, listed.status_code)
    ids = {c["symbol"]: c["id"] for c in body["data"] if c["symbol"] in (C295, C300, C305)}
    assert len(ids) == 3
    market.pin(C295, "2.50", "2.60")
    market.pin(C300, "1.40", "1.50")
    market.pin(C305, "0.76", "0.81")
    mid_limit = (market.mid(C295) - 2 * market.mid(C300) + market.mid(C305)).quantize(
        CENT, rounding=ROUND_FLOOR
    )
    cash_before = D(desk.balances()["trade_cash"])
    seed_order = {
        "legs": [
            {"instrument_type": "OPTION", "ratio": "1", "security": ids[C295], "side": "BUY"},
            {"instrument_type": "OPTION", "ratio": "2", "security": ids[C300], "side": "SELL"},
            {"instrument_type": "OPTION", "ratio": "1", "security": ids[C305], "side": "BUY"},
        ],
        "order_type": "LIMIT",
        "time_in_force": "DAY",
    }
    (submitted,) = desk.submit(seed_order)
    desk.settle()
    resting = desk.order(submitted["id"])
    resting_positions = desk.positions()
    resting_executions = desk.executions(order_ids=[submitted["id"]])
    resting_balances = desk.balances()

    market.pin(C300, "1.50", "1.60")  # pinning runs the working orders against the new quote
    touches = {C295: market.ask(C295), C300: market.bid(C300), C305: market.ask(C305)}
    desk.settle()
    return Butterfly(
        ids=ids,
        mid_limit=mid_limit,
        cash_before=cash_before,
        submitted=submitted,
        resting=resting,
        resting_positions=resting_positions,
        resting_executions=resting_executions,
        resting_balances=resting_balances,
        filled=desk.order(submitted["id"]),
        positions=desk.positions(),
        executions=desk.executions(order_ids=[submitted["id"]]),
        balances=desk.balances(),
        touches=touches,
        quotes=market.snapshot(),
    )


def test_seed_butterfly_is_accepted_as_written(butterfly: Butterfly) -> None:
    order = butterfly.submitted
    assert order["status"] == "PENDING_NEW"
    assert (order["order_type"], order["time_in_force"], order["quantity"]) == ("LIMIT", "DAY", "1")
    assert butterfly.mid_limit == D("0.43")  # 0.435 rounded down, not to the nearest cent
    assert (order["limit_price"], order["side"]) == ("0.43", "BUY")
    assert order["client_order_id"] == order["id"]  # server-made: the request has no `id`
    assert [(x["instrument_id"], x["symbol"], x["side"], x["ratio"]) for x in order["legs"]] == [
        (butterfly.ids[C295], C295, "BUY", "1"),
        (butterfly.ids[C300], C300, "SELL", "2"),
        (butterfly.ids[C305], C305, "BUY", "1"),
    ]
    assert [x["quantity"] for x in order["legs"]] == ["1", "2", "1"]


def test_seed_butterfly_rests_while_the_touches_net_above_its_limit(butterfly: Butterfly) -> None:
    order = butterfly.resting
    assert (order["status"], order["filled_quantity"], order["leaves_quantity"]) == (
        "NEW",
        "0",
        "1",
    )
    assert order["average_fill_price"] is None
    assert [(x["filled_quantity"], x["average_fill_price"]) for x in order["legs"]] == [
        ("0", None)
    ] * 3
    assert not {C295, C300, C305} & set(butterfly.resting_positions)
    assert butterfly.resting_executions == []
    # It holds its maximum loss, the 0.43 debit, times the intraday multiplier: 4 x 43.00.
    assert butterfly.resting_balances["open_order_adjustment"] == cents(-HOLD_WEIGHT * 43)


def test_seed_butterfly_fills_as_one_package(butterfly: Butterfly) -> None:
    order, touches = butterfly.filled, butterfly.touches
    net = touches[C295] - 2 * touches[C300] + touches[C305]
    assert net == D("0.41")
    assert (order["status"], order["filled_quantity"], order["leaves_quantity"]) == (
        "FILLED",
        "1",
        "0",
    )
    assert (order["average_fill_price"], order["limit_price"]) == (cents(net), "0.43")
    assert [
        (x["symbol"], x["side"], x["ratio"], x["quantity"], x["filled_quantity"])
        for x in order["legs"]
    ] == [(C295, "BUY", "1", "1", "1"), (C300, "SELL", "2", "2", "2"), (C305, "BUY", "1", "1", "1")]
    assert [D(x["average_fill_price"]) for x in order["legs"]] == [touches[s] for s in touches]
    assert [
        (e["symbol"], e["side"], e["quantity"], D(e["price"])) for e in butterfly.executions
    ] == [
        (C305, "BUY", "1", touches[C305]),
        (C300, "SELL", "2", touches[C300]),
        (C295, "BUY", "1", touches[C295]),
    ]


def test_seed_butterfly_positions_per_leg_and_cash(butterfly: Butterfly) -> None:
    touches = butterfly.touches
    expected = {C295: 1, C300: -2, C305: 1}
    for symbol, quantity in expected.items():
        row = butterfly.positions[symbol]
        assert row["instrument_id"] == butterfly.ids[symbol]
        assert row["quantity"] == str(quantity)
        assert row["cost_basis"] == cents(market_value(quantity, touches[symbol]))
        assert row["market_value"] == cents(market_value(quantity, butterfly.quotes.mid(symbol)))
    paid = market_value(1, touches[C295] - 2 * touches[C300] + touches[C305])
    assert paid == D("41.00")
    assert butterfly.balances["trade_cash"] == cents(butterfly.cash_before - paid)
    assert butterfly.balances["open_order_adjustment"] == "0.00"


# ---- 3. replace, cancel, close ----------------------------------------------------------------


HELD_BEFORE_LIFECYCLE = {C280: 2, C290: -2, P270: -3, P260: 3, C295: 1, C300: -2, C305: 1}


@dataclass
class Lifecycle:
    cash_before: D
    submitted: dict[str, dict[str, Any]]
    resting: dict[str, dict[str, Any]]
    resting_balances: dict[str, Any]
    resting_quotes: Quotes
    replace_answer: dict[str, Any]
    replaced: dict[str, Any]
    replaced_balances: dict[str, Any]
    cancel_answer: dict[str, Any]
    canceled: dict[str, Any]
    filled: dict[str, Any]
    after_fill_balances: dict[str, Any]
    positions_before_close: dict[str, dict[str, Any]]
    closing_orders: list[dict[str, Any]]
    closing_filled: list[dict[str, Any]]
    positions: dict[str, dict[str, Any]]
    open_orders: list[dict[str, Any]]
    balances: dict[str, Any]
    close_quotes: dict[str, tuple[D, D]]
    fill_touches: tuple[D, D]


@pytest.fixture(scope="module")
def lifecycle(desk: Desk, market: Market, butterfly: Butterfly) -> Lifecycle:
    """A 310/315 call debit spread resting at 0.20 x 2 (touch net 0.50 - 0.20 = 0.30) is
    replaced to 0.25 x 3 and fills when the 315 bid reaches 0.25; a 250/240 put credit spread
    resting at -1.00 x 1 (touch net -0.80 + 0.35 = -0.45) is canceled. Then the quotes move and
    `DELETE /positions` closes every position the strategies left."""
    market.pin(C310, "0.45", "0.50")
    market.pin(C315, "0.20", "0.25")
    market.pin(P250, "0.80", "0.85")
    market.pin(P240, "0.30", "0.35")
    cash_before = D(desk.balances()["trade_cash"])
    spread, credit = desk.submit(
        strategy("to-replace", [leg(C310, "BUY"), leg(C315, "SELL")], "2", "0.20"),
        strategy("to-cancel", [leg(P250, "SELL"), leg(P240, "BUY")], "1", "-1.00"),
    )
    desk.settle()
    submitted = {"to-replace": spread, "to-cancel": credit}
    resting = {key: desk.order(order["id"]) for key, order in submitted.items()}
    resting_balances = desk.balances()
    resting_quotes = market.snapshot()

    replace_answer = desk.replace(spread["id"], limit_price="0.25", quantity="3")
    desk.settle()
    replaced = desk.order(spread["id"])
    replaced_balances = desk.balances()

    cancel_answer = desk.cancel(credit["id"])
    desk.settle()
    canceled = desk.order(credit["id"])

    market.pin(C315, "0.25", "0.30")  # touch net 0.50 - 0.25 = 0.25: the replaced limit
    fill_touches = (market.ask(C310), market.bid(C315))
    desk.settle()
    filled = desk.order(spread["id"])
    after_fill_balances = desk.balances()
    positions_before_close = desk.positions()

    # Closing quotes for every contract held (fresh sizes), then close everything at market.
    for symbol, (bid, ask) in {
        C280: ("6.00", "6.10"),
        C290: ("2.40", "2.50"),
        P270: ("1.70", "1.80"),
        P260: ("0.70", "0.80"),
        C295: ("2.90", "3.00"),
        C300: ("1.80", "1.90"),
        C305: ("1.00", "1.10"),
        C310: ("0.60", "0.65"),
        C315: ("0.30", "0.35"),
    }.items():
        market.pin(symbol, bid, ask)
    close_quotes = {s: market.quotes[s] for s in positions_before_close}
    closing_orders = desk.close_positions()
    desk.settle()
    closing_filled = [desk.order(o["id"]) for o in closing_orders]
    return Lifecycle(
        cash_before=cash_before,
        submitted=submitted,
        resting=resting,
        resting_balances=resting_balances,
        resting_quotes=resting_quotes,
        replace_answer=replace_answer,
        replaced=replaced,
        replaced_balances=replaced_balances,
        cancel_answer=cancel_answer,
        canceled=canceled,
        filled=filled,
        after_fill_balances=after_fill_balances,
        positions_before_close=positions_before_close,
        closing_orders=closing_orders,
        closing_filled=closing_filled,
        positions=desk.positions(),
        open_orders=desk.orders(status=list(OPEN_STATUSES)),
        balances=desk.balances(),
        close_quotes=close_quotes,
        fill_touches=fill_touches,
    )


def test_resting_strategies_hold_their_maximum_loss_times_the_multiplier(
    lifecycle: Lifecycle,
) -> None:
    assert [o["status"] for o in lifecycle.resting.values()] == ["NEW", "NEW"]
    # A debit spread can lose its debit, a credit spread its width less the credit.
    debit_hold = HOLD_WEIGHT * 2 * MULTIPLIER * D("0.20")  # 160.00
    credit_hold = HOLD_WEIGHT * 1 * MULTIPLIER * (D(250 - 240) - D("1.00"))  # 3,600.00
    balances = lifecycle.resting_balances
    assert balances["open_order_adjustment"] == cents(-(debit_hold + credit_hold))
    # Held: both verticals and the butterfly. The butterfly and the call spread are worth at
    # least 0 at expiry; the put credit spread -3,000 below 260: the AAPL options need 3,000
    # plus their value now, so equity less that requirement is the cash less 3,000.
    values = sum(
        (
            market_value(q, lifecycle.resting_quotes.mid(s))
            for s, q in HELD_BEFORE_LIFECYCLE.items()
        ),
        D(0),
    )
    equity = lifecycle.cash_before + values
    requirement = 3 * MULTIPLIER * (270 - 260) + values
    margin = balances["margin_details"]
    assert (balances["equity"], margin["maintenance_margin_requirement"]) == (
        cents(equity),
        cents(requirement),
    )
    assert margin["intraday_details"]["buying_power"] == cents(INTRADAY * (equity - requirement))
    assert balances["buying_power"] == cents(
        INTRADAY * (equity - requirement) - debit_hold - credit_hold
    )


def test_replace_answers_pending_replace_then_carries_the_new_terms(lifecycle: Lifecycle) -> None:
    answer = lifecycle.replace_answer
    assert answer["id"] == lifecycle.submitted["to-replace"]["id"]
    assert (answer["status"], answer["limit_price"], answer["quantity"]) == (
        "PENDING_REPLACE",
        "0.20",
        "2",
    )
    replaced = lifecycle.replaced
    assert (replaced["status"], replaced["limit_price"], replaced["quantity"]) == (
        "NEW",
        "0.25",
        "3",
    )
    assert (replaced["filled_quantity"], replaced["leaves_quantity"]) == ("0", "3")
    assert [(x["symbol"], x["quantity"]) for x in replaced["legs"]] == [(C310, "3"), (C315, "3")]
    new_hold = HOLD_WEIGHT * 3 * MULTIPLIER * D("0.25")  # 150.00
    credit_hold = HOLD_WEIGHT * MULTIPLIER * D(9)
    assert lifecycle.replaced_balances["open_order_adjustment"] == cents(-(new_hold + credit_hold))


def test_replaced_strategy_fills_at_its_new_terms(lifecycle: Lifecycle) -> None:
    order = lifecycle.filled
    buy, sell = lifecycle.fill_touches
    assert (order["status"], order["filled_quantity"], order["average_fill_price"]) == (
        "FILLED",
        "3",
        cents(buy - sell),
    )
    assert [(x["filled_quantity"], D(x["average_fill_price"])) for x in order["legs"]] == [
        ("3", buy),
        ("3", sell),
    ]
    assert lifecycle.after_fill_balances["open_order_adjustment"] == "0.00"
    positions = lifecycle.positions_before_close
    assert (positions[C310]["quantity"], positions[C315]["quantity"]) == ("3", "-3")


def test_cancel_answers_pending_cancel_then_canceled(lifecycle: Lifecycle) -> None:
    answer = lifecycle.cancel_answer
    assert answer["id"] == lifecycle.submitted["to-cancel"]["id"]
    assert answer["status"] == "PENDING_CANCEL"
    canceled = lifecycle.canceled
    assert (canceled["status"], canceled["filled_quantity"], canceled["leaves_quantity"]) == (
        "CANCELED",
        "0",
        "0",
    )
    assert [x["filled_quantity"] for x in canceled["legs"]] == ["0", "0"]
    assert not {P250, P240} & set(lifecycle.positions_before_close)


def test_delete_positions_closes_every_leg_at_market(lifecycle: Lifecycle) -> None:
    held = {s: int(p["quantity"]) for s, p in lifecycle.positions_before_close.items()}
    assert held == {
        C280: 2,
        C290: -2,
        P260: 3,
        P270: -3,
        C295: 1,
        C300: -2,
        C305: 1,
        C310: 3,
        C315: -3,
    }
    closing = {
        o["symbol"]: (o["side"], o["quantity"], o["order_type"]) for o in lifecycle.closing_orders
    }
    assert closing == {
        s: ("SELL" if q > 0 else "BUY", str(abs(q)), "MARKET") for s, q in held.items()
    }
    assert [o["status"] for o in lifecycle.closing_filled] == ["FILLED"] * len(held)
    for order in lifecycle.closing_filled:
        bid, ask = lifecycle.close_quotes[order["symbol"]]
        assert D(order["average_fill_price"]) == (bid if order["side"] == "SELL" else ask)


def test_account_is_flat_with_cash_to_the_cent(lifecycle: Lifecycle) -> None:
    assert lifecycle.positions == {}
    assert lifecycle.open_orders == []
    # Every fill of the file, by hand: opening packages, then the closes at the touch.
    opened = (
        -market_value(2, D("5.10") - D("1.95"))  # call debit spread
        + market_value(3, D("2.00") - D("1.00"))  # put credit spread
        - market_value(1, D("0.41"))  # butterfly
        - market_value(3, D("0.50") - D("0.25"))  # replaced 310/315 spread
    )
    held = {s: int(p["quantity"]) for s, p in lifecycle.positions_before_close.items()}
    closed = sum(
        (
            market_value(q, lifecycle.close_quotes[s][0] if q > 0 else lifecycle.close_quotes[s][1])
            for s, q in held.items()
        ),
        D(0),
    )
    cash = START_CASH + opened + closed
    assert lifecycle.cash_before == START_CASH - 630 + 300 - 41
    expected = _expected_balances(cash, D(0), D(0), D(0))
    assert _balances_picture(lifecycle.balances) == expected
    balances = lifecycle.balances
    assert balances["daily_realized_pnl"] == cents(cash - START_CASH)
    assert (balances["unrealized_pnl"], balances["daily_unrealized_pnl"]) == ("0.00", "0.00")
    assert balances["settled_cash"] == cents(START_CASH)


@pytest.fixture(scope="module")
def close_one(desk: Desk, market: Market, lifecycle: Lifecycle) -> dict[str, Any]:
    """After the flat account: buy 1 x 280/290 call debit spread, rest a strategy that would sell
    it back at a 5.00 credit (legs: BUY 290 first, SELL 280 second), then
    `DELETE /positions/{280 call}` with `cancel_orders: true`."""
    market.pin(C280, "5.00", "5.10")
    market.pin(C290, "1.95", "2.00")
    (spread,) = desk.submit(strategy("reopen", [leg(C280, "BUY"), leg(C290, "SELL")], "1", "3.20"))
    (unwind,) = desk.submit(strategy("unwind", [leg(C290, "BUY"), leg(C280, "SELL")], "1", "-5.00"))
    desk.settle()
    resting = desk.order(unwind["id"])
    closing = desk.close_position(C280, cancel_orders=True)
    desk.settle()
    return {
        "spread": desk.order(spread["id"]),
        "resting": resting,
        "closing": closing,
        "unwind": desk.order(unwind["id"]),
        "positions": desk.positions(),
    }


def test_close_position_sells_the_leg_held(close_one: dict[str, Any]) -> None:
    assert close_one["spread"]["status"] == "FILLED"
    assert close_one["resting"]["status"] == "NEW"
    assert [(o["symbol"], o["side"], o["quantity"]) for o in close_one["closing"]] == [
        (C280, "SELL", "1")
    ]
    assert {s: p["quantity"] for s, p in close_one["positions"].items()} == {C290: "-1"}


def test_close_position_with_cancel_orders_cancels_strategies_trading_it(
    close_one: dict[str, Any],
) -> None:
    """The strategy trading the closed contract in its second leg is canceled too, so it cannot
    later sell a call no longer held (fixed in 9bac65e: the orders to cancel used to be picked
    by `order.instrument_id`, for a strategy its first leg only)."""
    assert close_one["unwind"]["status"] == "CANCELED"
    assert [x["filled_quantity"] for x in close_one["unwind"]["legs"]] == ["0", "0"]


# ---- 4. refusals ------------------------------------------------------------------------------


def test_naked_call_sale_in_a_level_1_cash_account_is_refused(desk: Desk, market: Market) -> None:
    cash_desk = desk.for_account(CASH)
    try:
        market.pin(C280, "5.00", "5.10")
        with pytest.raises(BadRequestError) as refused:
            cash_desk.submit(
                {
                    "id": "naked-call",
                    "symbol": C280,
                    "side": "SELL",
                    "quantity": "1",
                    "order_type": "LIMIT",
                    "limit_price": "5.00",
                    "time_in_force": "DAY",
                }
            )
        response = refused.value.response
        assert response.status_code == 400
        body = response.json()
        error = body["error"]
        assert (error["code"], error["message"]) == (400, "Risk check failed")
        first, second = error["details"]
        order_id = second["metadata"]["order_id"]
        assert first == {
            "description": "Options Level: strategy not permitted at the account's options level",
            "subject": f"order:{order_id}",
            "type": "OPTIONS_LEVEL",
        }
        assert second == {
            "domain": "com.clearstreet.oems.risk",
            "metadata": {
                "account_id": str(CASH),
                "options_level": "1",
                "order_id": order_id,
                "required_level": "4",
                "symbol": C280,
            },
            "reason": "OPTIONS_LEVEL",
        }
        assert cash_desk.orders() == []
        assert cash_desk.balances()["trade_cash"] == "100000.00"
    finally:
        cash_desk.close()


def test_uncovered_call_strategy_in_a_level_1_cash_account_is_refused(
    desk: Desk, market: Market
) -> None:
    """The strategy form: a 1 x 2 call ratio spread leaves one call uncovered, so its loss is
    unbounded: level 4, named by the underlier."""
    cash_desk = desk.for_account(CASH)
    try:
        market.pin(C280, "5.00", "5.10")
        market.pin(C290, "1.95", "2.00")
        with pytest.raises(BadRequestError) as refused:
            cash_desk.submit(
                strategy("ratio", [leg(C280, "BUY"), leg(C290, "SELL", "2")], "1", "1.20")
            )
        body = refused.value.response.json()
        assert body["error"]["message"] == "Risk check failed"
        assert [d.get("type") or d.get("reason") for d in body["error"]["details"]] == [
            "OPTIONS_LEVEL",
            "OPTIONS_LEVEL",
        ]
        metadata = body["error"]["details"][1]["metadata"]
        assert (metadata["options_level"], metadata["required_level"], metadata["symbol"]) == (
            "1",
            "4",
            "AAPL",
        )
        assert cash_desk.orders() == []
    finally:
        cash_desk.close()
