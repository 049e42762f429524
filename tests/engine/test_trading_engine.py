"""The order engine in-process: fills, triggers, times in force, positions, cash, replay."""

from __future__ import annotations

import contextlib
import uuid
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.support.schema_check import assert_matches_schema
from tests.support.trading_engine import (
    Desk,
    every_execution,
    every_order,
    make_engine,
    picture,
    request,
    run,
)

from oems.api.accounts import render_balances
from oems.domain import orders as o
from oems.domain.errors import InvalidRequest
from oems.domain.timefmt import parse_iso
from oems.engine import commands as cmd
from oems.engine.engine import Engine
from oems.engine.settings import VenueSettings

D = Decimal


def test_market_order_fills_at_the_touch_up_to_displayed_size_then_on_later_quotes(
    tmp_path: Path,
) -> None:
    async def body(engine: Engine) -> None:
        desk = Desk(engine)
        account = await desk.account()
        await desk.quote("AAPL", "99.99", "100.01", size=60)
        (order,) = await desk.submit(account, request("AAPL", o.BUY, "100"))
        assert order.status == o.PARTIALLY_FILLED
        assert order.filled_quantity == 60
        await desk.settle()
        assert order.filled_quantity == 60  # the same quote cannot fill twice
        await desk.quote("AAPL", "100.00", "100.02", size=100)
        assert order.status == o.FILLED
        # 60 @ 100.01 + 40 @ 100.02 = 10001.40 over 100 shares
        assert order.average_fill_price == D("100.014")
        position = engine.state.positions[account][order.instrument.instrument_id]
        assert position.quantity == 100
        assert position.cost == D("10001.40")
        cash = engine.state.accounts[account]
        assert cash.trade_cash == D("1000000") - D("10001.40")
        assert cash.settled_cash == D("1000000")
        executions = every_execution(engine)[account]
        assert [(e.quantity, e.price) for e in executions] == [
            (D(60), D("100.01")),
            (D(40), D("100.02")),
        ]

    run(make_engine(tmp_path / "j.db"), body)


def test_resting_limit_fills_at_its_own_price_when_the_touch_reaches_it(tmp_path: Path) -> None:
    async def body(engine: Engine) -> None:
        desk = Desk(engine)
        account = await desk.account()
        await desk.quote("MSFT", "400.00", "400.10")
        (order,) = await desk.submit(
            account, request("MSFT", o.BUY, "10", o.LIMIT, limit_price="399.50")
        )
        assert order.status == o.NEW
        await desk.quote("MSFT", "398.90", "399.00")
        assert order.status == o.FILLED
        assert order.average_fill_price == D("399.50")

    run(make_engine(tmp_path / "j.db"), body)


def test_stop_and_stop_limit_trigger_when_the_market_quotes_through(tmp_path: Path) -> None:
    async def body(engine: Engine) -> None:
        desk = Desk(engine)
        account = await desk.account()
        await desk.quote("AAPL", "100.00", "100.02", size=1000)
        await desk.submit(account, request("AAPL", o.BUY, "200"))
        stop, stop_limit = await desk.submit(
            account,
            request("AAPL", o.SELL, "50", o.STOP, stop_price="98.00"),
            request("AAPL", o.SELL, "50", o.STOP_LIMIT, stop_price="97.00", limit_price="96.50"),
        )
        assert stop.status == o.NEW and stop_limit.status == o.NEW
        await desk.quote("AAPL", "97.99", "98.01", size=1000)
        assert stop.status == o.FILLED and stop.average_fill_price == D("97.99")
        assert stop_limit.status == o.NEW
        await desk.quote("AAPL", "96.00", "96.40", size=1000)
        # triggered at 97.00, but the bid 96.00 is below its 96.50 limit: it rests
        assert stop_limit.triggered and stop_limit.status == o.NEW
        await desk.quote("AAPL", "96.60", "96.70", size=1000)
        assert stop_limit.status == o.FILLED
        assert stop_limit.average_fill_price == D("96.50")

    run(make_engine(tmp_path / "j.db"), body)


