"""The poll schedule: naive until it has seen jobs, then shaped by how long they took."""

from __future__ import annotations

import random

import pytest

from bot.schedule import PollSchedule, WebhookTrust


def schedule(durations=(), *, window: int = 1000) -> PollSchedule:
    made = PollSchedule(base_gap=3.0, min_gap=1.0, max_gap=60.0, window=window, min_samples=30)
    made.observe_all(durations)
    return made


def test_polls_at_the_base_interval_until_enough_jobs_were_seen():
    assert schedule([40.0] * 29).next_gap(0.0) == 3.0


def test_waits_until_the_first_similar_job_would_have_finished():
    seen = schedule([float(d) for d in range(20, 91)] * 2)

    # No job seen finished before 20 s: the first look is no earlier, and about then.
    assert 19.5 <= seen.next_gap(0.0) <= 23.0
    assert 19.5 <= 10.0 + seen.next_gap(10.0) <= 23.0


def test_polls_a_little_inside_the_base_interval_where_jobs_finish():
    rng = random.Random(1)
    seen = schedule([rng.uniform(20, 40) for _ in range(500)])

    # A little inside the base interval, so that 95 % of all jobs are still noticed within the
    # naive poller's 95th percentile although a few finish unwatched.
    assert seen.next_gap(30.0) == pytest.approx(3.0 * 0.85)


def draw(rng: random.Random) -> float:
    roll = rng.random()
    if roll < 0.05:
        return rng.uniform(5, 60)
    if roll < 0.17:
        return rng.uniform(90, 300)
    return min(90.0, max(20.0, rng.lognormvariate(3.75, 0.35)))


def replay(gap, durations) -> tuple[float, list[float]]:
    """Poll each job by ``gap(age)``; return polls per job and each job's detection delay."""
    polls = 0
    delays = []
    for finish in durations:
        at = gap(0.0)
        polls += 1
        while at < finish:
            at += gap(at)
            polls += 1
        delays.append(at - finish)
    return polls / len(durations), delays


def test_keeps_the_naive_pollers_95th_percentile_for_far_fewer_polls():
    rng = random.Random(4)
    seen = schedule([draw(rng) for _ in range(1000)])
    jobs = [draw(rng) for _ in range(3000)]

    naive_polls, naive_delays = replay(lambda age: 3.0, jobs)
    polls, delays = replay(seen.next_gap, jobs)

    p95 = sorted(delays)[int(0.95 * len(delays))]
    naive_p95 = sorted(naive_delays)[int(0.95 * len(naive_delays))]
    assert p95 <= naive_p95
    assert polls <= 0.85 * naive_polls


def test_polls_a_quiet_stretch_far_less_than_where_jobs_finish():
    rng = random.Random(2)
    durations = [rng.uniform(20, 40) for _ in range(900)] + [
        rng.uniform(120, 130) for _ in range(100)
    ]
    seen = schedule(durations)

    def polls_between(start: float, end: float) -> int:
        age, polls = start, 0
        while age < end:
            age += seen.next_gap(age)
            polls += 1
        return polls

    # Nothing finishes between the bulk and the late cluster: about half the naive poller's
    # looks there (the estimate of a quiet stretch's density borrows from its neighbours)...
    assert polls_between(42.0, 118.0) <= 0.6 * (118.0 - 42.0) / 3.0
    # ... and a look every 0.85 intervals inside the late cluster.
    assert seen.next_gap(125.0) == pytest.approx(3.0 * 0.85)


def test_backs_off_for_a_job_older_than_nearly_all():
    seen = schedule([30.0] * 100)

    assert seen.next_gap(200.0) == 20.0  # a tenth of its age
    assert seen.next_gap(1000.0) == 60.0


def test_forgets_old_jobs_beyond_its_window():
    seen = schedule([100.0] * 50, window=50)
    seen.observe_all([10.0] * 50)

    assert seen.samples == 50
    # Older than every job still remembered: the tail back-off, not the forgotten 100 s jobs.
    assert seen.next_gap(50.0) == 5.0


@pytest.mark.parametrize("age", [0.0, 5.0, 33.3, 89.0, 500.0, 10_000.0])
def test_every_gap_is_within_bounds(age: float):
    rng = random.Random(3)
    seen = schedule([rng.lognormvariate(3.8, 0.5) for _ in range(300)])

    assert 1.0 <= seen.next_gap(age) <= 60.0


def test_trusted_webhooks_leave_polling_a_safety_net():
    seen = schedule([float(d) for d in range(20, 120)])

    # First look once 99 % of the jobs seen had finished, then after half the job's age.
    assert seen.next_gap(0.0, webhooks_trusted=True) == pytest.approx(119.0)
    assert seen.next_gap(200.0, webhooks_trusted=True) == 100.0
    assert seen.next_gap(0.0) < 25.0  # without them, the learnt schedule


def test_trusted_webhooks_and_no_history_wait_the_longest_gap():
    assert schedule().next_gap(0.0, webhooks_trusted=True) == 60.0


def test_webhooks_are_trusted_once_nearly_every_recent_finish_was_announced():
    trust = WebhookTrust(window=10, share=0.9)
    states = []
    for _ in range(10):
        trust.finished(announced=True)
        states.append(trust.trusted)
    for _ in range(2):
        trust.finished(announced=False)  # found by a poll: its webhook never came
        states.append(trust.trusted)

    # Not before ten finishes were seen; still at 9 of 10 announced; no longer at 8 of 10.
    assert states == [False] * 9 + [True, True, False]


def test_bounds_must_be_ordered():
    with pytest.raises(ValueError, match="min_gap"):
        PollSchedule(base_gap=1.0, min_gap=2.0, max_gap=3.0)
