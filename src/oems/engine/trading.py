"""Order entry, replace, cancel and position closing: the use cases behind the order endpoints.

Each handler validates everything first (static rules, time, risk), then emits; a refused batch
changes nothing.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable
from decimal import ROUND_FLOOR, Decimal

from sortedcontainers import SortedList

from oems.domain import daytrading
from oems.domain import events as ev
from oems.domain import orders as o
from oems.domain.balances import AccountValue, naked_per_share
from oems.domain.decimals import fixed, plain
from oems.domain.errors import Conflict, InvalidRequest
from oems.domain.instruments import Instrument
from oems.domain.order_rules import check_tick, order_error
from oems.domain.orders import Order, OrderRequest, StrategyRequest
from oems.domain.strategies import max_loss, naked_call_requirement, net_price, required_level
from oems.engine import commands as cmd
from oems.engine import risk
from oems.engine.context import Context
from oems.market.calendar import AFTER_HOURS, PRE_MARKET, REGULAR
from oems.market.quotes import Quote, spot_price

INFINITY = Decimal("Infinity")
CENT = Decimal("0.01")
MAX_CLOSING_LOOKAHEAD_DAYS = 10
MAX_GTD_NS = 3 * 366 * 86_400 * 1_000_000_000  # the furthest a GOOD_TILL_DATE order may expire


def snapshot(order: Order) -> Order:
    """A copy of the order as it stands now, safe to render after the engine moves on."""
    legs = [dataclasses.replace(leg) for leg in order.legs] if order.legs is not None else None
    return dataclasses.replace(order, details=list(order.details), legs=legs)


class SelfMatchIndex:
    """Each account's working limit prices per instrument and side, for the self-match check."""

    def __init__(self) -> None:
        self._prices: dict[tuple[int, uuid.UUID, bool], SortedList] = {}
        self._indexed: dict[uuid.UUID, tuple[tuple[int, uuid.UUID, bool], Decimal]] = {}

    def update(self, order: Order) -> None:
        """Re-index one order after it changed: open, working orders with a price are indexed."""
        wanted: tuple[tuple[int, uuid.UUID, bool], Decimal] | None = None
        if order.is_open and not order.waits_for_trigger and not order.is_strategy:
            price = order.working_limit
            if price is None:
                price = INFINITY if order.is_buy else Decimal(0)
            wanted = ((order.account_id, order.instrument_id, order.is_buy), price)
        old = self._indexed.get(order.id)
        if old == wanted:
            return
        if old is not None:
            self._prices[old[0]].remove(old[1])
            del self._indexed[order.id]
        if wanted is not None:
            self._prices.setdefault(wanted[0], SortedList()).add(wanted[1])
            self._indexed[order.id] = wanted

    def crosses(
        self, account_id: int, instrument_id: uuid.UUID, is_buy: bool, price: Decimal | None
    ) -> bool:
        """True when an order at `price` (None: market) would trade with the account's own."""
        opposite = self._prices.get((account_id, instrument_id, not is_buy))
        if not opposite:
            return False
        if price is None:
            return True
        return bool(price >= opposite[0] if is_buy else price <= opposite[-1])


def reference_price(request: OrderRequest, quote: Quote | None, instrument: Instrument) -> Decimal:
    """The price an order's notional and buying-power hold are computed at."""
    if request.limit_price is not None:
        return request.limit_price
    buy = request.side == o.BUY
    touch = None
    if quote is not None:
        touch = quote.ask if buy else quote.bid
        if touch is None:
            touch = quote.last
    candidates = [p for p in (touch, request.stop_price) if p is not None]
    if not candidates:
        return instrument.reference_price
    return max(candidates) if buy else min(candidates)


