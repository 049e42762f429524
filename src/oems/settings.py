"""Settings of the server that are not the trading model and that more than one layer reads.

`Rate` is the `--rate-limit` setting: the runtime's configuration holds it and the API's limiter
(`oems.api.ratelimit`) spends it. `StreamSettings` are the `--ws-*` limits and timers of `/v1/ws`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_RATE = re.compile(r"^\s*(\d+)\s*/\s*(s|m)\s*$")
_PERIOD_SECONDS = {"s": 1, "m": 60}


@dataclass(frozen=True, slots=True)
class Rate:
    """`limit` requests per `period_s` seconds."""

    limit: int
    period_s: int

    @classmethod
    def parse(cls, text: str) -> Rate:
        """`10/s` or `600/m`; ValueError otherwise."""
        match = _RATE.match(text.lower())
        if match is None or int(match.group(1)) < 1:
            raise ValueError(f"--rate-limit takes N/s or N/m with N >= 1, got `{text}`")
        return cls(int(match.group(1)), _PERIOD_SECONDS[match.group(2)])


@dataclass(frozen=True, slots=True)
class StreamSettings:
    """The stream's limits and timers (`oems serve --ws-*`)."""

    auth_timeout_s: float = 30.0  # a connection without a valid key is closed after this
    heartbeat_s: float = 15.0  # a heartbeat after this much silence in both directions
    queue: int = 10_000  # messages waiting for one connection before it is cut off (429)
    connections_per_key: int = 32
    quote_sample_s: float = 0.25  # how often quotes of a moving clock are sampled
