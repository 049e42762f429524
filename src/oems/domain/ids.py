"""UUIDv7 identifiers made from the market clock and a seeded generator, so runs are reproducible."""

from __future__ import annotations

import random
import uuid


class IdGenerator:
    """Makes time-ordered UUIDv7 ids from a caller-supplied time and a seeded random source."""

    def __init__(self, seed: int) -> None:
        self._seed = seed
        self._rng = random.Random(seed)
        self._last_ms = -1
        self._counter = 0

    def resume(self, after: uuid.UUID, salt: int) -> None:
        """Continue strictly after `after` (the newest id issued before a restart).

        The random source is re-seeded from (seed, salt) so a restarted run neither repeats ids
        nor loses reproducibility: the same journal resumes the same way.
        """
        self._rng = random.Random(f"{self._seed}:{salt}")
        self._last_ms = after.int >> 80
        self._counter = (after.int >> 64) & 0xFFF

    def uuid7(self, now_ns: int) -> uuid.UUID:
        """A UUIDv7 for the instant `now_ns`; ids made at the same millisecond still sort in order."""
        ms = now_ns // 1_000_000
        if ms <= self._last_ms:
            ms = self._last_ms
            self._counter += 1
            if self._counter > 0xFFF:
                # 4096 ids in one millisecond: borrow the next one, as RFC 9562 allows.
                ms = self._last_ms = self._last_ms + 1
                self._counter = 0
        else:
            self._last_ms = ms
            self._counter = self._rng.getrandbits(11)
        rand_a = self._counter & 0xFFF
        rand_b = self._rng.getrandbits(62)
        value = (ms & 0xFFFFFFFFFFFF) << 80 | 0x7 << 76 | rand_a << 64 | 0b10 << 62 | rand_b
        return uuid.UUID(int=value)


def stable_uuid(namespace: str, name: str) -> uuid.UUID:
    """A UUID that is always the same for the same (namespace, name): reference-data ids."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"oems:{namespace}:{name}")