def placement(
    ctx: Context, request: OrderRequest | StrategyRequest, now: int
) -> tuple[int | None, int | None, int | None]:
    """(releases_at, expires, auction) instants for an order received at `now`."""
    calendar = ctx.calendar
    tif = request.time_in_force
    names = (PRE_MARKET, REGULAR, AFTER_HOURS) if request.extended_hours else (REGULAR,)
    date = calendar.market_date(now)
    for _ in range(MAX_CLOSING_LOOKAHEAD_DAYS):
        day = calendar.day(date)
        if day.is_trading_day:
            windows = [day.sessions[name] for name in names if name in day.sessions]
            start, end = windows[0][0], windows[-1][1]
            opening = tif == o.OPG or (tif == o.AT_CROSSING and now < start)
            if opening and now < start:
                return start, None, None
            if tif in (o.CLS, o.AT_CROSSING) and now < end:
                return None, None, end
            if tif not in o.AUCTION_ONLY and now < end:
                releases = start if now < start else None
                expiry = end if tif == o.DAY else request.expires_ns
                # The closing crossing ends a crossing order: it joins it, or is canceled there.
                auction = end if tif in (o.GTX, o.GTC_THROUGH) else None
                return releases, expiry, auction
        date = calendar.next_trading_day(date)
    raise InvalidRequest("no trading session in the coming days")


def submit_orders(ctx: Context, self_match: SelfMatchIndex, c: cmd.SubmitOrders) -> list[Order]:
    """Accept the batch (all orders in PENDING_NEW) or refuse it whole."""
    state = ctx.state
    account = ctx.account(c.account_id)
    now = ctx.now_ns()
    seen: set[str] = set()
    for index, request in enumerate(c.orders):
        client_id = request.client_order_id
        if client_id is not None:
            if (account.id, client_id) in state.client_order_ids or client_id in seen:
                raise Conflict(f"An order with id `{client_id}` already exists in this account")
            seen.add(client_id)
        if request.expires_ns is not None and request.expires_ns <= now:
            raise order_error(index, "expires_at", "expires_at must be in the future")
        if request.expires_ns is not None and request.expires_ns > now + MAX_GTD_NS:
            raise order_error(index, "expires_at", "expires_at may be at most 3 years ahead")
        ids = (
            [leg.instrument_id for leg in request.legs]
            if isinstance(request, StrategyRequest)
            else [request.instrument_id]
        )
        for instrument_id in ids:
            _refuse_expired(ctx, index, instrument_id, now)
    requests = [
        _priced_at_mid(ctx, r, now)
        if isinstance(r, StrategyRequest) and r.order_type == o.LIMIT and r.limit_price is None
        else r
        for r in c.orders
    ]
    checker = _RiskChecker(ctx, self_match, account.id, now)
    planned = [
        checker.check_strategy(request)
        if isinstance(request, StrategyRequest)
        else checker.check(request)
        for request in requests
    ]
    if checker.failures:
        raise risk.risk_error(checker.failures)
    accepted = []
    for request, (order_id, closes, hold_per_unit, instrument) in zip(
        requests, planned, strict=True
    ):
        if request.client_order_id is None:
            # Server-made when absent: the order id itself, unique by construction.
            request = dataclasses.replace(request, client_order_id=str(order_id))
        if isinstance(request, StrategyRequest):
            accepted.append(
                _accept_strategy(ctx, account.id, request, order_id, hold_per_unit, now)
            )
        else:
            assert instrument is not None
            accepted.append(
                _accept(ctx, account.id, request, instrument, order_id, closes, hold_per_unit, now)
            )
    return accepted


def _priced_at_mid(ctx: Context, request: StrategyRequest, now: int) -> StrategyRequest:
    """A LIMIT strategy sent without a price (as the vendor's CLI example) takes the legs' net
    midpoint, rounded to the cent in the market's favour, as its limit."""
    mids = []
    for leg in request.legs:
        instrument = ctx.instruments.get(leg.instrument_id)
        quote = ctx.quote(instrument, now) if instrument is not None else None
        mid = spot_price(quote)
        if mid is None:
            raise InvalidRequest(
                f"No quote for {leg.symbol}: give the strategy a limit_price, or send it as MARKET"
            )
        mids.append(mid)
    legs = [leg.as_leg() for leg in request.legs]
    limit = net_price(legs, mids).quantize(CENT, rounding=ROUND_FLOOR)
    return dataclasses.replace(request, limit_price=limit)


