"""Each finished job is posted the moment it is seen finished, and AKOOL's request budget serves
members first: a burst of creates does not stop deliveries, and a backlog of polls delays neither
a create nor the poll that confirms a callback.

The real bot against the fakes; each test waits on what the fakes see, with a timeout.
"""

from __future__ import annotations

import asyncio

from bot.core import AkoolBot
from bot.store import JobKind, NewJob
from tests.e2e.conftest import World
from tests.fakes.akool import Timeline
from tests.fakes.discord import FakeInteraction, FakeUser

# Small enough that a few dozen requests make a queue.
PER_SECOND = 20.0
# Slower still behind a backlog, so that the few polls let go while the bot handles a command or
# a callback (on a busy machine) stay few.
BACKLOG_PER_SECOND = 10.0


async def imagine(world: World, member: FakeUser, prompt: str) -> FakeInteraction:
    return await world.discord.slash_command(member, world.channel, "imagine", {"prompt": prompt})


async def job_of(world: World, ix: FakeInteraction, prompt: str, timeout: float = 10.0) -> str:
    """The AKOOL id of the job the command started, once the member has been told it."""
    await ix.wait_original_edit(lambda m: "job `" in m.content, timeout=timeout)
    return next(j for j, job in world.akool.jobs.items() if job.prompt == prompt)


async def backlog(world: World, bot: AkoolBot, count: int) -> list[str]:
    """``count`` unfinished jobs, all due now: the loop polls them over and over."""
    ids = []
    now = bot.clock()
    for n in range(count):
        job = world.akool.add_job(status=None, prompt=f"backlog {n}")
        new = NewJob(
            akool_id=job.id,
            kind=JobKind.IMAGINE,
            requester_id=world.alice.id,
            channel_id=world.channel.id,
            guild_id=world.guild.id,
            prompt=job.prompt,
        )
        await bot.store.add_job(new, now=now, due_at=now)
        ids.append(job.id)
    bot.job_loop.wake()
    return ids


def polls_of_others_before(world: World, job_id: str, endpoint: str) -> int:
    """Status requests about other jobs that AKOOL saw before the first ``endpoint`` request
    that concerns ``job_id``."""
    count = 0
    for request in world.akool.requests:
        about = request.query.get("image_model_id") or (request.body or {}).get("prompt")
        if request.endpoint == endpoint and about == job_id:
            return count
        if request.endpoint == "infobymodelid":
            count += 1
    raise AssertionError(f"no {endpoint} request about {job_id}")


async def test_a_finished_job_is_posted_while_the_other_polls_of_its_tick_are_held(world: World):
    world.akool.timeline = Timeline(hold=True)
    # AKOOL's answers may take long: the held polls are not given up on while the test waits.
    async with world.running(akool_timeout=30.0):
        members = [world.alice, world.bob, world.users[0]]
        commands = [await imagine(world, m, f"fox {n}") for n, m in enumerate(members)]
        finished, *others = [await job_of(world, ix, f"fox {n}") for n, ix in enumerate(commands)]
        holds = [world.akool.hold_next("infobymodelid", job_id=job_id) for job_id in others]
        try:
            for hold in holds:
                await hold.wait_reached()  # both are being asked about, and AKOOL keeps them
            world.akool.finish(finished)

            post = await world.wait_for_post(world.is_post_of(finished), timeout=5)
            still_held = [world.posts_for(job_id) == [] for job_id in others]
        finally:
            for hold in holds:
                hold.release()

    assert post.attachments
    assert still_held == [True, True]


async def test_a_burst_of_creates_does_not_stop_deliveries(world: World):
    world.akool.timeline = Timeline(hold=True)
    burst = [world.discord.add_user(name=f"burst{n}", guild=world.guild) for n in range(60)]
    async with world.running(akool_requests_per_second=PER_SECOND):
        members = [world.alice, world.bob, *world.users[:3]]
        commands = [await imagine(world, m, f"waiting {n}") for n, m in enumerate(members)]
        waiting = [await job_of(world, ix, f"waiting {n}") for n, ix in enumerate(commands)]

        # Sixty creates at once: at least three seconds of the whole budget.
        burst_commands = await asyncio.gather(
            *(imagine(world, m, f"burst {n}") for n, m in enumerate(burst))
        )
        await world.akool.wait_for_calls("createbyprompt", len(members) + 1)
        for job_id in waiting:
            world.akool.finish(job_id)
        for job_id in waiting:
            await world.wait_for_post(world.is_post_of(job_id), timeout=15)
        creates_by_then = world.akool.calls["createbyprompt"] - len(members)
        for n, ix in enumerate(burst_commands):
            await job_of(world, ix, f"burst {n}", timeout=30)

    # Every waiting job was posted while the burst was still being created.
    assert creates_by_then < len(burst) * 0.8, creates_by_then


async def test_a_poll_backlog_does_not_delay_a_creates_first_answer(world: World):
    async with world.running(
        akool_requests_per_second=BACKLOG_PER_SECOND, poll_concurrency=50
    ) as bot:
        world.akool.timeline = Timeline(hold=True)
        await backlog(world, bot, 60)
        # Fifty polls wait for the budget at any time from now on.
        await world.akool.wait_for_calls("infobymodelid", 10)
        before = world.akool.calls["infobymodelid"]

        ix = await imagine(world, world.bob, "a quick fox")
        job_id = await job_of(world, ix, "a quick fox")
        polls_meanwhile = polls_of_others_before(world, "a quick fox", "createbyprompt") - before
        # The backlog was there all along: polling goes on at the budget's pace.
        await world.akool.wait_for_calls("infobymodelid", before + 20, timeout=10)

    # Behind the backlog it would have waited for about fifty polls.
    assert polls_meanwhile <= 5, polls_meanwhile
    assert job_id


async def test_a_callbacks_confirmation_goes_ahead_of_a_poll_backlog(hooked: World):
    world = hooked
    async with world.running(
        akool_requests_per_second=BACKLOG_PER_SECOND, poll_concurrency=50
    ) as bot:
        world.akool.timeline = Timeline(hold=True)
        ix = await imagine(world, world.bob, "an announced fox")
        job_id = await job_of(world, ix, "an announced fox")
        await backlog(world, bot, 60)
        await world.akool.wait_for_calls("infobymodelid", 10)
        before = world.akool.calls["infobymodelid"]

        world.akool.finish(job_id)  # AKOOL calls back at once
        await world.wait_for_post(world.is_post_of(job_id), timeout=10)
        polls_meanwhile = polls_of_others_before(world, job_id, "infobymodelid") - before

    assert polls_meanwhile <= 5, polls_meanwhile
    assert len(world.akool.webhooks_sent) == 1
    confirmations = [
        r for r in world.akool.requests_to("infobymodelid") if r.query["image_model_id"] == job_id
    ]
    assert len(confirmations) == 1
