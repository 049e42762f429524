"""Pre-trade risk: checks orders against the account's live state before they are accepted.

Each failure renders as the contract's two-part detail (a `{description, subject, type}` entry and
a `{domain, metadata, reason}` entry) under `400 Risk check failed`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from oems.domain import daytrading
from oems.domain import orders as o
from oems.domain.balances import AccountValue, naked_per_share
from oems.domain.decimals import fixed, plain
from oems.domain.errors import InvalidRequest
from oems.domain.instruments import Instrument
from oems.domain.orders import Order, OrderRequest, StrategyRequest
from oems.domain.strategies import max_loss, naked_call_requirement, net_price, required_level
from oems.engine.context import Context
from oems.engine.self_match import SelfMatchIndex
from oems.market.quotes import Quote

RISK_DOMAIN = "com.clearstreet.oems.risk"
RISK_MESSAGE = "Risk check failed"

BUYING_POWER = "BUYING_POWER"
SELF_MATCH = "SELF_MATCH"
SHORT_SALE = "SHORT_SALE"
HARD_TO_BORROW = "HARD_TO_BORROW"
SHORT_PROHIBITED = "SHORT_PROHIBITED"
LIQUIDATION_ONLY = "LIQUIDATION_ONLY"
NOT_TRADABLE = "NOT_TRADABLE"
MAX_NOTIONAL = "MAX_NOTIONAL"
ACCOUNT_NOT_ACTIVE = "ACCOUNT_NOT_ACTIVE"
OPTIONS_LEVEL = "OPTIONS_LEVEL"
POSITION = "POSITION"
PATTERN_DAY_TRADER = "PATTERN_DAY_TRADER"

DESCRIPTIONS = {
    BUYING_POWER: "Buying Power: required > available",
    SELF_MATCH: "Self-Match: would cross own orders",
    SHORT_SALE: "Short Sale: not permitted in this account",
    HARD_TO_BORROW: "Short Sale: security is not easy to borrow",
    SHORT_PROHIBITED: "Short Sale: security is short-sale prohibited",
    LIQUIDATION_ONLY: "Liquidation Only: security may only be sold or covered",
    NOT_TRADABLE: "Tradability: security is not tradable",
    MAX_NOTIONAL: "Max Notional: order notional > limit",
    ACCOUNT_NOT_ACTIVE: "Account Status: account is not active",
    OPTIONS_LEVEL: "Options Level: strategy not permitted at the account's options level",
    POSITION: "Position: quantity > available position",
    PATTERN_DAY_TRADER: "Pattern Day Trader: equity < $25,000 minimum for day trading",
}


@dataclass(frozen=True, slots=True)
class RiskFailure:
    """One failed check for one order."""

    reason: str
    order_id: uuid.UUID
    metadata: dict[str, str] = field(default_factory=dict)


def wire_side(side: str) -> str:
    """The side as risk metadata spells it (`Buy`, `Sell`, `SellShort`)."""
    return {"BUY": "Buy", "SELL": "Sell", "SELL_SHORT": "SellShort"}.get(side, side.title())


def dollars(price: Decimal | None) -> str:
    """A price as risk metadata spells it (`$200`)."""
    return "MKT" if price is None else f"${plain(price)}"


def risk_error(failures: list[RiskFailure]) -> InvalidRequest:
    """The 400 `Risk check failed` with every failure's two detail entries."""
    details: list[dict[str, Any]] = []
    for failure in failures:
        subject = f"order:{failure.order_id}"
        details.append(
            {
                "description": DESCRIPTIONS[failure.reason],
                "subject": subject,
                "type": failure.reason,
            }
        )
        details.append(
            {"domain": RISK_DOMAIN, "metadata": failure.metadata, "reason": failure.reason}
        )
    return InvalidRequest(RISK_MESSAGE, details)


@dataclass(frozen=True, slots=True)
class Checked:
    """What the checks found out about one order of a batch."""

    order_id: uuid.UUID  # the id the order gets if the batch is accepted
    closes: bool  # it closes (part of) a position: holds no buying power
    hold_per_unit: Decimal  # buying power held per unit of open quantity
    instrument: Instrument | None  # None for a strategy


def reference_price(request: OrderRequest, quote: Quote | None, instrument: Instrument) -> Decimal:
    """The price an order's notional and buying-power hold are computed at."""
    if request.terms.limit_price is not None:
        return request.terms.limit_price
    buy = request.terms.side == o.BUY
    touch = None
    if quote is not None:
        touch = quote.ask if buy else quote.bid
        if touch is None:
            touch = quote.last
    candidates = [p for p in (touch, request.terms.stop_price) if p is not None]
    if not candidates:
        return instrument.reference_price
    return max(candidates) if buy else min(candidates)