def _accept_strategy(
    ctx: Context,
    account_id: int,
    request: StrategyRequest,
    order_id: uuid.UUID,
    hold_per_unit: Decimal,
    now: int,
) -> Order:
    releases, expiry, auction = placement(ctx, request, now)
    first = request.legs[0]
    option = next(leg for leg in request.legs if leg.strike is not None)
    venue = ctx.instruments.get(option.instrument_id)
    credit = request.limit_price is not None and request.limit_price < 0
    ctx.emit(
        ev.OrderAccepted(
            ts_ns=now,
            order_id=order_id,
            account_id=account_id,
            client_order_id=request.client_order_id,
            instrument_id=first.instrument_id,
            symbol=first.symbol,
            instrument_type="OPTION",
            underlying_instrument_id=option.underlying_instrument_id,
            multiplier=Decimal(100),
            venue=venue.venue if venue is not None else "BATO",
            side=o.SELL if credit else o.BUY,
            order_type=request.order_type,
            time_in_force=request.time_in_force,
            quantity=request.quantity,
            limit_price=request.limit_price,
            expires_ns=request.expires_ns,
            hold_per_unit=hold_per_unit,
            venue_due_ns=now + ctx.ack_latency_ns(),
            releases_ns=releases,
            expiry_ns=expiry,
            auction_ns=auction,
            legs=[
                ev.LegTerms(
                    instrument_id=leg.instrument_id,
                    symbol=leg.symbol,
                    instrument_type=leg.instrument_type,
                    side=leg.side,
                    ratio=leg.ratio,
                    multiplier=leg.multiplier,
                    contract_type=leg.contract_type,
                    strike=leg.strike,
                    client_leg_id=leg.client_leg_id,
                    position_effect=leg.position_effect,
                )
                for leg in request.legs
            ],
        )
    )
    return snapshot(ctx.state.orders[order_id])


def _refuse_expired(ctx: Context, index: int, instrument_id: uuid.UUID, now: int) -> None:
    """An option can be traded until the regular close of its expiration day, not after."""
    instrument = ctx.instruments.get(instrument_id)
    terms = instrument.option if instrument is not None else None
    if terms is None:
        return
    today = ctx.calendar.market_date(now)
    closed = terms.expiry < today or (
        terms.expiry == today
        and ctx.calendar.day(today).is_trading_day
        and now >= ctx.calendar.day(today).sessions[REGULAR][1]
    )
    if closed:
        assert instrument is not None
        raise order_error(
            index, "symbol", f"{instrument.symbol} expired on {terms.expiry.isoformat()}"
        )


def _accept(
    ctx: Context,
    account_id: int,
    request: OrderRequest,
    instrument: Instrument,
    order_id: uuid.UUID,
    closes: bool,
    hold_per_unit: Decimal,
    now: int,
) -> Order:
    releases, expiry, auction = placement(ctx, request, now)
    terms = instrument.option
    ctx.emit(
        ev.OrderAccepted(
            ts_ns=now,
            order_id=order_id,
            account_id=account_id,
            client_order_id=request.client_order_id,
            instrument_id=instrument.id,
            symbol=instrument.symbol,
            instrument_type=instrument.instrument_type,
            underlying_instrument_id=terms.underlying_id if terms else None,
            multiplier=instrument.multiplier,
            venue=instrument.venue,
            side=request.side,
            order_type=request.order_type,
            time_in_force=request.time_in_force,
            quantity=request.quantity,
            limit_price=request.limit_price,
            stop_price=request.stop_price,
            trailing_offset=request.trailing_offset,
            trailing_offset_type=request.trailing_offset_type,
            limit_offset=request.limit_offset,
            expires_ns=request.expires_ns,
            extended_hours=request.extended_hours,
            closes_position=closes,
            hold_per_unit=hold_per_unit,
            venue_due_ns=now + ctx.ack_latency_ns(),
            releases_ns=releases,
            expiry_ns=expiry,
            auction_ns=auction,
        )
    )
    return snapshot(ctx.state.orders[order_id])


