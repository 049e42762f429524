"""The single writer: commands in, events out, one journal transaction (one fsync) per batch."""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

from oems.domain import events as ev
from oems.domain.accounts import ACCOUNT_SUBTYPES, MAX_OPTIONS_LEVEL, Account, ApiKey
from oems.domain.errors import Conflict, InvalidRequest, NotFound, OemsError
from oems.domain.ids import IdGenerator
from oems.domain.state import TradingState
from oems.engine import commands as cmd
from oems.market.calendar import TradingCalendar
from oems.market.clock import SIMULATED, WALL, Clock
from oems.store.journal import Journal

log = logging.getLogger("oems.engine")
MAX_BATCH = 512


class Engine:
    """Owns the trading state. Every change goes command -> events -> journal -> state."""

    def __init__(
        self,
        state: TradingState,
        journal: Journal,
        clock: Clock,
        calendar: TradingCalendar,
        seed: int = 0,
        on_commit: Callable[[int, float], None] | None = None,
    ) -> None:
        self.state = state
        self.journal = journal
        self.clock = clock
        self.calendar = calendar
        self.ids = IdGenerator(seed)
        self._on_commit = on_commit
        self._queue: asyncio.Queue[tuple[Any, asyncio.Future[Any]]] | None = None
        self._io = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="journal")
        self._pending: list[ev.Event] = []
        self._handlers: dict[type, Callable[[Any], Any]] = {
            cmd.OpenAccount: self._open_account,
            cmd.AdjustCash: self._adjust_cash,
            cmd.UpdateRiskSettings: self._update_risk_settings,
            cmd.IssueApiKey: self._issue_api_key,
            cmd.RevokeApiKey: self._revoke_api_key,
            cmd.SetClock: self._set_clock,
            cmd.AdvanceClock: self._advance_clock,
            cmd.PinQuote: self._pin_quote,
            cmd.ReleaseQuote: self._release_quote,
            cmd.RunDue: self._run_due_now,
        }

    # ---- recovery -------------------------------------------------------------------------

    def recover(self) -> int:
        """Rebuild the state by replaying the whole journal; returns the number of events."""
        count = 0
        for event in self.journal.replay():
            self._apply(event)
            count += 1
        if self.state.clock_setting is not None:
            setting = self.state.clock_setting
            if setting.mode == SIMULATED:
                # A simulated clock resumes where the journal last saw time, never earlier.
                resume = max(setting.now_ns, self.state.last_event_ns)
                self.clock.set(SIMULATED, resume, setting.speed)
            else:
                self.clock.set(WALL, setting.now_ns, 1.0)
        return count

    # ---- the writer loop ----------------------------------------------------------------

    async def execute(self, command: Any) -> Any:
        """Queue a command, wait until its events are durable, and return its result."""
        if self._queue is None:
            raise RuntimeError("engine is not running")
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((command, future))
        return await future

    async def run(self) -> None:
        """Process commands in batches until cancelled."""
        self._queue = asyncio.Queue()
        loop = asyncio.get_running_loop()
        while True:
            batch = [await self._queue.get()]
            while len(batch) < MAX_BATCH and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            outcomes: list[tuple[asyncio.Future[Any], BaseException | None, Any]] = []
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
            events, self._pending = self._pending, []
            if events:
                try:
                    await loop.run_in_executor(self._io, self.journal.append, events)
                    if self._on_commit is not None:
                        self._on_commit(len(events), self.journal.last_commit_seconds)
                except BaseException:
                    # State already holds events the disk refused: stopping is the only safe move.
                    log.critical("journal append failed; stopping the engine", exc_info=True)
                    for future, _, _ in outcomes:
                        if not future.done():
                            future.set_exception(RuntimeError("journal unavailable"))
                    raise
            for future, error, result in outcomes:
                if future.done():
                    continue
                if error is not None:
                    future.set_exception(error)
                else:
                    future.set_result(result)

    def close(self) -> None:
        """Release the journal writer thread."""
        self._io.shutdown(wait=True)

    # ---- helpers ----------------------------------------------------------------------

    def _handle(self, command: Any) -> Any:
        mark = len(self._pending)
        try:
            return self._handlers[type(command)](command)
        except BaseException:
            if len(self._pending) != mark:
                # Handlers validate before they emit; a failure after emitting is a bug.
                log.critical("command %s failed after emitting events", type(command).__name__)
            raise

    def _emit(self, event: ev.Event) -> None:
        self._pending.append(event)
        self._apply(event)

    def _apply(self, event: ev.Event) -> None:
        self.state.apply(event)
        if isinstance(event, ev.ClockSet):
            self.clock.set(event.mode, event.now_ns, event.speed)

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
        self._emit(ev.UserCreated(ts_ns=self.now_ns(), user_id=user_id, name=name))
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
        self._emit(
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
            )
        )
        if c.cash:
            self._emit(
                ev.CashAdjusted(ts_ns=now, account_id=account_id, amount=c.cash, memo="initial")
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
        self._emit(
            ev.CashAdjusted(
                ts_ns=self.now_ns(), account_id=account.id, amount=c.amount, memo=c.memo
            )
        )
        return account

    def _update_risk_settings(self, c: cmd.UpdateRiskSettings) -> Account:
        account = self.account(c.account_id)
        if c.max_notional is not None and c.max_notional <= 0:
            raise InvalidRequest("max_notional must be greater than zero")
        self._emit(
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
        self._emit(
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
            self._emit(ev.ApiKeyRevoked(ts_ns=self.now_ns(), key_id=key.id))
        return key

    def _set_clock(self, c: cmd.SetClock) -> None:
        if c.mode not in (WALL, SIMULATED):
            raise InvalidRequest("mode must be `wall` or `simulated`")
        if c.speed < 0:
            raise InvalidRequest("speed must not be negative")
        now = self.now_ns()
        target = c.now_ns if c.now_ns is not None else now
        if c.mode == SIMULATED and target < self.state.last_event_ns:
            raise InvalidRequest("the clock cannot move before the last recorded event")
        self._emit(
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
            raise InvalidRequest("the clock is in wall mode; switch it to simulated first")
        now = self.now_ns()
        if c.to_ns < now:
            raise InvalidRequest("the clock only moves forward")
        self._run_due(c.to_ns)
        self._emit(
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
        self._emit(
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

    def _release_quote(self, c: cmd.ReleaseQuote) -> None:
        if c.symbol not in self.state.pinned_quotes:
            raise NotFound(f"No quote is pinned for {c.symbol}")
        self._emit(ev.QuoteReleased(ts_ns=self.now_ns(), symbol=c.symbol))

    def _run_due_now(self, c: cmd.RunDue) -> None:
        self._run_due(self.now_ns())

    # ---- timers ------------------------------------------------------------------------

    def next_due_ns(self) -> int | None:
        """The instant of the next scheduled engine action (a trading day's start)."""
        day = self.state.trading_day
        if day is None:
            return None
        return self.calendar.day_start_ns(self.calendar.next_trading_day(day))

    def _run_due(self, until_ns: int) -> None:
        """Run, in time order, everything scheduled up to `until_ns`, stamping each at its instant."""
        if self.state.trading_day is None:
            self._start_first_day(until_ns)
        due = self.next_due_ns()
        while due is not None and due <= until_ns:
            self._emit(ev.TradingDayStarted(ts_ns=due, date=self.calendar.market_date(due)))
            if self.clock.mode == SIMULATED:
                self.clock.move_to(max(due, self.clock.now_ns()))
            due = self.next_due_ns()

    def _start_first_day(self, now_ns: int) -> None:
        """Record the trading day in force at `now_ns`: the last one whose start has passed."""
        day = self.calendar.trading_day_on_or_before(self.calendar.market_date(now_ns))
        if self.calendar.day_start_ns(day) > now_ns:
            day = self.calendar.trading_day_on_or_before(day - dt.timedelta(days=1))
        self._emit(ev.TradingDayStarted(ts_ns=now_ns, date=day))
