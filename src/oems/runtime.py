"""The running server's parts wired together: journal, state, engine, clock, calendar, market."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from dataclasses import dataclass, field
from pathlib import Path

from oems.domain.accounts import ApiKey, digest_secret, secret_matches
from oems.domain.events import Event
from oems.domain.state import TradingState
from oems.engine import commands as cmd
from oems.engine.engine import Engine
from oems.engine.settings import VenueSettings
from oems.market.calendar import TradingCalendar
from oems.market.clock import SIMULATED, Clock
from oems.market.instrument_master import InstrumentMaster, build_instrument_master
from oems.market.market_data import MarketData, make_source
from oems.market.replay import ReplayOverlay
from oems.settings import Rate, StreamSettings
from oems.store import replay_log
from oems.store.journal import Journal
from oems.telemetry import metrics
from oems.telemetry.trading_log import log_trading_events

log = logging.getLogger("oems")
TICK_SECONDS = 0.25


@dataclass(frozen=True, slots=True)
class Config:
    """Server settings, from the command line or `OEMS_*` environment variables."""

    db_path: Path
    host: str = "127.0.0.1"
    port: int = 5001
    clock_mode: str = "wall"
    clock_start_ns: int | None = None
    clock_speed: float = 1.0
    market_data: str = "synthetic"
    seed: int = 0
    venue: VenueSettings = field(default_factory=VenueSettings)
    snapshot_every: int = 1_000_000  # events between state snapshots; 0 disables snapshots
    rate_limit: Rate | None = None  # per user API key; None: no limit
    stream: StreamSettings = field(default_factory=StreamSettings)  # /v1/ws limits and timers
    # Keep the cyclic collector off the long-lived state (the server does; the tests' many
    # short runtimes in one process do not): see `tune_collector`.
    tune_gc: bool = False


def tune_collector() -> None:
    """Freeze what exists now (the recovered state) out of the cyclic collector, and collect
    young objects less often: each full pass over a large state pauses the server."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


class Runtime:
    """Owns the engine and the read-side services; `start` and `stop` bracket the server's life."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.calendar = TradingCalendar()
        self.clock = Clock(config.clock_mode, config.clock_start_ns, config.clock_speed)
        self.journal = Journal(config.db_path)
        self.replay_lock = asyncio.Lock()  # one replay load at a time: check, write, merge
        # Rows replayed through the admin surface live beside the database, not in the journal:
        # they are market data, an input of the engine like the source, not trading state.
        self.replay_path = replay_log.replay_log_path(config.db_path)
        self.engine = Engine.open(
            self.journal,
            self.clock,
            self.calendar,
            self._build_market,
            seed=config.seed,
            on_commit=self._committed,
            venue=config.venue,
        )
        self.state = self.engine.state
        self.recovered_events = self.engine.recovered_events
        self.instruments = self.engine.instruments
        self.market_data = self.engine.market
        self._tasks: list[asyncio.Task[None]] = []
        if config.tune_gc:
            tune_collector()
            self.engine.writer.before_snapshot = gc.freeze

    def _build_market(
        self, state: TradingState, now_ns: int
    ) -> tuple[InstrumentMaster, MarketData]:
        """The instrument master for the recovered date and the market data over it."""
        instruments = build_instrument_master(self.calendar.market_date(now_ns), self.calendar)
        source = make_source(
            self.config.market_data, self.config.seed, self.calendar, instruments.resolve
        )
        replayed = ReplayOverlay()
        count = replayed.load_csv(self.replay_path) if replay_log.repair(self.replay_path) else 0
        if count:
            log.info("loaded %d replayed market data rows from %s", count, self.replay_path)
        market = MarketData(
            source, self.calendar, lambda: state.pinned_quotes, instruments.resolve, replayed
        )
        return instruments, market

    def _committed(self, events: list[Event], seconds: float) -> None:
        metrics.observe_journal_batch(len(events), seconds)
        log_trading_events(self.state, events)

    @property
    def is_new(self) -> bool:
        """True when the journal was empty at start: the sandbox has to be bootstrapped."""
        return self.recovered_events == 0

    async def start(self) -> None:
        """Start the engine's writer loop and the ticker that runs timers on a running clock."""
        self._tasks.append(
            asyncio.create_task(self.engine.run(self.config.snapshot_every), name="engine")
        )
        self._tasks.append(asyncio.create_task(self._ticker(), name="ticker"))
        await asyncio.sleep(0)
        if self.is_new and self.config.clock_mode == SIMULATED:
            # Record the simulated clock's start so a restart resumes from the journal.
            await self.engine.execute(
                cmd.SetClock(SIMULATED, self.clock.now_ns(), self.config.clock_speed)
            )
        await self.engine.execute(cmd.RunDue())

    async def stop(self) -> None:
        """Stop the loops, snapshot the state, close the journal (acknowledged changes are durable)."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        self.engine.close()
        if self.config.snapshot_every and self.journal.last_seq > self.journal.snapshot_seq:
            try:
                self.journal.save_snapshot(*self.engine.state_blob())
            except Exception:
                log.exception("snapshot on stop failed; the next start replays more of the journal")
        self.journal.close()

    async def _ticker(self) -> None:
        while True:
            await asyncio.sleep(TICK_SECONDS)
            if self.clock.mode == SIMULATED and self.clock.speed == 0:
                continue
            if self.engine.journal_failure is not None:
                continue  # writes are refused until a restart; /healthz says why
            if self.engine.work_due() or self.engine.venue.has_working_orders:
                try:
                    await self.engine.execute(cmd.RunDue())
                except Exception:
                    log.exception("timer run failed")

    def find_key(self, secret: str) -> ApiKey | None:
        """The live key whose secret this is, or None (lookup by digest, then constant-time compare)."""
        key = self.state.keys_by_digest.get(digest_secret(secret))
        if key is None or not secret_matches(secret, key.digest):
            return None
        if not key.is_live(self.engine.now_ns()):
            return None
        return key
