"""Clocks the tests move by hand, for code that takes ``clock: Callable[[], float]``."""

from __future__ import annotations

import time

NOW = 1_700_000_000.0
DAY = 24 * 60 * 60.0


class Clock:
    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class ShiftedClock:
    """The real time plus an offset the test moves forward: a month can pass at once, while
    everything that waits on real time (timeouts, polls) still runs."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds
