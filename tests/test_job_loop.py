"""The job loop against the fake AKOOL and a real store, with a spec'd notifier."""

from __future__ import annotations

import asyncio
from unittest.mock import create_autospec

import pytest

from bot.akool import AkoolClient, ImageStatus
from bot.job_loop import JobLoop
from bot.notifier import Notifier, RetryLater
from bot.store import JobKind, JobStatus, NewJob
from bot.store.sqlite import SqliteJobStore
from tests.clock import Clock
from tests.fakes.akool import FakeAkool, FaultKind, Timeline


@pytest.fixture
def notifier():
    return create_autospec(Notifier, instance=True)


@pytest.fixture
def loop(store: SqliteJobStore, akool: AkoolClient, notifier, clock: Clock) -> JobLoop:
    return make_loop(store, akool, notifier, clock)


def make_loop(store: SqliteJobStore, akool: AkoolClient, notifier, clock: Clock) -> JobLoop:
    return JobLoop(
        store=store,
        akool=akool,
        notifier=notifier,
        poll_interval=5.0,
        job_timeout=600.0,
        concurrency=2,
        clock=clock,
    )


async def add(store: SqliteJobStore, akool_id: str, clock: Clock) -> None:
    job = NewJob(akool_id=akool_id, kind=JobKind.TRACK, requester_id=1, channel_id=2, guild_id=3)
    await store.add_job(job, now=clock.now, due_at=clock.now)


async def test_one_bad_job_does_not_stop_the_others(
    loop, store, fake_akool: FakeAkool, notifier, clock
):
    good = fake_akool.add_job()
    crashing = fake_akool.add_job()
    await add(store, good.id, clock)
    await add(store, crashing.id, clock)
    await add(store, "0" * 24, clock)  # unknown at AKOOL: code 1008

    async def deliver(job):
        if job.akool_id == crashing.id:
            raise RuntimeError("boom")

    notifier.deliver.side_effect = deliver
    handled = await loop.tick()

    assert handled == 3
    delivered = {call.args[0].akool_id for call in notifier.deliver.call_args_list}
    assert delivered == {good.id, crashing.id, "0" * 24}
    unknown = await store.get_job("0" * 24)
    assert unknown is not None
    assert unknown.status is JobStatus.FAILED
    assert "does not know that job" in (unknown.error or "")
    failed = await store.get_job(crashing.id)
    assert failed is not None
    assert failed.attempts == 1
    assert "boom" in (failed.last_error or "")
    assert failed.due_at is not None
    assert failed.due_at > clock.now


async def test_unfinished_jobs_are_polled_again_one_interval_later(
    loop, store, fake_akool, notifier, clock
):
    fake_akool.timeline = Timeline(hold=True)
    job = fake_akool.add_job(status=None)
    await add(store, job.id, clock)

    await loop.tick()
    stored = await store.get_job(job.id)

    assert stored is not None
    assert stored.status is JobStatus.PROCESSING
    assert stored.due_at == clock.now + 5.0
    notifier.show_progress.assert_awaited_once()
    notifier.deliver.assert_not_awaited()
    assert await loop.tick() == 0  # not due again yet


async def test_transient_akool_failures_back_off(loop, store, fake_akool: FakeAkool, clock):
    job = fake_akool.add_job()
    await add(store, job.id, clock)
    fake_akool.inject(FaultKind.HTTP_500, times=10)

    await loop.tick()
    stored = await store.get_job(job.id)

    assert stored is not None
    assert stored.attempts == 1
    assert stored.status is JobStatus.QUEUED
    assert stored.due_at is not None
    assert clock.now + 4.0 <= stored.due_at <= clock.now + 6.0


async def test_delivery_that_should_be_retried_is_rescheduled(
    loop, store, fake_akool, notifier, clock
):
    job = fake_akool.add_job()
    await add(store, job.id, clock)
    notifier.deliver.side_effect = RetryLater("Discord answered 503")

    await loop.tick()
    clock.now += 60
    await loop.tick()
    stored = await store.get_job(job.id)

    assert notifier.deliver.await_count == 2
    assert stored is not None
    assert stored.attempts == 2
    assert stored.status is JobStatus.COMPLETED


