"""The poll schedule: naive until it has seen jobs, then shaped by how long they took."""

from __future__ import annotations

import random

import pytest

from bot.schedule import PollSchedule


def schedule(durations=(), *, window: int = 1000) -> PollSchedule:
    made = PollSchedule(base_gap=3.0, min_gap=1.0, max_gap=60.0, window=window, min_samples=30)
    made.observe_all(durations)
    return made


def test_polls_at_the_base_interval_until_enough_jobs_were_seen():
    assert schedule([40.0] * 29).next_gap(0.0) == 3.0


def test_waits_until_the_first_similar_job_would_have_finished():
    seen = schedule([float(d) for d in range(20, 91)] * 2)

    assert seen.next_gap(0.0) == pytest.approx(20.0, abs=0.5)
    # Near the first finishes the gap eases in: at most two base intervals.
    assert seen.next_gap(10.0) == 6.0


def test_polls_about_the_base_interval_where_jobs_finish():
    rng = random.Random(1)
    seen = schedule([rng.uniform(20, 40) for _ in range(500)])

    gap = seen.next_gap(25.0)

    assert 1.0 <= gap <= 3.0


def test_stretches_the_gap_in_a_sparse_tail():
    rng = random.Random(2)
    durations = [rng.uniform(20, 40) for _ in range(800)] + [
        rng.uniform(60, 600) for _ in range(200)
    ]
    seen = schedule(durations)

    assert seen.next_gap(100.0) == 6.0  # stretched, but at most two base intervals
    assert 2.0 <= seen.next_gap(25.0) <= 3.5  # about the base interval where most finish


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


def test_bounds_must_be_ordered():
    with pytest.raises(ValueError, match="min_gap"):
        PollSchedule(base_gap=1.0, min_gap=2.0, max_gap=3.0)