class _RiskChecker:
    """Runs the pre-trade checks over a batch, holding what earlier orders of it would use."""

    def __init__(self, ctx: Context, self_match: SelfMatchIndex, account_id: int, now: int) -> None:
        self.ctx = ctx
        self.self_match = self_match
        self.account = ctx.state.accounts[account_id]
        self.now = now
        self.failures: list[risk.RiskFailure] = []
        self.batch_hold = Decimal(0)
        self.batch_held: dict[uuid.UUID, Decimal] = {}
        self._value: AccountValue | None = None

    def check(self, r: OrderRequest) -> tuple[uuid.UUID, bool, Decimal, Instrument | None]:  # noqa: C901
        """Check one order; returns (order id, closes a position, hold per unit, instrument)."""
        ctx, account = self.ctx, self.account
        order_id = ctx.ids.uuid7(self.now)
        instrument = ctx.instruments.get(r.instrument_id)
        assert instrument is not None
        quote = ctx.quote(instrument, self.now)
        position = ctx.state.positions.get(account.id, {}).get(instrument.id)
        quantity_held = position.quantity if position else Decimal(0)
        held = (position.held if position else Decimal(0)) + self.batch_held.get(instrument.id, 0)
        base = {"account_id": str(account.id), "order_id": str(order_id)}

        def fail(reason: str, **extra: str) -> None:
            self.failures.append(risk.RiskFailure(reason, order_id, {**base, **extra}))

        side = r.side
        if account.status != "ACTIVE":
            fail(risk.ACCOUNT_NOT_ACTIVE, status=account.status)
        if not instrument.is_tradable:
            fail(risk.NOT_TRADABLE, symbol=instrument.symbol)
        closes = False
        writes = (
            side == o.SELL and instrument.is_option and quantity_held <= 0 and not held
        )  # sells an option to open a short
        short_hold: Decimal | None = None
        if writes:
            level, short_hold = self._written_option(instrument, r.quantity, quote)
            if account.options_level < level:
                fail(
                    risk.OPTIONS_LEVEL,
                    options_level=str(account.options_level),
                    required_level=str(level),
                    symbol=instrument.symbol,
                )
        elif side == o.SELL:
            available = max(quantity_held, Decimal(0)) - held
            if r.quantity > available:
                fail(
                    risk.POSITION,
                    available=plain(max(available, Decimal(0))),
                    requested=plain(r.quantity),
                    side=risk.wire_side(side),
                    symbol=instrument.symbol,
                )
            closes = True
        elif side == o.BUY and quantity_held < 0 and r.quantity <= -quantity_held - held:
            closes = True
        elif side == o.SELL_SHORT:
            if not account.is_margin:
                fail(risk.SHORT_SALE, account_type="cash", symbol=instrument.symbol)
            elif quantity_held > 0:
                fail(risk.SHORT_SALE, long_quantity=plain(quantity_held), symbol=instrument.symbol)
            if instrument.is_short_prohibited:
                fail(risk.SHORT_PROHIBITED, symbol=instrument.symbol)
            elif not instrument.easy_to_borrow:
                fail(risk.HARD_TO_BORROW, symbol=instrument.symbol)
        self._day_trade_check(instrument, r.quantity if side == o.BUY else -r.quantity, fail)
        if side == o.BUY and not closes and instrument.is_liquidation_only:
            fail(risk.LIQUIDATION_ONLY, symbol=instrument.symbol)
        if instrument.is_option and side == o.BUY and not closes and account.options_level < 2:
            fail(
                risk.OPTIONS_LEVEL,
                options_level=str(account.options_level),
                required_level="2",
                symbol=instrument.symbol,
            )
        price = reference_price(r, quote, instrument)
        notional = r.quantity * price * instrument.multiplier
        limit = account.max_notional
        if limit is not None and notional > limit:
            fail(
                risk.MAX_NOTIONAL,
                limit=plain(limit),
                notional=plain(notional),
                symbol=instrument.symbol,
            )
        working_price = None if r.order_type in (o.MARKET,) else r.limit_price
        if r.order_type in (o.LIMIT, o.MARKET) and self.self_match.crosses(
            account.id, instrument.id, side == o.BUY, working_price
        ):
            fail(
                risk.SELF_MATCH,
                price=risk.dollars(working_price),
                side=risk.wire_side(side),
                symbol=instrument.symbol,
            )
        hold_per_unit = Decimal(0)
        if closes:
            self.batch_held[instrument.id] = (
                self.batch_held.get(instrument.id, Decimal(0)) + r.quantity
            )
        else:
            # Options are paid (or margined) in full, from equity: a dollar of premium or of
            # requirement takes the buying-power multiplier in force; a share takes its price.
            weight = self.value().multiplier if instrument.is_option else Decimal(1)
            hold_per_unit = (
                short_hold * weight / r.quantity
                if short_hold is not None
                else price * instrument.multiplier * weight
            )
            self._reserve(
                r.quantity * hold_per_unit,
                fail,
                options=instrument.is_option,
                side=side,
                symbol=instrument.symbol,
            )
        return order_id, closes, hold_per_unit, instrument

    def check_strategy(self, r: StrategyRequest) -> tuple[uuid.UUID, bool, Decimal, None]:
        """Check a strategy: tradability, options level, and buying power for its maximum loss."""
        ctx, account = self.ctx, self.account
        order_id = ctx.ids.uuid7(self.now)
        base = {"account_id": str(account.id), "order_id": str(order_id)}

        def fail(reason: str, **extra: str) -> None:
            self.failures.append(risk.RiskFailure(reason, order_id, {**base, **extra}))

        if account.status != "ACTIVE":
            fail(risk.ACCOUNT_NOT_ACTIVE, status=account.status)
        touches: list[Decimal] = []
        book = ctx.state.positions.get(account.id, {})
        closing = True
        for leg in r.legs:
            instrument = ctx.instruments.get(leg.instrument_id)
            assert instrument is not None
            if not instrument.is_tradable:
                fail(risk.NOT_TRADABLE, symbol=instrument.symbol)
            quote = ctx.quote(instrument, self.now)
            touch = None
            if quote is not None:
                touch = quote.ask if leg.side == o.BUY else quote.bid
            touches.append(touch if touch is not None else instrument.reference_price)
            position = book.get(leg.instrument_id)
            held = position.quantity if position is not None else Decimal(0)
            wanted = r.quantity * leg.ratio
            self._day_trade_check(instrument, wanted if leg.side == o.BUY else -wanted, fail)
            reduces = held < 0 if leg.side == o.BUY else held > 0
            if not reduces or abs(held) < wanted:
                closing = False
        if closing:
            return order_id, False, Decimal(0), None
        legs = [leg.as_leg() for leg in r.legs]
        net = r.limit_price if r.limit_price is not None else net_price(legs, touches)
        loss = max_loss(legs, net)
        level = required_level(legs, loss is not None)
        underlier = next(leg.underlying_instrument_id for leg in r.legs if leg.strike is not None)
        if account.options_level < level:
            found = ctx.instruments.get(underlier) if underlier is not None else None
            fail(
                risk.OPTIONS_LEVEL,
                options_level=str(account.options_level),
                required_level=str(level),
                symbol=found.symbol if found is not None else "",
            )
        if loss is None:
            spot = ctx.valuation.mark_price(underlier, self.now) if underlier is not None else None
            loss = naked_call_requirement(legs, spot or Decimal(0)) + max(net, Decimal(0)) * 100
        hold_per_unit = loss * self.value().multiplier  # a requirement in equity dollars
        self._reserve(
            r.quantity * hold_per_unit,
            fail,
            options=True,
            side=o.BUY if net >= 0 else o.SELL,
            symbol="STRATEGY",
        )
        return order_id, False, hold_per_unit, None

    def _day_trade_check(
        self, instrument: Instrument, signed: Decimal, fail: Callable[..., None]
    ) -> None:
        """Refuse a day trade (closing quantity opened today) to a restricted pattern day trader."""
        account = self.account
        record = account.day_trading
        sod_equity = account.sod.equity if account.sod is not None else account.trade_cash
        if not daytrading.restricted(account.is_margin, record, sod_equity):
            return
        position = self.ctx.state.positions.get(account.id, {}).get(instrument.id)
        if position is None or not record.would_day_trade(
            instrument.id, position.quantity, position.sod_quantity, signed
        ):
            return
        fail(
            risk.PATTERN_DAY_TRADER,
            day_trade_count=str(record.day_trade_count),
            equity=fixed(sod_equity, 2),
            minimum_equity=plain(daytrading.PDT_MINIMUM_EQUITY),
            side=risk.wire_side(o.BUY if signed > 0 else o.SELL),
            symbol=instrument.symbol,
        )

    def _reserve(
        self,
        required: Decimal,
        fail: Callable[..., None],
        *,
        options: bool,
        side: str,
        symbol: str,
    ) -> None:
        """Check `required` against what the batch leaves of buying power, then hold it."""
        value = self.value()
        available = value.buying_power - self.batch_hold
        if required > available:
            fail(
                risk.BUYING_POWER,
                account_type="margin_reg_t" if self.account.is_margin else "cash",
                available=fixed(max(available, Decimal(0)), 4),
                multiplier=plain(value.multiplier),
                required_equity="0" if options else plain(required),
                required_options=plain(required) if options else "0",
                required_total=plain(required),
                side=risk.wire_side(side),
                symbol=symbol,
            )
        self.batch_hold += required

    def _written_option(
        self, option: Instrument, contracts: Decimal, quote: Quote | None
    ) -> tuple[int, Decimal]:
        """(options level needed, buying power held) to sell `contracts` of `option` to open.

        Covered by the underlier's shares (calls), or secured by cash (puts): level 1; else
        naked: level 4. A covered call holds nothing; a cash-secured put in a cash account holds
        its strike; otherwise the hold is the naked margin (premium + 20% of the underlier less
        the out-of-the-money amount, at least 10%).
        """
        ctx, account = self.ctx, self.account
        terms = option.option
        assert terms is not None
        shares = contracts * terms.multiplier
        book = ctx.state.positions.get(account.id, {})
        if terms.contract_type == "CALL":
            stock = book.get(terms.underlying_id)
            owned = stock.quantity - stock.held if stock is not None else Decimal(0)
            written = sum(
                (
                    -p.quantity * p.multiplier
                    for p in book.values()
                    if p.quantity < 0
                    and p.underlying_instrument_id == terms.underlying_id
                    and ctx.valuation.margin_rates(p.instrument_id).contract_type == "CALL"
                ),
                Decimal(0),
            )
            if owned - written >= shares:
                return 1, Decimal(0)
        secured = terms.strike * shares
        premium = (
            quote.bid if quote is not None and quote.bid is not None else Decimal(0)
        ) * shares
        spot = ctx.valuation.mark_price(terms.underlying_id, self.now) or Decimal(0)
        naked = premium + shares * naked_per_share(terms.contract_type, terms.strike, spot)
        if terms.contract_type == "PUT" and self.value().buying_power - self.batch_hold >= secured:
            return 1, secured if not account.is_margin else min(naked, secured)
        return 4, naked

    def value(self) -> AccountValue:
        if self._value is None:
            self._value = self.ctx.valuation.account_value(self.account.id, self.now)
        return self._value


