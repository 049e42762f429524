"""Account activity from the writer's applied events, rendered with the REST renderers.

Each message is rendered when its event is applied (the state shows the change at that moment),
numbered and encoded when the writer takes the batch's rows, stored in the events' own journal
transaction, and handed to the subscribers only once that transaction is durable. `balance`
messages are rendered at the end of the batch, at most one per account.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple

from oems.api.accounts import render_balances
from oems.api.instructions import render_instruction
from oems.api.positions import render_position
from oems.api.rendering import render_execution, render_order
from oems.api.stream.protocol import activity_message
from oems.domain import events as ev
from oems.domain.state import TradingState
from oems.store.journal import ActivityRow

if TYPE_CHECKING:
    from oems.engine.engine import Engine

log = logging.getLogger("oems.stream")

ORDER = "order"
EXECUTION = "execution"
POSITION = "position"
BALANCE = "balance"
INSTRUCTION = "instruction"
RESYNC = "resync"  # a change that could not be rendered: the client reads the account by REST

# Order events that change what GET .../orders/{id} shows (the venue's bookkeeping ones do not).
_ORDER_EVENTS = (
    ev.OrderAccepted,
    ev.OrderAcknowledged,
    ev.OrderReleased,
    ev.OrderTriggered,
    ev.TrailingMoved,
    ev.OrderFilled,
    ev.StrategyFilled,
    ev.OrderCancelRequested,
    ev.OrderCanceled,
    ev.OrderReplaceRequested,
    ev.OrderReplaced,
    ev.OrderExpired,
    ev.OrderRejected,
    ev.OrderHeld,
    ev.OrderCancelRefused,
    ev.OrderReplaceRefused,
)
# Order events that move cash or buying power (the open-order hold).
_HOLD_EVENTS = (
    ev.OrderAccepted,
    ev.OrderTriggered,
    ev.OrderFilled,
    ev.StrategyFilled,
    ev.OrderCanceled,
    ev.OrderReplaced,
    ev.OrderExpired,
    ev.OrderRejected,
)
_INSTRUCTION_EVENTS = (
    ev.InstructionSent,
    ev.InstructionAccepted,
    ev.InstructionRejected,
    ev.InstructionCancelRequested,
    ev.InstructionCancelled,
    ev.InstructionCancelFailed,
)
# Events after which every account's balance (and position) may read differently.
_EVERY_ACCOUNT = (ev.TradingDayStarted, ev.SandboxReset)
# Events that change a quote without the clock moving: the quote feed samples at once.
MARKET_EVENTS = (ev.QuotePinned, ev.QuoteReleased, ev.ClockSet, ev.SandboxReset)
# Events after which a connection's key may no longer be live.
KEY_EVENTS = (ev.ApiKeyRevoked, ev.SandboxReset, ev.ClockSet)


class _Pending(NamedTuple):
    """One message of the batch, rendered but not yet numbered; `data` None: a balance to render."""

    account_id: int
    journal_seq: int
    ts_ns: int
    event: str
    data: dict[str, Any] | None


class ActivityRecorder:
    """The engine's `ActivityRecorder`: renders, numbers and, once durable, delivers activity."""

    def __init__(
        self,
        engine: Engine,
        heads: dict[int, int],
        deliver: Callable[[list[ActivityRow]], None],
        market_moved: Callable[[], None],
        keys_changed: Callable[[], None],
    ) -> None:
        self._engine = engine
        self._state: TradingState = engine.state
        self.heads = dict(heads)  # account -> last durable sequence
        self._deliver = deliver
        self._market_moved = market_moved
        self._keys_changed = keys_changed
        self._pending: list[_Pending] = []
        self._moved = False
        self._keys = False

    def latest(self, account_id: int) -> int:
        """The account's last durable sequence (0: none yet)."""
        return self.heads.get(account_id, 0)

    # ---- the writer's calls -----------------------------------------------------------------

    def applied(self, event: ev.Event, journal_seq: int) -> None:
        """Render what `event` changed, as REST shows it now."""
        if isinstance(event, MARKET_EVENTS):
            self._moved = True
        if isinstance(event, KEY_EVENTS):
            self._keys = True
        mark = len(self._pending)
        try:
            self._record(event, journal_seq)
        except Exception:
            # A message that cannot render must not refuse the trade; in its place the account's
            # subscribers get a `resync`, so none of them misses a change without knowing.
            log.exception("could not render activity for %s", type(event).__name__)
            del self._pending[mark:]
            for account_id in self._accounts_of(event):
                self._pending.append(_resync(account_id, journal_seq, event.ts_ns, event))

    def mark(self) -> int:
        """The point `undo` returns to."""
        return len(self._pending)

    def undo(self, mark: int) -> None:
        """Forget what was recorded since `mark`: its command was undone."""
        del self._pending[mark:]

    def take_rows(self) -> list[ActivityRow]:
        """Number and encode the batch's messages; render each touched account's balance now."""
        pending, self._pending = self._pending, []
        if not pending:
            return []
        balances: dict[int, _Pending] = {}
        for item in pending:
            if item.data is None:
                balances[item.account_id] = item  # the latest such event of the account
        now = self._engine.now_ns()
        rows: list[ActivityRow] = []
        next_sequence: dict[int, int] = {}

        def add(item: _Pending, data: dict[str, Any]) -> None:
            account = item.account_id
            sequence = next_sequence.get(account, self.latest(account)) + 1
            try:
                payload = activity_message(account, sequence, item.ts_ns, item.event, data)
            except Exception:
                log.exception("could not encode a %s message of account %d", item.event, account)
                payload = activity_message(account, sequence, item.ts_ns, RESYNC, _why(item.event))
            next_sequence[account] = sequence
            rows.append(ActivityRow(account, sequence, item.journal_seq, item.ts_ns, payload))

        for item in pending:
            if item.data is not None:
                add(item, item.data)
        for account_id, item in balances.items():
            account = self._state.accounts.get(account_id)
            if account is None:
                continue  # gone with a reset
            try:
                value = self._engine.account_value(account_id, now)
                data = render_balances(account, value, None)
            except Exception:
                log.exception("could not render the balance of account %d", account_id)
                data = _why(BALANCE)
                item = item._replace(event=RESYNC)
            add(item, data)
        return rows

    def durable(self, rows: list[ActivityRow]) -> None:
        """The rows are on disk: advance the heads and deliver them."""
        for row in rows:
            self.heads[row.account_id] = row.sequence
        if rows:
            self._deliver(rows)
        self._notify()

    def discard(self, rows: list[ActivityRow]) -> None:
        """The journal refused the batch: its rows never happened (the heads stay)."""
        self._notify()

    def _notify(self) -> None:
        """Tell the stream that quotes or keys may have changed (a spurious call is harmless)."""
        moved, keys = self._moved, self._keys
        self._moved = self._keys = False
        if moved:
            self._market_moved()
        if keys:
            self._keys_changed()

    # ---- rendering ------------------------------------------------------------------------

    def _record(self, event: ev.Event, journal_seq: int) -> None:
        state = self._state
        add = self._pending.append
        ts = event.ts_ns
        if isinstance(event, _ORDER_EVENTS):
            order = state.orders[event.order_id]
            account = order.account_id
            if isinstance(event, ev.OrderFilled | ev.StrategyFilled):
                ids = (
                    [event.execution_id]
                    if isinstance(event, ev.OrderFilled)
                    else list(event.execution_ids)
                )
                for execution in self._executions(account, ids):
                    add(_Pending(account, journal_seq, ts, EXECUTION, render_execution(execution)))
                add(_Pending(account, journal_seq, ts, ORDER, render_order(order)))
                instruments = [leg.instrument_id for leg in order.legs or ()] or [
                    order.instrument.instrument_id
                ]
                self._positions(account, instruments, journal_seq, ts)
            else:
                add(_Pending(account, journal_seq, ts, ORDER, render_order(order)))
            if isinstance(event, _HOLD_EVENTS):
                add(_Pending(account, journal_seq, ts, BALANCE, None))
        elif isinstance(event, _INSTRUCTION_EVENTS):
            instruction = state.instructions[event.instruction_id]
            account = instruction.account_id
            add(_Pending(account, journal_seq, ts, INSTRUCTION, render_instruction(instruction)))
        elif isinstance(event, ev.OptionDelivery):
            self._positions(
                event.account_id,
                [event.instrument_id, event.underlying_instrument_id],
                journal_seq,
                ts,
            )
            add(_Pending(event.account_id, journal_seq, ts, BALANCE, None))
        elif isinstance(event, ev.OptionExpired):
            self._positions(event.account_id, [event.instrument_id], journal_seq, ts)
            add(_Pending(event.account_id, journal_seq, ts, BALANCE, None))
        elif isinstance(event, ev.CashAdjusted | ev.AccountOpened):
            add(_Pending(event.account_id, journal_seq, ts, BALANCE, None))
        elif isinstance(event, _EVERY_ACCOUNT):
            for account_id in state.accounts:
                if isinstance(event, ev.TradingDayStarted):  # closing prices moved: re-render
                    book = state.positions.get(account_id, {})
                    held = [i for i, p in book.items() if p.quantity]
                    self._positions(account_id, held, journal_seq, ts)
                add(_Pending(account_id, journal_seq, ts, BALANCE, None))

    def _accounts_of(self, event: ev.Event) -> list[int]:
        """The accounts an event concerns, as far as the state tells; every account if unknown."""
        state = self._state
        account_id = getattr(event, "account_id", None)
        order = state.orders.get(getattr(event, "order_id", uuid.UUID(int=0)))
        instruction = state.instructions.get(getattr(event, "instruction_id", uuid.UUID(int=0)))
        owner = order or instruction
        if account_id is None and owner is not None:
            account_id = owner.account_id
        return [account_id] if isinstance(account_id, int) else list(state.accounts)

    def _executions(self, account_id: int, ids: list[uuid.UUID]) -> list[Any]:
        """The account's executions with these ids (the newest ones: they were just booked)."""
        wanted = set(ids)
        found: list[Any] = []
        for execution in reversed(self._state.executions.get(account_id, [])):
            if execution.id in wanted:
                found.append(execution)
                if len(found) == len(wanted):
                    break
        order = {execution_id: i for i, execution_id in enumerate(ids)}
        return sorted(found, key=lambda e: order[e.id])

    def _positions(
        self, account_id: int, instrument_ids: list[uuid.UUID], journal_seq: int, ts_ns: int
    ) -> None:
        book = self._state.positions.get(account_id, {})
        for instrument_id in dict.fromkeys(instrument_ids):
            position = book.get(instrument_id)
            if position is None:
                continue
            mark = self._engine.mark_price(instrument_id, ts_ns)
            self._pending.append(
                _Pending(account_id, journal_seq, ts_ns, POSITION, render_position(position, mark))
            )


def _why(what: str) -> dict[str, Any]:
    """A `resync` message's data: which message could not be made, and what to do."""
    return {"reason": f"the {what} message could not be rendered; read the account by REST"}


def _resync(account_id: int, journal_seq: int, ts_ns: int, event: ev.Event) -> _Pending:
    """The message that stands for the activity `event` could not be rendered into."""
    return _Pending(account_id, journal_seq, ts_ns, RESYNC, _why(type(event).__name__))
