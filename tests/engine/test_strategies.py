"""Multi-leg strategy orders in-process: validation, levels, package fills, legs, cash, replay."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import msgspec
import pytest
from tests.support.trading_engine import (
    MASTER,
    Desk,
    every_execution,
    every_order,
    make_engine,
    request,
    run,
)

from oems.domain import orders as o
from oems.domain.errors import InvalidRequest
from oems.domain.order_rules import validate_strategy
from oems.domain.orders import LegRequest, StrategyRequest
from oems.domain.strategies import Leg, max_loss, required_level
from oems.domain.terms import OrderTerms
from oems.engine import commands as cmd
from oems.engine.engine import Engine

D = Decimal
CALLS = {strike: f"AAPL  251017C{int(strike * 1000):08d}" for strike in (D(270), D(280), D(290))}


def leg(symbol: str, side: str, ratio: int = 1) -> LegRequest:
    """A strategy leg on `symbol` (OSI or ticker)."""
    instrument = MASTER.resolve(symbol)
    assert instrument is not None
    terms = instrument.option
    return LegRequest(
        instrument_id=instrument.id,
        symbol=instrument.symbol,
        instrument_type=instrument.instrument_type,
        multiplier=instrument.multiplier,
        underlying_instrument_id=terms.underlying_id if terms else None,
        contract_type=terms.contract_type if terms else None,
        strike=terms.strike if terms else None,
        side=side,
        ratio=ratio,
    )


def butterfly(limit: str | None = "2.00", quantity: str = "1") -> StrategyRequest:
    """Long 270/280/290 call butterfly: buy 1, sell 2, buy 1."""
    return StrategyRequest(
        legs=(
            leg(CALLS[D(270)], o.BUY),
            leg(CALLS[D(280)], o.SELL, 2),
            leg(CALLS[D(290)], o.BUY),
        ),
        terms=OrderTerms(
            side=o.BUY,
            order_type=o.LIMIT if limit else o.MARKET,
            time_in_force=o.DAY,
            quantity=D(quantity),
            limit_price=D(limit) if limit else None,
        ),
    )


def as_legs(request: StrategyRequest) -> list[Leg]:
    return [x.as_leg() for x in request.legs]


def test_max_loss_and_levels_of_common_strategies() -> None:
    fly = as_legs(butterfly())
    assert max_loss(fly, D("2.00")) == D(200)  # the debit paid
    assert required_level(fly, True) == 3
    credit_spread = as_legs(
        StrategyRequest(
            (leg(CALLS[D(280)], o.SELL), leg(CALLS[D(290)], o.BUY)),
            OrderTerms(
                side=o.BUY,
                order_type=o.LIMIT,
                time_in_force=o.DAY,
                quantity=D(1),
                limit_price=D("-3.00"),
            ),
        )
    )
    assert max_loss(credit_spread, D("-3.00")) == D(700)  # width 1000 less the 300 credit
    naked = as_legs(
        StrategyRequest(
            (leg(CALLS[D(280)], o.SELL, 2), leg(CALLS[D(290)], o.BUY)),
            OrderTerms(
                side=o.BUY,
                order_type=o.LIMIT,
                time_in_force=o.DAY,
                quantity=D(1),
                limit_price=D("-5.00"),
            ),
        )
    )
    assert max_loss(naked, D("-5.00")) is None
    assert required_level(naked, False) == 4
    buy_write = as_legs(
        StrategyRequest(
            (leg("AAPL", o.BUY, 100), leg(CALLS[D(290)], o.SELL)),
            OrderTerms(
                side=o.BUY,
                order_type=o.LIMIT,
                time_in_force=o.DAY,
                quantity=D(1),
                limit_price=D("280.00"),
            ),
        )
    )
    assert required_level(buy_write, max_loss(buy_write, D("280.00")) is not None) == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"legs": (leg(CALLS[D(270)], o.BUY),)}, "legs"),
        ({"legs": (leg(CALLS[D(270)], o.BUY), leg(CALLS[D(270)], o.SELL))}, "legs[1]"),
        ({"legs": (leg(CALLS[D(270)], o.BUY, 2), leg(CALLS[D(280)], o.SELL, 4))}, "legs"),
        ({"legs": (leg(CALLS[D(270)], o.BUY), leg("MSFT  251017C00500000", o.SELL))}, "legs"),
        ({"legs": (leg(CALLS[D(270)], o.SELL_SHORT), leg(CALLS[D(280)], o.BUY))}, "legs[0].side"),
        ({"legs": (leg("MSFT", o.BUY, 100), leg(CALLS[D(280)], o.SELL))}, "legs"),
        ({"order_type": o.STOP}, "order_type"),
        ({"order_type": o.MARKET}, "limit_price"),
        ({"quantity": D("1.5")}, "quantity"),
        ({"time_in_force": o.OPG}, "time_in_force"),
    ],
)
def test_strategy_validation_names_the_field(change: dict[str, object], field: str) -> None:
    import dataclasses

    fly = butterfly()
    terms = {k: change.pop(k) for k in list(change) if k in OrderTerms.__struct_fields__}
    bad = dataclasses.replace(
        fly,
        terms=msgspec.structs.replace(fly.terms, **terms),  # type: ignore[arg-type]
        **change,  # type: ignore[arg-type]
    )
    with pytest.raises(InvalidRequest) as refused:
        validate_strategy(bad, 0)
    assert refused.value.message.startswith(f"[0].{field}: ")


async def _quote_fly(desk: Desk) -> None:
    await desk.quote("AAPL", "279.99", "280.01", size=1000)
    await desk.quote(CALLS[D(270)], "11.90", "12.00", size=50)
    await desk.quote(CALLS[D(280)], "5.00", "5.10", size=50)
    await desk.quote(CALLS[D(290)], "1.95", "2.00", size=50)


def test_butterfly_fills_as_one_package_with_legs_positions_and_cash(tmp_path: Path) -> None:
    async def body(engine: Engine) -> None:
        desk = Desk(engine)
        account = await desk.account()
        await _quote_fly(desk)
        # net at the touch: 12.00 - 2 x 5.00 + 2.00 = 4.00 > 3.00: it rests
        (order,) = await desk.submit(account, butterfly("3.00", "5"))
        assert order.status == o.NEW and order.filled_quantity == 0
        await desk.quote(CALLS[D(280)], "5.50", "5.60", size=50)  # net now 3.00
        assert order.status == o.FILLED
        assert order.average_fill_price == D("3.00")
        legs = {leg.symbol: leg for leg in order.legs or []}
        assert legs[CALLS[D(280)]].filled_quantity == 10
        assert legs[CALLS[D(270)]].average_price == D("12.00")
        positions = engine.state.positions[account]
        by_symbol = {p.symbol: p.quantity for p in positions.values()}
        assert by_symbol == {CALLS[D(270)]: 5, CALLS[D(280)]: -10, CALLS[D(290)]: 5}
        cash = engine.state.accounts[account].trade_cash
        assert cash == D(1000000) - 5 * 100 * D("3.00")
        executions = every_execution(engine)[account]
        assert [(e.symbol, e.side, e.quantity, e.price) for e in executions] == [
            (CALLS[D(270)], o.BUY, 5, D("12.00")),
            (CALLS[D(280)], o.SELL, 10, D("5.50")),
            (CALLS[D(290)], o.BUY, 5, D("2.00")),
        ]
        assert engine.state.accounts[account].open_order_hold == 0

    run(make_engine(tmp_path / "j.db"), body)


def test_package_quantity_is_limited_by_the_thinnest_leg(tmp_path: Path) -> None:
    async def body(engine: Engine) -> None:
        desk = Desk(engine)
        account = await desk.account()
        await _quote_fly(desk)
        await desk.quote(CALLS[D(280)], "5.50", "5.60", size=6)  # 6 contracts: 3 packages
        (order,) = await desk.submit(account, butterfly("3.00", "5"))
        assert order.status == o.PARTIALLY_FILLED and order.filled_quantity == 3
        canceled = await engine.execute(cmd.CancelOrders(account, (order.id,)))
        assert canceled[0].status == o.PENDING_CANCEL
        await desk.settle()
        assert order.status == o.CANCELED and order.filled_quantity == 3

    run(make_engine(tmp_path / "j.db"), body)


def test_strategy_needs_the_options_level_and_buying_power_for_its_max_loss(
    tmp_path: Path,
) -> None:
    async def body(engine: Engine) -> None:
        desk = Desk(engine)
        low = await desk.account("MARGIN", "100000", 2)
        await _quote_fly(desk)
        with pytest.raises(InvalidRequest) as refused:
            await desk.submit(low, butterfly("3.00"))
        details = refused.value.details or []
        assert details[0]["type"] == "OPTIONS_LEVEL"
        assert details[1]["metadata"]["required_level"] == "3"
        poor = await desk.account("CASH", "250", 3)
        with pytest.raises(InvalidRequest) as refused:
            await desk.submit(poor, butterfly("3.00"))
        details = refused.value.details or []
        assert details[0]["type"] == "BUYING_POWER"
        assert details[1]["metadata"]["required_options"] == "300"
        assert engine.state.orders == {}

    run(make_engine(tmp_path / "j.db"), body)


def test_strategy_state_replays_from_the_journal(tmp_path: Path) -> None:
    db = tmp_path / "j.db"

    async def trade(engine: Engine) -> object:
        desk = Desk(engine)
        account = await desk.account()
        await _quote_fly(desk)
        await desk.quote(CALLS[D(280)], "5.50", "5.60", size=50)
        await desk.submit(account, butterfly("3.00", "2"))
        return _legs_picture(engine)

    before = run(make_engine(db), trade)

    async def again(engine: Engine) -> object:
        return _legs_picture(engine)

    assert run(make_engine(db), again) == before


def _legs_picture(engine: Engine) -> object:
    return [
        (
            order.status,
            [(leg.symbol, leg.filled_quantity, leg.filled_notional) for leg in order.legs or []],
        )
        for order in every_order(engine).values()
    ]


def test_selling_options_to_open_needs_cover_or_the_naked_level(tmp_path: Path) -> None:
    async def body(engine: Engine) -> None:
        desk = Desk(engine)
        await _quote_fly(desk)
        covered = await desk.account("MARGIN", "1000000", 1)
        await desk.submit(covered, request("AAPL", o.BUY, "100"))
        (call,) = await desk.submit(covered, request(CALLS[D(290)], o.SELL, "1"))
        assert call.status == o.FILLED and call.hold_per_unit == 0  # covered by the shares
        with pytest.raises(InvalidRequest) as refused:
            await desk.submit(covered, request(CALLS[D(290)], o.SELL, "1"))  # no more shares
        assert (refused.value.details or [])[1]["metadata"]["required_level"] == "4"
        naked = await desk.account("MARGIN", "1000000", 4)
        (short,) = await desk.submit(naked, request(CALLS[D(280)], o.SELL, "2"))
        assert short.status == o.FILLED
        # premium 5.00 bid + 20% of 280.00 (at the money): (5.00 + 56.00) x 100 per contract,
        # in equity: it holds 4x that of intraday buying power
        assert short.hold_per_unit == 4 * D("6100.00")
        value = engine.account_value(naked, engine.now_ns())
        # naked at the mid 5.05: 2 x (505 + 5600)
        assert value.initial_requirement == D("12210.00")

    run(make_engine(tmp_path / "j.db"), body)


def test_a_credit_spread_needs_its_width_less_the_credit_not_naked_margin(tmp_path: Path) -> None:
    async def body(engine: Engine) -> None:
        desk = Desk(engine)
        await _quote_fly(desk)
        account = await desk.account("MARGIN", "1000000", 3)
        spread = StrategyRequest(
            (leg(CALLS[D(280)], o.SELL), leg(CALLS[D(290)], o.BUY)),
            OrderTerms(
                side=o.BUY,
                order_type=o.LIMIT,
                time_in_force=o.DAY,
                quantity=D(1),
                limit_price=D("-3.00"),
            ),
        )
        (order,) = await desk.submit(account, spread)
        assert order.status == o.FILLED and order.average_fill_price == D("-3.00")
        value = engine.account_value(account, engine.now_ns())
        # marks: short 280 call at 5.05 (-505), long 290 call at 1.975 (+197.50): held together
        # they can lose 1,000 at expiry from a value of -307.50 -> 692.50, far below naked
        assert value.initial_requirement == D("692.500")
        assert engine.state.accounts[account].trade_cash == D(1000000) + 300

    run(make_engine(tmp_path / "j.db"), body)


def test_an_expired_contract_can_no_longer_be_traded(tmp_path: Path) -> None:
    async def body(engine: Engine) -> None:
        desk = Desk(engine)
        account = await desk.account()
        await desk.advance_to("2025-10-17T20:00:00Z")  # the close of the contracts' expiry day
        with pytest.raises(InvalidRequest, match=r"^\[0\]\.symbol: AAPL  251017C00290000 expired"):
            await desk.submit(account, request(CALLS[D(290)], o.BUY, "1"))
        with pytest.raises(InvalidRequest, match="expired on 2025-10-17"):
            await desk.submit(account, butterfly("1.00"))

    run(make_engine(tmp_path / "j.db"), body)
