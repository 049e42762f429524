"""The single writer: commands in, events out, one journal transaction (one fsync) per batch."""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import datetime as dt
import logging
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from oems.domain import events as ev
from oems.domain.accounts import (
    ACCOUNT_STATUSES,
    ACCOUNT_SUBTYPES,
    MAX_OPTIONS_LEVEL,
    Account,
    ApiKey,
)
from oems.domain.balances import AccountValue, MarginRates, value_account
from oems.domain.errors import Conflict, InvalidRequest, NotFound, OemsError, ServiceUnavailable
from oems.domain.ids import IdGenerator
from oems.domain.instruments import Instrument
from oems.domain.orders import Order
from oems.domain.state import TradingState
from oems.domain.timefmt import NS_PER_SECOND, format_ns
from oems.engine import commands as cmd
from oems.engine import expiration, instructions, sandbox, trading
from oems.engine.recorder import ActivityRecorder
from oems.engine.trading import SelfMatchIndex
from oems.engine.venue import Venue, VenueSettings
from oems.market.calendar import REGULAR, TradingCalendar
from oems.market.clock import MAX_CLOCK_SPEED, SIMULATED, WALL, Clock, wall_ns
from oems.market.instrument_master import InstrumentMaster
from oems.market.quotes import MarketData, Quote, spot_price
from oems.store.journal import ActivityRow, Journal, Row, encode_rows
from oems.store.snapshots import collector_paused, dump_state, load_state

log = logging.getLogger("oems.engine")
MAX_BATCH = 512
DEFAULT_SAMPLE_NS = 60_000_000_000  # a moved simulated clock samples quotes once a minute
MAX_CLOCK_STEP_NS = 366 * 86_400 * NS_PER_SECOND  # the most one clock change may move ahead
_SCHEDULING_EVENTS = (ev.OrderAccepted, ev.OrderCancelRequested, ev.OrderReplaceRequested)


