"""/notify end to end: a member who opts in also gets each result by DM, once, and a DM that
cannot be sent never holds up, repeats or blocks the channel post."""

from __future__ import annotations

import logging

import pytest

from bot import render
from bot.core import AkoolBot
from bot.notifier import dm_copy_nonce_for
from bot.store import Delivery, Job
from tests.e2e.conftest import CrashOnceAfterPosting, World
from tests.fakes.discord import FakeChannel, FakeMessage, FakeUser, RecordedRequest


async def notify(world: World, user: FakeUser, options: dict[str, str] | None = None) -> str:
    ix = await world.discord.slash_command(user, world.channel, "notify", options or {})
    answer = await ix.wait_response()
    assert answer.type == 4
    assert ix.ephemeral
    assert ix.original_message is not None
    return ix.original_message.content


async def imagine_and_deliver(world: World, prompt: str) -> tuple[str, FakeMessage]:
    """Alice's job, until its status message says Done: the last step of a delivery."""
    known = set(world.akool.jobs)
    ix = await world.discord.slash_command(
        world.alice, world.channel, "imagine", {"prompt": prompt}
    )
    await ix.wait_original_edit(lambda m: "Done" in m.content, timeout=10)
    (job_id,) = set(world.akool.jobs) - known
    (post,) = world.posts_for(job_id)
    return job_id, post


def dm_sends(world: World, dm: FakeChannel) -> list[RecordedRequest]:
    """Every attempt to post in the DM channel, answered or not."""
    return world.discord.requests_matching("POST", rf"^/channels/{dm.id}/messages$")


def channel_sends(world: World, job_id: str) -> list[RecordedRequest]:
    return [
        r
        for r in world.discord.requests_matching(
            "POST", rf"^/channels/{world.channel.id}/messages$"
        )
        if isinstance(r.json, dict) and r.json.get("nonce") == job_id
    ]


async def stored(bot: AkoolBot, job_id: str) -> Job:
    job = await bot.store.get_job(job_id)
    assert job is not None
    return job


def warnings_about(caplog: pytest.LogCaptureFixture, job_id: str) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno == logging.WARNING and r.name == "bot.notifier" and job_id in r.getMessage()
    ]


async def test_notify_on_sends_a_dm_copy_with_the_image_and_a_link(world: World):
    async with world.running() as bot:
        answer = await notify(world, world.alice, {"dm": "on"})
        dm = world.discord.dm_channel(world.alice)
        job_id, post = await imagine_and_deliver(world, "a fox for my inbox")
        (copy,) = world.discord.messages(dm)
        job = await stored(bot, job_id)

    assert "DMs are on" in answer
    # The channel post, as always: once, image attached, buttons live.
    assert len(channel_sends(world, job_id)) == 1
    assert post.attachments[0].data == world.akool.png(job_id)
    assert world.custom_ids_of(post)
    assert job.delivery is Delivery.DELIVERED
    assert job.result_message_id == post.id
    # The DM: the same image, a link to the post, no buttons (presses are checked in the server).
    assert copy.attachments[0].data == world.akool.png(job_id)
    assert copy.embeds[0]["image"]["url"] == f"attachment://{copy.attachments[0].filename}"
    assert render.message_link(world.guild.id, world.channel.id, post.id) in copy.content
    assert "a fox for my inbox" in copy.content
    assert copy.components == []
    assert copy.nonce == dm_copy_nonce_for(job)
    assert copy.nonce != job_id


async def test_notify_off_sends_no_dm(world: World):
    async with world.running():
        await notify(world, world.alice, {"dm": "on"})
        answer = await notify(world, world.alice, {"dm": "off"})
        job_id, post = await imagine_and_deliver(world, "a fox for the channel only")

    assert "DMs are off" in answer
    assert post.attachments[0].data == world.akool.png(job_id)
    assert world.discord.requests_matching("POST", r"^/users/@me/channels$") == []
    assert world.discord.messages(world.discord.dm_channel(world.alice)) == []


async def test_a_member_who_never_asked_gets_no_dm(world: World):
    async with world.running():
        answer = await notify(world, world.alice)
        await imagine_and_deliver(world, "a quiet fox")

    assert "DMs are off" in answer
    assert world.discord.requests_matching("POST", r"^/users/@me/channels$") == []


async def test_closed_dms_leave_the_channel_post_alone(
    world: World, caplog: pytest.LogCaptureFixture
):
    async with world.running() as bot:
        await notify(world, world.alice, {"dm": "on"})
        # Alice accepts no DMs from server members: Discord opens the channel, refuses the post.
        dm = world.discord.dm_channel(world.alice)
        world.discord.fail_next(
            "POST",
            rf"^/channels/{dm.id}/messages$",
            status=403,
            times=100,
            body={"message": "Cannot send messages to this user", "code": 50007},
        )
        job_id, post = await imagine_and_deliver(world, "a fox nobody DMs")
        job = await stored(bot, job_id)

    assert post.attachments[0].data == world.akool.png(job_id)
    assert len(channel_sends(world, job_id)) == 1
    assert len(world.posts_for(job_id)) == 1
    # Tried once, refused, and not tried again.
    assert [r.status for r in dm_sends(world, dm)] == [403]
    assert world.discord.messages(dm) == []
    assert job.delivery is Delivery.DELIVERED
    assert job.result_message_id == post.id
    assert job.due_at is None
    assert job.attempts == 0
    (warning,) = warnings_about(caplog, job_id)
    assert "DM copy" in warning
    assert "50007" in warning
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_a_crash_before_recording_the_post_sends_one_post_and_one_dm(world: World):
    async with world.running() as bot:
        await notify(world, world.alice, {"dm": "on"})
        crash = CrashOnceAfterPosting(bot.store)
        job_id, post = await imagine_and_deliver(world, "a fox posted twice?")
        dm = world.discord.dm_channel(world.alice)

    assert crash.calls == 2
    assert len(channel_sends(world, job_id)) == 2  # the retry re-sent the same nonce ...
    assert len(world.posts_for(job_id)) == 1  # ... and Discord returned the first post
    (copy,) = world.discord.messages(dm)
    assert len(dm_sends(world, dm)) == 1
    assert render.message_link(world.guild.id, world.channel.id, post.id) in copy.content


async def test_a_result_already_sent_by_dm_is_not_sent_twice(world: World):
    async with world.running():
        await notify(world, world.alice, {"dm": "on"})
        # The bot lost its permissions in the channel: the post itself goes by DM.
        world.discord.fail_next(
            "POST", rf"^/channels/{world.channel.id}/messages$", status=403, times=100
        )
        ix = await world.discord.slash_command(
            world.alice, world.channel, "imagine", {"prompt": "a fox with nowhere to go"}
        )
        await ix.wait_original_edit(lambda m: "Done" in m.content, timeout=10)
        (job_id,) = world.akool.jobs
        dm = world.discord.dm_channel(world.alice)

    (fallback,) = world.discord.messages(dm)
    assert fallback.nonce == job_id
    assert "can no longer post" in fallback.content
    assert len(dm_sends(world, dm)) == 1


async def test_the_choice_survives_a_restart(world: World):
    async with world.running():
        await notify(world, world.alice, {"dm": "on"})

    async with world.running():
        answer = await notify(world, world.alice)
        job_id, post = await imagine_and_deliver(world, "a fox after the restart")
        (copy,) = world.discord.messages(world.discord.dm_channel(world.alice))

    assert "DMs are on" in answer
    assert copy.attachments[0].data == world.akool.png(job_id)
    assert render.message_link(world.guild.id, world.channel.id, post.id) in copy.content