def test_trailing_stop_follows_the_best_bid_and_triggers_on_the_pullback(tmp_path: Path) -> None:
    async def body(engine: Engine) -> None:
        desk = Desk(engine)
        account = await desk.account()
        await desk.quote("AAPL", "100.00", "100.02", size=1000)
        await desk.submit(account, request("AAPL", o.BUY, "100"))
        (trail,) = await desk.submit(
            account,
            request(
                "AAPL",
                o.SELL,
                "100",
                o.TRAILING_STOP,
                trailing_offset="2.00",
                trailing_offset_type=o.PRICE,
            ),
        )
        assert trail.trailing_watermark_px == D("100.00")
        assert trail.trailing_stop_px == D("98.00")
        await desk.quote("AAPL", "105.00", "105.02", size=1000)
        assert trail.trailing_watermark_px == D("105.00")
        assert trail.trailing_stop_px == D("103.00")
        await desk.quote("AAPL", "104.00", "104.02", size=1000)
        assert trail.status == o.NEW  # a lower bid does not lower the watermark
        assert trail.trailing_stop_px == D("103.00")
        await desk.quote("AAPL", "102.90", "102.95", size=1000)
        assert trail.status == o.FILLED
        assert trail.average_fill_price == D("102.90")

    run(make_engine(tmp_path / "j.db"), body)


def test_trailing_stop_limit_in_basis_points_sets_its_limit_from_the_stop(tmp_path: Path) -> None:
    async def body(engine: Engine) -> None:
        desk = Desk(engine)
        account = await desk.account()
        await desk.quote("AAPL", "200.00", "200.02", size=1000)
        (trail,) = await desk.submit(
            account,
            request(
                "AAPL",
                o.BUY,
                "10",
                o.TRAILING_STOP_LIMIT,
                trailing_offset="100",
                trailing_offset_type=o.BPS,
                limit_offset="0.50",
            ),
        )
        # buy side: watermark is the lowest ask; stop 1% above (rounded toward the market), limit 0.50 above it
        assert trail.trailing_watermark_px == D("200.02")
        assert trail.trailing_stop_px == D("202.02")
        assert trail.trailing_limit_px == D("202.52")
        await desk.quote("AAPL", "202.10", "202.20", size=1000)
        assert trail.status == o.FILLED
        assert trail.average_fill_price == D("202.20")

    run(make_engine(tmp_path / "j.db"), body)


def test_ioc_cancels_the_rest_and_fok_is_all_or_nothing(tmp_path: Path) -> None:
    async def body(engine: Engine) -> None:
        desk = Desk(engine)
        account = await desk.account()
        await desk.quote("AAPL", "100.00", "100.02", size=30)
        (ioc,) = await desk.submit(account, request("AAPL", o.BUY, "50", time_in_force=o.IOC))
        assert ioc.status == o.CANCELED and ioc.filled_quantity == 30
        assert ioc.leaves_quantity == 0
        await desk.quote("AAPL", "100.00", "100.02", size=30)
        (fok,) = await desk.submit(account, request("AAPL", o.BUY, "50", time_in_force=o.FOK))
        assert fok.status == o.CANCELED and fok.filled_quantity == 0
        (fok_ok,) = await desk.submit(account, request("AAPL", o.BUY, "30", time_in_force=o.FOK))
        assert fok_ok.status == o.FILLED

    run(make_engine(tmp_path / "j.db"), body)


def test_day_expires_at_the_close_gtc_survives_gtd_expires_at_its_instant(tmp_path: Path) -> None:
    async def body(engine: Engine) -> None:
        desk = Desk(engine)
        account = await desk.account()
        await desk.quote("AAPL", "100.00", "100.02")
        day, gtc, gtd = await desk.submit(
            account,
            request("AAPL", o.BUY, "1", o.LIMIT, limit_price="90.00"),
            request("AAPL", o.BUY, "1", o.LIMIT, limit_price="90.00", time_in_force=o.GTC),
            request(
                "AAPL",
                o.BUY,
                "1",
                o.LIMIT,
                limit_price="90.00",
                time_in_force=o.GTD,
                expires_ns=parse_iso("2025-10-16T15:00:00Z"),
            ),
        )
        await desk.advance_to("2025-10-15T19:59:59Z")
        assert day.status == o.NEW
        await desk.advance_to("2025-10-15T20:00:00Z")  # 16:00 ET
        assert day.status == o.EXPIRED
        assert gtc.status == o.NEW and gtd.status == o.NEW
        await desk.advance_to("2025-10-16T15:00:00Z")
        assert gtd.status == o.EXPIRED
        assert gtc.status == o.NEW

    run(make_engine(tmp_path / "j.db"), body)