class Engine:
    """Owns the trading state. Every change goes command -> events -> journal -> state."""

    def __init__(
        self,
        state: TradingState,
        journal: Journal,
        clock: Clock,
        calendar: TradingCalendar,
        seed: int = 0,
        on_commit: Callable[[list[ev.Event], float], None] | None = None,
        venue: VenueSettings | None = None,
        sample_ns: int = DEFAULT_SAMPLE_NS,
    ) -> None:
        self.state = state
        self.journal = journal
        self.clock = clock
        self.calendar = calendar
        self.ids = IdGenerator(seed)
        self._on_commit = on_commit
        self.recorder: ActivityRecorder | None = None  # set by whoever serves the activity stream
        self._queue: asyncio.Queue[tuple[Any, asyncio.Future[Any] | None]] | None = None
        self._io = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="journal")
        self._pending: list[ev.Event] = []  # the events of the batch being handled, applied
        self._rows: list[Row] = []  # the same events encoded, ready for the journal
        self._attached = False
        self._durable: asyncio.Event | None = None  # set while state == journal on disk
        self._broken = False  # the state could not be brought back to the journal: reads fail
        self.journal_failure: str | None = None  # why the journal refused a batch: writes get 503
        self.instruments: InstrumentMaster = None  # type: ignore[assignment]  # attach_market
        self.market: MarketData = None  # type: ignore[assignment]
        self.venue = Venue(self, venue or VenueSettings())
        self.self_match = SelfMatchIndex()
        self.clearing = instructions.Clearing(self)
        self.sample_ns = sample_ns
        self._handlers: dict[type, Callable[[Any], Any]] = {
            cmd.OpenAccount: self._open_account,
            cmd.AdjustCash: self._adjust_cash,
            cmd.UpdateRiskSettings: self._update_risk_settings,
            cmd.SetAccountStatus: self._set_account_status,
            cmd.IssueApiKey: self._issue_api_key,
            cmd.RevokeApiKey: self._revoke_api_key,
            cmd.SetClock: self._set_clock,
            cmd.AdvanceClock: self._advance_clock,
            cmd.PinQuote: self._pin_quote,
            cmd.ReleaseQuote: self._release_quote,
            cmd.RunDue: self._run_due_now,
            cmd.SubmitOrders: lambda c: trading.submit_orders(self, c),
            cmd.ReplaceOrder: lambda c: trading.replace_order(self, c),
            cmd.CancelOrders: lambda c: trading.cancel_orders(self, c),
            cmd.ClosePositions: lambda c: trading.close_positions(self, c),
            cmd.SetFaults: lambda c: trading.set_faults(self, c),
            cmd.SubmitInstructions: lambda c: instructions.submit_instructions(self, c),
            cmd.CancelInstruction: lambda c: instructions.cancel_instruction(self, c),
            cmd.SetClearingAvailability: lambda c: instructions.set_clearing_availability(self, c),
            cmd.ResetSandbox: lambda c: sandbox.reset_sandbox(self, c),
            cmd.AddScenario: lambda c: sandbox.add_scenario(self, c),
            cmd.ClearScenarios: lambda c: sandbox.clear_scenarios(self, c),
        }

    # ---- recovery -------------------------------------------------------------------------

    def recover(self) -> int:
        """Rebuild the state: the latest snapshot, then the journal after it; returns the event count."""
        count = self._load_journal()
        if self.state.clock_setting is not None:
            setting = self.state.clock_setting
            if setting.mode == SIMULATED:
                # A simulated clock resumes where the journal last saw time, never earlier.
                resume = max(setting.now_ns, self.state.last_event_ns)
                self.clock.set(SIMULATED, resume, setting.speed)
            else:
                self.clock.set(WALL, setting.now_ns, 1.0)
        return count

    def _load_journal(self) -> int:
        """Fill the state from the latest snapshot and the journal after it; the event count."""
        after = 0
        with collector_paused():
            try:
                snapshot = self.journal.latest_snapshot()
                if snapshot is not None:
                    load_state(snapshot[1], snapshot[0], self.state)
                    after = snapshot[0]
            except Exception:
                log.warning("snapshot unusable; replaying the whole journal", exc_info=True)
            count = after
            for event in self.journal.replay(after):
                self._apply(event)
                count += 1
        return count

    def _roll_back(self, keep: int, clock: tuple[str, int, float]) -> None:
        """Make the state the journal's plus the batch's first `keep` events; the clock `clock`.

        The way out when a command fails after it emitted events, or the journal refuses a batch:
        nothing of the failed part stays in memory. It costs a reload (the latest snapshot and the
        journal after it), so the use cases validate before they emit and this stays rare.
        """
        kept, kept_rows = self._pending[:keep], self._rows[:keep]
        self._pending, self._rows = [], []
        self._attached = False
        try:
            fresh = TradingState()
            for f in dataclasses.fields(fresh):
                setattr(self.state, f.name, getattr(fresh, f.name))
            self._load_journal()
            for event in kept:
                self._apply(event)
        except BaseException:
            self._broken = True
            log.critical("the state could not be rebuilt from the journal", exc_info=True)
            raise
        finally:
            self.clock.set(*clock)
        self._pending, self._rows = kept, kept_rows
        self.market.pins = self.state.pinned_quotes
        self.attach_market(self.instruments, self.market)  # books, indexes, timers from the state

    # ---- the writer loop ----------------------------------------------------------------

    async def execute(self, command: Any) -> Any:
        """Queue a command, wait until its events are durable, and return its result."""
        if self._queue is None:
            raise RuntimeError("engine is not running")
        if self.journal_failure is not None:
            raise ServiceUnavailable(self.journal_failure)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((command, future))
        return await future

    def snapshot(self) -> tuple[int, bytes]:
        """(seq, blob) of the state as of the last journaled event; only between batches."""
        if self._pending or self.state.events_applied != self.journal.last_seq:
            raise RuntimeError("the state is not at a batch boundary")
        return self.journal.last_seq, dump_state(self.state)

    async def run(self, snapshot_every: int = 0) -> None:  # noqa: C901
        """Process commands in batches until cancelled; snapshot every `snapshot_every` events."""
        self._queue = asyncio.Queue()
        self._durable = asyncio.Event()
        self._durable.set()
        snapshot_seq = self.journal.snapshot_seq  # the last snapshot written or attempted
        loop = asyncio.get_running_loop()
        while True:
            batch = [await self._queue.get()]
            while len(batch) < MAX_BATCH and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            outcomes: list[tuple[asyncio.Future[Any] | None, BaseException | None, Any]] = []
            batch_clock = self.clock.reading()
            for command, future in batch:
                try:
                    result = self._handle(command)
                except OemsError as exc:
                    outcomes.append((future, exc, None))
                except Exception as exc:  # a bug: refuse this command, keep the engine alive
                    log.exception("command %s failed", type(command).__name__)
                    outcomes.append((future, exc, None))
                else:
                    outcomes.append((future, None, result))
            if self.work_due() and self.journal_failure is None:
                # The venue answers now when its latency is zero: in this batch, one commit.
                try:
                    self._handle(cmd.RunDue())
                except Exception:
                    log.exception("running due timers failed")
            events, self._pending = self._pending, []
            rows, self._rows = self._rows, []
            if rows:
                self._durable.clear()
                activity = self._take_activity()
                try:
                    await loop.run_in_executor(self._io, self.journal.append, rows, activity)
                except Exception as exc:
                    if self.recorder is not None:
                        self.recorder.discard(activity)
                    self._refuse_writes(exc, events, rows, batch_clock, outcomes)
                else:
                    if self.recorder is not None:
                        self.recorder.durable(activity)
                    if self._on_commit is not None:
                        self._on_commit(events, self.journal.last_commit_seconds)
            for future, error, result in outcomes:
                if future is None or future.done():
                    continue
                if error is not None:
                    future.set_exception(error)
                else:
                    future.set_result(result)
            if rows:
                self._durable.set()
                # Let the readers that waited for this commit run before the next batch changes
                # the state again: they read exactly what is on disk.
                await asyncio.sleep(0)
            if snapshot_every and self.journal.last_seq - snapshot_seq >= snapshot_every:
                # Pickle here, where state == journal; write in the journal thread, off the loop.
                snapshot_seq = self.journal.last_seq
                try:
                    seq, blob = self.snapshot()
                    await loop.run_in_executor(self._io, self.journal.save_snapshot, seq, blob)
                except Exception:
                    log.exception("snapshot failed; a restart replays more of the journal")

    async def readable(self) -> None:
        """Wait until the state holds nothing the journal has not made durable yet."""
        if self._durable is not None and not self._durable.is_set():
            await self._durable.wait()
        if self._broken:
            raise ServiceUnavailable(self.journal_failure or "The server's state is unavailable")

    def work_due(self) -> bool:
        """True when a timer is due now (the ticker and the writer loop use it)."""
        due = self.next_due_ns()
        return due is not None and due <= self.now_ns()

    def close(self) -> None:
        """Release the journal writer thread."""
        self._io.shutdown(wait=True)

    # ---- helpers ----------------------------------------------------------------------

    def _take_activity(self) -> list[ActivityRow]:
        """The recorder's rows for the batch; a recorder that fails loses none of the batch."""
        if self.recorder is None:
            return []
        try:
            return self.recorder.take_rows()
        except Exception:
            # A stream that cannot render must not refuse trading; its subscribers resync by REST.
            log.exception("the activity recorder failed; this batch has no activity messages")
            return []

    def _refuse_writes(
        self,
        exc: Exception,
        events: list[ev.Event],
        rows: list[Row],
        clock: tuple[str, int, float],
        outcomes: list[tuple[asyncio.Future[Any] | None, BaseException | None, Any]],
    ) -> None:
        """The journal refused a batch: undo it in memory, fail its commands, refuse later writes."""
        self.journal_failure = (
            f"The journal at {self.journal.path} refused a write ({type(exc).__name__}: {exc}); "
            "no change is accepted until the server is restarted with a working disk. "
            "Every acknowledged change is on disk; reads keep working."
        )
        log.critical("journal append failed: writes are refused from now on", exc_info=exc)
        self._pending, self._rows = events, rows
        try:
            self._roll_back(0, clock)
        except BaseException:
            log.critical("reads are refused too: the state is ahead of the journal")
        refusal = ServiceUnavailable(self.journal_failure)
        for i, (future, error, _) in enumerate(outcomes):
            if error is None:
                outcomes[i] = (future, refusal, None)

    def _handle(self, command: Any) -> Any:
        """Run one command: all its events are applied and encoded, or none (the state unchanged)."""
        if self.journal_failure is not None:
            raise ServiceUnavailable(self.journal_failure)
        mark = len(self._pending)
        recorded = self.recorder.mark() if self.recorder is not None else 0
        clock = self.clock.reading()
        try:
            result = self._handlers[type(command)](command)
            self._rows.extend(encode_rows(self._pending[mark:]))
        except BaseException:
            if self.recorder is not None:
                self.recorder.undo(recorded)
            if len(self._pending) != mark:
                log.error(
                    "command %s failed after emitting %d events; they are undone",
                    type(command).__name__,
                    len(self._pending) - mark,
                )
                self._roll_back(mark, clock)
            raise
        return result

    def handle_nested(self, command: Any) -> Any:
        """Carry out `command` as part of the one being handled: same batch, same transaction."""
        return self._handlers[type(command)](command)

    def run_due(self, until_ns: int) -> None:
        """Run everything scheduled up to `until_ns` as part of the command being handled."""
        self._run_due(until_ns)

    def emit(self, event: ev.Event) -> None:
        """Record an event of the command being handled: applied now, journaled with its batch."""
        self._pending.append(event)
        self._apply(event)
        if self.recorder is not None:
            self.recorder.applied(event, self.state.events_applied)

    def _apply(self, event: ev.Event) -> None:
        self.state.apply(event)
        if isinstance(event, ev.ClockSet):
            self.clock.set(event.mode, event.now_ns, event.speed)
        elif self._attached:
            order_id = getattr(event, "order_id", None)
            if order_id is not None:
                order = self.state.orders[order_id]
                self.self_match.update(order)
                if isinstance(event, _SCHEDULING_EVENTS):
                    self.venue.schedule(order)

    # ---- market access (after `attach_market`) ---------------------------------------------

    def attach_market(self, instruments: InstrumentMaster, market: MarketData) -> None:
        """Give the engine its instruments and quotes, and rebuild books and indexes from state."""
        self.instruments = instruments
        self.market = market
        self._attached = True
        newest = max(
            [
                *self.state.orders,
                *self.state.api_keys,
                *self.state.instructions,
                *(executions[-1].id for executions in self.state.executions.values() if executions),
            ],
            default=None,
        )
        if newest is not None:
            self.ids.resume(newest, self.state.events_applied)
        self.reindex()

    def reindex(self) -> None:
        """Rebuild what is derived from the state: self-match index, venue books, timers."""
        self.self_match = SelfMatchIndex()
        for order in self.state.orders.values():
            if order.is_open:
                self.self_match.update(order)
        self.venue.rebuild()
        self.clearing = instructions.Clearing(self)

    def market_quote(self, instrument: Instrument, now_ns: int) -> Quote | None:
        """The quote in force for `instrument` at `now_ns`."""
        return self.market.quote(instrument, now_ns)

    def mark_price(self, instrument_id: uuid.UUID, now_ns: int) -> Decimal | None:
        """The price positions in `instrument_id` are valued at: the quote's midpoint or last sale."""
        instrument = self.instruments.get(instrument_id)
        if instrument is None:
            return None
        return spot_price(self.market.quote(instrument, now_ns))

    def margin_rates(
        self, instrument_id: uuid.UUID, underlying_price: Decimal | None = None
    ) -> MarginRates:
        """The margin terms of an instrument (an option's with its underlier's price)."""
        instrument = self.instruments.get(instrument_id)
        if instrument is None:
            return MarginRates(False, Decimal(1), Decimal(1), False)
        terms = instrument.option
        return MarginRates(
            marginable=instrument.is_marginable,
            long_maintenance=instrument.long_margin_rate or Decimal(1),
            short_maintenance=instrument.short_margin_rate or Decimal(1),
            is_option=terms is not None,
            contract_type=terms.contract_type if terms else None,
            strike=terms.strike if terms else None,
            underlying_price=underlying_price,
        )

    def account_value(self, account_id: int, now_ns: int) -> AccountValue:
        """The account's balances valued at current marks."""
        account = self.state.accounts[account_id]
        positions = self.state.positions.get(account_id, {}).values()
        return value_account(
            account,
            positions,
            lambda p: self.mark_price(p.instrument_id, now_ns),
            lambda p: self.margin_rates(
                p.instrument_id,
                self.mark_price(p.underlying_instrument_id, now_ns)
                if p.underlying_instrument_id
                else None,
            ),
            self.calendar.session_at(now_ns) == REGULAR,
        )

    def settlement_date(self, now_ns: int) -> dt.date:
        """T+1: the trading day after the trade date."""
        return self.calendar.next_trading_day(self.calendar.market_date(now_ns))

    def latency_ns(self) -> int:
        """How long the venue takes to answer a cancel or replace."""
        return self.venue.settings.latency_ns

    def ack_latency_ns(self) -> int:
        """How long the venue takes to acknowledge a new order (latency plus injected delay)."""
        return self.venue.settings.latency_ns + self.state.faults.ack_delay_ms * 1_000_000

    def open_order(self, account_id: int, order_id: uuid.UUID, verb: str) -> Order:
        """The account's order, open; 404 when unknown, 400 when it is already done."""
        order = self.state.orders.get(order_id)
        if order is None or order.account_id != account_id:
            raise NotFound(f"Order {order_id} not found")
        if not order.is_open:
            raise InvalidRequest(f"Order {order_id} is {order.status} and can no longer be {verb}")
        return order

    def now_ns(self) -> int:
        """The market clock's instant, never earlier than the last journaled event."""
        return max(self.clock.now_ns(), self.state.last_event_ns)

    def account(self, account_id: int) -> Account:
        """The account, or NotFound."""
        account = self.state.accounts.get(account_id)
        if account is None:
            raise NotFound("Some requested entity was not found")
        return account

    def _user_id(self, name: str) -> int:
        user = self.state.users_by_name.get(name)
        if user is not None:
            return user.id
        user_id = self.state.next_user_id()
        self.emit(ev.UserCreated(ts_ns=self.now_ns(), user_id=user_id, name=name))
        return user_id

    # ---- command handlers -----------------------------------------------------------------

    def _open_account(self, c: cmd.OpenAccount) -> Account:
        if c.subtype not in ACCOUNT_SUBTYPES:
            raise InvalidRequest(f"subtype must be one of {', '.join(ACCOUNT_SUBTYPES)}")
        if not 0 <= c.options_level <= MAX_OPTIONS_LEVEL:
            raise InvalidRequest(f"options_level must be between 0 and {MAX_OPTIONS_LEVEL}")
        if c.cash < 0:
            raise InvalidRequest("cash must not be negative")
        if not c.full_name.strip():
            raise InvalidRequest("full_name must not be empty")
        if not c.owner.strip():
            raise InvalidRequest("owner must not be empty")
        now = self.now_ns()
        owner_id = self._user_id(c.owner)
        account_id = self.state.next_account_id()
        self.emit(
            ev.AccountOpened(
                ts_ns=now,
                account_id=account_id,
                owner_id=owner_id,
                short_name=c.short_name or f"OEMS-{account_id}",
                full_name=c.full_name,
                subtype=c.subtype,
                options_level=c.options_level,
                open_date=self.calendar.market_date(now),
                holder_entity_id=900000000 + owner_id,
                cash=c.cash,
            )
        )
        return self.state.accounts[account_id]

    def _adjust_cash(self, c: cmd.AdjustCash) -> Account:
        account = self.account(c.account_id)
        if c.amount == 0:
            raise InvalidRequest("amount must not be zero")
        if account.settled_cash + c.amount < 0 or account.trade_cash + c.amount < 0:
            raise InvalidRequest(
                f"Withdrawal of {-c.amount} exceeds available cash {min(account.settled_cash, account.trade_cash)}"
            )
        self.emit(
            ev.CashAdjusted(
                ts_ns=self.now_ns(), account_id=account.id, amount=c.amount, memo=c.memo
            )
        )
        return account

    def _set_account_status(self, c: cmd.SetAccountStatus) -> Account:
        account = self.account(c.account_id)
        if c.status not in ACCOUNT_STATUSES:
            raise InvalidRequest(f"status must be one of {', '.join(ACCOUNT_STATUSES)}")
        if account.status == "CLOSED" and c.status != "CLOSED":
            raise InvalidRequest("a closed account cannot be reopened")
        if c.status == "CLOSED" and (
            self.state.open_orders.get(account.id)
            or any(p.quantity for p in self.state.positions.get(account.id, {}).values())
        ):
            raise InvalidRequest("close the account's positions and open orders first")
        if c.status != account.status:
            now = self.now_ns()
            closing = self.calendar.market_date(now) if c.status == "CLOSED" else None
            self.emit(
                ev.AccountStatusChanged(
                    ts_ns=now, account_id=account.id, status=c.status, close_date=closing
                )
            )
        return account

    def _update_risk_settings(self, c: cmd.UpdateRiskSettings) -> Account:
        account = self.account(c.account_id)
        if c.max_notional is not None and c.max_notional <= 0:
            raise InvalidRequest("max_notional must be greater than zero")
        self.emit(
            ev.RiskSettingsChanged(
                ts_ns=self.now_ns(), account_id=account.id, max_notional=c.max_notional
            )
        )
        return account

    def _issue_api_key(self, c: cmd.IssueApiKey) -> ApiKey:
        if c.digest in self.state.keys_by_digest:
            raise Conflict("Resource already exists")
        if not c.user.strip():
            raise InvalidRequest("user must not be empty")
        if c.account_ids is not None:
            missing = [a for a in c.account_ids if a not in self.state.accounts]
            if missing:
                raise NotFound(f"Account {missing[0]} not found")
        now = self.now_ns()
        if c.expires_ns is not None and c.expires_ns <= now:
            raise InvalidRequest("expires_at must be in the future")
        user_id = self._user_id(c.user)
        key_id = self.ids.uuid7(now)
        self.emit(
            ev.ApiKeyIssued(
                ts_ns=now,
                key_id=key_id,
                user_id=user_id,
                digest=c.digest,
                admin=c.admin,
                account_ids=sorted(c.account_ids) if c.account_ids is not None else None,
                expires_ns=c.expires_ns,
            )
        )
        return self.state.api_keys[key_id]

    def _revoke_api_key(self, c: cmd.RevokeApiKey) -> ApiKey:
        key = self.state.api_keys.get(c.key_id)
        if key is None:
            raise NotFound(f"API key {c.key_id} not found")
        if not key.revoked:
            self.emit(ev.ApiKeyRevoked(ts_ns=self.now_ns(), key_id=key.id))
        return key

    def _clock_refusal(self, reason: str) -> InvalidRequest:
        """A 400 for a clock change, saying the last recorded instant (the clock's lower bound)."""
        last = format_ns(self.state.last_event_ns) if self.state.last_event_ns else "none yet"
        return InvalidRequest(f"{reason} (the last recorded instant is {last})")

    def check_clock_target(self, target_ns: int) -> None:
        """Refuse moving the clock to `target_ns`: before the journal, over a year ahead, or off
        the calendar."""
        now = self.now_ns()
        if target_ns < self.state.last_event_ns:
            raise self._clock_refusal("the clock cannot move before the last recorded event")
        if target_ns - now > MAX_CLOCK_STEP_NS:
            raise self._clock_refusal(
                "one clock change moves at most 366 days ahead; advance in several steps"
            )
        if not self.calendar.covers(target_ns):
            raise self._clock_refusal(
                f"{format_ns(target_ns)} is outside the trading calendar "
                f"({self.calendar.first_date} to {self.calendar.last_date}, less a month)"
            )

    def _set_clock(self, c: cmd.SetClock) -> None:
        if c.mode not in (WALL, SIMULATED):
            raise self._clock_refusal("mode must be `wall` or `simulated`")
        if not 0 <= c.speed <= MAX_CLOCK_SPEED:
            raise self._clock_refusal(f"speed must be between 0 and {MAX_CLOCK_SPEED:g}")
        if c.mode == WALL and self.state.last_event_ns > wall_ns():
            raise self._clock_refusal(
                "the journal is ahead of the wall clock, which cannot go back: keep the simulated "
                "clock until real time passes that instant, or start over on the wall clock with "
                'POST /admin/v1/reset {"clock": {"mode": "wall"}} (keeps the keys) or a new --db'
            )
        now = self.now_ns()
        target = c.now_ns if c.now_ns is not None else now
        if c.mode == SIMULATED:
            self.check_clock_target(target)
        self.emit(
            ev.ClockSet(
                ts_ns=max(target, self.state.last_event_ns),
                mode=c.mode,
                now_ns=target,
                speed=c.speed,
            )
        )
        self._run_due(self.clock.now_ns())

    def _advance_clock(self, c: cmd.AdvanceClock) -> None:
        if self.clock.mode != SIMULATED:
            raise self._clock_refusal("the clock is in wall mode; switch it to simulated first")
        if c.to_ns < self.now_ns():
            raise self._clock_refusal("the clock only moves forward")
        self.check_clock_target(c.to_ns)
        self._run_due(c.to_ns)
        self.emit(
            ev.ClockSet(ts_ns=c.to_ns, mode=SIMULATED, now_ns=c.to_ns, speed=self.clock.speed)
        )

    def _pin_quote(self, c: cmd.PinQuote) -> None:
        if c.bid is not None and c.ask is not None and c.bid > c.ask:
            raise InvalidRequest("bid must not be above ask")
        for name, value in (("bid", c.bid), ("ask", c.ask), ("last", c.last)):
            if value is not None and value <= 0:
                raise InvalidRequest(f"{name} must be greater than zero")
        if c.bid_size < 0 or c.ask_size < 0:
            raise InvalidRequest("sizes must not be negative")
        self.emit(
            ev.QuotePinned(
                ts_ns=self.now_ns(),
                symbol=c.symbol,
                bid=c.bid,
                ask=c.ask,
                bid_size=c.bid_size,
                ask_size=c.ask_size,
                last=c.last,
            )
        )
        if self._attached:
            self.venue.evaluate_all(self.now_ns())

    def _release_quote(self, c: cmd.ReleaseQuote) -> None:
        if c.symbol not in self.state.pinned_quotes:
            raise NotFound(f"No quote is pinned for {c.symbol}")
        self.emit(ev.QuoteReleased(ts_ns=self.now_ns(), symbol=c.symbol))

    def _run_due_now(self, c: cmd.RunDue) -> None:
        self._run_due(self.now_ns())

    # ---- timers ------------------------------------------------------------------------

    def next_due_ns(self) -> int | None:
        """The instant of the next scheduled engine action: a close, a day start or a venue timer."""
        day = self.state.trading_day
        if day is None:
            return None
        due = self.calendar.day_start_ns(self.calendar.next_trading_day(day))
        close = self._close_due()
        if close is not None:
            due = min(due, close)
        timer = self.venue.next_timer_ns() if self._attached else None
        if timer is not None:
            due = min(due, timer)
        clearing = self.clearing.next_timer_ns()
        if clearing is not None:
            due = min(due, clearing)
        return due

    def _close_due(self) -> int | None:
        """The regular close of the current trading day, until it has been recorded."""
        day = self.state.trading_day
        if day is None or self.state.closed_day == day:
            return None
        market_day = self.calendar.day(day)
        if not market_day.is_trading_day:
            return None
        return market_day.sessions[REGULAR][1]

    def _run_due(self, until_ns: int) -> None:
        """Run, in time order, everything scheduled up to `until_ns`, stamping each at its instant.

        While working orders exist the venue also samples quotes every `sample_ns` on the way, so
        a clock moved by hours sees the market move in between.
        """
        if self.state.trading_day is None:
            self._start_first_day(until_ns)
        cursor = self.now_ns()
        while True:
            due = self.next_due_ns()
            sample = None
            if self._attached and self.venue.has_working_orders and self.sample_ns > 0:
                sample = cursor + self.sample_ns
            step = min(t for t in (due, sample) if t is not None) if (due or sample) else None
            if step is None or step > until_ns:
                break
            if self.clock.mode == SIMULATED:
                self.clock.move_to(max(step, self.clock.now_ns()))
            self._run_at(step)
            cursor = max(cursor, step)
        if self._attached:
            self.venue.run_timers(until_ns)
            self.venue.evaluate_all(until_ns)

    def _run_at(self, instant: int) -> None:
        """Everything due at `instant`: the day start, venue timers, a tick, then the close."""
        day = self.state.trading_day
        start = self.calendar.day_start_ns(self.calendar.next_trading_day(day))
        if start <= instant:
            self._start_day(start)
        if self._attached:
            self.venue.run_timers(instant)
            self.venue.evaluate_all(instant)
        self.clearing.run_timers(instant)
        close = self._close_due()
        if close is not None and close <= instant:
            closes = {str(i): p for i, p in self._marks(self._held(), close).items()}
            self.emit(ev.MarketClosed(ts_ns=close, date=self.state.trading_day, closes=closes))
            if self._attached:
                expiration.at_close(self, close)

    def _start_day(self, start: int) -> None:
        """Begin the trading day starting at `start`: previous closes, start-of-day figures."""
        date = self.calendar.market_date(start)
        held = self._held()
        underliers = {
            p.underlying_instrument_id
            for book in self.state.positions.values()
            for p in book.values()
            if p.quantity and p.underlying_instrument_id is not None
        }
        held += sorted(underliers - set(held), key=str)  # option margin needs their price
        closes = {
            i: self.state.last_closes[str(i)] for i in held if str(i) in self.state.last_closes
        }
        missing = [i for i in held if i not in closes]
        closes.update(self._marks(missing, start))
        sod = {}
        if self._attached:
            for account_id, book in self.state.positions.items():
                if not any(p.quantity for p in book.values()):
                    continue
                value = value_account(
                    self.state.accounts[account_id],
                    book.values(),
                    lambda p: closes.get(p.instrument_id),
                    lambda p: self.margin_rates(
                        p.instrument_id,
                        closes.get(p.underlying_instrument_id)
                        if p.underlying_instrument_id
                        else None,
                    ),
                    regular_session=False,
                )
                sod[account_id] = ev.StartOfDayFigures(
                    equity=value.equity,
                    long_market_value=value.long_market_value,
                    short_market_value=value.short_market_value,
                    buying_power=value.overnight_buying_power,
                    maintenance_requirement=value.maintenance_requirement,
                )
        self.emit(
            ev.TradingDayStarted(
                ts_ns=start,
                date=date,
                closes={str(i): price for i, price in closes.items()},
                close_date=self.state.closed_day,
                sod=sod,
            )
        )

    def _held(self) -> list[uuid.UUID]:
        """Every instrument some account holds a position in, in a stable order."""
        held = {
            instrument_id
            for book in self.state.positions.values()
            for instrument_id, position in book.items()
            if position.quantity
        }
        return sorted(held, key=str)

    def _marks(self, instrument_ids: list[uuid.UUID], at_ns: int) -> dict[uuid.UUID, Decimal]:
        """The valuation price of each instrument at `at_ns` (those without one are left out)."""
        if not self._attached:
            return {}
        marks = {}
        for instrument_id in instrument_ids:
            price = self.mark_price(instrument_id, at_ns)
            if price is not None:
                marks[instrument_id] = price
        return marks

    def _start_first_day(self, now_ns: int) -> None:
        """Record the trading day in force at `now_ns`: the last one whose start has passed."""
        day = self.calendar.trading_day_on_or_before(self.calendar.market_date(now_ns))
        if self.calendar.day_start_ns(day) > now_ns:
            day = self.calendar.trading_day_on_or_before(day - dt.timedelta(days=1))
        self.emit(ev.TradingDayStarted(ts_ns=now_ns, date=day))
