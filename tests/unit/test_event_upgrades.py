"""Journal records written by older code decode into today's events."""

from __future__ import annotations

import msgspec
import pytest
from tests.unit.scenario import limit_buy

from oems.domain.events import decode_event, encode_event


def _flattened(record: dict[str, object], *nested: str) -> bytes:
    for name in nested:
        inner = record.pop(name)
        assert isinstance(inner, dict)
        record.update(inner)
    return msgspec.msgpack.encode(record)


def test_an_order_accepted_of_every_older_form_decodes_to_the_same_event() -> None:
    accepted = limit_buy("10", "100.00")
    today = msgspec.msgpack.decode(encode_event(accepted))
    # Before 2026-12-02 both were flat; for a day the terms were nested and the instrument not.
    for nested in (("instrument", "terms"), ("instrument",)):
        old = _flattened(dict(today), *nested)
        assert "symbol" in msgspec.msgpack.decode(old)
        assert decode_event(old) == accepted


def test_a_record_that_is_no_older_form_is_still_refused() -> None:
    broken = msgspec.msgpack.decode(encode_event(limit_buy("10", "100.00")))
    broken["instrument"] = {"symbol": "AAPL"}  # nested, yet incomplete: not an older form
    with pytest.raises(msgspec.ValidationError):
        decode_event(msgspec.msgpack.encode(broken))
