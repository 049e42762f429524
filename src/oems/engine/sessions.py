"""The market's days and the clock: session timers, the day's start and close, clock changes."""

from __future__ import annotations

import datetime as dt
import uuid

from oems.domain import events as ev
from oems.domain.balances import value_account
from oems.domain.errors import InvalidRequest
from oems.domain.timefmt import NS_PER_SECOND, format_ns
from oems.engine import commands as cmd
from oems.engine import expiration
from oems.engine.clearing import Clearing
from oems.engine.context import Context
from oems.engine.venue import Venue
from oems.market.calendar import REGULAR
from oems.market.clock import MAX_CLOCK_SPEED, SIMULATED, WALL, wall_ns

DEFAULT_SAMPLE_NS = 60_000_000_000  # a moved simulated clock samples quotes once a minute
MAX_CLOCK_STEP_NS = 366 * 86_400 * NS_PER_SECOND  # the most one clock change may move ahead


class Sessions:
    """Runs what is due as the clock moves: venue and clearing timers, day starts and closes."""

    def __init__(
        self, ctx: Context, venue: Venue, clearing: Clearing, sample_ns: int = DEFAULT_SAMPLE_NS
    ) -> None:
        self.ctx = ctx
        self.venue = venue
        self.clearing = clearing
        self.sample_ns = sample_ns

    def work_due(self) -> bool:
        """True when a timer is due now (the ticker and the writer loop use it)."""
        due = self.next_due_ns()
        return due is not None and due <= self.ctx.now_ns()

    def _clock_refusal(self, reason: str) -> InvalidRequest:
        """A 400 for a clock change, saying the last recorded instant (the clock's lower bound)."""
        last = (
            format_ns(self.ctx.state.last_event_ns) if self.ctx.state.last_event_ns else "none yet"
        )
        return InvalidRequest(f"{reason} (the last recorded instant is {last})")

    def check_clock_target(self, target_ns: int) -> None:
        """Refuse moving the clock to `target_ns`: before the journal, over a year ahead, or off
        the calendar."""
        now = self.ctx.now_ns()
        if target_ns < self.ctx.state.last_event_ns:
            raise self._clock_refusal("the clock cannot move before the last recorded event")
        if target_ns - now > MAX_CLOCK_STEP_NS:
            raise self._clock_refusal(
                "one clock change moves at most 366 days ahead; advance in several steps"
            )
        if not self.ctx.calendar.covers(target_ns):
            raise self._clock_refusal(
                f"{format_ns(target_ns)} is outside the trading calendar "
                f"({self.ctx.calendar.first_date} to {self.ctx.calendar.last_date}, less a month)"
            )

    def set_clock(self, command: cmd.SetClock) -> None:
        """Set the clock's mode, instant and speed, then run what is due by then."""
        if command.mode not in (WALL, SIMULATED):
            raise self._clock_refusal("mode must be `wall` or `simulated`")
        if not 0 <= command.speed <= MAX_CLOCK_SPEED:
            raise self._clock_refusal(f"speed must be between 0 and {MAX_CLOCK_SPEED:g}")
        if command.mode == WALL and self.ctx.state.last_event_ns > wall_ns():
            raise self._clock_refusal(
                "the journal is ahead of the wall clock, which cannot go back: keep the simulated "
                "clock until real time passes that instant, or start over on the wall clock with "
                'POST /admin/v1/reset {"clock": {"mode": "wall"}} (keeps the keys) or a new --db'
            )
        now = self.ctx.now_ns()
        target = command.now_ns if command.now_ns is not None else now
        if command.mode == SIMULATED:
            self.check_clock_target(target)
        self.ctx.emit(
            ev.ClockSet(
                ts_ns=max(target, self.ctx.state.last_event_ns),
                mode=command.mode,
                now_ns=target,
                speed=command.speed,
            )
        )
        self.run_due(self.ctx.clock.now_ns())

    def advance_clock(self, command: cmd.AdvanceClock) -> None:
        """Move a simulated clock forward, running everything due on the way at its instant."""
        if self.ctx.clock.mode != SIMULATED:
            raise self._clock_refusal("the clock is in wall mode; switch it to simulated first")
        if command.to_ns < self.ctx.now_ns():
            raise self._clock_refusal("the clock only moves forward")
        self.check_clock_target(command.to_ns)
        self.run_due(command.to_ns)
        self.ctx.emit(
            ev.ClockSet(
                ts_ns=command.to_ns,
                mode=SIMULATED,
                now_ns=command.to_ns,
                speed=self.ctx.clock.speed,
            )
        )

    def next_due_ns(self) -> int | None:
        """The instant of the next scheduled engine action: a close, a day start or a venue timer."""
        day = self.ctx.state.trading_day
        if day is None:
            return None
        due = self.ctx.calendar.day_start_ns(self.ctx.calendar.next_trading_day(day))
        close = self._close_due()
        if close is not None:
            due = min(due, close)
        timer = self.venue.next_timer_ns()
        if timer is not None:
            due = min(due, timer)
        clearing = self.clearing.next_timer_ns()
        if clearing is not None:
            due = min(due, clearing)
        return due

    def _close_due(self) -> int | None:
        """The regular close of the current trading day, until it has been recorded."""
        day = self.ctx.state.trading_day
        if day is None or self.ctx.state.closed_day == day:
            return None
        market_day = self.ctx.calendar.day(day)
        if not market_day.is_trading_day:
            return None
        return market_day.sessions[REGULAR][1]

    def run_due(self, until_ns: int) -> None:
        """Run, in time order, everything scheduled up to `until_ns`, stamping each at its instant.

        While working orders exist the venue also samples quotes every `sample_ns` on the way, so
        a clock moved by hours sees the market move in between.
        """
        if self.ctx.state.trading_day is None:
            self._start_first_day(until_ns)
        cursor = self.ctx.now_ns()
        while True:
            due = self.next_due_ns()
            sample = None
            if self.venue.has_working_orders and self.sample_ns > 0:
                sample = cursor + self.sample_ns
            step = min(t for t in (due, sample) if t is not None) if (due or sample) else None
            if step is None or step > until_ns:
                break
            if self.ctx.clock.mode == SIMULATED:
                self.ctx.clock.move_to(max(step, self.ctx.clock.now_ns()))
            self._run_at(step)
            cursor = max(cursor, step)
        self.venue.run_timers(until_ns)
        self.venue.evaluate_all(until_ns)

    def _run_at(self, instant: int) -> None:
        """Everything due at `instant`: the day start, venue timers, a tick, then the close."""
        day = self.ctx.state.trading_day
        start = self.ctx.calendar.day_start_ns(self.ctx.calendar.next_trading_day(day))
        if start <= instant:
            self._start_day(start)
        self.venue.run_timers(instant)
        self.venue.evaluate_all(instant)
        self.clearing.run_timers(instant)
        close = self._close_due()
        if close is not None and close <= instant:
            closes = {str(i): p for i, p in self.ctx.valuation.marks(self._held(), close).items()}
            self.ctx.emit(
                ev.MarketClosed(ts_ns=close, date=self.ctx.state.trading_day, closes=closes)
            )
            expiration.at_close(self.ctx, close)

    def _start_day(self, start: int) -> None:
        """Begin the trading day starting at `start`: previous closes, start-of-day figures."""
        date = self.ctx.calendar.market_date(start)
        held = self._held()
        underliers = {
            p.underlying_instrument_id
            for book in self.ctx.state.positions.values()
            for p in book.values()
            if p.quantity and p.underlying_instrument_id is not None
        }
        held += sorted(underliers - set(held), key=str)  # option margin needs their price
        closes = {
            i: self.ctx.state.last_closes[str(i)]
            for i in held
            if str(i) in self.ctx.state.last_closes
        }
        missing = [i for i in held if i not in closes]
        closes.update(self.ctx.valuation.marks(missing, start))
        sod = {}
        for account_id, positions in self.ctx.state.positions.items():
            if not any(p.quantity for p in positions.values()):
                continue
            value = value_account(
                self.ctx.state.accounts[account_id],
                positions.values(),
                lambda p: closes.get(p.instrument_id),
                lambda p: self.ctx.valuation.margin_rates(
                    p.instrument_id,
                    closes.get(p.underlying_instrument_id) if p.underlying_instrument_id else None,
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
        self.ctx.emit(
            ev.TradingDayStarted(
                ts_ns=start,
                date=date,
                closes={str(i): price for i, price in closes.items()},
                close_date=self.ctx.state.closed_day,
                sod=sod,
            )
        )

    def _held(self) -> list[uuid.UUID]:
        """Every instrument some account holds a position in, in a stable order."""
        held = {
            instrument_id
            for book in self.ctx.state.positions.values()
            for instrument_id, position in book.items()
            if position.quantity
        }
        return sorted(held, key=str)

    def _start_first_day(self, now_ns: int) -> None:
        """Record the trading day in force at `now_ns`: the last one whose start has passed."""
        day = self.ctx.calendar.trading_day_on_or_before(self.ctx.calendar.market_date(now_ns))
        if self.ctx.calendar.day_start_ns(day) > now_ns:
            day = self.ctx.calendar.trading_day_on_or_before(day - dt.timedelta(days=1))
        self.ctx.emit(ev.TradingDayStarted(ts_ns=now_ns, date=day))