def test_order_after_the_close_waits_for_release_at_the_next_open(tmp_path: Path) -> None:
    async def body(engine: Engine) -> None:
        desk = Desk(engine)
        account = await desk.account()
        await desk.advance_to("2025-10-15T21:00:00Z")  # 17:00 ET, after the close
        await desk.quote("AAPL", "100.00", "100.02")
        (order,) = await desk.submit(account, request("AAPL", o.BUY, "10"))
        assert order.status == o.NEW
        assert order.queue_state == o.AWAITING_RELEASE
        assert order.releases_ns == parse_iso("2025-10-16T13:30:00Z")
        await desk.advance_to("2025-10-16T13:30:00Z")
        assert order.queue_state == o.RELEASED
        assert order.status == o.FILLED

    run(make_engine(tmp_path / "j.db"), body)


def test_opening_and_closing_auctions_fill_at_the_midpoint(tmp_path: Path) -> None:
    async def body(engine: Engine) -> None:
        desk = Desk(engine)
        account = await desk.account()
        await desk.quote("AAPL", "100.00", "100.02")
        (close,) = await desk.submit(account, request("AAPL", o.BUY, "10", time_in_force=o.CLS))
        (opening,) = await desk.submit(account, request("AAPL", o.BUY, "5", time_in_force=o.OPG))
        assert close.status == o.NEW and opening.status == o.NEW
        await desk.quote("AAPL", "101.00", "101.04")
        await desk.advance_to("2025-10-15T20:00:00Z")
        assert close.status == o.FILLED and close.average_fill_price == D("101.02")
        assert opening.status == o.NEW
        await desk.advance_to("2025-10-16T13:30:00Z")
        assert opening.status == o.FILLED and opening.average_fill_price == D("101.02")

    run(make_engine(tmp_path / "j.db"), body)


def test_replace_changes_price_and_quantity_never_below_filled(tmp_path: Path) -> None:
    async def body(engine: Engine) -> None:
        desk = Desk(engine)
        account = await desk.account()
        await desk.quote("AAPL", "100.00", "100.02", size=40)
        (order,) = await desk.submit(
            account, request("AAPL", o.BUY, "100", o.LIMIT, limit_price="100.02")
        )
        assert order.filled_quantity == 40
        with pytest.raises(InvalidRequest, match="below the filled quantity"):
            await engine.execute(cmd.ReplaceOrder(account, order.id, quantity=D(30)))
        pending = await engine.execute(
            cmd.ReplaceOrder(account, order.id, quantity=D(60), limit_price=D("99.00"))
        )
        assert pending.status == o.PENDING_REPLACE
        await desk.settle()
        assert order.status == o.PARTIALLY_FILLED
        assert order.terms.quantity == 60 and order.terms.limit_price == D("99.00")
        assert order.leaves_quantity == 20

    run(make_engine(tmp_path / "j.db"), body)


def test_cancel_goes_pending_then_canceled_and_a_fill_first_stays_filled(tmp_path: Path) -> None:
    venue = VenueSettings(latency_ns=1_000_000_000)

    async def body(engine: Engine) -> None:
        desk = Desk(engine)
        account = await desk.account()
        await desk.quote("AAPL", "100.00", "100.02")
        resting, racing = await desk.submit(
            account,
            request("AAPL", o.BUY, "1", o.LIMIT, limit_price="90.00"),
            request("AAPL", o.BUY, "1", o.LIMIT, limit_price="95.00"),
        )
        await desk.advance(1)
        assert resting.status == o.NEW
        canceled = await engine.execute(cmd.CancelOrders(account, (resting.id, racing.id)))
        assert [c.status for c in canceled] == [o.PENDING_CANCEL, o.PENDING_CANCEL]
        await desk.quote("AAPL", "94.00", "94.50")  # racing fills before the venue answers
        assert racing.status == o.FILLED
        await desk.advance(1)
        assert resting.status == o.CANCELED
        assert racing.status == o.FILLED

    run(make_engine(tmp_path / "j.db", venue), body)


