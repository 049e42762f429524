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


Listed = TypeVar("Listed", bound=_Identified)
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


def _decode(token: str) -> dict[str, Any]:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (ValueError, TypeError):
        raise InvalidRequest(INVALID_TOKEN) from None
    sig, body = raw[:_SIG_BYTES], raw[_SIG_BYTES:]
    expected = hmac.new(_SECRET, body, hashlib.sha256).digest()[:_SIG_BYTES]
    if not hmac.compare_digest(sig, expected):
        raise InvalidRequest(INVALID_TOKEN)
    state = orjson.loads(body)
    if not isinstance(state, dict):
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
        state = _decode(page_token)
        if state.get("f") != filters:
            raise InvalidRequest(INVALID_TOKEN)
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
    meta: dict[str, Any] = {
        "next_page_token": None,
        "previous_page_token": None,
        "page_number": number,
        "total_items": total,
        "total_pages": (total + size - 1) // size if total else 0,
    }
    if end < total and page:
        meta["next_page_token"] = _encode(
            {"k": keys[end - 1], "d": "next", "n": number + 1, "s": size, "f": filters}
        )
    if start > 0 and page:
        meta["previous_page_token"] = _encode(
            {"k": keys[start], "d": "prev", "n": max(1, number - 1), "s": size, "f": filters}
        )
    return page, meta


def newest_first_page(
    items: Sequence[Listed], matches: Callable[[Listed], bool], query: Query, filters: str
) -> tuple[list[Listed], dict[str, Any]]:
    """One page of the `items` that `matches` keeps, newest first, and its metadata: `items` are
    kept oldest first and their `id`s are UUIDv7s, issued in strictly increasing order."""
    chosen = [item for item in reversed(items) if matches(item)]
    return paginate(
        chosen,
        lambda item: f"{_MAX_UUID - item.id.int:032x}",
        query.integer("page_size", None, 1, 1000),
        query.string("page_token"),
        filters,
    )
