"""Journal events: the facts the engine records. State is whatever replaying them produces."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import msgspec

from oems.domain.scenarios import ScenarioTerms
from oems.domain.terms import LegTerms, OrderTerms, TradedInstrument


class Event(msgspec.Struct, tag=True, frozen=True, kw_only=True):
    """Base of every journaled fact; `ts_ns` is the market-clock instant it happened."""

    ts_ns: int


class UserCreated(Event, frozen=True):
    user_id: int
    name: str


class AccountOpened(Event, frozen=True):
    account_id: int
    owner_id: int
    short_name: str
    full_name: str
    subtype: str
    options_level: int
    open_date: dt.date
    holder_entity_id: int
    cash: Decimal = Decimal(0)  # opening balance: it is also the first start-of-day balance
    date_of_birth: dt.date | None = None
    phone_number: str | None = None
    country_of_tax_residency: str | None = None
    address: list[str] | None = None  # line1, line2, city, state, postal_code, country


class CashAdjusted(Event, frozen=True):
    account_id: int
    amount: Decimal
    memo: str = ""


class RiskSettingsChanged(Event, frozen=True):
    account_id: int
    max_notional: Decimal | None


class AccountStatusChanged(Event, frozen=True):
    """An operator set the account ACTIVE, INACTIVE or CLOSED (closing dates it)."""

    account_id: int
    status: str
    close_date: dt.date | None = None


class ApiKeyIssued(Event, frozen=True):
    key_id: uuid.UUID
    user_id: int
    digest: bytes
    admin: bool = False
    account_ids: list[int] | None = None
    expires_ns: int | None = None


class ApiKeyRevoked(Event, frozen=True):
    key_id: uuid.UUID


class ClockSet(Event, frozen=True):
    mode: str  # wall | simulated
    now_ns: int
    speed: float


class QuotePinned(Event, frozen=True):
    symbol: str
    bid: Decimal | None
    ask: Decimal | None
    bid_size: int
    ask_size: int
    last: Decimal | None


class QuoteReleased(Event, frozen=True):
    symbol: str


class StartOfDayFigures(msgspec.Struct, frozen=True):
    """An account valued at the previous close, as the engine computed it at the day's start."""

    equity: Decimal
    long_market_value: Decimal
    short_market_value: Decimal
    buying_power: Decimal
    maintenance_requirement: Decimal


class MarketClosed(Event, frozen=True):
    """A regular session closed: the closing price of every instrument some account holds."""

    date: dt.date
    closes: dict[str, Decimal] = {}  # instrument id -> closing price


class TradingDayStarted(Event, frozen=True):
    date: dt.date
    closes: dict[str, Decimal] = {}  # instrument id -> previous close, for every open position
    close_date: dt.date | None = None  # the session those closes are from
    sod: dict[int, StartOfDayFigures] = {}  # account id -> its start-of-day figures


class OrderAccepted(Event, frozen=True):
    """An order passed validation and risk: it exists, in PENDING_NEW."""

    order_id: uuid.UUID
    account_id: int
    client_order_id: str | None
    instrument: TradedInstrument
    terms: OrderTerms
    closes_position: bool = False
    hold_per_unit: Decimal = Decimal(0)
    venue_due_ns: int | None = None
    releases_ns: int | None = None
    expiry_ns: int | None = None
    auction_ns: int | None = None
    legs: list[LegTerms] | None = None  # a multi-leg strategy


class OrderAcknowledged(Event, frozen=True):
    """The venue took the order (NEW); `queue_state` says whether it waits for its session."""

    order_id: uuid.UUID
    queue_state: str | None = None


class OrderReleased(Event, frozen=True):
    """An order that waited for its session is now working."""

    order_id: uuid.UUID


class OrderTriggered(Event, frozen=True):
    """A stop or trailing stop reached its trigger; it now works as a market or limit order."""

    order_id: uuid.UUID
    price: Decimal


class TrailingMoved(Event, frozen=True):
    """A trailing order's watermark moved, and its stop (and limit) with it."""

    order_id: uuid.UUID
    watermark_px: Decimal
    stop_px: Decimal
    limit_px: Decimal | None = None


