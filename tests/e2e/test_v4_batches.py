"""v4 batches end to end: one status message with the batch's progress, one post with every
image it made (within the server's upload limit), its buttons, and exactly once whatever dies
when; and the switch from v3 to v4 that AKOOL may force."""

from __future__ import annotations

import asyncio
import io
import logging
from collections import deque
from collections.abc import Callable

import discord
import pytest

from bot.akool import ImageStatus
from bot.core import AkoolBot
from bot.custom_ids import ButtonRef
from bot.store import Delivery, ImageRole, Job
from tests.e2e.conftest import World, pinged, replied_to
from tests.fakes.akool import CREDITS_PER_V4_IMAGE, Timeline, V3Off
from tests.fakes.discord import FakeInteraction, FakeMessage
from tests.postgres import postgres_schema

MIB = 1024 * 1024
# The test server has no boosts: 10 MiB a message, its files together.
SERVER_LIMIT = 10 * MIB


async def imagine(
    world: World, prompt: str, **options: object
) -> tuple[FakeInteraction, list[str]]:
    """Alice's /imagine (with ``options``), once its status message names its job; the images
    AKOOL started for it, in their batch order (the lead first)."""
    known = set(world.akool.jobs)
    ix = await world.discord.slash_command(
        world.alice, world.channel, "imagine", {"prompt": prompt, **options}
    )
    await ix.wait_original_edit(lambda m: "job `" in m.content)
    started = [job_id for job_id in world.akool.jobs if job_id not in known]
    return ix, started


async def delivered(bot: AkoolBot, lead: str, timeout: float = 20.0) -> list[Job]:
    """The batch's rows once its post is recorded (the store has no events: look often)."""
    async with asyncio.timeout(timeout):
        while True:
            batch = await bot.store.batch(lead)
            if batch and all(job.delivery is not Delivery.PENDING for job in batch):
                return batch
            await asyncio.sleep(0.01)


async def waiting(bot: AkoolBot, image: str, timeout: float = 10.0) -> Job:
    """The finished image once it waits for its siblings: pending, and due for nothing."""
    async with asyncio.timeout(timeout):
        while True:
            job = await bot.store.get_job(image)
            if job is not None and job.status.finished and job.due_at is None:
                assert job.delivery is Delivery.PENDING
                return job
            await asyncio.sleep(0.01)


def counted(ready: int) -> Callable[[FakeMessage], bool]:
    return lambda message: f"{ready} of 4 images ready" in message.content


def polls_of(world: World, job_id: str) -> int:
    return sum(
        r.query.get("image_model_id") == job_id for r in world.akool.requests_to("infobymodelid")
    )


def buttons(world: World, post: FakeMessage) -> list[str]:
    refs = [ButtonRef.parse(c) for c in world.custom_ids_of(post)]
    assert all(ref is not None for ref in refs)
    return [f"{ref.job_id}:{ref.action}" for ref in refs if ref is not None]


def grid_layout(lead: str, n: int) -> list[str]:
    us = [f"{lead}:U{i}" for i in range(1, n + 1)]
    vs = [f"{lead}:V{i}" for i in range(1, n + 1)]
    return [*us, f"{lead}:reroll", *vs, f"{lead}:delete"]


