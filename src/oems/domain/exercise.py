"""Exercise, assignment and expiration as they change positions, by the average-cost method.

Premium treatment (the README's "Behaviour worth knowing" repeats it):

- Expiring worthless closes the option at a price of zero: a long realizes minus its cost (the
  premium paid is lost), a short realizes its proceeds (the premium received is kept).
- Exercise and assignment realize nothing on the option. Its cost moves into the shares it
  turns into: a long call's premium raises the cost of the shares bought at the strike; a short
  put's premium lowers it; a long put's premium lowers the proceeds of the shares sold at the
  strike; a short call's premium raises them. Equivalently the share trade is booked at a signed
  cost of `shares x strike + option cost`: added to the shares' cost when it opens or adds to
  the share position, realized (against the cost released) when it closes it, split pro rata
  between the two when it crosses zero.

All of it is Decimal arithmetic; the only divisions are the pro-rata releases the average-cost
method makes for any partial close.
"""

from __future__ import annotations

from decimal import Decimal

from oems.domain.positions import Position, _book

ZERO = Decimal(0)


def release_contracts(position: Position, contracts: Decimal) -> tuple[Decimal, Decimal]:
    """Take `contracts` (a positive count) off an option position without realizing anything.

    Returns the (cost, day cost) released, signed as the position's cost is (negative for a
    short); they travel into the share position the contracts turn into.
    """
    quantity = position.quantity
    assert contracts > 0 and contracts <= abs(quantity), "more contracts than the position holds"
    if contracts == abs(quantity):
        cost, day_cost = position.cost, position.day_cost
    else:
        cost = position.cost * contracts / abs(quantity)
        day_cost = position.day_cost * contracts / abs(quantity)
    position.cost -= cost
    position.day_cost -= day_cost
    position.quantity -= contracts if quantity > 0 else -contracts
    if not position.quantity:
        position.cost = ZERO
        position.day_cost = ZERO
    return cost, day_cost


def deliver(
    position: Position,
    shares: Decimal,
    strike: Decimal,
    cost_adjustment: Decimal,
    day_cost_adjustment: Decimal,
) -> Decimal:
    """Book `shares` (signed: positive received) at `strike` carrying an option's released cost.

    Returns the P&L this realizes today (against the day's baseline, as fills do).
    """
    notional = abs(shares) * strike * position.multiplier
    if shares > 0:
        position.bought_today += notional
    else:
        position.sold_today += notional
    quantity = position.quantity
    closing = ZERO
    if quantity and (quantity > 0) != (shares > 0):
        closing = min(abs(shares), abs(quantity))
    opening = abs(shares) - closing
    cost, _ = _book(quantity, position.cost, shares, strike, position.multiplier)
    day_cost, realized = _book(quantity, position.day_cost, shares, strike, position.multiplier)
    # Only the day's realized P&L is kept (as for fills): the lifetime part needs no record.
    _, to_cost = _split(cost_adjustment, closing, opening)
    day_to_realized, day_to_cost = _split(day_cost_adjustment, closing, opening)
    position.quantity = quantity + shares
    position.cost = cost + to_cost
    position.day_cost = day_cost + day_to_cost
    realized -= day_to_realized
    position.realized_today += realized
    return realized


def _split(adjustment: Decimal, closing: Decimal, opening: Decimal) -> tuple[Decimal, Decimal]:
    """(part realized, part added to cost) of an adjustment over a trade's closing and opening parts."""
    if not opening:
        return adjustment, ZERO
    if not closing:
        return ZERO, adjustment
    realized = adjustment * closing / (closing + opening)
    return realized, adjustment - realized


def expire_worthless(position: Position, quantity: Decimal) -> Decimal:
    """Close `quantity` (signed, as held) of an option position at zero; returns today's realized P&L."""
    return position.apply_fill(-quantity, ZERO)
