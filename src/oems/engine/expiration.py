"""Exercise, assignment and expiration, run at each regular close right after it is recorded.

At every close, in this order (every event stamped with the close's instant):

1. Open orders on option contracts that expire that day (or earlier), strategies with such a
   leg included, expire with the reason `Option contract expired`; what they held is released.
2. Accepted EXERCISE instructions (also those whose cancel failed) are carried out: a call buys,
   a put sells, 100 x contracts of the underlying at the strike, no more contracts than the
   long position still holds. The instruction is then used up.
3. Option positions expiring that day are settled against the underlier's closing mark (the
   valuation mark at the close instant; no mark counts as out of the money):
   - long and in the money by at least $0.01: exercised automatically, except the contracts
     an accepted DO_NOT_EXERCISE covers, which expire worthless;
   - long and out of the money: expire worthless, except the contracts an accepted
     CONTRARY_EXERCISE covers, which are exercised;
   - short and in the money by at least $0.01: assigned in full (a short call delivers the
     shares at the strike, a short put receives them); otherwise they expire worthless.
   The instructions on those contracts are then used up.

Cash moves at the strike and settles T+1 like a fill's; positions follow the premium treatment
of `oems.domain.exercise`. Exercise and assignment happen regardless of the account's cash or
shares (an exercise by instruction was checked when the clearing service accepted it); early
assignment of short contracts is not simulated.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

from oems.domain import events as ev
from oems.domain import instructions as pi
from oems.domain.instruments import Instrument, OptionTerms
from oems.domain.orders import Order
from oems.domain.positions import Position
from oems.engine.context import Context

IN_THE_MONEY = Decimal("0.01")  # the OCC's exercise-by-exception threshold
EXPIRED_REASON = "Option contract expired"


def at_close(ctx: Context, close_ns: int) -> None:
    """Expire orders, carry out exercises and settle expiring contracts after a regular close."""
    state = ctx.state
    date = state.closed_day
    consumed: list[uuid.UUID] = []
    _expire_orders(ctx, date, close_ns)
    settles_on = ctx.settlement_date(close_ns)
    for instruction in list(state.live_instructions.values()):
        if instruction.instruction_type != pi.EXERCISE or not instruction.in_force:
            continue
        consumed.append(instruction.id)
        assert instruction.accepted_quantity is not None
        position = state.positions.get(instruction.account_id, {}).get(instruction.instrument_id)
        instrument = ctx.instruments.get(instruction.instrument_id)
        if position is None or position.quantity <= 0 or instrument is None:
            continue
        contracts = min(instruction.accepted_quantity, position.quantity)
        _deliver(ctx, position, instrument, contracts, close_ns, settles_on, instruction.id)
    for account_id in sorted(state.positions):
        book = state.positions[account_id]
        for position in sorted(book.values(), key=lambda p: p.symbol):
            instrument = ctx.instruments.get(position.instrument_id)
            terms = instrument.option if instrument is not None else None
            if not position.quantity or terms is None or terms.expiry > date:
                continue
            assert instrument is not None
            _settle(ctx, position, instrument, terms, close_ns, settles_on)
    for instruction in state.live_instructions.values():
        if (
            instruction.in_force
            and instruction.expiry is not None
            and instruction.expiry <= date
            and instruction.id not in consumed
        ):
            consumed.append(instruction.id)
    if consumed:
        ctx.emit(ev.ExerciseCycleCompleted(ts_ns=close_ns, date=date, consumed=consumed))


def _expires_by(ctx: Context, instrument_id: uuid.UUID, date: dt.date) -> bool:
    instrument = ctx.instruments.get(instrument_id)
    return (
        instrument is not None
        and instrument.option is not None
        and instrument.option.expiry <= date
    )


def _expire_orders(ctx: Context, date: dt.date, close_ns: int) -> None:
    """Expire every open order on a contract that expires by `date`."""
    expiring: list[Order] = []
    for by_id in ctx.state.open_orders.values():
        for order in by_id.values():
            instruments = (
                [leg.instrument_id for leg in order.legs]
                if order.legs is not None
                else [order.instrument.instrument_id]
            )
            if any(_expires_by(ctx, i, date) for i in instruments):
                expiring.append(order)
    for order in sorted(expiring, key=lambda o: o.created_ns):
        ctx.emit(ev.OrderExpired(ts_ns=close_ns, order_id=order.id, reason=EXPIRED_REASON))


def _covered(ctx: Context, position: Position, instruction_type: str) -> Decimal:
    """Contracts the account's accepted instructions of a type cover on the position's contract."""
    return sum(
        (
            i.accepted_quantity or Decimal(0)
            for i in ctx.state.live_instructions.values()
            if i.account_id == position.account_id
            and i.instrument_id == position.instrument_id
            and i.instruction_type == instruction_type
            and i.in_force
        ),
        Decimal(0),
    )


def _settle(
    ctx: Context,
    position: Position,
    instrument: Instrument,
    terms: OptionTerms,
    close_ns: int,
    settles_on: dt.date,
) -> None:
    """Exercise, assign or expire an expiring option position."""
    mark = ctx.valuation.mark_price(terms.underlying_id, close_ns)
    in_the_money = False
    if mark is not None:
        intrinsic = mark - terms.strike if terms.contract_type == "CALL" else terms.strike - mark
        in_the_money = intrinsic >= IN_THE_MONEY
    quantity = position.quantity
    if quantity > 0:
        if in_the_money:
            exercised = quantity - min(_covered(ctx, position, pi.DO_NOT_EXERCISE), quantity)
        else:
            exercised = min(_covered(ctx, position, pi.CONTRARY_EXERCISE), quantity)
    else:
        exercised = -quantity if in_the_money else Decimal(0)
    if exercised:
        _deliver(ctx, position, instrument, exercised, close_ns, settles_on, None)
    if position.quantity:
        ctx.emit(
            ev.OptionExpired(
                ts_ns=close_ns,
                account_id=position.account_id,
                instrument_id=position.instrument_id,
                quantity=position.quantity,
            )
        )


def _deliver(
    ctx: Context,
    position: Position,
    instrument: Instrument,
    contracts: Decimal,
    close_ns: int,
    settles_on: dt.date,
    instruction_id: uuid.UUID | None,
) -> None:
    """Turn `contracts` of the position into shares: exercise a long, assign a short."""
    terms = instrument.option
    assert terms is not None
    underlying = ctx.instruments.get(terms.underlying_id)
    assert underlying is not None
    long = position.quantity > 0
    receives = (terms.contract_type == "CALL") == long  # long call or short put
    shares = contracts * terms.multiplier
    event_type = ev.OptionExercised if long else ev.OptionAssigned
    ctx.emit(
        event_type(
            ts_ns=close_ns,
            account_id=position.account_id,
            instrument_id=position.instrument_id,
            contracts=contracts,
            underlying_instrument_id=underlying.id,
            underlying_symbol=underlying.symbol,
            underlying_type=underlying.instrument_type,
            shares=shares if receives else -shares,
            strike=terms.strike,
            settles_on=settles_on,
            instruction_id=instruction_id,
        )
    )
