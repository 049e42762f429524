"""Commands: what callers ask the engine to do. Each is validated against live state, then journaled."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal

from oems.domain.instructions import InstructionRequest
from oems.domain.orders import OrderRequest, StrategyRequest
from oems.domain.scenarios import ScenarioTerms


@dataclass(frozen=True, slots=True)
class OpenAccount:
    owner: str
    full_name: str
    subtype: str
    options_level: int
    cash: Decimal
    short_name: str | None = None


@dataclass(frozen=True, slots=True)
class AdjustCash:
    account_id: int
    amount: Decimal
    memo: str = ""


@dataclass(frozen=True, slots=True)
class UpdateRiskSettings:
    account_id: int
    max_notional: Decimal | None


@dataclass(frozen=True, slots=True)
class SetAccountStatus:
    account_id: int
    status: str


@dataclass(frozen=True, slots=True)
class IssueApiKey:
    user: str
    digest: bytes
    account_ids: tuple[int, ...] | None = None
    admin: bool = False
    expires_ns: int | None = None


@dataclass(frozen=True, slots=True)
class RevokeApiKey:
    key_id: uuid.UUID


@dataclass(frozen=True, slots=True)
class SetClock:
    mode: str
    now_ns: int | None
    speed: float


@dataclass(frozen=True, slots=True)
class AdvanceClock:
    to_ns: int


@dataclass(frozen=True, slots=True)
class PinQuote:
    symbol: str
    bid: Decimal | None
    ask: Decimal | None
    bid_size: int
    ask_size: int
    last: Decimal | None


@dataclass(frozen=True, slots=True)
class ReleaseQuote:
    symbol: str


@dataclass(frozen=True, slots=True)
class RunDue:
    """Run every timer due up to the clock's current instant, then evaluate working orders."""


@dataclass(frozen=True, slots=True)
class SubmitOrders:
    """Accept all the orders or none (atomic batch)."""

    account_id: int
    orders: tuple[OrderRequest | StrategyRequest, ...]


@dataclass(frozen=True, slots=True)
class ReplaceOrder:
    account_id: int
    order_id: uuid.UUID
    quantity: Decimal | None = None
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    trailing_offset: Decimal | None = None
    trailing_offset_type: str | None = None
    limit_offset: Decimal | None = None


@dataclass(frozen=True, slots=True)
class CancelOrders:
    """Request the cancellation of these open orders of the account."""

    account_id: int
    order_ids: tuple[uuid.UUID, ...]


@dataclass(frozen=True, slots=True)
class ClosePositions:
    """Close every position of the account, or the one in `instrument_id`, with market orders."""

    account_id: int
    instrument_id: uuid.UUID | None
    cancel_orders: bool


@dataclass(frozen=True, slots=True)
class SetFaults:
    reject_next: int
    reject_reason: str | None
    ack_delay_ms: int


@dataclass(frozen=True, slots=True)
class SubmitInstructions:
    """Position instructions: each row accepted (SENT) or refused on its own (batch semantics)."""

    account_id: int
    rows: tuple[InstructionRequest, ...]


@dataclass(frozen=True, slots=True)
class CancelInstruction:
    """Request the cancellation of an instruction (by server id or the caller's key)."""

    account_id: int
    reference: str


@dataclass(frozen=True, slots=True)
class SetClearingAvailability:
    available: bool


@dataclass(frozen=True, slots=True)
class AddScenario:
    """A scenario rule: criteria (None: any) and the action the venue takes on a match."""

    terms: ScenarioTerms


@dataclass(frozen=True, slots=True)
class ClearScenarios:
    """Remove one scenario rule (`rule_id`), or every rule."""

    rule_id: int | None = None


@dataclass(frozen=True, slots=True)
class ResetSandbox:
    """Back to a fresh sandbox: `accounts` opened again, or every account as opened
    (`keep_accounts`); users and API keys stay; `clock` optionally set in the same batch."""

    accounts: tuple[OpenAccount, ...]
    keep_accounts: bool = False
    clock: SetClock | None = None


Command = (
    OpenAccount
    | AdjustCash
    | UpdateRiskSettings
    | SetAccountStatus
    | IssueApiKey
    | RevokeApiKey
    | SetClock
    | AdvanceClock
    | PinQuote
    | ReleaseQuote
    | RunDue
    | SubmitOrders
    | ReplaceOrder
    | CancelOrders
    | ClosePositions
    | SetFaults
    | SubmitInstructions
    | CancelInstruction
    | SetClearingAvailability
    | AddScenario
    | ClearScenarios
    | ResetSandbox
)
