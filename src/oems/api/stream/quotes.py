"""Level 1 quotes for the stream: one `market-data-l1` message per subscribed symbol per change.

The feed samples every subscribed instrument's quote on a timer (a moving clock: at most one
message per symbol per sample) and at once after a batch that pinned or released a quote or moved
the clock. A message goes out when the quote or the last trade differs from the previous sample;
its `data` is the object `GET /v1/market-data/snapshot` renders at that instant.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from oems.api.market_data import render_snapshot
from oems.api.stream.protocol import encode
from oems.domain.instruments import Instrument

if TYPE_CHECKING:
    from oems.runtime import Runtime

log = logging.getLogger("oems.stream")

Listener = Callable[[str], None]  # takes one encoded `market-data-l1` message
_QuoteKey = tuple[Any, ...]


def l1_message(data: dict[str, Any]) -> str:
    """A `market-data-l1` message carrying one snapshot."""
    return encode({"type": "market-data-l1", "data": data}).decode()


class QuoteFeed:
    """Who listens to which instrument, and the sampler that tells them of each change."""

    def __init__(self, runtime: Runtime, sample_s: float) -> None:
        self._runtime = runtime
        self._sample_s = sample_s
        self._listeners: dict[uuid.UUID, dict[int, Listener]] = {}  # instrument -> id(owner) ->
        self._instruments: dict[uuid.UUID, Instrument] = {}
        self._last: dict[uuid.UUID, _QuoteKey | None] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.samples = 0

    def start(self) -> None:
        """Start the sampler (on the running loop)."""
        self._task = asyncio.create_task(self._run(), name="quote-feed")

    async def stop(self) -> None:
        """Stop the sampler."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def wake(self) -> None:
        """Sample now: a quote may have changed without the clock moving."""
        self._wake.set()

    def snapshot_now(self, instrument: Instrument) -> str:
        """The instrument's `market-data-l1` message at this instant (call between batches)."""
        runtime = self._runtime
        now = runtime.engine.now_ns()
        return l1_message(
            render_snapshot(instrument, runtime.market_data, runtime.instruments, now)
        )

    def listen(self, instrument: Instrument, owner: object, listener: Listener) -> None:
        """Send `owner` the instrument's changes from now on (call between batches)."""
        if instrument.id not in self._listeners:
            self._listeners[instrument.id] = {}
            self._instruments[instrument.id] = instrument
            self._last[instrument.id] = self._key(instrument, self._runtime.engine.now_ns())
        self._listeners[instrument.id][id(owner)] = listener

    def unlisten(self, instrument_id: uuid.UUID, owner: object) -> None:
        """Stop sending `owner` the instrument's changes."""
        listeners = self._listeners.get(instrument_id)
        if listeners is None:
            return
        listeners.pop(id(owner), None)
        if not listeners:
            del self._listeners[instrument_id]
            del self._instruments[instrument_id]
            del self._last[instrument_id]

    def _key(self, instrument: Instrument, now_ns: int) -> _QuoteKey | None:
        quote = self._runtime.market_data.quote(instrument, now_ns)
        if quote is None:
            return None
        return (quote.bid, quote.ask, quote.bid_size, quote.ask_size, quote.last, quote.last_size)

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._sample_s)
            self._wake.clear()
            if not self._listeners:
                continue
            try:
                await self._runtime.engine.readable()  # pins not yet durable are not shown
                self.sample()
            except Exception:
                log.exception("quote sample failed")

    def sample(self) -> None:
        """Tell every listener of each instrument whose quote or last trade changed."""
        self.samples += 1
        runtime = self._runtime
        now = runtime.engine.now_ns()
        for instrument_id, listeners in list(self._listeners.items()):
            instrument = self._instruments[instrument_id]
            key = self._key(instrument, now)
            if key == self._last[instrument_id]:
                continue
            self._last[instrument_id] = key
            message = l1_message(
                render_snapshot(instrument, runtime.market_data, runtime.instruments, now)
            )
            for listener in list(listeners.values()):
                listener(message)