async def test_a_job_past_the_timeout_fails(loop, store, fake_akool, notifier, clock):
    fake_akool.timeline = Timeline(hold=True)
    await add(store, fake_akool.add_job(status=None).id, clock)
    clock.now += 601

    await loop.tick()

    (call,) = notifier.deliver.call_args_list
    assert call.args[0].status is JobStatus.FAILED
    assert "stopped waiting" in call.args[0].error


@pytest.mark.parametrize("code", [1101, 1102, 1103, 1104, 1200])
async def test_account_problems_are_logged_once_not_per_job(
    loop, store, fake_akool: FakeAkool, clock, caplog, code: int
):
    for _ in range(5):
        await add(store, fake_akool.add_job().id, clock)
    fake_akool.inject(FaultKind.CODE, code=code, times=10)

    await loop.tick()
    clock.now += 60
    await loop.tick()  # everything due again, AKOOL still refusing

    errors = [r for r in caplog.records if r.levelname == "ERROR" and str(code) in r.getMessage()]
    assert len(errors) == 1
    assert fake_akool.calls["infobymodelid"] == 10


async def test_an_outage_is_met_with_backoff_and_recovers(
    store, akool, fake_akool, notifier, clock
):
    loop = JobLoop(
        store=store,
        akool=akool,
        notifier=notifier,
        poll_interval=5.0,
        job_timeout=3600.0,
        concurrency=2,
        clock=clock,
    )
    jobs = [fake_akool.add_job() for _ in range(3)]
    for job in jobs:
        await add(store, job.id, clock)
    fake_akool.inject(FaultKind.HTTP_500, times=10_000)

    # Ten simulated minutes of outage, the loop ticking every simulated second.
    start = fake_akool.calls["infobymodelid"]
    for _ in range(600):
        await loop.tick()
        clock.now += 1.0
    during = fake_akool.calls["infobymodelid"] - start
    fake_akool._faults.clear()

    def delivered() -> set[str]:
        return {call.args[0].akool_id for call in notifier.deliver.call_args_list}

    for _ in range(400):
        if len(delivered()) == len(jobs):
            break
        await loop.tick()
        clock.now += 1.0

    # A naive loop would ask 3 jobs x 3 attempts every 5 s: 1,080 requests in ten minutes.
    # With per-job backoff (5 s doubling to 300 s) it is a few dozen.
    assert during <= 3 * 3 * 12
    assert delivered() == {job.id for job in jobs}
    for job in jobs:
        stored = await store.get_job(job.id)
        assert stored is not None
        assert stored.status is JobStatus.COMPLETED


async def test_a_create_lost_in_a_crash_is_reported_once(loop, store, notifier, clock):
    await store.add_create_intent(1, 3, 2, "lost fox", now=clock.now)

    await loop.tick()  # still within the grace: the create may be under way
    clock.now += 61
    await loop.tick()
    await loop.tick()

    (call,) = notifier.report_lost_create.call_args_list
    assert call.args[0].prompt == "lost fox"


async def test_a_finished_webhook_makes_the_job_due_and_a_progress_one_costs_no_call(
    loop, store, fake_akool: FakeAkool, notifier, clock
):
    fake_akool.timeline = Timeline(hold=True)
    job = fake_akool.add_job(status=None)
    await store.add_job(
        NewJob(akool_id=job.id, kind=JobKind.IMAGINE, requester_id=1, channel_id=2),
        now=clock.now,
        due_at=clock.now + 60,
    )

    progressed = await loop.on_webhook(job.id, ImageStatus.PROCESSING)
    stored = await store.get_job(job.id)

    assert progressed is not None
    assert stored is not None
    assert stored.status is JobStatus.PROCESSING
    assert stored.due_at == clock.now + 60  # its schedule is left alone
    notifier.show_progress.assert_awaited_once()
    assert fake_akool.calls["infobymodelid"] == 0

    fake_akool.finish(job.id)
    assert await loop.on_webhook(job.id, ImageStatus.COMPLETED) is not None
    assert await loop.tick() == 1  # due at once, and a poll confirms it
    notifier.deliver.assert_awaited_once()
    assert fake_akool.calls["infobymodelid"] == 1
    await store.mark_delivered(job.id, 1, now=clock.now)  # what the real notifier does
    assert await loop.on_webhook(job.id, ImageStatus.PROCESSING) is None  # finished with


