"""Scenario rules: an operator forces the venue's answer to the orders a rule matches."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import msgspec

from oems.domain.orders import Order

REJECT = "reject"
FILL_FRACTION = "fill_fraction"
FILL_AT_PRICE = "fill_at_price"
DELAY_ACK = "delay_ack"
DELAY_FILL = "delay_fill"
REFUSE_CANCEL = "refuse_cancel"
REFUSE_REPLACE = "refuse_replace"
EXPIRE = "expire"
ACTIONS = (
    REJECT,
    FILL_FRACTION,
    FILL_AT_PRICE,
    DELAY_ACK,
    DELAY_FILL,
    REFUSE_CANCEL,
    REFUSE_REPLACE,
    EXPIRE,
)
# The venue consults a rule when it answers: a new order, a cancel, or a replace.
ON_CANCEL = (REFUSE_CANCEL,)
ON_REPLACE = (REFUSE_REPLACE,)
ON_NEW = tuple(a for a in ACTIONS if a not in (REFUSE_CANCEL, REFUSE_REPLACE))


class ScenarioTerms(msgspec.Struct, frozen=True, kw_only=True):
    """What a rule matches (every criterion given must hold) and the terms of its action."""

    action: str
    account_id: int | None = None
    symbol: str | None = None
    side: str | None = None
    order_type: str | None = None
    min_quantity: Decimal | None = None
    max_quantity: Decimal | None = None
    client_id_prefix: str | None = None
    reason: str | None = None
    fraction: Decimal | None = None
    price: Decimal | None = None
    delay_ns: int | None = None
    times: int | None = None  # only the next N matches; None: every one

    def matches(self, order: Order) -> bool:
        """True when the single-instrument `order` meets every criterion the rule sets."""
        return (
            order.legs is None
            and (self.account_id is None or order.account_id == self.account_id)
            and (self.symbol is None or order.instrument.symbol == self.symbol)
            and (self.side is None or order.terms.side == self.side)
            and (self.order_type is None or order.terms.order_type == self.order_type)
            and (self.min_quantity is None or order.terms.quantity >= self.min_quantity)
            and (self.max_quantity is None or order.terms.quantity <= self.max_quantity)
            and (
                self.client_id_prefix is None
                or (order.client_order_id or "").startswith(self.client_id_prefix)
            )
        )


@dataclass(slots=True)
class ScenarioRule:
    """A rule in force: its terms, and how often it matched and may still match."""

    id: int
    terms: ScenarioTerms
    created_ns: int
    remaining: int | None = None  # None: every match; else the matches left before it goes
    matched: int = 0


def first_match(
    rules: dict[int, ScenarioRule], order: Order, actions: tuple[str, ...]
) -> ScenarioRule | None:
    """The oldest rule with one of `actions` that matches `order` (rules are kept in id order)."""
    for rule in rules.values():
        if rule.terms.action in actions and rule.terms.matches(order):
            return rule
    return None