async def test_a_batch_of_four_is_one_post_of_four_images_with_its_buttons(world: World):
    world.akool.timeline = Timeline(processing_after=0.0, hold=True)
    async with world.running(akool_create_api="v4") as bot:
        ix, images = await imagine(world, "four foxes")
        lead = images[0]
        assert len(images) == 4
        # The command's answer is the batch's one status message, counting from the start.
        status = ix.original_message
        assert status is not None
        first = status.edits[0].changes["content"] if status.edits else status.content
        assert "0 of 4 images ready" in first
        assert f"job `{lead}`" in first
        assert world.akool.calls["createbyprompt"] == 0

        # Each image finishes on its own; the status message counts them, and a finished one
        # waits for the others without being asked about again.
        for ready, image in enumerate(images[:3], start=1):
            world.akool.finish(image)
            await waiting(bot, image)
            await ix.wait_original_edit(counted(ready))
        asked = polls_of(world, images[0])
        await world.akool.wait_for_calls("infobymodelid", world.akool.calls["infobymodelid"] + 6)
        assert polls_of(world, images[0]) == asked
        assert world.posts_for(lead) == []

        world.akool.finish(images[3])
        batch = await delivered(bot, lead)
        done = await ix.wait_original_edit(lambda m: "4 of 4 images ready" in m.content)
        (post,) = world.posts_for(lead)
        kept = [await bot.store.kept_image(image, ImageRole.RESULT) for image in images]

    assert "Done" in done.content
    # One edit as the batch gets under way, one per image ready: not one per image's every step.
    texts = [e.changes["content"] for e in done.edits if "content" in e.changes]
    assert sum("Processing" in t and "0 of 4" in t for t in texts) <= 1
    assert len(texts) <= 1 + 1 + 4
    assert [a.filename for a in post.attachments] == [f"{image}.png" for image in images]
    assert [a.data for a in post.attachments] == [world.akool.png(image) for image in images]
    assert pinged(post) == [world.alice.id]
    assert post.content.count(f"<@{world.alice.id}>") == 1
    assert replied_to(post) == done.id
    assert buttons(world, post) == grid_layout(lead, 4)
    assert post.embeds[0]["title"] == "four foxes"
    assert "image" not in post.embeds[0]  # the attachments show together, as a gallery
    assert {(job.delivery, job.result_message_id) for job in batch} == {
        (Delivery.DELIVERED, post.id)
    }
    # Every image is kept where the post keeps it, for U n and V n a month on.
    assert [(k.message_id, k.attachment_id) for k in kept if k is not None] == [
        (post.id, a.id) for a in post.attachments
    ]
    assert world.akool.balance == 1000 - 4 * CREDITS_PER_V4_IMAGE


async def test_auto_switches_to_v4_once_when_v3_create_is_gone(
    world: World, caplog: pytest.LogCaptureFixture
):
    world.akool.switch_off_v3(V3Off.HTTP_404)
    with caplog.at_level(logging.WARNING, logger="bot.create_api"):
        async with world.running() as bot:
            assert bot.settings.akool_create_api == "auto"
            ix, images = await imagine(world, "a fox after the switch")
            batch = await delivered(bot, images[0])
            (post,) = world.posts_for(images[0])
            _, later = await imagine(world, "a fox the day after")
            await delivered(bot, later[0])
        async with world.running() as bot:
            _, restarted = await imagine(world, "a fox after a restart")
            await delivered(bot, restarted[0])

    gone = [r for r in caplog.records if "v3 create is gone" in r.getMessage()]
    assert len(gone) == 1
    assert gone[0].levelno == logging.WARNING
    # Asked of v3 once; the member's job, and every later one, went through v4.
    assert world.akool.calls["createbyprompt"] == 1
    assert world.akool.calls["createBySourcePrompt"] == 3
    assert [len(images), len(later), len(restarted)] == [4, 4, 4]
    assert {job.requester_id for job in batch} == {world.alice.id}
    assert len(post.attachments) == 4
    assert world.akool.balance == 1000 - 12 * CREDITS_PER_V4_IMAGE
    assert "could not be started" not in (await ix.wait_original_edit()).content


async def test_a_batch_of_four_4k_images_shrinks_to_fit_the_server(world: World):
    # Each 4K image fits the server's limit alone; the four together do not.
    world.akool.v4_image_sizes = {"4k": (4096, 4096)}
    world.akool.result_pad_to = 6 * MIB
    # Asked for at 4K, under auto: an option only v4 has sends the order to v4.
    async with world.running() as bot:
        _, images = await imagine(world, "four vast foxes", resolution="4k")
        await delivered(bot, images[0], timeout=60)
        (post,) = world.posts_for(images[0])

    assert len(post.attachments) == 4
    assert world.akool.calls["createbyprompt"] == 0
    assert world.akool.requests_to("createBySourcePrompt")[0].body["resolution"] == "4k"
    assert sum(a.size for a in post.attachments) < SERVER_LIMIT
    shrunk = [a for a in post.attachments if a.filename.endswith("-preview.jpg")]
    assert shrunk
    assert "too large to upload here together" in post.content
    description = post.embeds[0]["description"]
    for attachment in shrunk:
        image = attachment.filename.removesuffix("-preview.jpg")
        assert f"]({world.akool.image_url(image)})" in description
    assert "<t:" in post.content  # the originals' expiry
    assert buttons(world, post) == grid_layout(images[0], 4)


