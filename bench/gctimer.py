"""Shared by the in-process benchmarks: time spent in CPython's garbage collector."""

from __future__ import annotations

import gc
import time


class GcTimer:
    """Time spent in the garbage collector while `on`, through `gc.callbacks`.

    Use as a context manager (it registers and removes its callback); switch `on` around the
    measured code.
    """

    def __init__(self) -> None:
        self.on = False
        self.seconds = 0.0
        self.collections = [0, 0, 0]
        self.longest = 0.0
        self._started = 0.0

    def __enter__(self) -> GcTimer:
        gc.callbacks.append(self._callback)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self._callback)

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        elif self.on:
            spent = time.perf_counter() - self._started
            self.seconds += spent
            self.longest = max(self.longest, spent)
            self.collections[info["generation"]] += 1

    def summary(self, measured_seconds: float) -> str:
        share = self.seconds / measured_seconds * 100 if measured_seconds else 0.0
        return (
            f"{self.seconds:.2f} s ({share:.0f}% of the measured time), collections by"
            f" generation {self.collections}, longest {self.longest * 1e3:.0f} ms"
        )
