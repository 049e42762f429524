"""Keyset pagination with opaque, signed base64url page tokens.

A token carries the key of the page boundary, the direction, the page number and size, and a
fingerprint of the filters; it is signed with a per-process secret, so a forged, altered or stale
token (other filters, or issued before a restart) is refused with 400.
"""

from __future__ import annotations

import base64
import bisect
import hashlib
import hmac
import secrets
import uuid
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import orjson

from oems.domain.errors import InvalidRequest

if TYPE_CHECKING:
    from oems.api.params import Query

T = TypeVar("T")


class _Identified(Protocol):
    @property
    def id(self) -> uuid.UUID: ...


DEFAULT_PAGE_SIZE = 1000
MAX_PAGE_SIZE = 1000
_SECRET = secrets.token_bytes(32)
_SIG_BYTES = 12
_MAX_UUID = (1 << 128) - 1
INVALID_TOKEN = "Failed to deserialize query string: page_token: invalid or expired page token"


def _encode(state: dict[str, Any]) -> str:
    body = orjson.dumps(state)
    sig = hmac.new(_SECRET, body, hashlib.sha256).digest()[:_SIG_BYTES]
    return base64.urlsafe_b64encode(sig + body).decode().rstrip("=")


def _decode(token: str, filters: str) -> dict[str, Any]:
    """The state a token carries; 400 when it is forged, altered or issued for other filters."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (ValueError, TypeError):
        raise InvalidRequest(INVALID_TOKEN) from None
    sig, body = raw[:_SIG_BYTES], raw[_SIG_BYTES:]
    expected = hmac.new(_SECRET, body, hashlib.sha256).digest()[:_SIG_BYTES]
    if not hmac.compare_digest(sig, expected):
        raise InvalidRequest(INVALID_TOKEN)
    state = orjson.loads(body)
    if not isinstance(state, dict) or state.get("f") != filters:
        raise InvalidRequest(INVALID_TOKEN)
    return state


def fingerprint(*filters: Any) -> str:
    """A short digest of the filters a listing used, so a token cannot be replayed on other filters."""
    return hashlib.sha256(
        orjson.dumps(filters, option=orjson.OPT_SORT_KEYS, default=str)
    ).hexdigest()[:16]


def query_filters(name: str, owner: Any, query: Any) -> str:
    """The fingerprint of a listing's query string: every parameter but the paging ones."""
    items = sorted((k, v) for k, v in query.multi_items() if k not in ("page_size", "page_token"))
    return fingerprint(name, owner, items)


def paginate(
    items: Sequence[T],
    key: Callable[[T], Any],
    page_size: int | None,
    page_token: str | None,
    filters: str,
    max_page_size: int = MAX_PAGE_SIZE,
) -> tuple[list[T], dict[str, Any]]:
    """One page of `items` (already sorted by `key`) and the pagination metadata for it."""
    total = len(items)
    keys = [key(item) for item in items]
    if page_token:
        state = _decode(page_token, filters)
        size = int(state["s"])
        number = int(state["n"])
        boundary = state["k"]
        if state["d"] == "next":
            start = bisect.bisect_right(keys, boundary)
        else:
            end = bisect.bisect_left(keys, boundary)
            start = max(0, end - size)
    else:
        size = page_size or min(DEFAULT_PAGE_SIZE, max_page_size)
        number = 1
        start = 0
    page = list(items[start : start + size])
    end = start + len(page)
    more_after, more_before = end < total, start > 0
    return page, _page_meta(
        page, keys[start:end], number, size, total, more_before, more_after, filters
    )


def _page_meta(
    page: Sequence[Any],
    keys: Sequence[Any],
    number: int,
    size: int,
    total: int,
    more_before: bool,
    more_after: bool,
    filters: str,
) -> dict[str, Any]:
    """A page's metadata; `keys` are its items' keys, which the tokens carry."""
    meta: dict[str, Any] = {
        "next_page_token": None,
        "previous_page_token": None,
        "page_number": number,
        "total_items": total,
        "total_pages": (total + size - 1) // size if total else 0,
    }
    if more_after and page:
        meta["next_page_token"] = _encode(
            {"k": keys[-1], "d": "next", "n": number + 1, "s": size, "f": filters}
        )
    if more_before and page:
        meta["previous_page_token"] = _encode(
            {"k": keys[0], "d": "prev", "n": max(1, number - 1), "s": size, "f": filters}
        )
    return meta


class KeysetSource(Protocol):
    """Items of one listing kept in one place (memory or a table), read by id, newest first."""

    def count(self) -> int:
        """How many items the source holds."""
        ...

    def older(self, below: int | None, limit: int) -> list[Any]:
        """Up to `limit` items with an id (as an integer) below `below` (any when None), newest first."""
        ...

    def newer(self, above: int | None, limit: int) -> list[Any]:
        """Up to `limit` items with an id above `above` (any when None), oldest first."""
        ...


class InMemory:
    """A keyset source over items kept oldest first (UUIDv7 ids, issued in increasing order)."""

    def __init__(self, items: Sequence[Any]) -> None:
        self._items = items
        self._ids = [item.id.int for item in items]

    def count(self) -> int:
        """How many items there are."""
        return len(self._items)

    def older(self, below: int | None, limit: int) -> list[Any]:
        """Up to `limit` items with an id below `below`, newest first."""
        end = len(self._ids) if below is None else bisect.bisect_left(self._ids, below)
        return list(reversed(self._items[max(0, end - limit) : end]))

    def newer(self, above: int | None, limit: int) -> list[Any]:
        """Up to `limit` items with an id above `above`, oldest first."""
        start = 0 if above is None else bisect.bisect_right(self._ids, above)
        return list(self._items[start : start + limit])


def _merged(
    sources: Sequence[KeysetSource], newest_first: bool, bound: int | None, limit: int
) -> list[Any]:
    """The first `limit` items of all sources beyond `bound`, in the direction asked."""
    found: list[Any] = []
    for source in sources:
        found += source.older(bound, limit) if newest_first else source.newer(bound, limit)
    found.sort(key=lambda item: item.id.int, reverse=newest_first)
    return found[:limit]


def _key(item: _Identified) -> str:
    return f"{_MAX_UUID - item.id.int:032x}"


def newest_first_page(
    sources: Sequence[KeysetSource], query: Query, filters: str
) -> tuple[list[Any], dict[str, Any]]:
    """One page of the items of all `sources` together, newest first, and its metadata, as
    `paginate` gives it over their merged list: each page reads only a page of each source."""
    page_size = query.integer("page_size", None, 1, 1000)
    token = query.string("page_token")
    total = sum(source.count() for source in sources)
    more_before = more_after = False
    if token:
        state = _decode(token, filters)
        size, number = int(state["s"]), int(state["n"])
        boundary = _MAX_UUID - int(state["k"], 16)
        if state["d"] == "next":
            page = _merged(sources, True, boundary, size + 1)
            more_after, page = len(page) > size, page[:size]
            more_before = bool(_merged(sources, False, boundary - 1, 1))
        else:
            above = _merged(sources, False, boundary, size + 1)
            if len(above) > size:
                more_before, page = True, above[:size][::-1]
            else:  # fewer than a page before the boundary: the first page
                page = _merged(sources, True, None, size)
            more_after = bool(page) and bool(_merged(sources, True, page[-1].id.int, 1))
    else:
        size, number = page_size or DEFAULT_PAGE_SIZE, 1
        page = _merged(sources, True, None, size + 1)
        more_after, page = len(page) > size, page[:size]
    keys = [_key(item) for item in page]
    return page, _page_meta(page, keys, number, size, total, more_before, more_after, filters)