def replace_order(ctx: Context, c: cmd.ReplaceOrder) -> Order:  # noqa: C901
    """Request a replace: the order goes PENDING_REPLACE; the venue applies it after its latency."""
    order = ctx.open_order(c.account_id, c.order_id, "replaced")
    if order.status not in (o.NEW, o.PARTIALLY_FILLED):
        raise InvalidRequest(
            f"Order {order.id} is {order.status} and cannot be replaced until the venue answers"
        )
    changes: dict[str, Decimal | str | None] = {
        "quantity": c.quantity,
        "limit_price": c.limit_price,
        "stop_price": c.stop_price,
        "trailing_offset": c.trailing_offset,
        "trailing_offset_type": c.trailing_offset_type,
        "limit_offset": c.limit_offset,
    }
    given = {k: v for k, v in changes.items() if v is not None}
    if not given:
        raise InvalidRequest("At least one field must be provided")
    kind = order.order_type
    allowed = {
        "quantity": True,
        "limit_price": kind in (o.LIMIT, o.STOP_LIMIT),
        "stop_price": kind in o.STOP_TYPES,
        "trailing_offset": kind in o.TRAILING_TYPES,
        "trailing_offset_type": kind in o.TRAILING_TYPES,
        "limit_offset": kind == o.TRAILING_STOP_LIMIT,
    }
    for name in given:
        if not allowed[name]:
            raise InvalidRequest(f"{name} cannot be set on a {kind} order")
    if c.quantity is not None:
        if c.quantity <= 0:
            raise InvalidRequest("quantity must be greater than zero")
        if c.quantity < order.filled_quantity:
            raise InvalidRequest(
                f"quantity {plain(c.quantity)} is below the filled quantity {plain(order.filled_quantity)}"
            )
        if order.instrument_type == "OPTION" and c.quantity != c.quantity.to_integral_value():
            raise InvalidRequest("options trade in whole contracts")
    for name in ("limit_price", "stop_price"):
        price = given.get(name)
        if isinstance(price, Decimal):
            if price <= 0 and not order.is_strategy:  # a strategy's net limit may be a credit
                raise InvalidRequest(f"{name} must be greater than zero")
            check_tick(0, name, price)
    if c.trailing_offset is not None and c.trailing_offset <= 0:
        raise InvalidRequest("trailing_offset must be greater than zero")
    now = ctx.now_ns()
    hold_per_unit = order.hold_per_unit
    if hold_per_unit and c.limit_price is not None and order.legs is not None:
        loss = max_loss(order.legs, c.limit_price)
        if loss is not None:
            hold_per_unit = loss * ctx.valuation.account_value(order.account_id, now).multiplier
    elif hold_per_unit and c.limit_price is not None and order.limit_price:
        hold_per_unit = hold_per_unit * c.limit_price / order.limit_price
    new_quantity = c.quantity if c.quantity is not None else order.quantity
    extra = (new_quantity - order.filled_quantity) * hold_per_unit - (
        order.quantity - order.filled_quantity
    ) * order.hold_per_unit
    if extra > 0:
        value = ctx.valuation.account_value(order.account_id, now)
        if extra > value.buying_power:
            account = ctx.state.accounts[order.account_id]
            raise risk.risk_error(
                [
                    risk.RiskFailure(
                        risk.BUYING_POWER,
                        order.id,
                        {
                            "account_id": str(order.account_id),
                            "account_type": "margin_reg_t" if account.is_margin else "cash",
                            "available": fixed(value.buying_power, 4),
                            "multiplier": plain(value.multiplier),
                            "order_id": str(order.id),
                            "required_total": plain(extra),
                            "side": risk.wire_side(order.side),
                            "symbol": order.symbol,
                        },
                    )
                ]
            )
    wire: dict[str, str | None] = {k: str(v) for k, v in given.items()}
    if hold_per_unit != order.hold_per_unit:
        wire["hold_per_unit"] = str(hold_per_unit)
    ctx.emit(
        ev.OrderReplaceRequested(
            ts_ns=now, order_id=order.id, venue_due_ns=now + ctx.latency_ns(), changes=wire
        )
    )
    return snapshot(order)


