"""Query and path parameters: typed reads with the contract's 400 messages naming the parameter."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from oems.domain.errors import InvalidRequest
from oems.domain.instruments import Instrument
from oems.domain.timefmt import parse_iso

QUERY_PREFIX = "Failed to deserialize query string: "
_LEAVE_OUT = "leave the parameter out to match everything"


def _query_error(name: str, detail: str) -> InvalidRequest:
    return InvalidRequest(f"{QUERY_PREFIX}{name}: {detail}")


_CANONICAL_INT = re.compile(r"-?(0|[1-9][0-9]*)")


def canonical_int(text: str) -> int:
    """`text` as an integer when written in canonical decimal form (no sign `+`, leading zeros,
    underscores or spaces); ValueError otherwise."""
    if not _CANONICAL_INT.fullmatch(text):
        raise ValueError(text)
    return int(text)


def path_int(raw: str, name: str) -> int:
    """A path parameter that must be a 64-bit integer in canonical form (`account_id`)."""
    try:
        value = canonical_int(raw)
    except ValueError:
        raise InvalidRequest(
            f"Cannot parse `{name}` with value `{raw}`: invalid digit found in string"
        ) from None
    if not -(2**63) <= value < 2**63:
        raise InvalidRequest(
            f"Cannot parse `{name}` with value `{raw}`: number too large to fit in target type"
        )
    return value


class Query:
    """Typed access to a request's query string."""

    def __init__(self, params: Any) -> None:
        self._params = params

    def raw(self, name: str) -> str | None:
        """The last value given for `name`, or None."""
        values = self._params.getlist(name)
        return values[-1] if values else None

    def string(self, name: str, required: bool = False) -> str | None:
        """A text parameter; `required` turns absence into 400 `missing field`."""
        value = self.raw(name)
        if value is None and required:
            raise InvalidRequest(f"{QUERY_PREFIX}missing field `{name}`")
        return value

    def integer(
        self,
        name: str,
        default: int | None = None,
        minimum: int | None = None,
        maximum: int | None = None,
    ) -> int | None:
        """An integer parameter within [minimum, maximum]."""
        value = self.raw(name)
        if value is None or value == "":
            return default
        try:
            number = canonical_int(value)
        except ValueError:
            raise _query_error(name, "invalid digit found in string") from None
        if minimum is not None and number < minimum:
            raise _query_error(name, f"must be at least {minimum}, got {number}")
        if maximum is not None and number > maximum:
            raise _query_error(name, f"must be at most {maximum}, got {number}")
        return number

    def boolean(self, name: str, default: bool | None = None) -> bool | None:
        """A `true`/`false` parameter."""
        value = self.raw(name)
        if value is None or value == "":
            return default
        if value in ("true", "false"):
            return value == "true"
        raise _query_error(name, f"provided string was not `true` or `false`: `{value}`")

    def date(self, name: str, required: bool = False) -> dt.date | None:
        """A `YYYY-MM-DD` parameter."""
        value = self.string(name, required)
        if value is None:
            return None
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            raise _query_error(name, f"invalid date '{value}': expected YYYY-MM-DD") from None

    def instant(self, name: str) -> int | None:
        """An ISO-8601 date-time parameter, as epoch nanoseconds (400 when present but empty)."""
        value = self._present(name)
        if value is None:
            return None
        try:
            return parse_iso(value)
        except ValueError:
            raise _query_error(name, f"invalid date-time '{value}': expected ISO 8601") from None

    def choices(self, name: str, allowed: Sequence[str]) -> list[str]:
        """A comma-separated list whose every item must be one of `allowed`."""
        values = self.csv(name)
        for value in values:
            if value not in allowed:
                expected = ", ".join(f"`{a}`" for a in allowed)
                raise _query_error(name, f"unknown variant `{value}`, expected one of {expected}")
        return values

    def choice(self, name: str, allowed: Sequence[str]) -> str | None:
        """A parameter whose value must be one of `allowed` (400 when present but empty)."""
        value = self._present(name)
        if value is None:
            return None
        if value not in allowed:
            expected = ", ".join(f"`{a}`" for a in allowed)
            raise _query_error(name, f"unknown variant `{value}`, expected one of {expected}")
        return value

    def csv(self, name: str, empty_message: str | None = None) -> list[str]:
        """A comma-separated list parameter (repeated parameters are joined too); [] when absent.

        An empty item is a 400 (saying `empty_message` when given), never a wider match:
        `instrument_ids=,` on cancel-all must not cancel everything.
        """
        items: list[str] = []
        for value in self._params.getlist(name):
            parts = [part.strip() for part in value.split(",")]
            if not all(parts):
                if empty_message is not None:
                    raise InvalidRequest(empty_message)
                raise _query_error(name, f"empty item in `{value}`; {_LEAVE_OUT}")
            items.extend(parts)
        return items

    def instrument_ids(
        self, name: str, resolve: Callable[[str], Instrument | None]
    ) -> set[uuid.UUID] | None:
        """The instruments a comma-separated parameter names (UUID, ticker or OSI symbol, found
        by `resolve`); 400 for an unknown one, None when the parameter is absent."""
        found = set()
        for value in self.csv(name):
            instrument = resolve(value)
            if instrument is None:
                raise _query_error(name, f"unknown instrument `{value}`")
            found.add(instrument.id)
        return found or None

    def _present(self, name: str) -> str | None:
        """The parameter's value; None when absent, a 400 when given empty."""
        value = self.raw(name)
        if value == "":
            raise _query_error(name, f"empty value; {_LEAVE_OUT}")
        return value
