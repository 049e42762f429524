"""Scenario rules: an operator forces the venue's answer to the orders a rule matches."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import msgspec

from oems.domain import orders as o
from oems.domain.errors import InvalidRequest
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


# Which of the action's own terms each action takes; the others must not be given.
_ACTION_TERMS = {
    REJECT: ("reason",),
    FILL_FRACTION: ("fraction",),
    FILL_AT_PRICE: ("price",),
    DELAY_ACK: ("delay_ns",),
    DELAY_FILL: ("delay_ns",),
    REFUSE_CANCEL: ("reason",),
    REFUSE_REPLACE: ("reason",),
    EXPIRE: ("reason",),
}
_WIRE_NAMES = {"reason": "reason", "fraction": "fraction", "price": "price", "delay_ns": "delay_ms"}
_REQUIRED = {FILL_FRACTION: "fraction", FILL_AT_PRICE: "price", DELAY_ACK: "delay_ns"}
_REQUIRED[DELAY_FILL] = "delay_ns"


def check_terms(terms: ScenarioTerms) -> None:
    """Raise a 400 for the first thing a rule's terms get wrong (the wire's names in messages)."""
    _check_action(terms)
    if terms.times is not None and terms.times < 1:
        raise InvalidRequest("`times` must be at least 1")
    if terms.side is not None and terms.side not in o.SIDES:
        raise InvalidRequest(f"side must be one of {', '.join(o.SIDES)}")
    if terms.order_type is not None and terms.order_type not in o.ORDER_TYPES:
        raise InvalidRequest(f"order_type must be one of {', '.join(o.ORDER_TYPES)}")
    for name, value in (("min_quantity", terms.min_quantity), ("max_quantity", terms.max_quantity)):
        if value is not None and value <= 0:
            raise InvalidRequest(f"`{name}` must be greater than zero")
    low, high = terms.min_quantity, terms.max_quantity
    if low is not None and high is not None and low > high:
        raise InvalidRequest("`min_quantity` must not be above `max_quantity`")


def _check_action(terms: ScenarioTerms) -> None:
    """A known action, with exactly its own terms, each in range."""
    action = terms.action
    if action not in ACTIONS:
        raise InvalidRequest(f"action must be one of {', '.join(ACTIONS)}")
    for name, wire in _WIRE_NAMES.items():
        if getattr(terms, name) is not None and name not in _ACTION_TERMS[action]:
            raise InvalidRequest(f"`{wire}` does not apply to the action {action}")
    required = _REQUIRED.get(action)
    if required is not None and getattr(terms, required) is None:
        raise InvalidRequest(f"the action {action} needs `{_WIRE_NAMES[required]}`")
    if terms.fraction is not None and not 0 < terms.fraction < 1:
        raise InvalidRequest("`fraction` must be between 0 and 1 (exclusive)")
    if terms.price is not None and terms.price <= 0:
        raise InvalidRequest("`price` must be greater than zero")
    if terms.delay_ns is not None and terms.delay_ns <= 0:
        raise InvalidRequest("`delay_ms` must be greater than zero")


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
