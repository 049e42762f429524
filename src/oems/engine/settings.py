"""How the simulated venue behaves: latency, slippage, participation, refresh, depth, queue."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

MAX_DEPTH = 50  # levels beyond the touch


@dataclass(frozen=True, slots=True)
class VenueSettings:
    """Configurable venue behaviour: latency, slippage, how much of the touch one fill takes."""

    latency_ns: int = 0
    slippage_bps: Decimal = Decimal(0)
    participation: Decimal = Decimal(1)  # fraction of the displayed size an order may take
    refresh_ns: int = 1_000_000_000  # a static quote offers its size again after this; 0: never
    depth: int = 0  # levels shown beyond the touch (0: the touch only)
    queue: bool = False  # a resting limit waits behind the displayed size it joined
    seed: int = 0  # the depth's sizes and gaps are a function of (seed, symbol, side, quote time)
