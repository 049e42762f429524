"""The market clock: the wall clock, or a simulated clock that can run at any speed or stand still."""

from __future__ import annotations

import time

WALL = "wall"
SIMULATED = "simulated"
MAX_CLOCK_SPEED = 10_000.0  # the fastest a simulated clock runs: market seconds per wall second


def wall_ns() -> int:
    """The wall clock's instant, whatever mode the market clock is in."""
    return time.time_ns()


class Clock:
    """The single source of time. In simulated mode, time = anchor + elapsed wall time x speed."""

    def __init__(self, mode: str = WALL, start_ns: int | None = None, speed: float = 1.0) -> None:
        self._mode = WALL
        self._anchor_sim_ns = 0
        self._anchor_mono_ns = 0
        self._speed = 1.0
        self.set(mode, start_ns if start_ns is not None else time.time_ns(), speed)

    @property
    def mode(self) -> str:
        """`wall` or `simulated`."""
        return self._mode

    @property
    def speed(self) -> float:
        """Simulated seconds per wall second (1.0 for the wall clock; 0 when frozen)."""
        return self._speed

    def now_ns(self) -> int:
        """The current market time, epoch nanoseconds UTC."""
        if self._mode == WALL:
            return wall_ns()
        if self._speed == 0:
            return self._anchor_sim_ns
        elapsed = time.monotonic_ns() - self._anchor_mono_ns
        return self._anchor_sim_ns + int(elapsed * self._speed)

    def set(self, mode: str, now_ns: int, speed: float) -> None:
        """Switch mode; a simulated clock then shows `now_ns` and runs at `speed` from here."""
        if mode not in (WALL, SIMULATED):
            raise ValueError(f"unknown clock mode `{mode}`")
        if speed < 0:
            raise ValueError("clock speed must not be negative")
        self._mode = mode
        self._anchor_sim_ns = now_ns
        self._anchor_mono_ns = time.monotonic_ns()
        self._speed = speed if mode == SIMULATED else 1.0

    def reading(self) -> tuple[str, int, float]:
        """(mode, now_ns, speed): what `set` takes to put the clock back where it is now."""
        return self._mode, self.now_ns(), self._speed

    def move_to(self, now_ns: int) -> None:
        """Show `now_ns` from here on, keeping mode and speed (simulated clocks only)."""
        self.set(self._mode, now_ns, self._speed)
