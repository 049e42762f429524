"""What the market offers an order: displayed size left after earlier fills, depth behind the
touch, refreshes, and slippage. Reads the state; emits nothing."""

from __future__ import annotations

import hashlib
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from oems.domain.order_rules import tick_for
from oems.domain.state import TradingState
from oems.engine.settings import VenueSettings
from oems.market.quotes import Quote

BPS = Decimal(10000)


def to_tick(price: Decimal, up: bool) -> Decimal:
    """`price` rounded to its tick, up or down."""
    tick = tick_for(price)
    return (price / tick).to_integral_value(ROUND_CEILING if up else ROUND_FLOOR) * tick


class Liquidity:
    """The venue's liquidity model over the state's record of what fills took."""

    def __init__(self, settings: VenueSettings, state: TradingState) -> None:
        self.settings = settings
        self.state = state

    def slipped(self, touch: Decimal, is_buy: bool, limit: Decimal | None) -> Decimal:
        """The price a marketable order gets at `touch`: moved by the slippage, kept within its
        limit."""
        slippage = self.settings.slippage_bps
        if not slippage:
            return touch
        moved = touch * (1 + slippage / BPS) if is_buy else touch * (1 - slippage / BPS)
        price = to_tick(moved, up=is_buy)
        if limit is not None:
            price = min(price, limit) if is_buy else max(price, limit)
        return price

    def offered_ns(self, quote: Quote, now: int) -> int:
        """The instant the quote's displayed size was last offered afresh: when it was quoted,
        then once every refresh interval after that."""
        refresh = self.settings.refresh_ns
        if refresh <= 0 or now <= quote.ts_ns:
            return quote.ts_ns
        return quote.ts_ns + (now - quote.ts_ns) // refresh * refresh

    def levels(
        self, symbol: str, is_buy: bool, quote: Quote, now: int
    ) -> list[tuple[Decimal, Decimal]]:
        """The side an order takes, touch first, as (price, quantity left) after what fills took
        since the size was offered; deeper levels only with depth on."""
        touch = quote.ask if is_buy else quote.bid
        if touch is None:
            return []
        size = quote.ask_size if is_buy else quote.bid_size
        used = Decimal(0)
        taken = self.state.liquidity_used.get((symbol, is_buy))
        if taken is not None and taken[0] == self.offered_ns(quote, now):
            used = taken[1]
        left = []
        for price, shown in [(touch, size), *self.depth(symbol, is_buy, touch, size, quote.ts_ns)]:
            visible = (Decimal(shown) * self.settings.participation).to_integral_value(ROUND_FLOOR)
            spent = min(visible, used)
            used -= spent
            if visible > spent:
                left.append((price, visible - spent))
        return left

    def depth(
        self, symbol: str, is_buy: bool, touch: Decimal, size: int, quote_ts: int
    ) -> list[tuple[Decimal, int]]:
        """The levels behind the touch: each 1-3 ticks further away, sized 0.5-2x the touch,
        drawn from (seed, symbol, side, quote time) so the same quote always shows the same book."""
        count = self.settings.depth
        if count <= 0 or size <= 0:
            return []
        side = "ask" if is_buy else "bid"
        levels = []
        price = touch
        for k in range(count):
            key = f"{self.settings.seed}:{symbol}:{side}:{quote_ts}:{k}".encode()
            gap, scale = hashlib.blake2b(key, digest_size=2).digest()
            step = tick_for(price) * (1 + gap % 3)
            price = price + step if is_buy else price - step
            if price <= 0:
                break
            levels.append((price, size * (50 + scale % 151) // 100))
        return levels

    def available(self, symbol: str, is_buy: bool, quote: Quote, now: int) -> Decimal:
        """What is left of the touch's displayed size (times participation) on one side."""
        size = quote.ask_size if is_buy else quote.bid_size
        shown = (Decimal(size) * self.settings.participation).to_integral_value(ROUND_FLOOR)
        used = self.state.liquidity_used.get((symbol, is_buy))
        if used is not None and used[0] == self.offered_ns(quote, now):
            shown -= used[1]
        return max(shown, Decimal(0))