def test_a_fill_crossing_zero_realizes_and_flips_the_position(tmp_path: Path) -> None:
    async def body(engine: Engine) -> None:
        desk = Desk(engine)
        account = await desk.account()
        await desk.quote("AAPL", "100.00", "100.00", size=1000)
        (buy,) = await desk.submit(account, request("AAPL", o.BUY, "100"))
        await desk.quote("AAPL", "110.00", "110.00", size=1000)
        await desk.submit(account, request("AAPL", o.SELL, "100"))
        await desk.submit(account, request("AAPL", o.SELL_SHORT, "50"))
        position = engine.state.positions[account][buy.instrument.instrument_id]
        assert position.quantity == -50
        assert position.cost == D("-5500")
        assert position.realized_today == D("1000")
        await desk.quote("AAPL", "105.00", "105.00", size=1000)
        await desk.submit(account, request("AAPL", o.BUY, "80"))
        # covers 50 at 105 (+250 realized), then opens 30 long at 105
        assert position.quantity == 30
        assert position.realized_today == D("1250")
        assert position.cost == D("3150")
        cash = engine.state.accounts[account].trade_cash
        assert cash == D(1000000) - 10000 + 11000 + 5500 - 8400

    run(make_engine(tmp_path / "j.db"), body)


def test_cash_settles_when_the_next_trading_day_starts(tmp_path: Path) -> None:
    async def body(engine: Engine) -> None:
        desk = Desk(engine)
        account = await desk.account()
        await desk.quote("AAPL", "100.00", "100.00")
        await desk.submit(account, request("AAPL", o.BUY, "10"))
        acct = engine.state.accounts[account]
        assert acct.settled_cash == D(1000000)
        await desk.advance_to("2025-10-16T07:59:00Z")  # 03:59 ET Thursday
        assert acct.settled_cash == D(1000000)
        await desk.advance_to("2025-10-16T08:00:00Z")  # 04:00 ET: T+1 day starts
        assert acct.settled_cash == D(1000000) - 1000
        assert acct.unsettled == []
        position = next(iter(engine.state.positions[account].values()))
        assert position.sod_price == D("100.00") and position.sod_quantity == 10

    run(make_engine(tmp_path / "j.db"), body)


def test_batch_risk_is_cumulative_and_atomic(tmp_path: Path) -> None:
    async def body(engine: Engine) -> None:
        desk = Desk(engine)
        account = await desk.account("CASH", "10000", 1)
        await desk.quote("AAPL", "100.00", "100.00")
        with pytest.raises(InvalidRequest) as refused:
            await desk.submit(
                account,
                request("AAPL", o.BUY, "60", o.LIMIT, limit_price="100.00"),
                request("AAPL", o.BUY, "60", o.LIMIT, limit_price="100.00"),
            )
        assert refused.value.message == "Risk check failed"
        details = refused.value.details or []
        assert [d.get("type") for d in details[::2]] == ["BUYING_POWER"]
        assert details[1]["metadata"]["available"] == "4000.0000"
        assert engine.state.orders == {}

    run(make_engine(tmp_path / "j.db"), body)


def test_replaying_the_journal_rebuilds_orders_positions_cash_and_books(tmp_path: Path) -> None:
    db = tmp_path / "j.db"

    async def trade(engine: Engine) -> dict[str, object]:
        desk = Desk(engine)
        account = await desk.account()
        await desk.quote("AAPL", "100.00", "100.02", size=50)
        await desk.submit(account, request("AAPL", o.BUY, "50"))
        await desk.submit(
            account,
            request("AAPL", o.SELL, "20", o.LIMIT, limit_price="120.00", time_in_force=o.GTC),
            request("AAPL", o.SELL, "10", o.STOP, stop_price="90.00", time_in_force=o.GTC),
        )
        return picture(engine)

    before = run(make_engine(db), trade)

    async def after_restart(engine: Engine) -> dict[str, object]:
        picture_now = picture(engine)
        desk = Desk(engine)
        await desk.quote("AAPL", "120.00", "120.10", size=500)  # the resting GTC sell works
        return {
            "picture": picture_now,
            "statuses": sorted(o_.status for o_ in every_order(engine).values()),
        }

    result = run(make_engine(db), after_restart)
    assert result["picture"] == before
    assert result["statuses"] == sorted([o.FILLED, o.FILLED, o.NEW])


