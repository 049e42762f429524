"""The working orders of one instrument: the matching core's sorted lists, and nothing else."""

from __future__ import annotations

import itertools
import uuid
from decimal import Decimal

from sortedcontainers import SortedList

from oems.domain import orders as o
from oems.domain.orders import Order
from oems.market.quotes import Quote


class Book:
    """The working orders of one instrument in one session class (regular or extended).

    Every list is sorted so that a tick reads only the prefix it affects: limits by price,
    stops by trigger, trailing stops by watermark (which a better price moves) and by stop
    (which a worse price crosses).
    """

    __slots__ = (
        "buy_stops",
        "buys",
        "market",
        "sell_stops",
        "sells",
        "trail_buy_marks",
        "trail_buy_stops",
        "trail_sell_marks",
        "trail_sell_stops",
        "trailing_unmarked",
    )

    def __init__(self) -> None:
        self.buys: SortedList = SortedList()  # (-limit, seq, order): best (highest) first
        self.sells: SortedList = SortedList()  # (limit, seq, order): best (lowest) first
        self.buy_stops: SortedList = SortedList()  # (stop, seq, order): lowest trigger first
        self.sell_stops: SortedList = SortedList()  # (-stop, seq, order): highest first
        self.market: dict[uuid.UUID, Order] = {}
        self.trail_sell_marks: SortedList = SortedList()  # (watermark, seq, order): lowest first
        self.trail_sell_stops: SortedList = SortedList()  # (-stop, seq, order): highest first
        self.trail_buy_marks: SortedList = SortedList()  # (-watermark, seq, order): highest first
        self.trail_buy_stops: SortedList = SortedList()  # (stop, seq, order): lowest first
        self.trailing_unmarked: dict[uuid.UUID, Order] = {}  # no quote seen yet

    def __bool__(self) -> bool:
        return bool(
            self.buys
            or self.sells
            or self.buy_stops
            or self.sell_stops
            or self.market
            or self.trail_sell_marks
            or self.trail_buy_marks
            or self.trailing_unmarked
        )


BookSlots = list[tuple[SortedList | dict[uuid.UUID, Order], object]]
"""Where an order sits: (container, key) pairs to remove it from."""


class Books:
    """Every working order, placed by what it waits for: the books of each instrument (regular
    or extended hours) and the working multi-leg strategies."""

    def __init__(self) -> None:
        self.by_instrument: dict[tuple[uuid.UUID, bool], Book] = {}
        self.strategies: dict[uuid.UUID, Order] = {}
        self._where: dict[uuid.UUID, BookSlots] = {}
        self._seq = itertools.count()

    def __contains__(self, order_id: object) -> bool:
        return order_id in self._where or order_id in self.strategies

    @property
    def has_working_orders(self) -> bool:
        """True when some book holds an order a tick could trigger or fill."""
        return bool(self.strategies) or any(self.by_instrument.values())

    def clear(self) -> None:
        """Empty every book."""
        self.by_instrument.clear()
        self.strategies.clear()
        self._where.clear()

    def book_for(self, order: Order) -> Book:
        """The book the order works in: its instrument's, regular or extended hours."""
        key = (order.instrument.instrument_id, bool(order.terms.extended_hours))
        book = self.by_instrument.get(key)
        if book is None:
            book = self.by_instrument[key] = Book()
        return book

    def add(self, order: Order) -> None:
        """Place the order in its book by what it waits for: a trigger, a price, or liquidity."""
        self.remove(order)
        if order.is_strategy:
            self.strategies[order.id] = order
            return
        book = self.book_for(order)
        seq = next(self._seq)
        places: BookSlots = []

        def put(sorted_list: SortedList, key: Decimal) -> None:
            entry = (key, seq, order)
            sorted_list.add(entry)
            places.append((sorted_list, entry))

        if order.terms.order_type in o.TRAILING_TYPES and not order.triggered:
            mark, stop = order.trailing_watermark_px, order.trailing_stop_px
            if mark is None or stop is None:
                book.trailing_unmarked[order.id] = order
                places.append((book.trailing_unmarked, order.id))
            elif order.is_buy:
                put(book.trail_buy_marks, -mark)
                put(book.trail_buy_stops, stop)
            else:
                put(book.trail_sell_marks, mark)
                put(book.trail_sell_stops, -stop)
        elif order.terms.order_type in o.STOP_TYPES and not order.triggered:
            assert order.terms.stop_price is not None
            if order.is_buy:
                put(book.buy_stops, order.terms.stop_price)
            else:
                put(book.sell_stops, -order.terms.stop_price)
        elif order.working_limit is not None:
            if order.is_buy:
                put(book.buys, -order.working_limit)
            else:
                put(book.sells, order.working_limit)
        else:
            book.market[order.id] = order
            places.append((book.market, order.id))
        self._where[order.id] = places

    def remove(self, order: Order) -> None:
        """Take the order out of wherever it sits (nothing when it sits nowhere)."""
        if self.strategies.pop(order.id, None) is not None:
            return
        for container, key in self._where.pop(order.id, ()):
            if isinstance(container, dict):
                container.pop(key, None)  # type: ignore[call-overload]
            else:
                container.remove(key)


def buy_trigger_price(quote: Quote) -> Decimal | None:
    """What a buy stop compares with: the higher of ask and last."""
    prices = [p for p in (quote.ask, quote.last) if p is not None]
    return max(prices) if prices else None


def sell_trigger_price(quote: Quote) -> Decimal | None:
    """What a sell stop compares with: the lower of bid and last."""
    prices = [p for p in (quote.bid, quote.last) if p is not None]
    return min(prices) if prices else None
