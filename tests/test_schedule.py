"""The poll schedule: a fixed poller until strong evidence from the jobs seen says otherwise,
and never worse than one."""

from __future__ import annotations

import math
import random
from collections.abc import Callable

import pytest

from bot.schedule import PollSchedule


def schedule(durations=(), *, window: int = 1000) -> PollSchedule:
    made = PollSchedule(base_gap=3.0, min_gap=1.0, max_gap=60.0, window=window, min_samples=30)
    made.observe_all(durations)
    return made


def test_polls_at_the_base_interval_until_enough_jobs_were_seen():
    assert schedule([40.0] * 29).next_gap(0.0) == 3.0


def bench_mix(rng: random.Random) -> float:
    """The benchmark's mix: 5 % fail early, most finish in 20-90 s, a long tail."""
    roll = rng.random()
    if roll < 0.05:
        return rng.uniform(5, 60)
    if roll < 0.17:
        return rng.uniform(90, 300)
    return min(90.0, max(20.0, rng.lognormvariate(3.75, 0.35)))


def bimodal(rng: random.Random) -> float:
    """Quick jobs, a quiet stretch nothing finishes in, then slow jobs; a few early failures."""
    roll = rng.random()
    if roll < 0.04:
        return rng.uniform(1, 15)
    return rng.uniform(20, 30) if roll < 0.7 else rng.uniform(150, 200)


MIXES: dict[str, Callable[[random.Random], float]] = {
    "benchmark": bench_mix,
    "bimodal": bimodal,
    "uniform": lambda rng: rng.uniform(5, 100),
    "exponential": lambda rng: rng.expovariate(1 / 30),
    "constant": lambda rng: 40 + rng.random(),
    "log-normal": lambda rng: rng.lognormvariate(3.5, 0.8),
}


def replay(
    gap: Callable[[float], float], durations: list[float]
) -> tuple[float, list[float], list[float]]:
    """Poll each job by ``gap(age)`` from its start; return polls per job, each job's detection
    delay, and how much later than a fixed 3-second poller's look that was."""
    polls = 0
    delays = []
    later = []
    for finish in durations:
        at = gap(0.0)
        polls += 1
        while at < finish:
            at += gap(at)
            polls += 1
        delays.append(at - finish)
        later.append(at - math.ceil(finish / 3.0) * 3.0)
    return polls / len(durations), delays, later


def p95(values: list[float]) -> float:
    return sorted(values)[int(0.95 * len(values))]


@pytest.mark.parametrize("mix", MIXES)
@pytest.mark.parametrize("learnt_from", [150, 300, 1000])
def test_never_does_worse_than_the_fixed_poller(mix: str, learnt_from: int):
    rng = random.Random(learnt_from)
    seen = schedule([MIXES[mix](rng) for _ in range(learnt_from)])
    jobs = [MIXES[mix](rng) for _ in range(3000)]

    fixed_polls, fixed_delays, _ = replay(lambda age: 3.0, jobs)
    polls, delays, later = replay(seen.next_gap, jobs)

    assert p95(delays) <= p95(fixed_delays)
    assert polls <= fixed_polls
    assert max(later) <= 2 * 3.0  # never more than two intervals after the fixed poller


def test_learns_a_quiet_stretch_it_has_strong_evidence_for():
    rng = random.Random(2)
    seen = schedule([bimodal(rng) for _ in range(1000)])
    jobs = [bimodal(rng) for _ in range(3000)]

    fixed_polls, _, _ = replay(lambda age: 3.0, jobs)
    polls, _, _ = replay(seen.next_gap, jobs)

    assert seen.learnt
    assert seen.next_gap(90.0) == 6.0  # two intervals where nothing finishes
    assert polls <= 0.85 * fixed_polls


def test_early_failures_are_seen_on_the_fixed_cadence():
    rng = random.Random(3)
    seen = schedule([bimodal(rng) for _ in range(1000)])
    assert seen.learnt

    # Before the first ages where many jobs finish: the fixed poller's looks, exactly.
    age = 0.0
    looks = []
    while age < 18.0:
        age += seen.next_gap(age)
        looks.append(age)
    assert looks == pytest.approx([3.0 * n for n in range(1, 7)])


def test_falls_back_to_the_fixed_cadence_for_a_mix_it_has_not_learnt():
    rng = random.Random(4)
    seen = schedule([bimodal(rng) for _ in range(1000)])
    assert seen.next_gap(90.0) == 6.0

    # Jobs now finish in the stretch the plan thought quiet: fixed cadence everywhere at once,
    # long before the plan could be learnt anew from them.
    seen.observe_all(rng.uniform(80, 100) for _ in range(10))

    assert not seen.learnt
    assert seen.next_gap(90.0) == 3.0
    assert seen.next_gap(40.0) == 3.0


def test_small_delays_in_answering_do_not_add_up_over_a_jobs_life():
    seen = schedule()
    looks = []
    at = 0.0
    for _ in range(40):
        at += seen.next_gap(at) + 0.07  # each answer comes 70 ms after its moment
        looks.append(at)

    # Every look within those 70 ms of the fixed poller's: 40 looks in 120 s, not 37.
    assert looks == pytest.approx([3.0 * n + 0.07 for n in range(1, 41)])