_ACTIONS = st.lists(
    st.one_of(
        st.tuples(st.just("quote"), st.integers(9500, 10500), st.integers(1, 200)),
        st.tuples(
            st.just("order"),
            st.sampled_from([o.BUY, o.SELL, o.SELL_SHORT]),
            st.integers(1, 150),
            st.sampled_from([o.MARKET, o.LIMIT, o.STOP]),
            st.sampled_from([o.DAY, o.GTC, o.IOC]),
            st.integers(9500, 10500),
        ),
        st.tuples(st.just("cancel"), st.integers(0, 50)),
        st.tuples(st.just("replace"), st.integers(0, 50), st.integers(1, 150)),
        st.tuples(st.just("advance"), st.integers(0, 4 * 3600)),
    ),
    min_size=8,
    max_size=30,
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(actions=_ACTIONS)
def test_invariants_hold_and_replay_reproduces_state(tmp_path: Path, actions: list[tuple]) -> None:
    db = tmp_path / f"p{uuid.uuid4().hex}.db"

    async def body(engine: Engine) -> dict[str, object]:
        desk = Desk(engine)
        account = await desk.account()
        await desk.quote("AAPL", "99.99", "100.01")
        for action in actions:
            with contextlib.suppress(InvalidRequest):  # refused input changes nothing
                await _act(engine, desk, account, action)
        _check_invariants(engine, account)
        return picture(engine)

    before = run(make_engine(db), body)
    after = run(make_engine(db), lambda engine: _picture_async(engine))
    assert after == before


async def _picture_async(engine: Engine) -> dict[str, object]:
    return picture(engine)


async def _act(engine: Engine, desk: Desk, account: int, action: tuple) -> None:
    kind = action[0]
    cents = Decimal(100)
    if kind == "quote":
        mid = Decimal(action[1]) / cents
        await desk.quote("AAPL", str(mid - D("0.01")), str(mid + D("0.01")), size=action[2])
    elif kind == "order":
        _, side, quantity, order_type, tif, price_cents = action
        price = str(Decimal(price_cents) / cents)
        extra: dict[str, object] = {}
        if order_type == o.LIMIT:
            extra["limit_price"] = price
        elif order_type == o.STOP:
            extra["stop_price"] = price
            tif = o.DAY if tif == o.IOC else tif
        await desk.submit(
            account, request("AAPL", side, str(quantity), order_type, time_in_force=tif, **extra)
        )
    else:
        open_orders = sorted(
            engine.state.open_orders.get(account, {}).values(), key=lambda x: x.created_ns
        )
        if kind == "advance":
            await desk.advance(action[1])
        elif open_orders and kind == "cancel":
            target = open_orders[action[1] % len(open_orders)]
            await engine.execute(cmd.CancelOrders(account, (target.id,)))
            await desk.settle()
        elif open_orders and kind == "replace":
            target = open_orders[action[1] % len(open_orders)]
            await engine.execute(cmd.ReplaceOrder(account, target.id, quantity=D(action[2])))
            await desk.settle()


def _check_invariants(engine: Engine, account: int) -> None:
    state = engine.state
    executions = every_execution(engine).get(account, [])
    by_order: dict[object, Decimal] = {}
    net: dict[object, Decimal] = {}
    cash = D(1000000)
    for e in executions:
        signed = e.quantity if e.side == o.BUY else -e.quantity
        by_order[e.order_id] = by_order.get(e.order_id, D(0)) + e.quantity
        net[e.instrument_id] = net.get(e.instrument_id, D(0)) + signed
        cash -= signed * e.price
    for instrument_id, position in state.positions.get(account, {}).items():
        assert position.quantity == net.get(instrument_id, D(0))
    held: dict[object, Decimal] = {}
    hold = D(0)
    for order in every_order(engine).values():
        assert order.filled_quantity == by_order.get(order.id, D(0))
        assert order.filled_quantity <= order.terms.quantity
        if order.is_open:
            assert order.filled_quantity + order.leaves_quantity == order.terms.quantity
            assert order.id in state.open_orders[account]
            leaves = order.terms.quantity - order.filled_quantity
            if order.closes_position:
                held[order.instrument.instrument_id] = (
                    held.get(order.instrument.instrument_id, D(0)) + leaves
                )
            else:
                hold += leaves * order.hold_per_unit
        else:
            assert order.leaves_quantity == 0
            assert order.id not in state.open_orders[account]
    acct = state.accounts[account]
    assert acct.trade_cash == cash
    assert acct.settled_cash + sum((a for _, a in acct.unsettled), D(0)) == acct.trade_cash
    assert acct.open_order_hold == hold
    for instrument_id, position in state.positions.get(account, {}).items():
        assert position.held == held.get(instrument_id, D(0))


def test_balances_with_positions_match_the_schema_and_rank_margin_contributors(
    tmp_path: Path, vendor_spec: dict[str, object]
) -> None:
    async def body(engine: Engine) -> dict[str, object]:
        desk = Desk(engine)
        account = await desk.account()
        await desk.quote("AAPL", "100.00", "100.00", size=1000)
        await desk.quote("MSFT", "400.00", "400.00", size=1000)
        await desk.submit(
            account, request("AAPL", o.BUY, "100"), request("MSFT", o.SELL_SHORT, "10")
        )
        value = engine.account_value(account, engine.now_ns())
        return render_balances(engine.state.accounts[account], value, 5)

    balances = run(make_engine(tmp_path / "j.db"), body)
    assert_matches_schema(
        vendor_spec,
        "get",
        "/v1/accounts/{account_id}/balances",
        {"data": balances, "error": None, "metadata": {"request_id": "x"}},
    )
    top = balances["margin_details"]["top_contributors"]  # type: ignore[index]
    # AAPL long 10,000 at 50% initial, 25% maintenance; MSFT short 4,000 at 50% / 30%
    assert [
        (c["initial_margin_requirement"], c["maintenance_margin_requirement"], c["market_value"])
        for c in top
    ] == [
        ("5000.00", "2500.00", "10000.00"),
        ("2000.00", "1200.00", "-4000.00"),
    ]
    assert balances["long_market_value"] == "10000.00"
    assert balances["short_market_value"] == "-4000.00"
    assert balances["equity"] == "1000000.00"


def test_an_inactive_account_takes_no_orders_and_only_a_flat_one_closes(tmp_path: Path) -> None:
    async def body(engine: Engine) -> None:
        desk = Desk(engine)
        account = await desk.account()
        await desk.quote("AAPL", "100.00", "100.02")
        await desk.submit(account, request("AAPL", o.BUY, "10"))
        await engine.execute(cmd.SetAccountStatus(account, "INACTIVE"))
        with pytest.raises(InvalidRequest) as refused:
            await desk.submit(account, request("AAPL", o.SELL, "10"))
        details = refused.value.details or []
        assert details[0]["type"] == "ACCOUNT_NOT_ACTIVE"
        assert details[1]["metadata"]["status"] == "INACTIVE"
        with pytest.raises(InvalidRequest, match="positions and open orders first"):
            await engine.execute(cmd.SetAccountStatus(account, "CLOSED"))
        await engine.execute(cmd.SetAccountStatus(account, "ACTIVE"))
        await desk.submit(account, request("AAPL", o.SELL, "10"))
        closed = await engine.execute(cmd.SetAccountStatus(account, "CLOSED"))
        assert closed.status == "CLOSED" and str(closed.close_date) == "2025-10-15"
        with pytest.raises(InvalidRequest, match="cannot be reopened"):
            await engine.execute(cmd.SetAccountStatus(account, "ACTIVE"))

    run(make_engine(tmp_path / "j.db"), body)
