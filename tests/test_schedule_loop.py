"""The poll schedule through the job loop: what the loop learns from finished jobs changes the
cadence, and a mix of durations the schedule has not learnt sends it back to the fixed one."""

from __future__ import annotations

import random
from unittest.mock import create_autospec

from bot.akool import AkoolClient
from bot.job_loop import JobLoop
from bot.notifier import Notifier
from bot.schedule import PollSchedule
from bot.store import Job, JobKind, JobStatus, NewJob, StatusUpdate
from bot.store.sqlite import SqliteJobStore
from tests.clock import Clock
from tests.fakes.akool import FakeAkool, Timeline

INTERVAL = 3.0


def bimodal(rng: random.Random) -> float:
    return rng.uniform(20, 30) if rng.random() < 0.7 else rng.uniform(150, 200)


async def test_jobs_finishing_where_the_plan_polls_seldom_bring_back_the_fixed_cadence(
    store: SqliteJobStore, akool: AkoolClient, fake_akool: FakeAkool, clock: Clock
):
    notifier = create_autospec(Notifier, instance=True)

    async def deliver(job: Job) -> None:
        await store.mark_delivered(job.akool_id, 0, now=clock.now)  # as the real notifier does

    notifier.deliver.side_effect = deliver
    loop = JobLoop(
        store=store,
        akool=akool,
        notifier=notifier,
        poll_interval=INTERVAL,
        schedule=PollSchedule(base_gap=INTERVAL, min_gap=1.0, max_gap=60.0),
        job_timeout=3600.0,
        concurrency=4,
        clock=clock,
    )
    rng = random.Random(1)
    loop.schedule.observe_all(bimodal(rng) for _ in range(1000))
    fake_akool.timeline = Timeline(hold=True)

    async def poll_at_age(age: float, *, finished: bool) -> float:
        """Create a job ``age`` seconds ago, poll it once; the gap to its next poll."""
        job = fake_akool.add_job(status=None)
        if finished:
            fake_akool.finish(job.id)
        new = NewJob(job.id, JobKind.IMAGINE, requester_id=1, channel_id=2)
        await store.add_job(new, now=clock.now - age, due_at=clock.now)
        # Last seen unfinished a second ago: it finished at ``age`` - 1 to ``age``.
        processing = StatusUpdate(JobStatus.PROCESSING)
        await store.record_status(job.id, processing, now=clock.now - 1, due_at=clock.now)
        assert await loop.tick() == 1
        stored = await store.get_job(job.id)
        assert stored is not None
        return (stored.due_at or clock.now) - clock.now

    # Learnt: nothing finishes at 80-100 s, so a job of that age is asked about every 2 intervals.
    assert await poll_at_age(90.0, finished=False) == 2 * INTERVAL
    # Then jobs do finish there, seen by the loop's own polls ...
    for _ in range(10):
        await poll_at_age(90.0, finished=True)
    # ... and the next job of that age is back on the fixed cadence.
    assert await poll_at_age(90.0, finished=False) == INTERVAL
