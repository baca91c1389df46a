"""AKOOL misbehaving: every job that AKOOL accepted is still delivered, exactly once."""

from __future__ import annotations

import asyncio

from tests.e2e.conftest import World
from tests.fakes.akool import FaultKind, Timeline

CHAOS = (
    FaultKind.HTTP_500,
    FaultKind.HTTP_429,
    FaultKind.TIMEOUT,
    FaultKind.NOT_JSON,
    FaultKind.CODE,  # 1005 (throttled); 1108 is below
)


async def test_thirty_percent_of_akool_requests_failing(world: World):
    world.akool.timeline = Timeline(processing_after=0.05, finished_after=0.3)
    world.akool.chaos(0.3, CHAOS, seed=7)
    prompts = [f"fox number {n}" for n in range(12)]
    async with world.running(akool_timeout=0.3):
        commands = [
            await world.discord.slash_command(user, world.channel, "imagine", {"prompt": prompt})
            for user, prompt in zip(world.users + world.users, prompts, strict=False)
        ]
        # Each command ends in a status message (job accepted) or a plain refusal.
        finals = await asyncio.gather(
            *(
                ix.wait_original_edit(
                    lambda m: "job `" in m.content or "could not be started" in m.content,
                    timeout=15,
                )
                for ix in commands
            )
        )
        accepted = list(world.akool.jobs)
        for job_id in accepted:
            await world.wait_for_post(world.is_post_of(job_id), timeout=30)

    refused = [m for m in finals if "could not be started" in m.content]
    assert len(accepted) + len(refused) == len(prompts)
    assert len(accepted) >= len(prompts) // 2
    for job_id in accepted:
        (post,) = world.posts_for(job_id)
        assert post.attachments[0].data == world.akool.png(job_id)
    calls = sum(world.akool.calls[e] for e in ("createbyprompt", "infobymodelid"))
    assert calls > len(prompts)  # faults really happened and were retried


async def test_code_1108_on_polls_is_retried_until_done(world: World):
    async with world.running():
        ix = await world.discord.slash_command(
            world.alice, world.channel, "imagine", {"prompt": "x"}
        )
        await ix.wait_original_edit(lambda m: "job `" in m.content)
        world.akool.inject(FaultKind.CODE, code=1108, times=6)
        (job_id,) = world.akool.jobs
        post = await world.wait_for_post(world.is_post_of(job_id), timeout=15)

    assert post.attachments
    assert world.akool.calls["infobymodelid"] >= 7
