"""When to ask AKOOL about a job next, learnt from how long jobs have actually taken.

A naive poller asks about every job every base interval from the moment it starts: every job is
noticed within one interval of finishing, at the price of a poll per interval for its whole life,
although no job finishes in its first seconds and few finish in any given interval of a long tail.

This schedule keeps the same promise for nearly every job (``coverage``, 96 % by default) for far
fewer polls. From the durations of recent jobs it splits a job's life into slices of half an
interval and ranks them by the share of the jobs still running at their start that finish within
them. The best slices, until they hold ``coverage`` of all finishes, are polled a little more
often than every base interval;
a job between them is next asked about when the following one begins, and a job older than every
one of them backs off geometrically. Each poll thus goes where a finish is most likely, and the
rare job that finishes elsewhere waits a little longer.

With webhooks that have proven to arrive, polling is only a safety net: a job is first asked about
once nearly every job seen would have finished, and then seldom.

Until enough jobs have been seen, it polls at the base interval, like the naive poller.
"""

from __future__ import annotations

import bisect
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

# Inside a polled stretch the gap is this share of the base interval: a job finishing there is
# noticed within 0.85 intervals, so the 95th percentile stays within the naive poller's (0.95
# intervals) even if only 85 % of jobs, not the planned 96 %, finish inside the stretches (a
# schedule learnt from a thousand jobs covers new ones less well than the ones it learnt from).
_INSIDE: Final = 0.85
# Slices of a job's life are this share of the base interval long.
_SLICE: Final = 0.5
# How many slices on either side a slice's finishing share is averaged over, at least and at
# most: the window widens until the average rests on ``_MIN_FINISHES`` finishes.
_SPREAD: Final = 2
_MAX_SPREAD: Final = 64
_MIN_FINISHES: Final = 12
# Past every polled slice, the gap grows with the job's age: a tenth of it.
_BACKOFF: Final = 0.1
# With trusted webhooks, the first look comes when this share of the jobs seen had finished.
_SAFETY_QUANTILE: Final = 0.99
# ... and later looks after this share of the job's age, at most ``_SAFETY_STRETCH`` x max_gap.
_SAFETY_BACKOFF: Final = 0.5
_SAFETY_STRETCH: Final = 10.0
# The plan is rebuilt after this many new durations, not after every one.
_REPLAN_EVERY: Final = 25


@dataclass(frozen=True, slots=True)
class _Plan:
    """The polled stretches of a job's life, as sorted, disjoint ``[start, end)`` in seconds."""

    starts: Sequence[float]
    ends: Sequence[float]
    safety_first: float  # age by which nearly every job seen had finished


class PollSchedule:
    """Gaps between polls of one job, from the durations of the last ``window`` jobs."""

    def __init__(
        self,
        *,
        base_gap: float,
        min_gap: float,
        max_gap: float,
        window: int = 1000,
        min_samples: int = 100,
        coverage: float = 0.96,
    ) -> None:
        if not 0 < min_gap <= base_gap <= max_gap:
            raise ValueError("expected 0 < min_gap <= base_gap <= max_gap")
        if not 0 < coverage <= 1:
            raise ValueError("expected 0 < coverage <= 1")
        self.base_gap = base_gap
        self.min_gap = min_gap
        self.max_gap = max_gap
        self.coverage = coverage
        self._min_samples = min_samples
        self._recent: deque[float] = deque(maxlen=window)
        self._plan: _Plan | None = None
        self._since_plan = 0

    @property
    def samples(self) -> int:
        return len(self._recent)

    def observe(self, duration: float) -> None:
        """A job finished (completed or failed) ``duration`` seconds after it was created."""
        if duration < 0:
            return
        self._recent.append(duration)
        self._since_plan += 1

    def observe_all(self, durations: Iterable[float]) -> None:
        for duration in durations:
            self.observe(duration)

    def next_gap(self, age: float, *, webhooks_trusted: bool = False) -> float:
        """Seconds until the next poll of a job that was unfinished at ``age`` seconds."""
        plan = self._current_plan()
        if webhooks_trusted:
            first = plan.safety_first if plan is not None else self.max_gap
            later = min(age * _SAFETY_BACKOFF, self.max_gap * _SAFETY_STRETCH)
            return max(self.base_gap, first - age, later)
        if plan is None:
            return self.base_gap
        at = bisect.bisect_right(plan.starts, age) - 1
        if at >= 0 and age < plan.ends[at]:
            return self._clamp(self.base_gap * _INSIDE)
        if at + 1 < len(plan.starts):
            # Between polled stretches: look again when the next one begins.
            return self._clamp(plan.starts[at + 1] - age)
        return self._clamp(max(self.base_gap, age * _BACKOFF))

    def _current_plan(self) -> _Plan | None:
        if len(self._recent) < self._min_samples:
            return None
        if self._plan is None or self._since_plan >= _REPLAN_EVERY:
            self._plan = self._make_plan(sorted(self._recent))
            self._since_plan = 0
        return self._plan

    def _make_plan(self, durations: list[float]) -> _Plan:
        total = len(durations)
        width = self.base_gap * _SLICE
        # (share of the running jobs finishing in the slice, index, expected finishes in it)
        ranked: list[tuple[float, int, float]] = []
        for index in range(int(durations[-1] / width) + 1):
            running = total - bisect.bisect_left(durations, index * width)
            expected = self._expected_finishes(durations, index, width)
            ranked.append((expected / running, -index, expected))
        ranked.sort(reverse=True)
        chosen: list[int] = []
        held = 0.0
        for _, negative_index, expected in ranked:
            if held >= self.coverage * total:
                break
            chosen.append(-negative_index)
            held += expected
        starts: list[float] = []
        ends: list[float] = []
        for index in sorted(chosen):
            if ends and ends[-1] == index * width:
                ends[-1] = (index + 1) * width
            else:
                starts.append(index * width)
                ends.append((index + 1) * width)
        quantile = durations[min(total - 1, int(_SAFETY_QUANTILE * total))]
        return _Plan(starts, ends, safety_first=quantile)

    @staticmethod
    def _expected_finishes(durations: list[float], index: int, width: float) -> float:
        """Finishes to expect in slice ``index``: the average over the slices around it, widened
        until they hold a few finishes. A sparse tail's few samples say how dense it is, not
        where exactly its next finishes will fall, so its empty slices are not taken as empty.
        """
        spread = _SPREAD
        while True:
            low = bisect.bisect_left(durations, (index - spread) * width)
            high = bisect.bisect_left(durations, (index + 1 + spread) * width)
            if high - low >= _MIN_FINISHES or spread >= _MAX_SPREAD:
                return (high - low) / (2 * spread + 1)
            spread *= 2

    def _clamp(self, gap: float) -> float:
        return min(self.max_gap, max(self.min_gap, gap))


class WebhookTrust:
    """Whether AKOOL's webhooks have been arriving, judged by the last ``window`` finished jobs.

    Webhooks are trusted while nearly every recent finish was announced by one; a few lost in a
    row (a tunnel down, a changed URL) and polling takes over again on its own.
    """

    def __init__(self, *, window: int = 20, share: float = 0.9) -> None:
        self._window = window
        self._share = share
        self._finishes: deque[bool] = deque(maxlen=window)

    @property
    def trusted(self) -> bool:
        seen = len(self._finishes)
        return seen == self._window and sum(self._finishes) >= self._share * seen

    def finished(self, *, announced: bool) -> None:
        """A poll found a job finished; ``announced`` if a webhook had said so first."""
        self._finishes.append(announced)