class OrderFilled(Event, frozen=True):
    """One execution: quantity at price, cash settling on `settles_on`."""

    order_id: uuid.UUID
    execution_id: uuid.UUID
    quantity: Decimal
    price: Decimal
    venue: str
    settles_on: dt.date
    quote_ts_ns: int | None = None  # the quote whose displayed size it took (None: an auction)


class StrategyFilled(Event, frozen=True):
    """A strategy order filled `quantity` units as one package: one execution and price per leg."""

    order_id: uuid.UUID
    quantity: Decimal
    execution_ids: list[uuid.UUID]
    prices: list[Decimal]
    venue: str
    settles_on: dt.date
    quote_ts_ns: list[int | None]


class OrderCancelRequested(Event, frozen=True):
    order_id: uuid.UUID
    venue_due_ns: int


class OrderCanceled(Event, frozen=True):
    order_id: uuid.UUID
    reason: str


class OrderReplaceRequested(Event, frozen=True):
    """A replace in flight; `changes` maps field names to their new values (wire strings)."""

    order_id: uuid.UUID
    venue_due_ns: int
    changes: dict[str, str | None]


class OrderReplaced(Event, frozen=True):
    order_id: uuid.UUID


class OrderExpired(Event, frozen=True):
    order_id: uuid.UUID
    reason: str


class OrderRejected(Event, frozen=True):
    order_id: uuid.UUID
    reason: str


class FaultsSet(Event, frozen=True):
    """Fault injection for the venue simulator, set through the admin surface."""

    reject_next: int = 0
    reject_reason: str | None = None
    ack_delay_ms: int = 0


class OrderQueued(Event, frozen=True):
    """Queue position: the resting limit waits behind `ahead` displayed at its price."""

    order_id: uuid.UUID
    ahead: Decimal


class QueueAdvanced(Event, frozen=True):
    """`taken` of the liquidity reaching a queued limit traded with the orders ahead of it
    (it came from the displayed size offered at `quote_ts_ns`); `ahead` is what is left."""

    order_id: uuid.UUID
    ahead: Decimal
    taken: Decimal
    quote_ts_ns: int


class OrderAckDelayed(Event, frozen=True):
    """A scenario rule holds the venue's acknowledgement back until `venue_due_ns`."""

    order_id: uuid.UUID
    venue_due_ns: int


class OrderHeld(Event, frozen=True):
    """A scenario rule keeps the acknowledged order from trading until `releases_ns`."""

    order_id: uuid.UUID
    releases_ns: int


class OrderCancelRefused(Event, frozen=True):
    """The venue refused the cancel (a scenario rule): the order goes on working."""

    order_id: uuid.UUID
    reason: str


class OrderReplaceRefused(Event, frozen=True):
    """The venue refused the replace (a scenario rule): the order works on unchanged."""

    order_id: uuid.UUID
    reason: str


class ScenarioAdded(Event, frozen=True):
    """A scenario rule: the orders it matches and the venue's answer to them."""

    rule_id: int
    terms: ScenarioTerms


class ScenarioMatched(Event, frozen=True):
    """A rule decided the venue's answer to an order; a rule for N matches counts one down."""

    rule_id: int
    order_id: uuid.UUID


class ScenariosCleared(Event, frozen=True):
    rule_ids: list[int]


class SandboxReset(Event, frozen=True):
    """Everything traded is gone: orders, executions, positions, instructions, pins, faults and
    scenario rules; users and API keys stay, and with `keep_accounts` every account, as it was
    opened. `ts_ns` becomes the state's latest instant (a reset may set the clock back), and
    `restart_day` forgets the trading day so the next one starts at the clock's new instant."""

    keep_accounts: bool = False
    restart_day: bool = False


# ---- position instructions, exercise, assignment and expiration ---------------------------


class InstructionSent(Event, frozen=True):
    """A position instruction passed validation: it exists, in SENT, until `due_ns`."""

    instruction_id: uuid.UUID
    account_id: int
    client_instruction_id: str
    instruction_type: str
    instrument_id: uuid.UUID
    symbol: str
    quantity: Decimal
    due_ns: int  # when the clearing service processes it
    underlying_instrument_id: uuid.UUID | None = None
    expiry: dt.date | None = None


class InstructionAccepted(Event, frozen=True):
    instruction_id: uuid.UUID
    accepted_quantity: Decimal


class InstructionRejected(Event, frozen=True):
    instruction_id: uuid.UUID
    reason: str


