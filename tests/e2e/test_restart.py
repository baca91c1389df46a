"""Restarts: the database is the queue, so nothing is lost and nothing is posted twice."""

from __future__ import annotations

from tests.e2e.conftest import CrashOnceAfterPosting, World, pinged
from tests.fakes.akool import Timeline


async def test_a_job_finishing_while_the_bot_is_down_is_delivered_once(world: World):
    world.akool.timeline = Timeline(processing_after=0, hold=True)
    async with world.running():
        ix = await world.discord.slash_command(
            world.alice, world.channel, "imagine", {"prompt": "patient fox"}
        )
        await ix.wait_original_edit(lambda m: "Processing" in m.content)
    (job_id,) = world.akool.jobs
    world.akool.finish(job_id)

    async with world.running():
        post = await world.wait_for_post(lambda m: m.nonce == job_id)
        # A button on the message posted before this restart works like any other.
        press = await world.discord.click(world.bob, post, f"akool:v1:{job_id}:V2")
        await press.wait_response()
        announced = await world.wait_for_post(lambda m: "Variation V2" in m.content)
        (child_id,) = [j for j in world.akool.jobs if j != job_id]
        world.akool.finish(child_id)
        child_post = await world.wait_for_post(world.is_post_of(child_id))

    assert len(world.posts_for(job_id)) == 1
    assert world.akool.calls["createbybutton"] == 1
    assert pinged(announced) == [world.bob.id]
    # A variation is a new grid: AKOOL offers it buttons of its own.
    layout = ("U1", "U2", "U3", "U4", "reroll", "V1", "V2", "V3", "V4", "delete")
    assert world.custom_ids_of(child_post) == [f"akool:v1:{child_id}:{b}" for b in layout]


async def test_buttons_posted_before_a_restart_work_after_it(world: World):
    async with world.running():
        ix = await world.discord.slash_command(
            world.alice, world.channel, "imagine", {"prompt": "old grid"}
        )
        await ix.wait_response()
        grid = await world.wait_for_post(world.is_post)
    (job_id,) = world.akool.jobs

    async with world.running():
        press = await world.discord.click(world.bob, grid, f"akool:v1:{job_id}:U3")
        ack = await press.wait_response()
        child_post = await world.wait_for_post(
            lambda m: world.is_post(m) and m.nonce != job_id, timeout=10
        )

    assert ack.type == 6
    assert "Upscaled (U3)" in child_post.content


async def test_a_crash_between_posting_and_recording_does_not_post_twice(world: World):
    async with world.running() as bot:
        crash = CrashOnceAfterPosting(bot.store)
        ix = await world.discord.slash_command(
            world.alice, world.channel, "imagine", {"prompt": "twice?"}
        )
        await ix.wait_original_edit(lambda m: "Queued" in m.content or "Processing" in m.content)
        (job_id,) = world.akool.jobs
        post = await world.wait_for_post(lambda m: m.nonce == job_id)
        # The status message turns to Done only once the store has recorded the post.
        await ix.wait_original_edit(lambda m: "Done" in m.content)
        stored = await bot.store.get_job(job_id)

    assert crash.calls >= 2
    assert len(world.posts_for(job_id)) == 1
    assert stored is not None
    assert stored.result_message_id == post.id
    sends = world.discord.requests_matching("POST", rf"^/channels/{world.channel.id}/messages$")
    assert len([r for r in sends if (r.json or {}).get("nonce") == job_id]) == 2
