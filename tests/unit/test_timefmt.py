"""Instants as epoch nanoseconds: parsing ISO-8601 with all nine digits, the range, rendering."""

from __future__ import annotations

import calendar
import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from oems.domain.timefmt import (
    LATEST_NS,
    NS_PER_SECOND,
    format_ns,
    from_datetime,
    parse_iso,
    to_datetime,
)

# 2025-10-15T14:30:00Z, worked out from the calendar rather than by the module.
OPEN_NS = calendar.timegm((2025, 10, 15, 14, 30, 0)) * NS_PER_SECOND


@pytest.mark.parametrize(
    ("text", "ns"),
    [
        ("2025-10-15T14:30:00Z", OPEN_NS),
        ("2025-10-15T14:30:00.123456789Z", OPEN_NS + 123_456_789),  # nine digits kept
        ("2025-10-15T14:30:00.5Z", OPEN_NS + 500_000_000),
        ("2025-10-15T14:30:00.000000001z", OPEN_NS + 1),
        ("2025-10-15T10:30:00-04:00", OPEN_NS),  # an offset is honoured
        ("2025-10-15T16:30:00.25+02:00", OPEN_NS + 250_000_000),
        ("2025-10-15T14:30:00", OPEN_NS),  # no offset: UTC
        ("  2025-10-15T14:30:00Z ", OPEN_NS),
        ("1970-01-01T00:00:00Z", 0),
        ("2199-12-31T23:59:59.999999999Z", LATEST_NS - 1),
    ],
)
def test_parse_iso(text: str, ns: int) -> None:
    assert parse_iso(text) == ns


@pytest.mark.parametrize(
    "text",
    [
        "1969-12-31T23:59:59.999999999Z",
        "1970-01-01T00:30:00+01:00",  # 23:30 the day before, in UTC
        "2200-01-01T00:00:00Z",
        "2199-12-31T23:00:00-01:00",  # 2200-01-01T00:00Z
        "9999-12-31T23:59:59Z",
    ],
)
def test_instants_outside_1970_to_2199_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="outside the supported range"):
        parse_iso(text)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "yesterday",
        "2025-10-15T14:30:00.Z",  # a point with no digits
        "2025-10-15T14:30:00.1234567891Z",  # ten digits
        "2025-13-01T00:00:00Z",
        "2025-10-15T25:00:00Z",
    ],
)
def test_malformed_instants_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="invalid timestamp"):
        parse_iso(text)


def test_format_ns_writes_nine_digits_and_z() -> None:
    assert format_ns(0) == "1970-01-01T00:00:00.000000000Z"
    assert format_ns(OPEN_NS + 123_456_789) == "2025-10-15T14:30:00.123456789Z"
    assert format_ns(LATEST_NS - 1) == "2199-12-31T23:59:59.999999999Z"


def test_datetimes_convert_to_and_from_nanoseconds() -> None:
    moment = dt.datetime(
        2025, 10, 15, 10, 30, 0, 250_000, tzinfo=dt.timezone(dt.timedelta(hours=-4))
    )
    assert from_datetime(moment) == OPEN_NS + 250_000_000
    assert (
        from_datetime(moment.replace(tzinfo=None))
        == OPEN_NS - 4 * 3600 * NS_PER_SECOND + 250_000_000
    )
    assert to_datetime(OPEN_NS + 250_000_999) == dt.datetime(
        2025, 10, 15, 14, 30, 0, 250_000, tzinfo=dt.UTC
    )


INSTANTS = st.integers(min_value=0, max_value=LATEST_NS - 1)


@settings(database=None, max_examples=200)
@given(ns=INSTANTS)
def test_format_then_parse_is_the_identity(ns: int) -> None:
    text = format_ns(ns)
    assert len(text) == len("2025-10-15T14:30:00.000000000Z")
    assert parse_iso(text) == ns


@settings(database=None, max_examples=200)
@given(ns=INSTANTS)
def test_microsecond_datetimes_round_trip(ns: int) -> None:
    """to_datetime goes through a float: it must still land on the right microsecond to 2199."""
    micros = ns - ns % 1000
    assert from_datetime(to_datetime(ns)) == micros
