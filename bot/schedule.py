"""When to ask AKOOL about a job next, learnt from how long jobs have actually taken.

A naive poller asks about every job every few seconds from the moment it starts, although no job
finishes in its first seconds and a long job keeps being asked about for minutes. This schedule
keeps the durations of recent jobs and, for a job of a given age, looks at the jobs that ran at
least that long:

- none of them finished soon: the job is not asked about until the earliest of them would have;
- otherwise the gap follows how many of them finish in the next few intervals: the base
  interval when about 15 % finish per interval, shorter when more do, longer in a sparse tail,
  by the square root of that share (the spacing that balances delay against polls);
- it is older than nearly all of them: it backs off geometrically up to the longest gap.

Until enough jobs have been seen, it polls at the base interval, like the naive poller.
"""

from __future__ import annotations

import bisect
from collections import deque
from collections.abc import Iterable
from typing import Final

# The share of similar jobs finishing before the next poll that the base interval aims at.
_TARGET_SHARE: Final = 0.15
# A job older than all but this share of the jobs seen is in the tail.
_TAIL_SHARE: Final = 0.02
# The longest gap, in base intervals, while similar jobs are still finishing: a long-running job
# is noticed within a few intervals, not minutes.
_MAX_STRETCH: Final = 2.0
# Past nearly every job seen, the gap grows with the job's age: a tenth of it.
_BACKOFF: Final = 0.1
# How many base intervals ahead the completion density is averaged over.
_SMOOTHING: Final = 5


class PollSchedule:
    """Gaps between polls of one job, from the durations of the last ``window`` jobs."""

    def __init__(
        self,
        *,
        base_gap: float,
        min_gap: float,
        max_gap: float,
        window: int = 1000,
        min_samples: int = 30,
    ) -> None:
        if not 0 < min_gap <= base_gap <= max_gap:
            raise ValueError("expected 0 < min_gap <= base_gap <= max_gap")
        self.base_gap = base_gap
        self.min_gap = min_gap
        self.max_gap = max_gap
        self._min_samples = min_samples
        self._recent: deque[float] = deque(maxlen=window)
        self._sorted: list[float] = []

    @property
    def samples(self) -> int:
        return len(self._sorted)

    def observe(self, duration: float) -> None:
        """A job finished (completed or failed) ``duration`` seconds after it was created."""
        if duration < 0:
            return
        if len(self._recent) == self._recent.maxlen:
            oldest = self._recent[0]
            del self._sorted[bisect.bisect_left(self._sorted, oldest)]
        self._recent.append(duration)
        bisect.insort(self._sorted, duration)

    def observe_all(self, durations: Iterable[float]) -> None:
        for duration in durations:
            self.observe(duration)

    def next_gap(self, age: float) -> float:
        """Seconds until the next poll of a job that was unfinished at ``age`` seconds."""
        samples = self._sorted
        if len(samples) < self._min_samples:
            return self.base_gap
        start = bisect.bisect_right(samples, age)
        longer = len(samples) - start  # jobs seen that ran longer than this one has so far
        if longer <= max(2, _TAIL_SHARE * len(samples)):
            return self._clamp(max(self.base_gap, age * _BACKOFF))
        # The share of similar jobs finishing per base interval, smoothed over a few intervals.
        window_end = bisect.bisect_right(samples, age + self.base_gap * _SMOOTHING)
        share = (window_end - start) / longer / _SMOOTHING
        if share <= 0:
            if start > 0:
                # A gap between the few long jobs seen: no reason to expect none here.
                return self._clamp(self.base_gap * _MAX_STRETCH)
            # No job seen ever finished this early: wait until the first of them would have.
            return self._clamp(samples[int(longer * 0.01)] - age)
        stretch = min(_MAX_STRETCH, (_TARGET_SHARE / share) ** 0.5)
        return self._clamp(self.base_gap * stretch)

    def _clamp(self, gap: float) -> float:
        return min(self.max_gap, max(self.min_gap, gap))