async def test_webhooks_that_keep_arriving_make_polling_a_safety_net(
    loop, store, fake_akool: FakeAkool, notifier, clock
):
    loop.schedule.observe_all([float(age) for age in range(20, 60)] * 3)
    untrusted = loop.next_poll_in(0.0)
    await finish_with_webhooks(20, loop, store, fake_akool, clock)
    await loop.tick()

    assert loop.webhooks.trusted
    assert untrusted < 25.0
    # The first look waits until nearly every job seen had finished.
    assert loop.next_poll_in(0.0) >= 55.0


async def test_the_safety_nets_first_look_waits_for_the_slow_jobs_still_running(
    loop, store, fake_akool: FakeAkool, notifier, clock
):
    # The jobs seen so far all finished within a minute; three started 150 s ago still run
    # (and a tracked job older still, made elsewhere at a time nobody knows, is no evidence).
    loop.schedule.observe_all([float(age) for age in range(20, 60)] * 3)
    for _ in range(3):
        await store.add_job(
            NewJob(
                akool_id=fake_akool.add_job(status=None).id,
                kind=JobKind.IMAGINE,
                requester_id=1,
                channel_id=2,
            ),
            now=clock.now - 150,
            due_at=clock.now + 60,
        )
    await store.add_job(
        NewJob(akool_id="f" * 24, kind=JobKind.TRACK, requester_id=1, channel_id=2),
        now=clock.now - 400,
        due_at=clock.now + 60,
    )
    await finish_with_webhooks(20, loop, store, fake_akool, clock)
    await loop.tick()
    assert loop.webhooks.trusted

    # Not at 59 s, which the slow jobs outlive by a status call each.
    assert 150.0 <= loop.next_poll_in(0.0) < 400.0


async def test_webhooks_received_by_another_process_count_for_trust(
    loop, store, akool, fake_akool: FakeAkool, notifier, clock
):
    receiver = make_loop(store, akool, notifier, clock)  # the process the webhooks reach
    await finish_with_webhooks(20, receiver, store, fake_akool, clock)

    assert await loop.tick() == 20
    assert loop.webhooks.trusted


async def test_callbacks_are_trusted_by_the_tenth_job_they_all_announce(
    loop, store, fake_akool: FakeAkool, clock
):
    trusted = []
    for _ in range(10):
        await finish_with_webhooks(1, loop, store, fake_akool, clock)
        await loop.tick()
        trusted.append(loop.webhooks.trusted)

    assert trusted == [False] * 9 + [True]


async def test_callbacks_are_distrusted_two_jobs_after_they_stop(
    loop, store, fake_akool: FakeAkool, clock
):
    await finish_with_webhooks(10, loop, store, fake_akool, clock)
    await loop.tick()
    assert loop.webhooks.trusted
    trusted = []
    for _ in range(2):  # AKOOL finishes jobs but calls back no more: a safety poll finds them
        await add(store, fake_akool.add_job().id, clock)
        await loop.tick()
        trusted.append(loop.webhooks.trusted)

    assert trusted == [True, False]


async def test_a_callback_a_poll_beat_still_counts_for_trust(
    loop, store, fake_akool: FakeAkool, clock
):
    for _ in range(10):
        job = fake_akool.add_job()
        await store.add_job(
            NewJob(akool_id=job.id, kind=JobKind.IMAGINE, requester_id=1, channel_id=2),
            now=clock.now,
            due_at=clock.now,
        )
        await loop.tick()  # the poll sees it finished first
        await store.mark_delivered(job.id, 1, now=clock.now)  # what the real notifier does
        assert await loop.on_webhook(job.id, ImageStatus.COMPLETED) is None  # then the callback

    assert loop.webhooks.trusted