class RiskChecker:
    """Runs the pre-trade checks over a batch, holding what earlier orders of it would use."""

    def __init__(self, ctx: Context, self_match: SelfMatchIndex, account_id: int, now: int) -> None:
        self.ctx = ctx
        self.self_match = self_match
        self.account = ctx.state.accounts[account_id]
        self.now = now
        self.failures: list[RiskFailure] = []
        self.batch_hold = Decimal(0)
        self.batch_held: dict[uuid.UUID, Decimal] = {}
        self._value: AccountValue | None = None

    def check(self, request: OrderRequest) -> Checked:
        """Check one order; its failures join `failures`."""
        ctx, account = self.ctx, self.account
        order_id = ctx.ids.uuid7(self.now)
        instrument = ctx.instruments.get(request.instrument_id)
        assert instrument is not None
        quote = ctx.quote(instrument, self.now)
        fail = self._failer(order_id)
        side, quantity = request.terms.side, request.terms.quantity
        if account.status != "ACTIVE":
            fail(ACCOUNT_NOT_ACTIVE, status=account.status)
        if not instrument.is_tradable:
            fail(NOT_TRADABLE, symbol=instrument.symbol)
        closes, short_hold = self._position_check(instrument, request, quote, fail)
        self._day_trade_check(instrument, quantity if side == o.BUY else -quantity, fail)
        if side == o.BUY and not closes:
            if instrument.is_liquidation_only:
                fail(LIQUIDATION_ONLY, symbol=instrument.symbol)
            if instrument.is_option and account.options_level < 2:
                fail(
                    OPTIONS_LEVEL,
                    options_level=str(account.options_level),
                    required_level="2",
                    symbol=instrument.symbol,
                )
        price = reference_price(request, quote, instrument)
        self._notional_check(instrument, request, price, fail)
        self._self_match_check(instrument, request, fail)
        hold_per_unit = Decimal(0)
        if closes:
            self.batch_held[instrument.id] = (
                self.batch_held.get(instrument.id, Decimal(0)) + quantity
            )
        else:
            # Options are paid (or margined) in full, from equity: a dollar of premium or of
            # requirement takes the buying-power multiplier in force; a share takes its price.
            weight = self.value().multiplier if instrument.is_option else Decimal(1)
            hold_per_unit = (
                short_hold * weight / quantity
                if short_hold is not None
                else price * instrument.multiplier * weight
            )
            self._reserve(
                quantity * hold_per_unit,
                fail,
                options=instrument.is_option,
                side=side,
                symbol=instrument.symbol,
            )
        return Checked(order_id, closes, hold_per_unit, instrument)

    def _position_check(
        self,
        instrument: Instrument,
        request: OrderRequest,
        quote: Quote | None,
        fail: Callable[..., None],
    ) -> tuple[bool, Decimal | None]:
        """What the order does to the position: (whether it closes quantity, the hold of an
        option it writes); a sale beyond the position, a short sale the account or instrument
        does not allow, or a write above the options level fail."""
        account, side, quantity = self.account, request.terms.side, request.terms.quantity
        position = self.ctx.state.positions.get(account.id, {}).get(instrument.id)
        position_quantity = position.quantity if position else Decimal(0)
        held_by_orders = (position.held if position else Decimal(0)) + self.batch_held.get(
            instrument.id, 0
        )
        if (
            side == o.SELL
            and instrument.is_option
            and position_quantity <= 0
            and not held_by_orders
        ):
            level, short_hold = self._written_option(instrument, quantity, quote)  # a short opens
            if account.options_level < level:
                fail(
                    OPTIONS_LEVEL,
                    options_level=str(account.options_level),
                    required_level=str(level),
                    symbol=instrument.symbol,
                )
            return False, short_hold
        if side == o.SELL:
            available = max(position_quantity, Decimal(0)) - held_by_orders
            if quantity > available:
                fail(
                    POSITION,
                    available=plain(max(available, Decimal(0))),
                    requested=plain(quantity),
                    side=wire_side(side),
                    symbol=instrument.symbol,
                )
            return True, None
        if side == o.BUY:
            return position_quantity < 0 and quantity <= -position_quantity - held_by_orders, None
        if not account.is_margin:
            fail(SHORT_SALE, account_type="cash", symbol=instrument.symbol)
        elif position_quantity > 0:
            fail(SHORT_SALE, long_quantity=plain(position_quantity), symbol=instrument.symbol)
        if instrument.is_short_prohibited:
            fail(SHORT_PROHIBITED, symbol=instrument.symbol)
        elif not instrument.easy_to_borrow:
            fail(HARD_TO_BORROW, symbol=instrument.symbol)
        return False, None

    def _notional_check(
        self,
        instrument: Instrument,
        request: OrderRequest,
        price: Decimal,
        fail: Callable[..., None],
    ) -> None:
        """The order's notional at its reference price within the account's `max_notional`."""
        notional = request.terms.quantity * price * instrument.multiplier
        limit = self.account.max_notional
        if limit is not None and notional > limit:
            fail(
                MAX_NOTIONAL,
                limit=plain(limit),
                notional=plain(notional),
                symbol=instrument.symbol,
            )

    def _self_match_check(
        self, instrument: Instrument, request: OrderRequest, fail: Callable[..., None]
    ) -> None:
        """A MARKET or LIMIT order that would trade with the account's own resting orders fails."""
        kind, side = request.terms.order_type, request.terms.side
        if kind not in (o.LIMIT, o.MARKET):
            return
        working_price = None if kind == o.MARKET else request.terms.limit_price
        if self.self_match.crosses(self.account.id, instrument.id, side == o.BUY, working_price):
            fail(
                SELF_MATCH,
                price=dollars(working_price),
                side=wire_side(side),
                symbol=instrument.symbol,
            )

    def check_strategy(self, request: StrategyRequest) -> Checked:
        """Check a strategy: tradability, options level, and buying power for its maximum loss."""
        ctx, account = self.ctx, self.account
        order_id = ctx.ids.uuid7(self.now)
        fail = self._failer(order_id)

        if account.status != "ACTIVE":
            fail(ACCOUNT_NOT_ACTIVE, status=account.status)
        touches: list[Decimal] = []
        book = ctx.state.positions.get(account.id, {})
        closing = True
        for leg in request.legs:
            instrument = ctx.instruments.get(leg.instrument_id)
            assert instrument is not None
            if not instrument.is_tradable:
                fail(NOT_TRADABLE, symbol=instrument.symbol)
            quote = ctx.quote(instrument, self.now)
            touch = None
            if quote is not None:
                touch = quote.ask if leg.side == o.BUY else quote.bid
            touches.append(touch if touch is not None else instrument.reference_price)
            position = book.get(leg.instrument_id)
            held = position.quantity if position is not None else Decimal(0)
            wanted = request.terms.quantity * leg.ratio
            self._day_trade_check(instrument, wanted if leg.side == o.BUY else -wanted, fail)
            reduces = held < 0 if leg.side == o.BUY else held > 0
            if not reduces or abs(held) < wanted:
                closing = False
        if closing:
            return Checked(order_id, False, Decimal(0), None)
        legs = [leg.as_leg() for leg in request.legs]
        net = (
            request.terms.limit_price
            if request.terms.limit_price is not None
            else net_price(legs, touches)
        )
        loss = max_loss(legs, net)
        level = required_level(legs, loss is not None)
        underlier = next(
            leg.underlying_instrument_id for leg in request.legs if leg.strike is not None
        )
        if account.options_level < level:
            found = ctx.instruments.get(underlier) if underlier is not None else None
            fail(
                OPTIONS_LEVEL,
                options_level=str(account.options_level),
                required_level=str(level),
                symbol=found.symbol if found is not None else "",
            )
        if loss is None:
            spot = ctx.valuation.mark_price(underlier, self.now) if underlier is not None else None
            loss = naked_call_requirement(legs, spot or Decimal(0)) + max(net, Decimal(0)) * 100
        hold_per_unit = loss * self.value().multiplier  # a requirement in equity dollars
        self._reserve(
            request.terms.quantity * hold_per_unit,
            fail,
            options=True,
            side=o.BUY if net >= 0 else o.SELL,
            symbol="STRATEGY",
        )
        return Checked(order_id, False, hold_per_unit, None)

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
            PATTERN_DAY_TRADER,
            day_trade_count=str(record.day_trade_count),
            equity=fixed(sod_equity, 2),
            minimum_equity=plain(daytrading.PDT_MINIMUM_EQUITY),
            side=wire_side(o.BUY if signed > 0 else o.SELL),
            symbol=instrument.symbol,
        )

    def check_replace(self, order: Order, extra: Decimal) -> None:
        """Check that replacing `order` so that it holds `extra` more buying power fits."""
        self._reserve(
            extra,
            self._failer(order.id),
            options=order.instrument.instrument_type == "OPTION",
            side=order.terms.side,
            symbol=order.instrument.symbol,
        )

    def _failer(self, order_id: uuid.UUID) -> Callable[..., None]:
        """A function recording one failure of `order_id` with its metadata."""

        def fail(reason: str, **extra: str) -> None:
            base = {"account_id": str(self.account.id), "order_id": str(order_id)}
            self.failures.append(RiskFailure(reason, order_id, {**base, **extra}))

        return fail

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
                BUYING_POWER,
                account_type="margin_reg_t" if self.account.is_margin else "cash",
                available=fixed(max(available, Decimal(0)), 4),
                multiplier=plain(value.multiplier),
                required_equity="0" if options else plain(required),
                required_options=plain(required) if options else "0",
                required_total=plain(required),
                side=wire_side(side),
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
