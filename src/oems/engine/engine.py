"""The engine: builds the parts around a recovered state and dispatches each command to its use case."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from oems.domain import events as ev
from oems.domain.balances import AccountValue
from oems.domain.ids import IdGenerator
from oems.domain.state import TradingState
from oems.engine import accounts, instructions, recovery, sandbox, trading
from oems.engine import commands as cmd
from oems.engine.clearing import Clearing
from oems.engine.context import Context
from oems.engine.recorder import ActivityRecorder
from oems.engine.self_match import SelfMatchIndex
from oems.engine.sessions import DEFAULT_SAMPLE_NS, Sessions
from oems.engine.settings import VenueSettings
from oems.engine.valuation import Valuation
from oems.engine.venue import Venue
from oems.engine.writer import ClockReading, Writer
from oems.market.calendar import TradingCalendar
from oems.market.clock import Clock
from oems.market.instrument_master import InstrumentMaster
from oems.market.market_data import MarketData
from oems.store.journal import Journal

MarketBuilder = Callable[[TradingState, int], tuple[InstrumentMaster, MarketData]]
"""Builds the instruments and market data for a recovered state at the given instant."""


class Engine:
    """Owns the trading state. Every change goes command -> events -> journal -> state.

    Built by `Engine.open` around a recovered state, ready to run: no half-built engine exists.
    """

    def __init__(
        self,
        state: TradingState,
        journal: Journal,
        clock: Clock,
        calendar: TradingCalendar,
        instruments: InstrumentMaster,
        market: MarketData,
        *,
        seed: int = 0,
        on_commit: Callable[[list[ev.Event], float], None] | None = None,
        venue: VenueSettings | None = None,
        sample_ns: int = DEFAULT_SAMPLE_NS,
        recovered_events: int = 0,
    ) -> None:
        self.state = state
        self.journal = journal
        self.clock = clock
        self.calendar = calendar
        self.instruments = instruments
        self.market = market
        self.recovered_events = recovered_events
        self.ids = IdGenerator(seed)
        self._apply_recorded = recovery.apply_recorded(state, clock)
        self.writer = Writer(
            state,
            journal,
            clock,
            dispatch=self._dispatch,
            apply=self._apply,
            restore=self._restore,
            due=self.work_due,
            run_due=cmd.RunDue(),
            on_commit=on_commit,
        )
        self.valuation = Valuation(state, instruments, market, calendar)
        self.ctx = Context(
            state=state,
            emit=self.writer.emit,
            clock=clock,
            ids=self.ids,
            calendar=calendar,
            instruments=instruments,
            market=market,
            valuation=self.valuation,
            venue_settings=venue or VenueSettings(),
            history=journal.history,
        )
        self.venue = Venue(self.ctx)
        self.clearing = Clearing(self.ctx)
        self.self_match = SelfMatchIndex()
        self.sessions = Sessions(self.ctx, self.venue, self.clearing, sample_ns)
        self._resume_ids()
        self._reindex()
        ctx = self.ctx
        self._handlers: dict[type, Callable[[Any], Any]] = {
            cmd.OpenAccount: lambda c: accounts.open_account(ctx, c),
            cmd.AdjustCash: lambda c: accounts.adjust_cash(ctx, c),
            cmd.UpdateRiskSettings: lambda c: accounts.update_risk_settings(ctx, c),
            cmd.SetAccountStatus: lambda c: accounts.set_account_status(ctx, c),
            cmd.IssueApiKey: lambda c: accounts.issue_api_key(ctx, c),
            cmd.RevokeApiKey: lambda c: accounts.revoke_api_key(ctx, c),
            cmd.SetClock: self.sessions.set_clock,
            cmd.AdvanceClock: self.sessions.advance_clock,
            cmd.RunDue: lambda c: self.sessions.run_due(ctx.now_ns()),
            cmd.PinQuote: lambda c: sandbox.pin_quote(ctx, self.venue, c),
            cmd.ReleaseQuote: lambda c: sandbox.release_quote(ctx, c),
            cmd.SubmitOrders: lambda c: trading.submit_orders(ctx, self.self_match, c),
            cmd.ReplaceOrder: lambda c: trading.replace_order(ctx, self.self_match, c),
            cmd.CancelOrders: lambda c: trading.cancel_orders(ctx, c),
            cmd.ClosePositions: lambda c: trading.close_positions(ctx, c),
            cmd.SetFaults: lambda c: trading.set_faults(ctx, c),
            cmd.SubmitInstructions: lambda c: instructions.submit_instructions(ctx, c),
            cmd.CancelInstruction: lambda c: instructions.cancel_instruction(ctx, c),
            cmd.SetClearingAvailability: lambda c: instructions.set_clearing_availability(ctx, c),
            cmd.ResetSandbox: lambda c: self.sessions.run_due(sandbox.reset_sandbox(ctx, c)),
            cmd.AddScenario: lambda c: sandbox.add_scenario(ctx, c),
            cmd.ClearScenarios: lambda c: sandbox.clear_scenarios(ctx, c),
        }

    @classmethod
    def open(
        cls,
        journal: Journal,
        clock: Clock,
        calendar: TradingCalendar,
        build_market: MarketBuilder,
        **options: Any,
    ) -> Engine:
        """An engine ready to run: the state recovered from `journal`, its market attached."""
        state = TradingState()
        count = recovery.recover(journal, state, clock)
        instruments, market = build_market(state, max(clock.now_ns(), state.last_event_ns))
        return cls(
            state, journal, clock, calendar, instruments, market, recovered_events=count, **options
        )

    # ---- what the server calls ------------------------------------------------------------

    @property
    def journal_failure(self) -> str | None:
        """Why the journal refused a batch (writes get 503 until a restart), or None."""
        return self.writer.journal_failure

    @property
    def recorder(self) -> ActivityRecorder | None:
        """The activity stream's recorder, told of every applied event and batch."""
        return self.writer.recorder

    @recorder.setter
    def recorder(self, recorder: ActivityRecorder | None) -> None:
        self.writer.recorder = recorder

    async def execute(self, command: Any) -> Any:
        """Queue a command, wait until its events are durable, and return its result."""
        return await self.writer.execute(command)

    async def run(self, snapshot_every: int = 0) -> None:
        """Process commands in batches until cancelled; snapshot every `snapshot_every` events."""
        await self.writer.run(snapshot_every)

    async def readable(self) -> None:
        """Wait until the state holds nothing the journal has not made durable yet."""
        await self.writer.readable()

    def state_blob(self) -> tuple[int, bytes]:
        """(seq, blob) of the state as of the last journaled event; only between batches."""
        return self.writer.state_blob()

    def close(self) -> None:
        """Release the journal writer thread."""
        self.writer.close()

    def now_ns(self) -> int:
        """The market clock's instant, never earlier than the last journaled event."""
        return self.ctx.now_ns()

    def work_due(self) -> bool:
        """True when a timer is due now (the ticker and the writer loop use it)."""
        return self.sessions.work_due()

    def check_clock_target(self, target_ns: int) -> None:
        """Refuse moving the clock to `target_ns` (see `Sessions.check_clock_target`)."""
        self.sessions.check_clock_target(target_ns)

    def mark_price(self, instrument_id: uuid.UUID, now_ns: int) -> Decimal | None:
        """The price positions in `instrument_id` are valued at."""
        return self.valuation.mark_price(instrument_id, now_ns)

    def account_value(self, account_id: int, now_ns: int) -> AccountValue:
        """The account's balances valued at current marks."""
        return self.valuation.account_value(account_id, now_ns)

    # ---- inside the writer ----------------------------------------------------------------

    def _dispatch(self, command: Any) -> Any:
        return self._handlers[type(command)](command)

    def _apply(self, event: ev.Event) -> None:
        """Apply a live event; the one hook through which the venue, clearing and the
        self-match index follow the state."""
        self._apply_recorded(event)
        if isinstance(event, ev.SandboxReset):
            self._reindex()
            return
        order_id = getattr(event, "order_id", None)
        if order_id is not None:
            order = self.state.orders[order_id]
            self.self_match.follow(event, order)
            self.venue.applied(event, order)
        self.clearing.applied(event)

    def _restore(self, kept: list[ev.Event], clock: ClockReading) -> None:
        """The state as the journal's plus `kept`, the clock `clock`, and everything derived."""
        try:
            recovery.reload(self.journal, self.state, self.clock, kept)
        finally:
            self.clock.set(*clock)
        self._resume_ids()
        self._reindex()

    def _resume_ids(self) -> None:
        """Continue the id sequence after the newest id the state holds."""
        newest = max(
            [
                *self.state.orders,
                *self.state.api_keys,
                *self.state.instructions,
                *(executions[-1].id for executions in self.state.executions.values() if executions),
                *self.journal.history.newest_ids(self.state.accounts),
            ],
            default=None,
        )
        if newest is not None:
            self.ids.resume(newest, self.state.events_applied)

    def _reindex(self) -> None:
        """Rebuild what is derived from the state: the self-match index, books, timers."""
        self.self_match = SelfMatchIndex()
        for order in self.state.orders.values():
            if order.is_open:
                self.self_match.update(order)
        self.venue.rebuild()
        self.clearing.rebuild()
