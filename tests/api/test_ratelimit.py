"""The token bucket behind `--rate-limit`, on a hand-moved clock."""

from __future__ import annotations

import uuid

import pytest

from oems.api.errors import RateLimited
from oems.api.ratelimit import RateLimiter
from oems.settings import Rate


def test_a_burst_of_the_limit_then_429_until_a_token_comes_back() -> None:
    clock = [100.0]
    limiter = RateLimiter(Rate(2, 1), now=lambda: clock[0])
    key = uuid.uuid4()
    assert limiter.take(key)["X-RateLimit-Remaining"] == "1"
    assert limiter.take(key) == {
        "X-RateLimit-Limit": "2",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": "1",
    }
    with pytest.raises(RateLimited) as refused:
        limiter.take(key)
    assert refused.value.code == 429
    assert refused.value.headers["Retry-After"] == "1"
    assert limiter.take(uuid.uuid4())["X-RateLimit-Remaining"] == "1"  # every key its own
    clock[0] += 0.5  # half a second: one token back at 2/s
    assert limiter.take(key)["X-RateLimit-Remaining"] == "0"
    clock[0] += 60  # never more than the burst
    assert limiter.take(key)["X-RateLimit-Remaining"] == "1"


def test_a_per_minute_limit_says_how_long_to_wait() -> None:
    clock = [0.0]
    limiter = RateLimiter(Rate(3, 60), now=lambda: clock[0])
    key = uuid.uuid4()
    for _ in range(3):
        limiter.take(key)
    with pytest.raises(RateLimited) as refused:
        limiter.take(key)
    assert refused.value.headers["Retry-After"] == "20"
    assert refused.value.headers["X-RateLimit-Reset"] == "60"
    assert "3 per minute" in refused.value.message


@pytest.mark.parametrize("text", ["", "0/s", "5", "5/h", "-1/s", "1.5/s", "x/s"])
def test_a_bad_rate_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="--rate-limit"):
        Rate.parse(text)


def test_rates_parse() -> None:
    assert Rate.parse("10/s") == Rate(10, 1)
    assert Rate.parse(" 600 / m ") == Rate(600, 60)
