"""/track and /status of v4 ids end to end: a v4 image is a single image, posted without a grid's
buttons; an image of a batch the bot made says which image of which batch it is."""

from __future__ import annotations

import asyncio
from typing import Any

from bot.core import AkoolBot
from bot.store import Job
from tests.e2e.conftest import World
from tests.e2e.test_jobs import admin_of
from tests.fakes.akool import Timeline


def fields(message: Any) -> dict[str, str]:
    return {f["name"]: f["value"] for f in message.embeds[0]["fields"]}


async def finished_batch(bot: AkoolBot, lead: str, count: int, timeout: float = 5.0) -> list[Job]:
    """The batch's rows once all ``count`` have finished at AKOOL and been recorded."""
    async with asyncio.timeout(timeout):
        while True:
            batch = await bot.store.batch(lead)
            if len(batch) == count and all(job.status.finished for job in batch):
                return batch
            await asyncio.sleep(0.02)


async def test_track_of_a_finished_v4_image_posts_it_alone_without_grid_buttons(world: World):
    image = world.akool.add_job(kind="image", prompt="made with v4")
    admin = admin_of(world)
    async with world.running() as bot:
        ix = await world.discord.slash_command(admin, world.channel, "track", {"job_id": image.id})
        note = await ix.wait_followup()
        post = await world.wait_for_post(world.is_post_of(image.id))
        stored = await bot.store.get_job(image.id)

    assert "already done; posting it here" in note.content
    assert post.attachments[0].data == world.akool.png(image.id)
    assert "made with v4" in post.content
    # One image: nothing to upscale or vary, and no 🔄 (AKOOL does not say how it was made).
    assert world.custom_ids_of(post) == [f"akool:v1:{image.id}:delete"]
    assert stored is not None
    assert (stored.api, stored.batch_akool_id, stored.credits) == ("v4", None, 1)


async def test_track_of_a_running_v4_image_follows_it_to_its_image(world: World):
    world.akool.timeline = Timeline(processing_after=0, hold=True)
    image = world.akool.add_job(kind="image", prompt="slow v4 fox", status=None)
    admin = admin_of(world)
    async with world.running():
        ix = await world.discord.slash_command(admin, world.channel, "track", {"job_id": image.id})
        await ix.wait_followup()
        await world.wait_for_post(lambda m: image.id in m.content and "Processing" in m.content)
        world.akool.finish(image.id)
        post = await world.wait_for_post(world.is_post_of(image.id))
        status = await world.discord.slash_command(
            admin, world.channel, "status", {"job_id": image.id}
        )
        shown = await status.wait_followup()

    assert post.attachments[0].data == world.akool.png(image.id)
    assert world.custom_ids_of(post) == [f"akool:v1:{image.id}:delete"]
    assert shown.ephemeral
    assert "Done" in fields(shown)["Status"]
    assert shown.embeds[0]["image"]["url"] == world.akool.image_url(image.id)
    assert "Batch" not in fields(shown)


async def test_status_of_a_batch_image_and_of_its_lead(world: World):
    async with world.running(akool_create_api="v4") as bot:
        ix = await world.discord.slash_command(
            world.alice, world.channel, "imagine", {"prompt": "four v4 foxes"}
        )
        started = await ix.wait_original_edit(lambda m: "job `" in m.content)
        lead = started.content.split("job `")[1].split("`")[0]
        batch = await finished_batch(bot, lead, 4)
        second = batch[1].akool_id
        member = await world.discord.slash_command(
            world.alice, world.channel, "status", {"job_id": second}
        )
        of_member = await member.wait_followup()
        first = await world.discord.slash_command(
            world.alice, world.channel, "status", {"job_id": lead}
        )
        of_lead = await first.wait_followup()

    assert [job.batch_akool_id for job in batch] == [lead] * 4
    assert fields(of_member)["Batch"] == f"Image 2 of 4 of batch `{lead}`"
    assert of_member.embeds[0]["image"]["url"] == world.akool.image_url(second)
    assert "Done" in fields(of_member)["Status"]
    assert fields(of_member)["Credits"] == "1"
    assert fields(of_lead)["Batch"] == (
        "Image 1 of 4, the batch's first · 4 done, 0 failed, 0 unfinished"
    )
    assert fields(of_lead)["Batch credits"] == "4"
    assert of_lead.embeds[0]["image"]["url"] == world.akool.image_url(lead)
    assert world.akool.calls["createBySourcePrompt"] == 1
    assert world.akool.calls["createbyprompt"] == 0