async def test_a_partial_failure_posts_what_finished_and_says_what_failed(world: World):
    done = Timeline(finished_after=0.1)
    world.akool.next_timelines = deque(
        [done, Timeline(finished_after=0.1, outcome=ImageStatus.FAILED), done, done]
    )
    async with world.running(akool_create_api="v4") as bot:
        ix, images = await imagine(world, "three foxes and a gap")
        batch = await delivered(bot, images[0])
        (post,) = world.posts_for(images[0])
        status = await ix.wait_original_edit(lambda m: "3 of 4 images ready" in m.content)

    ok = [images[0], images[2], images[3]]
    assert [a.filename for a in post.attachments] == [f"{image}.png" for image in ok]
    assert "1 of 4 images could not be made" in post.content
    assert buttons(world, post) == grid_layout(images[0], 3)
    assert "1 failed" in status.content
    assert {job.delivery for job in batch} == {Delivery.DELIVERED}


async def test_a_batch_that_failed_whole_gets_one_failure_post(world: World):
    world.akool.timeline = Timeline(finished_after=0.1, outcome=ImageStatus.FAILED)
    async with world.running(akool_create_api="v4") as bot:
        _, images = await imagine(world, "no foxes at all")
        await delivered(bot, images[0])
        (post,) = world.posts_for(images[0])

    assert post.attachments == []
    assert post.embeds[0]["color"] == 0xE74C3C
    assert pinged(post) == [world.alice.id]
    assert buttons(world, post) == [f"{images[0]}:delete"]
    assert [m for m in world.discord.messages(world.channel) if world.is_post(m)] == [post]


async def test_a_finished_image_waiting_on_its_siblings_is_posted_once_after_a_restart(
    world: World,
):
    world.akool.timeline = Timeline(processing_after=0.0, hold=True)
    async with world.running(akool_create_api="v4") as bot:
        _, images = await imagine(world, "foxes across a restart")
        world.akool.finish(images[1])
        await waiting(bot, images[1])
    # While the bot is down, the rest finish; the waiting image is found again.
    for image in images:
        world.akool.finish(image)
    async with world.running(akool_create_api="v4") as bot:
        batch = await delivered(bot, images[0])

    (post,) = world.posts_for(images[0])
    assert len(post.attachments) == 4
    assert {job.result_message_id for job in batch} == {post.id}


async def test_a_crash_between_posting_and_recording_a_batch_posts_it_once(world: World):
    async with world.running(akool_create_api="v4") as bot:
        crash = CrashOnceAfterPostingBatch(bot.store)
        _, images = await imagine(world, "foxes through a crash")
        batch = await delivered(bot, images[0])

    # The first delivery died after posting; the next one here found the post by its nonce.
    assert crash.calls == 2
    (post,) = world.posts_for(images[0])
    assert len(post.attachments) == 4
    assert {job.result_message_id for job in batch} == {post.id}


class CrashOnceAfterPostingBatch:
    """Stands in for ``store.mark_batch_delivered``: the first call fails as if the process died
    just after Discord created the post; later calls go through."""

    def __init__(self, store: object) -> None:
        self._original = store.mark_batch_delivered  # type: ignore[attr-defined]
        self.calls = 0
        store.mark_batch_delivered = self  # type: ignore[attr-defined]

    async def __call__(self, lead: str, message_id: int, *, now: float) -> bool:
        self.calls += 1
        if self.calls == 1:
            raise RuntimeError("simulated crash after the post")
        result: bool = await self._original(lead, message_id, now=now)
        return result


async def test_two_processes_finishing_one_batch_post_it_once(world: World):
    """Two bot processes on one PostgreSQL follow one batch; its images finish one by one, each
    taken by whichever process looks first: one post, every image delivered with it."""
    world.akool.timeline = Timeline(processing_after=0.0, hold=True)
    async with (
        postgres_schema() as url,
        world.running(akool_create_api="v4", database_url=url) as first,
    ):
        _, images = await imagine(world, "foxes for two processes")
        async with world.running(akool_create_api="v4", database_url=url) as second:
            for image in images[:3]:
                world.akool.finish(image)
                await waiting(second, image)
            world.akool.finish(images[3])
            batch = await delivered(second, images[0])
        by_first = await first.store.batch(images[0])

    (post,) = world.posts_for(images[0])
    assert len(post.attachments) == 4
    assert {job.result_message_id for job in batch} == {post.id}
    assert by_first == batch


