"""Each account's working limit prices per instrument and side: the self-match check's index."""

from __future__ import annotations

import uuid
from decimal import Decimal

from sortedcontainers import SortedList

from oems.domain import events as ev
from oems.domain.orders import Order

INFINITY = Decimal("Infinity")

# Order events that leave an order as open, as triggered and at the working price it was: the
# index has nothing to follow (any other order event re-indexes the order).
_UNCHANGED = (
    ev.OrderAcknowledged,
    ev.OrderReleased,
    ev.OrderCancelRequested,
    ev.OrderReplaceRequested,
    ev.OrderQueued,
    ev.QueueAdvanced,
    ev.OrderAckDelayed,
    ev.OrderHeld,
    ev.OrderCancelRefused,
    ev.OrderReplaceRefused,
    ev.ScenarioMatched,
)


class SelfMatchIndex:
    """Each account's working limit prices per instrument and side, for the self-match check."""

    def __init__(self) -> None:
        self._prices: dict[tuple[int, uuid.UUID, bool], SortedList] = {}
        self._indexed: dict[uuid.UUID, tuple[tuple[int, uuid.UUID, bool], Decimal]] = {}

    def follow(self, event: ev.Event, order: Order) -> None:
        """Follow an event just applied to `order`."""
        if not isinstance(event, _UNCHANGED):
            self.update(order)

    def update(self, order: Order) -> None:
        """Re-index one order after it changed: open, working orders with a price are indexed."""
        wanted: tuple[tuple[int, uuid.UUID, bool], Decimal] | None = None
        if order.is_open and not order.waits_for_trigger and not order.is_strategy:
            price = order.working_limit
            if price is None:
                price = INFINITY if order.is_buy else Decimal(0)
            wanted = ((order.account_id, order.instrument.instrument_id, order.is_buy), price)
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
