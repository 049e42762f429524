"""The working orders of one instrument: the matching core's sorted lists, and nothing else."""

from __future__ import annotations

import uuid

from sortedcontainers import SortedList

from oems.domain.orders import Order


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