async def finish_with_webhooks(
    count: int, receiver: JobLoop, store: SqliteJobStore, fake_akool: FakeAkool, clock: Clock
) -> None:
    """``count`` stored jobs, not due for a minute, that AKOOL finished and called back about."""
    for _ in range(count):
        job = fake_akool.add_job()
        await store.add_job(
            NewJob(akool_id=job.id, kind=JobKind.IMAGINE, requester_id=1, channel_id=2),
            now=clock.now,
            due_at=clock.now + 60,
        )
        await receiver.on_webhook(job.id, ImageStatus.COMPLETED)


async def test_a_finish_is_learnt_as_somewhere_since_the_last_look(
    loop, store, fake_akool: FakeAkool, clock, monkeypatch
):
    learnt: list[float] = []
    monkeypatch.setattr(loop.schedule, "observe", learnt.append)
    fake_akool.timeline = Timeline(hold=True)
    durations = []
    for _ in range(20):
        job = fake_akool.add_job(status=None)
        await store.add_job(
            NewJob(akool_id=job.id, kind=JobKind.IMAGINE, requester_id=1, channel_id=2),
            now=clock.now,
            due_at=clock.now + 10,
        )
        clock.now += 10
        await loop.tick()  # still processing at 10 s
        fake_akool.finish(job.id)
        clock.now += 30
        await loop.tick()  # found finished at 40 s
        durations.append(learnt[-1])

    # Between the two looks, not pinned to the moment it was noticed: otherwise the schedule
    # would learn that jobs only ever finish where it happens to poll.
    assert all(10.0 <= d <= 40.0 for d in durations)
    assert len(set(durations)) == 20


async def test_an_answer_that_goes_backwards_keeps_the_schedule(
    loop, store, fake_akool: FakeAkool, clock
):
    fake_akool.timeline = Timeline(hold=True)
    job = fake_akool.add_job(status=None)
    await add(store, job.id, clock)
    await loop.tick()  # processing
    fake_akool.set_status(job.id, ImageStatus.QUEUED)
    clock.now += 5

    await loop.tick()  # AKOOL now says queued: nothing is recorded

    stored = await store.get_job(job.id)
    assert stored is not None
    assert stored.status is JobStatus.PROCESSING
    # Released for its next look one interval on, not held until the claim runs out.
    assert await store.next_due_at() == clock.now + 5.0


async def test_a_job_claimed_again_mid_delivery_is_delivered_once(
    loop, store, fake_akool: FakeAkool, notifier, clock
):
    # A finished job stays due until its post is recorded, so the loop's next pass claims it
    # again while its delivery is still under way here: that claim must wait for the delivery,
    # then find the job delivered, and never deliver it a second time.
    job = fake_akool.add_job()
    await add(store, job.id, clock)
    gate = asyncio.Event()
    delivering = asyncio.Event()

    async def deliver(found):
        delivering.set()
        await gate.wait()
        await store.mark_delivered(found.akool_id, 1, now=clock.now)

    notifier.deliver.side_effect = deliver
    loop.start()
    try:
        await asyncio.wait_for(delivering.wait(), timeout=10)

        async def claimed_again() -> None:
            while True:
                stored = await store.get_job(job.id)
                assert stored is not None
                if stored.due_at is not None and stored.due_at > clock.now:
                    return  # held by the second claim
                loop.wake()
                await asyncio.sleep(0.01)

        await asyncio.wait_for(claimed_again(), timeout=10)
        gate.set()

        async def settled() -> None:
            # Both claims' steps: the delivery, and the one waiting for it.
            while loop._in_hand:
                await asyncio.wait(set(loop._in_hand))

        await asyncio.wait_for(settled(), timeout=10)
    finally:
        gate.set()
        await loop.stop()

    assert notifier.deliver.await_count == 1
    found = await store.get_job(job.id)
    assert found is not None
    assert not found.needs_work
