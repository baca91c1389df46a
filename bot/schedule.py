"""When to ask AKOOL about a job next: like a fixed poller, unless the jobs seen say otherwise.

The simple thing is a fixed poller: it asks about every job every base interval (``POLL_INTERVAL``)
from the moment it starts, so every job is noticed within one interval of finishing. This
schedule does exactly that until the durations of recent jobs give strong evidence that it can
do better, and then changes the cadence only where that evidence is:

* where many jobs finish (an interval of age where a large share of the jobs still running
  finish, seen in many jobs), it asks a little more often than every interval (``_DENSE``);
* where few finish although many jobs ran through (the long tail), it asks every two intervals
  (``_SPARSE``) instead, never less often;
* everywhere else (the first seconds, where early failures come; an age few jobs reached; an
  age older than every job seen) it keeps the fixed cadence.

A plan is adopted only if, on the jobs it was learnt from, it would notice 95 % of finishes at
least as fast as the fixed poller would (with a margin) for no more polls; otherwise the fixed
cadence stays. And the plan keeps being checked against the latest finishes: when they fall where
the plan polls seldom (a mix of durations it has not learnt), it is dropped for the fixed cadence
until it is learnt anew. Since no gap exceeds two intervals, no job is ever noticed more than two
intervals after the fixed poller would have noticed it.

With webhooks that have proven to arrive, polling is only a safety net: a job is first asked
about once nearly every job like it would have finished, and then seldom. "Every job like it"
counts the jobs still running as well as the finished ones: while the bot is young, the jobs it
has seen finish are the quick ones, and a first look judged from them alone would come before
the slow ones finish and cost each of them a needless status call.
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

# The gaps of a learnt plan, as shares of the base interval: where jobs finish densely, and
# where they finish sparsely. A fixed poller notices a finish uniformly within one interval, so
# its 95th percentile is 0.95 intervals; a gap of 0.95 notices every finish within that.
_DENSE: Final = 0.95
_SPARSE: Final = 2.0
# The share of finishes a fixed poller notices later than its own 95th percentile.
_TAIL: Final = 0.05
# A plan may let at most this share of ``_TAIL`` be noticed later than the fixed poller's 95th
# percentile (on the jobs it was learnt from), and spend at most this share of its polls: a
# margin for jobs yet to come, which a plan fits less well than the ones it was learnt from.
_LATE_MARGIN: Final = 0.8
_CALLS_MARGIN: Final = 0.95
# Strong evidence: a dense interval of age holds at least this many finishes, and a sparse one
# was lived through by at least this many jobs.
_DENSE_FINISHES: Final = 10
_SPARSE_RUNNING: Final = 40
# A slice's finishes are averaged over this many slices on either side, at least and at most:
# the window widens until it holds ``_MIN_FINISHES`` finishes.
_SPREAD: Final = 2
_MAX_SPREAD: Final = 2
_MIN_FINISHES: Final = 12
# The latest finishes a plan is checked against, and how many of ``_TAIL`` they may exceed
# before it is dropped (the plan promised ``_LATE_MARGIN``; a few unlucky ones are noise).
_RECENT: Final = 50
_RECENT_LIMIT: Final = 1.6
# With trusted webhooks, the first look comes when this share of the jobs seen had finished.
_SAFETY_QUANTILE: Final = 0.99
# ... judged from at least this many jobs seen (before that, the longest gap)
_SAFETY_SAMPLES: Final = 10
# ... and later looks after this share of the job's age, at most ``_SAFETY_STRETCH`` x max_gap.
_SAFETY_BACKOFF: Final = 0.5
_SAFETY_STRETCH: Final = 10.0
# A poll answered at most this share of the base interval after its moment on the fixed cadence
# is followed by the next one on time.
_CATCH_UP: Final = 0.25
# The plan is rebuilt after this many new durations, not after every one.
_REPLAN_EVERY: Final = 25


def _late_share(gap: float) -> float:
    """The share of finishes a poll every ``gap`` intervals notices later than 0.95 intervals."""
    return max(0.0, 1.0 - (1.0 - _TAIL) / gap)


@dataclass(frozen=True, slots=True)
class _Plan:
    """The gap, in base intervals, for each interval of a job's life: ``gaps[i]`` applies at
    ages ``[i, i + 1)`` intervals; past the last one, the fixed cadence."""

    gaps: Sequence[float]


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
    ) -> None:
        if not 0 < min_gap <= base_gap <= max_gap:
            raise ValueError("expected 0 < min_gap <= base_gap <= max_gap")
        self.base_gap = base_gap
        self.min_gap = min_gap
        self.max_gap = max_gap
        self._min_samples = min_samples
        self._recent: deque[float] = deque(maxlen=window)
        # The latest finishes, which the plan in force is checked against.
        self._latest: deque[float] = deque(maxlen=_RECENT)
        self._plan: _Plan | None = None
        self._planned = False
        self._since_plan = 0
        # With trusted webhooks: the first look's age, once worked out from the finishes seen
        # and the ages of the jobs still running (see ``running``).
        self._safety_first: float | None = None
        self._running: list[float] = []

    @property
    def samples(self) -> int:
        return len(self._recent)

    @property
    def learnt(self) -> bool:
        """Whether a learnt plan is in force (otherwise: the fixed cadence)."""
        return self._current_plan() is not None

    def observe(self, duration: float) -> None:
        """A job finished (completed or failed) ``duration`` seconds after it was created."""
        if duration < 0:
            return
        self._recent.append(duration)
        self._latest.append(duration)
        self._since_plan += 1
        self._safety_first = None

    def running(self, ages: Iterable[float]) -> None:
        """The ages of the jobs still running now: each will last at least that long."""
        self._running = sorted(age for age in ages if age >= 0)
        self._safety_first = None

    def observe_all(self, durations: Iterable[float]) -> None:
        for duration in durations:
            self.observe(duration)

    def next_gap(self, age: float, *, webhooks_trusted: bool = False) -> float:
        """Seconds until the next poll of a job that was unfinished at ``age`` seconds."""
        if webhooks_trusted:
            first = self._safety_first_look()
            later = min(age * _SAFETY_BACKOFF, self.max_gap * _SAFETY_STRETCH)
            return max(self.base_gap, first - age, later)
        plan = self._current_plan()
        at = int(age / self.base_gap)
        if plan is None or at >= len(plan.gaps) or plan.gaps[at] == 1.0:
            return self._fixed(age)
        gap = plan.gaps[at]
        # A long gap must not step over the start of an interval polled more often.
        for later in range(at + 1, min(len(plan.gaps), at + 1 + int(gap) + 1)):
            if plan.gaps[later] < gap:
                gap = min(gap, later - age / self.base_gap + plan.gaps[later])
                break
        return min(self.max_gap, max(self.min_gap, gap * self.base_gap))

    def _safety_first_look(self) -> float:
        """With trusted webhooks, the age of a job's first look: once ``_SAFETY_QUANTILE`` of
        the jobs like it will have finished, judged from as few as ``_SAFETY_SAMPLES`` finishes
        (a plan needs more, but this needs only their spread), else the longest gap.

        The share is estimated from the finishes and the jobs still running together (see
        :func:`_finished_by`). When too many jobs are still running past the last finish for
        the share to be known, the first look comes at the oldest age seen.
        """
        if len(self._recent) < _SAFETY_SAMPLES:
            return self.max_gap
        if self._safety_first is None:
            finished = sorted(self._recent)
            first = _finished_by(finished, self._running, _SAFETY_QUANTILE)
            if first is None:
                first = max(finished[-1], *self._running[-1:])
            self._safety_first = first
        return self._safety_first

    def _fixed(self, age: float) -> float:
        """The fixed poller's cadence: a look every base interval from the job's start.

        A poll answered a little after its moment (the loop's own work, AKOOL's answer) is
        followed by the next one on time, so that small delays do not add up over a job's life
        and leave it looked at later and less often than the fixed poller would. A poll far
        behind (a request budget in use) is followed one whole interval later, as the fixed
        poller limited to that budget would do.
        """
        behind = age % self.base_gap
        return self.base_gap - behind if behind <= _CATCH_UP * self.base_gap else self.base_gap

    def _current_plan(self) -> _Plan | None:
        if len(self._recent) < self._min_samples:
            return None
        if not self._planned or self._since_plan >= _REPLAN_EVERY:
            durations = sorted(self._recent)
            self._plan = self._make_plan(durations)
            self._planned = True
            self._since_plan = 0
        if self._plan is not None and not self._fits_latest(self._plan):
            return None
        return self._plan

    def _fits_latest(self, plan: _Plan) -> bool:
        """Whether the latest finishes are noticed about as the plan promised: not when they
        fall where it polls seldom (a mix of durations it was not learnt from)."""
        if not self._latest:
            return True
        late = 0.0
        for duration in self._latest:
            at = int(duration / self.base_gap)
            late += _late_share(plan.gaps[at] if at < len(plan.gaps) else 1.0)
        return late <= _RECENT_LIMIT * _TAIL * len(self._latest)

    def _make_plan(self, durations: list[float]) -> _Plan | None:
        """The cheapest plan that notices finishes as fast as the fixed poller, or ``None``."""
        total = len(durations)
        width = self.base_gap
        slices = int(durations[-1] / width) + 1
        counted: list[int] = []
        running: list[int] = []
        for index in range(slices):
            low = bisect.bisect_left(durations, index * width)
            counted.append(bisect.bisect_left(durations, (index + 1) * width) - low)
            running.append(total - low)
        finishes = [_expected_finishes(durations, i, width) for i in range(slices)]
        fixed_calls = float(sum(running))  # a fixed poller's looks, about one per interval
        late_limit = _LATE_MARGIN * _TAIL * total
        dense_candidates = sorted(
            (i for i in range(slices) if counted[i] >= _DENSE_FINISHES),
            key=lambda i: finishes[i] / running[i],
            reverse=True,
        )
        best: tuple[float, list[float]] | None = None
        for count in range(1, len(dense_candidates) + 1):
            dense = set(dense_candidates[:count])
            gaps = [_DENSE if i in dense else 1.0 for i in range(slices)]
            late = sum(finishes[i] * _late_share(gaps[i]) for i in range(slices))
            # Sparse only past the first dense interval: early failures keep the fixed cadence.
            first = min(dense)
            sparse_candidates = sorted(
                (
                    i
                    for i in range(first + 1, slices)
                    if i not in dense and running[i] >= _SPARSE_RUNNING
                ),
                key=lambda i: finishes[i] / running[i],
            )
            # The finishes in the sparse intervals, counted with a margin for chance: they were
            # chosen for having few.
            quiet = 0.0
            extra = _late_share(_SPARSE) - _late_share(1.0)
            for i in sparse_candidates:
                more = quiet + finishes[i]
                if late + extra * (more + 2 * math.sqrt(more)) > late_limit:
                    continue
                gaps[i] = _SPARSE
                quiet = more
            late += extra * (quiet + 2 * math.sqrt(quiet))
            calls = sum(running[i] / gaps[i] for i in range(slices))
            feasible = late <= late_limit and calls <= _CALLS_MARGIN * fixed_calls
            if feasible and (best is None or calls < best[0]):
                best = (calls, gaps)
        return None if best is None else _Plan(best[1])


def _finished_by(finished: Sequence[float], running: Sequence[float], share: float) -> float | None:
    """The age by which more than ``share`` of jobs like these finish, one actually seen; or
    ``None`` when the jobs still running leave it unknown.

    ``finished`` are durations and ``running`` the ages of jobs not finished yet, each sorted.
    A job still running counts among those that might finish at every age it has reached, and
    no more (the Kaplan-Meier estimate): counting only the finished ones would take the quick
    jobs for all of them, since the slow ones started as long ago are still running. With no
    job running, this is the finish that ``share`` of the finishes lie below.
    """
    at_risk = len(finished) + len(running)
    left = 1.0  # the share of jobs still running at the age reached
    gone = 0
    index = 0
    while index < len(finished):
        age = finished[index]
        while gone < len(running) and running[gone] < age:
            gone += 1
            at_risk -= 1
        ties = bisect.bisect_right(finished, age, lo=index) - index
        left *= 1.0 - ties / at_risk
        at_risk -= ties
        index += ties
        if left < 1.0 - share - 1e-9:
            return age
    return None


def _expected_finishes(durations: list[float], index: int, width: float) -> float:
    """Finishes to expect in slice ``index`` of jobs like these: the average over the slices
    around it, widened until they hold a few finishes. A sparse tail's few samples say how dense
    it is, not where exactly its next finishes will fall: the slices that happen to be empty
    would otherwise be taken for quiet ones.
    """
    spread = _SPREAD
    while True:
        low = bisect.bisect_left(durations, (index - spread) * width)
        high = bisect.bisect_left(durations, (index + 1 + spread) * width)
        if high - low >= _MIN_FINISHES or spread >= _MAX_SPREAD:
            return (high - low) / (2 * spread + 1)
        spread *= 2