async def test_a_batch_is_copied_by_dm_and_sent_by_dm_when_the_channel_refuses(world: World):
    async with world.running(akool_create_api="v4") as bot:
        ix = await world.discord.slash_command(world.alice, world.channel, "notify", {"dm": "on"})
        await ix.wait_response()
        dm = world.discord.dm_channel(world.alice)

        _, copied = await imagine(world, "foxes to copy")
        copy = await world.discord.wait_for_message(dm, lambda m: copied[0] in str(m.nonce))

        world.discord.fail_next(
            "POST", rf"^/channels/{world.channel.id}/messages$", status=403, times=100
        )
        _, moved = await imagine(world, "foxes to move")
        batch = await delivered(bot, moved[0])
        by_dm = await world.discord.wait_for_message(dm, world.is_post_of(moved[0]))

    assert [a.filename for a in copy.attachments] == [f"{image}.png" for image in copied]
    assert "A copy for you" in copy.content
    assert world.custom_ids_of(copy) == []
    assert [a.filename for a in by_dm.attachments] == [f"{image}.png" for image in moved]
    assert f"<#{world.channel.id}>" in by_dm.content
    assert world.custom_ids_of(by_dm) == []
    assert world.posts_for(moved[0]) == []
    assert {job.result_message_id for job in batch} == {by_dm.id}


async def test_a_reroll_of_a_batch_makes_the_same_order_again(world: World):
    async with world.running(akool_create_api="v4") as bot:
        _, images = await imagine(world, "foxes again")
        await delivered(bot, images[0])
        (post,) = world.posts_for(images[0])
        known = set(world.akool.jobs)
        press = await world.discord.click(world.bob, post, f"akool:v1:{images[0]}:reroll")
        await press.wait_response()
        await world.akool.wait_until(lambda: len(world.akool.jobs) == len(known) + 4)
        again = [job_id for job_id in world.akool.jobs if job_id not in known]
        batch = await delivered(bot, again[0])
        (second,) = world.posts_for(again[0])

    first_ask, second_ask = world.akool.requests_to("createBySourcePrompt")
    assert first_ask.body == second_ask.body
    assert {job.requester_id for job in batch} == {world.bob.id}
    assert {job.parent_akool_id for job in batch} == {images[0]}
    assert len(second.attachments) == 4
    assert replied_to(second) == post.id
    assert "Re-roll by" in second.content


async def test_a_batch_posted_just_before_the_process_died_is_not_posted_again(world: World):
    async with world.running(akool_create_api="v4"):
        # Discord makes the post; the process dies before it hears so.
        stall = world.discord.stall_next("POST", rf"^/channels/{world.channel.id}/messages$")
        _, images = await imagine(world, "foxes posted in the dark")
        async with asyncio.timeout(10):
            await stall.reached.wait()
    assert len(world.posts_for(images[0])) == 1
    async with world.running(akool_create_api="v4") as bot:
        batch = await delivered(bot, images[0])
        kept = [await bot.store.kept_image(image, ImageRole.RESULT) for image in images]

    (post,) = world.posts_for(images[0])
    assert {job.result_message_id for job in batch} == {post.id}
    assert [k.attachment_id for k in kept if k is not None] == [a.id for a in post.attachments]


async def test_discord_counts_a_messages_files_together_against_the_limit(world: World):
    """What fitting a batch is for: files that each fit are refused together (HTTP 413)."""
    async with world.running() as bot:
        channel = bot.get_partial_messageable(world.channel.id, guild_id=world.guild.id)
        files = [discord.File(io.BytesIO(bytes(6 * MIB)), f"part{n}.png") for n in range(2)]
        with pytest.raises(discord.HTTPException) as caught:
            await channel.send("two halves", files=files)
        one = await channel.send("one", file=discord.File(io.BytesIO(bytes(6 * MIB)), "one.png"))

    assert (caught.value.status, caught.value.code) == (413, 40005)
    assert one.attachments[0].size == 6 * MIB
