"""Discord and download faults end to end: every finished job ends in exactly one post, or in a
DM to its requester, or is recorded as undeliverable with the reason; none blocks the others."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable
from typing import Any

import pytest
from aiohttp import web

from bot.core import AkoolBot
from bot.custom_ids import GRID_BUTTONS
from bot.notifier import DOWNLOAD_ATTEMPTS
from bot.store import Delivery, Job, JobKind, JobStatus, NewJob, StatusUpdate
from tests.e2e.conftest import World, pinged
from tests.fakes.akool import Timeline
from tests.fakes.discord import FakeChannel, FakeInteraction, RecordedRequest

EIGHT_DAYS = 8 * 24 * 3600


async def imagine(world: World, channel: FakeChannel, prompt: str, **user: Any) -> str:
    """Start a job with /imagine and wait until it shows Processing; return its id."""
    known = set(world.akool.jobs)
    ix: FakeInteraction = await world.discord.slash_command(
        user.get("user", world.alice), channel, "imagine", {"prompt": prompt}
    )
    await ix.wait_original_edit(lambda m: "Processing" in m.content)
    (job_id,) = set(world.akool.jobs) - known
    return job_id


async def stored_when(bot: AkoolBot, job_id: str, check: Callable[[Job], bool]) -> Job:
    """The stored job once ``check`` holds (the store has no events to wait on, so look often)."""
    async with asyncio.timeout(5):
        while True:
            job = await bot.store.get_job(job_id)
            if job is not None and check(job):
                return job
            await asyncio.sleep(0.01)


async def a_finished_job(bot: AkoolBot, world: World, *, image_url: str) -> str:
    """A grid that AKOOL finished days ago, as the store remembers it, due for delivery now."""
    job_id = secrets.token_hex(12)
    now = bot.clock()
    new = NewJob(
        akool_id=job_id,
        kind=JobKind.TRACK,
        requester_id=world.alice.id,
        channel_id=world.channel.id,
        guild_id=world.guild.id,
        prompt="an old fox",
        status=JobStatus.COMPLETED,
        akool_created_at=now - EIGHT_DAYS,
    )
    await bot.store.add_job(new, now=now, due_at=None)
    update = StatusUpdate(JobStatus.COMPLETED, image_url=image_url, buttons=GRID_BUTTONS)
    await bot.store.record_status(job_id, update, now=now, due_at=now)
    bot.job_loop.wake()
    return job_id


def sends_of(world: World, job_id: str, channel: FakeChannel) -> list[RecordedRequest]:
    """Every attempt to post a job's completion message in ``channel``, answered or not."""
    return [
        r
        for r in world.discord.requests_matching("POST", rf"^/channels/{channel.id}/messages$")
        if isinstance(r.json, dict) and r.json.get("nonce") == job_id
    ]


def edits_of(world: World, message_id: int) -> list[RecordedRequest]:
    """Every attempt to edit a message through its channel (the notifier's status edits)."""
    return world.discord.requests_matching("PATCH", rf"^/channels/\d+/messages/{message_id}$")


def records(caplog: pytest.LogCaptureFixture, level: int, job_id: str) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno == level and r.name == "bot.notifier" and job_id in r.getMessage()
    ]


async def test_a_rate_limited_post_waits_and_posts_once(world: World):
    world.akool.timeline = Timeline(processing_after=0, hold=True)
    async with world.running() as bot:
        job_id = await imagine(world, world.channel, "a patient fox")
        world.discord.fail_next("POST", r"^/channels/\d+/messages$", status=429, retry_after=0.05)
        world.akool.finish(job_id)
        post = await world.wait_for_post(world.is_post_of(job_id))
        stored = await stored_when(bot, job_id, lambda j: j.delivery is not Delivery.PENDING)

    assert [r.status for r in sends_of(world, job_id, world.channel)] == [429, 200]
    assert len(world.posts_for(job_id)) == 1
    # discord.py rewinds the upload for its own retry: the image arrives whole.
    assert post.attachments[0].data == world.akool.png(job_id)
    assert stored.delivery is Delivery.DELIVERED
    assert stored.result_message_id == post.id
    # discord.py waited out the 429 itself; the job loop saw no failure.
    assert stored.attempts == 0


