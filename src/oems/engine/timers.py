"""Timers of the venue and the clearing service: due instants of (kind, id) pairs on one heap."""

from __future__ import annotations

import heapq
import itertools
import uuid
from collections.abc import Callable, Iterator

Live = Callable[[int, int, uuid.UUID], bool]
"""(kind, due instant, id) -> whether that timer still stands (its order or instruction agrees)."""


class Timers:
    """Timers run in (instant, kind, scheduling) order; one that no longer stands is skipped.

    Nothing is taken off the heap early: whoever owns the id moves on (answered, canceled,
    rescheduled) and `live` says so, so scheduling again is always safe.
    """

    def __init__(self, live: Live) -> None:
        self._live = live
        self._heap: list[tuple[int, int, int, uuid.UUID]] = []
        self._seq = itertools.count()

    def clear(self) -> None:
        """Forget every timer (before a rebuild from the state)."""
        self._heap.clear()

    def add(self, due: int | None, kind: int, key: uuid.UUID) -> None:
        """Schedule `kind` for `key` at `due` (nothing when `due` is None)."""
        if due is not None:
            heapq.heappush(self._heap, (due, kind, next(self._seq), key))

    def next_ns(self) -> int | None:
        """The instant of the earliest timer that still stands."""
        heap = self._heap
        while heap:
            due, kind, _, key = heap[0]
            if self._live(kind, due, key):
                return due
            heapq.heappop(heap)
        return None

    def due(self, now_ns: int) -> Iterator[tuple[int, int, uuid.UUID]]:
        """Take each standing timer due at or before `now_ns`: (instant, kind, id), in order.

        Timers added while the caller handles one are taken too when they are due by then.
        """
        heap = self._heap
        while heap and heap[0][0] <= now_ns:
            due, kind, _, key = heapq.heappop(heap)
            if self._live(kind, due, key):
                yield due, kind, key
