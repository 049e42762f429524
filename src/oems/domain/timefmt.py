"""UTC timestamps as integer nanoseconds, rendered with nanosecond precision as the contract does."""

from __future__ import annotations

import datetime as dt
import functools

NS_PER_SECOND = 1_000_000_000
UTC = dt.UTC
LATEST_NS = 7_258_118_400 * NS_PER_SECOND  # 2200-01-01: every instant fits a signed 64-bit integer


def format_ns(ns: int) -> str:
    """Render epoch nanoseconds as `2025-10-03T14:01:15.000000000Z`."""
    seconds, frac = divmod(ns, NS_PER_SECOND)
    return f"{_second(seconds)}.{frac:09d}Z"


@functools.lru_cache(maxsize=1024)
def _second(seconds: int) -> str:
    # The timestamps rendered together (an order's, a batch's) mostly share their second, and
    # strftime is most of the cost of rendering one.
    return dt.datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")


def to_datetime(ns: int) -> dt.datetime:
    """Epoch nanoseconds as an aware UTC datetime (microsecond precision)."""
    return dt.datetime.fromtimestamp(ns // 1000 / 1_000_000, UTC)


def from_datetime(value: dt.datetime) -> int:
    """An aware datetime as epoch nanoseconds; naive datetimes are taken as UTC."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    delta = value - dt.datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * NS_PER_SECOND + delta.microseconds * 1000


def parse_iso(text: str) -> int:
    """Parse an ISO-8601 / RFC 3339 instant (nanoseconds kept) to epoch nanoseconds.

    A value without an offset is taken as UTC. Raises ValueError on anything else, and on
    instants before 1970 or from 2200 on.
    """
    text = text.strip()
    frac_ns = 0
    head = text
    # Python's parser keeps only microseconds; keep all nine digits ourselves.
    if "." in text:
        head, rest = text.split(".", 1)
        digits = ""
        while rest and rest[0].isdigit():
            digits, rest = digits + rest[0], rest[1:]
        if not digits or len(digits) > 9:
            raise ValueError(f"invalid timestamp `{text}`")
        frac_ns = int(digits.ljust(9, "0"))
        head = head + rest
    if head.endswith(("Z", "z")):
        head = head[:-1] + "+00:00"
    try:
        parsed = dt.datetime.fromisoformat(head)
    except ValueError as exc:
        raise ValueError(f"invalid timestamp `{text}`") from exc
    ns = from_datetime(parsed) + frac_ns
    if not 0 <= ns < LATEST_NS:
        raise ValueError(f"`{text}` is outside the supported range 1970-01-01 to 2199-12-31")
    return ns