def cancel_orders(ctx: Context, c: cmd.CancelOrders) -> list[Order]:
    """Request cancellation of each still-open order; returns them (PENDING_CANCEL)."""
    now = ctx.now_ns()
    due = now + ctx.latency_ns()
    out = []
    for order_id in c.order_ids:
        order = ctx.state.orders.get(order_id)
        if order is None or order.account_id != c.account_id or not order.is_open:
            continue
        if order.status != o.PENDING_CANCEL:
            ctx.emit(ev.OrderCancelRequested(ts_ns=now, order_id=order.id, venue_due_ns=due))
        out.append(snapshot(order))
    return out


def close_positions(ctx: Context, c: cmd.ClosePositions) -> list[Order]:
    """One MARKET DAY order per position closing what is available (all, with `cancel_orders`)."""
    state = ctx.state
    ctx.account(c.account_id)
    book = state.positions.get(c.account_id, {})
    positions = [
        p
        for p in book.values()
        if p.quantity and (c.instrument_id is None or p.instrument_id == c.instrument_id)
    ]
    now = ctx.now_ns()
    canceling: set[uuid.UUID] = set()
    if c.cancel_orders:
        wanted = {p.instrument_id for p in positions}
        if c.instrument_id is not None:
            wanted.add(c.instrument_id)
        ids = tuple(
            order.id
            for order in state.open_orders.get(c.account_id, {}).values()
            if order.instrument_ids & wanted
        )
        cancel_orders(ctx, cmd.CancelOrders(c.account_id, ids))
        canceling = set(ids)
    out = []
    for position in positions:
        quantity = position.available_quantity
        if canceling:
            still_held = sum(
                (
                    order.quantity - order.filled_quantity
                    for order in state.open_orders.get(c.account_id, {}).values()
                    if order.instrument_id == position.instrument_id
                    and order.closes_position
                    and order.id not in canceling
                ),
                Decimal(0),
            )
            quantity = max(abs(position.quantity) - still_held, Decimal(0))
        if not quantity:
            continue
        instrument = ctx.instruments.get(position.instrument_id)
        assert instrument is not None
        order_id = ctx.ids.uuid7(now)
        request = OrderRequest(
            instrument_id=instrument.id,
            symbol=instrument.symbol,
            instrument_type=instrument.instrument_type,
            is_fractionable=instrument.is_fractionable,
            side=o.SELL if position.quantity > 0 else o.BUY,
            order_type=o.MARKET,
            time_in_force=o.DAY,
            quantity=quantity,
            client_order_id=str(order_id),  # server-made, as for any order sent without `id`
        )
        out.append(_accept(ctx, c.account_id, request, instrument, order_id, True, Decimal(0), now))
    return out


def set_faults(ctx: Context, c: cmd.SetFaults) -> ev.FaultsSet:
    """Set the venue's fault injection."""
    if c.reject_next < 0 or c.ack_delay_ms < 0:
        raise InvalidRequest("reject_next and ack_delay_ms must not be negative")
    ctx.emit(
        ev.FaultsSet(
            ts_ns=ctx.now_ns(),
            reject_next=c.reject_next,
            reject_reason=c.reject_reason,
            ack_delay_ms=c.ack_delay_ms,
        )
    )
    return ctx.state.faults
