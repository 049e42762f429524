"""Per-key request rate limits: a token bucket per user API key, on the monotonic clock.

Off unless the server is started with `--rate-limit N/s` (or `N/m`). A key's bucket holds at most
N tokens (a burst of N) and refills at N per second (per minute); each request takes a token or
is answered 429. Real time, not market time: a limit protects the server and is what a client's
retry logic lives in, and a frozen simulated clock would never refill a bucket.
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from oems.api.errors import RateLimited
from oems.settings import Rate


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at: float


class RateLimiter:
    """One token bucket per key id; `take` spends a token or raises `RateLimited`."""

    def __init__(self, rate: Rate, now: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self._per_second = rate.limit / rate.period_s
        self._now = now
        self._buckets: dict[uuid.UUID, _Bucket] = {}

    def take(self, key_id: uuid.UUID) -> dict[str, str]:
        """Spend one of the key's tokens: the answer's rate-limit headers, or RateLimited."""
        now = self._now()
        bucket = self._buckets.get(key_id)
        if bucket is None:
            bucket = self._buckets[key_id] = _Bucket(float(self.rate.limit), now)
        refilled = bucket.tokens + (now - bucket.at) * self._per_second
        bucket.tokens, bucket.at = min(float(self.rate.limit), refilled), now
        if bucket.tokens < 1:
            wait = max(1, math.ceil((1 - bucket.tokens) / self._per_second))
            unit = "second" if self.rate.period_s == 1 else "minute"
            raise RateLimited(
                f"Too many requests: this API key may make {self.rate.limit} per {unit}; "
                f"retry after {wait} s",
                {**self._headers(bucket), "Retry-After": str(wait)},
            )
        bucket.tokens -= 1
        return self._headers(bucket)

    def _headers(self, bucket: _Bucket) -> dict[str, str]:
        full_in = (self.rate.limit - bucket.tokens) / self._per_second
        return {
            "X-RateLimit-Limit": str(self.rate.limit),
            "X-RateLimit-Remaining": str(math.floor(bucket.tokens)),
            "X-RateLimit-Reset": str(math.ceil(full_in)),
        }