@pytest.mark.parametrize("breakage", ["missing permissions", "deleted channel"])
async def test_a_channel_that_cannot_be_posted_in_sends_the_result_by_dm(
    world: World, breakage: str, caplog: pytest.LogCaptureFixture
):
    world.akool.timeline = Timeline(processing_after=0, hold=True)
    async with world.running() as bot:
        job_id = await imagine(world, world.channel, "a fox for alice")
        if breakage == "missing permissions":
            world.discord.fail_next(
                "POST", rf"^/channels/{world.channel.id}/messages$", status=403, times=100
            )
        else:
            world.discord.delete_channel(world.channel)
        world.akool.finish(job_id)
        dm = world.discord.dm_channel(world.alice)
        post = await world.discord.wait_for_message(dm, world.is_post_of(job_id))
        stored = await stored_when(bot, job_id, lambda j: j.delivery is not Delivery.PENDING)

    assert world.posts_for(job_id) == []
    assert len(sends_of(world, job_id, world.channel)) == 1
    assert [m.id for m in world.discord.messages(dm)] == [post.id]
    assert post.attachments[0].data == world.akool.png(job_id)
    assert post.embeds[0]["image"]["url"] == f"attachment://{post.attachments[0].filename}"
    assert f"<#{world.channel.id}>" in post.content
    assert f"/status {job_id}" in post.content  # how to get the buttons, which only work there
    assert post.components == []
    assert post.message_reference is None  # the status message is in another channel
    assert stored.delivery is Delivery.DELIVERED
    assert stored.result_message_id == post.id
    code = "50013" if breakage == "missing permissions" else "10003"
    (warning,) = [m for m in records(caplog, logging.WARNING, job_id) if "by DM" in m]
    assert code in warning
    assert records(caplog, logging.ERROR, job_id) == []


async def test_an_undeliverable_job_is_recorded_and_the_others_still_go_out(
    world: World, caplog: pytest.LogCaptureFixture
):
    doomed = world.discord.add_channel(world.guild, name="doomed")
    world.akool.timeline = Timeline(processing_after=0, hold=True)
    async with world.running() as bot:
        lost_id = await imagine(world, doomed, "a fox nobody will see")
        good_id = await imagine(world, world.channel, "a fox for bob", user=world.bob)
        world.discord.delete_channel(doomed)
        # Alice accepts no DMs from server members.
        dm = world.discord.dm_channel(world.alice)
        world.discord.fail_next(
            "POST",
            rf"^/channels/{dm.id}/messages$",
            status=403,
            body={"message": "Cannot send messages to this user", "code": 50007},
        )
        world.akool.finish(lost_id)
        world.akool.finish(good_id)
        post = await world.wait_for_post(world.is_post_of(good_id))
        lost = await stored_when(bot, lost_id, lambda j: j.delivery is not Delivery.PENDING)
        good = await stored_when(bot, good_id, lambda j: j.delivery is not Delivery.PENDING)

    assert post.attachments[0].data == world.akool.png(good_id)
    assert pinged(post) == [world.bob.id]
    assert good.delivery is Delivery.DELIVERED
    assert lost.delivery is Delivery.UNDELIVERABLE
    assert lost.due_at is None  # never tried again
    assert lost.last_error is not None
    assert "10003" in lost.last_error
    assert "50007" in lost.last_error
    assert world.discord.messages(dm) == []
    assert [m for m in world.discord.messages(doomed) if m.nonce == lost_id] == []
    (error,) = records(caplog, logging.ERROR, lost_id)
    assert "undeliverable" in error
    assert "50007" in error
    assert records(caplog, logging.ERROR, good_id) == []


async def test_a_deleted_status_message_does_not_block_the_post(
    world: World, caplog: pytest.LogCaptureFixture
):
    world.akool.timeline = Timeline(processing_after=0, hold=True)
    async with world.running() as bot:
        ix = await world.discord.slash_command(
            world.alice, world.channel, "imagine", {"prompt": "a shy fox"}
        )
        status = await ix.wait_original_edit(lambda m: "Processing" in m.content)
        (job_id,) = world.akool.jobs
        world.discord.delete_message(status)
        world.akool.finish(job_id)
        post = await world.wait_for_post(world.is_post_of(job_id))
        refused = await world.discord.feed.wait_for(
            lambda: [r for r in edits_of(world, status.id) if r.status == 404] or None,
            5,
            "an attempt to mark the deleted status message done",
        )
        stored = await stored_when(bot, job_id, lambda j: j.delivery is not Delivery.PENDING)

    (send,) = sends_of(world, job_id, world.channel)
    reference = send.json["message_reference"]
    assert int(reference["message_id"]) == status.id
    # Discord sends the post as a plain message when the message it replies to is gone.
    assert reference["fail_if_not_exists"] is False
    assert send.status == 200
    assert len(world.posts_for(job_id)) == 1
    assert post.attachments[0].data == world.akool.png(job_id)
    assert pinged(post) == [world.alice.id]
    assert len(refused) == 1  # tried once after the post, and that was harmless
    assert edits_of(world, status.id)[-1] is refused[0]
    assert stored.delivery is Delivery.DELIVERED
    assert stored.result_message_id == post.id
    assert stored.attempts == 0
    assert any("status message" in m for m in records(caplog, logging.WARNING, job_id))
    assert records(caplog, logging.ERROR, job_id) == []