class InstructionCancelRequested(Event, frozen=True):
    instruction_id: uuid.UUID
    cancel_due_ns: int  # when the clearing service answers the cancel


class InstructionCancelled(Event, frozen=True):
    instruction_id: uuid.UUID


class InstructionCancelFailed(Event, frozen=True):
    """The clearing service processed the instruction before the cancel reached it."""

    instruction_id: uuid.UUID
    reason: str
    accepted_quantity: Decimal | None = None  # set when it was accepted: it stays in force


class ClearingAvailabilitySet(Event, frozen=True):
    """The clearing service fault (admin surface): unavailable refuses instruction traffic."""

    available: bool


class OptionDelivery(Event, frozen=True):
    """Option contracts turned into shares at the strike (cash settling on `settles_on`)."""

    account_id: int
    instrument_id: uuid.UUID
    contracts: Decimal  # positive: how many contracts of the position it uses up
    underlying_instrument_id: uuid.UUID
    underlying_symbol: str
    underlying_type: str
    shares: Decimal  # signed: positive received (call exercised, put assigned)
    strike: Decimal
    settles_on: dt.date
    instruction_id: uuid.UUID | None = None  # the EXERCISE instruction behind it, if any


class OptionExercised(OptionDelivery, frozen=True):
    """A long option exercised: by instruction, automatically, or by contrary exercise advice."""


class OptionAssigned(OptionDelivery, frozen=True):
    """A short option assigned at expiration."""


class OptionExpired(Event, frozen=True):
    """An option position expired worthless; `quantity` is the signed position that expired."""

    account_id: int
    instrument_id: uuid.UUID
    quantity: Decimal


class ExerciseCycleCompleted(Event, frozen=True):
    """A close's exercise and expiration processing is done; these instructions are used up."""

    date: dt.date
    consumed: list[uuid.UUID] = []


AnyEvent = (
    UserCreated
    | AccountOpened
    | CashAdjusted
    | RiskSettingsChanged
    | AccountStatusChanged
    | ApiKeyIssued
    | ApiKeyRevoked
    | ClockSet
    | QuotePinned
    | QuoteReleased
    | TradingDayStarted
    | MarketClosed
    | OrderAccepted
    | OrderAcknowledged
    | OrderReleased
    | OrderTriggered
    | TrailingMoved
    | OrderFilled
    | StrategyFilled
    | OrderCancelRequested
    | OrderCanceled
    | OrderReplaceRequested
    | OrderReplaced
    | OrderExpired
    | OrderRejected
    | FaultsSet
    | OrderQueued
    | QueueAdvanced
    | OrderAckDelayed
    | OrderHeld
    | OrderCancelRefused
    | OrderReplaceRefused
    | ScenarioAdded
    | ScenarioMatched
    | ScenariosCleared
    | SandboxReset
    | InstructionSent
    | InstructionAccepted
    | InstructionRejected
    | InstructionCancelRequested
    | InstructionCancelled
    | InstructionCancelFailed
    | ClearingAvailabilitySet
    | OptionExercised
    | OptionAssigned
    | OptionExpired
    | ExerciseCycleCompleted
)

_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(AnyEvent)


def encode_event(event: Event) -> bytes:
    """The journal's byte form of an event."""
    return _encoder.encode(event)


def decode_event(data: bytes) -> Event:
    """The event a journal record holds (also in the forms older versions wrote)."""
    try:
        event: Event = _decoder.decode(data)
    except msgspec.ValidationError:
        upgraded = _upgraded(data)
        if upgraded is None:
            raise
        event = _decoder.decode(upgraded)
    return event


_NESTED = {"instrument": TradedInstrument.__struct_fields__, "terms": OrderTerms.__struct_fields__}


def _upgraded(data: bytes) -> bytes | None:
    """An event written before its current form, rewritten in it; None when it is not one.

    Until 2026-12 `OrderAccepted` carried what the order trades and its terms as flat fields;
    they are `instrument` and `terms` now.
    """
    record = msgspec.msgpack.decode(data)
    if not isinstance(record, dict) or record.get("type") != "OrderAccepted":
        return None
    flat = [name for name in _NESTED if name not in record]
    if not flat:
        return None
    for name in flat:
        record[name] = {field: record.pop(field) for field in _NESTED[name] if field in record}
    return msgspec.msgpack.encode(record)
