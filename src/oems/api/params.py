"""Query and path parameters: typed reads with the contract's 400 messages naming the parameter."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from oems.domain.errors import InvalidRequest
from oems.domain.timefmt import parse_iso

QUERY_PREFIX = "Failed to deserialize query string: "


def _query_error(name: str, detail: str) -> InvalidRequest:
    return InvalidRequest(f"{QUERY_PREFIX}{name}: {detail}")


def path_int(raw: str, name: str) -> int:
    """A path parameter that must be a 64-bit integer (`account_id`)."""
    try:
        value = int(raw)
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
            number = int(value)
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
        """An ISO-8601 date-time parameter, as epoch nanoseconds."""
        value = self.raw(name)
        if value is None or value == "":
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
        """A parameter whose value must be one of `allowed`."""
        value = self.raw(name)
        if value is None or value == "":
            return None
        if value not in allowed:
            expected = ", ".join(f"`{a}`" for a in allowed)
            raise _query_error(name, f"unknown variant `{value}`, expected one of {expected}")
        return value

    def csv(self, name: str) -> list[str]:
        """A comma-separated list parameter (repeated parameters are joined too), empty items dropped."""
        items: list[str] = []
        for value in self._params.getlist(name):
            items.extend(part.strip() for part in value.split(",") if part.strip())
        return items
