"""Paging over two keyset sources (open orders in memory, closed ones in a table) gives the pages,
tokens and counts that paging over their merged list gives."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from starlette.datastructures import QueryParams

from oems.api.pagination import InMemory, newest_first_page, paginate
from oems.api.params import Query

MAX = (1 << 128) - 1


@dataclass(frozen=True)
class Item:
    id: uuid.UUID


def _reference(items: list[Item], params: dict[str, Any]) -> tuple[list[Item], dict[str, Any]]:
    """The page over one list, newest first, as every list was paged before the history store."""
    query = Query(QueryParams(params))
    return paginate(
        sorted(items, key=lambda i: i.id.int, reverse=True),
        lambda item: f"{MAX - item.id.int:032x}",
        query.integer("page_size", None, 1, 1000),
        query.string("page_token"),
        "f",
    )


def _merged(parts: list[list[Item]], params: dict[str, Any]) -> tuple[list[Item], dict[str, Any]]:
    sources = [InMemory(sorted(part, key=lambda i: i.id.int)) for part in parts]
    return newest_first_page(sources, Query(QueryParams(params)), "f")


def _same(parts: list[list[Item]], params: dict[str, Any]) -> tuple[list[Item], dict[str, Any]]:
    """The merged page, after checking it equals the reference (tokens compared by what they
    lead to, since each is signed once per call)."""
    page, meta = _merged(parts, params)
    expected_page, expected = _reference([i for part in parts for i in part], params)
    assert page == expected_page
    for name in ("page_number", "total_items", "total_pages"):
        assert meta[name] == expected[name], name
    for name in ("next_page_token", "previous_page_token"):
        assert (meta[name] is None) == (expected[name] is None), name
    return page, meta


@pytest.mark.parametrize("seed", range(12))
def test_walking_forward_and_back_over_two_sources_matches_one_list(seed: int) -> None:
    rng = random.Random(seed)
    ids = sorted({rng.getrandbits(128) for _ in range(rng.randint(0, 40))})
    items = [Item(uuid.UUID(int=i)) for i in ids]
    open_part = [i for i in items if rng.random() < 0.3]  # interleaved with the closed ones
    parts = [open_part, [i for i in items if i not in open_part]]
    size = rng.randint(1, 7)
    page, meta = _same(parts, {"page_size": size})
    seen = list(page)
    while meta["next_page_token"]:
        page, meta = _same(parts, {"page_token": meta["next_page_token"]})
        seen += page
    assert seen == sorted(items, key=lambda i: i.id.int, reverse=True)  # each once, in order
    back = 0
    while meta["previous_page_token"]:
        page, meta = _same(parts, {"page_token": meta["previous_page_token"]})
        back += 1
    assert back == max(0, (len(items) + size - 1) // size - 1)


def test_a_previous_page_short_of_a_full_page_is_the_first_page() -> None:
    items = [Item(uuid.UUID(int=i)) for i in range(1, 11)]
    parts = [items[::2], items[1::2]]
    _, meta = _same(parts, {"page_size": 3})
    _, meta = _same(parts, {"page_token": meta["next_page_token"]})
    page, _ = _same(parts, {"page_token": meta["previous_page_token"]})
    assert [i.id.int for i in page] == [10, 9, 8]