def test_a_poll_far_behind_is_followed_one_interval_later():
    # An answer 1.5 s late (a request budget in use): one whole interval, as a fixed poller
    # limited to that budget would wait, not a catch-up poll at once.
    assert schedule().next_gap(31.5) == 3.0


def test_keeps_the_fixed_cadence_without_strong_evidence():
    rng = random.Random(5)
    seen = schedule([MIXES["uniform"](rng) for _ in range(1000)])

    assert not seen.learnt
    assert {seen.next_gap(age) for age in (0.0, 10.0, 55.5, 99.0, 500.0)} == {3.0}


def test_a_job_older_than_every_one_seen_keeps_the_fixed_cadence():
    rng = random.Random(6)
    seen = schedule([bimodal(rng) for _ in range(1000)])

    assert seen.learnt
    assert seen.next_gap(400.0) == 3.0
    assert seen.next_gap(10_000.0) == 3.0


def test_forgets_old_jobs_beyond_its_window():
    seen = schedule([100.0] * 50, window=50)
    seen.observe_all([10.0] * 50)

    assert seen.samples == 50


@pytest.mark.parametrize("age", [0.0, 5.0, 33.3, 89.0, 500.0, 10_000.0])
def test_every_gap_is_within_bounds(age: float):
    rng = random.Random(3)
    seen = schedule([bimodal(rng) for _ in range(1000)])

    assert 1.0 <= seen.next_gap(age) <= 6.0


def test_trusted_webhooks_leave_polling_a_safety_net():
    seen = schedule([float(d) for d in range(20, 120)])

    # First look once 99 % of the jobs seen had finished, then after half the job's age.
    assert seen.next_gap(0.0, webhooks_trusted=True) == pytest.approx(119.0)
    assert seen.next_gap(200.0, webhooks_trusted=True) == 100.0
    assert seen.next_gap(0.0) < 25.0  # without them, the learnt schedule


def test_trusted_webhooks_and_no_history_wait_the_longest_gap():
    assert schedule().next_gap(0.0, webhooks_trusted=True) == 60.0
    assert schedule([90.0] * 9).next_gap(0.0, webhooks_trusted=True) == 60.0


def test_trusted_webhooks_judge_the_first_look_before_a_plan_is_learnt():
    # 25 jobs seen: too few for a plan (30), enough to know they all take up to 140 s, so
    # the safety net's first look is not the longest gap (which most of them outlive, each
    # costing a status call that a callback makes needless).
    seen = schedule([float(d) for d in range(20, 145, 5)])

    assert not seen.learnt
    assert seen.next_gap(0.0, webhooks_trusted=True) == pytest.approx(140.0)
    assert seen.next_gap(0.0) == 3.0  # without them, still the fixed cadence


def test_ten_jobs_seen_are_enough_to_judge_the_safety_nets_first_look():
    # Ten finishes in 20-65 s: a first look at 65 s, not at the longest gap (60 s, which the
    # longer of them outlive by a needless status call, and the rest by a needless wait).
    assert schedule([float(d) for d in range(20, 70, 5)]).next_gap(
        0.0, webhooks_trusted=True
    ) == pytest.approx(65.0)
    # Nine are too few to say where their spread ends.
    assert schedule([float(d) for d in range(20, 65, 5)]).next_gap(
        0.0, webhooks_trusted=True
    ) == pytest.approx(60.0)


def test_the_safety_nets_first_look_counts_the_jobs_still_running():
    # Twenty quick jobs seen finish in 20-58 s, while ten started earlier still run at
    # 100-190 s: too many to know when 99 % of such jobs finish, so the first look waits
    # until the oldest age seen, not until 58 s, which every slow job would outlive.
    seen = schedule([float(d) for d in range(20, 60, 2)])
    assert seen.next_gap(0.0, webhooks_trusted=True) == pytest.approx(58.0)

    seen.running([float(age) for age in range(100, 200, 10)])
    assert seen.next_gap(0.0, webhooks_trusted=True) == pytest.approx(190.0)

    # Jobs younger than every finish say nothing more.
    seen.running([5.0] * 10)
    assert seen.next_gap(0.0, webhooks_trusted=True) == pytest.approx(58.0)


def test_few_jobs_running_past_every_finish_leave_the_first_look_at_the_finishes():
    # 1000 finishes in 20-119 s and 5 jobs still running at 200 s: 0.5 % of them, so 99 % of
    # such jobs are known to finish by about 119 s (a little later than without them).
    durations = [20.0 + d / 10 for d in range(1000)]
    seen = schedule(durations)
    without = seen.next_gap(0.0, webhooks_trusted=True)
    seen.running([200.0] * 5)
    with_them = seen.next_gap(0.0, webhooks_trusted=True)

    assert without == pytest.approx(119.0)
    assert without < with_them < 119.9


def test_bounds_must_be_ordered():
    with pytest.raises(ValueError, match="min_gap"):
        PollSchedule(base_gap=1.0, min_gap=2.0, max_gap=3.0)