async def test_a_deleted_grid_does_not_block_the_upscale_that_replies_to_it(world: World):
    async with world.running() as bot:
        ix = await world.discord.slash_command(
            world.alice, world.channel, "imagine", {"prompt": "a red fox"}
        )
        await ix.wait_response()
        grid = await world.wait_for_post(lambda m: world.is_post(m) and bool(m.components))
        grid_id = str(grid.nonce)
        world.akool.next_timelines.append(Timeline(processing_after=0, hold=True))
        press = await world.discord.click(world.bob, grid, f"akool:v1:{grid_id}:U2")
        await press.wait_response()
        await world.wait_for_post(lambda m: "Upscale U2" in m.content)
        (child_id,) = [j for j in world.akool.jobs if j != grid_id]
        world.discord.delete_message(grid)
        world.akool.finish(child_id)
        post = await world.wait_for_post(world.is_post_of(child_id))
        stored = await stored_when(bot, child_id, lambda j: j.delivery is not Delivery.PENDING)

    (send,) = sends_of(world, child_id, world.channel)
    assert int(send.json["message_reference"]["message_id"]) == grid.id
    assert send.json["message_reference"]["fail_if_not_exists"] is False
    assert len(world.posts_for(child_id)) == 1
    assert post.attachments[0].data == world.akool.png(child_id)
    assert "Upscaled (U2)" in post.content
    assert pinged(post) == [world.bob.id, world.alice.id]
    assert stored.delivery is Delivery.DELIVERED
    assert stored.result_message_id == post.id


async def test_an_expired_result_is_posted_with_the_reason_and_the_link(world: World):
    async with world.running() as bot:
        # AKOOL keeps results for 7 days; the fake answers 404 for an image it does not have.
        expired = world.akool.image_url(secrets.token_hex(12))
        job_id = await a_finished_job(bot, world, image_url=expired)
        post = await world.wait_for_post(world.is_post_of(job_id))
        stored = await stored_when(bot, job_id, lambda j: j.delivery is not Delivery.PENDING)

    assert "no longer available" in post.content
    assert f"[Open it on AKOOL]({expired})" in post.content
    assert post.attachments == []
    assert "image" not in post.embeds[0]
    assert pinged(post) == [world.alice.id]
    # U/V still work at AKOOL; 🔄 and 🗑️ need no image.
    assert len(world.custom_ids_of(post)) == 10
    assert stored.delivery is Delivery.DELIVERED
    assert stored.attempts == 0  # a 404 will not pass: no retries


async def test_a_download_that_keeps_failing_is_reported_after_a_few_tries(
    world: World, serve: Callable[[web.Application], Any]
):
    tries = 0

    async def unavailable(request: web.Request) -> web.Response:
        nonlocal tries
        tries += 1
        return web.Response(status=503, text="Service Unavailable")

    app = web.Application()
    app.router.add_get("/results/{name}", unavailable)
    base = await serve(app)
    url = f"{base}/results/{secrets.token_hex(12)}.png"
    async with world.running() as bot:
        job_id = await a_finished_job(bot, world, image_url=url)
        post = await world.wait_for_post(world.is_post_of(job_id), timeout=10)
        stored = await stored_when(bot, job_id, lambda j: j.delivery is not Delivery.PENDING)

    assert tries == DOWNLOAD_ATTEMPTS
    assert "could not be downloaded (HTTP 503)" in post.content
    assert f"[Open it on AKOOL]({url})" in post.content
    assert post.attachments == []
    assert len(world.posts_for(job_id)) == 1
    assert stored.delivery is Delivery.DELIVERED
    assert stored.attempts == DOWNLOAD_ATTEMPTS - 1
