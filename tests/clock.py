"""A clock the tests move by hand, for code that takes ``clock: Callable[[], float]``."""

from __future__ import annotations

NOW = 1_700_000_000.0


class Clock:
    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now
